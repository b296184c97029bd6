//! Reading each allocator's own figures, without allocating: static C names, stack buffers,
//! function pointers resolved once by `detect`. A figure a call does not give stays missing.

use std::ffi::{c_char, c_int, c_void, CStr};

use crate::figure::{Allocator, Figure};
use crate::page::Figures;

/// jemalloc's `mallctl`, under whatever name the host links it (tikv-jemallocator:
/// `_rjem_mallctl`, which `tikv_jemalloc_sys::mallctl` is).
pub type Mallctl =
    unsafe extern "C" fn(*const c_char, *mut c_void, *mut usize, *mut c_void, usize) -> c_int;
type GetNumericProperty = unsafe extern "C" fn(*const c_char, *mut usize) -> c_int;
/// mimalloc's `mi_process_info` (`libmimalloc_sys::mi_process_info`).
pub type ProcessInfo = unsafe extern "C" fn(
    *mut usize,
    *mut usize,
    *mut usize,
    *mut usize,
    *mut usize,
    *mut usize,
    *mut usize,
    *mut usize,
);

/// How to read the allocator that serves `malloc`.
#[derive(Clone, Copy)]
pub enum Source {
    /// `mallinfo2()`. Takes each arena's lock briefly; never trims.
    Glibc,
    /// `mallctl`, plus jemalloc's page size for the dirty/muzzy page counts (0: unknown).
    Jemalloc {
        mallctl: Mallctl,
        page: u64,
    },
    /// gperftools' `MallocExtension_GetNumericProperty`.
    Tcmalloc {
        get: GetNumericProperty,
    },
    /// `mi_process_info`. mimalloc's public API has no in-use figure (its stats need a debug or
    /// stats build and `mi_stats_print` formats text), so in use stays missing here; the toy
    /// server counts its own (`counted.in_use`).
    Mimalloc {
        info: ProcessInfo,
    },
    Unknown,
}

const JEMALLOC: [(&CStr, Figure); 6] = [
    (c"stats.allocated", Figure::JemallocAllocated),
    (c"stats.active", Figure::JemallocActive),
    (c"stats.resident", Figure::JemallocResident),
    (c"stats.retained", Figure::JemallocRetained),
    (c"stats.mapped", Figure::JemallocMapped),
    (c"stats.metadata", Figure::JemallocMetadata),
];
/// Pages, × the page size. 4096 is MALLCTL_ARENAS_ALL: summed over all arenas.
const JEMALLOC_PAGES: [(&CStr, Figure); 2] = [
    (c"stats.arenas.4096.pdirty", Figure::JemallocDirty),
    (c"stats.arenas.4096.pmuzzy", Figure::JemallocMuzzy),
];
const TCMALLOC: [(&CStr, Figure); 6] = [
    (
        c"generic.current_allocated_bytes",
        Figure::TcmallocAllocated,
    ),
    (c"generic.heap_size", Figure::TcmallocHeapSize),
    (
        c"tcmalloc.pageheap_free_bytes",
        Figure::TcmallocPageheapFree,
    ),
    (
        c"tcmalloc.pageheap_unmapped_bytes",
        Figure::TcmallocPageheapUnmapped,
    ),
    (
        c"tcmalloc.current_total_thread_cache_bytes",
        Figure::TcmallocThreadCache,
    ),
    (
        c"tcmalloc.central_cache_free_bytes",
        Figure::TcmallocCentralCacheFree,
    ),
];

impl Source {
    /// Resolved by `detect`; the first `mallctl` call (ctl init) allocates, so it is made here,
    /// on the thread that calls `start`.
    pub fn jemalloc(mallctl: *mut c_void) -> Source {
        // SAFETY: `mallctl` was found by dlsym under jemalloc's name for exactly this signature.
        let mallctl: Mallctl = unsafe { std::mem::transmute::<*mut c_void, Mallctl>(mallctl) };
        Source::jemalloc_linked(mallctl)
    }

    /// jemalloc through a `mallctl` the host gives (linked, possibly with prefixed names).
    pub fn jemalloc_linked(mallctl: Mallctl) -> Source {
        let page = jemalloc_size(mallctl, c"arenas.page").unwrap_or(0) as u64;
        Source::Jemalloc { mallctl, page }
    }

