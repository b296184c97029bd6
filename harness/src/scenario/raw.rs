//! The scenario file as people write it: strings with units (`3MiB`, `20s`, `400/s`), read
//! by serde and checked field by field by the other modules.

use serde::Deserialize;

use super::report::SeriesSpec;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub(super) name: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default = "default_seed")]
    pub(super) seed: u64,
    #[serde(default)]
    pub(super) variants: Option<Vec<String>>,
    #[serde(default)]
    pub(super) variants_file: Option<String>,
    #[serde(default)]
    pub(super) server: Option<toml::Table>,
    #[serde(default)]
    pub(super) target: Option<RawTarget>,
    #[serde(default)]
    pub(super) load: RawLoad,
    #[serde(default)]
    pub(super) phases: RawPhases,
    #[serde(default)]
    pub(super) quick: RawPhases,
    #[serde(default)]
    pub(super) sampling: RawSampling,
    #[serde(default)]
    pub(super) sweep: Option<RawSweep>,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(default)]
    pub(super) report: RawReport,
    #[serde(default)]
    pub(super) cost: Option<RawCost>,
    #[serde(default)]
    pub(super) remote: Option<RawRemote>,
    #[serde(default)]
    pub(super) gate: Option<toml::Table>,
    #[serde(default)]
    pub(super) network: Option<RawNetwork>,
}

/// `[network]`: the lab of namespaces and a shaped link the run goes over.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNetwork {
    pub(super) link: Option<String>,
    pub(super) client_hosts: Option<u32>,
    pub(super) processes_per_host: Option<u32>,
    pub(super) tcp_wmem: Option<String>,
}

/// `[remote]`: load workers on other hosts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRemote {
    pub(super) listen: String,
    pub(super) workers: u32,
    pub(super) join: Option<String>,
}

/// `[cost]`: capacity and latency per variant, on a server without the egress cap.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCost {
    pub(super) enabled: Option<bool>,
    pub(super) reference: Option<String>,
    pub(super) processes: Option<u32>,
    pub(super) connections: Option<u32>,
    pub(super) warmup: Option<String>,
    pub(super) capacity: Option<String>,
    pub(super) latency: Option<String>,
    pub(super) latency_at: Option<f64>,
    pub(super) latency_rate: Option<String>,
    pub(super) budget: Option<RawBudget>,
}

/// `[cost.budget]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBudget {
    pub(super) max_retention: Option<f64>,
    pub(super) max_after_drain: Option<String>,
}

/// `[sweep]`: one `[server]` field, several values; every variant runs once per value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSweep {
    pub(super) name: Option<String>,
    pub(super) field: String,
    pub(super) values: Vec<toml::Value>,
    pub(super) labels: Option<Vec<String>>,
}

/// `[target]`: a server of the user's own instead of the toy server.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
    pub(super) command: Vec<String>,
    #[serde(default)]
    pub(super) files: Vec<String>,
    pub(super) create_file: Option<String>,
    /// `"http:/PATH"`, `"stdout:TEXT"`, `"tcp"`, or `{ command = [...] }`.
    pub(super) ready: Option<toml::Value>,
    pub(super) ready_timeout: Option<String>,
    pub(super) sample: Option<String>,
    pub(super) stats: Option<String>,
    pub(super) stats_command: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) memory: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReport {
    #[serde(default)]
    pub(super) series: Vec<SeriesSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub(super) at: String,
    pub(super) rate: String,
}

fn default_seed() -> u64 {
    1
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLoad {
    pub(super) path: Option<String>,
    pub(super) range: Option<String>,
    pub(super) processes: Option<u32>,
    pub(super) connections: Option<u32>,
    pub(super) rate: Option<String>,
    pub(super) timeout: Option<String>,
    pub(super) retries: Option<u32>,
    pub(super) backoff: Option<String>,
    pub(super) steps: Option<Vec<RawStep>>,
    /// `[load] command`: the scenario's own load tool (scenario/tool.rs).
    pub(super) command: Option<Vec<String>>,
    pub(super) phases: Option<Vec<String>>,
    pub(super) stop_grace: Option<String>,
    pub(super) exits: Option<String>,
    pub(super) figures: Option<std::collections::BTreeMap<String, RawFigure>>,
    /// `[[load.request]]`'s key space.
    pub(super) keys: Option<i64>,
    pub(super) request: Option<Vec<RawRequest>>,
}

/// One `[[load.request]]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRequest {
    pub(super) weight: Option<i64>,
    pub(super) method: Option<String>,
    pub(super) path: Option<String>,
    pub(super) keys: Option<String>,
    pub(super) range: Option<String>,
    pub(super) body: Option<String>,
}

/// `[load.figures]`: one figure read from the tool's output or from a file it writes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFigure {
    pub(super) regex: Option<String>,
    pub(super) json: Option<String>,
    pub(super) file: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPhases {
    pub(super) warmup: Option<String>,
    pub(super) warmup_rate: Option<String>,
    pub(super) before: Option<String>,
    pub(super) during: Option<String>,
    pub(super) drain: Option<String>,
    pub(super) nudge: Option<String>,
    pub(super) nudge_rate: Option<String>,
    pub(super) release: Option<String>,
    pub(super) cycles: Option<i64>,
    pub(super) soak: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSampling {
    pub(super) interval: Option<String>,
    pub(super) stats_interval: Option<String>,
    pub(super) smaps_interval: Option<String>,
    pub(super) stats_in: Option<Vec<String>>,
    pub(super) probe: Option<bool>,
}
