//! Scenario files (TOML): what to run, how hard, for how long, and the gate budgets.
//!
//! Raw files are read into `Raw*` structs of strings as people write them (`3MiB`, `20s`,
//! `400/s`), then checked field by field into a [`Scenario`]. Every error is one line naming
//! the file, the field, the value and what was expected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use target_server::units;

/// A scenario that failed to load: one line, file and field first.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {field}{sep}{message}", sep = if field.is_empty() { "" } else { ": " })]
pub struct ScenarioError {
    pub file: String,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default)]
    variants: Option<Vec<String>>,
    #[serde(default)]
    variants_file: Option<String>,
    #[serde(default)]
    server: Option<RawServer>,
    #[serde(default)]
    target: Option<RawTarget>,
    #[serde(default)]
    load: RawLoad,
    #[serde(default)]
    phases: RawPhases,
    #[serde(default)]
    quick: RawPhases,
    #[serde(default)]
    sampling: RawSampling,
    #[serde(default)]
    sweep: Option<RawSweep>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    report: RawReport,
    #[serde(default)]
    gate: Option<toml::Table>,
}

/// `[sweep]`: one `[server]` field, several values; every variant runs once per value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSweep {
    name: Option<String>,
    field: String,
    values: Vec<toml::Value>,
    labels: Option<Vec<String>>,
}

/// `[target]`: a server of the user's own instead of the toy server.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    command: Vec<String>,
    #[serde(default)]
    files: Vec<String>,
    create_file: Option<String>,
    ready: Option<String>,
    ready_timeout: Option<String>,
    sample: Option<String>,
    stats: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    memory: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    #[serde(default)]
    series: Vec<SeriesSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    at: String,
    rate: String,
}

fn default_seed() -> u64 {
    1
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    file: Option<String>,
    create_file: Option<String>,
    workers: Option<u32>,
    io: Option<String>,
    blocking_threads: Option<u32>,
    meta_every: Option<u64>,
    meta_size: Option<String>,
    meta_churn: Option<String>,
    egress_limit: Option<String>,
    hold: Option<String>,
    max_inflight: Option<u32>,
    queue_timeout: Option<String>,
    max_range: Option<String>,
    io_threads: Option<u32>,
    rpc_pool_objects: Option<u32>,
    rpc_object_size: Option<String>,
    byte_pool: Option<u32>,
    byte_pool_buffer: Option<String>,
    byte_pool_low: Option<f64>,
    byte_pool_high: Option<f64>,
    body: Option<String>,
    chunk: Option<String>,
    #[serde(default)]
    args: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoad {
    path: Option<String>,
    range: Option<String>,
    processes: Option<u32>,
    connections: Option<u32>,
    rate: Option<String>,
    timeout: Option<String>,
    retries: Option<u32>,
    backoff: Option<String>,
    steps: Option<Vec<RawStep>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhases {
    warmup: Option<String>,
    warmup_rate: Option<String>,
    before: Option<String>,
    during: Option<String>,
    drain: Option<String>,
    nudge: Option<String>,
    nudge_rate: Option<String>,
    release: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSampling {
    interval: Option<String>,
    stats_interval: Option<String>,
    smaps_interval: Option<String>,
}

/// `[target]`: the user's own server, started by the harness in place of the toy server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetSpec {
    /// The command line; `{port}`, `{dir}` and `{file}` are replaced in every argument.
    pub command: Vec<String>,
    /// Templates (paths as resolved from the scenario's directory) written into the run's
    /// directory under their file names, with the same placeholders replaced.
    pub files: Vec<PathBuf>,
    /// Size of the hot file the harness creates as `{dir}/hot` (`{file}`).
    pub create_file: u64,
    pub ready: Readiness,
    #[serde(with = "secs")]
    pub ready_timeout: Duration,
    pub sample: SampleScope,
    /// A JSON endpoint polled like the toy server's `/stats`, if the target has one.
    pub stats: Option<String>,
}

/// How the harness tells that a target is ready for load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    /// `GET path` on the target's port answers at all (any HTTP status).
    Http(String),
    /// A line of the target's stdout contains this text.
    Stdout(String),
}

/// Whose memory a run samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleScope {
    /// The started process only.
    Process,
    /// The started process and all its descendants, summed (pre-forking servers), with each
    /// process's own figures kept.
    Tree,
}

/// The placeholders of a target's command and files.
pub const TARGET_PLACEHOLDERS: [&str; 3] = ["{port}", "{dir}", "{file}"];

/// The server side of a scenario: turned into `target-server` flags.
#[derive(Debug, Clone, Serialize)]
pub struct ServerSpec {
    /// Hot file to serve, or `None` to let the server create one of `create_file` bytes.
    pub file: Option<PathBuf>,
    pub create_file: u64,
    pub workers: u32,
    pub io: String,
    pub blocking_threads: u32,
    pub meta_every: u64,
    pub meta_size: (u64, u64),
    pub meta_churn: f64,
    pub egress_limit: Option<f64>,
    pub hold: Option<Duration>,
    pub max_inflight: u32,
    pub queue_timeout: Duration,
    pub max_range: u64,
    /// `--io pool`: this many I/O threads, requests dispatched round-robin (incident 002).
    pub io_threads: u32,
    /// 64 KiB-style RPC objects taken per request from a pool that never frees (incident 001).
    pub rpc_pool_objects: u32,
    pub rpc_object_size: u64,
    /// Watermark byte pool capacity, in buffers (0: off; incident 003).
    pub byte_pool: u32,
    pub byte_pool_buffer: u64,
    pub byte_pool_low: f64,
    pub byte_pool_high: f64,
    /// `buffered` (one buffer per response) or `streaming` (a chunk at a time; incident 004).
    pub body: String,
    pub chunk: u64,
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadSpec {
    pub path: String,
    pub range: (u64, u64),
    pub processes: u32,
    pub connections: u32,
    /// Requests per second offered; `None` is closed loop (`max`).
    pub rate: Option<f64>,
    pub timeout: Duration,
    pub retries: u32,
    pub backoff: Duration,
    /// Rate steps of the `during` load (a burst): from `at` on, the offered rate is `rate`.
    pub steps: Vec<RateStep>,
}

/// When a rate step starts: a fraction of the `during` phase (`"40%"`), or an offset into it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepAt {
    Fraction(f64),
    #[serde(with = "secs")]
    After(Duration),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RateStep {
    pub at: StepAt,
    /// Requests per second offered from `at` on.
    pub rate: f64,
}

impl StepAt {
    pub fn offset(&self, during: Duration) -> Duration {
        match *self {
            StepAt::Fraction(f) => during.mul_f64(f),
            StepAt::After(d) => d,
        }
    }
}

impl LoadSpec {
    /// The steps as `allocstorm load --step AT=RATE` values for a `during` of this length.
    pub fn step_args(&self, during: Duration) -> Vec<String> {
        self.steps
            .iter()
            .map(|s| format!("{}ms={}/s", s.at.offset(during).as_millis(), s.rate))
            .collect()
    }
}

/// What a scenario asks the report to show beyond memory: extra time series read from `/stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportSpec {
    #[serde(default)]
    pub series: Vec<SeriesSpec>,
}

