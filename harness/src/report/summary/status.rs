//! A run's status as the summary names it, how bad it is, and whether its record was rebuilt.

use crate::record::{RunRecord, RunStatus};

/// The prefix of `failure` on a record rebuilt from the event stream of a killed harness.
pub use crate::record::INCOMPLETE_PREFIX;

/// The status of a run as the summary names it. A failure that says the server ran out of
/// memory counts as `oom`.
pub fn run_status(r: &RunRecord) -> &'static str {
    match r.status {
        RunStatus::Ok => "ok",
        RunStatus::Interrupted => "interrupted",
        RunStatus::Oom => "oom",
        RunStatus::Skipped => "skipped",
        RunStatus::Failed => {
            let says_oom = |s: &Option<String>| {
                s.as_deref().is_some_and(|s| {
                    let s = s.to_ascii_lowercase();
                    s.contains("oom") || s.contains("out of memory")
                })
            };
            if says_oom(&r.failure) || says_oom(&r.server_exit) {
                "oom"
            } else {
                "failed"
            }
        }
    }
}

/// Worse statuses rank higher; a variant shows its worst.
pub(super) fn severity(status: &str) -> u8 {
    match status {
        "ok" => 0,
        "skipped" => 1,
        "interrupted" => 2,
        "failed" => 3,
        _ => 4,
    }
}

/// Whether a record was rebuilt from the event stream of a killed harness.
pub fn is_incomplete(r: &RunRecord) -> bool {
    r.failure
        .as_deref()
        .is_some_and(|f| f.starts_with(INCOMPLETE_PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_orders_statuses() {
        let mut v = ["ok", "oom", "interrupted", "skipped", "failed"];
        v.sort_by_key(|s| severity(s));
        assert_eq!(v, ["ok", "skipped", "interrupted", "failed", "oom"]);
    }
}
