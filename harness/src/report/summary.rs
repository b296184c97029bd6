//! The data of `summary.json`: per variant, the medians over its ok runs, the run-to-run spread
//! of the gate figure, what the allocator held next to what the app held, and every run's own
//! figures. Pure: records in, numbers out; every exporter reads this.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::figures::{median_f64, median_u64, Figures, PhaseMark};
use crate::load::LoadSummary;
use crate::provenance::Environment;
use crate::record::{RunRecord, RunStatus};
use crate::sample::MappingBreakdown;
use crate::scenario::{PhaseSpec, SeriesSpec};

use super::series;

/// Version of the `summary.json` layout; bumped when a key changes meaning or goes away.
pub const SUMMARY_SCHEMA_VERSION: u32 = 1;

/// The prefix of `failure` on a record rebuilt from the event stream of a killed harness.
pub use crate::record::INCOMPLETE_PREFIX;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema_version: u32,
    pub scenario: ScenarioInfo,
    /// Where the first run was measured (the gate refuses to compare across environments).
    pub environment: Environment,
    /// Variants in the order their first run started.
    pub variants: Vec<VariantSummary>,
    /// Things a reader must know before trusting the table: rebuilt runs, runs measured in a
    /// different environment or from a different scenario file.
    pub warnings: Vec<String>,
}

/// The scenario as the records tell it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    pub name: String,
    /// The scenario's own one-paragraph description.
    #[serde(default)]
    pub description: String,
    pub path: String,
    /// sha256 of the scenario and variants files.
    pub hash: String,
    pub seed: u64,
    /// Whether the runs used the shortened `--quick` phases.
    pub quick: bool,
    pub phases_planned: Option<PhaseSpec>,
    /// The server's flags shared by every variant: the first run's command without the binary
    /// and without the variant's own args.
    pub server_args: Vec<String>,
    /// How the `during` load was driven, from the first run that has a load summary.
    pub load: Option<LoadSettings>,
    /// The swept `[server]` field and its values, when the variants are points of a sweep.
    #[serde(default)]
    pub sweep: Option<SweepInfo>,
    /// The scenario's memory limit: a server whose VmRSS crossed it was killed (`oom`).
    #[serde(default)]
    pub memory_limit_bytes: Option<u64>,
    /// The `/stats` series the scenario declares (`[report] series`), plotted under the RSS
    /// timeline; each variant's peak is in its `series_peaks`.
    #[serde(default)]
    pub series: Vec<SeriesSpec>,
    /// The user's own server (`[target]`), when it ran instead of the toy server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetInfo>,
}

/// A `[target]` as the records tell it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// The command line as the scenario writes it (placeholders kept: the port and the run
    /// directory differ from run to run).
    pub command: Vec<String>,
    /// `process` or `tree`.
    pub sample: String,
    /// For a tree: the most processes seen in one reading, over every run.
    pub max_processes: Option<usize>,
}

/// A sweep as the records tell it: every variant ran once per value of one `[server]` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepInfo {
    /// The short name in the variants' names (`threads` in `glibc@threads=8`).
    pub name: String,
    /// The `[server]` key, e.g. `io_threads`.
    pub field: String,
    /// The values in the order they ran.
    pub values: Vec<serde_json::Value>,
}

impl SweepInfo {
    /// The values as numbers, when every one is a number and there are at least two distinct
    /// ones: a sweep that has an x axis (and so a plot).
    pub fn numeric_values(&self) -> Option<Vec<f64>> {
        let v: Vec<f64> = self
            .values
            .iter()
            .map(|v| v.as_f64().filter(|x| x.is_finite()))
            .collect::<Option<_>>()?;
        let distinct = v.iter().any(|x| *x != v[0]);
        distinct.then_some(v)
    }
}

/// Where a variant sits in the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepAt {
    pub name: String,
    pub field: String,
    pub value: serde_json::Value,
    /// The point's label, the part of the variant's name after `@`.
    pub label: String,
}

