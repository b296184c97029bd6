//! The scenario's `[gate]` section: per-variant budgets and the thresholds of the baseline
//! comparison, with their defaults.
//!
//! ```toml
//! [gate]
//! rel_tolerance = 0.10     # or "10%"
//! abs_floor = "8MiB"
//! noise_k = 3
//! after = "drain"          # or "1s", "5s", "60s": the point of the curve after the load
//!
//! [gate.variants.glibc]
//! min_retention = 0.5      # incident 000 must still reproduce
//! rel_tolerance = 0.5      # its after-drain RSS scatters ~15% run to run: compare loosely
//!
//! [gate.variants.glibc-mmap64k]
//! max_retention = 0.2
//! max_after_drain = "64MiB"
//! max_growth_per_hour = "5MiB"   # with [phases] soak: A's slope after the first cycle
//! ```

use std::collections::BTreeMap;

use allocstorm_core::units;
use serde::Serialize;

use crate::figures::curve::After;

/// Defaults of the baseline comparison. Why these values: see [`Thresholds`].
pub const DEFAULT_REL_TOLERANCE: f64 = 0.10;
pub const DEFAULT_ABS_FLOOR_BYTES: u64 = 8 << 20;
pub const DEFAULT_NOISE_K: f64 = 3.0;

/// When a change of the median after-drain RSS counts as a regression: only when it is larger
/// than all three of `rel_tolerance` × the baseline median, `abs_floor`, and `noise_k` × the
/// standard error the runs' spread gives the difference of the medians (the gate's verdict
/// applies them; this module only reads them).
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
    /// With `[phases] cycles`: the leak-or-retention verdict the runs must give.
    pub cycle_verdict: Option<crate::figures::cycles::Verdict>,
    /// With `[phases] soak`: the most A may grow per hour after the first cycle, beyond the
    /// slope's 95% interval.
    pub max_growth_per_hour_bytes: Option<u64>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.max_retention.is_none()
            && self.min_retention.is_none()
            && self.max_after_drain_bytes.is_none()
            && self.cycle_verdict.is_none()
            && self.max_growth_per_hour_bytes.is_none()
    }
}

/// One `[gate.variants.NAME]`: the variant's budgets, and thresholds of its own where the
/// section's do not fit it (a reference variant that scatters widely from run to run).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VariantRules {
    pub limits: Limits,
    pub rel_tolerance: Option<f64>,
    pub abs_floor_bytes: Option<u64>,
    pub noise_k: Option<f64>,
}

/// The whole `[gate]` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GateConfig {
    /// The section's thresholds (defaults where not given).
    pub thresholds: Thresholds,
    /// Which figure the budgets and the baseline compare: RssAnon 1 s, 5 s or 60 s after the
    /// load's end, or at the end of the drain (A, the default), with its share of the growth
    /// for the retention budgets.
    pub after: After,
    /// By variant name.
    pub variants: BTreeMap<String, VariantRules>,
}

impl GateConfig {
    /// The thresholds for one variant: its own where given, else the section's.
    pub fn thresholds_for(&self, variant: &str) -> Thresholds {
        let t = self.thresholds;
        match self.variants.get(variant) {
            None => t,
            Some(r) => Thresholds {
                rel_tolerance: r.rel_tolerance.unwrap_or(t.rel_tolerance),
                abs_floor_bytes: r.abs_floor_bytes.unwrap_or(t.abs_floor_bytes),
                noise_k: r.noise_k.unwrap_or(t.noise_k),
            },
        }
    }

    /// A variant's budgets, if it has any.
    pub fn limits_for(&self, variant: &str) -> Option<&Limits> {
        self.variants
            .get(variant)
            .map(|r| &r.limits)
            .filter(|l| !l.is_empty())
    }
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
    let expected =
        "expected a fraction between 0 and 1 such as 0.1, or a percentage such as \"10%\"";
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
        _ => Err(err(
            field,
            format!("expected a size such as \"8MiB\", got {}", show(v)),
        )),
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
        Err(err(
            field,
            format!("expected a number of at least 0 such as 3, got {}", show(v)),
        ))
    }
}

