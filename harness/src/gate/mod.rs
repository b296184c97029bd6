//! `allocstorm gate`: CI regression gates on RSS after drain that do not cry wolf.
//!
//! Reads the run records of a report directory, or of the shards of one comparison
//! ([`crate::shard`]), never their summary or plots, and checks every variant against the scenario's budgets and, if given, a stored baseline measured under the
//! same key. Exit codes are a contract: see [`Status::ALL`] and [`help`].
//!
//! - [`config`]: the scenario's `[gate]`: budgets and thresholds, with their defaults.
//! - [`measured`]: what a directory measured, per variant and run, and the key.
//! - [`verdict`]: the decisions, pure: the statistic, the limit, inconclusive vs regression.
//! - [`baseline`]: baseline files: read, checked, written atomically.
//! - [`evaluate`]: every variant's checks and the overall status.
//! - [`render`]: the table on the terminal and the Markdown for a PR.
//! - [`step_summary`]: that Markdown on a GitHub Actions run's page (`$GITHUB_STEP_SUMMARY`).
//! - [`words`]: the sentences of the notes and reasons, made of their figures.

pub mod baseline;

pub mod evaluate;
pub mod measured;
pub mod render;
pub mod step_summary;
pub mod verdict;
pub mod words;

use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use crate::figures::curve::After;
use crate::record::RecordsError;
use crate::record::{RunRecord, RunStatus};
use crate::scenario::{Scenario, ScenarioError};

pub use evaluate::{GateReport, Note, Status};
use measured::{Inconsistency, KeyDiff, VariantRuns};
pub use verdict::{verdict, Decision, Verdict};

/// `gate --help` after the flags: the exit codes of [`Status::ALL`], and the `[gate]` keys.
pub fn help() -> String {
    let codes = allocstorm_core::exit::help_list(
        Status::ALL.iter().map(|s| (s.exit().code(), s.meaning())),
    );
    format!(
        "{codes}

Budgets and thresholds come from the scenario's [gate] section:
  [gate]                rel_tolerance = 0.10, abs_floor = \"8MiB\", noise_k = 3 (the defaults);
                        after = \"drain\" (default), \"1s\", \"5s\" or \"60s\": the figure compared
  [gate.variants.NAME]  max_retention, min_retention, max_after_drain (a size): budgets;
                        cycle_verdict (with cycles); max_growth_per_hour (a size, with soak);
                        rel_tolerance, abs_floor, noise_k: this variant's own thresholds"
    )
}

#[derive(Debug, Clone, clap::Args)]
#[command(after_help = help())]
pub struct GateArgs {
    /// A directory written by `allocstorm compare` (it holds runs/*.json); several (`--run A
    /// B` or `--run A --run B`): the shards of one comparison (`compare --shard I/N`),
    /// measured under the same key, gated as one.
    #[arg(long, value_name = "DIR", required = true, num_args = 1..)]
    pub run: Vec<PathBuf>,
    /// The baseline to compare against: a file, or a directory (e.g. baselines/) holding
    /// <scenario>-<host key>.json for this scenario and host (none there: budgets only).
    #[arg(long, value_name = "FILE|DIR")]
    pub baseline: Option<PathBuf>,
    /// Instead of gating, write DIR's figures as the baseline (atomically); a directory gets
    /// <scenario>-<host key>.json.
    #[arg(
        long,
        value_name = "FILE|DIR",
        conflicts_with_all = ["baseline", "markdown", "allow_env_mismatch"]
    )]
    pub update_baseline: Option<PathBuf>,
    /// Also write the verdict as Markdown, ready for a pull-request comment, with links to the
    /// plots in DIR.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Where DIR's files can be opened from the Markdown, e.g. the URL CI publishes DIR at
    /// [default: paths relative to the Markdown file].
    #[arg(long, value_name = "URL", requires = "markdown")]
    pub plots_url: Option<String>,
    /// The scenario whose [gate] section applies [default: the scenario file recorded in
    /// DIR's runs].
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Compare with a baseline measured under another key (kernel, glibc, nproc, THP,
    /// allocator crates, scenario hash, variant settings); the verdict says so.
    #[arg(long)]
    pub allow_env_mismatch: bool,
    /// Where the verdict's Markdown is appended for a GitHub Actions run's page: the file
    /// `$GITHUB_STEP_SUMMARY` names, when it is set ([`gate_main`] reads it).
    #[arg(skip)]
    pub step_summary: Option<PathBuf>,
}

