//! `[phases]`, `[quick]` and `[sampling]`: how long each phase lasts, how often to sample.

use std::time::Duration;

use allocstorm_core::units;
use serde::{Deserialize, Serialize};

use super::error::{Ctx, ScenarioError};
use super::raw::{RawPhases, RawSampling};

/// Phase lengths. `nudge` and `release` are optional (zero: skipped).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhaseSpec {
    #[serde(with = "secs")]
    pub warmup: Duration,
    pub warmup_rate: f64,
    #[serde(with = "secs")]
    pub before: Duration,
    #[serde(with = "secs")]
    pub during: Duration,
    #[serde(with = "secs")]
    pub drain: Duration,
    #[serde(with = "secs")]
    pub nudge: Duration,
    pub nudge_rate: f64,
    /// How long to watch after `POST /admin/release`; zero: no release phase.
    #[serde(with = "secs")]
    pub release: Duration,
    /// How many times `during` + `drain` run (leak or retention: [`crate::figures::cycles`]).
    /// Absent (one) in records of one cycle, as in every record before it existed.
    #[serde(default = "one_cycle", skip_serializing_if = "is_one_cycle")]
    pub cycles: u32,
    /// `[phases] soak`: `during` + `drain` repeat until this long has passed since the first
    /// began (the last cycle completes), at most [`MAX_SOAK_CYCLES`] times; `cycles` is then
    /// unused. Absent without a soak.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_secs")]
    pub soak: Option<Duration>,
}

impl PhaseSpec {
    /// Cycles of `during` + `drain` at most: `cycles`, or as many as a soak can hold.
    pub fn max_cycles(&self) -> u32 {
        match self.soak {
            None => self.cycles.max(1),
            Some(s) => soak_cycles(s, self.during + self.drain),
        }
    }
}

/// The cycles a soak of `soak` plans: enough to cover it, the last one completing.
fn soak_cycles(soak: Duration, period: Duration) -> u32 {
    let n = soak.as_secs_f64() / period.as_secs_f64().max(1e-3);
    n.ceil().clamp(1.0, u32::MAX as f64) as u32
}

fn one_cycle() -> u32 {
    1
}

fn is_one_cycle(n: &u32) -> bool {
    *n == 1
}

/// Most `[phases] cycles`: enough to see a ratchet, short of a typo's hours.
pub const MAX_CYCLES: u32 = 20;

/// Most cycles of a soak: a week of one-minute cycles (10,080), so a soak of 168 hours with a
/// cycle of a second (a typo away) is refused rather than run as 600,000 cycles.
pub const MAX_SOAK_CYCLES: u32 = 10_080;
/// Longest soak: the chunk server's test plan of 7 × 24 h.
pub const MAX_SOAK: Duration = Duration::from_secs(7 * 24 * 3600);
/// Fewest cycles of a soak: a slope with an interval needs three after the first.
pub const MIN_SOAK_CYCLES: u32 = crate::figures::soak::MIN_CYCLES as u32;

#[derive(Debug, Clone, Serialize)]
pub struct SamplingSpec {
    pub interval: Duration,
    pub stats_interval: Duration,
    pub smaps_interval: Duration,
    /// The phases in which the server's stats endpoint is polled ([`STATS_IN_DEFAULT`]).
    pub stats_in: Vec<String>,
    /// Whether the allocator probe runs in the server (`[sampling] probe`, on by default): the
    /// allocator's own figures at every sample, with no request. Off only to show that it
    /// changes nothing.
    pub probe: bool,
}

/// The phases of a run after `startup`, in order.
pub const PHASE_NAMES: [&str; 6] = ["warmup", "before", "during", "drain", "nudge", "release"];

/// The phases whose last second gives B and A. A `/stats` request is allocator activity on one
/// of the server's threads, and allocators that purge only on activity (mimalloc, jemalloc
/// without its background thread) purge because they were watched: measured on hot-range, an
/// idle mimalloc kept 291 MiB after the drain and one polled every second 25 MiB. So by default
/// nothing is asked of the server in these phases; memory comes from `/proc`, which costs the
/// server nothing.
pub const QUIET_PHASES: [&str; 2] = ["before", "drain"];

/// By default `/stats` is polled under the load and in the release phase: never in a quiet
/// phase, and not in `warmup` either, whose end state is what B measures (the warmup's requests
/// are the scenario's, a `/stats` request among them would be the harness's), nor in `nudge`,
/// whose first request must be the nudge's own: on hot-range a `/stats` poll at the nudge's
/// start was what made mimalloc give its memory back, before the nudge's first answer. The
/// allocator's figures in the quiet phases come from the probe, with no request.
pub const STATS_IN_DEFAULT: [&str; 2] = ["during", "release"];