/// `"plateau"` or `"growth"`.
fn cycle_verdict(
    field: &str,
    v: &toml::Value,
) -> Result<crate::figures::cycles::Verdict, ConfigError> {
    use crate::figures::cycles::Verdict;
    match v.as_str() {
        Some("plateau") => Ok(Verdict::Plateau),
        Some("growth") => Ok(Verdict::Growth),
        _ => Err(err(
            field,
            format!(
                "expected \"plateau\" or \"growth\" (the verdict of [phases] cycles), got {}",
                show(v)
            ),
        )),
    }
}

fn retention(field: &str, v: &toml::Value) -> Result<f64, ConfigError> {
    let x = match v {
        toml::Value::Float(f) => *f,
        toml::Value::Integer(i) => *i as f64,
        _ => f64::NAN,
    };
    if x.is_finite() && (-1.0..=2.0).contains(&x) {
        Ok(x)
    } else {
        Err(err(
            field,
            format!(
                "expected a retention such as 0.2 ((A - B) / (P - B), usually between 0 and 1), got {}",
                show(v)
            ),
        ))
    }
}

/// `"1s"`, `"5s"`, `"drain"` or `"60s"`.
fn after(field: &str, v: &toml::Value) -> Result<After, ConfigError> {
    v.as_str().and_then(After::parse).ok_or_else(|| {
        let names: Vec<String> = After::ALL.iter().map(|a| format!("{:?}", a.name())).collect();
        err(
            field,
            format!(
                "expected {} (RssAnon that long after the load's end, or A at the end of the drain), got {}",
                names.join(", "),
                show(v)
            ),
        )
    })
}

/// One `[gate.variants.NAME]` table.
fn variant_rules(field: &str, v: &toml::Value) -> Result<VariantRules, ConfigError> {
    let t = v
        .as_table()
        .ok_or_else(|| err(field, format!("expected a table, got {}", show(v))))?;
    let mut r = VariantRules::default();
    for (key, value) in t {
        let f = format!("{field}.{key}");
        match key.as_str() {
            "max_retention" => r.limits.max_retention = Some(retention(&f, value)?),
            "min_retention" => r.limits.min_retention = Some(retention(&f, value)?),
            "max_after_drain" => r.limits.max_after_drain_bytes = Some(size(&f, value)?),
            "cycle_verdict" => r.limits.cycle_verdict = Some(cycle_verdict(&f, value)?),
            "max_growth_per_hour" => {
                r.limits.max_growth_per_hour_bytes = Some(size(&f, value)?)
            }
            "rel_tolerance" => r.rel_tolerance = Some(fraction(&f, value)?),
            "abs_floor" => r.abs_floor_bytes = Some(size(&f, value)?),
            "noise_k" => r.noise_k = Some(non_negative(&f, value)?),
            other => {
                return Err(err(
                    &format!("{field}.{other}"),
                    "unknown field: expected max_retention, min_retention, max_after_drain, cycle_verdict, max_growth_per_hour, rel_tolerance, abs_floor or noise_k",
                ))
            }
        }
    }
    if let (Some(lo), Some(hi)) = (r.limits.min_retention, r.limits.max_retention) {
        if lo > hi {
            return Err(err(
                field,
                format!("min_retention {lo} is above max_retention {hi}: no run could pass"),
            ));
        }
    }
    Ok(r)
}

