//! [`LoadArgs`] checked into a [`LoadPlan`]: units parsed, the target split, each worker's share.
//!
//! Everything a person can get wrong on the command line is caught here, before any process is
//! started, with one line naming the flag, the value and what was expected.

use std::net::IpAddr;
use std::time::Duration;

use allocstorm_core::units;
use serde::{Deserialize, Serialize};

use super::mix::Mix;
use super::schedule::{RateStep, Schedule};
use super::{LoadArgs, LoadError};

/// More workers than this is a typo, not a load test: refuse rather than fork thousands.
const MAX_PROCESSES: usize = 1024;

/// The URL being loaded, split for connecting and for the request line.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as given, for reports.
    pub url: String,
    /// Host to resolve, without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// Path and query for the request line; `/` when the URL has none.
    pub path: String,
    /// `Host` header value: the URL's authority.
    pub authority: String,
}

/// A validated load: what every worker needs to run its share.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct LoadPlan {
    pub target: Target,
    /// First and last byte requested (inclusive).
    pub range: (u64, u64),
    pub processes: usize,
    /// Connections in total.
    pub connections: usize,
    /// Offered requests per second in total; `None` is closed loop (`--rate max`). With
    /// `steps`, the rate from the start.
    pub rate: Option<f64>,
    /// Open loop: where the total rate changes (`--step`), strictly increasing, each before
    /// `duration`. Empty: `rate` throughout.
    #[serde(default)]
    pub steps: Vec<RateStep>,
    pub duration: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub backoff: Duration,
    pub allow_remote: bool,
    /// A request mix (`[[load.request]]`) instead of GETs of `target.path` with `range`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mix: Option<Mix>,
}

fn bad(flag: &'static str, value: &str, expected: impl Into<String>) -> LoadError {
    LoadError::BadFlag {
        flag,
        value: value.to_string(),
        expected: expected.into(),
    }
}

impl Target {
    /// `http://ADDR/PATH` on a server whose address is known (the harness's own runs).
    pub fn at(addr: std::net::SocketAddr, path: &str) -> Target {
        Target {
            url: format!("http://{addr}{path}"),
            host: addr.ip().to_string(),
            port: addr.port(),
            path: path.to_string(),
            authority: addr.to_string(),
        }
    }
}

impl LoadPlan {
    /// Checks a plan made from typed values (the harness's phases) as [`LoadArgs::plan`] checks
    /// one made from flags: loopback unless allowed, counts, rate, durations, steps in order.
    pub fn checked(self) -> Result<LoadPlan, LoadError> {
        if !self.allow_remote && !is_loopback_host(&self.target.host) {
            return Err(LoadError::Remote {
                url: self.target.url.clone(),
                host: self.target.host.clone(),
            });
        }
        let n = |v: usize| v.to_string();
        if self.processes == 0 || self.processes > MAX_PROCESSES {
            return Err(bad(
                "--processes",
                &n(self.processes),
                format!("a number of worker processes from 1 to {MAX_PROCESSES}"),
            ));
        }
        if self.connections < self.processes {
            return Err(bad(
                "--connections",
                &n(self.connections),
                format!(
                    "at least one connection per process (--processes {})",
                    self.processes
                ),
            ));
        }
        let above_zero = |r: f64| r.is_finite() && r > 0.0;
        if self.rate.is_some_and(|r| !above_zero(r))
            || (self.rate.is_none() && !self.steps.is_empty())
        {
            return Err(bad(
                "--rate",
                &format!("{:?}", self.rate),
                "a rate above zero (and one to step from, with steps)",
            ));
        }
        for (flag, d) in [("--duration", self.duration), ("--timeout", self.timeout)] {
            if d.is_zero() {
                return Err(bad(
                    flag,
                    "0s",
                    "a duration above zero such as 250ms, 3s or 1m",
                ));
            }
        }
        let mut after = Duration::ZERO;
        for s in &self.steps {
            if s.at <= after || s.at >= self.duration || !above_zero(s.rate) {
                return Err(bad(
                    "--step",
                    &format!("{}={}/s", show_secs(s.at), s.rate),
                    "steps in increasing order inside the load, each at a rate above zero",
                ));
            }
            after = s.at;
        }
        Ok(self)
    }
}