/// Which of [`QUIET_PHASES`] are among `stats_in`.
pub fn observed_quiet(stats_in: &[String]) -> Vec<String> {
    QUIET_PHASES
        .iter()
        .filter(|q| stats_in.iter().any(|p| p == *q))
        .map(|q| q.to_string())
        .collect()
}

pub(super) struct PhaseDefaults {
    warmup: Duration,
    before: Duration,
    during: Duration,
    drain: Duration,
    nudge: Duration,
    release: Duration,
    warmup_rate: f64,
    nudge_rate: f64,
    cycles: u32,
    /// The full scenario's soak, in cycles: a quick soak keeps their number.
    soak_cycles: Option<u32>,
}

impl PhaseDefaults {
    pub(super) const FULL: PhaseDefaults = PhaseDefaults {
        warmup: Duration::from_secs(2),
        before: Duration::from_secs(3),
        during: Duration::from_secs(30),
        drain: Duration::from_secs(15),
        nudge: Duration::ZERO,
        release: Duration::ZERO,
        warmup_rate: 20.0,
        nudge_rate: 5.0,
        cycles: 1,
        soak_cycles: None,
    };

    /// Quick defaults: a quarter of each phase, with floors that keep every figure defined
    /// (B and A are medians over a phase's last second).
    pub(super) fn quick(full: &PhaseSpec) -> PhaseDefaults {
        let q = |d: Duration, floor: u64| {
            if d.is_zero() {
                d
            } else {
                (d / 4).max(Duration::from_millis(floor)).min(d)
            }
        };
        PhaseDefaults {
            warmup: q(full.warmup, 500),
            before: q(full.before, 1500),
            during: q(full.during, 3000),
            drain: q(full.drain, 2000),
            nudge: q(full.nudge, 1000),
            release: q(full.release, 1000),
            warmup_rate: full.warmup_rate,
            nudge_rate: full.nudge_rate,
            cycles: full.cycles,
            soak_cycles: full.soak.map(|_| full.max_cycles()),
        }
    }
}

pub(super) fn phase_spec(
    ctx: &Ctx,
    table: &str,
    r: &RawPhases,
    d: &PhaseDefaults,
) -> Result<PhaseSpec, ScenarioError> {
    let dur =
        |name: &str, v: &Option<String>, default: Duration| -> Result<Duration, ScenarioError> {
            let field = format!("{table}.{name}");
            match v {
                None => Ok(default),
                Some(s) => units::parse_duration(s).map_err(|e| ctx.err(&field, e.to_string())),
            }
        };
    let rate = |name: &str, v: &Option<String>, default: f64| -> Result<f64, ScenarioError> {
        match v {
            None => Ok(default),
            Some(s) => {
                units::parse_rate(s).map_err(|e| ctx.err(&format!("{table}.{name}"), e.to_string()))
            }
        }
    };
    let p = PhaseSpec {
        warmup: dur("warmup", &r.warmup, d.warmup)?,
        warmup_rate: rate("warmup_rate", &r.warmup_rate, d.warmup_rate)?,
        before: dur("before", &r.before, d.before)?,
        during: dur("during", &r.during, d.during)?,
        drain: dur("drain", &r.drain, d.drain)?,
        nudge: dur("nudge", &r.nudge, d.nudge)?,
        nudge_rate: rate("nudge_rate", &r.nudge_rate, d.nudge_rate)?,
        release: dur("release", &r.release, d.release)?,
        cycles: match r.cycles {
            None => d.cycles,
            Some(n) if (1..=MAX_CYCLES as i64).contains(&n) => n as u32,
            Some(n) => {
                return Err(ctx.err(
                    &format!("{table}.cycles"),
                    format!("expected 1 to {MAX_CYCLES} cycles of during + drain, got {n}"),
                ))
            }
        },
        soak: None,
    };
    let p = PhaseSpec {
        soak: soak(ctx, table, r, d, &p)?,
        ..p
    };
    // B and A are medians over the last second of their phase: shorter phases cannot give them.
    for (name, v, min) in [
        ("before", p.before, Duration::from_secs(1)),
        ("during", p.during, Duration::from_secs(1)),
        ("drain", p.drain, Duration::from_secs(1)),
    ] {
        if v < min {
            return Err(ctx.err(
                &format!("{table}.{name}"),
                format!("expected at least {}s (figures are medians over a phase's last second), got {:?}", min.as_secs(), v),
            ));
        }
    }
    let total = p.warmup + p.before + (p.during + p.drain) * p.cycles + p.nudge + p.release;
    if p.soak.is_none() && total > Duration::from_secs(6 * 3600) {
        return Err(ctx.err(
            table,
            format!("phases add up to {total:?}: expected at most 6h"),
        ));
    }
    Ok(p)
}

