//! Where each variant's server was measured as a container is: in a memory cgroup of its own
//! (which version), or why it had none. Its figures (cgroup usage and working set, RssAnon −
//! LazyFree, after the drain) are among the run's figures.

use serde::{Deserialize, Serialize};

use crate::cgroup::Version;
use crate::record::RunRecord;

/// The memory cgroups of a variant's runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerView {
    /// `v1` or `v2`: the servers ran in a memory cgroup of their own, made for each run.
    #[serde(default)]
    pub cgroup: Option<Version>,
    /// Why a run had none (the first such run's reason).
    #[serde(default)]
    pub no_cgroup_because: Option<String>,
}

/// `None` for records of versions that made no cgroup (their header says nothing of one).
pub fn container_view(runs: &[&RunRecord]) -> Option<ContainerView> {
    let notes: Vec<_> = runs
        .iter()
        .filter_map(|r| r.header.server_cgroup.as_ref())
        .collect();
    if notes.is_empty() {
        return None;
    }
    Some(ContainerView {
        cgroup: notes.iter().find_map(|n| n.version),
        no_cgroup_because: notes.iter().find_map(|n| n.none_because.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::CgroupNote;

    /// A committed record (of a version that made no cgroup) with `note` in its header.
    fn record(note: Option<CgroupNote>) -> RunRecord {
        let mut r: RunRecord = serde_json::from_str(include_str!(
            "../../../../reports/incidents/buffered-vs-streaming/runs/glibc@buffered-1.json"
        ))
        .unwrap();
        r.header.server_cgroup = note;
        r
    }

    #[test]
    fn the_version_of_the_runs_cgroups_or_why_there_was_none() {
        let made = record(Some(CgroupNote {
            path: Some("/sys/fs/cgroup/memory/allocstorm/1-glibc-1".into()),
            version: Some(Version::V1),
            none_because: None,
        }));
        let none = record(Some(CgroupNote {
            path: None,
            version: None,
            none_because: Some("cannot make a memory cgroup: Read-only file system".into()),
        }));
        let old = record(None);
        assert_eq!(container_view(&[&old]), None);
        assert_eq!(
            container_view(&[&old, &made]),
            Some(ContainerView {
                cgroup: Some(Version::V1),
                no_cgroup_because: None
            })
        );
        let v = container_view(&[&none]).unwrap();
        assert_eq!(v.cgroup, None);
        assert!(v.no_cgroup_because.unwrap().contains("Read-only"));
    }
}
