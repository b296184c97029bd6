//! Whether a run's record was rebuilt from the event stream of a killed harness. (A run's
//! status, its severity and when it counts as `oom` are the record's: `RunStatus` and
//! `RunRecord::reported_status`.)

use crate::record::RunRecord;

/// The prefix of `failure` on a record rebuilt from the event stream of a killed harness.
pub use crate::record::INCOMPLETE_PREFIX;

/// Whether a record was rebuilt from the event stream of a killed harness.
pub fn is_incomplete(r: &RunRecord) -> bool {
    r.failure
        .as_deref()
        .is_some_and(|f| f.starts_with(INCOMPLETE_PREFIX))
}
