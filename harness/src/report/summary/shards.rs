//! The shards the runs were measured in (`compare --shard I/N`): one machine each, so the
//! reader of a merged report sees where each part of the runs came from.

use serde::{Deserialize, Serialize};

use crate::record::RunRecord;

/// One shard of the comparison, as its records tell it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// `I` of `--shard I/N`.
    pub index: u32,
    /// `N`.
    pub count: u32,
    /// The machine of the shard's first run.
    pub hostname: String,
    pub cpu_model: String,
    /// Records of the shard (every variant's runs, skipped ones included).
    pub runs: usize,
    /// Its run numbers: `first_run ..= last_run`.
    pub first_run: u32,
    pub last_run: u32,
}

/// Every shard among `ordered` (records in run order), by index; empty when the runs were not
/// sharded.
pub(super) fn shards(ordered: &[&RunRecord]) -> Vec<ShardInfo> {
    let mut out: Vec<ShardInfo> = Vec::new();
    for r in ordered {
        let Some(s) = r.header.shard else { continue };
        let n = r.header.run_index;
        match out.iter_mut().find(|i| i.index == s.index) {
            Some(i) => {
                i.runs += 1;
                i.first_run = i.first_run.min(n);
                i.last_run = i.last_run.max(n);
            }
            None => out.push(ShardInfo {
                index: s.index,
                count: s.count,
                hostname: r.header.environment.hostname.clone(),
                cpu_model: r.header.environment.cpu_model.clone(),
                runs: 1,
                first_run: n,
                last_run: n,
            }),
        }
    }
    out.sort_by_key(|i| i.index);
    out
}
