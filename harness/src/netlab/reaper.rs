//! Removing a lab, however its coordinator ended.
//!
//! Everything a lab makes lives in its namespaces (veths, the bridge, the qdisc), so removing
//! it is killing what still runs in them and `ip netns del` of each. That is done by the
//! reaper, `allocstorm netlab-reaper --prefix allocstorm-<pid>` (hidden): the coordinator starts
//! it before it makes anything, in a process group of its own (a Ctrl-C at the terminal does not
//! reach it), and holds the only writer of its stdin. End of file, when the coordinator closes
//! it at the end of its run or when the kernel does as the coordinator dies (SIGKILL included),
//! and the reaper removes the lab. One path for every way out.
//!
//! A reaper that was itself killed leaves namespaces named after a pid that is gone: the next
//! lab sweeps those first ([`sweep_stale`]).

use std::io::Read;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use super::netns;
use super::topology::{owner_pid, NAME_PREFIX};

/// Arguments of `allocstorm netlab-reaper`.
#[derive(Debug, clap::Args)]
pub struct ReaperArgs {
    /// The lab: every namespace named `PREFIX-…` is removed.
    #[arg(long)]
    pub prefix: String,
}

/// `allocstorm netlab-reaper`: waits for the end of its stdin, then removes the lab.
pub fn main(args: ReaperArgs) -> ExitCode {
    // SAFETY: ignoring signals before any thread exists.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let mut sink = [0u8; 64];
    let mut stdin = std::io::stdin();
    while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
    match remove(&args.prefix) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("allocstorm netlab-reaper: {e}");
            ExitCode::from(2)
        }
    }
}

/// Removes every namespace named `prefix-…`: SIGKILLs the processes still in one (only a lab's
/// own children can be there), then `ip netns del`, clients first, the bridge last.
pub fn remove(prefix: &str) -> Result<(), String> {
    let mut names = netns::list(&format!("{prefix}-"));
    // host namespaces (c*, srv) before the bridge's: each veth goes with its host.
    names.sort_by_key(|n| n.ends_with("-br"));
    let mut failed = Vec::new();
    for name in &names {
        kill_all_in(name);
        let out = Command::new("ip")
            .args(["netns", "del", name])
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => failed.push(format!(
                "ip netns del {name}: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => failed.push(format!("ip netns del {name}: {e}")),
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

/// SIGKILLs every process in namespace `name` and waits (a little) for them to go.
fn kill_all_in(name: &str) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let pids = netns::pids_in(name);
        if pids.is_empty() || Instant::now() > deadline {
            return;
        }
        for pid in pids {
            // SAFETY: kill of a process in the lab's own namespace.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Removes the labs of coordinators that are gone (their reaper killed too, or a machine that
/// lost power with /run kept): namespaces `allocstorm-<pid>-…` whose pid is no longer a
/// process. Returns the prefixes removed.
pub fn sweep_stale() -> Vec<String> {
    let mut gone: Vec<u32> = netns::list(NAME_PREFIX)
        .iter()
        .filter_map(|n| owner_pid(n))
        .filter(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
        .collect();
    gone.sort_unstable();
    gone.dedup();
    let mut removed = Vec::new();
    for pid in gone {
        let prefix = format!("{NAME_PREFIX}{pid}");
        match remove(&prefix) {
            Ok(()) => removed.push(prefix),
            Err(e) => eprintln!("allocstorm: a lab left by pid {pid}: {e}"),
        }
    }
    removed
}
