//! What a report directory measured, as the gate needs it: per variant the after-drain RSS and
//! retention of every run, and the key the runs were measured under. A baseline is this, kept.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::figures::curve::After;
use crate::record::{RunRecord, RunStatus};

/// What must be equal for two sets of runs to be compared: the scenario as run, and what of the
/// machine changes how an allocator behaves (kernel: THP and `madvise` semantics; glibc: ptmalloc
/// itself; nproc: glibc's arena count and thread counts; THP mode: RSS in 2 MiB steps; the
/// allocator crates: jemalloc and mimalloc themselves). The CPU model and hostname are left
/// out on purpose: CI runners change them from job to job without changing the figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    pub scenario: String,
    /// sha256 of the scenario file and its variants file.
    pub scenario_hash: String,
    /// `--quick` phases are shorter: their figures are not the full run's.
    pub quick: bool,
    pub kernel: String,
    pub glibc_version: String,
    pub nproc: usize,
    /// The selected mode of `/sys/kernel/mm/transparent_hugepage/enabled`.
    pub thp_enabled: String,
    /// Versions of the allocator crates the servers were built with (jemalloc, mimalloc).
    pub allocator_crates: BTreeMap<String, String>,
    /// The container the runs were measured in (`docker` …); absent on a bare machine, so
    /// baselines made before this field key as bare-metal ones, which they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The quiet phases (`before`, `drain`) in which the harness asked the server for its
    /// stats. An observed drain is a different experiment: allocators that purge on activity
    /// purge because they were asked (docs/measurements.md#the-observer). Absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observed: Vec<String>,
}

/// The kernel's upstream version, `6.18.44` of `6.18.44-fc-v1045` or `6.8.0` of
/// `6.8.0-1015-azure`: what decides THP and `madvise` behaviour. The local suffix names a
/// build of it and changes from VM to VM of the same kind (measured here: two VMs of this
/// project's CI kind, `-fc-v669` and `-fc-v1045`), which would orphan every baseline.
pub fn kernel_version(release: &str) -> String {
    let end = release
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(release.len());
    let v = release[..end].trim_end_matches('.');
    if v.is_empty() {
        release.to_string()
    } else {
        v.to_string()
    }
}

/// Whether a crate of the record's `crate_versions` is an allocator (the others, hyper and
/// tokio, change with every dependency bump and would make every baseline stale).
fn is_allocator_crate(name: &str) -> bool {
    name.contains("jemalloc") || name.contains("mimalloc")
}

