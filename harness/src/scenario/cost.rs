//! `[cost]`: the price of each fix. After a variant's memory run, a second server of the same
//! variant and settings but without the egress cap is driven closed-loop for its capacity,
//! then at a fixed rate below it for latency ([`crate::cost`]). `[cost.budget]` is the memory
//! budget a variant must meet to be recommended.

use std::time::Duration;

use allocstorm_core::units;
use serde::{Deserialize, Serialize};

use super::error::{nonzero, positive, Ctx, ScenarioError};
use super::phases::secs;
use super::raw::RawCost;

/// The cost measurement's settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CostSpec {
    /// The variant every cost is a ratio to (default `glibc`).
    pub reference: String,
    /// Client processes and connections of both phases.
    pub processes: u32,
    pub connections: u32,
    /// A few requests at the scenario's warmup rate first, as in the memory run, so that
    /// glibc's dynamic mmap threshold is trained as in production.
    #[serde(with = "secs")]
    pub warmup: Duration,
    /// Closed loop (`--rate max`): ok responses/s is the capacity.
    #[serde(with = "secs")]
    pub capacity: Duration,
    /// A fixed rate below every variant's capacity: latency, CPU and page faults per response.
    #[serde(with = "secs")]
    pub latency: Duration,
    /// The fixed rate as a fraction of the reference's capacity (measured first in the
    /// comparison), unless `latency_rate` gives it.
    pub latency_at: f64,
    /// The fixed rate, requests/s, when given.
    pub latency_rate: Option<f64>,
    pub budget: MemoryBudget,
}

/// `[cost.budget]`: what a variant's memory after drain must meet to be recommended.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MemoryBudget {
    pub max_retention: Option<f64>,
    pub max_after_drain_bytes: Option<u64>,
}

/// `[cost]`, when present and not `enabled = false`.
pub(super) fn cost_spec(ctx: &Ctx, r: Option<&RawCost>) -> Result<Option<CostSpec>, ScenarioError> {
    let Some(r) = r else { return Ok(None) };
    if r.enabled == Some(false) {
        return Ok(None);
    }
    let dur = |field: &str, v: Option<&String>, default: &str| -> Result<Duration, ScenarioError> {
        let d = ctx.unit(&format!("cost.{field}"), v, default, units::parse_duration)?;
        let d = nonzero(ctx, &format!("cost.{field}"), d)?;
        if d > Duration::from_secs(600) {
            return Err(ctx.err(
                &format!("cost.{field}"),
                format!("expected at most 10 minutes, got {d:?}"),
            ));
        }
        Ok(d)
    };
    let latency_at = r.latency_at.unwrap_or(0.5);
    if !(latency_at > 0.0 && latency_at <= 1.0) {
        return Err(ctx.err(
            "cost.latency_at",
            format!("expected a fraction of the reference's capacity above 0 and at most 1, got {latency_at}"),
        ));
    }
    let latency_rate = match &r.latency_rate {
        None => None,
        Some(s) => {
            Some(units::parse_rate(s).map_err(|e| ctx.err("cost.latency_rate", e.to_string()))?)
        }
    };
    let budget = match &r.budget {
        None => MemoryBudget::default(),
        Some(b) => MemoryBudget {
            max_retention: match b.max_retention {
                Some(v) if !(0.0..=1.0).contains(&v) => {
                    return Err(ctx.err(
                        "cost.budget.max_retention",
                        format!("expected a fraction of the peak from 0 to 1, got {v}"),
                    ))
                }
                v => v,
            },
            max_after_drain_bytes: match &b.max_after_drain {
                None => None,
                Some(s) => Some(
                    units::parse_size(s)
                        .map_err(|e| ctx.err("cost.budget.max_after_drain", e.to_string()))?,
                ),
            },
        },
    };
    let spec = CostSpec {
        reference: r.reference.clone().unwrap_or_else(|| "glibc".into()),
        processes: positive(ctx, "cost.processes", r.processes.unwrap_or(2))?,
        connections: positive(ctx, "cost.connections", r.connections.unwrap_or(16))?,
        warmup: dur("warmup", r.warmup.as_ref(), "1s")?,
        capacity: dur("capacity", r.capacity.as_ref(), "5s")?,
        latency: dur("latency", r.latency.as_ref(), "5s")?,
        latency_at,
        latency_rate,
        budget,
    };
    if spec.connections < spec.processes {
        return Err(ctx.err(
            "cost.connections",
            format!(
                "expected at least one connection per process ({} processes), got {}",
                spec.processes, spec.connections
            ),
        ));
    }
    Ok(Some(spec))
}

/// Where `[cost]` applies: the toy server (the egress cap is its setting; a server of the
/// user's own has none the harness could lift), unswept, with a reference that is a variant.
pub(super) fn check_scope(
    ctx: &Ctx,
    c: &CostSpec,
    variants: &[super::Variant],
    target: bool,
    sweep: bool,
) -> Result<(), ScenarioError> {
    if target {
        return Err(ctx.err(
            "cost",
            "expected no [cost] with [target]: the capacity run lifts the toy server's egress cap, which a server of your own does not have (docs/cost.md)",
        ));
    }
    if sweep {
        return Err(ctx.err(
            "cost",
            "expected no [cost] with [sweep]: each point of a sweep would need its own reference (docs/cost.md)",
        ));
    }
    if !variants.iter().any(|v| v.name == c.reference) {
        let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
        return Err(ctx.err(
            "cost.reference",
            format!(
                "expected a variant of the variants file ({}), got {:?}",
                names.join(", "),
                c.reference
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<CostSpec>, ScenarioError> {
        let raw: RawCost = toml::from_str(text).unwrap();
        cost_spec(&Ctx { file: "s.toml" }, Some(&raw))
    }

    #[test]
    fn defaults_and_overrides() {
        let c = parse("").unwrap().unwrap();
        assert_eq!(c.reference, "glibc");
        assert_eq!((c.processes, c.connections), (2, 16));
        assert_eq!(c.capacity, Duration::from_secs(5));
        assert_eq!(c.latency_at, 0.5);
        assert_eq!(c.budget, MemoryBudget::default());
        let c = parse(
            "reference = \"jemalloc\"\nlatency_rate = \"300/s\"\n[budget]\nmax_retention = 0.1\nmax_after_drain = \"64MiB\"\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.reference, "jemalloc");
        assert_eq!(c.latency_rate, Some(300.0));
        assert_eq!(c.budget.max_retention, Some(0.1));
        assert_eq!(c.budget.max_after_drain_bytes, Some(64 << 20));
        assert_eq!(parse("enabled = false").unwrap(), None);
    }

    #[test]
    fn bad_values_name_the_field() {
        for (text, field) in [
            ("latency_at = 1.5", "cost.latency_at"),
            ("latency_at = 0.0", "cost.latency_at"),
            ("capacity = \"0s\"", "cost.capacity"),
            ("latency = \"2h\"", "cost.latency"),
            ("connections = 1\nprocesses = 2", "cost.connections"),
            ("latency_rate = \"fast\"", "cost.latency_rate"),
            ("[budget]\nmax_retention = 2.0", "cost.budget.max_retention"),
            (
                "[budget]\nmax_after_drain = \"lots\"",
                "cost.budget.max_after_drain",
            ),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.field, field, "{text}: {e}");
        }
    }
}
