//! The command line: subcommands, their arguments, and the exit-code contract: the codes of
//! [`Exit::ALL`], and the ones each command ends with ([`EXITS`]), which its `--help` lists.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::export::ExportTo;
use crate::load;
use crate::provenance::Environment;
use crate::record::dir::ReportDir;
use crate::record::RunStatus;
use crate::run::{run_variant, RunRequest, RunSettings};
use crate::scenario::{Scenario, Variant};
use allocstorm_core::Exit;

#[derive(Debug, Parser)]
#[command(
    name = "allocstorm",
    version = version(),
    about = "Reproducible load-test harness for memory-allocator behaviour",
    after_help = Exit::help(&Exit::ALL)
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one variant of a scenario once: phases, sampling, record.
    #[command(after_help = exit_help("run"))]
    Run(RunArgs),
    /// Run every variant N times, interleaved, then write summary.json, plots and report.md.
    #[command(after_help = exit_help("compare"))]
    Compare(CompareArgs),
    /// Render summary.json, plots and report.md again from a directory's run records, or
    /// merge the directories of a comparison's shards into one report (--out).
    #[command(after_help = exit_help("report"))]
    Report(ReportArgs),
    /// Write a report directory's figures for a dashboard: Bencher (bmf), github-action-benchmark
    /// (github-benchmark, github-benchmark-bigger) or Prometheus (openmetrics); docs/exports.md.
    #[command(after_help = exit_help("export"))]
    Export(crate::export::ExportArgs),
    /// Gate a report directory on RSS after drain: the scenario's budgets and a stored
    /// baseline.
    Gate(crate::gate::GateArgs),
    /// What the selected variants need on this machine: each preload library, the Debian
    /// package that ships it, and whether it is installed. `scripts/deps.sh --scenario`
    /// installs what `--missing` prints.
    #[command(after_help = exit_help("deps"))]
    Deps(DepsArgs),
    /// Kubernetes manifests (YAML, on stdout) that run a `[remote]` scenario's comparison on a
    /// cluster: the coordinator's Job and headless Service, an Indexed Job of load workers,
    /// the token's Secret and the scenario's ConfigMap (docs/cluster.md).
    #[command(after_help = exit_help("manifests"))]
    Manifests(crate::manifests::ManifestsArgs),
    /// The multi-process hot-key HTTP client, usable on its own.
    #[command(after_help = exit_help("load"))]
    Load(load::LoadArgs),
    /// One load worker: `load` starts its own; on another host, `--connect` joins the
    /// coordinator of a `[remote]` scenario's run or comparison (docs/remote.md).
    #[command(after_help = exit_help("load-worker"))]
    LoadWorker(load::WorkerArgs),
    /// The process between the harness and an external target (started by `run` itself).
    #[command(hide = true)]
    TargetGuard(crate::server::guard::GuardArgs),
    /// Removes a `[network]` lab when its coordinator ends (started by `run` itself).
    #[command(hide = true)]
    NetlabReaper(crate::netlab::reaper::ReaperArgs),
}

/// The exit codes each command ends with: its `--help` lists them (the gate's with the gate's
/// meanings: [`crate::gate::help`]), docs/cli.md's table by command marks the others `—`.
pub const EXITS: [(&str, &[Exit]); 9] = [
    ("compare", &Exit::ALL),
    (
        "run",
        &[Exit::Ok, Exit::Failed, Exit::Error, Exit::Interrupted],
    ),
    ("report", &[Exit::Ok, Exit::Error]),
    ("export", &[Exit::Ok, Exit::Error]),
    (
        "gate",
        &[Exit::Ok, Exit::Failed, Exit::Error, Exit::Incomplete],
    ),
    ("deps", &[Exit::Ok, Exit::Error, Exit::Incomplete]),
    ("manifests", &[Exit::Ok, Exit::Error]),
    ("load", &[Exit::Ok, Exit::Error]),
    ("load-worker", &[Exit::Ok, Exit::Error]),
];

/// The exit codes of `command` ([`EXITS`]).
pub fn exits(command: &str) -> &'static [Exit] {
    EXITS
        .iter()
        .find(|(name, _)| *name == command)
        .map(|(_, codes)| *codes)
        .unwrap_or_else(|| panic!("{command}: not in cli::EXITS"))
}

