//! Every check of the filesystem and of `PATH` a scenario needs when it loads, apart from its
//! parsing: the hot file it names, the target's program and templates, the variants' preload
//! libraries (no directory). Whether a preload is installed is asked when a run starts
//! (`Variant::unavailable`), so that one missing library skips one variant.

use std::path::Path;

use super::error::{Ctx, ScenarioError};
use super::server::ServerSpec;
use super::target::TargetSpec;
use super::tool::find_program;
use super::variants::Variant;

/// No `preload` of `variants.toml` (`ctx`) is a directory. A missing one is no error here.
pub(super) fn preloads(ctx: &Ctx, all: &[Variant]) -> Result<(), ScenarioError> {
    for (i, v) in all.iter().enumerate() {
        match &v.preload {
            Some(lib) if Path::new(lib).is_dir() => {
                return Err(ctx.err(
                    &format!("variant[{i}].preload"),
                    format!("expected a shared library file, got the directory {lib:?}"),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// `[server] file` exists.
pub(super) fn server_file(ctx: &Ctx, server: &ServerSpec) -> Result<(), ScenarioError> {
    match &server.file {
        Some(p) if !p.is_file() => Err(ctx.err(
            "server.file",
            format!(
                "expected an existing file, got {:?}",
                p.display().to_string()
            ),
        )),
        _ => Ok(()),
    }
}

/// The target's program runs here, its templates exist, and `{port}` is in the command or a
/// template. Gives the templates' texts, as read for the check (they are part of the hash).
pub(super) fn target(ctx: &Ctx, t: &TargetSpec) -> Result<Vec<String>, ScenarioError> {
    let stats = t
        .stats_command
        .iter()
        .map(|c| ("target.stats_command[0]", &c[0]));
    for (field, program) in std::iter::once(("target.command[0]", &t.command[0])).chain(stats) {
        if find_program(program).is_none() {
            return Err(ctx.err(
                field,
                format!(
                    "{program:?} not found: expected an executable (an absolute path, or a name on PATH); the example servers are installed by `make servers`"
                ),
            ));
        }
    }
    let mut texts = Vec::new();
    for (i, f) in t.files.iter().enumerate() {
        let text = std::fs::read_to_string(f).map_err(|_| {
            ctx.err(
                &format!("target.files[{i}]"),
                format!(
                    "expected a template file (relative to the scenario's directory), got {:?}",
                    f.display().to_string()
                ),
            )
        })?;
        texts.push(text);
    }
    if !t
        .command
        .iter()
        .chain(texts.iter())
        .any(|a| a.contains(super::target::PORT))
    {
        return Err(ctx.err(
            "target.command",
            "{port} appears in neither the command nor its files: the target must listen on the loopback port the harness gives it",
        ));
    }
    Ok(texts)
}
