//! Runs the cost measurement of one variant: its own server without the egress cap (or
//! `hold`: [`CONGESTION_SETTINGS`]), a warmup,
//! the closed-loop capacity phase, then the fixed-rate latency phase, the server's
//! `/proc/<pid>/stat` read around each.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{CostPhase, CostRecord};
use crate::load::{self, LoadPlan, Target};
use crate::progress::Progress;
use crate::run::settings::RunSettings;
use crate::run::timings::Stopwatch;
use crate::sample::ProcReader;
use crate::scenario::{CostSpec, Scenario, ServerSpec, Variant};
use crate::server::{self, Launch};

/// The rate of the latency phase, and where it came from (recorded with it).
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyRate {
    pub rate: f64,
    pub basis: String,
}

impl LatencyRate {
    /// `latency_at` of a measured capacity.
    pub fn of_capacity(spec: &CostSpec, capacity: f64, whose: &str) -> LatencyRate {
        LatencyRate {
            rate: (spec.latency_at * capacity).max(1.0),
            basis: format!(
                "{} x the capacity of {whose} ({capacity:.0}/s)",
                spec.latency_at
            ),
        }
    }
}

pub struct CostRequest<'a> {
    /// The invocation's settings: where the server binaries are, whether to show progress.
    pub settings: &'a RunSettings,
    pub spec: &'a CostSpec,
    pub scenario: &'a Scenario,
    pub variant: &'a Variant,
    /// The memory run's server settings; the congestion model is lifted from them here.
    pub server: &'a ServerSpec,
    /// The allocstorm executable, which runs the load workers.
    pub exe: &'a Path,
    /// The capacity server's stderr.
    pub log: PathBuf,
    /// The comparison's rate for the latency phase, when it has one (the reference's).
    pub latency_rate: Option<LatencyRate>,
    /// `glibc #1`: whose capacity this is, if it sets the rate.
    pub label: String,
}

/// The settings that model a congested network rather than the server's work: the egress
/// cap (`egress_limit`) and its blunt alternative (`hold`, each buffer kept a fixed time).
/// With either, capacity is the model's (connections / hold, or the cap / range size), the same
/// for every allocator.
pub const CONGESTION_SETTINGS: [&str; 2] = ["egress_limit", "hold"];

/// The server settings of the capacity run: the memory run's, without the congestion model.
pub fn uncapped(server: &ServerSpec) -> ServerSpec {
    let mut s = server.clone();
    s.settings
        .retain(|(k, _)| !CONGESTION_SETTINGS.contains(&k.as_str()));
    s.config.egress_limit = None;
    s.config.hold = None;
    s
}

/// Measures; never fails as a whole: what stopped it is the record's `failure`, with what was
/// measured before it.
/// Each of its steps is a lap of `watch`.
pub async fn measure(req: CostRequest<'_>, watch: &mut Stopwatch) -> CostRecord {
    let mut args = uncapped(req.server).command_line(req.scenario.seed);
    args.extend(req.variant.args.iter().cloned());
    let bin = req.settings.bin_dir.join(&req.variant.binary);
    let launch = Launch::Toy {
        bin: bin.clone(),
        args,
    };
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let mut rec = CostRecord {
        server_command: launch.command(),
        server_pid: None,
        nproc,
        capacity: None,
        latency_rate: None,
        latency_rate_basis: None,
        latency: None,
        failure: None,
        figures: Default::default(),
    };
    let mut progress = Progress::new(format!("{} cost", req.label), req.settings.show_progress);
    if let Err(e) = phases(&req, launch, &mut rec, (&mut progress, watch)).await {
        rec.failure = Some(e);
    }
    rec.figures = CostRecord::figures_of(rec.capacity.as_ref(), rec.latency.as_ref(), nproc);
    let f = &rec.figures;
    let msg = match (&rec.failure, f.capacity_rps) {
        (Some(e), _) => format!("failed: {e}"),
        (None, Some(c)) => format!(
            "capacity {c:.0}/s{}; at {:.0}/s p50 {} p99 {} ms, server CPU {} s/1000",
            if f.client_bound.is_some() {
                " (client-bound)"
            } else {
                ""
            },
            rec.latency_rate.unwrap_or(0.0),
            opt(f.latency_p50_ms),
            opt(f.latency_p99_ms),
            opt(f.server_cpu_s_per_1000),
        ),
        (None, None) => "no capacity measured".into(),
    };
    progress.done(&msg);
    rec
}