/// The `Exit codes:` list of `command`'s `--help`.
fn exit_help(command: &str) -> String {
    Exit::help(exits(command))
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML), e.g. scenarios/hot-range.toml.
    #[arg(long)]
    pub scenario: PathBuf,
    /// Variant name from the scenario's variants file, e.g. glibc-mmap64k.
    #[arg(long)]
    pub variant: String,
    /// Output directory [default: reports/<date>-<time>-<scenario>/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Shorter phases with the same shape, for CI and first runs.
    #[arg(long)]
    pub quick: bool,
    /// How often to read /proc/<pid>/status [default: the scenario's, 50ms].
    #[arg(long, value_parser = duration)]
    pub sample_interval: Option<Duration>,
    /// The run's number n in runs/<variant>-<n>.json.
    #[arg(long, default_value_t = 1)]
    pub run_index: u32,
    /// SIGKILL the server when its VmRSS crosses this (e.g. 512MiB) and record the run as
    /// `oom` [default: the scenario's [limits] memory, or none].
    #[arg(long, value_parser = size)]
    pub memory_limit: Option<u64>,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Scenario file (TOML), e.g. scenarios/hot-range.toml.
    #[arg(long)]
    pub scenario: PathBuf,
    /// Variants to run: `all`, or names separated by commas (glibc,jemalloc-bg).
    #[arg(long, default_value = "all")]
    pub variants: String,
    /// Runs per variant; the report shows medians and the spread.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub runs: u32,
    /// This comparison is shard I of N (1-based), one machine's part of a comparison fanned
    /// out over N machines: every variant, interleaved, --runs times, numbered
    /// (I-1)*RUNS+1..I*RUNS. `allocstorm report DIR... --out DIR` merges the shards.
    #[arg(long, value_name = "I/N", value_parser = crate::shard::Shard::parse)]
    pub shard: Option<crate::shard::Shard>,
    /// Shorter phases with the same shape, for CI and first runs.
    #[arg(long)]
    pub quick: bool,
    /// Output directory [default: reports/<date>-<time>-<scenario>/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// How often to read /proc/<pid>/status [default: the scenario's, 50ms].
    #[arg(long, value_parser = duration)]
    pub sample_interval: Option<Duration>,
    /// SIGKILL a server whose VmRSS crosses this (e.g. 512MiB) and record its run as `oom`
    /// [default: the scenario's [limits] memory, or none].
    #[arg(long, value_parser = size)]
    pub memory_limit: Option<u64>,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
    /// Also write the figures in format F to PATH, after the report (repeatable): bmf,
    /// github-benchmark, github-benchmark-bigger, openmetrics (docs/exports.md).
    #[arg(long = "export", value_name = "F=PATH", value_parser = ExportTo::parse)]
    pub exports: Vec<ExportTo>,
}

#[derive(Debug, clap::Args)]
pub struct DepsArgs {
    /// Scenario file (TOML), e.g. scenarios/hot-range.toml.
    #[arg(long)]
    pub scenario: PathBuf,
    /// Variants: `all`, or names separated by commas.
    #[arg(long, default_value = "all")]
    pub variants: String,
    /// Print only the Debian packages of the missing libraries, one per line (for scripts).
    #[arg(long)]
    pub missing: bool,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A directory written by `allocstorm compare` or `run` (it holds runs/); several: the
    /// shards of one comparison (`compare --shard I/N`), measured under the same key.
    #[arg(value_name = "DIR", required = true, num_args = 1..)]
    pub dirs: Vec<PathBuf>,
    /// Where the merged report goes (required with several DIRs): their run files are copied
    /// into OUT/runs/, which must be new or empty, and the report is rendered there.
    #[arg(long, value_name = "OUT")]
    pub out: Option<PathBuf>,
    /// Also write the figures in format F to PATH (repeatable): bmf, github-benchmark,
    /// github-benchmark-bigger, openmetrics (docs/exports.md).
    #[arg(long = "export", value_name = "F=PATH", value_parser = ExportTo::parse)]
    pub exports: Vec<ExportTo>,
}

/// `--version`: the version, and the container it runs in, if any (a figure measured in a
/// container is not the host's; the same goes into every record's provenance).
fn version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| match crate::provenance::container() {
        Some(c) => format!("{} (in a {c} container)", env!("CARGO_PKG_VERSION")),
        None => env!("CARGO_PKG_VERSION").to_string(),
    })
}