    pub fn tcmalloc(get: *mut c_void) -> Source {
        // SAFETY: gperftools' C API, `int (const char*, size_t*)`.
        let get = unsafe { std::mem::transmute::<*mut c_void, GetNumericProperty>(get) };
        Source::Tcmalloc { get }
    }

    pub fn mimalloc(info: *mut c_void) -> Source {
        // SAFETY: mimalloc's `void mi_process_info(size_t* × 8)`.
        let info = unsafe { std::mem::transmute::<*mut c_void, ProcessInfo>(info) };
        Source::Mimalloc { info }
    }

    pub fn allocator(&self) -> Allocator {
        match self {
            Source::Glibc => Allocator::Glibc,
            Source::Jemalloc { .. } => Allocator::Jemalloc,
            Source::Tcmalloc { .. } => Allocator::Tcmalloc,
            Source::Mimalloc { .. } => Allocator::Mimalloc,
            Source::Unknown => Allocator::Unknown,
        }
    }

    /// One reading. Allocation-free.
    pub fn read(&self) -> Figures {
        let mut out = Figures::default();
        match *self {
            Source::Glibc => read_glibc(&mut out),
            Source::Jemalloc { mallctl, page } => read_jemalloc(mallctl, page, &mut out),
            Source::Tcmalloc { get } => {
                for (name, figure) in TCMALLOC {
                    let mut value = 0usize;
                    // SAFETY: static NUL-terminated name, valid out pointer; 1 means success.
                    if unsafe { get(name.as_ptr(), &mut value) } == 1 {
                        out.set(figure, value as u64);
                    }
                }
            }
            Source::Mimalloc { info } => read_mimalloc(info, &mut out),
            Source::Unknown => {}
        }
        out
    }
}

fn read_glibc(out: &mut Figures) {
    // SAFETY: mallinfo2 returns a struct by value; it locks each arena in turn, never trims.
    let m = unsafe { libc::mallinfo2() };
    out.set(Figure::GlibcArena, m.arena as u64);
    out.set(Figure::GlibcFreeChunks, m.ordblks as u64);
    out.set(Figure::GlibcMmapChunks, m.hblks as u64);
    out.set(Figure::GlibcMmapBytes, m.hblkhd as u64);
    out.set(Figure::GlibcInUse, m.uordblks as u64);
    out.set(Figure::GlibcFreeHeld, m.fordblks as u64);
    out.set(Figure::GlibcKeepcost, m.keepcost as u64);
}

fn read_jemalloc(mallctl: Mallctl, page: u64, out: &mut Figures) {
    // Writing `epoch` refreshes the stats that `stats.*` read.
    let mut epoch: u64 = 1;
    let mut len = std::mem::size_of::<u64>();
    let epoch_ptr = &mut epoch as *mut u64 as *mut c_void;
    // SAFETY: `epoch` is a u64 in and out, as jemalloc documents.
    if unsafe { mallctl(c"epoch".as_ptr(), epoch_ptr, &mut len, epoch_ptr, len) } != 0 {
        return;
    }
    for (name, figure) in JEMALLOC {
        if let Some(v) = jemalloc_size(mallctl, name) {
            out.set(figure, v as u64);
        }
    }
    for (name, figure) in JEMALLOC_PAGES {
        if let (Some(pages), true) = (jemalloc_size(mallctl, name), page > 0) {
            out.set(figure, pages as u64 * page);
        }
    }
}

fn jemalloc_size(mallctl: Mallctl, name: &CStr) -> Option<usize> {
    let mut value = 0usize;
    let mut len = std::mem::size_of::<usize>();
    let ptr = &mut value as *mut usize as *mut c_void;
    // SAFETY: a size_t read into a size_t; nonzero means the name does not exist in this build.
    let rc = unsafe { mallctl(name.as_ptr(), ptr, &mut len, std::ptr::null_mut(), 0) };
    (rc == 0 && len == std::mem::size_of::<usize>()).then_some(value)
}

fn read_mimalloc(info: ProcessInfo, out: &mut Figures) {
    let mut v = [0usize; 8];
    let [a, b, c, d, e, f, g, h] = &mut v;
    // SAFETY: eight valid size_t out pointers; mi_process_info reads counters and getrusage.
    unsafe { info(a, b, c, d, e, f, g, h) };
    out.set(Figure::MimallocCommitted, v[5] as u64);
    out.set(Figure::MimallocCommittedPeak, v[6] as u64);
}