/// The highest value of a declared series in one run (or the median of those over the ok
/// runs), in the series' unit: bytes or a count, per second for a rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPeak {
    pub label: String,
    pub peak: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSettings {
    pub path: String,
    pub range: String,
    pub range_bytes: u64,
    pub processes: usize,
    pub connections: usize,
    /// Requests per second offered; `null` for closed loop.
    pub offered_rate: Option<f64>,
    pub timeout_s: f64,
    pub max_retries: u32,
    pub backoff_s: f64,
    pub duration_s: f64,
}

/// Latency percentiles of the `during` load, from the intended send time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyMs {
    pub p50: Option<f64>,
    pub p99: Option<f64>,
}

/// The figures of one run, or their medians over a variant's ok runs: the record's
/// [`Figures`] (flattened into the same JSON object) and the load's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FigureSet {
    #[serde(flatten)]
    pub figures: Figures,
    /// Ok responses per second during the load.
    pub throughput_rps: Option<f64>,
    pub latency_ms: LatencyMs,
    /// Server CPU seconds (utime + stime) during the load per 1,000 ok responses: the price of
    /// a fix, visible even when the egress limit caps throughput.
    pub server_cpu_s_per_1000_responses: Option<f64>,
    /// glibc arena heaps (from the mapping breakdown): the last count within `before`, the
    /// highest during the load, the last within `drain`. Each one is 64 MiB of VSZ.
    #[serde(default)]
    pub arena_heaps_before: Option<u64>,
    #[serde(default)]
    pub arena_heaps_peak: Option<u64>,
    #[serde(default)]
    pub arena_heaps_after_drain: Option<u64>,
    /// The peak of every series the scenario declares, in its order.
    #[serde(default)]
    pub series_peaks: Vec<SeriesPeak>,
}

impl std::ops::Deref for FigureSet {
    type Target = Figures;
    fn deref(&self) -> &Figures {
        &self.figures
    }
}

/// One run's own figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFigures {
    pub run_index: u32,
    /// `ok`, `interrupted`, `failed`, `oom` or `skipped`.
    pub status: String,
    pub failure: Option<String>,
    /// Rebuilt from the event stream of a killed harness.
    pub incomplete: bool,
    pub started_at: String,
    #[serde(flatten)]
    pub figures: FigureSet,
    /// Requests of the `during` load that failed on their last attempt, and retries sent.
    pub load_errors: Option<u64>,
    pub load_retries: Option<u64>,
}

/// The allocator's view next to the app's and the kernel's, at one instant of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldVsLive {
    /// When the `/stats` reading was taken, seconds since the load started.
    pub t_s: f64,
    /// The RssAnon sample nearest that reading.
    pub rss_anon_bytes: Option<u64>,
    /// What the app holds through the allocator.
    pub allocator_in_use_bytes: Option<u64>,
    /// What the allocator holds from the OS.
    pub allocator_held_bytes: Option<u64>,
    /// Held but unused: freed memory the allocator keeps.
    pub allocator_free_held_bytes: Option<u64>,
    /// The app's own count: block index plus in-flight buffers (and its pools, when it has
    /// any).
    pub app_live_bytes: Option<u64>,
    /// The part of the app's bytes kept in its own pools (`app.pool_bytes`), when it reports it.
    #[serde(default)]
    pub app_pool_bytes: Option<u64>,
}

/// [`HeldVsLive`] at the peak (the `/stats` reading nearest the RssAnon peak) and after the
/// drain (the last reading within `drain`), from the variant's median run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryBreakdown {
    pub peak: Option<HeldVsLive>,
    pub after_drain: Option<HeldVsLive>,
    /// The mapping breakdown (what `pmap -X` shows) nearest the end of `before`, the peak and
    /// the end of `drain`.
    #[serde(default)]
    pub mappings: Vec<MappingsAt>,
}

