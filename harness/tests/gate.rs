//! `allocstorm gate` end to end on synthetic records: no server, no load. Each test writes
//! run records into a temporary `DIR/runs/<variant>-<n>.json` (after-drain RSS chosen per
//! run), a scenario with the `[gate]` under test, and drives the real binary, because the exit
//! code is the contract: 0 pass, 1 regression, 2 harness or input error, 3 inconclusive.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use allocstorm::provenance::Environment;
use allocstorm::record::{write_json_atomic, RunHeader, RunRecord, RunStatus};
use allocstorm::scenario::Scenario;
use common::records::{environment, header, phase_plan, write_records};
use common::{allocstorm, Out};
use serde_json::Value;

const MIB: f64 = 1024.0 * 1024.0;
/// Every synthetic run: 20 MiB before the load, 400 MiB at its peak.
const BEFORE_MIB: f64 = 20.0;
const PEAK_MIB: f64 = 400.0;

const VARIANTS: &str = r#"
[[variant]]
name = "glibc"
binary = "target-server-glibc"

[[variant]]
name = "jemalloc-bg"
binary = "target-server-jemalloc"
env = { _RJEM_MALLOC_CONF = "background_thread:true" }
"#;

/// `allocstorm gate ARGS` in `cwd`.
fn gate(cwd: &Path, args: &[&str]) -> Out {
    let mut all = vec!["gate"];
    all.extend_from_slice(args);
    allocstorm(cwd, &all)
}

/// Exit 2 with exactly one line on stderr that names `file`.
fn assert_one_line_error(o: &Out, file: &str) {
    assert_eq!(o.code, 2, "{o:?}");
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{o:?}");
    assert!(lines[0].starts_with("allocstorm gate: "), "{o:?}");
    assert!(lines[0].contains(file), "{file} not named: {o:?}");
}

/// A temporary workspace: a scenario with the given `[gate]` text, and report directories.
struct World {
    tmp: tempfile::TempDir,
    scenario: PathBuf,
    hash: String,
}

