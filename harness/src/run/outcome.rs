//! How a run ended, decided from what was seen, without processes: which task ended the run,
//! how the server exited, and the kernel's OOM-kill count before and after.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use crate::record::RunStatus;
use crate::server::process::describe_exit;

/// Whichever of the run's tasks ended it.
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    /// The driver: every phase ran.
    Done,
    /// The server died or misbehaved: why, as seen by the task that noticed.
    Failed(String),
    /// The server crossed the memory limit; the sampler's report of it.
    OverLimit(String),
    /// The shutdown future (Ctrl-C).
    Interrupted,
}

/// The kernel's count of OOM kills since boot (`oom_kill` in `/proc/vmstat`), if it keeps one.
pub fn kernel_oom_kills() -> Option<u64> {
    std::fs::read_to_string("/proc/vmstat")
        .ok()
        .and_then(|s| parse_oom_kills(&s))
}

fn parse_oom_kills(vmstat: &str) -> Option<u64> {
    vmstat
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
}

/// The run's status and failure. `exit` is how the server ended, when it had by the time the
/// run ended; `oom_kills` the kernel's count before the run and after it.
pub fn classify(
    ended: &Ended,
    exit: Option<ExitStatus>,
    oom_kills: (Option<u64>, Option<u64>),
) -> (RunStatus, Option<String>) {
    match ended {
        Ended::Done => (RunStatus::Ok, None),
        Ended::OverLimit(why) => (RunStatus::Oom, Some(why.clone())),
        Ended::Interrupted => (
            RunStatus::Interrupted,
            Some("interrupted by the user".into()),
        ),
        Ended::Failed(why) => {
            let Some(st) = exit else {
                return (RunStatus::Failed, Some(why.clone()));
            };
            let e = describe_exit(st);
            // A SIGKILL nobody here sent, while the kernel's OOM-kill count went up: the
            // kernel's OOM killer (a container's memory limit, or the machine's).
            let (before, after) = oom_kills;
            if st.signal() == Some(libc::SIGKILL) && after > before {
                let failure = format!(
                    "server {e} by the kernel's OOM killer (oom_kill in /proc/vmstat went from {} to {})",
                    before.unwrap_or(0),
                    after.unwrap_or(0)
                );
                (RunStatus::Oom, Some(failure))
            } else {
                (RunStatus::Failed, Some(format!("{why}: server {e}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signalled(sig: i32) -> ExitStatus {
        ExitStatus::from_raw(sig)
    }
    fn exited(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn done_is_ok_and_interrupted_says_so() {
        assert_eq!(
            classify(&Ended::Done, None, (None, None)),
            (RunStatus::Ok, None)
        );
        let (s, f) = classify(&Ended::Interrupted, None, (Some(1), Some(1)));
        assert_eq!(s, RunStatus::Interrupted);
        assert_eq!(f.as_deref(), Some("interrupted by the user"));
    }

    #[test]
    fn over_the_harness_limit_is_oom_with_the_samplers_words() {
        let e = Ended::OverLimit("VmRSS 600 MiB crossed the memory limit".into());
        let (s, f) = classify(&e, Some(signalled(libc::SIGKILL)), (Some(0), Some(0)));
        assert_eq!(s, RunStatus::Oom);
        assert_eq!(f.as_deref(), Some("VmRSS 600 MiB crossed the memory limit"));
    }

    #[test]
    fn a_sigkill_while_the_kernels_count_rose_is_the_kernels_oom_killer() {
        let e = Ended::Failed("server process is gone".into());
        let (s, f) = classify(&e, Some(signalled(libc::SIGKILL)), (Some(3), Some(4)));
        assert_eq!(s, RunStatus::Oom);
        let f = f.unwrap();
        assert!(f.contains("kernel's OOM killer"), "{f}");
        assert!(f.contains("SIGKILL") && f.contains("from 3 to 4"), "{f}");
    }

    #[test]
    fn a_sigkill_without_a_kernel_oom_kill_or_another_death_is_failed() {
        let e = Ended::Failed("server process is gone".into());
        for (exit, kills) in [
            (signalled(libc::SIGKILL), (Some(3), Some(3))),
            (signalled(libc::SIGKILL), (None, None)),
            (signalled(libc::SIGSEGV), (Some(3), Some(4))),
            (exited(1), (Some(3), Some(4))),
        ] {
            let (s, f) = classify(&e, Some(exit), kills);
            assert_eq!(s, RunStatus::Failed, "{exit:?} {kills:?}");
            assert!(f.unwrap().starts_with("server process is gone: server "));
        }
        let (s, f) = classify(&e, None, (Some(3), Some(4)));
        assert_eq!(
            (s, f.as_deref()),
            (RunStatus::Failed, Some("server process is gone"))
        );
    }

    #[test]
    fn oom_kills_are_read_from_vmstat() {
        assert_eq!(parse_oom_kills("pgfault 10\noom_kill 7\n"), Some(7));
        assert_eq!(parse_oom_kills("pgfault 10\n"), None);
    }
}