/// The mapping breakdown at one point of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MappingsAt {
    /// `before`, `peak` or `after drain`.
    pub when: String,
    /// Seconds since the load started.
    pub t_s: f64,
    pub breakdown: crate::sample::MappingBreakdown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantSummary {
    pub name: String,
    /// The variant of `variants.toml` this is (itself, or the base of a sweep point).
    #[serde(default)]
    pub base_variant: String,
    /// Where it sits in the sweep; `null` when the scenario has none.
    #[serde(default)]
    pub sweep: Option<SweepAt>,
    pub binary: String,
    pub description: String,
    pub env: BTreeMap<String, String>,
    pub args: Vec<String>,
    /// The library preloaded into the server (`LD_PRELOAD`), if any: the allocator that served
    /// it, while `allocator` names the build's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preload: Option<String>,
    /// The allocator and its settings in effect, as the server reported them (median run, or
    /// the first run that reported them).
    pub allocator: Option<String>,
    pub allocator_settings: Option<serde_json::Value>,
    /// The worst status of its runs: `ok` only if every run was ok; `skipped` when it could
    /// not run on this machine (`failure` says why and what fixes it).
    pub status: String,
    /// Why its worst run did not end ok (for `oom`: when, and at what RSS); `null` when ok.
    #[serde(default)]
    pub failure: Option<String>,
    /// The memory limit its runs had (`[limits] memory`), if any.
    #[serde(default)]
    pub memory_limit_bytes: Option<u64>,
    pub runs: usize,
    pub runs_ok: usize,
    /// The ok run whose after-drain RSS is the median (the lower middle for an even count):
    /// the bold line of the timeline and the source of `memory_breakdown`.
    pub median_run_index: Option<u32>,
    /// Medians over the ok runs.
    #[serde(flatten)]
    pub medians: FigureSet,
    /// Coefficient of variation (sample standard deviation / mean) of `rss_after_drain_bytes`
    /// over the ok runs: the run-to-run noise. `null` with fewer than two ok runs.
    pub rss_after_drain_cv: Option<f64>,
    /// From the median run; for a variant without an ok run, from its run that shows its
    /// status (an `oom` run until it was killed).
    pub memory_breakdown: MemoryBreakdown,
    pub run_figures: Vec<RunFigures>,
}

/// The status of a run as the summary names it. A failure that says the server ran out of
/// memory counts as `oom`.
pub fn run_status(r: &RunRecord) -> &'static str {
    match r.status {
        RunStatus::Ok => "ok",
        RunStatus::Interrupted => "interrupted",
        RunStatus::Oom => "oom",
        RunStatus::Skipped => "skipped",
        RunStatus::Failed => {
            let says_oom = |s: &Option<String>| {
                s.as_deref().is_some_and(|s| {
                    let s = s.to_ascii_lowercase();
                    s.contains("oom") || s.contains("out of memory")
                })
            };
            if says_oom(&r.failure) || says_oom(&r.server_exit) {
                "oom"
            } else {
                "failed"
            }
        }
    }
}

/// Worse statuses rank higher; a variant shows its worst.
fn severity(status: &str) -> u8 {
    match status {
        "ok" => 0,
        "skipped" => 1,
        "interrupted" => 2,
        "failed" => 3,
        _ => 4,
    }
}

/// Whether a record was rebuilt from the event stream of a killed harness.
pub fn is_incomplete(r: &RunRecord) -> bool {
    r.failure
        .as_deref()
        .is_some_and(|f| f.starts_with(INCOMPLETE_PREFIX))
}

pub fn phase<'a>(r: &'a RunRecord, name: &str) -> Option<&'a PhaseMark> {
    r.phases.iter().find(|m| m.name == name)
}

/// Time zero of a run's plots and of `t_s`: the start of the load (`during`); for a run killed
/// before the load, the end of `before`.
pub fn load_start(r: &RunRecord) -> Option<f64> {
    phase(r, "during")
        .map(|p| p.start)
        .or_else(|| phase(r, "before").map(|p| p.end))
}

/// A median of figures; "never" (infinite) is no figure.
fn median_finite(v: &[f64]) -> Option<f64> {
    median_f64(v).filter(|m| m.is_finite())
}

