//! Reading a page from outside the process: the harness's side of the seqlock. A torn, stale or
//! foreign page is an error, never a number; a figure the allocator cannot give is `None`.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, Ordering};
use std::time::Duration;

use crate::arenas::Arena;
use crate::figure::{Allocator, Figure};
use crate::page::{self, Figures, Page, MAGIC, MAGIC_V1, PAGE_BYTES, SIZE_V1, SLOTS, VERSION};
use crate::publisher::monotonic_ns;

/// Tries of the seqlock before a page that keeps changing (or whose writer died mid-write)
/// counts as torn. Each try after the first yields the CPU to let the writer finish.
pub const ATTEMPTS: u32 = 64;

/// One consistent reading of a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub pid: u32,
    pub allocator: Allocator,
    /// Path of the object that serves `malloc` in that process.
    pub malloc_library: String,
    pub interval: Duration,
    /// Kernel tid of the probe thread (0 before it started).
    pub thread_tid: u32,
    /// The seqlock's (even) sequence number of this reading.
    pub sequence: u64,
    /// CLOCK_MONOTONIC of the reading, ns.
    pub time_ns: u64,
    pub readings: u64,
    figures: Figures,
}

impl Snapshot {
    pub fn get(&self, figure: Figure) -> Option<u64> {
        self.figures.get(figure)
    }

    /// glibc's arenas, main first (at most `ARENA_SLOTS`); `None` when unknown: not glibc, a
    /// cut `malloc_info`, or a layout 1 page.
    pub fn arenas(&self) -> Option<&[Arena]> {
        self.figures.arenas.known()
    }

    /// How many arenas exist, even beyond those `arenas` holds.
    pub fn arena_count(&self) -> Option<u64> {
        self.arenas().map(|_| self.figures.arenas.count)
    }

    /// Every figure of the list, known or missing.
    pub fn figures(&self) -> impl Iterator<Item = (Figure, Option<u64>)> + '_ {
        Figure::ALL.iter().map(|f| (*f, self.get(*f)))
    }
}

#[derive(Debug)]
pub enum ReadError {
    Io {
        path: PathBuf,
        source: io::Error,
    },
    Size {
        found: u64,
    },
    Magic {
        found: u64,
    },
    Version {
        found: u32,
    },
    Layout {
        size: u32,
        slots: u32,
    },
    Allocator {
        found: u32,
    },
    /// The page exists but holds no reading yet.
    NotYetPublished,
    /// The sequence was odd or moved on every try.
    Torn {
        attempts: u32,
    },
    /// The newest reading is older than the reader accepts: the publisher stopped.
    Stale {
        age: Duration,
        limit: Duration,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            ReadError::Size { found } => {
                write!(f, "probe page is {found} bytes, expected {PAGE_BYTES}")
            }
            ReadError::Magic { found } => write!(f, "not a probe page (magic {found:#018x})"),
            ReadError::Version { found } => {
                write!(f, "probe page layout {found}, this reader knows 1 to {VERSION}")
            }
            ReadError::Layout { size, slots } => write!(
                f,
                "probe page header says {size} bytes and {slots} slots, expected {} and {SLOTS}",
                std::mem::size_of::<Page>()
            ),
            ReadError::Allocator { found } => write!(f, "unknown allocator code {found}"),
            ReadError::NotYetPublished => write!(f, "probe page holds no reading yet"),
            ReadError::Torn { attempts } => {
                write!(f, "probe page changed under each of {attempts} reads")
            }
            ReadError::Stale { age, limit } => write!(
                f,
                "probe page's newest reading is {age:?} old (limit {limit:?}): its publisher stopped"
            ),
        }
    }
}

impl std::error::Error for ReadError {}

/// Reads the page at `path` once.
pub fn read(path: &Path) -> Result<Snapshot, ReadError> {
    PageReader::open(path)?.read()
}

/// A read-only mapping of one page, for reading it at the harness's rate.
pub struct PageReader {
    page: *const Page,
    max_age: Option<Duration>,
}

// SAFETY: the mapping is read-only, owned by the reader, and only read through atomics.
unsafe impl Send for PageReader {}

impl PageReader {
    pub fn open(path: &Path) -> Result<PageReader, ReadError> {
        let io_err = |source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        if len != PAGE_BYTES as u64 {
            return Err(ReadError::Size { found: len });
        }
        let addr = page::map(file.as_raw_fd(), libc::PROT_READ).map_err(io_err)?;
        Ok(PageReader {
            page: addr as *const Page,
            max_age: None,
        })
    }

    /// How old the newest reading may be; default `default_max_age(interval)`.
    pub fn with_max_age(mut self, max_age: Duration) -> PageReader {
        self.max_age = Some(max_age);
        self
    }

