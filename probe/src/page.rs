//! The shared page: its one `#[repr(C)]` layout, and the writer's side of its seqlock.
//!
//! The header (magic aside) is written once before `magic` is stored with Release; a reader
//! that sees the magic with Acquire sees the header. The reading itself (time, count, known
//! bits, figures) is guarded by `seq`: odd while the writer is inside.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

use crate::arenas::{Arena, Arenas, ARENA_SLOTS};
use crate::figure::{Allocator, Figure};

/// The file's size: one page.
pub const PAGE_BYTES: usize = 4096;
/// "ASPROBE" + layout version as a byte, little-endian. A reader of layout 1 compares the whole
/// magic, so it refuses a layout 2 page as "not a probe page" before reading anything else.
pub const MAGIC: u64 = u64::from_le_bytes(*b"ASPROBE\x02");
pub const VERSION: u32 = 2;
/// Layout 1: the same page up to `malloc_library`, without the arenas. Still read.
pub const MAGIC_V1: u64 = u64::from_le_bytes(*b"ASPROBE\x01");
/// A layout 1 writer's `size`: everything before the arenas.
pub const SIZE_V1: usize = std::mem::offset_of!(Page, arena_count);
/// Figure slots in the page: room to append figures without a new layout (at most 64: `known`
/// is a u64 bitmask).
pub const SLOTS: usize = 48;
/// Bytes kept of the path of the library that serves `malloc`, NUL-padded.
pub const LIBRARY_BYTES: usize = 256;

const _: () = assert!(Figure::ALL.len() <= SLOTS && SLOTS <= 64);
const _: () = assert!(std::mem::size_of::<Page>() <= PAGE_BYTES);

#[repr(C)]
pub struct Page {
    pub magic: AtomicU64,
    pub version: u32,
    /// `size_of::<Page>()` of the writer.
    pub size: u32,
    pub pid: u32,
    /// The publishing thread's kernel tid; set by that thread before its first reading.
    pub thread_tid: AtomicU32,
    /// An `Allocator` as u32.
    pub allocator: u32,
    pub slots: u32,
    pub interval_ns: u64,
    /// Which process image wrote the page: the first 8 bytes of `AT_RANDOM`, new at each
    /// `exec`, the same in a fork or in a second copy of the probe within one image.
    pub image: u64,
    /// Seqlock: odd while a reading is being written.
    pub seq: AtomicU64,
    /// CLOCK_MONOTONIC when the reading started, ns: its figures are from after that moment.
    pub time_ns: AtomicU64,
    /// Readings published so far.
    pub readings: AtomicU64,
    /// Bit `Figure::slot()` set: that figure is known in this reading.
    pub known: AtomicU64,
    pub figures: [AtomicU64; SLOTS],
    pub malloc_library: [u8; LIBRARY_BYTES],
    /// Layout 2: how many glibc arenas exist (0: unknown, or not glibc), under `seq`.
    pub arena_count: AtomicU64,
    /// The first `ARENA_SLOTS` arenas, main first: system, free, free chunks.
    pub arenas: [[AtomicU64; 3]; ARENA_SLOTS],
}

/// One reading, assembled on the stack before it is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Figures {
    pub values: [u64; SLOTS],
    pub known: u64,
    /// glibc's arenas; unknown (count 0) for other allocators.
    pub arenas: Arenas,
}

impl Default for Figures {
    fn default() -> Self {
        Figures {
            values: [0; SLOTS],
            known: 0,
            arenas: Arenas::default(),
        }
    }
}

impl Figures {
    pub fn set(&mut self, figure: Figure, value: u64) {
        if let Some(slot) = self.values.get_mut(figure.slot()) {
            *slot = value;
            self.known |= 1 << figure.slot();
        }
    }

    pub fn get(&self, figure: Figure) -> Option<u64> {
        let known = self.known & (1 << figure.slot()) != 0;
        known
            .then(|| self.values.get(figure.slot()).copied())
            .flatten()
    }
}

/// What the header says about the process, fixed at creation.
pub struct Header<'a> {
    pub pid: u32,
    pub allocator: Allocator,
    pub interval_ns: u64,
    pub image: u64,
    pub malloc_library: &'a [u8],
}

/// This process image's identity for `Page::image`: 0 when the kernel gives no `AT_RANDOM`.
pub fn this_image() -> u64 {
    // SAFETY: AT_RANDOM points at 16 bytes the kernel placed for this image, or is 0.
    unsafe {
        let random = libc::getauxval(libc::AT_RANDOM) as *const u64;
        if random.is_null() {
            0
        } else {
            random.read_unaligned()
        }
    }
}

const PREFIX: &str = "probe-";
const SUFFIX: &str = ".page";

/// `<dir>/probe-<pid>.page`: the harness finds pages by this name.
pub fn page_path(dir: &Path, pid: u32) -> PathBuf {
    dir.join(format!("{PREFIX}{pid}{SUFFIX}"))
}