/// Coefficient of variation with the sample (n − 1) standard deviation.
pub fn coefficient_of_variation(v: &[f64]) -> Option<f64> {
    if v.len() < 2 {
        return None;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if mean <= 0.0 {
        return None;
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some(var.sqrt() / mean)
}

fn run_load(r: &RunRecord) -> Option<&LoadSummary> {
    r.load.as_ref()
}

/// A run's figures, with the load's and the cost's.
pub fn run_figure_set(r: &RunRecord) -> FigureSet {
    let f = &r.figures;
    let load = run_load(r);
    // Percentiles are all zero when nothing succeeded: that is "no figure", not 0 ms.
    let lat = load
        .filter(|l| l.latency_ms.count > 0)
        .map(|l| &l.latency_ms);
    let per_1000 = match (f.server_cpu_during_s, load.map(|l| l.counts.ok)) {
        (Some(cpu), Some(ok)) if ok > 0 => Some(cpu / ok as f64 * 1000.0),
        _ => None,
    };
    let (arena_before, arena_peak, arena_after) = arena_heaps(r);
    FigureSet {
        figures: f.clone(),
        throughput_rps: load.map(|l| l.throughput_rps),
        latency_ms: LatencyMs {
            p50: lat.map(|l| l.p50),
            p99: lat.map(|l| l.p99),
        },
        server_cpu_s_per_1000_responses: per_1000,
        arena_heaps_before: arena_before,
        arena_heaps_peak: arena_peak,
        arena_heaps_after_drain: arena_after,
        series_peaks: r
            .header
            .report
            .series
            .iter()
            .map(|s| SeriesPeak {
                label: s.label.clone(),
                peak: series::peak(r, s),
            })
            .collect(),
    }
}

/// The last mapping breakdown taken within a phase.
fn last_mapping_in<'a>(r: &'a RunRecord, name: &str) -> Option<&'a MappingBreakdown> {
    let p = phase(r, name)?;
    r.mappings.iter().rfind(|m| m.t >= p.start && m.t <= p.end)
}

/// glibc arena heaps at the end of `before`, at most during the load, at the end of `drain`.
fn arena_heaps(r: &RunRecord) -> (Option<u64>, Option<u64>, Option<u64>) {
    let peak = phase(r, "during").and_then(|d| {
        r.mappings
            .iter()
            .filter(|m| m.t >= d.start && m.t <= d.end)
            .map(|m| m.arena_heaps)
            .max()
    });
    (
        last_mapping_in(r, "before").map(|m| m.arena_heaps),
        peak,
        last_mapping_in(r, "drain").map(|m| m.arena_heaps),
    )
}

fn medians(sets: &[&FigureSet]) -> FigureSet {
    let x = |f: fn(&FigureSet) -> Option<f64>| {
        median_finite(&sets.iter().filter_map(|s| f(s)).collect::<Vec<_>>())
    };
    let u = |f: fn(&FigureSet) -> Option<u64>| {
        median_u64(&sets.iter().filter_map(|s| f(s)).collect::<Vec<_>>())
    };
    let mut labels: Vec<&str> = Vec::new();
    for p in sets.iter().flat_map(|s| &s.series_peaks) {
        if !labels.contains(&p.label.as_str()) {
            labels.push(&p.label);
        }
    }
    let series_peaks = labels
        .into_iter()
        .map(|label| {
            let peaks: Vec<f64> = sets
                .iter()
                .flat_map(|s| &s.series_peaks)
                .filter(|p| p.label == label)
                .filter_map(|p| p.peak)
                .collect();
            SeriesPeak {
                label: label.to_string(),
                peak: median_finite(&peaks),
            }
        })
        .collect();
    FigureSet {
        figures: Figures::medians(&sets.iter().map(|s| &s.figures).collect::<Vec<_>>()),
        throughput_rps: x(|s| s.throughput_rps),
        latency_ms: LatencyMs {
            p50: x(|s| s.latency_ms.p50),
            p99: x(|s| s.latency_ms.p99),
        },
        server_cpu_s_per_1000_responses: x(|s| s.server_cpu_s_per_1000_responses),
        arena_heaps_before: u(|s| s.arena_heaps_before),
        arena_heaps_peak: u(|s| s.arena_heaps_peak),
        arena_heaps_after_drain: u(|s| s.arena_heaps_after_drain),
        series_peaks,
    }
}

