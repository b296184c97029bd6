//! The scenario's `[gate]` section: per-variant budgets and the thresholds of the baseline
//! comparison, with their defaults.
//!
//! ```toml
//! [gate]
//! rel_tolerance = 0.10     # or "10%"
//! abs_floor = "8MiB"
//! noise_k = 3
//!
//! [gate.variants.glibc]
//! min_retention = 0.5      # incident 000 must still reproduce
//!
//! [gate.variants.glibc-mmap64k]
//! max_retention = 0.2
//! max_after_drain = "64MiB"
//! ```

use std::collections::BTreeMap;

use serde::Serialize;
use target_server::units;

use crate::scenario::Budget;

/// Defaults of the baseline comparison. Why these values: see [`Thresholds`].
pub const DEFAULT_REL_TOLERANCE: f64 = 0.10;
pub const DEFAULT_ABS_FLOOR_BYTES: u64 = 8 << 20;
pub const DEFAULT_NOISE_K: f64 = 3.0;

/// When a change of the median after-drain RSS counts as a regression: only when it is larger
/// than all three of `rel_tolerance` × the baseline median, `abs_floor`, and `noise_k` × the
/// standard error the runs' spread gives the difference of the medians (see
/// [`super::verdict`]).
///
/// - 10 %: allocator behaviour under the same load changes retention by tens of percent when
///   it changes at all (incident 000: 80 % vs 1 %); a tighter band would catch run-to-run
///   scatter rather than behaviour.
/// - 8 MiB: RSS moves in page- and arena-sized steps; one more 1 MiB buffer pinned per worker
///   thread, a glibc heap trimmed one step later or a jemalloc extent purged a tick later moves
///   after-drain RSS by a few MiB between identical runs.
/// - 3: a change under three standard errors is what the runs' own scatter produces now and
///   then; above it, chance alone is rare (about 1 in 700 for normal scatter).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    pub rel_tolerance: f64,
    pub abs_floor_bytes: u64,
    pub noise_k: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            rel_tolerance: DEFAULT_REL_TOLERANCE,
            abs_floor_bytes: DEFAULT_ABS_FLOOR_BYTES,
            noise_k: DEFAULT_NOISE_K,
        }
    }
}

/// A variant's budget, parsed: any figure past it is a regression.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Limits {
    pub max_retention: Option<f64>,
    /// Retention must stay at least this: the scenario still reproduces its incident.
    pub min_retention: Option<f64>,
    pub max_after_drain_bytes: Option<u64>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.max_retention.is_none() && self.min_retention.is_none() && self.max_after_drain_bytes.is_none()
    }
}

/// The whole `[gate]` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GateConfig {
    pub thresholds: Thresholds,
    /// Budgets by variant name, in the order the scenario file gives them.
    pub budgets: BTreeMap<String, Limits>,
}

/// A bad value in `[gate]`: the field (`gate.rel_tolerance`) and what was expected. The
/// caller puts the file in front.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

fn err(field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.to_string(),
        message: message.into(),
    }
}

fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// A fraction: `0.1` or `"10%"`, between 0 and 1.
fn fraction(field: &str, v: &toml::Value) -> Result<f64, ConfigError> {
    let expected = "expected a fraction between 0 and 1 such as 0.1, or a percentage such as \"10%\"";
    let x = match v {
        toml::Value::Float(f) => *f,
        toml::Value::Integer(i) => *i as f64,
        toml::Value::String(s) => s
            .trim()
            .strip_suffix('%')
            .and_then(|p| p.trim().parse::<f64>().ok())
            .map(|p| p / 100.0)
            .ok_or_else(|| err(field, format!("{expected}, got {}", show(v))))?,
        _ => return Err(err(field, format!("{expected}, got {}", show(v)))),
    };
    if !(0.0..=1.0).contains(&x) {
        return Err(err(field, format!("{expected}, got {}", show(v))));
    }
    Ok(x)
}

/// A size: `"8MiB"` (or a number of bytes).
fn size(field: &str, v: &toml::Value) -> Result<u64, ConfigError> {
    match v {
        toml::Value::String(s) => units::parse_size(s).map_err(|e| err(field, e.to_string())),
        toml::Value::Integer(i) if *i >= 0 => Ok(*i as u64),
        _ => Err(err(field, format!("expected a size such as \"8MiB\", got {}", show(v)))),
    }
}

fn non_negative(field: &str, v: &toml::Value) -> Result<f64, ConfigError> {
    let x = match v {
        toml::Value::Float(f) => *f,
        toml::Value::Integer(i) => *i as f64,
        _ => f64::NAN,
    };
    if x.is_finite() && x >= 0.0 {
        Ok(x)
    } else {
        Err(err(field, format!("expected a number of at least 0 such as 3, got {}", show(v))))
    }
}

fn retention(field: &str, v: Option<f64>) -> Result<Option<f64>, ConfigError> {
    match v {
        Some(x) if !x.is_finite() || !(-1.0..=2.0).contains(&x) => Err(err(
            field,
            format!("expected a retention such as 0.2 ((A - B) / (P - B), usually between 0 and 1), got {x}"),
        )),
        other => Ok(other),
    }
}

