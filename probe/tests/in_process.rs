//! The probe started in this process, under a counting global allocator: its thread allocates
//! nothing, and glibc's figures follow what the test holds.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use allocstorm_probe::{Allocator, Figure, Snapshot};
use common::{wait_for, wait_for_reading_after_now};

mod common;

/// Counts allocations per thread (by kernel tid) in a fixed table: counting must not allocate.
struct PerThreadCounting;

const THREADS: usize = 512;
static TIDS: [AtomicU32; THREADS] = [const { AtomicU32::new(0) }; THREADS];
static COUNTS: [AtomicU64; THREADS] = [const { AtomicU64::new(0) }; THREADS];

fn count_for_this_thread() {
    // SAFETY: gettid cannot fail.
    let tid = unsafe { libc::gettid() } as u32;
    for (slot, count) in TIDS.iter().zip(&COUNTS) {
        let claimed = slot.compare_exchange(0, tid, Ordering::AcqRel, Ordering::Acquire);
        if claimed.is_ok() || claimed == Err(tid) {
            count.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
}

fn allocations_by(tid: u32) -> u64 {
    TIDS.iter()
        .zip(&COUNTS)
        .find(|(t, _)| t.load(Ordering::Acquire) == tid)
        .map_or(0, |(_, c)| c.load(Ordering::Relaxed))
}

unsafe impl GlobalAlloc for PerThreadCounting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_for_this_thread();
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_for_this_thread();
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: PerThreadCounting = PerThreadCounting;

#[test]
fn the_probe_thread_allocates_nothing_while_it_publishes() {
    let dir = tempfile::tempdir().unwrap();
    let probe = allocstorm_probe::start(dir.path(), Duration::from_millis(2)).unwrap();
    let first = wait_for(&probe.path, |s| s.thread_tid != 0 && s.readings >= 2);
    let many = wait_for(&probe.path, |s| s.readings >= first.readings + 50);
    assert_eq!(many.allocator, Allocator::Glibc);
    assert!(
        many.malloc_library.contains("libc.so"),
        "{}",
        many.malloc_library
    );
    assert_eq!(
        allocations_by(many.thread_tid),
        0,
        "the probe thread allocated"
    );
    // The table does see threads: this one allocated to build the path and read the page.
    assert!(allocations_by(unsafe { libc::gettid() } as u32) > 0);
    let comm = std::fs::read_to_string(format!("/proc/self/task/{}/comm", many.thread_tid));
    assert_eq!(comm.unwrap().trim(), "allocstormprobe");
}

#[test]
fn the_probe_thread_blocks_every_signal_and_leaves_the_callers_mask_alone() {
    let status = |tid: u32| std::fs::read_to_string(format!("/proc/self/task/{tid}/status"));
    let blocked = |status: String| {
        let line = status.lines().find(|l| l.starts_with("SigBlk:")).unwrap();
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    // SAFETY: gettid cannot fail.
    let me = unsafe { libc::gettid() } as u32;
    let before = blocked(status(me).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let probe = allocstorm_probe::start(dir.path(), Duration::from_millis(5)).unwrap();
    let snap = wait_for(&probe.path, |s| s.thread_tid != 0);
    let probe_mask = blocked(status(snap.thread_tid).unwrap());
    // All but SIGKILL and SIGSTOP, which cannot be blocked (glibc keeps its two internal ones).
    let unblockable = (1 << (libc::SIGKILL - 1)) | (1 << (libc::SIGSTOP - 1));
    assert_eq!(
        probe_mask | unblockable | (0b11 << 31),
        u64::MAX,
        "{probe_mask:#x}"
    );
    assert_eq!(blocked(status(me).unwrap()), before);
}

#[test]
fn glibc_in_use_grows_by_what_the_test_holds() {
    const HELD: u64 = 16 << 20;
    let dir = tempfile::tempdir().unwrap();
    let probe = allocstorm_probe::start(dir.path(), Duration::from_millis(2)).unwrap();
    let before = wait_for(&probe.path, |s| s.readings >= 2);
    // 4 KiB blocks: below the mmap threshold, so they are in `uordblks`, not `hblkhd`.
    let held: Vec<Vec<u8>> = (0..HELD / 4096).map(|_| vec![1u8; 4096]).collect();
    let after = wait_for_reading_after_now(&probe.path);
    let in_use = |s: &Snapshot| s.get(Figure::GlibcInUse).unwrap();
    assert!(
        in_use(&after) >= in_use(&before) + HELD,
        "uordblks {} -> {}, held {HELD}",
        in_use(&before),
        in_use(&after)
    );
    for figure in Allocator::Glibc.figures() {
        assert!(after.get(figure).is_some(), "{} missing", figure.name());
    }
    assert_eq!(after.get(Figure::JemallocAllocated), None);
    // No counter registered: the count is missing, not 0.
    assert_eq!(after.get(Figure::CountedInUse), None);
    drop(held);
}

/// A host's counter: the test sets it, the page must show it.
static COUNTED: AtomicU64 = AtomicU64::new(0);

#[test]
fn a_linked_probe_publishes_the_hosts_counter_and_its_thread_allocates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let host = allocstorm_probe::Host {
        linked: allocstorm_probe::Linked::Glibc,
        label: "the test's System",
        counted_in_use: Some(&COUNTED),
    };
    COUNTED.store(12_345, Ordering::Relaxed);
    let probe = allocstorm_probe::start_for(dir.path(), Duration::from_millis(2), host).unwrap();
    let first = wait_for(&probe.path, |s| s.thread_tid != 0 && s.readings >= 2);
    assert_eq!(first.allocator, Allocator::Glibc);
    // `System` is whoever serves `malloc`: the page names that object, not the label.
    assert!(
        first.malloc_library.contains("libc.so"),
        "{}",
        first.malloc_library
    );
    assert_eq!(first.get(Figure::CountedInUse), Some(12_345));
    COUNTED.store(7 << 30, Ordering::Relaxed);
    let later = wait_for_reading_after_now(&probe.path);
    assert_eq!(later.get(Figure::CountedInUse), Some(7 << 30));
    for figure in Allocator::Glibc.figures() {
        assert!(later.get(figure).is_some(), "{} missing", figure.name());
    }
    let many = wait_for(&probe.path, |s| s.readings >= later.readings + 50);
    assert_eq!(
        allocations_by(many.thread_tid),
        0,
        "the probe thread allocated"
    );
}

#[test]
fn a_second_start_in_the_same_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    allocstorm_probe::start(dir.path(), Duration::from_millis(50)).unwrap();
    let again = allocstorm_probe::start(dir.path(), Duration::from_millis(50));
    assert!(matches!(
        again,
        Err(allocstorm_probe::StartError::AlreadyRunning)
    ));
}