fn u64_at(v: &serde_json::Value, path: &[&str]) -> Option<u64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_u64()
}

/// The allocator's and the app's figures from a `/stats` reading, next to the nearest RssAnon.
fn held_vs_live(r: &RunRecord, s: &crate::record::StatsSample, t0: f64) -> HeldVsLive {
    let st = &s.stats;
    let rss = r
        .samples
        .iter()
        .min_by(|a, b| (a.t - s.t).abs().total_cmp(&(b.t - s.t).abs()))
        .map(|x| x.rss_anon);
    HeldVsLive {
        t_s: s.t - t0,
        rss_anon_bytes: rss,
        allocator_in_use_bytes: u64_at(st, &["allocator_figures", "in_use_bytes"]),
        allocator_held_bytes: u64_at(st, &["allocator_figures", "held_bytes"]),
        allocator_free_held_bytes: u64_at(st, &["allocator_figures", "free_held_bytes"]),
        app_live_bytes: u64_at(st, &["app", "live_bytes"]),
        app_pool_bytes: u64_at(st, &["app", "pool_bytes"]),
    }
}

/// At the peak: the `/stats` reading within `during` nearest the highest RssAnon sample of
/// `during` (none for a run killed before its first reading under load: a reading from before
/// the load would say "near the baseline" of a run that crossed its limit). After the drain:
/// the last reading within `drain`. Readings without allocator or app figures (the answer to
/// `/admin/release`) are skipped.
pub fn memory_breakdown(r: &RunRecord) -> MemoryBreakdown {
    let Some(t0) = load_start(r) else {
        return MemoryBreakdown::default();
    };
    let readings: Vec<_> = r
        .stats
        .iter()
        .filter(|s| s.stats.get("allocator_figures").is_some() || s.stats.get("app").is_some())
        .collect();
    let peak = phase(r, "during").and_then(|d| {
        let top = r
            .samples
            .iter()
            .filter(|s| s.t >= d.start && s.t <= d.end)
            // The first of equal maxima: when the peak was reached.
            .fold(None, |best: Option<&crate::sample::Sample>, s| match best {
                Some(b) if b.rss_anon >= s.rss_anon => Some(b),
                _ => Some(s),
            })?;
        let s = readings
            .iter()
            .filter(|s| s.t >= d.start && s.t <= d.end)
            .min_by(|a, b| (a.t - top.t).abs().total_cmp(&(b.t - top.t).abs()))?;
        Some(held_vs_live(r, s, t0))
    });
    let after_drain = phase(r, "drain").and_then(|d| {
        let s = readings.iter().rfind(|s| s.t >= d.start && s.t <= d.end)?;
        Some(held_vs_live(r, s, t0))
    });
    let peak_t = phase(r, "during").and_then(|d| {
        r.samples
            .iter()
            .filter(|s| s.t >= d.start && s.t <= d.end)
            .max_by_key(|s| s.rss_anon)
            .map(|s| s.t)
    });
    // The end of a phase is read from the last breakdown taken within it; the peak from the
    // breakdown of `during` nearest it.
    let last_in = |name: &str| last_mapping_in(r, name);
    let nearest = |t: f64| {
        let d = phase(r, "during")?;
        r.mappings
            .iter()
            .filter(|m| m.t >= d.start && m.t <= d.end)
            .min_by(|a, b| (a.t - t).abs().total_cmp(&(b.t - t).abs()))
    };
    let points = [
        ("before", last_in("before")),
        ("peak", peak_t.and_then(nearest)),
        ("after drain", last_in("drain")),
    ];
    let mappings = points
        .into_iter()
        .filter_map(|(when, m)| {
            let m = m?;
            Some(MappingsAt {
                when: when.to_string(),
                t_s: m.t - t0,
                breakdown: *m,
            })
        })
        .collect();
    MemoryBreakdown {
        peak,
        after_drain,
        mappings,
    }
}

