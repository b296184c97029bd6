//! The price of each fix (`[cost]`, docs/cost.md).
//!
//! The memory run's egress cap and open-loop rate fix throughput and latency by design, so
//! they cannot show what a fix costs. After a variant's memory run, with its server gone,
//! [`measure`] starts a second server of the same variant and settings without the egress cap
//! and drives it closed-loop (its capacity), then at one fixed rate below every variant's
//! capacity (latency, CPU and page faults per response). The memory figures are untouched:
//! another process, after the first has exited.
//!
//! Here: what a run records ([`CostRecord`]) and the figures read from it ([`CostFigures`]),
//! including whether the client, not the server, was the limit ([`client_bound`]).

pub mod measure;

use serde::{Deserialize, Serialize};

use crate::load::LoadSummary;
use crate::sample::StatCounters;

/// `failure` of a measurement stopped by Ctrl-C: the comparison stops after this run.
pub const INTERRUPTED: &str = "interrupted";

/// One phase of the cost measurement: the load as the client saw it and the server's work.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CostPhase {
    pub load: LoadSummary,
    /// The server's CPU and page faults from just before the load started until it ended.
    pub server: StatCounters,
    /// Wall seconds over which `server` was counted.
    pub wall_s: f64,
}

/// What a run's cost measurement recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CostRecord {
    /// The capacity server's command line: the memory run's without the egress cap.
    pub server_command: Vec<String>,
    pub server_pid: Option<u32>,
    /// Cores of the machine, shared by the server and the client.
    pub nproc: u32,
    /// Closed loop: ok responses/s is the capacity.
    pub capacity: Option<CostPhase>,
    /// The fixed rate (requests/s) of the latency phase, and where it came from.
    pub latency_rate: Option<f64>,
    pub latency_rate_basis: Option<String>,
    pub latency: Option<CostPhase>,
    /// Why the measurement stopped short (the memory figures of the run stand).
    pub failure: Option<String>,
    pub figures: CostFigures,
}

/// The figures a cost measurement gives, per run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CostFigures {
    /// Ok responses/s, closed loop, within the load window.
    pub capacity_rps: Option<f64>,
    /// At the fixed rate, from the intended send time (open loop).
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    /// At the fixed rate: the server's CPU (user + system) per 1,000 ok responses.
    pub server_cpu_s_per_1000: Option<f64>,
    /// Its kernel share (page faults, mmap/munmap, I/O).
    pub server_system_s_per_1000: Option<f64>,
    /// At the fixed rate: minor page faults per ok response (a fresh mmap'd buffer faults in
    /// each of its pages).
    pub minflt_per_response: Option<f64>,
    /// Closed loop: cores the server and the client used on average.
    pub capacity_server_cores: Option<f64>,
    pub capacity_client_cores: Option<f64>,
    /// The capacity was the client's or the shared machine's, not the server's: why.
    pub client_bound: Option<String>,
    /// The fixed rate as a share of this run's own capacity: near or above 1, the latency
    /// phase measured a queue (the variant cannot serve the rate the reference serves at half
    /// its capacity), which is its price too, and the report says so.
    #[serde(default)]
    pub latency_rate_to_capacity: Option<f64>,
}

impl CostRecord {
    /// A measurement that did not take place, and why.
    pub fn stopped(why: &str) -> CostRecord {
        CostRecord {
            server_command: Vec::new(),
            server_pid: None,
            nproc: 0,
            capacity: None,
            latency_rate: None,
            latency_rate_basis: None,
            latency: None,
            failure: Some(why.to_string()),
            figures: CostFigures::default(),
        }
    }

    /// Reads the figures from the phases.
    pub fn figures_of(
        capacity: Option<&CostPhase>,
        latency: Option<&CostPhase>,
        nproc: u32,
    ) -> CostFigures {
        let mut f = Self::phase_figures(capacity, latency, nproc);
        if let (Some(l), Some(c)) = (latency.and_then(|l| l.load.offered_rate), f.capacity_rps) {
            f.latency_rate_to_capacity = (c > 0.0).then(|| l / c);
        }
        f
    }

    fn phase_figures(
        capacity: Option<&CostPhase>,
        latency: Option<&CostPhase>,
        nproc: u32,
    ) -> CostFigures {
        let per = |p: &CostPhase, v: f64, k: f64| {
            let ok = p.load.counts.ok;
            (ok > 0).then(|| v * k / ok as f64)
        };
        let mut f = CostFigures::default();
        if let Some(c) = capacity {
            f.capacity_rps = Some(c.load.throughput_rps);
            if c.wall_s > 0.0 {
                let server = (c.server.user_s + c.server.system_s) / c.wall_s;
                // The workers' CPU over the time they ran.
                let client = c.load.client_cpu_s / c.load.elapsed_s.max(c.wall_s);
                f.capacity_server_cores = Some(server);
                f.capacity_client_cores = Some(client);
                f.client_bound = client_bound(server, client, c.load.processes as u32, nproc);
            }
        }
        if let Some(l) = latency {
            if l.load.counts.ok > 0 {
                f.latency_p50_ms = Some(l.load.latency_ms.p50);
                f.latency_p99_ms = Some(l.load.latency_ms.p99);
            }
            f.server_cpu_s_per_1000 = per(l, l.server.user_s + l.server.system_s, 1000.0);
            f.server_system_s_per_1000 = per(l, l.server.system_s, 1000.0);
            f.minflt_per_response = per(l, l.server.minflt as f64, 1.0);
        }
        f
    }
}

/// Share of a resource at which it counts as used up.
const NEAR_FULL: f64 = 0.9;

/// Whether a closed-loop measurement found the client's limit instead of the server's, and
/// why. Two ways: the client's processes were near all the cores they can use (each worker
/// is one thread); or the machine was near full and the client used as much of it as the
/// server, so the server's capacity here is what the client left it.
pub fn client_bound(
    server_cores: f64,
    client_cores: f64,
    processes: u32,
    nproc: u32,
) -> Option<String> {
    let usable = processes.min(nproc).max(1) as f64;
    if client_cores >= NEAR_FULL * usable {
        return Some(format!(
            "the client used {client_cores:.2} of the {usable} cores its {processes} processes can use"
        ));
    }
    let total = server_cores + client_cores;
    if total >= NEAR_FULL * nproc as f64 && client_cores >= server_cores {
        return Some(format!(
            "the machine's {nproc} cores were full ({total:.2} used) and the client used {client_cores:.2} of them, the server {server_cores:.2}"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_bound_when_its_cores_are_full_or_it_outweighs_the_server_on_a_full_machine() {
        // Two single-threaded workers at 1.9 cores: the client is the limit.
        assert!(client_bound(0.5, 1.9, 2, 8).is_some());
        // A full 2-core machine, the server using most of it: the server's capacity.
        assert_eq!(client_bound(1.5, 0.45, 2, 2), None);
        // A full 2-core machine, the client using as much as the server.
        let why = client_bound(0.95, 1.0, 4, 2).unwrap();
        assert!(why.contains("2 cores were full"), "{why}");
        // Room left everywhere.
        assert_eq!(client_bound(0.8, 0.3, 2, 8), None);
    }
}
