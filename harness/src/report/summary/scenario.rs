//! The scenario as the records tell it: its file, its seed and phases, the server's shared flags,
//! how the load was driven, its memory limit, the series it declares and its `[target]`.

use serde::{Deserialize, Serialize};

use crate::load::per_request::RequestShape;
use crate::record::RunRecord;
use crate::scenario::{PhaseSpec, SeriesSpec};

use super::figures::run_load;
use super::sweep::{sweep_info, SweepInfo};
use crate::report::series;

/// The scenario as the records tell it (empty for a directory without records).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    /// The scenario's own load tool (`[load] command`), from the first run it drove a phase of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_tool: Option<LoadToolInfo>,
    /// The user's own server (`[target]`), when it ran instead of the toy server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetInfo>,
    /// The quiet phases (`before`, `drain`) in which any run asked the server for its stats:
    /// B or A of an observed server (docs/measurements.md#the-observer). Empty: nothing was
    /// asked of the server while B and A were taken.
    #[serde(default)]
    pub observed: Vec<String>,
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

/// A load tool as the records tell it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadToolInfo {
    /// Its program's file name.
    pub name: String,
    /// The phases it drove, in run order.
    pub phases: Vec<String>,
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
    /// A request mix: its entries (then `path` and `range` are not what was asked). Absent
    /// without one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<RequestShape>,
}

/// The scenario from the first run; the load and the memory limit from the first run that has
/// them, the series from every run that declares one, the sweep from every variant.
pub(super) fn scenario_info(first: &RunRecord, records: &[RunRecord]) -> ScenarioInfo {
    // The variant's own args come last on the command line (see `run`); drop them and the
    // binary to get the flags every variant shares.
    let cmd = &first.header.server_command;
    let own = first.header.variant.args.len();
    let shared_end = if cmd.len() > own && cmd[cmd.len() - own..] == first.header.variant.args[..] {
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
        requests: l.per_request.iter().map(|r| r.shape.clone()).collect(),
    });
    ScenarioInfo {
        name: first.header.scenario.clone(),
        description: first.header.scenario_description.clone(),
        path: first.header.scenario_path.clone(),
        hash: first.header.scenario_hash.clone(),
        seed: first.header.seed,
        quick: first.header.quick,
        phases_planned: Some(first.header.phases_planned.clone()),
        server_args,
        load,
        load_tool: records
            .iter()
            .find(|r| !r.load_tools.is_empty())
            .map(|r| LoadToolInfo {
                name: crate::tool::tool_name(&r.load_tools[0].argv),
                phases: r.load_tools.iter().fold(Vec::new(), |mut v, t| {
                    if !v.contains(&t.phase) {
                        v.push(t.phase.clone());
                    }
                    v
                }),
            }),
        sweep: sweep_info(records),
        memory_limit_bytes: records.iter().find_map(|r| r.header.memory_limit_bytes),
        series: series::declared(records),
        target: first.header.target.as_ref().map(|t| TargetInfo {
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
        observed: crate::scenario::QUIET_PHASES
            .iter()
            .filter(|q| {
                records
                    .iter()
                    .any(|r| r.observed_quiet_phases().iter().any(|o| o == *q))
            })
            .map(|q| q.to_string())
            .collect(),
    }
}
