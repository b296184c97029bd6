//! `[server]`: the toy server's settings. Every key but `file`, `create_file` and `args` is a
//! setting of [`ServerConfig`], read by the server's own parser for that flag and checked by
//! its own [`ServerConfig::validate`]: the scenario and the server cannot disagree on a name,
//! a unit or a default.

use std::path::{Path, PathBuf};

use allocstorm_core::server::{flag, ServerConfig};
use allocstorm_core::units;
use serde::Serialize;

use super::error::{Ctx, ScenarioError};

/// The server side of a scenario (or of one point of its sweep).
#[derive(Debug, Clone, Serialize)]
pub struct ServerSpec {
    /// Hot file to serve, or `None` to let the server create one of `create_file` bytes.
    pub file: Option<PathBuf>,
    pub create_file: u64,
    /// The settings, typed: what the server runs with (its defaults where the scenario is
    /// silent).
    pub config: ServerConfig,
    /// The settings the scenario gives, as it writes them (`("queue_timeout", "5s")`): passed
    /// to the server as flags, so its command line says what the scenario said.
    pub settings: Vec<(String, String)>,
    /// Extra flags, as they are (`[server] args`).
    pub args: Vec<String>,
}

/// The keys of `[server]` that are the harness's, not settings of the server.
const OWN_KEYS: [&str; 3] = ["file", "create_file", "args"];

impl ServerSpec {
    /// The server's command line (without the variant's own args): loopback on a port the
    /// kernel picks, the hot file, the seed, then the settings as flags.
    pub fn command_line(&self, seed: u64) -> Vec<String> {
        self.command_line_on(seed, std::net::Ipv4Addr::LOCALHOST.into())
    }

    /// The same, listening on `ip` (a `[remote]` run's listen address) instead of loopback.
    pub fn command_line_on(&self, seed: u64, ip: std::net::IpAddr) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "--listen".into(),
            std::net::SocketAddr::new(ip, 0).to_string(),
        ];
        match &self.file {
            Some(f) => a.extend(["--file".into(), f.display().to_string()]),
            None => a.extend(["--create-file".into(), self.create_file.to_string()]),
        }
        a.extend(["--seed".into(), seed.to_string()]);
        for (key, value) in &self.settings {
            a.extend([flag(key), value.clone()]);
        }
        a.extend(self.args.iter().cloned());
        a
    }
}

/// A TOML value as the server's command line would take it.
fn as_flag_value(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

/// Checks a `[server]` table into a [`ServerSpec`]. `file` is resolved against the scenario's
/// directory (whether it exists is checked by the scenario's preflight, which builds on this).
pub(super) fn server_spec(
    ctx: &Ctx,
    table: &toml::Table,
    scenario_path: &Path,
) -> Result<ServerSpec, ScenarioError> {
    let string = |key: &str| -> Result<Option<&String>, ScenarioError> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(ctx.err(
                &format!("server.{key}"),
                format!("expected a string, got {other}"),
            )),
        }
    };
    if table.contains_key("file") && table.contains_key("create_file") {
        return Err(ctx.err(
            "server.file",
            "give either server.file or server.create_file, not both",
        ));
    }
    let file = string("file")?.map(|f| scenario_path.parent().unwrap_or(Path::new(".")).join(f));
    let create_file = ctx.unit(
        "server.create_file",
        string("create_file")?,
        "3MiB",
        units::parse_file_size,
    )?;
    if file.is_none() && create_file == 0 {
        return Err(ctx.err("server.create_file", "expected a size above 0, got 0"));
    }
    let args = match table.get("args") {
        None => Vec::new(),
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ctx.err("server.args", "expected a list of strings"))?,
        Some(other) => {
            return Err(ctx.err(
                "server.args",
                format!("expected a list of strings, got {other}"),
            ))
        }
    };
    let mut settings = Vec::new();
    for (key, value) in table
        .iter()
        .filter(|(k, _)| !OWN_KEYS.contains(&k.as_str()))
    {
        let v = as_flag_value(value).ok_or_else(|| {
            ctx.err(
                &format!("server.{key}"),
                format!("expected a string or a number, got {value}"),
            )
        })?;
        settings.push((key.clone(), v));
    }
    let config = ServerConfig::from_settings(&settings)
        .map_err(|e| ctx.err(&format!("server.{}", e.key), e.message))?;
    config
        .validate()
        .map_err(|e| ctx.err(&format!("server.{}", e.key), e.as_keys()))?;
    Ok(ServerSpec {
        file,
        create_file,
        config,
        settings,
        args,
    })
}