/// Why the gate could not run. Each displays as one line that names the file.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("{0}")]
    Runs(#[from] RecordsError),
    #[error("{0}")]
    Shards(crate::shard::MergeError),
    #[error("{dir}: the runs do not record their scenario file: give --scenario FILE")]
    NoScenario { dir: String },
    #[error("{source}{hint}")]
    Scenario {
        #[source]
        source: ScenarioError,
        hint: &'static str,
    },
    #[error("{file}: scenario {found:?}, but {dir} ran {expected:?}: give --scenario with the file it ran")]
    ScenarioMismatch {
        file: String,
        dir: String,
        found: String,
        expected: String,
    },
    #[error("{file}: {source}")]
    Config {
        file: String,
        #[source]
        source: crate::scenario::gate::ConfigError,
    },
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid allocstorm baseline: {why}")]
    BadBaseline {
        path: String,
        why: baseline::NotABaseline,
    },
    #[error("{path}: a baseline of scenario {found:?}, but {dir} ran {expected:?}")]
    BaselineScenario {
        path: String,
        dir: String,
        found: String,
        expected: String,
    },
    #[error("{path}: measured under another key than {dir}: {}; make a baseline for this host with --update-baseline, or compare anyway with --allow-env-mismatch", words::against_baseline(.diffs, ", "))]
    KeyMismatch {
        path: String,
        dir: String,
        diffs: Vec<KeyDiff>,
    },
    #[error("{dir}: runs measured under different keys: {}", words::joined(.runs, "; "))]
    MixedRuns {
        dir: String,
        runs: Vec<Inconsistency>,
    },
    #[error(
        "{dir}: no ok run with {} for {}: nothing to make a baseline of",
        words::a_figure_of(*.after),
        words::without_ok_run(.variants)
    )]
    NoOkRuns {
        dir: String,
        after: After,
        variants: Vec<VariantRuns>,
    },
    #[error("{path}: a baseline of {} ([gate] after = {:?}), but {file} gates on {} (after = {:?}): make a baseline with this [gate] (--update-baseline), or gate with after = {:?}", words::gated(*.baseline).in_words(), .baseline.name(), words::gated(*.scenario).in_words(), .scenario.name(), .baseline.name())]
    AfterMismatch {
        path: String,
        file: String,
        baseline: After,
        scenario: After,
    },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// `allocstorm gate`: runs the gate, prints its table on stdout, and maps the outcome to the
/// exit code of the contract.
pub fn gate_main(mut args: GateArgs) -> ExitCode {
    args.step_summary = std::env::var_os("GITHUB_STEP_SUMMARY")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    let mut stdout = crate::stdout::stdout();
    match run(&args, &mut stdout) {
        Ok(status) => ExitCode::from(status.exit_code()),
        Err(e) => {
            let _ = stdout.flush();
            eprintln!("allocstorm gate: {e}");
            ExitCode::from(Status::Error.exit_code())
        }
    }
}