fn size(s: &str) -> Result<u64, String> {
    let b = allocstorm_core::units::parse_size(s).map_err(|e| e.to_string())?;
    if b < 16 << 20 {
        return Err(format!("expected at least 16MiB, got {s:?}"));
    }
    Ok(b)
}

fn duration(s: &str) -> Result<Duration, String> {
    let d = allocstorm_core::units::parse_duration(s).map_err(|e| e.to_string())?;
    if d < Duration::from_millis(1) {
        return Err(format!("expected at least 1ms, got {s:?}"));
    }
    Ok(d)
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let cli = match cli.command {
        // Synchronous, and without a runtime of its own: it only waits.
        Command::TargetGuard(args) => return crate::server::guard::main(args),
        // Synchronous: it only reads the scenario and prints.
        Command::Manifests(args) => return crate::manifests::main(args),
        Command::NetlabReaper(args) => return crate::netlab::reaper::main(args),
        // Synchronous: it only reads a report directory.
        Command::Export(args) => return crate::export::main(&args),
        command => Cli { command },
    };
    // [network]: the lab is made and this thread enters its server's namespace before the
    // runtime starts, so every thread, the server and the listener are made there. Dropped
    // (the lab removed) after the runtime.
    let lab = match &cli.command {
        Command::Run(RunArgs { scenario, .. }) | Command::Compare(CompareArgs { scenario, .. }) => {
            match crate::netlab::for_run(scenario) {
                Ok(lab) => lab,
                Err(e) => return fail(e),
            }
        }
        _ => None,
    };
    // One thread: children are spawned from the thread that lives as long as the process, so
    // their parent-death signal fires only when allocstorm really dies.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("allocstorm: cannot start the runtime: {e}");
            return Exit::Error.into();
        }
    };
    let local = tokio::task::LocalSet::new();
    let code = local.block_on(&rt, async move {
        if matches!(cli.command, Command::Run(_) | Command::Compare(_)) {
            // The first Ctrl-C ends the run in progress and keeps what it measured; a second
            // one, while that is written, exits at once (children die with us).
            tokio::task::spawn_local(async {
                crate::run::ctrl_c().await;
                crate::run::ctrl_c().await;
                eprintln!("allocstorm: interrupted again: exiting without finishing the report");
                std::process::exit(Exit::Interrupted.code().into());
            });
        }
        match cli.command {
            Command::Run(args) => run_cmd(args).await,
            Command::Compare(args) => compare_cmd(args).await,
            Command::Report(args) => merge_cmd(&args),
            Command::Deps(args) => deps_cmd(&args),
            Command::Gate(args) => crate::gate::gate_main(args),
            Command::Load(args) => load::cli_main(args).await,
            Command::LoadWorker(args) => load::worker_main(args).await,
            Command::TargetGuard(_)
            | Command::Manifests(_)
            | Command::NetlabReaper(_)
            | Command::Export(_) => {
                unreachable!("handled before the runtime starts")
            }
        }
    });
    drop(local);
    drop(rt);
    drop(lab);
    code
}

/// The default report directory: `reports/<date>-<time>-<scenario>/`.
pub fn default_out_dir(scenario: &str) -> PathBuf {
    PathBuf::from("reports").join(format!(
        "{}-{}",
        crate::clock::utc_compact(std::time::SystemTime::now()),
        crate::record::one_component(scenario)
    ))
}

/// The options `run` and `compare` share, as given; [`SettingsArgs::settings`] completes them
/// from the scenario and the machine into the one [`RunSettings`] of the invocation.
struct SettingsArgs {
    out: Option<PathBuf>,
    quick: bool,
    sample_interval: Option<Duration>,
    memory_limit: Option<u64>,
    quiet: bool,
    shard: Option<crate::shard::Shard>,
}

impl SettingsArgs {
    /// `Err` is the exit code, after the one line that says what was wrong.
    fn settings(self, scenario: &Scenario) -> Result<RunSettings, ExitCode> {
        let out = self.out.unwrap_or_else(|| default_out_dir(&scenario.name));
        let bin_dir = crate::child::exe_dir()
            .map_err(|e| fail(format!("cannot find the allocstorm executable: {e}")))?;
        let environment = Environment::collect();
        let remote = crate::run::coordinator(scenario, !self.quiet).map_err(fail)?;
        Ok(RunSettings {
            dir: ReportDir::new(out),
            quick: self.quick,
            sample_interval: self.sample_interval.unwrap_or(scenario.sampling.interval),
            memory_limit: self.memory_limit.or(scenario.memory_limit),
            bin_dir,
            environment,
            show_progress: !self.quiet,
            shard: self.shard,
            remote,
        })
    }
}