/// One `/stats` figure plotted under the RSS timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesSpec {
    /// Axis label, e.g. "get-on-empty/s".
    pub label: String,
    /// JSON pointer into the `/stats` document, e.g. "/pools/bytes/get_on_empty".
    pub stat: String,
    /// `gauge` plots the value; `rate` plots its increase per second (for counters).
    #[serde(default)]
    pub kind: SeriesKind,
    /// `count` or `bytes` (plotted in MiB).
    #[serde(default)]
    pub unit: SeriesUnit,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeriesKind {
    #[default]
    Gauge,
    Rate,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeriesUnit {
    #[default]
    Count,
    Bytes,
}

/// The swept `[server]` field.
#[derive(Debug, Clone, Serialize)]
pub struct SweepSpec {
    /// Short name used in labels (`threads` in `glibc@threads=8`).
    pub name: String,
    /// The `[server]` key, e.g. `io_threads`.
    pub field: String,
}

/// One server configuration of a scenario: the `[server]` table, or one point of its sweep.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    /// `threads=8`; `None` when the scenario has no sweep.
    pub label: Option<String>,
    pub value: Option<serde_json::Value>,
    pub server: ServerSpec,
}

/// Where a derived variant sits in a sweep; recorded with every run of it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SweepPoint {
    /// The variant of `variants.toml` this run is a point of.
    pub base: String,
    pub name: String,
    pub field: String,
    pub value: serde_json::Value,
    pub label: String,
}

/// Phase lengths. `nudge` and `release` are optional (zero: skipped).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhaseSpec {
    #[serde(with = "secs")]
    pub warmup: Duration,
    pub warmup_rate: f64,
    #[serde(with = "secs")]
    pub before: Duration,
    #[serde(with = "secs")]
    pub during: Duration,
    #[serde(with = "secs")]
    pub drain: Duration,
    #[serde(with = "secs")]
    pub nudge: Duration,
    pub nudge_rate: f64,
    /// How long to watch after `POST /admin/release`; zero: no release phase.
    #[serde(with = "secs")]
    pub release: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct SamplingSpec {
    pub interval: Duration,
    pub stats_interval: Duration,
    pub smaps_interval: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub path: PathBuf,
    /// sha256 of the scenario (without `[gate]`) and the variants file, as parsed.
    pub hash: String,
    pub seed: u64,
    pub server: ServerSpec,
    pub load: LoadSpec,
    pub phases: PhaseSpec,
    /// The shorter phases of `--quick`, same shape.
    pub quick_phases: PhaseSpec,
    pub sampling: SamplingSpec,
    pub variants: Vec<Variant>,
    /// The swept server field, if any; `cases` has one entry per value (or one, unswept).
    pub sweep: Option<SweepSpec>,
    pub cases: Vec<Case>,
    /// The harness SIGKILLs a server whose VmRSS crosses this and records the run as `oom`.
    pub memory_limit: Option<u64>,
    pub report: ReportSpec,
    pub gate: Option<toml::Table>,
    /// `[target]`: the user's own server instead of the toy server (`server` then holds the
    /// defaults and is not used).
    pub target: Option<TargetSpec>,
}

/// One allocator build and its settings: a binary, environment and extra server flags.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    pub binary: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// A shared library loaded into the server with `LD_PRELOAD` (an absolute path, e.g.
    /// `/usr/lib/x86_64-linux-gnu/libjemalloc.so.2`): another allocator in the glibc build.
    /// The harness checks it is mapped in the server once it is up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preload: Option<String>,
    /// The Debian package that ships `preload`: what `scripts/deps.sh` installs when the
    /// library is missing, and what a skipped variant's reason names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Set by the harness on the variants it derives for a sweep; never written by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepPoint>,
}

impl Variant {
    /// The `variants.toml` name this run belongs to (itself unless it is a sweep point).
    pub fn base_name(&self) -> &str {
        self.sweep.as_ref().map_or(&self.name, |p| &p.base)
    }

    /// Why this variant cannot run on this machine, with what fixes it; `None` when it can.
    /// Its preload library must exist: checked before a run, never while loading a scenario,
    /// so that one missing library skips one variant instead of stopping the comparison.
    pub fn unavailable(&self) -> Option<String> {
        let lib = self.preload.as_deref()?;
        if Path::new(lib).is_file() {
            return None;
        }
        let fix = match &self.package {
            Some(p) => format!("`make deps`, or `apt-get install {p}`"),
            None => "install it, or point the variant's `preload` at where it is".to_string(),
        };
        Some(format!("its preload {lib} is not installed: {fix}"))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariants {
    variant: Vec<Variant>,
}

/// Known server binaries; a variant must name one.
pub const SERVER_BINARIES: [&str; 3] = [
    "target-server-glibc",
    "target-server-jemalloc",
    "target-server-mimalloc",
];

struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn err(&self, field: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            field: field.to_string(),
            message: message.into(),
        }
    }

    fn unit<T>(
        &self,
        field: &str,
        value: Option<&String>,
        default: &str,
        parse: impl Fn(&str) -> Result<T, units::UnitError>,
    ) -> Result<T, ScenarioError> {
        let v = value.map(String::as_str).unwrap_or(default);
        parse(v).map_err(|e| self.err(field, e.to_string()))
    }
}