impl Key {
    pub fn of(r: &RunRecord) -> Key {
        let e = &r.header.environment;
        Key {
            scenario: r.header.scenario.clone(),
            scenario_hash: r.header.scenario_hash.clone(),
            quick: r.header.quick,
            kernel: kernel_version(&e.kernel),
            glibc_version: e.glibc_version.clone(),
            nproc: e.nproc,
            thp_enabled: e.thp_enabled.clone(),
            allocator_crates: e
                .crate_versions
                .iter()
                .filter(|(k, _)| is_allocator_crate(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            container: e.container.clone(),
            observed: r.observed_quiet_phases(),
        }
    }

    /// The host part of a baseline's file name: `6.8.0-1015-azure-glibc2.39-4cpu-thp-madvise`,
    /// plus `-quick` for quick runs. Readable, so a person can tell which file is theirs; the
    /// full key is inside the file and checked.
    pub fn host_key(&self) -> String {
        let raw = format!(
            "{}-glibc{}-{}cpu-thp-{}{}{}",
            self.kernel,
            self.glibc_version,
            self.nproc,
            self.thp_enabled,
            self.container
                .as_deref()
                .map(|c| format!("-{c}"))
                .unwrap_or_default(),
            if self.quick { "-quick" } else { "" }
        );
        sanitize(&raw)
    }

    /// `<scenario>-<host key>.json`.
    pub fn file_name(&self) -> String {
        format!("{}-{}.json", sanitize(&self.scenario), self.host_key())
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A variant's settings: part of the key (a variant of the same name with another setting is
/// another thing to measure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantSettings {
    pub binary: String,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// The library preloaded into the server, if any (absent in baselines made before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preload: Option<String>,
}

/// One run's gate figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFigure {
    pub run_index: u32,
    /// As the report names it (`RunRecord::reported_status`); only ok runs count.
    pub status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub rss_after_drain_bytes: Option<u64>,
    pub retention: Option<f64>,
    /// With `[gate] after` other than `drain`: RssAnon at that time after the load's end and
    /// its share of the growth, the figures the gate then compares (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_after_load_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_after_load: Option<f64>,
    /// With cycles: the run's leak-or-retention verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycle_verdict: Option<crate::figures::cycles::Verdict>,
    /// With a soak: the run's slope of A after the first cycle and its 95% interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak: Option<crate::figures::soak::Slope>,
}

impl RunFigure {
    /// The gated figure at `after`: A at the end of the drain, else the curve's point.
    pub fn bytes(&self, after: After) -> Option<u64> {
        match after {
            After::Drain => self.rss_after_drain_bytes,
            _ => self.rss_after_load_bytes,
        }
    }

    /// Its share of the growth: retention at the end of the drain.
    pub fn share(&self, after: After) -> Option<f64> {
        match after {
            After::Drain => self.retention,
            _ => self.retention_after_load,
        }
    }

    /// Ok and with the gated figure: a run the gate counts.
    pub fn counts(&self, after: After) -> bool {
        self.status.is_ok() && self.bytes(after).is_some()
    }
}

/// A variant's runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantRuns {
    pub name: String,
    pub settings: VariantSettings,
    pub runs: Vec<RunFigure>,
    /// For people reading the file; the gate recomputes it from `runs`.
    #[serde(default)]
    pub median_rss_after_drain_bytes: Option<u64>,
    #[serde(default)]
    pub median_retention: Option<f64>,
}

impl VariantRuns {
    /// The gated figure at `after` of the runs that count, in run order.
    pub fn gated(&self, after: After) -> Vec<u64> {
        self.runs
            .iter()
            .filter(|r| r.counts(after))
            .filter_map(|r| r.bytes(after))
            .collect()
    }

    /// The cycle verdicts of the runs that count, where they have one.
    pub fn cycle_verdicts(&self, after: After) -> Vec<crate::figures::cycles::Verdict> {
        self.runs
            .iter()
            .filter(|r| r.counts(after))
            .filter_map(|r| r.cycle_verdict)
            .collect()
    }

    /// The soak slopes of the runs that count, where they have one.
    pub fn slopes(&self, after: After) -> Vec<crate::figures::soak::Slope> {
        self.runs
            .iter()
            .filter(|r| r.counts(after))
            .filter_map(|r| r.soak)
            .collect()
    }

    /// The share of the growth at `after` of the runs that count, where defined.
    pub fn shares(&self, after: After) -> Vec<f64> {
        self.runs
            .iter()
            .filter(|r| r.counts(after))
            .filter_map(|r| r.share(after))
            .collect()
    }
}

/// What a directory measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub key: Key,
    /// The figure its runs hold for the gate (`[gate] after`).
    pub after: After,
    /// In the order the variants first ran.
    pub variants: Vec<VariantRuns>,
    /// Where the runs of the directory disagree among themselves on the key.
    pub inconsistencies: Vec<Inconsistency>,
}

/// A run that disagrees with the directory's other runs (worded in `gate::words`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Inconsistency {
    /// A field of its key differs from the first ok run's.
    Key { run: String, diff: KeyDiff },
    /// Its variant's settings differ from those of the variant's other runs.
    Settings { run: String },
}

impl Measured {
    pub fn variant(&self, name: &str) -> Option<&VariantRuns> {
        self.variants.iter().find(|v| v.name == name)
    }
}

