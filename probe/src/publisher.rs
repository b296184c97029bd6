//! Starting the probe: page, allocator detection, first reading, then one thread that reads and
//! publishes every interval and never allocates (rule 16: it runs inside someone else's process).
//!
//! Everything that may allocate (paths, `dlsym`, jemalloc's ctl init, the thread's creation)
//! happens in `start`, on the caller's thread. The thread's loop makes only the allocator's
//! stats calls, `clock_gettime` and `clock_nanosleep`. Any failure ends the loop quietly; a
//! panic is caught at the thread's entry and never reaches the host.

use std::ffi::c_void;
use std::fmt;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU64, Ordering};
use std::sync::Once;
use std::time::Duration;

use crate::arenas::InfoStream;
use crate::detect::{detect, Detected};
use crate::figure::{Allocator, Figure};
use crate::page::{self, Figures, Header, Page};
use crate::source::{Mallctl, ProcessInfo, Source};

/// Shortest and longest interval `start` accepts.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1);
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// The thread's name in `/proc/<pid>/task/*/comm` (15 bytes at most).
pub const THREAD_NAME: &std::ffi::CStr = c"allocstormprobe";
/// Stack of the probe thread: its loop needs little; this keeps VSZ honest.
const STACK_BYTES: usize = 256 * 1024;

/// A started probe.
#[derive(Debug)]
pub struct Probe {
    pub path: PathBuf,
    pub allocator: Allocator,
}