    pub fn read(&self) -> Result<Snapshot, ReadError> {
        let now = monotonic_ns().unwrap_or(0);
        snapshot(self.page(), now, self.max_age)
    }

    /// The process image that wrote the page, if the page has a valid magic.
    pub(crate) fn writer_image(&self) -> Option<u64> {
        let page = self.page();
        (page.magic.load(Ordering::Acquire) == MAGIC).then_some(page.image)
    }

    fn page(&self) -> &Page {
        // SAFETY: a live page-sized mapping for as long as self.
        unsafe { &*self.page }
    }
}

impl Drop for PageReader {
    fn drop(&mut self) {
        // SAFETY: our own mapping, unmapped once.
        unsafe { libc::munmap(self.page as *mut libc::c_void, PAGE_BYTES) };
    }
}

/// A publisher is stale after missing ten readings, and never sooner than a second: the host
/// may be starved of CPU for a moment without having stopped.
pub fn default_max_age(interval: Duration) -> Duration {
    (interval * 10).max(Duration::from_secs(1))
}

/// Validates the header and takes one consistent reading, at `now_ns` (CLOCK_MONOTONIC).
pub(crate) fn snapshot(
    page: &Page,
    now_ns: u64,
    max_age: Option<Duration>,
) -> Result<Snapshot, ReadError> {
    let magic = page.magic.load(Ordering::Acquire);
    let size = match magic {
        MAGIC => std::mem::size_of::<Page>(),
        MAGIC_V1 => SIZE_V1,
        _ => return Err(ReadError::Magic { found: magic }),
    };
    // The magic's last byte is its layout: the header's version must agree.
    let version = (magic >> 56) as u32;
    if page.version != version {
        return Err(ReadError::Version {
            found: page.version,
        });
    }
    if page.size as usize != size || page.slots as usize != SLOTS {
        return Err(ReadError::Layout {
            size: page.size,
            slots: page.slots,
        });
    }
    let allocator = Allocator::from_u32(page.allocator).ok_or(ReadError::Allocator {
        found: page.allocator,
    })?;
    let (sequence, time_ns, readings, figures) = consistent(page, version == VERSION)?;
    let interval = Duration::from_nanos(page.interval_ns);
    let limit = max_age.unwrap_or_else(|| default_max_age(interval));
    let age = Duration::from_nanos(now_ns.saturating_sub(time_ns));
    if age > limit {
        return Err(ReadError::Stale { age, limit });
    }
    Ok(Snapshot {
        pid: page.pid,
        allocator,
        malloc_library: String::from_utf8_lossy(page.library()).into_owned(),
        interval,
        thread_tid: page.thread_tid.load(Ordering::Relaxed),
        sequence,
        time_ns,
        readings,
        figures,
    })
}