fn scenario_info(first: &RunRecord, records: &[RunRecord]) -> ScenarioInfo {
    // The variant's own args come last on the command line (see `run`); drop them and the
    // binary to get the flags every variant shares.
    let h = &first.header;
    let cmd = &h.server_command;
    let own = h.variant.args.len();
    let shared_end = if cmd.len() > own && cmd[cmd.len() - own..] == h.variant.args[..] {
        cmd.len() - own
    } else {
        cmd.len()
    };
    let server_args = cmd
        .get(1..shared_end)
        .map(|a| a.to_vec())
        .unwrap_or_default();
    let load = records.iter().find_map(run_load).map(|l| LoadSettings {
        path: l
            .target
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
            .unwrap_or_else(|| l.target.clone()),
        range: l.range.clone(),
        range_bytes: l.range_bytes,
        processes: l.processes,
        connections: l.connections,
        offered_rate: l.offered_rate,
        timeout_s: l.timeout_s,
        max_retries: l.max_retries,
        backoff_s: l.backoff_s,
        duration_s: l.duration_s,
    });
    ScenarioInfo {
        name: h.scenario.clone(),
        description: h.scenario_description.clone(),
        path: h.scenario_path.clone(),
        hash: h.scenario_hash.clone(),
        seed: h.seed,
        quick: h.quick,
        phases_planned: Some(h.phases_planned.clone()),
        server_args,
        load,
        sweep: sweep_info(records),
        memory_limit_bytes: records.iter().find_map(|r| r.header.memory_limit_bytes),
        series: series::declared(records),
        target: h.target.as_ref().map(|t| TargetInfo {
            command: t.command.clone(),
            sample: match t.sample {
                crate::scenario::SampleScope::Process => "process".into(),
                crate::scenario::SampleScope::Tree => "tree".into(),
            },
            max_processes: records
                .iter()
                .flat_map(|r| r.procs.iter().map(|p| p.procs.len()))
                .max(),
        }),
    }
}

/// The sweep of the records: its field and its values, in the order the variants ran.
fn sweep_info(records: &[RunRecord]) -> Option<SweepInfo> {
    let mut info: Option<SweepInfo> = None;
    for name in variant_order(records) {
        let Some(p) = records
            .iter()
            .find(|r| r.header.variant.name == name)
            .and_then(|r| r.header.variant.sweep.as_ref())
        else {
            continue;
        };
        let i = info.get_or_insert_with(|| SweepInfo {
            name: p.name.clone(),
            field: p.field.clone(),
            values: Vec::new(),
        });
        if !i.values.contains(&p.value) {
            i.values.push(p.value.clone());
        }
    }
    info
}

pub use crate::record::dir::run_order;

/// The records in run order.
pub fn in_run_order(records: &[RunRecord]) -> Vec<&RunRecord> {
    let mut v: Vec<&RunRecord> = records.iter().collect();
    v.sort_by(|a, b| run_order(a, b));
    v
}

/// Variant names in the order their first run started, except that the points of a sweep
/// stay together under their base variant (where its first point ran): runs interleave
/// variants, a table and a plot read better grouped.
pub fn variant_order(records: &[RunRecord]) -> Vec<String> {
    let mut names: Vec<(String, String)> = Vec::new();
    let mut bases: Vec<String> = Vec::new();
    for r in in_run_order(records) {
        if !names.iter().any(|(n, _)| n == &r.header.variant.name) {
            names.push((
                r.header.variant.name.clone(),
                r.header.variant.base_name().to_string(),
            ));
        }
        if !bases.iter().any(|b| b == r.header.variant.base_name()) {
            bases.push(r.header.variant.base_name().to_string());
        }
    }
    // Stable: within a base, still the order of the first run.
    names.sort_by_key(|(_, base)| bases.iter().position(|b| b == base));
    names.into_iter().map(|(n, _)| n).collect()
}

