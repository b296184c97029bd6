//! Children that die with the harness.
//!
//! Every process allocstorm starts (servers, load workers) gets a parent-death signal and its own
//! process group, and is killed when its handle drops. The parent-death signal fires when the
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

/// Sends SIGKILL to a child's whole process group (the child and anything it started).
pub fn kill_group(pid: u32) {
    // SAFETY: kill with a negative pid signals the group; harmless if it is already gone.
    unsafe {
        libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
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
