//! Scenario files (TOML): what to run, how hard, for how long, and the gate budgets.
//!
//! A file is read by serde into [`raw`] structs of strings as people write them (`3MiB`, `20s`,
//! `400/s`), then each section is checked by its own module into typed values; every error is
//! one line naming the file, the field, the value and what was expected ([`error`]). Checks of
//! the filesystem and `PATH` are [`preflight`]'s; the hash that baselines key on is [`hash`]'s.
//!
//! - [`variants`]: `variants.toml`, the allocator builds.
//! - [`server`]: `[server]`, the toy server's settings (the server's own [`ServerConfig`]).
//! - [`target`]: `[target]`, a server of the user's own.
//! - [`remote`]: `[remote]`, load workers on other hosts.
//! - [`load`]: `[load]`, the load plan; [`mix`]: its `[[load.request]]` mix; [`tool`]: `[load] command`, the scenario's own load tool. [`phases`]: `[phases]`, `[quick]`, `[sampling]`.
//! - [`sweep`]: `[sweep]`, one server setting over several values.
//! - [`report`]: `[report]`, extra series.
//! - [`cost`]: `[cost]`, the price of each fix (capacity and latency without the egress cap).
//! - [`network`]: `[network]`, the lab of namespaces and a shaped link (made by `netlab`).
//!
//! [`ServerConfig`]: allocstorm_core::server::ServerConfig

mod cost;
mod error;
pub mod gate;
mod hash;
mod load;
mod mix;
mod network;
mod phases;
mod preflight;
mod raw;
mod remote;
mod report;
mod server;
mod sweep;
pub mod target;
pub mod tool;
mod variants;

use std::path::{Path, PathBuf};

use allocstorm_core::units;
use serde::Serialize;

pub use cost::{CostSpec, MemoryBudget};
pub use error::ScenarioError;
pub use load::{LoadSpec, RateStep, StepAt};
pub use network::{NetworkSpec, LAB_SERVER_IP, TCP_WMEM_DEFAULT};
pub use phases::{observed_quiet, secs, PhaseSpec, SamplingSpec, QUIET_PHASES, STATS_IN_DEFAULT};
pub use remote::RemoteSpec;
pub use report::{ReportSpec, SeriesKind, SeriesSpec, SeriesUnit};
pub use server::ServerSpec;
pub use sweep::{Case, SweepSpec};
pub use target::{Readiness, SampleScope, TargetSpec, TARGET_PLACEHOLDERS};
pub use tool::find_program;
pub use tool::{Exits, FigureKey, FigureSource, ToolSpec};
pub use variants::{parse_variants, SweepPoint, Variant, PRELOAD_BINARY, SERVER_BINARIES};

use error::{toml_error, Ctx};
use phases::PhaseDefaults;
use raw::RawScenario;

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
    /// `[cost]`: capacity and latency per variant after its memory run; `None` when off.
    pub cost: Option<CostSpec>,
    /// `[remote]`: every load from workers on other hosts; `None`: local worker processes.
    pub remote: Option<RemoteSpec>,
    /// `[target]`: the user's own server instead of the toy server (`server` then holds the
    /// defaults and is not used).
    pub target: Option<TargetSpec>,
    /// `[network]`: the run goes over a lab of namespaces and a shaped link, not loopback.
    pub network: Option<NetworkSpec>,
}

impl Scenario {
    /// Loads a scenario and its variants file (`variants.toml` beside it unless the scenario
    /// names another).
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = read(&file, path, "cannot read")?;
        let raw: RawScenario = toml::from_str(&text).map_err(|e| toml_error(&file, &text, &e))?;
        let ctx = Ctx { file: &file };
        check_name(&ctx, &raw.name)?;

        let vpath = path
            .parent()
            .unwrap_or(Path::new("."))
            .join(raw.variants_file.as_deref().unwrap_or("variants.toml"));
        let vfile = vpath.display().to_string();
        let vtext = read(&vfile, &vpath, "cannot read the variants file")?;
        let all = parse_variants(&vfile, &vtext)?;
        preflight::preloads(&Ctx { file: &vfile }, &all)?;
        let variants = variants::select(&ctx, &all, raw.variants.as_deref())?;

        let server_table = raw.server.clone().unwrap_or_default();
        let server = server::server_spec(&ctx, &server_table, path)?;
        preflight::server_file(&ctx, &server)?;
        let target = match &raw.target {
            None => None,
            Some(t) => {
                target::check_sections(&ctx, &raw)?;
                variants::check_target_variants(&ctx, &variants)?;
                Some(target::target_spec(&ctx, t, path)?)
            }
        };
        // A target's templates shape its runs as much as the scenario does: hashed with it.
        let templates = match &target {
            Some(t) => preflight::target(&ctx, t)?,
            None => Vec::new(),
        };
        let hash = hash::scenario_hash(&text, &vtext, &templates);