impl LoadArgs {
    /// Checks the arguments. Refuses a target outside loopback unless `--allow-remote`.
    pub fn plan(&self) -> Result<LoadPlan, LoadError> {
        let target = parse_target(&self.target)?;
        if !self.allow_remote && !is_loopback_host(&target.host) {
            return Err(LoadError::Remote {
                url: self.target.clone(),
                host: target.host,
            });
        }
        const RANGE_EXPECTED: &str = "an inclusive byte range A-B such as 0-1048575 or 0-1MiB";
        let range = units::parse_size_range(&self.range)
            .map_err(|_| bad("--range", &self.range, RANGE_EXPECTED))?;
        if self.processes == 0 || self.processes > MAX_PROCESSES {
            return Err(bad(
                "--processes",
                &self.processes.to_string(),
                format!("a number of worker processes from 1 to {MAX_PROCESSES}"),
            ));
        }
        if self.connections < self.processes {
            return Err(bad(
                "--connections",
                &self.connections.to_string(),
                format!(
                    "at least one connection per process (--processes {})",
                    self.processes
                ),
            ));
        }
        let rate = if self.rate.trim().eq_ignore_ascii_case("max") {
            None
        } else {
            const RATE_EXPECTED: &str = "\"max\" or a rate above zero such as 400/s or 10k/s";
            let r = units::parse_rate(&self.rate)
                .map_err(|_| bad("--rate", &self.rate, RATE_EXPECTED))?;
            if r <= 0.0 {
                return Err(bad("--rate", &self.rate, RATE_EXPECTED));
            }
            Some(r)
        };
        let positive = |flag: &'static str, value: &str| -> Result<Duration, LoadError> {
            const EXPECTED: &str = "a duration above zero such as 250ms, 3s or 1m";
            match units::parse_duration(value) {
                Ok(d) if !d.is_zero() => Ok(d),
                _ => Err(bad(flag, value, EXPECTED)),
            }
        };
        let duration = positive("--duration", &self.duration)?;
        if rate.is_none() && !self.steps.is_empty() {
            return Err(bad(
                "--rate",
                &self.rate,
                "a rate above zero such as 200/s for --step to step from (--rate max is closed \
                 loop, which has no rate to change)",
            ));
        }
        let steps = parse_steps(&self.steps, duration)?;
        let timeout = positive("--timeout", &self.timeout)?;
        let backoff = units::parse_duration(&self.backoff).map_err(|_| {
            bad(
                "--backoff",
                &self.backoff,
                "a duration such as 0ms, 100ms or 1s",
            )
        })?;
        Ok(LoadPlan {
            target,
            range,
            processes: self.processes,
            connections: self.connections,
            rate,
            steps,
            duration,
            timeout,
            retries: self.retries,
            backoff,
            allow_remote: self.allow_remote,
            mix: None,
        })
    }
}

impl LoadPlan {
    /// Bytes in the requested range, which is what every good response carries.
    pub fn range_len(&self) -> u64 {
        // Checked where the range is read; a plan from elsewhere must not overflow here.
        self.range.1.saturating_sub(self.range.0).saturating_add(1)
    }

    /// The `Range` header value.
    pub fn range_header(&self) -> String {
        format!("bytes={}-{}", self.range.0, self.range.1)
    }

    /// Connections of worker `index`: an even split, the first workers taking the remainder.
    pub fn worker_connections(&self, index: usize) -> usize {
        let base = self.connections / self.processes;
        base + usize::from(index < self.connections % self.processes)
    }

