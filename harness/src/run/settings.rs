//! The settings every run of one invocation shares (`run` or `compare`): built once by the
//! command line and held by reference by the compare request and each run request, as
//! hyperfine's `Benchmark` holds `&Options`.

use std::path::PathBuf;
use std::time::Duration;

use crate::load::remote::Coordinator;
use crate::provenance::Environment;
use crate::record::dir::ReportDir;
use crate::record::shard::Shard;

pub struct RunSettings {
    /// Where every run writes its files.
    pub dir: ReportDir,
    /// Shorter phases with the same shape.
    pub quick: bool,
    pub sample_interval: Duration,
    /// SIGKILL the server when its VmRSS crosses this; the run is then `oom`.
    pub memory_limit: Option<u64>,
    /// Where the server binaries are (next to the `allocstorm` executable).
    pub bin_dir: PathBuf,
    /// The machine, read once: every record of the invocation carries the same.
    pub environment: Environment,
    pub show_progress: bool,
    /// The shard of the comparison the runs belong to (`compare --shard I/N`), recorded.
    pub shard: Option<Shard>,
    /// With `[remote]`: the coordinator every load goes through.
    pub remote: Option<Coordinator>,
}