/// Every page in `dir` with its pid, by pid: one per process of a forking server.
pub fn pages_in(dir: &Path) -> io::Result<Vec<(u32, PathBuf)>> {
    let mut pages = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let pid = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?.parse().ok());
        if let Some(pid) = pid {
            pages.push((pid, path));
        }
    }
    pages.sort();
    Ok(pages)
}

/// Creates the file (O_EXCL, 0600), allocates and maps it, and writes the header. The mapping is
/// never unmapped while the publisher runs.
pub fn create(path: &Path, header: &Header) -> io::Result<&'static Page> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    // Allocate the page's block now, not on the first store: on a full tmpfs a store into a
    // hole of a shared mapping is a SIGBUS in the host; here it is an error from `start`.
    // SAFETY: a file descriptor we own.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, PAGE_BYTES as libc::off_t) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    let page = map(file.as_raw_fd(), libc::PROT_READ | libc::PROT_WRITE)? as *mut Page;
    // SAFETY: a fresh, zeroed, page-sized shared mapping that nothing else writes yet; it is
    // never unmapped while the publisher runs.
    unsafe {
        write_header(page, header);
        Ok(&*page)
    }
}

/// Writes the header, then the magic with Release.
///
/// # Safety
/// `page` is valid for writes and no reader relies on it before the magic appears.
pub unsafe fn write_header(page: *mut Page, header: &Header) {
    (*page).version = VERSION;
    (*page).size = std::mem::size_of::<Page>() as u32;
    (*page).pid = header.pid;
    (*page).allocator = header.allocator as u32;
    (*page).slots = SLOTS as u32;
    (*page).interval_ns = header.interval_ns;
    (*page).image = header.image;
    let n = header.malloc_library.len().min(LIBRARY_BYTES - 1);
    let library = &mut (*page).malloc_library;
    library[..n].copy_from_slice(&header.malloc_library[..n]);
    (*page).magic.store(MAGIC, Ordering::Release);
}

/// Maps one page of `fd`, shared.
pub fn map(fd: libc::c_int, prot: libc::c_int) -> io::Result<*mut libc::c_void> {
    // SAFETY: plain mmap of a file descriptor we own; the result is checked.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            PAGE_BYTES,
            prot,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(addr)
}

impl Page {
    /// Publishes one reading. Allocation-free; one writer only (the probe thread).
    pub fn publish(&self, time_ns: u64, figures: &Figures) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        // Orders the odd sequence before the data stores below (pairs with the reader's
        // Acquire fence before its second load of `seq`).
        fence(Ordering::Release);
        self.time_ns.store(time_ns, Ordering::Relaxed);
        self.readings.fetch_add(1, Ordering::Relaxed);
        self.known.store(figures.known, Ordering::Relaxed);
        for (slot, value) in self.figures.iter().zip(figures.values) {
            slot.store(value, Ordering::Relaxed);
        }
        self.arena_count
            .store(figures.arenas.count, Ordering::Relaxed);
        for (slot, a) in self.arenas.iter().zip(&figures.arenas.slots) {
            for (cell, value) in slot.iter().zip([a.system, a.free, a.free_chunks]) {
                cell.store(value, Ordering::Relaxed);
            }
        }
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// The arenas as stored, for the reader inside its seqlock.
    pub fn load_arenas(&self) -> Arenas {
        let mut out = Arenas {
            count: self.arena_count.load(Ordering::Relaxed),
            ..Arenas::default()
        };
        for (a, slot) in out.slots.iter_mut().zip(&self.arenas) {
            let [system, free, free_chunks] = slot.each_ref().map(|c| c.load(Ordering::Relaxed));
            *a = Arena {
                system,
                free,
                free_chunks,
            };
        }
        out
    }

    /// The malloc library path stored in the header, without its NUL padding.
    pub fn library(&self) -> &[u8] {
        let end = self
            .malloc_library
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(LIBRARY_BYTES);
        &self.malloc_library[..end]
    }
}

#[cfg(test)]
pub(crate) mod fake {
    use super::*;

    /// An in-memory page with a header, for the reader's unit tests.
    pub fn page(header: &Header) -> Box<Page> {
        // SAFETY: every field of Page is an integer, an atomic integer or a byte array: all-zero
        // is a valid value.
        let mut page: Box<Page> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: we own the page exclusively.
        unsafe { write_header(&mut *page, header) };
        page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_in_lists_what_page_path_names_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "probe-12.page",
            "probe-3.page",
            "probe-x.page",
            "other.page",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let pages = pages_in(dir.path()).unwrap();
        let want = vec![
            (3, page_path(dir.path(), 3)),
            (12, page_path(dir.path(), 12)),
        ];
        assert_eq!(pages, want);
    }
}
