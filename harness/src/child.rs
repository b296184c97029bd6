//! Child processes: children that die with the harness, process groups, joining a cgroup before
//! exec, and how a process ended.
//!
//! Every process allocstorm starts (servers, load workers, the lab's helpers) gets a
//! parent-death signal and its own process group, and is killed when its handle drops. The parent-death signal fires when the
//! *thread* that forked the child exits, so children are only spawned from the main thread
//! (the harness runs a current-thread runtime there).

/// Makes `cmd` start its child in a new process group with `PR_SET_PDEATHSIG = SIGKILL`, and
/// kill it when the tokio `Child` handle is dropped.
pub fn die_with_parent(cmd: &mut tokio::process::Command) -> &mut tokio::process::Command {
    let parent = std::process::id() as libc::pid_t;
    cmd.kill_on_drop(true).process_group(0);
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe calls.
    unsafe { cmd.pre_exec(move || sigkill_on_parent_death(parent)) };
    cmd
}

/// For a `pre_exec` closure (between fork and exec: async-signal-safe calls only): the child
/// gets SIGKILL when `parent`, the process that forked it, dies, and exits at once if `parent`
/// already died between the fork and the `prctl` (nobody would kill it then).
pub fn sigkill_on_parent_death(parent: libc::pid_t) -> std::io::Result<()> {
    // SAFETY: prctl and getppid are async-signal-safe; _exit ends this child only.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::getppid() != parent {
            libc::_exit(1);
        }
    }
    Ok(())
}

/// A `pre_exec` closure that moves the child into the cgroup `dir` (by writing `0`, "the
/// writer", to its `cgroup.procs`) between fork and exec: everything it allocates is charged
/// there from its first page. A child that cannot join fails to start, with the error of the
/// write.
pub fn join_cgroup(
    dir: &std::path::Path,
) -> Result<impl FnMut() -> std::io::Result<()> + Send + Sync + 'static, String> {
    use std::os::unix::ffi::OsStrExt;
    let procs = dir.join("cgroup.procs");
    if !procs.is_file() {
        return Err(format!(
            "{}: not a cgroup directory (no cgroup.procs in it)",
            dir.display()
        ));
    }
    let path = std::ffi::CString::new(procs.as_os_str().as_bytes())
        .map_err(|_| format!("{}: a NUL in the path", dir.display()))?;
    // Only async-signal-safe calls (open, write, close) on a path made before the fork.
    Ok(move || {
        // SAFETY: plain syscalls on a NUL-terminated path and a buffer of one byte.
        unsafe {
            let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let written = libc::write(fd, b"0".as_ptr().cast(), 1);
            let err = std::io::Error::last_os_error();
            libc::close(fd);
            if written != 1 {
                return Err(err);
            }
        }
        Ok(())
    })
}

/// Makes `cmd`'s child move itself into the cgroup `dir` before it execs ([`join_cgroup`]).
pub fn start_in_cgroup(
    cmd: &mut tokio::process::Command,
    dir: &std::path::Path,
) -> Result<(), String> {
    let join = join_cgroup(dir)?;
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe calls.
    unsafe { cmd.pre_exec(join) };
    Ok(())
}

/// Sends SIGKILL to a child's whole process group (the child and anything it started).
pub fn kill_group(pid: u32) {
    // SAFETY: kill with a negative pid signals the group; harmless if it is already gone.
    unsafe {
        libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
    }
}

/// SIGKILLs every process of the process group `group` but its leader (`group` itself): the
/// leader, a guard, then reaps its child and reports how it ended.
pub fn kill_group_but_leader(group: u32) {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    let group = group as libc::pid_t;
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        // SAFETY: getpgid only reads; kill signals a process of that group.
        if pid != group && unsafe { libc::getpgid(pid) } == group {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// The directory of the running `allocstorm` executable, where the server binaries are built.
pub fn exe_dir() -> std::io::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| ".".into()))
}

/// How a process ended, in words: `exited with code 0`, `killed by signal 9 (SIGKILL)`.
pub fn describe_exit(st: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exited with code {c}"),
        (None, Some(s)) => format!("killed by signal {s} ({})", signal_name(s)),
        _ => "ended".into(),
    }
}

fn signal_name(s: i32) -> &'static str {
    match s {
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        _ => "signal",
    }
}

/// SIGTERM, then SIGKILL to its group after `grace`; describes how the process ended.
pub async fn stop(child: &mut tokio::process::Child, grace: std::time::Duration) -> String {
    if let Ok(Some(st)) = child.try_wait() {
        return describe_exit(st);
    }
    if let Some(pid) = child.id() {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    }
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(Ok(st)) => describe_exit(st),
        _ => {
            if let Some(pid) = child.id() {
                kill_group(pid);
            }
            let _ = child.wait().await;
            format!("did not stop within {grace:?} of SIGTERM; killed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_without_cgroup_procs_is_refused_before_any_fork() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = tokio::process::Command::new("true");
        let e = start_in_cgroup(&mut cmd, dir.path()).unwrap_err();
        assert!(e.starts_with(&dir.path().display().to_string()), "{e}");
        assert!(
            e.ends_with("not a cgroup directory (no cgroup.procs in it)"),
            "{e}"
        );
    }
}