        let load = load::load_spec(&ctx, &raw.load, path, raw.seed)?;
        match (&target, &server.file) {
            (Some(t), _) => {
                load::check_range_in_file(&ctx, &load, "target.create_file", t.create_file)?
            }
            (None, None) => {
                load::check_range_in_file(&ctx, &load, "server.create_file", server.create_file)?
            }
            (None, Some(_)) => {}
        }
        let phases = phases::phase_spec(&ctx, "phases", &raw.phases, &PhaseDefaults::FULL)?;
        // --quick keeps the shape (every phase the full run has) and shortens each.
        let quick_phases =
            phases::phase_spec(&ctx, "quick", &raw.quick, &PhaseDefaults::quick(&phases))?;
        if let Some(t) = &target {
            target::check_phases_and_series(
                &ctx,
                t,
                [("phases", &phases), ("quick", &quick_phases)],
                &raw.report,
            )?;
        }
        load::check_steps(
            &ctx,
            &load.steps,
            &[("phases", &phases), ("quick", &quick_phases)],
        )?;
        let (sweep, cases) = match &raw.sweep {
            None => (None, vec![Case::unswept(&server)]),
            Some(sw) => {
                let (spec, cases) = sweep::sweep_cases(&ctx, sw, &server_table, path)?;
                (Some(spec), cases)
            }
        };
        if let Some(t) = &load.tool {
            tool::check_phases(&ctx, t, &phases)?;
            tool::check_scope(&ctx, raw.remote.is_some(), raw.network.is_some())?;
        }
        let memory_limit = memory_limit(&ctx, raw.limits.memory.as_deref())?;
        report::check_series(&ctx, &raw.report.series)?;
        let sampling = phases::sampling_spec(&ctx, &raw.sampling)?;
        let cost = cost::cost_spec(&ctx, raw.cost.as_ref())?;
        if let Some(c) = &cost {
            cost::check_scope(&ctx, c, &all, target.is_some(), raw.sweep.is_some())?;
        }
        let remote = remote::remote_spec(&ctx, raw.remote.as_ref())?;
        let network = network::network_spec(&ctx, raw.network.as_ref())?;
        if let Some(net) = &network {
            network::check_with_remote(&ctx, net, remote.as_ref())?;
        }
        if remote.is_some() {
            remote::check_scope(&ctx, cost.is_some(), target.is_some())?;
        }
        if let Some(gate) = &raw.gate {
            // Budgets may name a variant of variants.toml or one point of the sweep.
            let mut names: Vec<String> = all.iter().map(|v| v.name.clone()).collect();
            for v in &all {
                for c in &cases {
                    names.push(sweep::case_variant(v, sweep.as_ref(), c).name);
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
            cost,
            remote,
            target,
            network,
        })
    }

    /// The variant that runs `case`: `v` itself, or for a sweep point a copy named
    /// `glibc@threads=8` that knows its base and point.
    pub fn case_variant(&self, v: &Variant, case: &Case) -> Variant {
        sweep::case_variant(v, self.sweep.as_ref(), case)
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

    /// The server's command line for one case of this scenario: on loopback, or with
    /// `[remote]` on the IP its workers reach.
    pub fn server_args_for(&self, s: &ServerSpec) -> Vec<String> {
        match &self.remote {
            Some(r) => s.command_line_on(self.seed, r.listen.ip()),
            None => s.command_line(self.seed),
        }
    }
}

fn read(file: &str, path: &Path, what: &str) -> Result<String, ScenarioError> {
    std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: file.to_string(),
        field: String::new(),
        message: format!("{what}: {e}"),
    })
}

/// The longest scenario `name`: it becomes a directory name (`reports/<date>-<name>`) and a
/// Kubernetes object prefix, both bounded.
pub const MAX_NAME_LEN: usize = 64;

/// Whether `name` can be a scenario name: one path component that is neither hidden nor `..`
/// (letters, digits, `.`, `_`, `-`, not starting with `.`), at most [`MAX_NAME_LEN`] bytes. The
/// name becomes the report directory's, so a `/` or a `..` would write the report elsewhere.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn check_name(ctx: &Ctx, name: &str) -> Result<(), ScenarioError> {
    if is_valid_name(name) {
        return Ok(());
    }
    Err(ctx.err(
        "name",
        format!("expected 1 to {MAX_NAME_LEN} of [A-Za-z0-9._-], not starting with '.' (it names the report directory), got {name:?}"),
    ))
}

/// `[limits] memory`: the harness SIGKILLs a server above it.
fn memory_limit(ctx: &Ctx, v: Option<&str>) -> Result<Option<u64>, ScenarioError> {
    let Some(v) = v else { return Ok(None) };
    let b = units::parse_size(v).map_err(|e| ctx.err("limits.memory", e.to_string()))?;
    if b < 16 << 20 {
        return Err(ctx.err(
            "limits.memory",
            format!("expected at least 16MiB (a server needs that to start), got {v:?}"),
        ));
    }
    Ok(Some(b))
}

fn check_gate(ctx: &Ctx, gate: &toml::Table, variants: &[String]) -> Result<(), ScenarioError> {
    let names: Vec<&str> = variants.iter().map(String::as_str).collect();
    gate::parse(Some(gate), Some(&names))
        .map(|_| ())
        .map_err(|e| ctx.err(&e.field, e.message))
}
