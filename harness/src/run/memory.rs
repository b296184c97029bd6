//! Where a run's memory figures come from: a [`MemorySource`]. The harness reads `/proc`
//! ([`ProcSource`], one process or a process tree summed) and the server's memory cgroup, if
//! it has one; tests give a fake.

use crate::cgroup::{CgroupReader, CgroupSample};
use crate::probe::{Found, PageSet};
use crate::sample::{
    MappingBreakdown, ProcReader, Sample, SampleError, SmapsRollup, TreeReader, TreeSample,
};
use crate::scenario::SampleScope;

/// The slower readings, taken once per `smaps_interval`.
#[derive(Debug, Default)]
pub struct Detail {
    pub rollup: Option<SmapsRollup>,
    pub mappings: Option<MappingBreakdown>,
    /// Each process of a tree, at the `t` of the last sample.
    pub procs: Option<TreeSample>,
    /// The server's memory cgroup: usage and working set.
    pub cgroup: Option<CgroupSample>,
}

/// The memory of the server a run measures, read at time `t` (seconds into the run).
pub trait MemorySource {
    /// `/proc/<pid>/status`: the figures sampled every interval. `Gone` when the server is.
    fn sample(&mut self, t: f64) -> Result<Sample, SampleError>;
    /// `smaps_rollup`, the mapping breakdown and the cgroup; what cannot be read is left out.
    fn detail(&mut self, t: f64) -> Detail;
    /// The allocator probe's pages, read at the same tick as [`MemorySource::sample`]; nothing
    /// where the server has no probe.
    fn probe(&mut self, _t: f64) -> Found {
        Found::default()
    }
}

/// `/proc` of the server: its own figures, or the sum over its process tree.
pub struct ProcSource {
    scope: SampleScope,
    process: ProcReader,
    tree: TreeReader,
    /// The tree as of the last sample, for the detail readings.
    last_tree: Option<TreeSample>,
    cgroup: Option<CgroupReader>,
    probe: Option<PageSet>,
}

impl ProcSource {
    pub fn new(pid: u32, scope: SampleScope) -> ProcSource {
        ProcSource {
            scope,
            process: ProcReader::new(pid),
            tree: TreeReader::new(pid),
            last_tree: None,
            cgroup: None,
            probe: None,
        }
    }

    /// Reads the server's memory cgroup too, with the detail readings.
    pub fn with_cgroup(mut self, cgroup: Option<CgroupReader>) -> ProcSource {
        self.cgroup = cgroup;
        self
    }

    /// Reads the run's probe pages too, at every sample.
    pub fn with_probe(mut self, probe: Option<PageSet>) -> ProcSource {
        self.probe = probe;
        self
    }
}

impl MemorySource for ProcSource {
    fn sample(&mut self, t: f64) -> Result<Sample, SampleError> {
        match self.scope {
            SampleScope::Process => self.process.sample(t),
            SampleScope::Tree => self.tree.sample(t).map(|(sum, procs)| {
                self.last_tree = Some(procs);
                sum
            }),
        }
    }

    fn probe(&mut self, t: f64) -> Found {
        self.probe.as_mut().map(|p| p.read(t)).unwrap_or_default()
    }

    fn detail(&mut self, t: f64) -> Detail {
        let cgroup = self.cgroup.as_ref().and_then(|c| c.sample(t).ok());
        match self.last_tree.take() {
            Some(tr) => Detail {
                rollup: self.tree.smaps_rollup(&tr, t).ok(),
                mappings: self.tree.mappings(&tr, t).ok(),
                procs: Some(tr),
                cgroup,
            },
            None => Detail {
                rollup: self.process.smaps_rollup(t).ok(),
                mappings: self.process.mappings(t).ok(),
                procs: None,
                cgroup,
            },
        }
    }
}