/// Parses a scenario's `[gate]` table (absent: defaults, no budgets). `variants`, if given,
/// are the names the scenario knows, and a budget for another name is an error (`None`: the
/// names were checked when the scenario was loaded).
pub fn parse(table: Option<&toml::Table>, variants: Option<&[&str]>) -> Result<GateConfig, ConfigError> {
    let mut config = GateConfig::default();
    let Some(table) = table else {
        return Ok(config);
    };
    for (key, value) in table {
        let field = format!("gate.{key}");
        match key.as_str() {
            "rel_tolerance" => config.thresholds.rel_tolerance = fraction(&field, value)?,
            "abs_floor" => config.thresholds.abs_floor_bytes = size(&field, value)?,
            "noise_k" => config.thresholds.noise_k = non_negative(&field, value)?,
            "variants" => {
                let t = value
                    .as_table()
                    .ok_or_else(|| err(&field, "expected a table of [gate.variants.NAME]"))?;
                for (name, b) in t {
                    let field = format!("gate.variants.{name}");
                    if let Some(known) = variants.filter(|k| !k.contains(&name.as_str())) {
                        return Err(err(
                            &field,
                            format!("unknown variant: expected one of {}", known.join(", ")),
                        ));
                    }
                    let budget: Budget = b
                        .clone()
                        .try_into()
                        .map_err(|e: toml::de::Error| err(&field, e.message().trim().to_string()))?;
                    let limits = Limits {
                        max_retention: retention(&format!("{field}.max_retention"), budget.max_retention)?,
                        min_retention: retention(&format!("{field}.min_retention"), budget.min_retention)?,
                        max_after_drain_bytes: budget
                            .max_after_drain
                            .as_deref()
                            .map(|s| {
                                units::parse_size(s)
                                    .map_err(|e| err(&format!("{field}.max_after_drain"), e.to_string()))
                            })
                            .transpose()?,
                    };
                    if let (Some(lo), Some(hi)) = (limits.min_retention, limits.max_retention) {
                        if lo > hi {
                            return Err(err(
                                &field,
                                format!("min_retention {lo} is above max_retention {hi}: no run could pass"),
                            ));
                        }
                    }
                    config.budgets.insert(name.clone(), limits);
                }
            }
            other => {
                return Err(err(
                    &format!("gate.{other}"),
                    "unknown field: expected rel_tolerance, abs_floor, noise_k or variants",
                ))
            }
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<GateConfig, ConfigError> {
        let t: toml::Table = toml::from_str(s).unwrap();
        parse(t.get("gate").and_then(|g| g.as_table()), Some(&["glibc", "jemalloc-bg"]))
    }

    #[test]
    fn defaults_without_a_gate_section() {
        let c = parse(None, None).unwrap();
        assert_eq!(c.thresholds, Thresholds::default());
        assert!(c.budgets.is_empty());
        assert_eq!(c.thresholds.abs_floor_bytes, 8 << 20);
    }

    #[test]
    fn reads_thresholds_and_budgets_as_people_write_them() {
        let c = parse_str(
            r#"
            [gate]
            rel_tolerance = "15%"
            abs_floor = "16MiB"
            noise_k = 2
            [gate.variants.glibc]
            min_retention = 0.5
            [gate.variants.jemalloc-bg]
            max_retention = 0.1
            max_after_drain = "64MiB"
            "#,
        )
        .unwrap();
        assert!((c.thresholds.rel_tolerance - 0.15).abs() < 1e-12);
        assert_eq!(c.thresholds.abs_floor_bytes, 16 << 20);
        assert_eq!(c.thresholds.noise_k, 2.0);
        assert_eq!(c.budgets["glibc"].min_retention, Some(0.5));
        assert_eq!(c.budgets["jemalloc-bg"].max_after_drain_bytes, Some(64 << 20));
        assert_eq!(parse_str("[gate]\nrel_tolerance = 0.05").unwrap().thresholds.rel_tolerance, 0.05);
    }

    #[test]
    fn bad_values_name_the_field_and_what_was_expected() {
        let e = parse_str("[gate]\nrel_tolerance = 10").unwrap_err();
        assert_eq!(e.field, "gate.rel_tolerance");
        assert!(e.message.contains("\"10%\""), "{e}");
        let e = parse_str("[gate]\nabs_floor = \"8 parsecs\"").unwrap_err();
        assert_eq!(e.field, "gate.abs_floor");
        let e = parse_str("[gate]\nnoise_k = -1").unwrap_err();
        assert_eq!(e.field, "gate.noise_k");
        let e = parse_str("[gate.variants.glibc]\nmax_after_drain = \"lots\"").unwrap_err();
        assert_eq!(e.field, "gate.variants.glibc.max_after_drain");
        let e = parse_str("[gate.variants.glibc]\nmax_retnetion = 0.2").unwrap_err();
        assert_eq!(e.field, "gate.variants.glibc");
        assert!(e.message.contains("max_retnetion"), "{e}");
        let e = parse_str("[gate.variants.tcmalloc]\nmax_retention = 0.2").unwrap_err();
        assert!(e.message.contains("glibc, jemalloc-bg"), "{e}");
        let e = parse_str("[gate.variants.glibc]\nmin_retention = 0.6\nmax_retention = 0.2").unwrap_err();
        assert!(e.message.contains("no run could pass"), "{e}");
        let e = parse_str("[gate]\nnoise = 3").unwrap_err();
        assert_eq!(e.field, "gate.noise");
    }
}
