//! The guard between the harness and an external target (`allocstorm target-guard`, hidden).
//!
//! A server of the user's own may fork workers (nginx, apache) that know nothing of the
//! harness: a parent-death signal on the server itself would leave its workers running when
//! allocstorm is killed. So the harness starts this guard as the leader of a new process group
//! and the guard starts the target in that group; the guard
//!
//! - reads its stdin, a pipe whose only writer is the harness: end of file means the harness is
//!   gone (however it died) or done, and the guard SIGKILLs the whole group, itself included;
//! - forwards SIGTERM to the target, so a clean stop is the target's own;
//! - when the target exits, SIGKILLs whatever is left of the group (workers the target did not
//!   reap) and ends the way the target ended, with the same exit code or the same signal, so
//!   the harness reports the target's real end.
//!
//! - lets SIGINT pass: a load tool under a guard is stopped by SIGINT to its whole group (the
//!   way Ctrl-C stops it in a terminal), which the guard itself outlives to report its end.
//!
//! The target gets the variant's preload as `LD_PRELOAD`, and joins the run's memory cgroup
//! (`--cgroup`) before it execs; the guard itself does neither.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};

/// Arguments of `allocstorm target-guard`.
#[derive(Debug, clap::Args)]
pub struct GuardArgs {
    /// `LD_PRELOAD` for the target (not for the guard).
    #[arg(long)]
    pub preload: Option<String>,
    /// The run's memory cgroup, for the target (and what it forks), not the guard.
    #[arg(long)]
    pub cgroup: Option<std::path::PathBuf>,
    /// The target's command line.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// The target's pid, for the SIGTERM handler.
static TARGET: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward_sigterm(_: libc::c_int) {
    let pid = TARGET.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
}

/// SIGINT to the group is for the tool; the guard stays to wait for it. (A handler, not
/// `SIG_IGN`, which the tool would inherit through exec.)
extern "C" fn let_sigint_pass(_: libc::c_int) {}

/// SIGKILLs every other process of this process group (the guard leads it).
fn kill_rest_of_group() {
    // SAFETY: getpgrp only reads.
    crate::child::kill_group_but_leader(unsafe { libc::getpgrp() } as u32);
}

pub fn main(args: GuardArgs) -> ExitCode {
    let Some((program, rest)) = args.command.split_first() else {
        eprintln!("allocstorm target-guard: expected a command after --");
        return ExitCode::from(2);
    };
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest).stdin(std::process::Stdio::null());
    match &args.preload {
        Some(lib) => cmd.env("LD_PRELOAD", lib),
        None => cmd.env_remove("LD_PRELOAD"),
    };
    let parent = std::process::id() as libc::pid_t;
    // The guard gone (SIGKILLed with its group, say) takes the target with it.
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe { cmd.pre_exec(move || crate::child::sigkill_on_parent_death(parent)) };
    if let Some(dir) = &args.cgroup {
        match crate::child::join_cgroup(dir) {
            // SAFETY: the closure makes only async-signal-safe calls (open, write, close).
            Ok(join) => unsafe {
                cmd.pre_exec(join);
            },
            Err(e) => {
                eprintln!("allocstorm target-guard: {e}");
                return ExitCode::from(2);
            }
        }
    }
    // Before the tool starts, so that a phase's end can never find the guard without it.
    // SAFETY: installing a handler that does nothing.
    unsafe {
        libc::signal(
            libc::SIGINT,
            let_sigint_pass as *const () as libc::sighandler_t,
        )
    };
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("allocstorm target-guard: cannot start {program}: {e}");
            return ExitCode::from(127);
        }
    };
    TARGET.store(child.id() as i32, Ordering::SeqCst);
    // SAFETY: installing a handler that only calls kill.
    unsafe {
        libc::signal(
            libc::SIGTERM,
            forward_sigterm as *const () as libc::sighandler_t,
        )
    };

    // The harness's end: stdin reaches end of file (or fails) when its only writer is gone.
    std::thread::spawn(|| {
        let mut buf = [0u8; 64];
        let mut stdin = std::io::stdin();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                // A signal the guard handles (SIGINT, SIGTERM) is not the harness's end.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        // SAFETY: kill with a negative pid signals our whole group, the guard included.
        unsafe { libc::kill(-libc::getpgrp(), libc::SIGKILL) };
    });

    let status = loop {
        match child.wait() {
            Ok(st) => break st,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("allocstorm target-guard: waiting for {program}: {e}");
                kill_rest_of_group();
                return ExitCode::from(2);
            }
        }
    };
    kill_rest_of_group();
    if let Some(sig) = status.signal() {
        // End the same way, so the harness sees the target's signal.
        // SAFETY: restore the default action and raise it on ourselves.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
    ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8)
}