#[derive(Debug)]
pub enum StartError {
    Interval(Duration),
    /// A probe already publishes for this process (started twice, or linked and preloaded).
    AlreadyRunning,
    Page {
        path: PathBuf,
        source: io::Error,
    },
    Thread(io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Interval(d) => write!(
                f,
                "probe interval {d:?} is outside {MIN_INTERVAL:?}..={MAX_INTERVAL:?}"
            ),
            StartError::AlreadyRunning => write!(f, "a probe already publishes for this process"),
            StartError::Page { path, source } => {
                write!(f, "cannot create probe page {}: {source}", path.display())
            }
            StartError::Thread(e) => write!(f, "cannot start the probe thread: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// The allocator a host links and names itself, for `start_for`: detection by `malloc` cannot
/// see an allocator that serves Rust under prefixed names (tikv-jemallocator's `_rjem_*`,
/// the mimalloc crate's `mi_*`) while glibc still serves `malloc`.
#[derive(Clone, Copy)]
pub enum Linked {
    /// Rust's `System`, that is whoever serves `malloc`: glibc's (read with `mallinfo2`), or
    /// an allocator preloaded into the process, found as [`start`] finds it.
    Glibc,
    /// jemalloc, read through the `mallctl` given (`tikv_jemalloc_sys::mallctl`).
    Jemalloc(Mallctl),
    /// mimalloc, read through the `mi_process_info` given (`libmimalloc_sys::mi_process_info`).
    Mimalloc(ProcessInfo),
}

/// What a host that links the probe tells it: its allocator, what the page says of it, and its
/// own counter of live bytes.
#[derive(Clone, Copy)]
pub struct Host {
    pub linked: Linked,
    /// The page's `malloc_library` becomes `linked: <label>` (e.g. `tikv-jemallocator`): the
    /// allocator is in the executable, so no library path would be true.
    pub label: &'static str,
    /// Bytes live by the host's counting allocator, published as `counted.in_use`; `None`
    /// leaves that figure missing. Read with one relaxed load per reading: no allocation.
    pub counted_in_use: Option<&'static AtomicU64>,
}

/// What a forked child needs to start its own probe, kept by the first `start`: the child reuses
/// the detection (same address space) instead of calling `dlsym`, whose loader lock another
/// parent thread may have held at the fork.
struct Config {
    dir: PathBuf,
    interval: Duration,
    detected: Detected,
    counted_in_use: Option<&'static AtomicU64>,
}

static CONFIG: AtomicPtr<Config> = AtomicPtr::new(std::ptr::null_mut());
/// The pid a probe was started for: a forked child sees its parent's and starts anew.
static STARTED_PID: AtomicI32 = AtomicI32::new(0);
/// The page this process image publishes to; a forked child unmaps its parent's.
static ACTIVE_PAGE: AtomicPtr<Page> = AtomicPtr::new(std::ptr::null_mut());
static ATFORK: Once = Once::new();

/// Starts publishing `<dir>/probe-<pid>.page` every `interval`. Once per process; a forked
/// child starts its own page and thread (see `in_forked_child`).
/// The allocator is the one that serves `malloc` (`detect`): the preload's way.
pub fn start(dir: &Path, interval: Duration) -> Result<Probe, StartError> {
    start_with(dir, interval, detect, None)
}

/// As `start`, for the allocator the host names: read through the API it gives, in this
/// process, whatever serves `malloc`; and the host's own counter of live bytes, if any.
pub fn start_for(dir: &Path, interval: Duration, host: Host) -> Result<Probe, StartError> {
    let detected = || {
        let source = match host.linked {
            // `malloc` may be a preloaded allocator's, not glibc's: the page says whose.
            Linked::Glibc => return detect(),
            Linked::Jemalloc(mallctl) => Source::jemalloc_linked(mallctl),
            Linked::Mimalloc(info) => Source::Mimalloc { info },
        };
        Detected {
            allocator: source.allocator(),
            source,
            malloc_library: format!("linked: {}", host.label).into_bytes(),
        }
    };
    start_with(dir, interval, detected, host.counted_in_use)
}

fn start_with(
    dir: &Path,
    interval: Duration,
    detect: impl FnOnce() -> Detected,
    counted_in_use: Option<&'static AtomicU64>,
) -> Result<Probe, StartError> {
    if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
        return Err(StartError::Interval(interval));
    }
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() };
    if STARTED_PID.swap(pid, Ordering::AcqRel) == pid {
        return Err(StartError::AlreadyRunning);
    }
    let config = Config {
        dir: dir.to_path_buf(),
        interval,
        detected: detect(),
        counted_in_use,
    };
    match start_page(&config, pid as u32) {
        Ok(probe) => {
            remember(config);
            Ok(probe)
        }
        Err(e) => {
            STARTED_PID.store(0, Ordering::Release);
            Err(e)
        }
    }
}

/// Keeps the config of this image's probe for forked children (leaked: at most one per
/// image, as `STARTED_PID` lets only one start succeed).
fn remember(config: Config) {
    CONFIG.store(Box::into_raw(Box::new(config)), Ordering::Release);
    ATFORK.call_once(|| {
        // SAFETY: registers a plain extern "C" handler; failure only loses fork support.
        unsafe { libc::pthread_atfork(None, None, Some(in_forked_child)) };
    });
}

fn start_page(config: &Config, pid: u32) -> Result<Probe, StartError> {
    let detected = &config.detected;
    let path = page::page_path(&config.dir, pid);
    let header = Header {
        pid,
        allocator: detected.allocator,
        interval_ns: config.interval.as_nanos() as u64,
        image: page::this_image(),
        malloc_library: &detected.malloc_library,
    };
    let page = open_page(&path, &header)?;
    ACTIVE_PAGE.store(page as *const Page as *mut Page, Ordering::Release);
    let publisher: &'static Publisher = Box::leak(Box::new(Publisher {
        page,
        source: detected.source,
        arenas: glibc_arenas(&detected.source),
        counted_in_use: config.counted_in_use,
        interval_ns: header.interval_ns,
    }));
    // The first reading, here: whatever allocates on first use does so on the caller's thread.
    if let Some(now) = monotonic_ns() {
        page.publish(now, &publisher.read());
    }
    spawn(publisher).map_err(StartError::Thread)?;
    Ok(Probe {
        path,
        allocator: detected.allocator,
    })
}

/// glibc's per-arena stream, opened here where `fmemopen` may allocate. A forked child opens its
/// own: the parent's FILE may have been locked by the parent's probe thread at the fork.
fn glibc_arenas(source: &Source) -> Option<InfoStream> {
    matches!(source, Source::Glibc)
        .then(InfoStream::open)
        .flatten()
}

/// Creates the page. A page already there for our pid was written either by this process
/// image (a second copy of the probe, linked and preloaded: refuse) or by an earlier one, before
/// an `exec` or a dead process whose pid was reused (replace it).
fn open_page(path: &Path, header: &Header) -> Result<&'static Page, StartError> {
    let err = |source| StartError::Page {
        path: path.to_path_buf(),
        source,
    };
    match page::create(path, header) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let writer = crate::reader::PageReader::open(path)
                .ok()
                .and_then(|r| r.writer_image());
            if writer == Some(header.image) {
                return Err(StartError::AlreadyRunning);
            }
            std::fs::remove_file(path).map_err(err)?;
            page::create(path, header).map_err(err)
        }
        other => other.map_err(err),
    }
}

