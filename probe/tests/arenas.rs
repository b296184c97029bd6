//! glibc's per-arena figures: two threads that free in two thread arenas show two arenas, each
//! holding what its thread freed, beside the main arena; read by the probe thread from
//! `malloc_info`, without trimming.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use allocstorm_probe::{Allocator, Arena};

mod common;

const MIB: u64 = 1 << 20;
/// Under glibc's mmap threshold (128 KiB), so the blocks come from the thread's arena.
const BLOCK: usize = 64 * 1024;

/// Allocates `bytes` in BLOCKs, then a guard above them, frees the blocks and keeps the guard:
/// the freed run cannot merge into the top chunk, so nothing can be trimmed from it.
fn free_below_a_guard(bytes: u64) {
    let blocks: Vec<usize> = (0..bytes as usize / BLOCK)
        // SAFETY: plain malloc; every block is freed below.
        .map(|_| unsafe { libc::malloc(BLOCK) } as usize)
        .collect();
    // SAFETY: as above; the guard is kept (leaked) on purpose.
    let guard = unsafe { libc::malloc(1024) };
    assert!(!guard.is_null() && blocks.iter().all(|b| *b != 0));
    for b in blocks {
        // SAFETY: each block once, from malloc.
        unsafe { libc::free(b as *mut libc::c_void) };
    }
}

/// The thread arenas (main excluded) whose free bytes lie in `[bytes, bytes + 1 MiB)`: what
/// the thread freed, plus at most its arena's top chunk and earlier crumbs.
fn holding(arenas: &[Arena], bytes: u64) -> usize {
    arenas[1..]
        .iter()
        .filter(|a| (bytes..bytes + MIB).contains(&a.free) && a.free <= a.system)
        .count()
}

#[test]
fn two_threads_freeing_in_two_arenas_show_two_arenas_holding_what_each_freed() {
    let dir = tempfile::tempdir().unwrap();
    let probe = allocstorm_probe::start(dir.path(), Duration::from_millis(5)).unwrap();
    assert_eq!(probe.allocator, Allocator::Glibc);
    // Both threads live until both have allocated: neither can take the other's arena (glibc
    // hands an exited thread's arena to the next new thread).
    let both = Arc::new(Barrier::new(2));
    let threads: Vec<_> = [16 * MIB, 4 * MIB]
        .into_iter()
        .map(|bytes| {
            let both = Arc::clone(&both);
            std::thread::spawn(move || {
                free_below_a_guard(bytes);
                both.wait();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let snap = common::wait_for_reading_after_now(&probe.path);
    let arenas = snap.arenas().expect("glibc's arenas are read");
    assert!(snap.arena_count().unwrap() >= 3, "{arenas:?}");
    assert!(
        arenas[0].system > 0,
        "the main arena comes first: {arenas:?}"
    );
    assert_eq!(holding(arenas, 16 * MIB), 1, "{arenas:?}");
    assert_eq!(holding(arenas, 4 * MIB), 1, "{arenas:?}");
}