/// The gate (or `--update-baseline`), writing its table to `out`. `Err` is an input or harness
/// error (exit 2); `Ok` carries the status, whose exit code is the contract.
pub fn run(args: &GateArgs, out: &mut dyn Write) -> Result<Status, GateError> {
    let merged = crate::shard::load(&args.run).map_err(|e| match e {
        crate::shard::MergeError::Records(r) => GateError::Runs(r),
        e => GateError::Shards(e),
    })?;
    let records = merged.records;
    let dir = run_dirs(&args.run);
    // The scenario's [gate] first: its `after` decides which figure the runs hold, for a
    // baseline as for the gate.
    let (scenario, scenario_file) = load_scenario(args, &records)?;
    let config = crate::scenario::gate::parse(scenario.gate.as_ref(), None).map_err(|source| {
        GateError::Config {
            file: scenario_file.clone(),
            source,
        }
    })?;
    let measured = measured::measure(&records, config.after);
    if let Some(target) = &args.update_baseline {
        same_scenario(&scenario, &scenario_file, &measured, &dir)?;
        return update_baseline(&dir, &records, &measured, target, out);
    }

    let mut notes: Vec<Note> = merged
        .notes
        .into_iter()
        .map(|said| Note::Shards { said })
        .collect();
    if !measured.inconsistencies.is_empty() {
        let runs = measured.inconsistencies.clone();
        if !args.allow_env_mismatch {
            return Err(GateError::MixedRuns { dir, runs });
        }
        notes.push(Note::MixedRuns { runs });
    }

    same_scenario(&scenario, &scenario_file, &measured, &dir)?;
    if !measured.key.scenario_hash.is_empty() && scenario.hash != measured.key.scenario_hash {
        notes.push(Note::ScenarioChanged {
            file: scenario_file.clone(),
        });
    }

    let (baseline, baseline_use) = match &args.baseline {
        None => (None, evaluate::BaselineUse::NotGiven),
        Some(given) => {
            let path = baseline::resolve(given, &measured.key);
            if baseline::is_dir_like(given) && !path.exists() {
                let looked_for = path.display().to_string();
                notes.push(Note::NoBaselineIn {
                    dir: given.display().to_string(),
                    run_dir: dir.clone(),
                });
                (None, evaluate::BaselineUse::NotFound { looked_for })
            } else {
                let b = baseline::read(&path)?;
                let p = path.display().to_string();
                if b.key.scenario != measured.key.scenario {
                    return Err(GateError::BaselineScenario {
                        path: p,
                        dir,
                        found: b.key.scenario,
                        expected: measured.key.scenario.clone(),
                    });
                }
                // Another figure is another measurement: never compared, whatever is allowed.
                if b.after != config.after {
                    return Err(GateError::AfterMismatch {
                        path: p,
                        file: scenario_file,
                        baseline: b.after,
                        scenario: config.after,
                    });
                }
                let diffs: Vec<KeyDiff> = measured::diff_keys(&b.key, &measured.key)
                    .into_iter()
                    .chain(measured::diff_settings(&b.variants, &measured.variants))
                    .collect();
                if !diffs.is_empty() && !args.allow_env_mismatch {
                    return Err(GateError::KeyMismatch {
                        path: p,
                        dir,
                        diffs,
                    });
                }
                let used = evaluate::BaselineUse::Used {
                    path: p,
                    created_at: b.created_at.clone(),
                    git_revision: b.source.git_revision.clone(),
                    mismatch: diffs,
                };
                (Some(b), used)
            }
        }
    };

    let (variants, more_notes) = evaluate::evaluate(&measured, baseline.as_ref(), &config);
    notes.extend(more_notes);
    let report = GateReport {
        scenario: measured.key.scenario.clone(),
        quick: measured.key.quick,
        run_dir: dir,
        scenario_file,
        baseline: baseline_use,
        thresholds: config.thresholds,
        after: config.after,
        variants,
        notes,
    };
    let write_out = |source| GateError::Write {
        path: "stdout".into(),
        source,
    };
    out.write_all(render::text(&report).as_bytes())
        .map_err(write_out)?;
    // The plots of several shards' directories are each shard's own: the merged report's
    // (`report DIR... --out`) are the ones to link, gated as one directory.
    let plots = match args.run.as_slice() {
        [one] => Some(one.as_path()),
        _ => None,
    };
    if let Some(md) = &args.markdown {
        write_markdown(md, plots, args.plots_url.as_deref(), &report)?;
    }
    if let Some(path) = &args.step_summary {
        // Links from a run's page go to where CI publishes DIR, or nowhere.
        let url = args.plots_url.as_deref();
        let text = markdown_text(None, plots.filter(|_| url.is_some()), url, &report);
        step_summary::append(path, &text, step_summary::LIMIT).map_err(|source| {
            GateError::Write {
                path: path.display().to_string(),
                source,
            }
        })?;
    }
    Ok(report.status())
}

