//! `[load] command`: the scenario's own load tool (wrk, redis-benchmark, k6, ...) in place of
//! the built-in client for the phases it names, as typed values, and the placeholders its
//! arguments (and a readiness check's) may hold.

use std::path::{Path, PathBuf};
use std::time::Duration;

use allocstorm_core::units;
use serde::Serialize;

use super::error::{Ctx, ScenarioError};
use super::phases::{secs, PhaseSpec};
use super::raw::{RawFigure, RawLoad};

/// The target's loopback IP (`127.0.0.1`, `::1` unbracketed).
pub const HOST: &str = "{host}";
/// The target's port.
pub const PORT: &str = "{port}";
/// `host:port`, an IPv6 host bracketed.
pub const ADDR: &str = "{addr}";
/// `http://{addr}` and the scenario's `[load] path`, if it sets one.
pub const URL: &str = "{url}";
/// The phase's length in whole seconds, rounded up.
pub const SECONDS: &str = "{seconds}";
/// A directory of this tool run's own, in the run's directory, for files the tool writes.
pub const OUT: &str = "{out}";

/// The placeholders of `[load] command` and of a figure's `file`.
pub const TOOL_PLACEHOLDERS: [&str; 6] = [HOST, PORT, ADDR, URL, SECONDS, OUT];
/// The placeholders of `[target] ready = { command = [...] }`.
pub const READY_PLACEHOLDERS: [&str; 3] = [HOST, PORT, ADDR];

/// The load phases a tool may drive, in run order.
pub const TOOL_PHASES: [&str; 3] = ["warmup", "during", "nudge"];

/// `[load] command` and its settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolSpec {
    /// The command line, placeholders unreplaced.
    pub command: Vec<String>,
    /// The phases it drives (of [`TOOL_PHASES`]); the built-in client drives the others.
    pub phases: Vec<String>,
    /// From SIGINT at the phase's end to SIGKILL.
    #[serde(with = "secs")]
    pub stop_grace: Duration,
    pub exits: Exits,
    /// The run's figures, read from the tool's output or files after each `during`.
    pub figures: Vec<(FigureKey, FigureSource)>,
    /// `[load] path`, when the scenario sets one (`{url}` ends with it).
    pub path: Option<String>,
    /// Where the tool runs: the scenario's directory, so that its scripts are found as written.
    pub cwd: PathBuf,
}

/// What a tool that exits by itself (status 0) before its phase ends means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exits {
    /// A failed run: the tool was meant to load the server for the whole phase (the default).
    AtPhaseEnd,
    /// Fine (a tool that sends a fixed count): the phase goes on, idle, to its end.
    EarlyOk,
}

/// A figure the report shows, as `[load.figures]` names it: declared once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FigureKey {
    /// The report's req/s.
    RequestsPerSecond,
    /// The report's p50 (ms; a capture may carry `us`, `ms` or `s`).
    P50Ms,
    /// The report's p99.
    P99Ms,
}

impl FigureKey {
    pub const ALL: [FigureKey; 3] = [
        FigureKey::RequestsPerSecond,
        FigureKey::P50Ms,
        FigureKey::P99Ms,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FigureKey::RequestsPerSecond => "requests_per_second",
            FigureKey::P50Ms => "p50_ms",
            FigureKey::P99Ms => "p99_ms",
        }
    }

    /// A latency: its capture may end in a time unit.
    pub fn is_latency(self) -> bool {
        self != FigureKey::RequestsPerSecond
    }
}

/// Where a figure is read.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FigureSource {
    /// The first capture group of the last line of the tool's output that matches.
    Regex(String),
    /// A JSON pointer into a file the tool writes (`file` with placeholders unreplaced).
    Json { pointer: String, file: String },
}

/// `[load] command` and its keys, checked; `None` without a command (and then none of its keys).
pub(super) fn tool_spec(
    ctx: &Ctx,
    r: &RawLoad,
    scenario_path: &Path,
) -> Result<Option<ToolSpec>, ScenarioError> {
    let Some(command) = &r.command else {
        return no_tool_keys(ctx, r).map(|()| None);
    };
    let command = check_command(
        ctx,
        "load.command",
        command,
        &TOOL_PLACEHOLDERS,
        scenario_path,
    )?;
    let phases = tool_phases(ctx, r.phases.as_deref())?;
    if r.steps.is_some() && phases.iter().any(|p| p == "during") {
        return Err(ctx.err(
            "load.steps",
            "rate steps are the built-in client's, and the load tool drives `during`: give the tool its own rates, or drop the steps",
        ));
    }
    let stop_grace = ctx.unit(
        "load.stop_grace",
        r.stop_grace.as_ref(),
        "2s",
        units::parse_duration,
    )?;
    let exits = match r.exits.as_deref().unwrap_or("at-phase-end") {
        "at-phase-end" => Exits::AtPhaseEnd,
        "early-ok" => Exits::EarlyOk,
        v => {
            return Err(ctx.err(
                "load.exits",
                format!("expected \"at-phase-end\" or \"early-ok\", got {v:?}"),
            ))
        }
    };
    let mut figures = Vec::new();
    for (name, f) in r.figures.iter().flatten() {
        figures.push(figure(ctx, name, f)?);
    }
    Ok(Some(ToolSpec {
        command,
        phases,
        stop_grace,
        exits,
        figures,
        path: r.path.clone(),
        cwd: scenario_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf(),
    }))
}

