//! `[sweep]`: one `[server]` setting, several values; every variant runs once per value.

use std::path::Path;

use allocstorm_core::server::ServerConfig;
use serde::Serialize;

use super::error::{Ctx, ScenarioError};
use super::raw::RawSweep;
use super::server::{server_spec, ServerSpec};
use super::variants::{SweepPoint, Variant};

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

pub(super) fn case_variant(v: &Variant, sweep: Option<&SweepSpec>, case: &Case) -> Variant {
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
pub(super) fn sweep_cases(
    ctx: &Ctx,
    sw: &RawSweep,
    base: &toml::Table,
    path: &Path,
) -> Result<(SweepSpec, Vec<Case>), ScenarioError> {
    let sweepable = ServerConfig::keys();
    if !sweepable.contains(&sw.field.as_str()) {
        return Err(ctx.err(
            "sweep.field",
            format!(
                "expected a [server] key ({}), got {:?}",
                sweepable.join(", "),
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
    let mut cases = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, value) in sw.values.iter().enumerate() {
        let field = format!("sweep.values[{i}]");
        let mut t = base.clone();
        t.insert(sw.field.clone(), value.clone());
        let server = server_spec(ctx, &t, path)
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

impl Case {
    /// The one case of a scenario without a sweep: its `[server]` table.
    pub(super) fn unswept(server: &ServerSpec) -> Case {
        Case {
            label: None,
            value: None,
            server: server.clone(),
        }
    }
}
