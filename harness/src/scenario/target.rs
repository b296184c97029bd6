//! `[target]`: a server of the user's own, started by the harness in place of the toy server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use allocstorm_core::units;
use serde::{Deserialize, Serialize};

use super::error::{Ctx, ScenarioError};
use super::phases::secs;
use super::phases::PhaseSpec;
use super::raw::{RawReport, RawScenario, RawTarget};

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
    /// A command run once after the last phase (`redis-cli -p {port} info memory`): the
    /// target's own account of its memory, its numeric `key:value` lines kept in the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats_command: Option<Vec<String>>,
}

/// How the harness tells that a target is ready for load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    /// `GET path` on the target's port answers at all (any HTTP status).
    Http(String),
    /// A line of the target's stdout contains this text.
    Stdout(String),
    /// A TCP connect to the target's port succeeds (a server that speaks no HTTP).
    Tcp,
    /// This command (`{host}`, `{port}`, `{addr}` replaced) exits 0: `redis-cli ping`.
    Command(Vec<String>),
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
pub const TARGET_PLACEHOLDERS: [&str; 3] = [PORT, DIR, FILE];
/// The loopback port the harness gives the target.
pub const PORT: &str = "{port}";
/// The run's directory (the templates are written there).
pub const DIR: &str = "{dir}";
/// The hot file the harness creates in it.
pub const FILE: &str = "{file}";

/// Checks `[target]` field by field (the program and the templates on disk are checked
/// by the scenario's preflight, which builds on this).
pub(super) fn target_spec(
    ctx: &Ctx,
    r: &RawTarget,
    scenario_path: &Path,
) -> Result<TargetSpec, ScenarioError> {
    let Some(program) = r.command.first() else {
        return Err(ctx.err(
            "target.command",
            "expected the command line as a list, such as [\"/usr/sbin/nginx\", \"-c\", \"{dir}/nginx.conf\"], got []",
        ));
    };
    if TARGET_PLACEHOLDERS.iter().any(|p| program.contains(p)) {
        return Err(ctx.err(
            "target.command[0]",
            format!("expected the program itself, without placeholders, got {program:?}"),
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
        files.push(p);
    }
    let create_file = ctx.unit(
        "target.create_file",
        r.create_file.as_ref(),
        "3MiB",
        units::parse_file_size,
    )?;
    if create_file == 0 {
        return Err(ctx.err(
            "target.create_file",
            "expected a size above 0, such as \"3MiB\"",
        ));
    }
    let ready = readiness(ctx, r.ready.as_ref(), scenario_path)?;
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
    let stats_command = r
        .stats_command
        .as_ref()
        .map(|c| program_first(ctx, "target.stats_command", c))
        .transpose()?;
    Ok(TargetSpec {
        command: r.command.clone(),
        files,
        create_file,
        ready,
        ready_timeout,
        sample,
        stats: r.stats.clone(),
        stats_command,
    })
}

/// `target.ready`: `"http"`, `"http:/PATH"`, `"stdout:TEXT"`, `"tcp"`, or `{ command = [...] }`.
fn readiness(
    ctx: &Ctx,
    v: Option<&toml::Value>,
    scenario_path: &Path,
) -> Result<Readiness, ScenarioError> {
    let expected =
        "expected \"http\", \"http:/PATH\", \"stdout:TEXT\", \"tcp\" or { command = [...] }";
    let text = match v {
        None => return Ok(Readiness::Http("/".into())),
        Some(toml::Value::String(s)) => s.as_str(),
        Some(toml::Value::Table(t)) => return ready_command(ctx, t, scenario_path),
        Some(other) => return Err(ctx.err("target.ready", format!("{expected}, got {other}"))),
    };
    Ok(match text {
        "http" => Readiness::Http("/".into()),
        "tcp" => Readiness::Tcp,
        v => match (v.strip_prefix("http:"), v.strip_prefix("stdout:")) {
            (Some(p), _) if p.starts_with('/') => Readiness::Http(p.to_string()),
            (_, Some(line)) if !line.is_empty() => Readiness::Stdout(line.to_string()),
            _ => return Err(ctx.err("target.ready", format!("{expected}, got {v:?}"))),
        },
    })
}

/// `ready = { command = [...] }`: a check the harness runs until it exits 0.
fn ready_command(
    ctx: &Ctx,
    t: &toml::Table,
    scenario_path: &Path,
) -> Result<Readiness, ScenarioError> {
    let field = "target.ready.command";
    if let Some(k) = t.keys().find(|k| *k != "command") {
        return Err(ctx.err(
            "target.ready",
            format!("unknown key {k:?}: expected only command"),
        ));
    }
    let args = match t.get("command") {
        Some(toml::Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<String>>>(),
        _ => None,
    }
    .ok_or_else(|| {
        ctx.err(
            field,
            "expected a list of strings, such as [\"redis-cli\", \"-p\", \"{port}\", \"ping\"]",
        )
    })?;
    let placeholders = &super::tool::READY_PLACEHOLDERS;
    let args = super::tool::check_command(ctx, field, &args, placeholders, scenario_path)?;
    Ok(Readiness::Command(args))
}

/// `stats_command`: a program, then its arguments (placeholders only in the arguments).
fn program_first(ctx: &Ctx, field: &str, c: &[String]) -> Result<Vec<String>, ScenarioError> {
    match c.first() {
        None => Err(ctx.err(
            field,
            "expected a command line as a list, such as [\"redis-cli\", \"-p\", \"{port}\", \"info\", \"memory\"], got []",
        )),
        Some(p) if TARGET_PLACEHOLDERS.iter().any(|t| p.contains(t)) => Err(ctx.err(
            &format!("{field}[0]"),
            format!("expected the program itself, without placeholders, got {p:?}"),
        )),
        Some(_) => Ok(c.to_vec()),
    }
}

/// A `[target]` scenario has no `[server]` and no `[sweep]` (both are the toy server's).
pub(super) fn check_sections(ctx: &Ctx, raw: &RawScenario) -> Result<(), ScenarioError> {
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
    Ok(())
}

/// What only the toy server has: `/admin/release` (the release phase), and series from a
/// stats endpoint unless the target names one.
pub(super) fn check_phases_and_series(
    ctx: &Ctx,
    t: &TargetSpec,
    phases: [(&str, &PhaseSpec); 2],
    report: &RawReport,
) -> Result<(), ScenarioError> {
    for (section, ph) in phases {
        if !ph.release.is_zero() {
            return Err(ctx.err(
                &format!("{section}.release"),
                "the release phase asks the toy server's /admin/release; a [target] has none: expected no release",
            ));
        }
    }
    if !report.series.is_empty() && t.stats.is_none() {
        return Err(ctx.err(
            "report.series",
            "series are read from the target's stats endpoint: set target.stats (such as \"/stats\") or drop them",
        ));
    }
    Ok(())
}
