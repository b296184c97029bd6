//! The probe thread calls no `malloc` at all, from Rust or from C, and gives no memory back to
//! the kernel: this test binary interposes glibc's allocation entry points (an executable's
//! `malloc` wins symbol lookup, as a statically linked allocator's would), `malloc_trim`,
//! `madvise` and `munmap` (the calls through which glibc's trim, jemalloc's purge and
//! mimalloc's collect return pages), and counts calls per thread, forwarding to `__libc_*` and
//! the raw system calls. glibc's arenas are read through `malloc_info` into an `fmemopen`
//! stream: stdio's calls of `malloc` go through the interposed one too.

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
static RETURN_TIDS: [AtomicU32; THREADS] = [const { AtomicU32::new(0) }; THREADS];
static RETURNS: [AtomicU64; THREADS] = [const { AtomicU64::new(0) }; THREADS];

fn count() {
    count_in(&TIDS, &COUNTS);
}

/// Counts a call that hands memory back (trim, madvise, munmap) for the calling thread.
fn count_return() {
    count_in(&RETURN_TIDS, &RETURNS);
}

fn count_in(tids: &[AtomicU32; THREADS], counts: &[AtomicU64; THREADS]) {
    // SAFETY: a raw syscall: no allocation, no TLS, safe even during early startup.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u32;
    for (slot, count) in tids.iter().zip(counts) {
        let claimed = slot.compare_exchange(0, tid, Ordering::AcqRel, Ordering::Acquire);
        if claimed.is_ok() || claimed == Err(tid) {
            count.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
}

fn mallocs_by(tid: u32) -> u64 {
    by(&TIDS, &COUNTS, tid)
}

fn returns_by(tid: u32) -> u64 {
    by(&RETURN_TIDS, &RETURNS, tid)
}

fn by(tids: &[AtomicU32; THREADS], counts: &[AtomicU64; THREADS], tid: u32) -> u64 {
    tids.iter()
        .zip(counts)
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

/// glibc's `mallinfo2`, resolved on the first call (the probe's first reading, on the thread
/// that starts it): with it beside `malloc` in this executable, detection reads this process
/// as glibc, so the probe thread runs glibc's reader (`mallinfo2` and `malloc_info` into its
/// stdio stream) under the counting `malloc`.
#[no_mangle]
unsafe extern "C" fn mallinfo2() -> libc::mallinfo2 {
    type Mallinfo2 = unsafe extern "C" fn() -> libc::mallinfo2;
    static REAL: std::sync::atomic::AtomicPtr<c_void> =
        std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());
    let mut real = REAL.load(Ordering::Acquire);
    if real.is_null() {
        real = libc::dlsym(libc::RTLD_NEXT, c"mallinfo2".as_ptr());
        REAL.store(real, Ordering::Release);
    }
    std::mem::transmute::<*mut c_void, Mallinfo2>(real)()
}

#[no_mangle]
unsafe extern "C" fn malloc_trim(_pad: usize) -> i32 {
    count_return();
    0
}

#[no_mangle]
unsafe extern "C" fn madvise(addr: *mut c_void, len: usize, advice: i32) -> i32 {
    count_return();
    libc::syscall(libc::SYS_madvise, addr, len, advice) as i32
}

#[no_mangle]
unsafe extern "C" fn munmap(addr: *mut c_void, len: usize) -> i32 {
    count_return();
    libc::syscall(libc::SYS_munmap, addr, len) as i32
}

#[test]
fn the_probe_thread_calls_no_malloc_from_rust_or_c() {
    let dir = tempfile::tempdir().unwrap();
    let probe = allocstorm_probe::start(dir.path(), Duration::from_millis(2)).unwrap();
    assert_eq!(probe.allocator, allocstorm_probe::Allocator::Glibc);
    let snap = common::wait_for(&probe.path, |s| s.thread_tid != 0 && s.readings >= 100);
    assert!(
        snap.arenas().is_some(),
        "glibc's arenas were read through malloc_info on every reading"
    );
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
    assert_eq!(
        returns_by(snap.thread_tid),
        0,
        "the probe thread gave memory back (malloc_trim, madvise or munmap)"
    );
}

/// A test of the test: memory handed back from a thread is counted for that thread.
#[test]
fn a_thread_that_trims_is_counted() {
    let tid = std::thread::spawn(|| {
        // SAFETY: calls of the interposed functions; munmap of nothing mapped is harmless.
        unsafe {
            libc::malloc_trim(0);
            libc::madvise(std::ptr::null_mut(), 0, libc::MADV_DONTNEED);
            libc::gettid() as u32
        }
    })
    .join()
    .unwrap();
    // Two calls of ours; the thread's exit may add its own (glibc advises its stack away).
    assert!(returns_by(tid) >= 2, "{} counted", returns_by(tid));
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
    assert_eq!(
        returns_by(snap.thread_tid),
        0,
        "the probe thread gave memory back (a purge)"
    );
}