fn summarize_variant(name: &str, runs: &[&RunRecord]) -> VariantSummary {
    let mut runs = runs.to_vec();
    runs.sort_by_key(|r| r.header.run_index);
    let sets: Vec<FigureSet> = runs.iter().map(|r| run_figure_set(r)).collect();
    let ok: Vec<usize> = (0..runs.len())
        .filter(|&i| runs[i].status == RunStatus::Ok)
        .collect();
    let ok_sets: Vec<&FigureSet> = ok.iter().map(|&i| &sets[i]).collect();
    let status = runs
        .iter()
        .map(|r| run_status(r))
        .max_by_key(|s| severity(s))
        .unwrap_or("failed");

    // The median run: the ok run at the middle of the after-drain order (lower middle).
    let mut by_a: Vec<usize> = ok
        .iter()
        .copied()
        .filter(|&i| sets[i].rss_after_drain_bytes.is_some())
        .collect();
    by_a.sort_by_key(|&i| (sets[i].rss_after_drain_bytes, runs[i].header.run_index));
    let median_run = (!by_a.is_empty()).then(|| by_a[(by_a.len() - 1) / 2]);

    let settings = median_run
        .map(|i| runs[i])
        .into_iter()
        .chain(runs.iter().copied())
        .find_map(|r| r.server_settings.as_ref());
    let a: Vec<f64> = ok_sets
        .iter()
        .filter_map(|s| s.rss_after_drain_bytes)
        .map(|v| v as f64)
        .collect();
    let first = runs[0];
    let variant = &first.header.variant;
    let worst = runs.iter().copied().find(|r| run_status(r) == status);
    VariantSummary {
        name: name.to_string(),
        base_variant: variant.base_name().to_string(),
        sweep: variant.sweep.as_ref().map(|p| SweepAt {
            name: p.name.clone(),
            field: p.field.clone(),
            value: p.value.clone(),
            label: p.label.clone(),
        }),
        binary: variant.binary.clone(),
        description: variant.description.clone(),
        env: variant.env.clone(),
        args: variant.args.clone(),
        preload: variant.preload.clone(),
        allocator: settings
            .and_then(|s| s.get("allocator")?.as_str())
            .map(str::to_string),
        allocator_settings: settings
            .and_then(|s| s.get("allocator_settings"))
            .filter(|v| !v.is_null())
            .cloned(),
        status: status.to_string(),
        failure: worst
            .filter(|_| status != "ok")
            .and_then(|r| r.failure.clone()),
        memory_limit_bytes: runs.iter().find_map(|r| r.header.memory_limit_bytes),
        // Runs measured: a skipped variant has a record that says so, and no run.
        runs: runs
            .iter()
            .filter(|r| r.status != RunStatus::Skipped)
            .count(),
        runs_ok: ok.len(),
        median_run_index: median_run.map(|i| runs[i].header.run_index),
        medians: medians(&ok_sets),
        rss_after_drain_cv: coefficient_of_variation(&a),
        // Without an ok run, the run that shows the status, as far as it went: an oom run's
        // peak is what the limit stopped, and who held it is the question.
        memory_breakdown: median_run
            .map(|i| runs[i])
            .or(worst)
            .map(memory_breakdown)
            .unwrap_or_default(),
        run_figures: runs
            .iter()
            .zip(sets)
            .map(|(r, figures)| RunFigures {
                run_index: r.header.run_index,
                status: run_status(r).to_string(),
                failure: r.failure.clone(),
                incomplete: is_incomplete(r),
                started_at: r.header.started_at.clone(),
                figures,
                load_errors: r.load.as_ref().map(|l| l.counts.errors),
                load_retries: r.load.as_ref().map(|l| l.counts.retries),
            })
            .collect(),
    }
}