/// The gate's view of a directory's records, with the figure at `after` (`[gate] after`). The
/// key is the first ok run's (the first run's when none is ok); every other run that disagrees
/// is listed in `inconsistencies`.
pub fn measure(records: &[RunRecord], after: After) -> Measured {
    let mut ordered: Vec<&RunRecord> = records.iter().collect();
    ordered.sort_by_key(|r| {
        let h = &r.header;
        (&h.started_at, &h.variant.name, h.run_index)
    });
    let reference = ordered
        .iter()
        .find(|r| r.status == RunStatus::Ok)
        .or(ordered.first())
        .copied();
    let key = reference.map(Key::of).unwrap_or_else(|| Key {
        scenario: String::new(),
        scenario_hash: String::new(),
        quick: false,
        kernel: String::new(),
        glibc_version: String::new(),
        nproc: 0,
        thp_enabled: String::new(),
        allocator_crates: BTreeMap::new(),
        container: None,
        observed: Vec::new(),
    });

    let mut variants: Vec<VariantRuns> = Vec::new();
    let mut inconsistencies = Vec::new();
    for r in &ordered {
        let variant = &r.header.variant;
        let settings = VariantSettings {
            binary: variant.binary.clone(),
            env: variant.env.clone(),
            args: variant.args.clone(),
            preload: variant.preload.clone(),
        };
        let id = format!("{}-{}", variant.name, r.header.run_index);
        // Runs that did not finish carry no figures worth a key (a rebuilt record may lack one).
        if r.status == RunStatus::Ok {
            for d in diff_keys(&key, &Key::of(r)) {
                inconsistencies.push(Inconsistency::Key {
                    run: id.clone(),
                    diff: d,
                });
            }
        }
        // The curve from the samples, so records written before it was kept have it too.
        let curve = (after != After::Drain).then(|| r.figures_with_curve());
        let fig = RunFigure {
            run_index: r.header.run_index,
            status: r.reported_status(),
            failure: r.failure.clone(),
            rss_after_drain_bytes: r.figures.rss_after_drain_bytes,
            retention: r.figures.retention,
            rss_after_load_bytes: curve.as_ref().and_then(|f| f.rss_after(after)),
            retention_after_load: curve.as_ref().and_then(|f| f.share_after(after)),
            cycle_verdict: r.figures.cycle_verdict.as_ref().map(|c| c.verdict),
            soak: r.figures.soak,
        };
        match variants.iter_mut().find(|v| v.name == variant.name) {
            Some(v) => {
                if v.settings != settings && r.status == RunStatus::Ok {
                    inconsistencies.push(Inconsistency::Settings { run: id });
                }
                v.runs.push(fig);
            }
            None => variants.push(VariantRuns {
                name: variant.name.clone(),
                settings,
                runs: vec![fig],
                median_rss_after_drain_bytes: None,
                median_retention: None,
            }),
        }
    }
    for v in &mut variants {
        v.runs.sort_by_key(|r| r.run_index);
        v.median_rss_after_drain_bytes = super::verdict::median_u64(&v.gated(After::Drain));
        v.median_retention = super::verdict::median_f64(&v.shares(After::Drain));
    }
    Measured {
        key,
        after,
        variants,
        inconsistencies,
    }
}

/// One field that differs between two keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyDiff {
    /// `kernel`, `allocator_crates.mimalloc`, `variants.glibc.env`.
    pub field: String,
    pub a: String,
    pub b: String,
}

impl KeyDiff {
    /// `kernel ("6.1.0" in the baseline, "6.8.0" here)`.
    pub fn describe(&self, a_name: &str, b_name: &str) -> String {
        format!(
            "{} ({} in {a_name}, {} in {b_name})",
            self.field, self.a, self.b
        )
    }
}

fn flat(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flat(&p, v, out);
            }
        }
        // A field left out of the key (`container`, `observed`) is absent, not a value.
        serde_json::Value::Null => {}
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

fn diff_values(prefix: &str, a: &serde_json::Value, b: &serde_json::Value) -> Vec<KeyDiff> {
    let (mut fa, mut fb) = (BTreeMap::new(), BTreeMap::new());
    flat(prefix, a, &mut fa);
    flat(prefix, b, &mut fb);
    let fields: std::collections::BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    fields
        .into_iter()
        .filter(|f| fa.get(*f) != fb.get(*f))
        .map(|f| KeyDiff {
            field: f.clone(),
            a: fa.get(f).cloned().unwrap_or_else(|| "absent".into()),
            b: fb.get(f).cloned().unwrap_or_else(|| "absent".into()),
        })
        .collect()
}