/// The scenario given is the one the runs ran, by name.
fn same_scenario(
    scenario: &Scenario,
    file: &str,
    measured: &measured::Measured,
    dir: &str,
) -> Result<(), GateError> {
    if scenario.name == measured.key.scenario {
        return Ok(());
    }
    Err(GateError::ScenarioMismatch {
        file: file.to_string(),
        dir: dir.to_string(),
        found: scenario.name.clone(),
        expected: measured.key.scenario.clone(),
    })
}

/// The scenario whose `[gate]` applies: `--scenario`, or the file the runs recorded.
fn load_scenario(args: &GateArgs, records: &[RunRecord]) -> Result<(Scenario, String), GateError> {
    let (path, hint) = match &args.scenario {
        Some(p) => (p.clone(), ""),
        None => {
            let recorded = records
                .iter()
                .filter(|r| r.status == RunStatus::Ok)
                .chain(records.iter())
                .map(|r| r.header.scenario_path.as_str())
                .find(|p| !p.is_empty())
                .ok_or_else(|| GateError::NoScenario {
                    dir: run_dirs(&args.run),
                })?;
            (
                PathBuf::from(recorded),
                " (the scenario file recorded in the runs, relative to where they ran: give --scenario FILE)",
            )
        }
    };
    let s = Scenario::load(&path).map_err(|source| GateError::Scenario { source, hint })?;
    Ok((s, path.display().to_string()))
}

