//! A plan a worker receives from another process or host, checked before anything of it runs.
//!
//! A coordinator is authenticated ([`super::handshake`]) but its plan is still input: a plan
//! of `processes = 0` divided by zero (exit 101), one of a `duration` near `u64::MAX` seconds
//! overflowed an `Instant` (a panic). A worker runs a plan only if it passes the checks a plan
//! made from flags passes ([`LoadPlan::checked`]) and stays within limits no real load comes
//! near: its error is one line naming the field, the value and the limit.

use std::time::Duration;

use super::mix::{Mix, MAX_BODY};
use super::plan::LoadPlan;
use super::wire::WorkerPlan;

/// The longest load: a week, the longest soak ([`crate::scenario::phases::MAX_SOAK`]).
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest request timeout and retry backoff.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);
/// Connections of a load in total.
pub const MAX_CONNECTIONS: usize = 1_000_000;
/// Offered rate, requests per second in total: from one a quarter of an hour to ten million.
pub const RATE: (f64, f64) = (0.001, 10_000_000.0);
pub const MAX_RETRIES: u32 = 1000;
pub const MAX_STEPS: usize = 10_000;
pub const MAX_ENTRIES: usize = 1024;
/// The last byte a range may ask for (1 EiB): a range's length never overflows.
pub const MAX_BYTE: u64 = 1 << 60;
/// The longest path of a request line.
pub const MAX_PATH: usize = 8 * 1024;

/// Whether worker plan `wp` may run; the error names what is wrong.
pub fn check_received(wp: &WorkerPlan) -> Result<(), String> {
    let p = &wp.plan;
    p.clone().checked().map_err(|e| e.to_string())?;
    if wp.index >= p.processes {
        return Err(format!(
            "index {}: a plan of {} processes has workers 0 to {}",
            wp.index,
            p.processes,
            p.processes - 1
        ));
    }
    plan_limits(p)?;
    match &p.mix {
        Some(mix) => mix_limits(mix),
        None => Ok(()),
    }
}

fn over(field: &str, value: impl std::fmt::Debug, limit: impl std::fmt::Display) -> String {
    format!("{field} {value:?}: expected {limit}")
}

fn plan_limits(p: &LoadPlan) -> Result<(), String> {
    for (field, d, max) in [
        ("duration", p.duration, MAX_DURATION),
        ("timeout", p.timeout, MAX_WAIT),
        ("backoff", p.backoff, MAX_WAIT),
    ] {
        if d > max {
            return Err(over(field, d, format!("at most {max:?}")));
        }
    }
    if p.connections > MAX_CONNECTIONS {
        return Err(over(
            "connections",
            p.connections,
            format!("at most {MAX_CONNECTIONS}"),
        ));
    }
    let rates = p.rate.into_iter().chain(p.steps.iter().map(|s| s.rate));
    for r in rates {
        if !(RATE.0..=RATE.1).contains(&r) {
            return Err(over(
                "rate",
                r,
                format!("{} to {} requests a second", RATE.0, RATE.1),
            ));
        }
    }
    if p.retries > MAX_RETRIES {
        return Err(over("retries", p.retries, format!("at most {MAX_RETRIES}")));
    }
    if p.steps.len() > MAX_STEPS {
        return Err(over("steps", p.steps.len(), format!("at most {MAX_STEPS}")));
    }
    range("range", p.range)?;
    path("target.path", &p.target.path)
}

fn range(field: &str, r: (u64, u64)) -> Result<(), String> {
    if r.0 > r.1 || r.1 > MAX_BYTE {
        return Err(over(
            field,
            r,
            format!("a first byte at most the last, the last at most {MAX_BYTE}"),
        ));
    }
    Ok(())
}

fn path(field: &str, p: &str) -> Result<(), String> {
    if !p.starts_with('/') || p.len() > MAX_PATH {
        return Err(over(
            field,
            crate::load::bounded::shorten(p),
            format!("a path starting with / of at most {MAX_PATH} bytes"),
        ));
    }
    Ok(())
}