/// The tool's keys mean nothing without a command: refused rather than ignored.
fn no_tool_keys(ctx: &Ctx, r: &RawLoad) -> Result<(), ScenarioError> {
    let set = [
        ("load.phases", r.phases.is_some()),
        ("load.stop_grace", r.stop_grace.is_some()),
        ("load.exits", r.exits.is_some()),
        ("load.figures", r.figures.is_some()),
    ];
    match set.iter().find(|(_, s)| *s) {
        Some((field, _)) => Err(ctx.err(field, "only means something with load.command")),
        None => Ok(()),
    }
}

/// A command line: not empty, its program found, no placeholder outside `allowed`. Gives it
/// with a relative program path (`./tool.sh`) made absolute from the scenario's directory.
pub(super) fn check_command(
    ctx: &Ctx,
    field: &str,
    command: &[String],
    allowed: &[&str],
    scenario_path: &Path,
) -> Result<Vec<String>, ScenarioError> {
    let Some(program) = command.first() else {
        return Err(ctx.err(
            field,
            "expected the command line as a list, such as [\"wrk\", \"-d\", \"{seconds}s\", \"{url}\"], got []",
        ));
    };
    for (i, arg) in command.iter().enumerate() {
        if let Some(p) = unknown_placeholder(arg, allowed) {
            return Err(ctx.err(
                &format!("{field}[{i}]"),
                format!(
                    "unknown placeholder {p} in {arg:?}: expected {}",
                    allowed.join(", ")
                ),
            ));
        }
    }
    if allowed.iter().any(|p| program.contains(p)) {
        return Err(ctx.err(
            &format!("{field}[0]"),
            format!("expected the program itself, without placeholders, got {program:?}"),
        ));
    }
    let dir = scenario_path.parent().unwrap_or(Path::new("."));
    let resolved = match program.contains('/') && !program.starts_with('/') {
        true => dir.join(program).display().to_string(),
        false => program.clone(),
    };
    if !is_executable(&resolved) {
        return Err(ctx.err(
            &format!("{field}[0]"),
            format!("{program:?} not found: expected an executable (an absolute path, a path from the scenario's directory, or a name on PATH)"),
        ));
    }
    let mut out = command.to_vec();
    out[0] = resolved;
    Ok(out)
}

fn is_executable(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    find_program(program)
        .and_then(|p| std::fs::metadata(p).ok())
        .is_some_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// The first `{name}` in `arg` that is not one of `allowed` (other braces, a JSON body's, stay).
pub fn unknown_placeholder(arg: &str, allowed: &[&str]) -> Option<String> {
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with('}') {
            let token = &rest[open..open + name_len + 2];
            if !allowed.contains(&token) {
                return Some(token.to_string());
            }
        }
        rest = after;
    }
    None
}

/// `[load] phases`: known load phases, each once; `["during"]` by default.
fn tool_phases(ctx: &Ctx, v: Option<&[String]>) -> Result<Vec<String>, ScenarioError> {
    let Some(v) = v else {
        return Ok(vec!["during".into()]);
    };
    if v.is_empty() {
        return Err(ctx.err(
            "load.phases",
            "expected at least one of warmup, during, nudge, got []",
        ));
    }
    for (i, p) in v.iter().enumerate() {
        if !TOOL_PHASES.contains(&p.as_str()) || v[..i].contains(p) {
            return Err(ctx.err(
                &format!("load.phases[{i}]"),
                format!("expected each of warmup, during, nudge at most once, got {p:?}"),
            ));
        }
    }
    Ok(TOOL_PHASES
        .iter()
        .filter(|p| v.iter().any(|x| x == *p))
        .map(|p| p.to_string())
        .collect())
}