impl World {
    fn new(gate_toml: &str) -> World {
        let tmp = tempfile::tempdir().unwrap();
        let scenario = tmp.path().join("scenarios/gate-test.toml");
        std::fs::create_dir_all(scenario.parent().unwrap()).unwrap();
        std::fs::write(scenario.with_file_name("variants.toml"), VARIANTS).unwrap();
        std::fs::write(&scenario, format!("name = \"gate-test\"\n{gate_toml}\n")).unwrap();
        let hash = Scenario::load(&scenario).unwrap().hash;
        World {
            tmp,
            scenario,
            hash,
        }
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn record(&self, variant: &str, run: u32, after_mib: f64, env: &Environment) -> RunRecord {
        let vidx = if variant == "glibc" { 0 } else { 1 };
        let mut r = RunRecord::from_header(RunHeader {
            scenario: "gate-test".into(),
            scenario_path: self.scenario.display().to_string(),
            scenario_hash: self.hash.clone(),
            seed: 42,
            quick: true,
            phases_planned: phase_plan(
                Duration::from_secs(1),
                Duration::from_millis(1500),
                Duration::from_secs(6),
                Duration::from_secs(10),
            ),
            sample_interval_s: 0.05,
            environment: env.clone(),
            ..header(variant, run, &format!("2026-11-22T03:{run:02}:{vidx:02}Z"))
        });
        let mib = |x: f64| (x * MIB) as u64;
        r.figures.rss_before_bytes = Some(mib(BEFORE_MIB));
        r.figures.rss_peak_bytes = Some(mib(PEAK_MIB));
        r.figures.rss_after_drain_bytes = Some(mib(after_mib));
        r.figures.retention = Some((after_mib - BEFORE_MIB) / (PEAK_MIB - BEFORE_MIB));
        r
    }

    /// A report directory `name` with runs 1..=n of each variant at the given after-drain MiB.
    fn dir_with(&self, name: &str, variants: &[(&str, &[f64])], env: &Environment) -> PathBuf {
        let dir = self.path().join("reports").join(name);
        let records: Vec<RunRecord> = variants
            .iter()
            .flat_map(|(v, afters)| {
                afters
                    .iter()
                    .enumerate()
                    .map(move |(i, a)| self.record(v, i as u32 + 1, *a, env))
            })
            .collect();
        write_records(&dir, &records);
        dir
    }

    fn dir(&self, name: &str, variants: &[(&str, &[f64])]) -> PathBuf {
        self.dir_with(name, variants, &environment())
    }

    /// `gate --run DIR --update-baseline baselines/`, returning the file written.
    fn make_baseline(&self, dir: &Path) -> PathBuf {
        let base = self.path().join("baselines");
        std::fs::create_dir_all(&base).unwrap();
        let o = gate(
            self.path(),
            &["--run", s(dir), "--update-baseline", s(&base)],
        );
        assert_eq!(o.code, 0, "{o:?}");
        let files: Vec<PathBuf> = std::fs::read_dir(&base)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        files[0].clone()
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// About 240 MiB after drain for glibc, 30 MiB for jemalloc-bg, with a few MiB of scatter.
const GLIBC: &[f64] = &[240.0, 244.0, 238.0];
const JEMALLOC_BG: &[f64] = &[30.0, 31.5, 29.0];

#[test]
fn update_baseline_keeps_every_run_and_the_key() {
    let w = World::new("");
    let dir = w.dir("base", &[("glibc", GLIBC), ("jemalloc-bg", JEMALLOC_BG)]);
    let file = w.make_baseline(&dir);
    assert_eq!(
        file.file_name().unwrap().to_str().unwrap(),
        "gate-test-6.8.0-glibc2.39-4cpu-thp-madvise-quick.json"
    );
    let b: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(b["schema_version"], 1);
    let key = &b["key"];
    assert_eq!(key["scenario"], "gate-test");
    assert_eq!(key["scenario_hash"], w.hash.as_str());
    // The upstream version: the build suffix (-1015-azure) changes from VM to VM.
    assert_eq!(key["kernel"], "6.8.0");
    assert_eq!(key["glibc_version"], "2.39");
    assert_eq!(key["nproc"], 4);
    assert_eq!(key["thp_enabled"], "madvise");
    assert_eq!(key["quick"], true);
    assert_eq!(key["allocator_crates"]["tikv-jemallocator"], "0.6.0");
    assert!(
        key["allocator_crates"].get("tokio").is_none(),
        "only allocator crates: {key}"
    );
    let glibc = &b["variants"][0];
    assert_eq!(glibc["name"], "glibc");
    assert_eq!(glibc["settings"]["binary"], "target-server-glibc");
    let a: Vec<u64> = glibc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rss_after_drain_bytes"].as_u64().unwrap())
        .collect();
    assert_eq!(
        a,
        GLIBC.iter().map(|x| (x * MIB) as u64).collect::<Vec<_>>()
    );
    assert!(glibc["runs"][0]["retention"].as_f64().is_some());
    assert_eq!(
        b["variants"][1]["settings"]["env"]["_RJEM_MALLOC_CONF"],
        "background_thread:true"
    );

    // Made again from another directory: overwritten whole, nothing half-written left behind.
    let dir2 = w.dir("base2", &[("glibc", &[100.0])]);
    let again = w.make_baseline(&dir2);
    assert_eq!(again, file);
    let b: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(b["variants"].as_array().unwrap().len(), 1);
}

#[test]
fn update_baseline_into_a_directory_that_does_not_exist_yet() {
    let w = World::new("");
    let dir = w.dir("base", &[("glibc", GLIBC)]);
    let target = format!("{}/", w.path().join("fresh/baselines").display());
    let o = gate(w.path(), &["--run", s(&dir), "--update-baseline", &target]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        !o.stdout.contains("single run"),
        "three runs: no single-run note: {o:?}"
    );
    let written = w
        .path()
        .join("fresh/baselines/gate-test-6.8.0-glibc2.39-4cpu-thp-madvise-quick.json");
    assert!(written.is_file(), "{o:?}");
    // And the gate finds it there.
    let o = gate(w.path(), &["--run", s(&dir), "--baseline", &target]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains(s(&written)), "{o:?}");
}

#[test]
fn unchanged_runs_pass_within_their_noise() {
    let w = World::new("");
    let base = w.make_baseline(&w.dir("base", &[("glibc", GLIBC), ("jemalloc-bg", JEMALLOC_BG)]));
    let cand = w.dir(
        "cand",
        &[
            ("glibc", &[243.0, 239.0, 245.0]),
            ("jemalloc-bg", &[31.0, 29.5, 30.5]),
        ],
    );
    let o = gate(w.path(), &["--run", s(&cand), "--baseline", s(&base)]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("verdict: PASS (exit 0)"), "{o:?}");
    for col in [
        "variant",
        "baseline",
        "candidate",
        "change",
        "limit",
        "verdict",
    ] {
        assert!(o.stdout.contains(col), "column {col}: {o:?}");
    }
    assert!(
        o.stdout.contains("243.0 MiB (n=3)"),
        "candidate median: {o:?}"
    );
}

#[test]
fn improvements_pass() {
    let w = World::new("");
    let base = w.make_baseline(&w.dir("base", &[("glibc", GLIBC)]));
    let cand = w.dir("cand", &[("glibc", &[40.0, 44.0, 41.0])]);
    let o = gate(w.path(), &["--run", s(&cand), "--baseline", s(&base)]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("pass (better)"), "{o:?}");
}

#[test]
fn doubled_after_drain_is_a_regression_against_the_baseline() {
    let w = World::new("");
    let base = w.make_baseline(&w.dir("base", &[("glibc", GLIBC), ("jemalloc-bg", JEMALLOC_BG)]));
    let cand = w.dir(
        "cand",
        &[
            ("glibc", &[480.0, 488.0, 476.0]),
            ("jemalloc-bg", JEMALLOC_BG),
        ],
    );
    let o = gate(w.path(), &["--run", s(&cand), "--baseline", s(&base)]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stdout.contains("verdict: REGRESSION (exit 1)"), "{o:?}");
    assert!(
        o.stdout
            .lines()
            .any(|l| l.starts_with("- glibc: after-drain RSS worse than the baseline")),
        "the reason names the variant: {o:?}"
    );
    let row = o
        .stdout
        .lines()
        .find(|l| l.starts_with("jemalloc-bg"))
        .unwrap();
    assert!(row.ends_with("pass"), "{row}");
}

#[test]
fn a_spread_wider_than_the_tolerance_is_inconclusive() {
    let w = World::new("");
    let base = w.make_baseline(&w.dir("base", &[("glibc", &[200.0, 350.0, 260.0])]));
    let cand = w.dir("cand", &[("glibc", &[290.0, 180.0, 330.0])]);
    let o = gate(w.path(), &["--run", s(&cand), "--baseline", s(&base)]);
    assert_eq!(o.code, 3, "{o:?}");
    assert!(o.stdout.contains("verdict: INCONCLUSIVE (exit 3)"), "{o:?}");
    assert!(o.stdout.contains("scatter too much"), "{o:?}");
}

#[test]
fn a_single_run_near_the_limit_is_inconclusive() {
    let w = World::new("");
    let base = w.make_baseline(&w.dir("base", &[("glibc", &[200.0])]));
    let cand = w.dir("cand", &[("glibc", &[228.0])]);
    let o = gate(w.path(), &["--run", s(&cand), "--baseline", s(&base)]);
    assert_eq!(o.code, 3, "{o:?}");
    assert!(o.stdout.contains("single run"), "{o:?}");
    // The same single runs, doubled: called.
    let cand = w.dir("cand2", &[("glibc", &[400.0])]);
    assert_eq!(
        gate(w.path(), &["--run", s(&cand), "--baseline", s(&base)]).code,
        1
    );
}

#[test]
fn a_noisy_variant_can_be_given_a_wider_tolerance() {
    // glibc's after-drain RSS in two quick comparisons of the same tree (3 runs each).
    let w = World::new("[gate.variants.glibc]\nrel_tolerance = 0.5\nmin_retention = 0.5");
    let base = w.make_baseline(&w.dir("base", &[("glibc", &[255.2, 208.3, 192.7])]));
    let cand = w.dir("cand", &[("glibc", &[183.2, 254.9, 255.0])]);
    let o = gate(w.path(), &["--run", s(&cand), "--baseline", s(&base)]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout.contains("(50%)") || o.stdout.contains("(noise)"),
        "{o:?}"
    );
    assert!(
        o.stdout
            .contains("glibc: own thresholds: rel_tolerance 50%"),
        "{o:?}"
    );
    let doubled = w.dir("doubled", &[("glibc", &[366.4, 509.8, 510.0])]);
    assert_eq!(
        gate(w.path(), &["--run", s(&doubled), "--baseline", s(&base)]).code,
        1
    );
}

#[test]
fn max_retention_budget() {
    let w = World::new("[gate.variants.jemalloc-bg]\nmax_retention = 0.2");
    let ok = w.dir("ok", &[("glibc", GLIBC), ("jemalloc-bg", JEMALLOC_BG)]);
    assert_eq!(gate(w.path(), &["--run", s(&ok)]).code, 0);
    // jemalloc-bg keeps (200 - 20) / (400 - 20) = 0.47 of its growth.
    let sticky = w.dir(
        "sticky",
        &[("glibc", GLIBC), ("jemalloc-bg", &[200.0, 190.0, 210.0])],
    );
    let o = gate(w.path(), &["--run", s(&sticky)]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stdout
            .contains("jemalloc-bg: median retention 0.47 is above max_retention 0.20"),
        "{o:?}"
    );
    assert!(
        o.stdout
            .lines()
            .any(|l| l.contains("max_retention") && l.ends_with("REGRESSION")),
        "{o:?}"
    );
}

#[test]
fn max_after_drain_budget() {
    let w = World::new("[gate.variants.jemalloc-bg]\nmax_after_drain = \"64MiB\"");
    let ok = w.dir("ok", &[("jemalloc-bg", JEMALLOC_BG)]);
    assert_eq!(gate(w.path(), &["--run", s(&ok)]).code, 0);
    let big = w.dir("big", &[("jemalloc-bg", &[60.0, 70.0, 90.0])]);
    let o = gate(w.path(), &["--run", s(&big)]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stdout
            .contains("median after-drain RSS 70.0 MiB is above max_after_drain 64.0 MiB"),
        "{o:?}"
    );
}

#[test]
fn min_retention_budget_asserts_the_incident_still_reproduces() {
    let w = World::new("[gate.variants.glibc]\nmin_retention = 0.5");
    let reproduces = w.dir("r", &[("glibc", GLIBC)]);
    assert_eq!(gate(w.path(), &["--run", s(&reproduces)]).code, 0);
    let gone = w.dir("gone", &[("glibc", &[30.0, 25.0, 28.0])]);
    let o = gate(w.path(), &["--run", s(&gone)]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stdout.contains("no longer reproduces"), "{o:?}");
}

#[test]
fn budgets_come_from_an_explicit_scenario_too() {
    let w = World::new("");
    let dir = w.dir("d", &[("glibc", GLIBC)]);
    let strict = w.path().join("scenarios/strict.toml");
    std::fs::write(
        &strict,
        "name = \"gate-test\"\n[gate.variants.glibc]\nmax_after_drain = \"100MiB\"\n",
    )
    .unwrap();
    assert_eq!(gate(w.path(), &["--run", s(&dir)]).code, 0);
    let o = gate(w.path(), &["--run", s(&dir), "--scenario", s(&strict)]);
    assert_eq!(o.code, 1, "{o:?}");
    // Only [gate] differs, which is not part of the scenario's hash: no warning.
    assert!(
        !o.stdout.contains("changed since the runs were measured"),
        "{o:?}"
    );
}

/// `[gate] after` names a point of the curve; anything else is refused before any figure is
/// read, by the gate and by `--update-baseline` alike.
#[test]
fn a_bad_after_is_one_line_naming_the_file_and_the_field() {
    let w = World::new("");
    let dir = w.dir("d", &[("glibc", GLIBC)]);
    std::fs::write(
        &w.scenario,
        "name = \"gate-test\"\n[gate]\nafter = \"2s\"\n",
    )
    .unwrap();
    for args in [
        &["--run", s(&dir)][..],
        &["--run", s(&dir), "--update-baseline", "b.json"][..],
    ] {
        let o = gate(w.path(), args);
        assert_one_line_error(&o, "gate-test.toml");
        assert!(
            o.stderr.contains("gate.after") && o.stderr.contains("got \"2s\""),
            "{o:?}"
        );
    }
}

#[test]
fn another_key_is_refused_naming_the_fields_unless_allowed() {
    let w = World::new("");
    let base = w.make_baseline(&w.dir("base", &[("glibc", GLIBC)]));
    let elsewhere = Environment {
        kernel: "6.1.0-27-amd64".into(),
        nproc: 2,
        hostname: "laptop".into(),
        cpu_model: "Another CPU".into(),
        ..environment()
    };
    let cand = w.dir_with("cand", &[("glibc", GLIBC)], &elsewhere);
    let o = gate(w.path(), &["--run", s(&cand), "--baseline", s(&base)]);
    assert_one_line_error(&o, s(&base));
    for field in ["kernel", "nproc", "--allow-env-mismatch"] {
        assert!(o.stderr.contains(field), "{field}: {o:?}");
    }
    assert!(
        !o.stderr.contains("hostname") && !o.stderr.contains("cpu_model"),
        "not part of the key: {o:?}"
    );

    let o = gate(
        w.path(),
        &[
            "--run",
            s(&cand),
            "--baseline",
            s(&base),
            "--allow-env-mismatch",
        ],
    );
    assert_eq!(o.code, 0, "{o:?}");
    let verdict = o
        .stdout
        .lines()
        .find(|l| l.starts_with("verdict:"))
        .unwrap();
    assert!(
        verdict.contains("PASS") && verdict.contains("across different keys"),
        "{verdict}"
    );
    assert!(
        verdict.contains("kernel") && verdict.contains("nproc"),
        "{verdict}"
    );
}

#[test]
fn other_variant_settings_are_another_key() {
    let w = World::new("");
    let base = w.make_baseline(&w.dir("base", &[("glibc", GLIBC)]));
    let mut b: Value = serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    b["variants"][0]["settings"]["args"] = serde_json::json!(["--mallopt", "arena_max=2"]);
    std::fs::write(&base, serde_json::to_string_pretty(&b).unwrap()).unwrap();
    let o = gate(
        w.path(),
        &[
            "--run",
            s(&w.dir("cand", &[("glibc", GLIBC)])),
            "--baseline",
            s(&base),
        ],
    );
    assert_one_line_error(&o, s(&base));
    assert!(o.stderr.contains("variants.glibc.args"), "{o:?}");
}

#[test]
fn malformed_baselines_are_one_line_errors() {
    let w = World::new("");
    let dir = w.dir("d", &[("glibc", GLIBC)]);
    let bad = w.path().join("bad.json");
    for (text, says) in [
        ("{\"schema_version\": 1, \"variants\": [", "not JSON"),
        ("{\"hello\": 1}", "schema_version"),
        ("{\"schema_version\": 99}", "schema 99"),
        ("{\"schema_version\": 1, \"key\": {}}", "missing field"),
    ] {
        std::fs::write(&bad, text).unwrap();
        let o = gate(w.path(), &["--run", s(&dir), "--baseline", s(&bad)]);
        assert_one_line_error(&o, s(&bad));
        assert!(o.stderr.contains(says), "{says}: {o:?}");
    }
    let missing = w.path().join("missing.json");
    let o = gate(w.path(), &["--run", s(&dir), "--baseline", s(&missing)]);
    assert_one_line_error(&o, s(&missing));
}

#[test]
fn malformed_run_directories_are_one_line_errors() {
    let w = World::new("");
    let empty = w.path().join("reports/empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert_one_line_error(&gate(w.path(), &["--run", s(&empty)]), s(&empty));

    let dir = w.dir("d", &[("glibc", GLIBC)]);
    let broken = dir.join("runs/glibc-2.json");
    std::fs::write(&broken, "{\"schema_version\": 1, \"scenario\": ").unwrap();
    assert_one_line_error(&gate(w.path(), &["--run", s(&dir)]), s(&broken));
}

#[test]
fn a_variant_without_an_ok_run_is_an_error_with_the_table() {
    let w = World::new("");
    let dir = w.dir("d", &[("glibc", GLIBC), ("jemalloc-bg", &[30.0])]);
    let path = dir.join("runs/jemalloc-bg-1.json");
    let mut r: RunRecord = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    r.status = RunStatus::Failed;
    r.failure = Some("server exited with signal 9 (SIGKILL)".into());
    write_json_atomic(&path, &r).unwrap();
    let o = gate(w.path(), &["--run", s(&dir)]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stdout.contains("verdict: ERROR (exit 2)"), "{o:?}");
    assert!(
        o.stdout
            .contains("jemalloc-bg: no ok run to measure (#1 failed: server exited with signal 9"),
        "{o:?}"
    );
    // Nor is it a baseline.
    let o = gate(
        w.path(),
        &[
            "--run",
            s(&dir),
            "--update-baseline",
            s(&w.path().join("b.json")),
        ],
    );
    assert_one_line_error(&o, "jemalloc-bg");
    assert!(!w.path().join("b.json").exists());
}

#[test]
fn a_baseline_directory_without_a_file_for_this_host_gates_on_budgets_only() {
    let w = World::new("[gate.variants.glibc]\nmin_retention = 0.5");
    let empty = w.path().join("baselines");
    std::fs::create_dir_all(&empty).unwrap();
    let o = gate(
        w.path(),
        &[
            "--run",
            s(&w.dir("d", &[("glibc", GLIBC)])),
            "--baseline",
            s(&empty),
        ],
    );
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout.contains("no baseline for this scenario and host"),
        "{o:?}"
    );
    assert!(o.stdout.contains("--update-baseline"), "{o:?}");
}

#[test]
fn markdown_for_a_pull_request() {
    let w = World::new("[gate.variants.glibc]\nmin_retention = 0.5");
    let base = w.make_baseline(&w.dir("base", &[("glibc", GLIBC), ("jemalloc-bg", JEMALLOC_BG)]));
    let cand = w.dir(
        "cand",
        &[("glibc", GLIBC), ("jemalloc-bg", &[60.0, 62.0, 61.0])],
    );
    for f in ["rss-timeline.png", "rss-summary.png", "report.md"] {
        std::fs::write(cand.join(f), b"").unwrap();
    }
    let md = w.path().join("out/verdict.md");
    let o = gate(
        w.path(),
        &[
            "--run",
            s(&cand),
            "--baseline",
            s(&base),
            "--markdown",
            s(&md),
        ],
    );
    assert_eq!(o.code, 1, "{o:?}");
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(
        text.starts_with("### ❌ allocstorm gate: REGRESSION (exit 1)"),
        "{text}"
    );
    assert!(
        text.contains("| variant | baseline | candidate | change | limit | verdict |"),
        "{text}"
    );
    assert!(
        text.contains("| jemalloc-bg | 30.0 MiB (n=3) | 61.0 MiB (n=3) |"),
        "{text}"
    );
    assert!(text.contains("| glibc | min_retention | 0.50 |"), "{text}");
    assert!(
        text.contains("[RSS timeline](../reports/cand/rss-timeline.png)"),
        "{text}"
    );
    assert!(
        text.contains("[full report](../reports/cand/report.md)"),
        "{text}"
    );
    assert!(!text.contains("cost.png"), "only plots that exist: {text}");

    let o = gate(
        w.path(),
        &[
            "--run",
            s(&cand),
            "--baseline",
            s(&base),
            "--markdown",
            s(&md),
            "--plots-url",
            "https://ci.example/run/7/",
        ],
    );
    assert_eq!(o.code, 1, "{o:?}");
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(
        text.contains("![RSS over time, phases shaded](https://ci.example/run/7/rss-timeline.png)"),
        "{text}"
    );
}

#[test]
fn a_baseline_of_another_scenario_is_refused() {
    let w = World::new("");
    let base = w.make_baseline(&w.dir("base", &[("glibc", GLIBC)]));
    let mut b: Value = serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    b["key"]["scenario"] = "hot-range".into();
    std::fs::write(&base, b.to_string()).unwrap();
    let o = gate(
        w.path(),
        &[
            "--run",
            s(&w.dir("cand", &[("glibc", GLIBC)])),
            "--baseline",
            s(&base),
            "--allow-env-mismatch",
        ],
    );
    assert_one_line_error(&o, s(&base));
    assert!(o.stderr.contains("\"hot-range\""), "{o:?}");
}