/// The directories of `--run`, as the gate's lines name them (and as `--run` takes them).
fn run_dirs(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn update_baseline(
    dir: &str,
    records: &[RunRecord],
    m: &measured::Measured,
    target: &Path,
    out: &mut dyn Write,
) -> Result<Status, GateError> {
    let path = baseline::resolve(target, &m.key);
    let env = records
        .iter()
        .find(|r| r.status == RunStatus::Ok)
        .or(records.first())
        .map(|r| r.header.environment.clone())
        .unwrap_or_default();
    let source = baseline::Source {
        run_dir: dir.to_string(),
        hostname: env.hostname,
        git_revision: env.git_revision,
        git_dirty: env.git_dirty,
        allocstorm_version: env.allocstorm_version,
    };
    let created_at = crate::clock::utc_rfc3339(std::time::SystemTime::now());
    let b = baseline::from_measured(m, source, created_at)?;
    baseline::write(&path, &b)?;

    let text = render::baseline_written(&path.display().to_string(), dir, &b);
    out.write_all(text.as_bytes())
        .map_err(|source| GateError::Write {
            path: "stdout".into(),
            source,
        })?;
    Ok(Status::Pass)
}

/// The report files the Markdown links to, when DIR has them.
const LINKED_FILES: [(&str, &str); 4] = [
    ("RSS timeline", "rss-timeline.png"),
    ("before / peak / after drain", "rss-summary.png"),
    ("cost", "cost.png"),
    ("full report", "report.md"),
];

fn write_markdown(
    md: &Path,
    dir: Option<&Path>,
    plots_url: Option<&str>,
    report: &GateReport,
) -> Result<(), GateError> {
    let w = |source| GateError::Write {
        path: md.display().to_string(),
        source,
    };
    let md_dir = md
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(md_dir).map_err(w)?;
    let text = markdown_text(Some(md_dir), dir, plots_url, report);
    write_atomic(md, text.as_bytes()).map_err(w)
}

/// The verdict's Markdown, linking DIR's files by `plots_url` or, without it, relative to
/// `md_dir`.
fn markdown_text(
    md_dir: Option<&Path>,
    dir: Option<&Path>,
    plots_url: Option<&str>,
    report: &GateReport,
) -> String {
    let href = |dir: &Path, file: &str| match (plots_url, md_dir) {
        (Some(base), _) => format!("{}/{file}", base.trim_end_matches('/')),
        (None, Some(md_dir)) => relative_to(md_dir, &dir.join(file)),
        (None, None) => dir.join(file).display().to_string(),
    };
    let links: Vec<render::Link> = dir
        .map(|dir| {
            LINKED_FILES
                .iter()
                .filter(|(_, f)| dir.join(f).is_file())
                .map(|(label, f)| render::Link {
                    label,
                    href: href(dir, f),
                })
                .collect()
        })
        .unwrap_or_default();
    let image = dir
        .zip(plots_url)
        .filter(|(dir, _)| dir.join("rss-timeline.png").is_file())
        .map(|(dir, _)| href(dir, "rss-timeline.png"));
    render::markdown(report, &links, image.as_deref())
}

/// `target` as a link from a file in `from_dir`: relative when both resolve, else absolute.
fn relative_to(from_dir: &Path, target: &Path) -> String {
    let (Ok(from), Ok(to)) = (from_dir.canonicalize(), target.canonicalize()) else {
        return target.display().to_string();
    };
    let f: Vec<Component> = from.components().collect();
    let t: Vec<Component> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..f.len() {
        rel.push("..");
    }
    for c in &t[common..] {
        rel.push(c);
    }
    rel.display().to_string()
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let r = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: Cmd,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Cmd {
        Gate(GateArgs),
    }

    fn parse(args: &[&str]) -> Result<GateArgs, clap::Error> {
        let mut v = vec!["allocstorm", "gate"];
        v.extend(args);
        Cli::try_parse_from(v).map(|c| match c.cmd {
            Cmd::Gate(a) => a,
        })
    }

    #[test]
    fn command_line() {
        let a = parse(&[
            "--run",
            "r",
            "--baseline",
            "baselines/",
            "--markdown",
            "v.md",
        ])
        .unwrap();
        assert_eq!(a.baseline.as_deref(), Some(Path::new("baselines/")));
        assert_eq!(a.run, [Path::new("r")]);
        for shards in [
            &["--run", "s1", "s2", "--baseline", "b/"][..],
            &["--run", "s1", "--baseline", "b/", "--run", "s2"][..],
        ] {
            let a = parse(shards).unwrap();
            assert_eq!(a.run, [Path::new("s1"), Path::new("s2")], "{shards:?}");
        }
        assert!(parse(&[
            "--run",
            "r",
            "--update-baseline",
            "b.json",
            "--baseline",
            "c.json"
        ])
        .is_err());
        assert!(
            parse(&["--run", "r", "--plots-url", "http://x"]).is_err(),
            "--plots-url needs --markdown"
        );
        assert!(
            parse(&["--baseline", "b.json"]).is_err(),
            "--run is required"
        );
    }

    #[test]
    fn relative_links() {
        let d = tempfile::tempdir().unwrap();
        let run = d.path().join("reports/x");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("rss-timeline.png"), b"").unwrap();
        let md = d.path().join("out");
        std::fs::create_dir_all(&md).unwrap();
        assert_eq!(
            relative_to(&md, &run.join("rss-timeline.png")),
            "../reports/x/rss-timeline.png"
        );
        assert_eq!(
            relative_to(&run, &run.join("rss-timeline.png")),
            "rss-timeline.png"
        );
    }
}