/// `[phases] soak`: a duration of at least [`MIN_SOAK_CYCLES`] and at most
/// [`MAX_SOAK_CYCLES`] cycles and [`MAX_SOAK`], without `cycles`. A `[quick]` soak not set
/// there keeps the full soak's number of cycles, of the quick phases.
fn soak(
    ctx: &Ctx,
    table: &str,
    r: &RawPhases,
    d: &PhaseDefaults,
    p: &PhaseSpec,
) -> Result<Option<Duration>, ScenarioError> {
    let field = format!("{table}.soak");
    let period = p.during + p.drain;
    let soak = match (&r.soak, d.soak_cycles) {
        (None, None) => return Ok(None),
        (Some(s), _) => units::parse_duration(s).map_err(|e| ctx.err(&field, e.to_string()))?,
        (None, Some(n)) => return Ok(Some(period * n)),
    };
    if r.cycles.is_some() {
        return Err(ctx.err(
            &format!("{table}.cycles"),
            "expected either cycles or soak, not both (a soak repeats its cycles for its length)",
        ));
    }
    let n = soak_cycles(soak, period);
    if soak > MAX_SOAK || n > MAX_SOAK_CYCLES {
        return Err(ctx.err(&field, format!(
            "expected at most {}h and {MAX_SOAK_CYCLES} cycles of during + drain ({period:?} each), got {soak:?}: {n} cycles",
            MAX_SOAK.as_secs() / 3600
        )));
    }
    if soak < period * (MIN_SOAK_CYCLES - 1) + Duration::from_millis(1) {
        return Err(ctx.err(&field, format!(
            "expected more than {MIN_SOAK_CYCLES} − 1 cycles of during + drain ({period:?} each; a slope with an interval needs 3 cycles after the first), got {soak:?}"
        )));
    }
    Ok(Some(soak))
}

/// `sampling.stats_in`: phase names, each once.
fn stats_in(ctx: &Ctx, v: Option<&[String]>) -> Result<Vec<String>, ScenarioError> {
    let Some(v) = v else {
        return Ok(STATS_IN_DEFAULT.iter().map(|s| s.to_string()).collect());
    };
    let mut out: Vec<String> = Vec::new();
    for (i, p) in v.iter().enumerate() {
        if !PHASE_NAMES.contains(&p.as_str()) {
            return Err(ctx.err(
                &format!("sampling.stats_in[{i}]"),
                format!(
                    "expected a phase name ({}), got {p:?}",
                    PHASE_NAMES.join(", ")
                ),
            ));
        }
        if out.contains(p) {
            return Err(ctx.err(
                &format!("sampling.stats_in[{i}]"),
                format!("{p:?} is listed twice"),
            ));
        }
        out.push(p.clone());
    }
    Ok(out)
}

/// An optional duration, in seconds, as [`secs`].
pub mod opt_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::secs::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(|v| Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Durations in records are seconds (a float), as every reader of the JSON expects.
pub mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}

/// `[sampling]`: how often memory, `/stats` and smaps are read.
pub(super) fn sampling_spec(ctx: &Ctx, r: &RawSampling) -> Result<SamplingSpec, ScenarioError> {
    let sampling = SamplingSpec {
        interval: ctx.unit(
            "sampling.interval",
            r.interval.as_ref(),
            "50ms",
            units::parse_duration,
        )?,
        stats_interval: ctx.unit(
            "sampling.stats_interval",
            r.stats_interval.as_ref(),
            "1s",
            units::parse_duration,
        )?,
        smaps_interval: ctx.unit(
            "sampling.smaps_interval",
            r.smaps_interval.as_ref(),
            "1s",
            units::parse_duration,
        )?,
        stats_in: stats_in(ctx, r.stats_in.as_deref())?,
        probe: r.probe.unwrap_or(true),
    };
    if sampling.interval < Duration::from_millis(1) || sampling.interval > Duration::from_secs(10) {
        return Err(ctx.err(
            "sampling.interval",
            format!("expected between 1ms and 10s, got {:?}", sampling.interval),
        ));
    }
    Ok(sampling)
}