/// The fields of two keys that differ, in the key's field order.
pub fn diff_keys(a: &Key, b: &Key) -> Vec<KeyDiff> {
    let order = [
        "scenario",
        "scenario_hash",
        "quick",
        "kernel",
        "glibc_version",
        "nproc",
        "thp_enabled",
        "allocator_crates",
        "container",
        "observed",
    ];
    let (va, vb) = (
        serde_json::to_value(a).unwrap_or_default(),
        serde_json::to_value(b).unwrap_or_default(),
    );
    let mut out = Vec::new();
    for f in order {
        let (x, y) = (&va[f], &vb[f]);
        if x != y {
            out.extend(diff_values(f, x, y));
        }
    }
    out
}

/// The settings of variants present on both sides that differ: `variants.NAME.env`.
pub fn diff_settings(a: &[VariantRuns], b: &[VariantRuns]) -> Vec<KeyDiff> {
    let mut out = Vec::new();
    for va in a {
        let Some(vb) = b.iter().find(|v| v.name == va.name) else {
            continue;
        };
        let (x, y) = (
            serde_json::to_value(&va.settings).unwrap_or_default(),
            serde_json::to_value(&vb.settings).unwrap_or_default(),
        );
        for f in ["binary", "env", "args", "preload"] {
            if x[f] != y[f] {
                out.push(KeyDiff {
                    field: format!("variants.{}.{f}", va.name),
                    a: x[f].to_string(),
                    b: y[f].to_string(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_kernel_key_is_the_upstream_version() {
        assert_eq!(super::kernel_version("6.18.44-fc-v1045"), "6.18.44");
        assert_eq!(super::kernel_version("6.8.0-1015-azure"), "6.8.0");
        assert_eq!(super::kernel_version("6.1.0"), "6.1.0");
        assert_eq!(super::kernel_version("weird"), "weird");
    }

    use super::*;

    fn key() -> Key {
        Key {
            scenario: "hot-range".into(),
            scenario_hash: "ab".repeat(32),
            quick: true,
            kernel: "6.8.0-1015-azure".into(),
            glibc_version: "2.39".into(),
            nproc: 4,
            thp_enabled: "madvise".into(),
            allocator_crates: [("mimalloc".to_string(), "0.1.48".to_string())].into(),
            container: None,
            observed: Vec::new(),
        }
    }

    #[test]
    fn file_names_read_like_the_host() {
        assert_eq!(
            key().file_name(),
            "hot-range-6.8.0-1015-azure-glibc2.39-4cpu-thp-madvise-quick.json"
        );
        let odd = Key {
            kernel: "6.1 #1 SMP/x".into(),
            quick: false,
            ..key()
        };
        assert_eq!(odd.host_key(), "6.1__1_SMP_x-glibc2.39-4cpu-thp-madvise");
    }

    #[test]
    fn an_observed_drain_keys_apart_from_an_unobserved_one() {
        let observed = Key {
            observed: vec!["drain".into()],
            ..key()
        };
        let d = diff_keys(&key(), &observed);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(
            d[0].describe("the baseline", "this run"),
            r#"observed (absent in the baseline, ["drain"] in this run)"#
        );
        // The key of an unobserved run has no `observed` field: baselines made before it
        // existed key the same, and they are re-measured where they were observed.
        let v = serde_json::to_value(key()).unwrap();
        assert!(v.get("observed").is_none(), "{v}");
    }

    #[test]
    fn a_container_keys_apart_from_the_bare_machine() {
        let docker = Key {
            container: Some("docker".into()),
            ..key()
        };
        assert_eq!(
            docker.file_name(),
            "hot-range-6.8.0-1015-azure-glibc2.39-4cpu-thp-madvise-docker-quick.json"
        );
        let d = diff_keys(&key(), &docker);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].field, "container");
        // A baseline written before the field existed is a bare-machine one: same key.
        let old: Key = serde_json::from_value(
            serde_json::to_value(key())
                .map(|mut v| {
                    v.as_object_mut().unwrap().remove("container");
                    v
                })
                .unwrap(),
        )
        .unwrap();
        assert!(diff_keys(&old, &key()).is_empty());
    }

    #[test]
    fn diffs_name_the_fields() {
        let mut b = key();
        b.kernel = "6.1.0".into();
        b.nproc = 2;
        b.allocator_crates
            .insert("mimalloc".into(), "0.1.49".into());
        b.allocator_crates
            .insert("tikv-jemallocator".into(), "0.6.0".into());
        let fields: Vec<String> = diff_keys(&key(), &b).into_iter().map(|d| d.field).collect();
        assert_eq!(
            fields,
            [
                "kernel",
                "nproc",
                "allocator_crates.mimalloc",
                "allocator_crates.tikv-jemallocator"
            ]
        );
        assert!(diff_keys(&key(), &key()).is_empty());
        let d = &diff_keys(&key(), &b)[0];
        assert_eq!(
            d.describe("the baseline", "this run"),
            "kernel (\"6.8.0-1015-azure\" in the baseline, \"6.1.0\" in this run)"
        );
    }

    #[test]
    fn only_allocator_crates_are_in_the_key() {
        for (name, yes) in [
            ("tikv-jemallocator", true),
            ("libmimalloc-sys", true),
            ("hyper", false),
            ("tokio", false),
        ] {
            assert_eq!(is_allocator_crate(name), yes, "{name}");
        }
    }

    /// Before, the gate named such a run `failed` where the report named it `oom`.
    #[test]
    fn a_failed_run_that_says_it_ran_out_of_memory_is_oom_as_in_the_report() {
        let text = include_str!(
            "../../../reports/incidents/buffered-vs-streaming/runs/glibc@buffered-1.json"
        );
        let mut r: RunRecord = serde_json::from_str(text).unwrap();
        r.status = RunStatus::Failed;
        r.failure = Some("server process is gone: memory allocation failed, out of memory".into());
        let m = measure(std::slice::from_ref(&r), After::Drain);
        assert_eq!(m.variants[0].runs[0].status, RunStatus::Oom);
        r.failure = Some("server process is gone".into());
        r.server_exit = Some("exited with code 1".into());
        let m = measure(&[r], After::Drain);
        assert_eq!(m.variants[0].runs[0].status, RunStatus::Failed);
    }

    /// With `[gate] after = "1s"` a run holds its 1 s figure beside A, computed from the
    /// samples of a record written before the curve was kept; with `drain`, A alone.
    #[test]
    fn the_gated_figure_is_the_point_after_asks_for() {
        let text = include_str!("../../../reports/example/runs/jemalloc-bg-1.json");
        let r: RunRecord = serde_json::from_str(text).unwrap();
        let curve = r.figures_with_curve();
        let one = &measure(std::slice::from_ref(&r), After::OneSecond).variants[0];
        let run = &one.runs[0];
        assert_eq!(
            run.rss_after_load_bytes,
            curve.after_load.rss_after_load_1s_bytes
        );
        assert_eq!(
            run.retention_after_load,
            curve.after_load.retention_after_load_1s
        );
        assert_eq!(run.rss_after_drain_bytes, r.figures.rss_after_drain_bytes);
        // jemalloc's background thread gives back over its 10 s decay: far more at 1 s than
        // at the end of the drain.
        let (a1, a) = (
            run.bytes(After::OneSecond).unwrap(),
            run.bytes(After::Drain).unwrap(),
        );
        assert!(a1 > 4 * a, "1 s {a1}, end of drain {a}");
        assert_eq!(one.gated(After::OneSecond), [a1]);
        let drain = &measure(&[r], After::Drain).variants[0];
        assert_eq!(drain.runs[0].rss_after_load_bytes, None);
        assert_eq!(drain.gated(After::Drain), [a]);
    }
}