/// The atfork child handler: this image's page is the parent's (unmap it), and no thread of the
/// parent's survived; start a page and thread for the child's pid. Best effort: a child that
/// execs at once leaves a page that goes stale; `vfork`/`posix_spawn` children run no handler.
extern "C" fn in_forked_child() {
    let _ = catch_unwind(|| {
        let parent_page = ACTIVE_PAGE.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if !parent_page.is_null() {
            // SAFETY: the parent's page mapping, which nothing in this child uses any more.
            unsafe { libc::munmap(parent_page as *mut c_void, page::PAGE_BYTES) };
        }
        let config = CONFIG.load(Ordering::Acquire);
        if !config.is_null() {
            // SAFETY: set by `remember` and never freed.
            let config = unsafe { &*config };
            // SAFETY: getpid cannot fail.
            let pid = unsafe { libc::getpid() };
            STARTED_PID.store(pid, Ordering::Release);
            if start_page(config, pid as u32).is_err() {
                STARTED_PID.store(0, Ordering::Release);
            }
        }
    });
}

/// What the probe thread owns: leaked at start, lives as long as the process.
struct Publisher {
    page: &'static Page,
    source: Source,
    /// glibc's `malloc_info` stream: `None` for other allocators (or when it could not open).
    arenas: Option<InfoStream>,
    counted_in_use: Option<&'static AtomicU64>,
    interval_ns: u64,
}

/// Starts the probe thread with every signal blocked: a thread started from a constructor
/// exists before the host blocks its signals for `sigwait`/`signalfd`, and would otherwise
/// take (and die of, or run the host's handler for) a signal meant for the host's own thread.
fn spawn(publisher: &'static Publisher) -> io::Result<()> {
    // SAFETY: attr and both masks are initialised before use; the argument is 'static; the
    // caller's mask is restored before returning.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut callers: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut callers);
        let started = create_thread(publisher);
        libc::pthread_sigmask(libc::SIG_SETMASK, &callers, std::ptr::null_mut());
        started
    }
}

fn create_thread(publisher: &'static Publisher) -> io::Result<()> {
    // SAFETY: attr is initialised before use and destroyed after; the argument is 'static.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        libc::pthread_attr_init(&mut attr);
        libc::pthread_attr_setstacksize(&mut attr, STACK_BYTES);
        libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
        let mut thread: libc::pthread_t = std::mem::zeroed();
        let arg = publisher as *const Publisher as *mut c_void;
        let rc = libc::pthread_create(&mut thread, &attr, thread_main, arg);
        libc::pthread_attr_destroy(&mut attr);
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
    }
    Ok(())
}

extern "C" fn thread_main(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `spawn` passes a leaked &'static Publisher.
    let publisher = unsafe { &*(arg as *const Publisher) };
    let _ = catch_unwind(AssertUnwindSafe(|| publisher.run()));
    std::ptr::null_mut()
}

impl Publisher {
    /// The allocator's figures and the host's counter. Allocation-free.
    fn read(&self) -> Figures {
        let mut figures = self.source.read();
        if let Some(stream) = &self.arenas {
            stream.read(&mut figures.arenas);
        }
        if let Some(in_use) = self.counted_in_use {
            figures.set(Figure::CountedInUse, in_use.load(Ordering::Relaxed));
        }
        figures
    }

    /// The loop. Allocation-free: returns (and the thread ends) on the first clock failure.
    fn run(&self) -> Option<()> {
        // SAFETY: static NUL-terminated name of at most 15 bytes; gettid cannot fail.
        unsafe {
            libc::pthread_setname_np(libc::pthread_self(), THREAD_NAME.as_ptr());
            self.page
                .thread_tid
                .store(libc::gettid() as u32, Ordering::Relaxed);
        }
        let mut next = monotonic_ns()?;
        loop {
            next = next.saturating_add(self.interval_ns);
            sleep_until(next)?;
            // Stamped when the reading starts: a reading stamped after a moment began after
            // it, however long `malloc_info` takes.
            let started = monotonic_ns()?;
            let figures = self.read();
            self.page.publish(started, &figures);
            let now = monotonic_ns()?;
            // Fell behind (a stopped or starved process): skip the missed ticks, no burst.
            next = next.max(now);
        }
    }
}

/// CLOCK_MONOTONIC in ns: the clock of `Snapshot::time_ns`, to place readings among a reader's
/// own events (the clock is system-wide).
pub fn monotonic_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

fn sleep_until(deadline_ns: u64) -> Option<()> {
    let ts = libc::timespec {
        tv_sec: (deadline_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (deadline_ns % 1_000_000_000) as libc::c_long,
    };
    loop {
        // SAFETY: valid timespec; absolute time, so a signal's EINTR just sleeps again.
        let rc = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
        match rc {
            0 => return Some(()),
            libc::EINTR => continue,
            _ => return None,
        }
    }
}
