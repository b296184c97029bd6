//! The checkers the tests run, installed by `scripts/tools.sh` (`make tools`; `make test` runs
//! it first, and these run it again when a tool is missing): check-jsonschema in a venv under
//! target/tools/, promtool from Debian's prometheus package, and Debian's chromium.

use std::path::PathBuf;
use std::process::Command;

/// Runs `scripts/tools.sh`: `Err` is its stderr.
fn install() -> Result<(), String> {
    let o = Command::new("bash")
        .arg(super::root().join("scripts/tools.sh"))
        .output()
        .map_err(|e| format!("cannot run scripts/tools.sh: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).trim().to_string())
    }
}

/// The venv's bin directory, after `scripts/tools.sh` installed into it; `Err` is why not.
pub fn venv_bin() -> Result<PathBuf, String> {
    let venv = match std::env::var_os("ALLOCSTORM_TOOLS") {
        Some(d) => PathBuf::from(d).join("venv"),
        None => super::root().join("target/tools/venv"),
    };
    let bin = venv.join("bin");
    let installed = install();
    if !bin.join("check-jsonschema").is_file() {
        return Err(format!(
            "scripts/tools.sh could not install check-jsonschema: {}",
            installed.err().unwrap_or_default()
        ));
    }
    Ok(bin)
}

/// check-jsonschema, installed if missing; panics, saying why, where it cannot be: a checker
/// that is not there must fail the test, not pass it unchecked.
pub fn check_jsonschema() -> PathBuf {
    venv_bin()
        .unwrap_or_else(|why| panic!("{why}: run `make tools`"))
        .join("check-jsonschema")
}

/// promtool, installed if missing; panics, saying why, where it cannot be.
pub fn promtool() -> PathBuf {
    system_tool("promtool")
}

/// chromium, installed if missing; panics, saying why, where it cannot be.
pub fn chromium() -> PathBuf {
    system_tool("chromium")
}

/// A tool Debian installs on the PATH (or in /usr/bin), installed by `scripts/tools.sh` if
/// missing; panics, saying why, where it cannot be.
fn system_tool(name: &str) -> PathBuf {
    let found = || {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .chain([PathBuf::from("/usr/bin")])
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    };
    if let Some(p) = found() {
        return p;
    }
    let installed = install();
    found().unwrap_or_else(|| {
        panic!(
            "{name} is missing and scripts/tools.sh could not install it ({}): run `make tools`",
            installed.err().unwrap_or_default()
        )
    })
}