/// The summary of a report directory's records (docs/measurements.md, "Outputs").
pub fn summarize(records: &[RunRecord]) -> Summary {
    let ordered = in_run_order(records);
    let names = variant_order(records);
    let variants = names
        .iter()
        .map(|n| {
            let runs: Vec<&RunRecord> = ordered
                .iter()
                .copied()
                .filter(|r| &r.header.variant.name == n)
                .collect();
            summarize_variant(n, &runs)
        })
        .collect();

    let mut warnings = Vec::new();
    let first = ordered.first().copied();
    for r in &ordered {
        let id = format!("{} #{}", r.header.variant.name, r.header.run_index);
        if r.status == RunStatus::Skipped {
            warnings.push(format!(
                "incomplete comparison: `{}` was not measured (skipped): {}",
                r.header.variant.name,
                r.failure.as_deref().unwrap_or_default()
            ));
        }
        if is_incomplete(r) {
            warnings.push(format!(
                "{id}: {}",
                r.failure.as_deref().unwrap_or_default()
            ));
        }
        if let Some(f) = first {
            if !r.header.scenario_hash.is_empty()
                && !f.header.scenario_hash.is_empty()
                && r.header.scenario_hash != f.header.scenario_hash
            {
                warnings.push(format!(
                    "{id}: measured from another version of the scenario (hash {} vs {})",
                    short(&r.header.scenario_hash),
                    short(&f.header.scenario_hash)
                ));
            } else if r.header.scenario != f.header.scenario {
                warnings.push(format!(
                    "{id}: from scenario {:?}, not {:?}",
                    r.header.scenario, f.header.scenario
                ));
            }
            if r.header.quick != f.header.quick {
                warnings.push(format!(
                    "{id}: quick={} where the first run has quick={}",
                    r.header.quick, f.header.quick
                ));
            }
            // A rebuilt record without its start event has no environment: nothing to compare.
            if r.header.environment != f.header.environment
                && r.header.environment != Environment::default()
            {
                warnings.push(format!(
                    "{id}: measured in another environment than the first run ({})",
                    env_diff(&f.header.environment, &r.header.environment)
                ));
            }
        }
    }

    Summary {
        schema_version: SUMMARY_SCHEMA_VERSION,
        scenario: first
            .map(|f| scenario_info(f, records))
            .unwrap_or_else(|| ScenarioInfo {
                name: String::new(),
                description: String::new(),
                path: String::new(),
                hash: String::new(),
                seed: 0,
                quick: false,
                phases_planned: None,
                server_args: Vec::new(),
                load: None,
                sweep: None,
                memory_limit_bytes: None,
                series: Vec::new(),
                target: None,
            }),
        environment: first
            .map(|f| f.header.environment.clone())
            .unwrap_or_default(),
        variants,
        warnings,
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// The names of the environment fields that differ.
fn env_diff(a: &Environment, b: &Environment) -> String {
    let (a, b) = (
        serde_json::to_value(a).unwrap_or_default(),
        serde_json::to_value(b).unwrap_or_default(),
    );
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return String::new();
    };
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_cv() {
        assert_eq!(
            median_finite(&[1.0, f64::INFINITY, f64::INFINITY]),
            None,
            "mostly never: never"
        );
        assert_eq!(median_finite(&[1.0, 2.0, f64::INFINITY]), Some(2.0));
        let cv = coefficient_of_variation(&[10.0, 20.0, 30.0]).unwrap();
        assert!((cv - 0.5).abs() < 1e-12, "sample sd 10 / mean 20, got {cv}");
        assert_eq!(coefficient_of_variation(&[10.0]), None);
    }

    #[test]
    fn severity_orders_statuses() {
        let mut v = ["ok", "oom", "interrupted", "skipped", "failed"];
        v.sort_by_key(|s| severity(s));
        assert_eq!(v, ["ok", "skipped", "interrupted", "failed", "oom"]);
    }
}