async fn run_cmd(args: RunArgs) -> ExitCode {
    let scenario = match Scenario::load(&args.scenario) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let all: Vec<&Variant> = scenario.variants.iter().collect();
    let runnable = crate::compare::expand(&scenario, &all);
    let Some((variant, case)) = runnable.iter().find(|(v, _)| v.name == args.variant) else {
        let names: Vec<&str> = runnable.iter().map(|(v, _)| v.name.as_str()).collect();
        return fail(format!(
            "--variant {:?}: not a variant of {}: expected one of {}",
            args.variant,
            scenario.path.display(),
            names.join(", ")
        ));
    };
    if let Some(why) = variant.unavailable() {
        return fail(format!(
            "--variant {}: cannot run here: {why}",
            variant.name
        ));
    }
    let options = SettingsArgs {
        out: args.out,
        quick: args.quick,
        sample_interval: args.sample_interval,
        memory_limit: args.memory_limit,
        quiet: args.quiet,
        shard: None,
    };
    let settings = match options.settings(&scenario) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let req = RunRequest {
        settings: &settings,
        scenario: &scenario,
        variant,
        server: &case.server,
        run_index: args.run_index,
        latency_rate: None,
    };
    match run_variant(req, crate::run::ctrl_c()).await {
        Ok(rec) if rec.interrupted() => Exit::Interrupted.into(),
        Ok(rec) => {
            let json = settings.dir.record(&variant.name, args.run_index);
            eprintln!("record: {}", json.display());
            if let (Some(t), false) = (&rec.timings, args.quiet) {
                eprintln!("{}", t.said(&format!("{}, `timings`", json.display())));
            }
            match rec.status {
                RunStatus::Ok => ExitCode::from(Exit::Ok),
                RunStatus::Failed => {
                    eprintln!(
                        "allocstorm: run failed: {}",
                        rec.failure.as_deref().unwrap_or("unknown")
                    );
                    Exit::Failed.into()
                }
                RunStatus::Interrupted => Exit::Interrupted.into(),
                RunStatus::Skipped => Exit::Incomplete.into(),
                // A measured outcome under the limit the user set, not a harness failure.
                RunStatus::Oom => {
                    eprintln!(
                        "allocstorm: run ended oom: {}",
                        rec.failure.as_deref().unwrap_or("unknown")
                    );
                    ExitCode::from(Exit::Ok)
                }
            }
        }
        Err(e) => fail(e),
    }
}

/// The scenario of `--scenario` and the variants of it `--variants` selects (`compare`, `deps`);
/// `Err` is the exit code, after the one line that says what was wrong.
fn scenario_and_variants(
    path: &std::path::Path,
    variants: &str,
) -> Result<(Scenario, Vec<Variant>), ExitCode> {
    let scenario = Scenario::load(path).map_err(fail)?;
    let selected = crate::compare::select_variants(&scenario, Some(variants)).map_err(fail)?;
    let selected = selected.into_iter().cloned().collect();
    Ok((scenario, selected))
}

