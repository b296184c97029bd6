//! A comparison fanned out over machines. A shard is a whole comparison (every variant,
//! interleaved) on one machine: `compare --shard I/N` numbers its runs apart from every other
//! shard's, and `report DIR...` and `gate --run DIR...` take the directories of several shards
//! as one comparison — only when they were measured under the same key (the gate's baseline
//! key: scenario and its hash, `--quick`, kernel, glibc, nproc, THP, allocator crates,
//! container, observed phases, and the variants' settings).
//!
//! Variants are never compared across machines: each shard runs every variant on its own
//! machine, so a round (run *n* of every variant) and the per-round cost ratios stay within
//! one machine; only the medians pool the shards' runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::gate::measured::{diff_keys, diff_settings, measure};
use crate::record::dir::ReportDir;
pub use crate::record::shard::{Shard, MAX_SHARDS};
use crate::record::{load_runs, RecordsError, RunRecord};

/// The run numbers of a comparison of `runs` runs per variant: `1..=runs` unsharded.
pub fn run_numbers(shard: Option<Shard>, runs: u32) -> std::ops::RangeInclusive<u32> {
    shard.map_or(1..=runs, |s| s.run_numbers(runs))
}

/// Why the directories cannot be taken as one comparison. One line each, naming the
/// directories and what differs.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(transparent)]
    Records(#[from] RecordsError),
    #[error("{a} and {b} were measured under different keys: {detail}; only shards measured under the same key are one comparison (docs/gate.md#sharding)")]
    KeyMismatch {
        a: String,
        b: String,
        detail: String,
    },
    #[error("{a} and {b} both hold run {run}: give each shard's directory once, each measured with its own `compare --shard I/N`")]
    SameRun { a: String, b: String, run: String },
    #[error("{a} is shard {x} and {b} shard {y}: the shards of one comparison share N; these come from different comparisons")]
    ShardCount {
        a: String,
        b: String,
        x: Shard,
        y: Shard,
    },
    #[error("{path}: already holds run records: give --out a new or empty directory for the merged report")]
    OutNotEmpty { path: String },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The records of several report directories, checked to be one comparison.
#[derive(Debug)]
pub struct Merged {
    /// Every record of every directory, in run order.
    pub records: Vec<RunRecord>,
    /// What a reader should know: the shards that were not given.
    pub notes: Vec<String>,
}

/// The records of `dirs` as one comparison. One directory is read as it always was; several
/// must hold runs measured under the same key (the first directory's against each other's),
/// with no run (variant and number) in two of them, and recorded shards of the same N.
pub fn load(dirs: &[PathBuf]) -> Result<Merged, MergeError> {
    let mut loaded: Vec<(String, Vec<RunRecord>)> = Vec::new();
    for d in dirs {
        loaded.push((d.display().to_string(), load_runs(d)?));
    }
    if let [(_, records)] = loaded.as_mut_slice() {
        return Ok(Merged {
            records: std::mem::take(records),
            notes: Vec::new(),
        });
    }

    let Some((first_dir, first)) = loaded.first() else {
        return Ok(Merged {
            records: Vec::new(),
            notes: Vec::new(),
        });
    };
    // Only the keys and settings are compared here: which figure the runs hold is the gate's.
    let first_m = measure(first, crate::figures::curve::After::Drain);
    for (dir, records) in &loaded[1..] {
        let m = measure(records, crate::figures::curve::After::Drain);
        let diffs: Vec<String> = diff_keys(&first_m.key, &m.key)
            .into_iter()
            .chain(diff_settings(&first_m.variants, &m.variants))
            .map(|d| d.describe(first_dir, dir))
            .collect();
        if !diffs.is_empty() {
            return Err(MergeError::KeyMismatch {
                a: first_dir.clone(),
                b: dir.clone(),
                detail: diffs.join(", "),
            });
        }
    }

    let mut runs: BTreeMap<(String, u32), &str> = BTreeMap::new();
    let mut shard_of: Option<(Shard, &str)> = None;
    let mut present = Vec::new();
    for (dir, records) in &loaded {
        for r in records {
            let id = (r.header.variant.name.clone(), r.header.run_index);
            if let Some(other) = runs.insert(id.clone(), dir.as_str()) {
                return Err(MergeError::SameRun {
                    a: other.to_string(),
                    b: dir.clone(),
                    run: format!("{} #{}", id.0, id.1),
                });
            }
            if let Some(s) = r.header.shard {
                match shard_of {
                    Some((x, a)) if x.count != s.count => {
                        return Err(MergeError::ShardCount {
                            a: a.to_string(),
                            b: dir.clone(),
                            x,
                            y: s,
                        })
                    }
                    Some(_) => {}
                    None => shard_of = Some((s, dir.as_str())),
                }
                present.push(s.index);
            }
        }
    }
    let mut notes = Vec::new();
    if let Some((s, _)) = shard_of {
        let missing: Vec<String> = (1..=s.count)
            .filter(|i| !present.contains(i))
            .map(|i| format!("{i}/{}", s.count))
            .collect();
        if !missing.is_empty() {
            notes.push(format!(
                "shard{} {} not given: the comparison has fewer runs than planned",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", ")
            ));
        }
    }
    let mut records: Vec<RunRecord> = loaded.into_iter().flat_map(|(_, r)| r).collect();
    records.sort_by(crate::record::dir::run_order);
    Ok(Merged { records, notes })
}

/// Copies the run files of `dirs` (records, event streams, server logs: the regular files of
/// `DIR/runs/`) into `out/runs/`, which must be new or empty, so that `out` is a report
/// directory of the merged comparison that `report` and `gate` read like any other.
/// A run's own scratch directory (`<variant>-<n>.target/`) is left behind.
pub fn copy_runs(dirs: &[PathBuf], out: &Path) -> Result<(), MergeError> {
    let runs_out = ReportDir::new(out).runs();
    let write = |path: &Path| {
        let path = path.display().to_string();
        move |source| MergeError::Write { path, source }
    };
    if std::fs::read_dir(&runs_out).is_ok_and(|mut e| e.next().is_some()) {
        return Err(MergeError::OutNotEmpty {
            path: runs_out.display().to_string(),
        });
    }
    std::fs::create_dir_all(&runs_out).map_err(write(&runs_out))?;
    for d in dirs {
        let from = ReportDir::new(d);
        let files = from.files().map_err(|source| {
            MergeError::Records(RecordsError::Read {
                path: from.runs().display().to_string(),
                source,
            })
        })?;
        for path in files {
            let to = runs_out.join(path.file_name().unwrap_or_default());
            std::fs::copy(&path, &to).map_err(write(&to))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsharded_comparison_numbers_its_runs_from_one() {
        assert_eq!(run_numbers(None, 3), 1..=3);
        let s = Shard::parse("2/3").unwrap();
        assert_eq!(run_numbers(Some(s), 4), 5..=8);
    }
}