/// Turns a toml error (with its byte span) into one line with the line number.
fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> ScenarioError {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
    let msg = e
        .message()
        .lines()
        .next()
        .unwrap_or("invalid TOML")
        .to_string();
    ScenarioError {
        file: match line {
            Some(l) => format!("{file}:{l}"),
            None => file.to_string(),
        },
        field: String::new(),
        message: msg,
    }
}

impl Scenario {
    /// Loads a scenario and its variants file (`variants.toml` beside it unless the scenario
    /// names another).
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: file.clone(),
            field: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        let raw: RawScenario = toml::from_str(&text).map_err(|e| toml_error(&file, &text, &e))?;
        let ctx = Ctx { file: &file };

        let vpath = path
            .parent()
            .unwrap_or(Path::new("."))
            .join(raw.variants_file.as_deref().unwrap_or("variants.toml"));
        let vfile = vpath.display().to_string();
        let vtext = std::fs::read_to_string(&vpath).map_err(|e| ScenarioError {
            file: vfile.clone(),
            field: String::new(),
            message: format!("cannot read the variants file: {e}"),
        })?;
        let all = parse_variants(&vfile, &vtext)?;

        let variants = match &raw.variants {
            None => all.clone(),
            Some(names) => {
                if names.is_empty() {
                    return Err(ctx.err("variants", "expected at least one variant name, got []"));
                }
                names
                    .iter()
                    .map(|n| {
                        all.iter().find(|v| &v.name == n).cloned().ok_or_else(|| {
                            ctx.err(
                                "variants",
                                format!(
                                    "unknown variant {n:?}: expected one of {}",
                                    names_of(&all)
                                ),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
        };

        let server = server_spec(
            &ctx,
            raw.server.as_ref().unwrap_or(&RawServer::default()),
            path,
        )?;
        // A target's templates shape its runs as much as the scenario does: hashed with it.
        let (target, templates) = match &raw.target {
            None => (None, Vec::new()),
            Some(t) => {
                if raw.server.is_some() {
                    return Err(ctx.err(
                        "target",
                        "a scenario runs either the toy server ([server]) or a target of your own ([target]), not both",
                    ));
                }
                if raw.sweep.is_some() {
                    return Err(ctx.err(
                        "sweep",
                        "a sweep varies a [server] field of the toy server; a [target] scenario has none",
                    ));
                }
                check_target_variants(&ctx, &variants)?;
                let (spec, texts) = target_spec(&ctx, t, path)?;
                (Some(spec), texts)
            }
        };
        let hash = scenario_hash(&text, &vtext, &templates);
        let load = load_spec(&ctx, &raw.load)?;
        let phases = phase_spec(&ctx, "phases", &raw.phases, &PhaseDefaults::FULL)?;
        // --quick keeps the shape (every phase the full run has) and shortens each.
        let quick_phases = phase_spec(&ctx, "quick", &raw.quick, &PhaseDefaults::quick(&phases))?;
        if target.is_some() {
            for (section, ph) in [("phases", &phases), ("quick", &quick_phases)] {
                if !ph.release.is_zero() {
                    return Err(ctx.err(
                        &format!("{section}.release"),
                        "the release phase asks the toy server's /admin/release; a [target] has none: expected no release",
                    ));
                }
            }
            if !raw.report.series.is_empty() && target.as_ref().is_some_and(|t| t.stats.is_none()) {
                return Err(ctx.err(
                    "report.series",
                    "series are read from the target's stats endpoint: set target.stats (such as \"/stats\") or drop them",
                ));
            }
        }
        check_steps(
            &ctx,
            &load.steps,
            &[("phases", &phases), ("quick", &quick_phases)],
        )?;
        let (sweep, cases) = match &raw.sweep {
            None => (
                None,
                vec![Case {
                    label: None,
                    value: None,
                    server: server.clone(),
                }],
            ),
            Some(sw) => {
                let (spec, cases) = sweep_cases(&ctx, sw, &text, path)?;
                (Some(spec), cases)
            }
        };
        let memory_limit = match &raw.limits.memory {
            None => None,
            Some(v) => {
                let b =
                    units::parse_size(v).map_err(|e| ctx.err("limits.memory", e.to_string()))?;
                if b < 16 << 20 {
                    return Err(ctx.err(
                        "limits.memory",
                        format!(
                            "expected at least 16MiB (a server needs that to start), got {v:?}"
                        ),
                    ));
                }
                Some(b)
            }
        };
        for (i, se) in raw.report.series.iter().enumerate() {
            if se.label.trim().is_empty() {
                return Err(ctx.err(
                    &format!("report.series[{i}].label"),
                    "expected a non-empty label",
                ));
            }
            if !se.stat.starts_with('/') {
                return Err(ctx.err(
                    &format!("report.series[{i}].stat"),
                    format!(
                        "expected a JSON pointer into /stats such as \"/pools/bytes/get_on_empty\", got {:?}",
                        se.stat
                    ),
                ));
            }
        }
        let sampling = SamplingSpec {
            interval: ctx.unit(
                "sampling.interval",
                raw.sampling.interval.as_ref(),
                "50ms",
                units::parse_duration,
            )?,
            stats_interval: ctx.unit(
                "sampling.stats_interval",
                raw.sampling.stats_interval.as_ref(),
                "1s",
                units::parse_duration,
            )?,
            smaps_interval: ctx.unit(
                "sampling.smaps_interval",
                raw.sampling.smaps_interval.as_ref(),
                "1s",
                units::parse_duration,
            )?,
        };
        if sampling.interval < Duration::from_millis(1)
            || sampling.interval > Duration::from_secs(10)
        {
            return Err(ctx.err(
                "sampling.interval",
                format!("expected between 1ms and 10s, got {:?}", sampling.interval),
            ));
        }
        if let Some(gate) = &raw.gate {
            // Budgets may name a variant of variants.toml or one point of the sweep.
            let mut names: Vec<String> = all.iter().map(|v| v.name.clone()).collect();
            for v in &all {
                for c in &cases {
                    names.push(case_variant(v, sweep.as_ref(), c).name);
                }
            }
            check_gate(&ctx, gate, &names)?;
        }

        Ok(Scenario {
            name: raw.name,
            description: raw.description,
            path: path.to_path_buf(),
            hash,
            seed: raw.seed,
            server,
            load,
            phases,
            quick_phases,
            sampling,
            variants,
            sweep,
            cases,
            memory_limit,
            report: ReportSpec {
                series: raw.report.series,
            },
            gate: raw.gate,
            target,
        })
    }

    /// The variant that runs `case`: `v` itself, or for a sweep point a copy named
    /// `glibc@threads=8` that knows its base and point.
    pub fn case_variant(&self, v: &Variant, case: &Case) -> Variant {
        case_variant(v, self.sweep.as_ref(), case)
    }

    pub fn variant(&self, name: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.name == name)
    }

    pub fn phases(&self, quick: bool) -> &PhaseSpec {
        if quick {
            &self.quick_phases
        } else {
            &self.phases
        }
    }

    /// The server's command line for this scenario (without the variant's own args).
    pub fn server_args(&self) -> Vec<String> {
        self.server_args_for(&self.server)
    }

    /// The server's command line for one case of this scenario.
    pub fn server_args_for(&self, s: &ServerSpec) -> Vec<String> {
        let mut a: Vec<String> = vec!["--listen".into(), "127.0.0.1:0".into()];
        match &s.file {
            Some(f) => a.extend(["--file".into(), f.display().to_string()]),
            None => a.extend(["--create-file".into(), s.create_file.to_string()]),
        }
        a.extend([
            "--seed".into(),
            self.seed.to_string(),
            "--workers".into(),
            s.workers.to_string(),
            "--io".into(),
            s.io.clone(),
            "--blocking-threads".into(),
            s.blocking_threads.to_string(),
            "--meta-every".into(),
            s.meta_every.to_string(),
            "--meta-size".into(),
            format!("{}-{}", s.meta_size.0, s.meta_size.1),
            "--meta-churn".into(),
            format!("{}/s", s.meta_churn),
            "--max-inflight".into(),
            s.max_inflight.to_string(),
            "--queue-timeout".into(),
            format!("{}ms", s.queue_timeout.as_millis()),
            "--max-range".into(),
            s.max_range.to_string(),
        ]);
        if let Some(r) = s.egress_limit {
            a.extend(["--egress-limit".into(), format!("{}/s", r.round() as u64)]);
        }
        if let Some(h) = s.hold {
            a.extend(["--hold".into(), format!("{}ms", h.as_millis())]);
        }
        // The incident modes: flags only when used, so other scenarios' command lines stay
        // as they were.
        if s.io == "pool" {
            a.extend(["--io-threads".into(), s.io_threads.to_string()]);
        }
        if s.rpc_pool_objects > 0 {
            a.extend([
                "--rpc-pool-objects".into(),
                s.rpc_pool_objects.to_string(),
                "--rpc-object-size".into(),
                s.rpc_object_size.to_string(),
            ]);
        }
        if s.byte_pool > 0 {
            a.extend([
                "--byte-pool".into(),
                s.byte_pool.to_string(),
                "--byte-pool-buffer".into(),
                s.byte_pool_buffer.to_string(),
                "--byte-pool-low".into(),
                s.byte_pool_low.to_string(),
                "--byte-pool-high".into(),
                s.byte_pool_high.to_string(),
            ]);
        }
        if s.body != "buffered" {
            a.extend(["--body".into(), s.body.clone()]);
        }
        if s.chunk != DEFAULT_CHUNK {
            a.extend(["--chunk".into(), s.chunk.to_string()]);
        }
        a.extend(s.args.iter().cloned());
        a
    }
}

const DEFAULT_CHUNK: u64 = 64 << 10;

/// `[server]` keys a sweep may vary.
const SWEEPABLE: [&str; 20] = [
    "workers",
    "io",
    "blocking_threads",
    "meta_every",
    "meta_size",
    "meta_churn",
    "egress_limit",
    "hold",
    "max_inflight",
    "queue_timeout",
    "max_range",
    "io_threads",
    "rpc_pool_objects",
    "rpc_object_size",
    "byte_pool",
    "byte_pool_buffer",
    "byte_pool_low",
    "byte_pool_high",
    "body",
    "chunk",
];

fn case_variant(v: &Variant, sweep: Option<&SweepSpec>, case: &Case) -> Variant {
    match (sweep, &case.label, &case.value) {
        (Some(sw), Some(label), Some(value)) => Variant {
            name: format!("{}@{label}", v.name),
            sweep: Some(SweepPoint {
                base: v.name.clone(),
                name: sw.name.clone(),
                field: sw.field.clone(),
                value: value.clone(),
                label: label.clone(),
            }),
            ..v.clone()
        },
        _ => v.clone(),
    }
}

/// One [`Case`] per sweep value: the `[server]` table with the field set to that value,
/// checked like the table itself.
fn sweep_cases(
    ctx: &Ctx,
    sw: &RawSweep,
    text: &str,
    path: &Path,
) -> Result<(SweepSpec, Vec<Case>), ScenarioError> {
    if !SWEEPABLE.contains(&sw.field.as_str()) {
        return Err(ctx.err(
            "sweep.field",
            format!(
                "expected a [server] key ({}), got {:?}",
                SWEEPABLE.join(", "),
                sw.field
            ),
        ));
    }
    if sw.values.is_empty() || sw.values.len() > 32 {
        return Err(ctx.err(
            "sweep.values",
            format!("expected 1 to 32 values, got {}", sw.values.len()),
        ));
    }
    let name = sw.name.clone().unwrap_or_else(|| sw.field.clone());
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.=".contains(c))
    };
    if !label_ok(&name) {
        return Err(ctx.err(
            "sweep.name",
            format!("expected letters, digits, '-', '_' or '.', got {name:?}"),
        ));
    }
    if let Some(labels) = &sw.labels {
        if labels.len() != sw.values.len() {
            return Err(ctx.err(
                "sweep.labels",
                format!(
                    "expected one label per value ({}), got {}",
                    sw.values.len(),
                    labels.len()
                ),
            ));
        }
    }
    let table: toml::Table = toml::from_str(text).map_err(|e| ctx.err("", e.to_string()))?;
    let base = match table.get("server") {
        Some(toml::Value::Table(t)) => t.clone(),
        _ => toml::Table::new(),
    };
    let mut cases = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, value) in sw.values.iter().enumerate() {
        let field = format!("sweep.values[{i}]");
        let mut t = base.clone();
        t.insert(sw.field.clone(), value.clone());
        let raw = RawServer::deserialize(toml::Value::Table(t)).map_err(|e| {
            ctx.err(
                &field,
                format!(
                    "server.{}: {}",
                    sw.field,
                    e.message().lines().next().unwrap_or("invalid value")
                ),
            )
        })?;
        let server = server_spec(ctx, &raw, path)
            .map_err(|e| ctx.err(&field, format!("{}: {}", e.field, e.message)))?;
        let shown = match value {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let label = match &sw.labels {
            Some(l) => l[i].clone(),
            None => format!("{name}={shown}"),
        };
        if !label_ok(&label) {
            return Err(ctx.err(
                &format!("sweep.labels[{i}]"),
                format!("expected letters, digits, '-', '_', '.' or '=', got {label:?}"),
            ));
        }
        if !seen.insert(label.clone()) {
            return Err(ctx.err(&field, format!("duplicate sweep point {label:?}")));
        }
        let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        cases.push(Case {
            label: Some(label),
            value: Some(value),
            server,
        });
    }
    Ok((
        SweepSpec {
            name,
            field: sw.field.clone(),
        },
        cases,
    ))
}

/// Steps must start inside `during` and in order, for the full phases and the quick ones.
fn check_steps(
    ctx: &Ctx,
    steps: &[RateStep],
    phase_sets: &[(&str, &PhaseSpec)],
) -> Result<(), ScenarioError> {
    for (table, p) in phase_sets {
        let mut last = Duration::ZERO;
        for (i, s) in steps.iter().enumerate() {
            let at = s.at.offset(p.during);
            if at.is_zero() || at >= p.during || at <= last {
                return Err(ctx.err(
                    &format!("load.steps[{i}].at"),
                    format!(
                        "expected steps in increasing order inside {table}.during ({:?}), got {at:?}",
                        p.during
                    ),
                ));
            }
            last = at;
        }
    }
    Ok(())
}

/// sha256 of what shapes a run: the scenario without its `[gate]` section (budgets judge runs,
/// they do not change them, so editing one must not orphan every baseline) and the variants
/// file. Both are hashed as parsed tables, so comments and layout do not count either.
fn scenario_hash(text: &str, vtext: &str, templates: &[String]) -> String {
    let canonical = |t: &str, drop_gate: bool| -> String {
        match toml::from_str::<toml::Table>(t) {
            Ok(mut table) => {
                if drop_gate {
                    table.remove("gate");
                }
                toml::to_string(&table).unwrap_or_else(|_| t.to_string())
            }
            Err(_) => t.to_string(),
        }
    };
    let mut h = Sha256::new();
    h.update(canonical(text, true).as_bytes());
    h.update(b"\0");
    h.update(canonical(vtext, false).as_bytes());
    for t in templates {
        h.update(b"\0");
        h.update(t.as_bytes());
    }
    format!("{:x}", h.finalize())
}

/// Reads `variants.toml`: `[[variant]]` tables, names unique, binaries known.
pub fn parse_variants(file: &str, text: &str) -> Result<Vec<Variant>, ScenarioError> {
    let raw: RawVariants = toml::from_str(text).map_err(|e| toml_error(file, text, &e))?;
    let ctx = Ctx { file };
    let mut seen = std::collections::BTreeSet::new();
    for (i, v) in raw.variant.iter().enumerate() {
        let field = format!("variant[{i}]");
        if v.name.is_empty()
            || !v
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ctx.err(
                &format!("{field}.name"),
                format!("expected letters, digits, '-' or '_', got {:?}", v.name),
            ));
        }
        if !seen.insert(v.name.clone()) {
            return Err(ctx.err(
                &format!("{field}.name"),
                format!("duplicate variant name {:?}", v.name),
            ));
        }
        if v.sweep.is_some() {
            return Err(ctx.err(
                &format!("{field}.sweep"),
                "unknown field: sweep points come from a scenario's [sweep]",
            ));
        }
        if !SERVER_BINARIES.contains(&v.binary.as_str()) {
            return Err(ctx.err(
                &format!("{field}.binary"),
                format!(
                    "expected one of {}, got {:?}",
                    SERVER_BINARIES.join(", "),
                    v.binary
                ),
            ));
        }
        if let Some(lib) = &v.preload {
            check_preload(&ctx, &format!("{field}.preload"), &v.binary, lib)?;
        }
        if v.package.is_some() && v.preload.is_none() {
            return Err(ctx.err(
                &format!("{field}.package"),
                "names the Debian package of the variant's preload: expected a `preload` beside it",
            ));
        }
    }
    if raw.variant.is_empty() {
        return Err(ctx.err("variant", "expected at least one [[variant]]"));
    }
    Ok(raw.variant)
}

/// The binary a preload may go on: the glibc build, whose malloc an `LD_PRELOAD`ed allocator
/// replaces. The jemalloc and mimalloc builds link their own: two allocators in one process.
pub const PRELOAD_BINARY: &str = "target-server-glibc";

/// A variant's `preload`: an absolute path, on the glibc build only. Whether the file exists is
/// checked before a run ([`Variant::unavailable`]): a library missing here skips that variant
/// and stops nothing else.
fn check_preload(ctx: &Ctx, field: &str, binary: &str, lib: &str) -> Result<(), ScenarioError> {
    let path = Path::new(lib);
    if !path.is_absolute() {
        return Err(ctx.err(
            field,
            format!("expected the absolute path of a shared library, got {lib:?}"),
        ));
    }
    if path.is_dir() {
        return Err(ctx.err(
            field,
            format!("expected a shared library file, got the directory {lib:?}"),
        ));
    }
    if binary != PRELOAD_BINARY {
        return Err(ctx.err(
            field,
            format!(
                "{binary} links its own allocator: a preload goes on {PRELOAD_BINARY} only (two allocators in one process), got {lib:?}"
            ),
        ));
    }
    Ok(())
}

/// An external target is run as it is: a variant can give it an environment and a preload,
/// but not a build of the toy server or the toy server's flags.
fn check_target_variants(ctx: &Ctx, variants: &[Variant]) -> Result<(), ScenarioError> {
    for v in variants {
        if v.binary != PRELOAD_BINARY || !v.args.is_empty() {
            return Err(ctx.err(
                "variants",
                format!(
                    "{:?} runs {} {}: a [target] scenario takes only variants of {PRELOAD_BINARY} without args (env and preload), such as glibc, glibc-arena2 or tcmalloc",
                    v.name,
                    v.binary,
                    if v.args.is_empty() { String::new() } else { format!("with args {:?}", v.args) },
                ),
            ));
        }
    }
    Ok(())
}

/// Checks `[target]` field by field; also gives the templates' texts, as read for the check.
fn target_spec(
    ctx: &Ctx,
    r: &RawTarget,
    scenario_path: &Path,
) -> Result<(TargetSpec, Vec<String>), ScenarioError> {
    let Some(program) = r.command.first() else {
        return Err(ctx.err(
            "target.command",
            "expected the command line as a list, such as [\"/usr/sbin/nginx\", \"-c\", \"{dir}/nginx.conf\"], got []",
        ));
    };
    if program.contains('{') {
        return Err(ctx.err(
            "target.command[0]",
            format!("expected the program itself, without placeholders, got {program:?}"),
        ));
    }
    if find_program(program).is_none() {
        return Err(ctx.err(
            "target.command[0]",
            format!(
                "{program:?} not found: expected an executable (an absolute path, or a name on PATH); the example servers are installed by `make servers`"
            ),
        ));
    }
    let dir = scenario_path.parent().unwrap_or(Path::new("."));
    let mut files = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (i, f) in r.files.iter().enumerate() {
        let field = format!("target.files[{i}]");
        let p = dir.join(f);
        let name = p.file_name().map(|n| n.to_string_lossy().to_string());
        match name.as_deref() {
            None => return Err(ctx.err(&field, format!("expected a file path, got {f:?}"))),
            Some("hot") => {
                return Err(ctx.err(
                    &field,
                    "`hot` is the hot file's name in the run's directory: rename the template",
                ))
            }
            Some(n) if !names.insert(n.to_string()) => {
                return Err(ctx.err(
                    &field,
                    format!(
                    "a second template named {n:?}: the run's directory holds one file per name"
                ),
                ))
            }
            Some(_) => {}
        }
        if !p.is_file() {
            return Err(ctx.err(
                &field,
                format!(
                    "expected a template file (relative to the scenario's directory), got {f:?}"
                ),
            ));
        }
        files.push(p);
    }
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
        .collect();
    if !r
        .command
        .iter()
        .chain(texts.iter())
        .any(|a| a.contains("{port}"))
    {
        return Err(ctx.err(
            "target.command",
            "{port} appears in neither the command nor its files: the target must listen on the loopback port the harness gives it",
        ));
    }
    let create_file = ctx.unit(
        "target.create_file",
        r.create_file.as_ref(),
        "3MiB",
        units::parse_size,
    )?;
    if create_file == 0 {
        return Err(ctx.err(
            "target.create_file",
            "expected a size above 0, such as \"3MiB\"",
        ));
    }
    let ready = match r.ready.as_deref().unwrap_or("http:/") {
        "http" => Readiness::Http("/".into()),
        v => match (v.strip_prefix("http:"), v.strip_prefix("stdout:")) {
            (Some(p), _) if p.starts_with('/') => Readiness::Http(p.to_string()),
            (_, Some(line)) if !line.is_empty() => Readiness::Stdout(line.to_string()),
            _ => {
                return Err(ctx.err(
                    "target.ready",
                    format!("expected \"http\", \"http:/PATH\" or \"stdout:TEXT\", got {v:?}"),
                ))
            }
        },
    };
    let ready_timeout = ctx.unit(
        "target.ready_timeout",
        r.ready_timeout.as_ref(),
        "10s",
        units::parse_duration,
    )?;
    if ready_timeout.is_zero() || ready_timeout > Duration::from_secs(600) {
        return Err(ctx.err(
            "target.ready_timeout",
            format!("expected between 1ms and 10min, got {ready_timeout:?}"),
        ));
    }
    let sample = match r.sample.as_deref().unwrap_or("process") {
        "process" => SampleScope::Process,
        "tree" => SampleScope::Tree,
        v => {
            return Err(ctx.err(
                "target.sample",
                format!("expected \"process\" or \"tree\", got {v:?}"),
            ))
        }
    };
    if let Some(s) = r.stats.as_deref().filter(|s| !s.starts_with('/')) {
        return Err(ctx.err(
            "target.stats",
            format!("expected a path such as \"/stats\", got {s:?}"),
        ));
    }
    let spec = TargetSpec {
        command: r.command.clone(),
        files,
        create_file,
        ready,
        ready_timeout,
        sample,
        stats: r.stats.clone(),
    };
    Ok((spec, texts))
}

/// `program` as an absolute path, or found on `PATH`.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let p = Path::new(program);
    if program.contains('/') {
        return p.is_file().then(|| p.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|c| c.is_file())
    })
}

