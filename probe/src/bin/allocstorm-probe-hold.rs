//! Test helper, run under a preloaded probe: allocates and holds a known number of bytes in
//! 4 KiB blocks (below every allocator's mmap threshold), optionally forks first so that parent
//! and child both hold them, prints `ready <pid>` per process, and exits when stdin closes (a
//! forking parent reaps its child first).
//!
//! With `--forks N` it first forks N short-lived children one after another, each allocating and
//! exiting at once, and waits for each: a fork that deadlocks in the probe's child handler
//! never gets to `ready`.
//!
//! Usage: allocstorm-probe-hold [--fork] [--forks N] <bytes>

use std::io::{Read, Write};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bytes: usize = args.last().and_then(|a| a.parse().ok()).unwrap_or(0);
    let storm = args.iter().position(|a| a == "--forks");
    let storm: usize = storm
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(0);
    for _ in 0..storm {
        fork_and_wait();
    }
    // SAFETY: single-threaded here apart from the probe thread, which fork does not copy.
    let forked = args
        .iter()
        .any(|a| a == "--fork")
        .then(|| unsafe { libc::fork() });
    if forked.is_some_and(|pid| pid < 0) {
        std::process::exit(2);
    }
    let held: Vec<Vec<u8>> = (0..bytes / 4096).map(|i| vec![i as u8; 4096]).collect();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ready {}", std::process::id());
    let _ = out.flush();
    drop(out);
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    std::hint::black_box(&held);
    if let Some(child) = forked.filter(|pid| *pid > 0) {
        // SAFETY: our own child: reaped here, not left to init.
        unsafe { libc::waitpid(child, std::ptr::null_mut(), 0) };
    }
}

fn fork_and_wait() {
    // SAFETY: the child only allocates and `_exit`s; the parent reaps it.
    unsafe {
        match libc::fork() {
            0 => {
                std::hint::black_box(vec![0u8; 4096]);
                libc::_exit(0);
            }
            pid if pid > 0 => {
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            _ => std::process::exit(2),
        }
    }
}