    /// The open-loop schedule of worker `index`, `None` in closed loop.
    pub fn worker_schedule(&self, index: usize) -> Option<Schedule> {
        self.rate
            .map(|rate| Schedule::stepped(rate, &self.steps, self.processes as u64, index as u64))
    }
}

/// `--step AT=RATE` values, in order. Each must start after the previous one (after 0 for the
/// first: the rate from 0 is `--rate`) and before the end of `--duration`.
fn parse_steps(values: &[String], duration: Duration) -> Result<Vec<RateStep>, LoadError> {
    const SHAPE: &str = "AT=RATE, an offset from the start and the total rate from then on, \
                         such as 4s=800/s";
    let mut steps: Vec<RateStep> = Vec::with_capacity(values.len());
    for value in values {
        let Some((at, rate)) = value.split_once('=') else {
            return Err(bad("--step", value, SHAPE));
        };
        let at = units::parse_duration(at).map_err(|_| {
            bad(
                "--step",
                value,
                "AT=RATE with AT an offset from the start such as 4s, 1500ms or 1m",
            )
        })?;
        let rate = match units::parse_rate(rate) {
            Ok(r) if r > 0.0 => r,
            _ => {
                return Err(bad(
                    "--step",
                    value,
                    "AT=RATE with RATE a rate above zero such as 800/s or 10k/s",
                ))
            }
        };
        let after = steps.last().map_or(Duration::ZERO, |s| s.at);
        if at <= after {
            let expected = match steps.last() {
                Some(_) => format!(
                    "an offset AT after the previous --step's {} (steps in increasing order)",
                    show_secs(after)
                ),
                None => "an offset AT above zero (the rate from 0 is --rate)".to_string(),
            };
            return Err(bad("--step", value, expected));
        }
        if at >= duration {
            return Err(bad(
                "--step",
                value,
                format!(
                    "an offset AT before the end of the load (--duration {})",
                    show_secs(duration)
                ),
            ));
        }
        steps.push(RateStep { at, rate });
    }
    Ok(steps)
}

/// `4s`, `1.5s`, `0.25s`: short and exact enough for a message.
fn show_secs(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

fn parse_target(url: &str) -> Result<Target, LoadError> {
    const EXPECTED: &str = "an http:// URL such as http://127.0.0.1:8080/file/hot";
    let uri: hyper::Uri = url
        .trim()
        .parse()
        .map_err(|_| bad("--target", url, EXPECTED))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(bad(
                "--target",
                url,
                "an http:// URL (https is not supported)",
            ))
        }
        _ => return Err(bad("--target", url, EXPECTED)),
    }
    let authority = uri
        .authority()
        .ok_or_else(|| bad("--target", url, EXPECTED))?;
    if authority.as_str().contains('@') {
        return Err(bad("--target", url, "an http:// URL without user info"));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    if host.is_empty() {
        return Err(bad("--target", url, EXPECTED));
    }
    let path = uri
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| !p.is_empty())
        .unwrap_or("/")
        .to_string();
    Ok(Target {
        url: url.trim().to_string(),
        host,
        port: authority.port_u16().unwrap_or(80),
        path,
        authority: authority.as_str().to_string(),
    })
}

/// Loopback by name (`localhost`) or by address (127.0.0.0/8, ::1, and ::ffff:127.x.y.z).
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_end_matches('.');
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match h.parse::<IpAddr>() {
        Ok(ip) => is_loopback_ip(ip),
        Err(_) => false,
    }
}

