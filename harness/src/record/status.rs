//! A run's status: how it ended, its name in the records, `summary.json` and the gate, how bad
//! it is, and the one rule that reads an OOM out of a failed run.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::RunRecord;

/// How a run ended. Declared from best to worst: the order (`Ord`) is the severity, and a
/// variant shows the worst of its runs (`max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Ok,
    /// Not run: the variant cannot run on this machine (its preload library is missing).
    /// `failure` says why and what installs it; the record has nothing measured.
    Skipped,
    /// Stopped by the user (Ctrl-C).
    Interrupted,
    /// The server died or the harness could not complete the run.
    Failed,
    /// The server crossed the scenario's memory limit (killed by the harness) or was killed by
    /// the kernel's OOM killer: an outcome measured, not a harness failure.
    Oom,
}

impl RunStatus {
    /// Its name in the records and in `summary.json`: `ok`, `oom`, …
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Skipped => "skipped",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Failed => "failed",
            RunStatus::Oom => "oom",
        }
    }

    pub fn is_ok(self) -> bool {
        self == RunStatus::Ok
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RunRecord {
    /// The status the report and the gate name the run by: its own, except that a failed run
    /// whose failure or server exit says the server ran out of memory is `oom` (a kill the
    /// harness did not classify, as records made before it told OOM kills apart).
    pub fn reported_status(&self) -> RunStatus {
        let says_oom = |s: &Option<String>| {
            s.as_deref().is_some_and(|s| {
                let s = s.to_ascii_lowercase();
                s.contains("oom") || s.contains("out of memory")
            })
        };
        match self.status {
            RunStatus::Failed if says_oom(&self.failure) || says_oom(&self.server_exit) => {
                RunStatus::Oom
            }
            s => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_is_the_severity() {
        use RunStatus::*;
        let mut v = [Ok, Oom, Interrupted, Skipped, Failed];
        v.sort();
        assert_eq!(v, [Ok, Skipped, Interrupted, Failed, Oom]);
    }

    #[test]
    fn names_are_the_records_and_the_summarys() {
        use RunStatus::*;
        for s in [Ok, Skipped, Interrupted, Failed, Oom] {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<RunStatus>(&json).unwrap(), s);
        }
    }

    /// A committed record, made to end as `failed` with these words.
    fn failed_with(failure: &str, server_exit: &str) -> RunRecord {
        let text = include_str!(
            "../../../reports/incidents/buffered-vs-streaming/runs/glibc@buffered-1.json"
        );
        let mut r: RunRecord = serde_json::from_str(text).unwrap();
        r.status = RunStatus::Failed;
        r.failure = Some(failure.into());
        r.server_exit = Some(server_exit.into());
        r
    }

    #[test]
    fn a_failed_run_that_says_it_ran_out_of_memory_is_reported_oom() {
        let exit = "killed by signal 9 (SIGKILL)";
        for (failure, exit, reported) in [
            ("server process is gone", exit, RunStatus::Failed),
            (
                "memory allocation failed: Out Of Memory",
                exit,
                RunStatus::Oom,
            ),
            (
                "server process is gone",
                "killed by the OOM killer",
                RunStatus::Oom,
            ),
        ] {
            assert_eq!(
                failed_with(failure, exit).reported_status(),
                reported,
                "{failure}"
            );
        }
        let mut ok = failed_with("", "");
        ok.status = RunStatus::Ok;
        assert_eq!(ok.reported_status(), RunStatus::Ok);
    }
}
