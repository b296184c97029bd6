//! `[load]`: what the load client sends, as typed values.

use std::time::Duration;

use allocstorm_core::units;
use serde::Serialize;

use super::error::{nonzero, positive, Ctx, ScenarioError};
use super::phases::{secs, PhaseSpec};
use super::raw::RawLoad;
use crate::load::mix::Mix;

#[derive(Debug, Clone, Serialize)]
pub struct LoadSpec {
    pub path: String,
    pub range: (u64, u64),
    pub processes: u32,
    pub connections: u32,
    /// Requests per second offered; `None` is closed loop (`max`).
    pub rate: Option<f64>,
    pub timeout: Duration,
    pub retries: u32,
    pub backoff: Duration,
    /// Rate steps of the `during` load (a burst): from `at` on, the offered rate is `rate`.
    pub steps: Vec<RateStep>,
    /// `[load] command`: the scenario's own tool drives the phases it names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<super::tool::ToolSpec>,
    /// `[[load.request]]`: a request mix instead of GETs of `path` with `range`.
    pub mix: Option<Mix>,
}

/// When a rate step starts: a fraction of the `during` phase (`"40%"`), or an offset into it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepAt {
    Fraction(f64),
    #[serde(with = "secs")]
    After(Duration),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RateStep {
    pub at: StepAt,
    /// Requests per second offered from `at` on.
    pub rate: f64,
}

impl StepAt {
    pub fn offset(&self, during: Duration) -> Duration {
        match *self {
            StepAt::Fraction(f) => during.mul_f64(f),
            StepAt::After(d) => d,
        }
    }
}

impl LoadSpec {
    /// The steps as `allocstorm load --step AT=RATE` values for a `during` of this length.
    pub fn step_args(&self, during: Duration) -> Vec<String> {
        self.steps
            .iter()
            .map(|s| format!("{}ms={}/s", s.at.offset(during).as_millis(), s.rate))
            .collect()
    }
}

pub(super) fn load_spec(
    ctx: &Ctx,
    r: &RawLoad,
    scenario_path: &std::path::Path,
    seed: u64,
) -> Result<LoadSpec, ScenarioError> {
    let tool = super::tool::tool_spec(ctx, r, scenario_path)?;
    let mix = super::mix::mix_spec(ctx, r, seed)?;
    // A mix's entries carry their own paths; the target is the server itself.
    let default_path = if mix.is_some() { "/" } else { "/file/hot" };
    let path = r.path.clone().unwrap_or_else(|| default_path.into());
    if !path.starts_with('/') {
        return Err(ctx.err(
            "load.path",
            format!("expected a path starting with '/', got {path:?}"),
        ));
    }
    let range = ctx.unit(
        "load.range",
        r.range.as_ref(),
        "0-1048575",
        units::parse_size_range,
    )?;
    let processes = positive(ctx, "load.processes", r.processes.unwrap_or(4))?;
    let connections = positive(ctx, "load.connections", r.connections.unwrap_or(64))?;
    if connections < processes {
        return Err(ctx.err(
            "load.connections",
            format!(
                "expected at least one connection per process ({processes}), got {connections}"
            ),
        ));
    }
    let rate = match r.rate.as_deref() {
        None | Some("max") => None,
        Some(v) => {
            let rate =
                units::parse_rate(v).map_err(|e| ctx.err("load.rate", format!("{e} or max")))?;
            Some(positive(ctx, "load.rate", rate)?)
        }
    };
    let mut steps = Vec::new();
    for (i, st) in r.steps.iter().flatten().enumerate() {
        let field = format!("load.steps[{i}]");
        if rate.is_none() {
            return Err(ctx.err(
                &field,
                "rate steps need an open-loop load.rate (requests per second), not max",
            ));
        }
        let at = match st.at.trim().strip_suffix('%') {
            Some(pct) => match pct.trim().parse::<f64>() {
                Ok(p) if p > 0.0 && p < 100.0 => StepAt::Fraction(p / 100.0),
                _ => {
                    return Err(ctx.err(
                        &format!("{field}.at"),
                        format!(
                            "expected a percentage of the during phase between 0% and 100%, or a duration, got {:?}",
                            st.at
                        ),
                    ))
                }
            },
            None => StepAt::After(
                units::parse_duration(&st.at)
                    .map_err(|e| ctx.err(&format!("{field}.at"), format!("{e} or a percentage")))?,
            ),
        };
        let r = units::parse_rate(&st.rate)
            .map_err(|e| ctx.err(&format!("{field}.rate"), e.to_string()))?;
        steps.push(RateStep {
            at,
            rate: positive(ctx, &format!("{field}.rate"), r)?,
        });
    }
    Ok(LoadSpec {
        tool,
        mix,
        steps,
        path,
        range,
        processes,
        connections,
        rate,
        timeout: nonzero(
            ctx,
            "load.timeout",
            ctx.unit(
                "load.timeout",
                r.timeout.as_ref(),
                "3s",
                units::parse_duration,
            )?,
        )?,
        retries: r.retries.unwrap_or(0),
        backoff: ctx.unit(
            "load.backoff",
            r.backoff.as_ref(),
            "100ms",
            units::parse_duration,
        )?,
    })
}

/// Steps must start inside `during` and in order, for the full phases and the quick ones.
pub(super) fn check_steps(
    ctx: &Ctx,
    steps: &[RateStep],
    phase_sets: &[(&str, &PhaseSpec)],
) -> Result<(), ScenarioError> {
    for (table, p) in phase_sets {
        let mut last = Duration::ZERO;
        for (i, s) in steps.iter().enumerate() {
            let at = s.at.offset(p.during);
            if at.is_zero() || at >= p.during || at <= last {
                return Err(ctx.err(
                    &format!("load.steps[{i}].at"),
                    format!(
                        "expected steps in increasing order inside {table}.during ({:?}), got {at:?}",
                        p.during
                    ),
                ));
            }
            last = at;
        }
    }
    Ok(())
}

/// `load.range` over the file the scenario creates (`size_field` = its size): the range must end
/// inside it. The server would clamp it, and every response would then be shorter than what the
/// load counts as a good one. A mix names its own ranges; a `file` of its own is not known here.
pub(super) fn check_range_in_file(
    ctx: &Ctx,
    load: &LoadSpec,
    size_field: &str,
    size: u64,
) -> Result<(), ScenarioError> {
    let (lo, hi) = load.range;
    if load.mix.is_some() || hi < size {
        return Ok(());
    }
    Err(ctx.err(
        "load.range",
        format!(
            "expected a range inside the file of {size_field} ({size} bytes: 0-{}), got {lo}-{hi}",
            size - 1
        ),
    ))
}
