//! The probe thread calls no `malloc` at all, from Rust or from C: this test binary interposes
//! glibc's allocation entry points (an executable's `malloc` wins symbol lookup, as a statically
//! linked allocator's would) and counts calls per thread, forwarding to `__libc_*`.

use std::ffi::c_void;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

mod common;

extern "C" {
    fn __libc_malloc(size: usize) -> *mut c_void;
    fn __libc_calloc(n: usize, size: usize) -> *mut c_void;
    fn __libc_realloc(ptr: *mut c_void, size: usize) -> *mut c_void;
    fn __libc_memalign(align: usize, size: usize) -> *mut c_void;
}

const THREADS: usize = 512;
static TIDS: [AtomicU32; THREADS] = [const { AtomicU32::new(0) }; THREADS];
static COUNTS: [AtomicU64; THREADS] = [const { AtomicU64::new(0) }; THREADS];

fn count() {
    // SAFETY: a raw syscall: no allocation, no TLS, safe even during early startup.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u32;
    for (slot, count) in TIDS.iter().zip(&COUNTS) {
        let claimed = slot.compare_exchange(0, tid, Ordering::AcqRel, Ordering::Acquire);
        if claimed.is_ok() || claimed == Err(tid) {
            count.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
}

fn mallocs_by(tid: u32) -> u64 {
    TIDS.iter()
        .zip(&COUNTS)
        .find(|(t, _)| t.load(Ordering::Acquire) == tid)
        .map_or(0, |(_, c)| c.load(Ordering::Relaxed))
}

#[no_mangle]
unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    count();
    __libc_malloc(size)
}

#[no_mangle]
unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    count();
    __libc_calloc(n, size)
}

#[no_mangle]
unsafe extern "C" fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    count();
    __libc_realloc(ptr, size)
}

#[no_mangle]
unsafe extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    count();
    __libc_memalign(align, size)
}

#[no_mangle]
unsafe extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    count();
    __libc_memalign(align, size)
}

#[no_mangle]
unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> i32 {
    count();
    let p = __libc_memalign(align, size);
    if p.is_null() {
        return libc::ENOMEM;
    }
    *out = p;
    0
}

#[test]
fn the_probe_thread_calls_no_malloc_from_rust_or_c() {
    let dir = tempfile::tempdir().unwrap();
    let probe = allocstorm_probe::start(dir.path(), Duration::from_millis(2)).unwrap();
    let snap = common::wait_for(&probe.path, |s| s.thread_tid != 0 && s.readings >= 100);
    // SAFETY: gettid cannot fail.
    let me = unsafe { libc::gettid() } as u32;
    assert!(
        mallocs_by(me) > 0,
        "the interposed malloc is not the one called"
    );
    assert_eq!(
        mallocs_by(snap.thread_tid),
        0,
        "the probe thread called malloc"
    );
}

/// The same for a probe reading jemalloc through the host's `_rjem_mallctl`, with a counter.
#[test]
fn a_linked_jemalloc_probe_thread_calls_no_malloc() {
    static COUNTED: AtomicU64 = AtomicU64::new(0);
    let dir = tempfile::tempdir().unwrap();
    let host = allocstorm_probe::Host {
        linked: allocstorm_probe::Linked::Jemalloc(tikv_jemalloc_sys::mallctl),
        label: "tikv-jemalloc-sys",
        counted_in_use: Some(&COUNTED),
    };
    let probe = allocstorm_probe::start_for(dir.path(), Duration::from_millis(2), host).unwrap();
    let snap = common::wait_for(&probe.path, |s| s.thread_tid != 0 && s.readings >= 100);
    assert_eq!(snap.allocator, allocstorm_probe::Allocator::Jemalloc);
    assert_eq!(
        mallocs_by(snap.thread_tid),
        0,
        "the probe thread called malloc"
    );
}
