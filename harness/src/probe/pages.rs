//! Every page of a run's probe directory, read at a sample tick into one [`ProbeTick`]: one
//! mapping kept per process, pages found as processes start, and a page whose publisher has
//! stopped (its process exited, or the probe failed) left out rather than read as a number.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use allocstorm_probe::{PageReader, ReadError, Snapshot};

use super::{ArenaReading, GlibcArenas, PageReading, ProbePage, ProbeTick};

/// How often the directory is listed for pages of new processes: a forking server's children
/// appear within this of their start.
const LIST_EVERY: Duration = Duration::from_millis(500);

/// The pages of one run, read from outside.
pub struct PageSet {
    dir: PathBuf,
    interval: Duration,
    readers: BTreeMap<u32, Open>,
    listed: Option<std::time::Instant>,
    /// The newest sequence of each page last reported: a tick is new when one moved.
    reported: BTreeMap<u32, u64>,
}

struct Open {
    reader: PageReader,
    /// Whether its first reading has been announced as a [`ProbePage`].
    announced: bool,
}

/// What one tick found.
#[derive(Debug, Default)]
pub struct Found {
    /// Pages seen for the first time.
    pub new_pages: Vec<ProbePage>,
    /// Every fresh page, when any of them has a reading not reported before.
    pub tick: Option<ProbeTick>,
}

impl PageSet {
    pub fn new(dir: PathBuf, interval: Duration) -> PageSet {
        PageSet {
            dir,
            interval,
            readers: BTreeMap::new(),
            listed: None,
            reported: BTreeMap::new(),
        }
    }

    /// Reads every page at `t` (seconds since the run started; `now_ns` the monotonic clock,
    /// for the readings' age).
    pub fn read(&mut self, t: f64) -> Found {
        self.list_new_pages();
        let now_ns = allocstorm_probe::monotonic_ns().unwrap_or(0);
        let mut found = Found::default();
        let mut pages = Vec::new();
        let mut moved = false;
        let mut gone = Vec::new();
        for (&pid, open) in self.readers.iter_mut() {
            match open.reader.read() {
                Ok(s) => {
                    if !open.announced {
                        open.announced = true;
                        found.new_pages.push(page_of(&s, t));
                    }
                    moved |= self.reported.get(&pid) != Some(&s.sequence);
                    self.reported.insert(pid, s.sequence);
                    pages.push(reading_of(&s, now_ns));
                }
                // Not yet published: read again next tick.
                Err(ReadError::NotYetPublished | ReadError::Torn { .. }) => {}
                // Its publisher stopped: the process exited (or its pid is reused by a process
                // whose page will be found again).
                Err(_) => gone.push(pid),
            }
        }
        for pid in gone {
            self.readers.remove(&pid);
            self.reported.remove(&pid);
        }
        if moved {
            found.tick = Some(ProbeTick { t, pages });
        }
        found
    }

    fn list_new_pages(&mut self) {
        if self.listed.is_some_and(|l| l.elapsed() < LIST_EVERY) {
            return;
        }
        self.listed = Some(std::time::Instant::now());
        let Ok(pages) = allocstorm_probe::pages_in(&self.dir) else {
            return;
        };
        let max_age = allocstorm_probe::default_max_age(self.interval);
        for (pid, path) in pages {
            if self.readers.contains_key(&pid) {
                continue;
            }
            if let Ok(reader) = PageReader::open(&path) {
                let reader = reader.with_max_age(max_age);
                self.readers.insert(
                    pid,
                    Open {
                        reader,
                        announced: false,
                    },
                );
            }
        }
    }
}

fn page_of(s: &Snapshot, t: f64) -> ProbePage {
    ProbePage {
        t,
        pid: s.pid,
        allocator: s.allocator.name().to_string(),
        malloc_library: s.malloc_library.clone(),
    }
}

fn reading_of(s: &Snapshot, now_ns: u64) -> PageReading {
    PageReading {
        pid: s.pid,
        age_ms: now_ns.saturating_sub(s.time_ns) as f64 / 1e6,
        figures: s
            .figures()
            .filter_map(|(f, v)| Some((f.name().to_string(), v?)))
            .collect(),
        glibc_arenas: arenas_of(s),
    }
}

fn arenas_of(s: &Snapshot) -> Option<GlibcArenas> {
    Some(GlibcArenas {
        count: s.arena_count()?,
        arenas: s
            .arenas()?
            .iter()
            .map(|a| ArenaReading {
                system_bytes: a.system,
                free_bytes: a.free,
                free_chunks: a.free_chunks,
            })
            .collect(),
    })
}
