//! One run's figures: the record's own, the load's (throughput, latency), the cost (server CPU
//! per response), the glibc arena heaps and the peaks of the declared series.

use serde::{Deserialize, Serialize};

use crate::figures::pages::{faults_during, huge_pages};
use crate::figures::Figures;
use crate::load::LoadSummary;
use crate::record::{RunRecord, RunStatus};

use super::mappings::arena_heaps;
use crate::report::series;

/// The highest value of a declared series in one run (or the median of those over the ok
/// runs), in the series' unit: bytes or a count, per second for a rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPeak {
    pub label: String,
    pub peak: Option<f64>,
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
    /// Transparent huge pages (AnonHugePages, from the smaps readings) in B's, P's and A's
    /// windows ([`crate::figures::pages::huge_pages`]).
    #[serde(default)]
    pub anon_huge_pages_before_bytes: Option<u64>,
    #[serde(default)]
    pub anon_huge_pages_peak_bytes: Option<u64>,
    #[serde(default)]
    pub anon_huge_pages_after_drain_bytes: Option<u64>,
    /// Minor and major page faults of the server (summed over its process tree) during the
    /// load; null for records from before the samples counted them.
    #[serde(default)]
    pub minflt_during: Option<u64>,
    #[serde(default)]
    pub majflt_during: Option<u64>,
    /// The peak of every series the scenario declares, in its order.
    #[serde(default)]
    pub series_peaks: Vec<SeriesPeak>,
    /// The `during` load's requests: those its schedule made due (`null` in closed loop, which
    /// schedules none), those sent, and those never sent because no connection got to them
    /// before the load stopped (`null` in closed loop). Latency and req/s are of the sent.
    #[serde(default)]
    pub requests_intended: Option<u64>,
    #[serde(default)]
    pub requests_sent: Option<u64>,
    #[serde(default)]
    pub requests_unsent: Option<u64>,
}

/// Above this share of its intended requests unsent, a memory run was overloaded: it did not
/// apply the load it was meant to, so its figures are of a smaller one. A load the server keeps
/// up with leaves none unsent (0 of 400 in each of the 12 runs of reports/incidents/
/// thread-arenas); every other open-loop run of reports/example and reports/incidents leaves 28 to 66%.
/// 1% sits far from both, and above the few sends a stop can overtake on its way.
pub const OVERLOAD_UNSENT_SHARE: f64 = 0.01;

/// The share of the intended requests that were not sent, when it makes the run overloaded.
pub fn overloaded(intended: Option<u64>, unsent: Option<u64>) -> Option<f64> {
    match (intended, unsent) {
        (Some(i), Some(u)) if i > 0 => Some(u as f64 / i as f64),
        _ => None,
    }
    .filter(|&share| share > OVERLOAD_UNSENT_SHARE)
}

/// The `during` load's intended, sent and unsent requests (see [`FigureSet`]).
pub(super) fn requests(load: Option<&LoadSummary>) -> [Option<u64>; 3] {
    let Some(l) = load else {
        return [None; 3];
    };
    let intended = l.intended_requests();
    [
        intended,
        Some(l.counts.requests),
        intended.map(|_| l.unsent),
    ]
}

impl FigureSet {
    /// The share of its intended requests the load did not send, when over
    /// [`OVERLOAD_UNSENT_SHARE`].
    pub fn overloaded(&self) -> Option<f64> {
        overloaded(self.requests_intended, self.requests_unsent)
    }
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
    /// As the report names it (`RunRecord::reported_status`).
    pub status: RunStatus,
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

pub(super) fn run_load(r: &RunRecord) -> Option<&LoadSummary> {
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
    let [intended, sent, unsent] = requests(load);
    let thp = huge_pages(&r.samples, &r.smaps, &r.phases);
    let (minflt, majflt) = faults_during(&r.samples, &r.phases);
    // A load tool's figures where it gave them; one it did not give stays missing.
    let tool = crate::record::during_tool(&r.load_tools).map(|t| &t.figures);
    FigureSet {
        figures: r.figures_with_curve(),
        throughput_rps: load
            .map(|l| l.throughput_rps)
            .or(tool.and_then(|t| t.requests_per_second)),
        latency_ms: LatencyMs {
            p50: lat.map(|l| l.p50).or(tool.and_then(|t| t.p50_ms)),
            p99: lat.map(|l| l.p99).or(tool.and_then(|t| t.p99_ms)),
        },
        server_cpu_s_per_1000_responses: per_1000,
        arena_heaps_before: arena_before,
        arena_heaps_peak: arena_peak,
        arena_heaps_after_drain: arena_after,
        anon_huge_pages_before_bytes: thp.before,
        anon_huge_pages_peak_bytes: thp.peak,
        anon_huge_pages_after_drain_bytes: thp.after_drain,
        minflt_during: minflt,
        majflt_during: majflt,
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
        requests_intended: intended,
        requests_sent: sent,
        requests_unsent: unsent,
    }
}