/// One `[load.figures]` entry.
fn figure(
    ctx: &Ctx,
    name: &str,
    f: &RawFigure,
) -> Result<(FigureKey, FigureSource), ScenarioError> {
    let field = format!("load.figures.{name}");
    let Some(key) = FigureKey::ALL.into_iter().find(|k| k.name() == name) else {
        let names: Vec<&str> = FigureKey::ALL.iter().map(|k| k.name()).collect();
        return Err(ctx.err(
            &field,
            format!(
                "unknown figure {name:?}: expected one of {}",
                names.join(", ")
            ),
        ));
    };
    let source =
        match (&f.regex, &f.json, &f.file) {
            (Some(re), None, None) => {
                let compiled = regex::Regex::new(re).map_err(|e| {
                    ctx.err(
                        &format!("{field}.regex"),
                        format!("{re:?}: {}", one_line(&e)),
                    )
                })?;
                if compiled.captures_len() < 2 {
                    return Err(ctx.err(
                        &format!("{field}.regex"),
                        format!("{re:?} has no capture group: put the number in ( )"),
                    ));
                }
                FigureSource::Regex(re.clone())
            }
            (None, Some(p), Some(file)) => {
                if !p.starts_with('/') {
                    return Err(ctx.err(
                        &format!("{field}.json"),
                        format!("expected a JSON pointer starting with '/', got {p:?}"),
                    ));
                }
                if let Some(ph) = unknown_placeholder(file, &TOOL_PLACEHOLDERS) {
                    return Err(ctx.err(
                        &format!("{field}.file"),
                        format!(
                            "unknown placeholder {ph} in {file:?}: expected {}",
                            TOOL_PLACEHOLDERS.join(", ")
                        ),
                    ));
                }
                FigureSource::Json {
                    pointer: p.clone(),
                    file: file.clone(),
                }
            }
            _ => return Err(ctx.err(
                &field,
                "expected { regex = '...' } or { json = \"/pointer\", file = \"{out}/file.json\" }",
            )),
        };
    Ok((key, source))
}

/// A regex error's message on one line.
fn one_line(e: &regex::Error) -> String {
    e.to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every phase the tool drives is one the scenario has (a zero `warmup` or `nudge` has none).
pub(super) fn check_phases(
    ctx: &Ctx,
    t: &ToolSpec,
    phases: &PhaseSpec,
) -> Result<(), ScenarioError> {
    for (i, p) in t.phases.iter().enumerate() {
        let len = match p.as_str() {
            "warmup" => phases.warmup,
            "nudge" => phases.nudge,
            _ => phases.during,
        };
        if len.is_zero() {
            return Err(ctx.err(
                &format!("load.phases[{i}]"),
                format!("the scenario has no {p} phase (phases.{p} is 0): drop it, or give the phase a length"),
            ));
        }
    }
    Ok(())
}

/// The values of `{host}`, `{port}` and `{addr}` for a server at `addr`.
pub fn address_values(addr: std::net::SocketAddr) -> Vec<(&'static str, String)> {
    vec![
        (HOST, addr.ip().to_string()),
        (PORT, addr.port().to_string()),
        (ADDR, addr.to_string()),
    ]
}

/// `arg` with each placeholder of `values` replaced (only those exact tokens).
pub fn render(arg: &str, values: &[(&'static str, String)]) -> String {
    values
        .iter()
        .fold(arg.to_string(), |a, (k, v)| a.replace(k, v))
}

/// The tool runs on this host against the loopback server: not with workers on other hosts
/// (`[remote]`) nor over the lab's link (`[network]`), which the built-in client serves.
pub(super) fn check_scope(ctx: &Ctx, remote: bool, network: bool) -> Result<(), ScenarioError> {
    for (on, section) in [(remote, "remote"), (network, "network")] {
        if on {
            return Err(ctx.err(
                "load.command",
                format!("a load tool runs on this host against the loopback server; [{section}] is the built-in client's: drop one of them"),
            ));
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_address_is_bracketed_in_addr_only() {
        let v = address_values("[::1]:8080".parse().unwrap());
        assert_eq!(render("{host} {port} {addr}", &v), "::1 8080 [::1]:8080");
    }

    #[test]
    fn only_unknown_names_in_braces_are_placeholders() {
        let ok = &TOOL_PLACEHOLDERS;
        assert_eq!(unknown_placeholder("{url}/x?{port}", ok), None);
        assert_eq!(unknown_placeholder(r#"{"a":1}"#, ok), None);
        assert_eq!(unknown_placeholder("{ }", ok), None);
        assert_eq!(unknown_placeholder("{", ok), None);
        assert_eq!(unknown_placeholder("x{dir}", ok).as_deref(), Some("{dir}"));
        assert_eq!(unknown_placeholder("{{host}}", ok), None);
        assert_eq!(
            unknown_placeholder("{hots}", &READY_PLACEHOLDERS).as_deref(),
            Some("{hots}")
        );
        assert_eq!(
            unknown_placeholder("{url}", &READY_PLACEHOLDERS).as_deref(),
            Some("{url}")
        );
    }
}