/// Parses a scenario's `[gate]` table (absent: defaults, no budgets). `variants`, if given,
/// are the names the scenario knows, and a budget for another name is an error (`None`: the
/// names were checked when the scenario was loaded).
pub fn parse(
    table: Option<&toml::Table>,
    variants: Option<&[&str]>,
) -> Result<GateConfig, ConfigError> {
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
            "after" => config.after = after(&field, value)?,
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
                    config
                        .variants
                        .insert(name.clone(), variant_rules(&field, b)?);
                }
            }
            other => {
                return Err(err(
                    &format!("gate.{other}"),
                    "unknown field: expected rel_tolerance, abs_floor, noise_k, after or variants",
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
        parse(
            t.get("gate").and_then(|g| g.as_table()),
            Some(&["glibc", "jemalloc-bg"]),
        )
    }

    #[test]
    fn defaults_without_a_gate_section() {
        let c = parse(None, None).unwrap();
        assert_eq!(c.thresholds, Thresholds::default());
        assert!(c.variants.is_empty());
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
        assert_eq!(c.limits_for("glibc").unwrap().min_retention, Some(0.5));
        assert_eq!(
            c.limits_for("jemalloc-bg").unwrap().max_after_drain_bytes,
            Some(64 << 20)
        );
        assert_eq!(
            parse_str("[gate]\nrel_tolerance = 0.05")
                .unwrap()
                .thresholds
                .rel_tolerance,
            0.05
        );
    }

    #[test]
    fn a_variant_can_have_thresholds_of_its_own() {
        let c = parse_str(
            r#"
            [gate]
            abs_floor = "16MiB"
            [gate.variants.glibc]
            rel_tolerance = 0.5
            "#,
        )
        .unwrap();
        let g = c.thresholds_for("glibc");
        assert_eq!(
            (g.rel_tolerance, g.abs_floor_bytes, g.noise_k),
            (0.5, 16 << 20, 3.0)
        );
        assert_eq!(c.thresholds_for("jemalloc-bg").rel_tolerance, 0.10);
        assert!(
            c.limits_for("glibc").is_none(),
            "thresholds alone are no budget"
        );
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
        assert_eq!(e.field, "gate.variants.glibc.max_retnetion");
        assert!(e.message.contains("expected max_retention"), "{e}");
        let e = parse_str("[gate.variants.glibc]\ncycle_verdict = \"flat\"").unwrap_err();
        assert_eq!(e.field, "gate.variants.glibc.cycle_verdict");
        assert!(
            e.message.contains("expected \"plateau\" or \"growth\""),
            "{e}"
        );
        let c = parse_str("[gate.variants.glibc]\ncycle_verdict = \"plateau\"").unwrap();
        assert_eq!(
            c.limits_for("glibc").unwrap().cycle_verdict,
            Some(crate::figures::cycles::Verdict::Plateau)
        );
        let e = parse_str("[gate.variants.glibc]\nmax_retention = \"20%\"").unwrap_err();
        assert_eq!(e.field, "gate.variants.glibc.max_retention");
        let e = parse_str("[gate.variants.glibc]\nrel_tolerance = 2").unwrap_err();
        assert_eq!(e.field, "gate.variants.glibc.rel_tolerance");
        let e = parse_str("[gate.variants.tcmalloc]\nmax_retention = 0.2").unwrap_err();
        assert!(e.message.contains("glibc, jemalloc-bg"), "{e}");
        let e = parse_str("[gate.variants.glibc]\nmin_retention = 0.6\nmax_retention = 0.2")
            .unwrap_err();
        assert!(e.message.contains("no run could pass"), "{e}");
        let e = parse_str("[gate]\nnoise = 3").unwrap_err();
        assert_eq!(e.field, "gate.noise");
    }

    #[test]
    fn after_chooses_the_point_of_the_curve() {
        assert_eq!(parse(None, None).unwrap().after, After::Drain);
        for (text, a) in [
            ("1s", After::OneSecond),
            ("5s", After::FiveSeconds),
            ("drain", After::Drain),
            ("60s", After::SixtySeconds),
        ] {
            let c = parse_str(&format!("[gate]\nafter = \"{text}\"")).unwrap();
            assert_eq!(c.after, a);
        }
        for bad in ["\"2s\"", "1", "\"1 s\""] {
            let e = parse_str(&format!("[gate]\nafter = {bad}")).unwrap_err();
            assert_eq!(e.field, "gate.after");
            assert_eq!(
                e.message,
                format!("expected \"1s\", \"5s\", \"drain\", \"60s\" (RssAnon that long after the load's end, or A at the end of the drain), got {bad}")
            );
        }
    }
}
