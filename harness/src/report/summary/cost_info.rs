//! How the cost was measured (`cost` at the top of the summary): the reference, the memory
//! budget, the fixed rate and the capacity server's flags, and the recommendation.

use serde::{Deserialize, Serialize};

use crate::record::RunRecord;
use crate::scenario::MemoryBudget;

use super::cost::{rate_uses, RateUse};
use super::recommend::Recommendation;

/// How the cost was measured, the reference and the budget (`cost` at the top of the summary;
/// absent when no run measured its cost).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostInfo {
    /// The variant every ratio is to.
    pub reference: String,
    /// What a variant's memory must meet to be recommended (`[cost.budget]`; both `null`: none).
    pub budget: MemoryBudget,
    /// The fixed rate of the latency phase (requests/s) and where it came from: the one most
    /// runs used (normally every run: the reference's first capacity sets it).
    pub latency_rate: Option<f64>,
    pub latency_rate_basis: Option<String>,
    /// Every rate a latency phase ran at, with its runs (more than one only when the
    /// reference's first measurement failed, or records of two comparisons were mixed).
    pub latency_rates: Vec<RateUse>,
    /// `[cost]`: client processes and connections, seconds of the warmup and of each phase,
    /// and the fraction of the reference's capacity the fixed rate is (unless given).
    pub processes: u32,
    pub connections: u32,
    pub warmup_s: f64,
    pub capacity_s: f64,
    pub latency_s: f64,
    pub latency_at: f64,
    /// Cores of the machine, shared by the server and the client.
    pub nproc: Option<u32>,
    /// The capacity server's flags: the memory run's without the egress cap (without the
    /// binary and the variant's own args).
    pub server_args: Vec<String>,
    /// Which variants meet the budget, by price, and which do not and why.
    pub recommendation: Recommendation,
}

/// The scenario's `[cost]` from the records, without the recommendation (made once every
/// variant is summarized); `None` when no record measured its cost.
pub(super) fn cost_info(records: &[&RunRecord]) -> Option<CostInfo> {
    let spec = records.iter().find_map(|r| r.header.cost_spec.as_ref())?;
    let rates = rate_uses(records.iter().copied());
    let main = rates.iter().max_by_key(|r| r.runs).cloned();
    let first = records.iter().find(|r| {
        r.cost
            .as_ref()
            .is_some_and(|c| !c.server_command.is_empty())
    });
    let server_args = first
        .map(|r| {
            let cmd = &r.cost.as_ref().unwrap().server_command;
            let own = &r.header.variant.args;
            let end = if cmd.len() > own.len() && cmd[cmd.len() - own.len()..] == own[..] {
                cmd.len() - own.len()
            } else {
                cmd.len()
            };
            cmd.get(1..end).map(|a| a.to_vec()).unwrap_or_default()
        })
        .unwrap_or_default();
    Some(CostInfo {
        reference: spec.reference.clone(),
        budget: spec.budget.clone(),
        latency_rate: main.as_ref().map(|r| r.rate_rps),
        latency_rate_basis: main.and_then(|r| r.basis),
        latency_rates: rates,
        processes: spec.processes,
        connections: spec.connections,
        warmup_s: spec.warmup.as_secs_f64(),
        capacity_s: spec.capacity.as_secs_f64(),
        latency_s: spec.latency.as_secs_f64(),
        latency_at: spec.latency_at,
        nproc: first.map(|r| r.cost.as_ref().unwrap().nproc),
        server_args,
        recommendation: Default::default(),
    })
}