/// Whether an address a name resolved to is loopback; checked again after resolution so that a
/// `localhost` mapped elsewhere in /etc/hosts is not loaded by accident.
pub fn is_loopback_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        load: LoadArgs,
    }

    fn args(extra: &[&str]) -> LoadArgs {
        let mut argv = vec!["load"];
        argv.extend_from_slice(extra);
        Cli::parse_from(argv).load
    }

    fn error(extra: &[&str]) -> String {
        args(extra).plan().unwrap_err().to_string()
    }

    #[test]
    fn defaults_plan() {
        let p = args(&["--target", "http://127.0.0.1:8080/file/hot"])
            .plan()
            .unwrap();
        assert_eq!(p.target.host, "127.0.0.1");
        assert_eq!(p.target.port, 8080);
        assert_eq!(p.target.path, "/file/hot");
        assert_eq!(p.target.authority, "127.0.0.1:8080");
        assert_eq!(p.range, (0, 1048575));
        assert_eq!(p.range_len(), 1 << 20);
        assert_eq!(p.range_header(), "bytes=0-1048575");
        assert_eq!(p.rate, None);
        assert_eq!(p.duration, Duration::from_secs(10));
        assert_eq!(p.timeout, Duration::from_secs(3));
        assert_eq!(p.backoff, Duration::from_millis(100));
        assert_eq!((p.processes, p.connections, p.retries), (1, 8, 0));
    }

    #[test]
    fn units_and_targets() {
        let p = args(&[
            "--target",
            "http://[::1]/x?y=1",
            "--range",
            "0-1MiB",
            "--rate",
            "10k/s",
            "--duration",
            "1.5m",
        ])
        .plan()
        .unwrap();
        assert_eq!(p.target.host, "::1");
        assert_eq!(p.target.port, 80);
        assert_eq!(p.target.path, "/x?y=1");
        assert_eq!(p.range, (0, 1 << 20));
        assert_eq!(p.rate, Some(10_000.0));
        assert_eq!(p.duration, Duration::from_secs(90));
        let p = args(&["--target", "http://localhost:9"]).plan().unwrap();
        assert_eq!(p.target.path, "/");
        assert_eq!(p.target.authority, "localhost:9");
    }

    #[test]
    fn bad_input_names_flag_value_and_expectation() {
        let e = error(&["--target", "http://127.0.0.1:1/", "--rate", "fast"]);
        assert_eq!(
            e,
            "--rate \"fast\": expected \"max\" or a rate above zero such as 400/s or 10k/s"
        );
        let e = error(&["--target", "http://127.0.0.1:1/", "--rate", "0/s"]);
        assert!(e.starts_with("--rate \"0/s\""), "{e}");
        let e = error(&["--target", "http://127.0.0.1:1/", "--range", "9-3"]);
        assert!(e.starts_with("--range \"9-3\": expected"), "{e}");
        let e = error(&["--target", "http://127.0.0.1:1/", "--timeout", "0s"]);
        assert!(e.starts_with("--timeout \"0s\": expected"), "{e}");
        let e = error(&["--target", "http://127.0.0.1:1/", "--duration", "soon"]);
        assert!(e.starts_with("--duration \"soon\": expected"), "{e}");
        let e = error(&["--target", "http://127.0.0.1:1/", "--backoff=-1s"]);
        assert!(e.starts_with("--backoff \"-1s\": expected"), "{e}");
        let e = error(&["--target", "127.0.0.1:8080"]);
        assert!(
            e.starts_with("--target \"127.0.0.1:8080\": expected an http://"),
            "{e}"
        );
        let e = error(&["--target", "https://127.0.0.1/"]);
        assert!(e.contains("https is not supported"), "{e}");
        let e = error(&["--target", "http://127.0.0.1/", "--processes", "0"]);
        assert!(e.starts_with("--processes \"0\": expected"), "{e}");
        let e = error(&[
            "--target",
            "http://127.0.0.1/",
            "--processes",
            "4",
            "--connections",
            "2",
        ]);
        assert!(e.contains("at least one connection per process"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn loopback_only_unless_allowed() {
        for remote in [
            "http://10.1.2.3/",
            "http://example.com/",
            "http://[2001:db8::1]/",
        ] {
            let e = error(&["--target", remote]);
            assert!(e.contains("--allow-remote"), "{e}");
            assert!(args(&["--target", remote, "--allow-remote"]).plan().is_ok());
        }
        for local in [
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "localhost",
            "LOCALHOST.",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback_host(local), "{local}");
        }
        assert!(!is_loopback_host("localhost.example.com"));
        assert!(!is_loopback_host("0.0.0.0"));
    }

    #[test]
    fn steps_plan_in_order() {
        let p = args(&[
            "--target",
            "http://127.0.0.1/",
            "--rate",
            "200/s",
            "--duration",
            "12s",
            "--step",
            "4s=400/s",
            "--step=6s=800/s",
            "--step",
            "8000ms=1.6k/s",
            "--step",
            " 10s = 200 ",
        ])
        .plan()
        .unwrap();
        let got: Vec<(Duration, f64)> = p.steps.iter().map(|s| (s.at, s.rate)).collect();
        let s = Duration::from_secs;
        assert_eq!(
            got,
            [(s(4), 400.0), (s(6), 800.0), (s(8), 1600.0), (s(10), 200.0)]
        );
        assert_eq!(p.rate, Some(200.0));
        let sched = p.worker_schedule(0).unwrap();
        assert!(sched.is_stepped());
        // 800 + 800 + 1600 + 3200 + 400 sends in 12 s.
        assert_eq!(sched.slots_before(s(12)), 6800);
        // Through the worker plan's JSON and back, as a worker gets it.
        let back: LoadPlan = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        // A plan written without steps still reads.
        let mut v = serde_json::to_value(&p).unwrap();
        v.as_object_mut().unwrap().remove("steps");
        let old: LoadPlan = serde_json::from_value(v).unwrap();
        assert!(old.steps.is_empty());
        assert!(!old.worker_schedule(0).unwrap().is_stepped());
    }

    #[test]
    fn bad_steps_name_flag_value_and_expectation() {
        let step = |extra: &[&str]| {
            let mut argv = vec![
                "--target",
                "http://127.0.0.1:1/",
                "--rate",
                "50/s",
                "--duration",
                "3s",
            ];
            argv.extend_from_slice(extra);
            error(&argv)
        };
        for (steps, starts) in [
            (&["--step", "4s"][..], "--step \"4s\": expected AT=RATE"),
            (&["--step", "soon=4/s"], "--step \"soon=4/s\": expected AT=RATE with AT"),
            (&["--step", "1s=fast"], "--step \"1s=fast\": expected AT=RATE with RATE"),
            (&["--step", "1s=0/s"], "--step \"1s=0/s\": expected AT=RATE with RATE"),
            (&["--step=-1s=5/s"], "--step \"-1s=5/s\": expected AT=RATE with AT"),
            (&["--step", "0s=5/s"], "--step \"0s=5/s\": expected an offset AT above zero"),
            (
                &["--step", "2s=5/s", "--step", "1s=9/s"],
                "--step \"1s=9/s\": expected an offset AT after the previous --step's 2s",
            ),
            (
                &["--step", "1s=5/s", "--step", "1s=9/s"],
                "--step \"1s=9/s\": expected an offset AT after",
            ),
            (
                &["--step", "3s=5/s"],
                "--step \"3s=5/s\": expected an offset AT before the end of the load (--duration 3s)",
            ),
            (&["--step", "1m=5/s"], "--step \"1m=5/s\": expected an offset AT before"),
        ] {
            let e = step(steps);
            assert!(e.starts_with(starts), "{steps:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let e = error(&["--target", "http://127.0.0.1:1/", "--step", "1s=5/s"]);
        assert!(
            e.starts_with("--rate \"max\": expected a rate above zero such as 200/s for --step"),
            "{e}"
        );
    }

    #[test]
    fn shares_split_connections_evenly() {
        let p = args(&[
            "--target",
            "http://127.0.0.1/",
            "--processes",
            "3",
            "--connections",
            "8",
        ])
        .plan()
        .unwrap();
        let shares: Vec<usize> = (0..3).map(|w| p.worker_connections(w)).collect();
        assert_eq!(shares, [3, 3, 2]);
        assert!(p.worker_schedule(0).is_none());
    }
}