/// The seqlock read: sequence (Acquire), data, Acquire fence, sequence again; equal and even.
/// A layout 1 page has no arenas: they stay unknown.
fn consistent(page: &Page, arenas: bool) -> Result<(u64, u64, u64, Figures), ReadError> {
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::yield_now();
        }
        let before = page.seq.load(Ordering::Acquire);
        if before == 0 {
            return Err(ReadError::NotYetPublished);
        }
        if before % 2 == 1 {
            continue;
        }
        let time_ns = page.time_ns.load(Ordering::Relaxed);
        let readings = page.readings.load(Ordering::Relaxed);
        let mut figures = Figures {
            known: page.known.load(Ordering::Relaxed),
            ..Figures::default()
        };
        for (value, slot) in figures.values.iter_mut().zip(&page.figures) {
            *value = slot.load(Ordering::Relaxed);
        }
        if arenas {
            figures.arenas = page.load_arenas();
        }
        fence(Ordering::Acquire);
        if page.seq.load(Ordering::Relaxed) == before {
            return Ok((before, time_ns, readings, figures));
        }
    }
    Err(ReadError::Torn { attempts: ATTEMPTS })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::{fake, Header};

    const SECOND: u64 = 1_000_000_000;

    fn glibc_page() -> Box<Page> {
        fake::page(&Header {
            pid: 42,
            allocator: Allocator::Glibc,
            interval_ns: SECOND / 20,
            image: 7,
            malloc_library: b"/lib/x86_64-linux-gnu/libc.so.6",
        })
    }

    fn one_reading(page: &Page, time_ns: u64) {
        let mut figures = Figures::default();
        figures.set(Figure::GlibcInUse, 1234);
        figures.set(Figure::GlibcFreeHeld, 0);
        page.publish(time_ns, &figures);
    }

    #[test]
    fn a_published_reading_reads_back_with_missing_figures_as_none() {
        let page = glibc_page();
        one_reading(&page, 10 * SECOND);
        let snap = snapshot(&page, 10 * SECOND + 1, None).unwrap();
        assert_eq!(snap.pid, 42);
        assert_eq!(snap.allocator, Allocator::Glibc);
        assert_eq!(snap.malloc_library, "/lib/x86_64-linux-gnu/libc.so.6");
        assert_eq!((snap.sequence, snap.readings), (2, 1));
        assert_eq!(snap.get(Figure::GlibcInUse), Some(1234));
        assert_eq!(snap.get(Figure::GlibcFreeHeld), Some(0), "a known 0 is 0");
        assert_eq!(snap.get(Figure::GlibcKeepcost), None, "unknown is missing");
        assert_eq!(snap.get(Figure::JemallocAllocated), None);
    }

    #[test]
    fn arenas_publish_and_read_back_inside_the_seqlock() {
        let page = glibc_page();
        let mut figures = Figures::default();
        figures.arenas.count = 2;
        figures.arenas.slots[1].system = 8192;
        figures.arenas.slots[1].free_chunks = 3;
        page.publish(SECOND, &figures);
        let snap = snapshot(&page, SECOND, None).unwrap();
        assert_eq!(snap.arena_count(), Some(2));
        let arenas = snap.arenas().unwrap();
        assert_eq!(
            (arenas.len(), arenas[1].system, arenas[1].free_chunks),
            (2, 8192, 3)
        );
        one_reading(&page, SECOND);
        let snap = snapshot(&page, SECOND, None).unwrap();
        assert_eq!(snap.arenas(), None, "a reading without arenas says unknown");
    }

    #[test]
    fn a_layout_1_page_still_reads_without_arenas_and_an_unknown_layout_is_refused() {
        let page = glibc_page();
        let mut figures = Figures::default();
        figures.arenas.count = 1;
        page.publish(SECOND, &figures);
        // SAFETY: the test owns the page; a layout 1 writer's header fields.
        let v1 = unsafe {
            let p = &*page as *const Page as *mut Page;
            (*p).version = 1;
            (*p).size = SIZE_V1 as u32;
            &*p
        };
        v1.magic.store(MAGIC_V1, Ordering::Release);
        let snap = snapshot(v1, SECOND, None).unwrap();
        assert_eq!(snap.arenas(), None, "layout 1 has no arenas");
        let v3 = u64::from_le_bytes(*b"ASPROBE\x03");
        v1.magic.store(v3, Ordering::Release);
        assert!(matches!(
            snapshot(v1, SECOND, None),
            Err(ReadError::Magic { .. })
        ));
        v1.magic.store(MAGIC, Ordering::Release);
        let err = snapshot(v1, SECOND, None).unwrap_err();
        assert!(matches!(err, ReadError::Version { found: 1 }), "{err}");
    }

    #[test]
    fn a_page_held_mid_write_is_torn_not_a_number() {
        let page = glibc_page();
        one_reading(&page, 10 * SECOND);
        page.seq.fetch_add(1, Ordering::Relaxed); // the writer is inside, and stays there
        let err = snapshot(&page, 10 * SECOND, None).unwrap_err();
        assert!(
            matches!(err, ReadError::Torn { attempts: ATTEMPTS }),
            "{err}"
        );
    }

    #[test]
    fn a_wrong_magic_is_rejected() {
        let page = glibc_page();
        one_reading(&page, SECOND);
        page.magic.store(0xdead_beef, Ordering::Relaxed);
        let err = snapshot(&page, SECOND, None).unwrap_err();
        assert!(
            matches!(err, ReadError::Magic { found: 0xdead_beef }),
            "{err}"
        );
    }

    #[test]
    fn a_page_without_a_reading_is_not_yet_published() {
        let page = glibc_page();
        let err = snapshot(&page, SECOND, None).unwrap_err();
        assert!(matches!(err, ReadError::NotYetPublished), "{err}");
    }

    #[test]
    fn a_reading_older_than_ten_intervals_and_a_second_is_stale() {
        let page = glibc_page();
        one_reading(&page, 10 * SECOND);
        assert!(snapshot(&page, 11 * SECOND, None).is_ok());
        let err = snapshot(&page, 11 * SECOND + 1, None).unwrap_err();
        assert!(matches!(err, ReadError::Stale { .. }), "{err}");
    }

    #[test]
    fn a_file_that_is_not_a_page_is_rejected_by_size_and_magic() {
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short.page");
        std::fs::write(&short, b"hello").unwrap();
        assert!(matches!(read(&short), Err(ReadError::Size { found: 5 })));
        let zeros = dir.path().join("zeros.page");
        std::fs::write(&zeros, [0u8; PAGE_BYTES]).unwrap();
        assert!(matches!(read(&zeros), Err(ReadError::Magic { found: 0 })));
    }
}