fn names_of(vs: &[Variant]) -> String {
    vs.iter()
        .map(|v| v.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn positive<T: PartialOrd + Default + std::fmt::Display>(
    ctx: &Ctx,
    field: &str,
    v: T,
) -> Result<T, ScenarioError> {
    if v > T::default() {
        Ok(v)
    } else {
        Err(ctx.err(field, format!("expected a positive number, got {v}")))
    }
}

fn nonzero(ctx: &Ctx, field: &str, d: Duration) -> Result<Duration, ScenarioError> {
    if d.is_zero() {
        Err(ctx.err(field, "expected a duration above 0, got 0"))
    } else {
        Ok(d)
    }
}

/// Durations in records are seconds (a float), as every reader of the JSON expects.
pub mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}

fn server_spec(
    ctx: &Ctx,
    r: &RawServer,
    scenario_path: &Path,
) -> Result<ServerSpec, ScenarioError> {
    if r.file.is_some() && r.create_file.is_some() {
        return Err(ctx.err(
            "server.file",
            "give either server.file or server.create_file, not both",
        ));
    }
    let file = match &r.file {
        None => None,
        Some(f) => {
            let p = scenario_path.parent().unwrap_or(Path::new(".")).join(f);
            if !p.is_file() {
                return Err(ctx.err(
                    "server.file",
                    format!("expected an existing file, got {f:?}"),
                ));
            }
            Some(p)
        }
    };
    let create_file = ctx.unit(
        "server.create_file",
        r.create_file.as_ref(),
        "3MiB",
        units::parse_size,
    )?;
    if file.is_none() && create_file == 0 {
        return Err(ctx.err("server.create_file", "expected a size above 0, got 0"));
    }
    let io = r.io.clone().unwrap_or_else(|| "worker".into());
    if !["worker", "blocking", "pool"].contains(&io.as_str()) {
        return Err(ctx.err(
            "server.io",
            format!("expected \"worker\", \"blocking\" or \"pool\", got {io:?}"),
        ));
    }
    let io_threads = r.io_threads.unwrap_or(128);
    if !(1..=4096).contains(&io_threads) {
        return Err(ctx.err(
            "server.io_threads",
            format!("expected 1 to 4096 threads, got {io_threads}"),
        ));
    }
    let body = r.body.clone().unwrap_or_else(|| "buffered".into());
    if body != "buffered" && body != "streaming" {
        return Err(ctx.err(
            "server.body",
            format!("expected \"buffered\" or \"streaming\", got {body:?}"),
        ));
    }
    let byte_pool_low = r.byte_pool_low.unwrap_or(0.3);
    let byte_pool_high = r.byte_pool_high.unwrap_or(0.6);
    let ordered = (0.0..1.0).contains(&byte_pool_low)
        && byte_pool_low < byte_pool_high
        && byte_pool_high <= 1.0;
    if !ordered {
        return Err(ctx.err(
            "server.byte_pool_high",
            format!(
                "expected 0 <= byte_pool_low < byte_pool_high <= 1, got {byte_pool_low} and {byte_pool_high}"
            ),
        ));
    }
    let size_field = |name: &str, v: &Option<String>, default: &str| {
        positive(
            ctx,
            &format!("server.{name}"),
            ctx.unit(
                &format!("server.{name}"),
                v.as_ref(),
                default,
                units::parse_size,
            )?,
        )
    };
    let meta_size = ctx.unit(
        "server.meta_size",
        r.meta_size.as_ref(),
        "96-640",
        units::parse_size_range,
    )?;
    let egress_limit = match &r.egress_limit {
        None => None,
        Some(v) => Some(
            units::parse_byte_rate(v).map_err(|e| ctx.err("server.egress_limit", e.to_string()))?,
        ),
    };
    let hold = match &r.hold {
        None => None,
        Some(v) => {
            Some(units::parse_duration(v).map_err(|e| ctx.err("server.hold", e.to_string()))?)
        }
    };
    Ok(ServerSpec {
        file,
        create_file,
        workers: positive(ctx, "server.workers", r.workers.unwrap_or(4))?,
        io,
        blocking_threads: positive(
            ctx,
            "server.blocking_threads",
            r.blocking_threads.unwrap_or(512),
        )?,
        meta_every: r.meta_every.unwrap_or(16),
        meta_size,
        meta_churn: ctx.unit(
            "server.meta_churn",
            r.meta_churn.as_ref(),
            "0/s",
            units::parse_rate,
        )?,
        egress_limit,
        hold,
        max_inflight: r.max_inflight.unwrap_or(0),
        queue_timeout: ctx.unit(
            "server.queue_timeout",
            r.queue_timeout.as_ref(),
            "5s",
            units::parse_duration,
        )?,
        max_range: positive(
            ctx,
            "server.max_range",
            ctx.unit(
                "server.max_range",
                r.max_range.as_ref(),
                "8MiB",
                units::parse_size,
            )?,
        )?,
        io_threads,
        rpc_pool_objects: r.rpc_pool_objects.unwrap_or(0),
        rpc_object_size: size_field("rpc_object_size", &r.rpc_object_size, "64KiB")?,
        byte_pool: r.byte_pool.unwrap_or(0),
        byte_pool_buffer: size_field("byte_pool_buffer", &r.byte_pool_buffer, "1MiB")?,
        byte_pool_low,
        byte_pool_high,
        body,
        chunk: size_field("chunk", &r.chunk, "64KiB")?,
        args: r.args.clone(),
    })
}

fn load_spec(ctx: &Ctx, r: &RawLoad) -> Result<LoadSpec, ScenarioError> {
    let path = r.path.clone().unwrap_or_else(|| "/file/hot".into());
    if !path.starts_with('/') {
        return Err(ctx.err(
            "load.path",
            format!("expected a path starting with '/', got {path:?}"),
        ));
    }
    let range = ctx.unit(
        "load.range",
        r.range.as_ref(),
        "0-1048575",
        units::parse_size_range,
    )?;
    let processes = positive(ctx, "load.processes", r.processes.unwrap_or(4))?;
    let connections = positive(ctx, "load.connections", r.connections.unwrap_or(64))?;
    if connections < processes {
        return Err(ctx.err(
            "load.connections",
            format!(
                "expected at least one connection per process ({processes}), got {connections}"
            ),
        ));
    }
    let rate = match r.rate.as_deref() {
        None | Some("max") => None,
        Some(v) => {
            let rate =
                units::parse_rate(v).map_err(|e| ctx.err("load.rate", format!("{e} or max")))?;
            Some(positive(ctx, "load.rate", rate)?)
        }
    };
    let mut steps = Vec::new();
    for (i, st) in r.steps.iter().flatten().enumerate() {
        let field = format!("load.steps[{i}]");
        if rate.is_none() {
            return Err(ctx.err(
                &field,
                "rate steps need an open-loop load.rate (requests per second), not max",
            ));
        }
        let at = match st.at.trim().strip_suffix('%') {
            Some(pct) => match pct.trim().parse::<f64>() {
                Ok(p) if p > 0.0 && p < 100.0 => StepAt::Fraction(p / 100.0),
                _ => {
                    return Err(ctx.err(
                        &format!("{field}.at"),
                        format!(
                            "expected a percentage of the during phase between 0% and 100%, or a duration, got {:?}",
                            st.at
                        ),
                    ))
                }
            },
            None => StepAt::After(
                units::parse_duration(&st.at)
                    .map_err(|e| ctx.err(&format!("{field}.at"), format!("{e} or a percentage")))?,
            ),
        };
        let r = units::parse_rate(&st.rate)
            .map_err(|e| ctx.err(&format!("{field}.rate"), e.to_string()))?;
        steps.push(RateStep {
            at,
            rate: positive(ctx, &format!("{field}.rate"), r)?,
        });
    }
    Ok(LoadSpec {
        steps,
        path,
        range,
        processes,
        connections,
        rate,
        timeout: nonzero(
            ctx,
            "load.timeout",
            ctx.unit(
                "load.timeout",
                r.timeout.as_ref(),
                "3s",
                units::parse_duration,
            )?,
        )?,
        retries: r.retries.unwrap_or(0),
        backoff: ctx.unit(
            "load.backoff",
            r.backoff.as_ref(),
            "100ms",
            units::parse_duration,
        )?,
    })
}

struct PhaseDefaults {
    warmup: Duration,
    before: Duration,
    during: Duration,
    drain: Duration,
    nudge: Duration,
    release: Duration,
    warmup_rate: f64,
    nudge_rate: f64,
}

impl PhaseDefaults {
    const FULL: PhaseDefaults = PhaseDefaults {
        warmup: Duration::from_secs(2),
        before: Duration::from_secs(3),
        during: Duration::from_secs(30),
        drain: Duration::from_secs(15),
        nudge: Duration::ZERO,
        release: Duration::ZERO,
        warmup_rate: 20.0,
        nudge_rate: 5.0,
    };

    /// Quick defaults: a quarter of each phase, with floors that keep every figure defined
    /// (B and A are medians over a phase's last second).
    fn quick(full: &PhaseSpec) -> PhaseDefaults {
        let q = |d: Duration, floor: u64| {
            if d.is_zero() {
                d
            } else {
                (d / 4).max(Duration::from_millis(floor)).min(d)
            }
        };
        PhaseDefaults {
            warmup: q(full.warmup, 500),
            before: q(full.before, 1500),
            during: q(full.during, 3000),
            drain: q(full.drain, 2000),
            nudge: q(full.nudge, 1000),
            release: q(full.release, 1000),
            warmup_rate: full.warmup_rate,
            nudge_rate: full.nudge_rate,
        }
    }
}

fn phase_spec(
    ctx: &Ctx,
    table: &str,
    r: &RawPhases,
    d: &PhaseDefaults,
) -> Result<PhaseSpec, ScenarioError> {
    let dur =
        |name: &str, v: &Option<String>, default: Duration| -> Result<Duration, ScenarioError> {
            let field = format!("{table}.{name}");
            match v {
                None => Ok(default),
                Some(s) => units::parse_duration(s).map_err(|e| ctx.err(&field, e.to_string())),
            }
        };
    let rate = |name: &str, v: &Option<String>, default: f64| -> Result<f64, ScenarioError> {
        match v {
            None => Ok(default),
            Some(s) => {
                units::parse_rate(s).map_err(|e| ctx.err(&format!("{table}.{name}"), e.to_string()))
            }
        }
    };
    let p = PhaseSpec {
        warmup: dur("warmup", &r.warmup, d.warmup)?,
        warmup_rate: rate("warmup_rate", &r.warmup_rate, d.warmup_rate)?,
        before: dur("before", &r.before, d.before)?,
        during: dur("during", &r.during, d.during)?,
        drain: dur("drain", &r.drain, d.drain)?,
        nudge: dur("nudge", &r.nudge, d.nudge)?,
        nudge_rate: rate("nudge_rate", &r.nudge_rate, d.nudge_rate)?,
        release: dur("release", &r.release, d.release)?,
    };
    // B and A are medians over the last second of their phase: shorter phases cannot give them.
    for (name, v, min) in [
        ("before", p.before, Duration::from_secs(1)),
        ("during", p.during, Duration::from_secs(1)),
        ("drain", p.drain, Duration::from_secs(1)),
    ] {
        if v < min {
            return Err(ctx.err(
                &format!("{table}.{name}"),
                format!("expected at least {}s (figures are medians over a phase's last second), got {:?}", min.as_secs(), v),
            ));
        }
    }
    let total = p.warmup + p.before + p.during + p.drain + p.nudge + p.release;
    if total > Duration::from_secs(6 * 3600) {
        return Err(ctx.err(
            table,
            format!("phases add up to {total:?}: expected at most 6h"),
        ));
    }
    Ok(p)
}

fn check_gate(ctx: &Ctx, gate: &toml::Table, variants: &[String]) -> Result<(), ScenarioError> {
    let names: Vec<&str> = variants.iter().map(String::as_str).collect();
    crate::gate::config::parse(Some(gate), Some(&names))
        .map(|_| ())
        .map_err(|e| ctx.err(&e.field, e.message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ignores_gate_comments_and_layout_but_not_settings() {
        let base = "name = \"x\"\n[load]\nrate = \"400/s\"\n";
        let v = "[[variant]]\nname = \"glibc\"\nbinary = \"target-server-glibc\"\n";
        let h = scenario_hash(base, v, &[]);
        let with_gate =
            format!("# a comment\n{base}\n[gate.variants.glibc]\nmin_retention = 0.4\n");
        assert_eq!(scenario_hash(&with_gate, v, &[]), h);
        assert_ne!(scenario_hash(&base.replace("400", "300"), v, &[]), h);
        assert_ne!(
            scenario_hash(base, &v.replace("glibc\"\nbinary", "glibc2\"\nbinary"), &[]),
            h
        );
    }
}
