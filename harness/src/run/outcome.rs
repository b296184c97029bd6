//! How a run ended, decided from what was seen, without processes: which task ended the run,
//! how the server exited, and the kernel's OOM-kill count before and after: the count of the
//! server's own memory cgroup, or the machine's when it has none.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use crate::cgroup::CgroupReader;
use crate::child::describe_exit;
use crate::record::RunStatus;

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

/// Where the kernel's OOM kills are counted for a run.
#[derive(Debug, Clone)]
pub enum OomCounter {
    /// `oom_kill` of the server's own memory cgroup: a kill there is the server's (or of
    /// something the server started), never another process's.
    Cgroup(CgroupReader),
    /// `oom_kill` in `/proc/vmstat`, the whole machine's: the fallback without a cgroup.
    Machine,
}

impl OomCounter {
    /// The count now, if it can be read.
    pub fn read(&self) -> Option<u64> {
        match self {
            OomCounter::Cgroup(r) => r.oom_kills().ok(),
            OomCounter::Machine => kernel_oom_kills(),
        }
    }

    /// Where the count is read, for the run's failure.
    pub fn source(&self) -> String {
        match self {
            OomCounter::Cgroup(r) => format!(
                "oom_kill of the server's memory cgroup ({})",
                r.oom_kills_file().display()
            ),
            OomCounter::Machine => {
                "oom_kill in /proc/vmstat, the whole machine's count: no cgroup of the server's own"
                    .into()
            }
        }
    }
}

/// The kernel's OOM-kill count before the run and after it, and where it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct OomKills {
    pub source: String,
    pub before: Option<u64>,
    pub after: Option<u64>,
}

/// The kernel's count of OOM kills since boot (`oom_kill` in `/proc/vmstat`), if it keeps one.
pub fn kernel_oom_kills() -> Option<u64> {
    std::fs::read_to_string("/proc/vmstat")
        .ok()
        .and_then(|s| parse_oom_kills(&s))
}

fn parse_oom_kills(vmstat: &str) -> Option<u64> {
    crate::cgroup::stat_value(vmstat, "oom_kill")
}

/// The run's status and failure. `exit` is how the server ended, when it had by the time the
/// run ended; `oom_kills` the kernel's count before the run and after it.
pub fn classify(
    ended: &Ended,
    exit: Option<ExitStatus>,
    oom_kills: &OomKills,
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
            let OomKills {
                source,
                before,
                after,
            } = oom_kills;
            if st.signal() == Some(libc::SIGKILL) && after > before {
                let failure = format!(
                    "server {e} by the kernel's OOM killer ({source} went from {} to {})",
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
    fn kills(before: Option<u64>, after: Option<u64>) -> OomKills {
        OomKills {
            source: "oom_kill of the server's memory cgroup (/cg/memory.oom_control)".into(),
            before,
            after,
        }
    }

    #[test]
    fn done_is_ok_and_interrupted_says_so() {
        assert_eq!(
            classify(&Ended::Done, None, &kills(None, None)),
            (RunStatus::Ok, None)
        );
        let (s, f) = classify(&Ended::Interrupted, None, &kills(Some(1), Some(1)));
        assert_eq!(s, RunStatus::Interrupted);
        assert_eq!(f.as_deref(), Some("interrupted by the user"));
    }

    #[test]
    fn over_the_harness_limit_is_oom_with_the_samplers_words() {
        let e = Ended::OverLimit("VmRSS 600 MiB crossed the memory limit".into());
        let (s, f) = classify(&e, Some(signalled(libc::SIGKILL)), &kills(Some(0), Some(0)));
        assert_eq!(s, RunStatus::Oom);
        assert_eq!(f.as_deref(), Some("VmRSS 600 MiB crossed the memory limit"));
    }

    #[test]
    fn a_sigkill_while_the_kernels_count_rose_is_the_kernels_oom_killer() {
        let e = Ended::Failed("server process is gone".into());
        let (s, f) = classify(&e, Some(signalled(libc::SIGKILL)), &kills(Some(3), Some(4)));
        assert_eq!(s, RunStatus::Oom);
        let f = f.unwrap();
        assert!(f.contains("kernel's OOM killer"), "{f}");
        assert!(f.contains("SIGKILL") && f.contains("from 3 to 4"), "{f}");
        assert!(
            f.contains("oom_kill of the server's memory cgroup (/cg/"),
            "{f}"
        );
    }

    #[test]
    fn a_sigkill_without_a_kernel_oom_kill_or_another_death_is_failed() {
        let e = Ended::Failed("server process is gone".into());
        for (exit, kills) in [
            (signalled(libc::SIGKILL), kills(Some(3), Some(3))),
            (signalled(libc::SIGKILL), kills(None, None)),
            (signalled(libc::SIGSEGV), kills(Some(3), Some(4))),
            (exited(1), kills(Some(3), Some(4))),
        ] {
            let (s, f) = classify(&e, Some(exit), &kills);
            assert_eq!(s, RunStatus::Failed, "{exit:?} {kills:?}");
            assert!(f.unwrap().starts_with("server process is gone: server "));
        }
        let (s, f) = classify(&e, None, &kills(Some(3), Some(4)));
        assert_eq!(
            (s, f.as_deref()),
            (RunStatus::Failed, Some("server process is gone"))
        );
    }

    #[test]
    fn with_a_cgroup_the_count_is_its_own() {
        use crate::cgroup::Version;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cgroup/v1");
        let c = OomCounter::Cgroup(CgroupReader::new(&dir, Version::V1));
        assert_eq!(c.read(), Some(1));
        assert!(
            c.source().ends_with("v1/memory.oom_control)"),
            "{}",
            c.source()
        );
        assert!(OomCounter::Machine.source().contains("/proc/vmstat"));
    }

    #[test]
    fn oom_kills_are_read_from_vmstat() {
        assert_eq!(parse_oom_kills("pgfault 10\noom_kill 7\n"), Some(7));
        assert_eq!(parse_oom_kills("pgfault 10\n"), None);
    }
}
