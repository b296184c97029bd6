//! `start_for`: a probe told which allocator the host links reads that allocator, in this
//! process, though glibc serves `malloc` here: jemalloc through tikv's prefixed `_rjem_mallctl`,
//! mimalloc through `mi_process_info`; and the figures follow what the test holds through it.

use std::ffi::c_void;
use std::time::Duration;

use allocstorm_probe::{start_for, Allocator, Figure, Host, Linked};
use common::{wait_for, wait_for_reading_after_now};

mod common;

const HELD: u64 = 16 << 20;

fn start(linked: Linked, label: &'static str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let host = Host {
        linked,
        label,
        counted_in_use: None,
    };
    let probe = start_for(dir.path(), Duration::from_millis(2), host).unwrap();
    (dir, probe.path)
}

#[test]
fn jemalloc_with_prefixed_names_is_read_through_the_mallctl_given() {
    let (_dir, page) = start(
        Linked::Jemalloc(tikv_jemalloc_sys::mallctl),
        "tikv-jemalloc-sys",
    );
    let before = wait_for(&page, |s| s.readings >= 2);
    assert_eq!(before.allocator, Allocator::Jemalloc);
    assert_eq!(before.malloc_library, "linked: tikv-jemalloc-sys");
    // 4 KiB blocks from jemalloc itself (`_rjem_malloc`), touched, while `malloc` is glibc's.
    let blocks: Vec<*mut c_void> = (0..HELD / 4096)
        .map(|_| {
            // SAFETY: jemalloc's malloc; each block is written within its size and freed below.
            unsafe {
                let p = tikv_jemalloc_sys::malloc(4096);
                assert!(!p.is_null());
                p.cast::<u8>().write_bytes(1, 4096);
                p
            }
        })
        .collect();
    let after = wait_for_reading_after_now(&page);
    let allocated = |s: &allocstorm_probe::Snapshot| s.get(Figure::JemallocAllocated).unwrap();
    assert!(
        allocated(&after) >= allocated(&before) + HELD,
        "allocated {} -> {}, held {HELD}",
        allocated(&before),
        allocated(&after)
    );
    for (figure, value) in after.figures() {
        let ours = figure.allocator() == Some(Allocator::Jemalloc);
        assert_eq!(value.is_some(), ours, "{} = {value:?}", figure.name());
    }
    for p in blocks {
        // SAFETY: allocated above by jemalloc, freed once.
        unsafe { tikv_jemalloc_sys::free(p) };
    }
}

#[test]
fn mimalloc_is_read_through_the_process_info_given() {
    let (_dir, page) = start(
        Linked::Mimalloc(libmimalloc_sys::mi_process_info),
        "libmimalloc-sys",
    );
    let before = wait_for(&page, |s| s.readings >= 2);
    assert_eq!(before.allocator, Allocator::Mimalloc);
    assert_eq!(before.malloc_library, "linked: libmimalloc-sys");
    // SAFETY: mimalloc's malloc; written within its size and freed below.
    let block = unsafe {
        let p = libmimalloc_sys::mi_malloc(HELD as usize);
        assert!(!p.is_null());
        p.cast::<u8>().write_bytes(1, HELD as usize);
        p
    };
    let after = wait_for_reading_after_now(&page);
    let committed = |s: &allocstorm_probe::Snapshot| s.get(Figure::MimallocCommitted).unwrap();
    assert!(
        committed(&after) >= committed(&before) + HELD,
        "committed {} -> {}, held {HELD}",
        committed(&before),
        committed(&after)
    );
    for (figure, value) in after.figures() {
        let ours = figure.allocator() == Some(Allocator::Mimalloc);
        assert_eq!(value.is_some(), ours, "{} = {value:?}", figure.name());
    }
    // SAFETY: allocated above by mimalloc, freed once.
    unsafe { libmimalloc_sys::mi_free(block) };
}