fn opt(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

async fn phases(
    req: &CostRequest<'_>,
    launch: Launch<'_>,
    rec: &mut CostRecord,
    (progress, watch): (&mut Progress, &mut Stopwatch),
) -> Result<(), String> {
    let started = server::start(launch, req.variant, &req.log, None, None).await;
    watch.lap("cost server start");
    let mut server = started?;
    rec.server_pid = Some(server.pid);
    let result = async {
        let addr = server.ready().await;
        watch.lap("cost startup");
        let addr = addr?;
        let proc = ProcReader::new(server.pid);
        let spec = req.spec;
        let warmup_rate = req.scenario.phases.warmup_rate;
        let plan = |processes: u32, connections: u32, rate: Option<f64>, d: Duration| {
            let l = &req.scenario.load;
            LoadPlan {
                target: Target::at(addr, &l.path),
                range: l.range,
                processes: processes as usize,
                connections: connections as usize,
                rate,
                steps: Vec::new(),
                duration: d,
                timeout: l.timeout,
                // Capacity counts answers, not attempts: a retry would be a second request.
                retries: 0,
                backoff: l.backoff,
                allow_remote: false,
                mix: l.mix.clone(),
            }
        };
        progress.phase("warmup", spec.warmup);
        let warmup = plan(1, 2, Some(warmup_rate), spec.warmup);
        run_phase(warmup, req.exe, &proc, (watch, "cost warmup")).await?;
        progress.phase("capacity (closed loop)", spec.capacity);
        let cap = run_phase(
            plan(spec.processes, spec.connections, None, spec.capacity),
            req.exe,
            &proc,
            (watch, "cost capacity"),
        )
        .await?;
        let capacity = cap.load.throughput_rps;
        rec.capacity = Some(cap);
        if capacity <= 0.0 {
            return Err("no ok response in the capacity phase".to_string());
        }
        let rate = match (spec.latency_rate, &req.latency_rate) {
            (Some(r), _) => LatencyRate {
                rate: r,
                basis: "[cost] latency_rate".into(),
            },
            (None, Some(r)) => r.clone(),
            (None, None) => LatencyRate::of_capacity(spec, capacity, &req.label),
        };
        rec.latency_rate = Some(rate.rate);
        rec.latency_rate_basis = Some(rate.basis);
        progress.phase(&format!("latency at {:.0}/s", rate.rate), spec.latency);
        let lat = run_phase(
            plan(
                spec.processes,
                spec.connections,
                Some(rate.rate),
                spec.latency,
            ),
            req.exe,
            &proc,
            (watch, "cost latency"),
        )
        .await?;
        rec.latency = Some(lat);
        Ok(())
    }
    .await;
    let exit = server.stop(Duration::from_secs(2)).await;
    watch.lap("cost server stop");
    match result {
        Err(e) => Err(format!("{e} (the capacity server {exit})")),
        Ok(()) => Ok(()),
    }
}

/// One load, the server's counters read just before it starts and just after it ends; its
/// time lapped on the watch as `step`.
async fn run_phase(
    plan: LoadPlan,
    exe: &Path,
    proc: &ProcReader,
    (watch, step): (&mut Stopwatch, &str),
) -> Result<CostPhase, String> {
    let plan = plan.checked().map_err(|e| e.to_string())?;
    let read = || {
        proc.counters()
            .map_err(|e| format!("the capacity server: {e}"))
    };
    let (c0, t0) = (read()?, Instant::now());
    let load = load::run_load(&plan, exe, |_| {})
        .await
        .map_err(|e| e.to_string())?;
    let (c1, wall_s) = (read()?, t0.elapsed().as_secs_f64());
    watch.lap_load(step, &load);
    watch.lap(step);
    Ok(CostPhase {
        load,
        server: c1.since(&c0),
        wall_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use allocstorm_core::server::ServerConfig;

    #[test]
    fn the_capacity_server_has_every_setting_but_the_congestion_model() {
        let given = [
            ("egress_limit", "120MiB/s"),
            ("hold", "100ms"),
            ("workers", "2"),
            ("queue_timeout", "5s"),
        ];
        let server = ServerSpec {
            file: None,
            create_file: 3 << 20,
            config: ServerConfig::from_settings(&given).unwrap(),
            settings: given
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            args: Vec::new(),
        };
        let u = uncapped(&server);
        assert_eq!((u.config.egress_limit, u.config.hold), (None, None));
        assert_eq!(u.config.workers, 2);
        let line = u.command_line(1).join(" ");
        assert!(
            line.contains("--workers 2") && line.contains("--queue-timeout 5s"),
            "{line}"
        );
        assert!(
            !line.contains("--egress-limit") && !line.contains("--hold"),
            "{line}"
        );
    }

    #[test]
    fn the_latency_rate_is_a_fraction_of_a_capacity_and_says_whose() {
        let raw = "[cost]\nlatency_at = 0.25\n";
        let spec: CostSpec = {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("s.toml");
            std::fs::write(&p, format!("name = \"s\"\n{raw}")).unwrap();
            std::fs::copy(
                concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/variants.toml"),
                dir.path().join("variants.toml"),
            )
            .unwrap();
            Scenario::load(&p).unwrap().cost.unwrap()
        };
        let r = LatencyRate::of_capacity(&spec, 800.0, "glibc #1");
        assert_eq!(r.rate, 200.0);
        assert_eq!(r.basis, "0.25 x the capacity of glibc #1 (800/s)");
    }
}