async fn compare_cmd(args: CompareArgs) -> ExitCode {
    let started = std::time::Instant::now();
    let (scenario, variants) = match scenario_and_variants(&args.scenario, &args.variants) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let options = SettingsArgs {
        out: args.out,
        quick: args.quick,
        sample_interval: args.sample_interval,
        memory_limit: args.memory_limit,
        quiet: args.quiet,
        shard: args.shard,
    };
    let settings = match options.settings(&scenario) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let req = crate::compare::CompareRequest {
        settings: &settings,
        scenario: &scenario,
        variants: variants.iter().collect(),
        runs: args.runs,
    };
    let setup_s = started.elapsed().as_secs_f64();
    let outcome = match crate::compare::compare(req).await {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let runs_end = started.elapsed().as_secs_f64();
    // Whatever happened to single runs, what was measured is reported.
    let report = report_cmd(settings.dir.path(), &args.exports);
    let total_s = started.elapsed().as_secs_f64();
    let spans = crate::compare::Spans {
        setup_s,
        runs_s: runs_end - setup_s,
        report_s: total_s - runs_end,
        total_s,
    };
    let timings = crate::compare::timings(&outcome.records, &spans);
    if let Err(e) = crate::compare::say_timings(settings.dir.path(), &timings, args.quiet) {
        return fail(e);
    }
    if outcome.interrupted {
        return Exit::Interrupted.into();
    }
    if report != ExitCode::from(Exit::Ok) {
        return report;
    }
    // `oom` under the scenario's memory limit is an outcome measured (incident 004's), not a
    // failure of the run.
    if outcome.records.iter().any(|r| {
        !matches!(
            r.status,
            RunStatus::Ok | RunStatus::Oom | RunStatus::Skipped
        )
    }) {
        eprintln!("allocstorm: some runs failed; see the report");
        return Exit::Failed.into();
    }
    let skipped = outcome.skipped();
    if !skipped.is_empty() {
        eprintln!(
            "allocstorm: incomplete: {} skipped (cannot run here; see the report for why and the fix), every other variant measured",
            skipped.join(", ")
        );
        return Exit::Incomplete.into();
    }
    ExitCode::from(Exit::Ok)
}

fn deps_cmd(args: &DepsArgs) -> ExitCode {
    let (_, variants) = match scenario_and_variants(&args.scenario, &args.variants) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut missing = false;
    let mut out = String::new();
    for v in variants {
        let Some(lib) = &v.preload else {
            if !args.missing {
                out.push_str(&format!("{:<18} nothing to install (built in)\n", v.name));
            }
            continue;
        };
        let absent = v.unavailable().is_some();
        missing |= absent;
        let package = v.package.as_deref().unwrap_or("");
        if args.missing {
            if absent && !package.is_empty() {
                out.push_str(&format!("{package}\n"));
            }
        } else {
            let state = if absent { "MISSING" } else { "installed" };
            let from = if package.is_empty() {
                String::new()
            } else {
                format!(" (Debian: {package})")
            };
            out.push_str(&format!("{:<18} {state:<9} {lib}{from}\n", v.name));
        }
    }
    if let Err(e) = crate::stdout::print(&out) {
        return fail(format!("cannot write to stdout: {e}"));
    }
    if missing {
        Exit::Incomplete.into()
    } else {
        ExitCode::from(Exit::Ok)
    }
}

/// `allocstorm report DIR` renders DIR again; `report DIR... --out OUT` checks that the
/// directories are shards of one comparison, copies their run files into OUT and renders
/// the merged report there.
fn merge_cmd(args: &ReportArgs) -> ExitCode {
    let out = match (&args.out, args.dirs.as_slice()) {
        (None, [dir]) => return report_cmd(dir, &args.exports),
        (Some(out), _) => out,
        (None, dirs) => {
            return fail(format!(
                "report: {} directories given: give --out DIR, the directory the merged report is written to",
                dirs.len()
            ))
        }
    };
    let merged = match crate::shard::load(&args.dirs) {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    for n in &merged.notes {
        eprintln!("allocstorm: note: {n}");
    }
    if let Err(e) = crate::shard::copy_runs(&args.dirs, out) {
        return fail(e);
    }
    report_cmd(out, &args.exports)
}

/// Renders `dir`'s report, then writes each of `exports` from its summary.
fn report_cmd(dir: &std::path::Path, exports: &[ExportTo]) -> ExitCode {
    let summary = match crate::report::render(dir) {
        Ok(summary) => summary,
        Err(e) => return fail(e),
    };
    if let Err(e) = crate::stdout::print(&format!("{}\n", crate::report::text_table(&summary))) {
        return fail(format!("cannot write to stdout: {e}"));
    }
    eprintln!("report: {}", dir.join("report.md").display());
    eprintln!("report: {}", dir.join("report.html").display());
    if let Err(e) = crate::export::write_all(exports, &summary) {
        return fail(e);
    }
    for e in exports {
        eprintln!("export: {} {}", e.format.name(), e.path.display());
    }
    ExitCode::from(Exit::Ok)
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("allocstorm: {e}");
    Exit::Error.into()
}

#[cfg(test)]
mod tests {
    use super::{exits, Cli, EXITS};
    use crate::gate::Status;
    use allocstorm_core::Exit;
    use clap::CommandFactory;

    /// The tables of `file`'s `## Exit codes` section: each a list of rows (header first),
    /// each row its cells without backticks.
    fn exit_code_tables(file: &str) -> Vec<Vec<Vec<String>>> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../docs")
            .join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let section = text
            .split("\n## ")
            .find(|s| s.starts_with("Exit codes\n"))
            .unwrap_or_else(|| panic!("{file}: no `## Exit codes` section"));
        let mut tables: Vec<Vec<Vec<String>>> = Vec::new();
        let mut in_table = false;
        for line in section.lines() {
            let Some(inner) = line.strip_prefix('|').and_then(|l| l.strip_suffix('|')) else {
                in_table = false;
                continue;
            };
            if !in_table {
                tables.push(Vec::new());
                in_table = true;
            }
            let cells: Vec<String> = inner
                .split('|')
                .map(|c| c.trim().replace('`', ""))
                .collect();
            if cells.iter().all(|c| c.chars().all(|ch| "-:".contains(ch))) {
                continue; // the alignment row
            }
            tables.last_mut().unwrap().push(cells);
        }
        tables
    }

    /// A `| code | meaning |` table as [`exit_code_tables`] reads it.
    fn code_table<'a>(rows: impl IntoIterator<Item = (u8, &'a str)>) -> Vec<Vec<String>> {
        std::iter::once(vec!["code".to_string(), "meaning".to_string()])
            .chain(
                rows.into_iter()
                    .map(|(code, meaning)| vec![code.to_string(), meaning.to_string()]),
            )
            .collect()
    }

    #[test]
    fn docs_cli_md_states_every_exit_code_and_which_commands_end_with_it() {
        let tables = exit_code_tables("cli.md");
        assert_eq!(tables.len(), 2, "{tables:?}");

        let expected = code_table(Exit::ALL.iter().map(|e| (e.code(), e.meaning())));
        assert_eq!(
            tables[0], expected,
            "docs/cli.md's code table against Exit::ALL"
        );

        let by_command = &tables[1];
        assert_eq!(
            by_command[0],
            std::iter::once("command".to_string())
                .chain(Exit::ALL.iter().map(|e| e.code().to_string()))
                .collect::<Vec<_>>(),
            "docs/cli.md's table by command: one column per code of Exit::ALL"
        );
        let documented: Vec<&str> = by_command[1..].iter().map(|r| r[0].as_str()).collect();
        let declared: Vec<&str> = EXITS.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            documented, declared,
            "docs/cli.md's commands against cli::EXITS"
        );
        for row in &by_command[1..] {
            let marked: Vec<Exit> = Exit::ALL
                .iter()
                .zip(&row[1..])
                .filter(|(_, cell)| cell.as_str() != "—")
                .map(|(e, _)| *e)
                .collect();
            assert_eq!(
                marked,
                exits(&row[0]),
                "docs/cli.md: the codes of {}",
                row[0]
            );
        }
    }

    #[test]
    fn docs_gate_md_states_the_gate_s_exit_codes() {
        let tables = exit_code_tables("gate.md");
        let expected = code_table(Status::ALL.iter().map(|s| (s.exit_code(), s.meaning())));
        assert_eq!(
            tables,
            [expected],
            "docs/gate.md's table against gate::Status::ALL"
        );
        let gate: Vec<Exit> = Status::ALL.iter().map(|s| s.exit()).collect();
        assert_eq!(exits("gate"), gate.as_slice());
    }

    /// Every command's `--help` lists its exit codes ([`EXITS`]), generated from
    /// [`Exit::ALL`] (the gate's with [`Status::meaning`]); `allocstorm --help` all of them.
    #[test]
    fn help_lists_each_command_s_exit_codes() {
        let mut cli = Cli::command();
        let top = cli.render_long_help().to_string();
        assert!(top.contains(&Exit::help(&Exit::ALL)), "{top}");

        // `help` is clap's own.
        let mut visible: Vec<&str> = cli
            .get_subcommands()
            .filter(|c| !c.is_hide_set() && c.get_name() != "help")
            .map(|c| c.get_name())
            .collect();
        let mut declared: Vec<&str> = EXITS.iter().map(|(name, _)| *name).collect();
        visible.sort_unstable();
        declared.sort_unstable();
        assert_eq!(visible, declared, "every command declares its exit codes");

        for (name, codes) in EXITS {
            let help = cli
                .find_subcommand_mut(name)
                .unwrap()
                .render_long_help()
                .to_string();
            let list = if name == "gate" {
                crate::gate::help()
            } else {
                Exit::help(codes)
            };
            assert!(help.contains(&list), "allocstorm {name} --help:\n{help}");
        }
    }
}