fn mix_limits(mix: &Mix) -> Result<(), String> {
    let n = mix.entries.len();
    if n == 0 || n > MAX_ENTRIES {
        return Err(over(
            "mix.entries",
            n,
            format!("1 to {MAX_ENTRIES} entries"),
        ));
    }
    if mix.entries.iter().all(|e| e.weight == 0) {
        return Err("mix.entries: every weight is 0, expected one above zero".to_string());
    }
    if mix.keys == 0 {
        return Err(over("mix.keys", 0, "a key space of at least one key"));
    }
    for (i, e) in mix.entries.iter().enumerate() {
        let field = |f: &str| format!("mix.entries[{i}].{f}");
        if !e.keys.is_valid() {
            return Err(over(
                &field("keys"),
                e.keys,
                "uniform, zipf:S (S > 0) or hot:F (0 < F <= 1)",
            ));
        }
        if let Some(r) = e.range {
            range(&field("range"), r)?;
        }
        if let Some(b) = e.body {
            if b.0 > b.1 || b.1 > MAX_BODY {
                return Err(over(
                    &field("body"),
                    b,
                    format!("a smallest size at most the largest, at most {MAX_BODY} bytes"),
                ));
            }
        }
        path(&field("path"), &e.path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::mix::{KeyDist, Method, MixEntry};
    use crate::load::plan::Target;
    use crate::load::RateStep;

    fn good() -> WorkerPlan {
        WorkerPlan {
            index: 1,
            plan: LoadPlan {
                target: Target::at(([10, 0, 0, 1], 8080).into(), "/file/hot"),
                range: (0, 1023),
                processes: 2,
                connections: 4,
                rate: Some(100.0),
                steps: vec![RateStep {
                    at: Duration::from_secs(1),
                    rate: 200.0,
                }],
                duration: Duration::from_secs(2),
                timeout: Duration::from_secs(1),
                retries: 0,
                backoff: Duration::from_millis(100),
                allow_remote: true,
                mix: Some(Mix {
                    keys: 10,
                    seed: 1,
                    entries: vec![MixEntry {
                        weight: 1,
                        method: Method::Put,
                        path: "/files/{key}".into(),
                        keys: KeyDist::Zipf(1.1),
                        range: None,
                        body: Some((1, 4096)),
                    }],
                }),
            },
        }
    }

    #[test]
    fn a_plan_from_the_harness_passes() {
        assert_eq!(check_received(&good()), Ok(()));
    }

    /// Each hostile plan a coordinator could send, refused with one line naming the field; none
    /// panics (before this check, the first two panicked the worker).
    #[test]
    fn hostile_plans_are_refused_by_field() {
        type Edit = fn(&mut WorkerPlan);
        let cases: [(&str, Edit); 20] = [
            ("--processes \"0\"", |w| w.plan.processes = 0),
            ("duration", |w| {
                w.plan.duration = Duration::from_secs(u64::MAX)
            }),
            ("timeout", |w| w.plan.timeout = Duration::MAX),
            ("backoff", |w| w.plan.backoff = Duration::from_secs(1 << 40)),
            ("index 2", |w| w.index = 2),
            ("--connections", |w| w.plan.connections = 1),
            ("connections", |w| w.plan.connections = usize::MAX),
            ("--rate", |w| w.plan.rate = Some(f64::NAN)),
            ("rate", |w| w.plan.rate = Some(1e-300)),
            ("rate", |w| w.plan.steps[0].rate = 1e30),
            ("retries", |w| w.plan.retries = u32::MAX),
            ("--step", |w| w.plan.steps[0].at = Duration::from_secs(9)),
            ("range", |w| w.plan.range = (5, 3)),
            ("range", |w| w.plan.range = (0, u64::MAX)),
            ("target.path", |w| w.plan.target.path = "x".into()),
            ("mix.entries", |w| {
                w.plan.mix.as_mut().unwrap().entries.clear()
            }),
            ("mix.entries", |w| {
                w.plan.mix.as_mut().unwrap().entries[0].weight = 0
            }),
            ("mix.keys", |w| w.plan.mix.as_mut().unwrap().keys = 0),
            ("mix.entries[0].keys", |w| {
                w.plan.mix.as_mut().unwrap().entries[0].keys = KeyDist::Zipf(f64::NAN)
            }),
            ("mix.entries[0].body", |w| {
                w.plan.mix.as_mut().unwrap().entries[0].body = Some((9, 3))
            }),
        ];
        for (field, edit) in cases {
            let mut wp = good();
            edit(&mut wp);
            let e = check_received(&wp).unwrap_err();
            assert!(e.starts_with(field), "{field}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn limits_are_inclusive() {
        let mut wp = good();
        wp.plan.duration = MAX_DURATION;
        wp.plan.timeout = MAX_WAIT;
        wp.plan.range = (0, MAX_BYTE);
        wp.plan.mix.as_mut().unwrap().entries[0].body = Some((0, MAX_BODY));
        assert_eq!(check_received(&wp), Ok(()));
    }
}
