//! The allocator probe, from the harness's side: a directory private to the run where the
//! server's probe thread (linked into the toy server, preloaded into a target) publishes its
//! allocator's figures, the environment that tells it where, and the reader that turns those
//! pages into the run's readings at every sample tick. No request is made to the server.
//!
//! - [`pages`]: reading every page of the run's directory into one [`ProbeTick`].
//! - [`explain`]: what an allocator's own figures say about RssAnon: in use, free held, given
//!   back, metadata — one meaning per allocator.

pub mod explain;
mod pages;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use pages::{Found, PageSet};

/// The probe library a target gets by `LD_PRELOAD` when this is set (otherwise: beside the
/// `allocstorm` executable).
pub const ENV_LIB: &str = "ALLOCSTORM_PROBE_LIB";
/// The file name cargo gives the probe's cdylib.
pub const LIB_NAME: &str = "liballocstorm_probe.so";

/// How the probe went into the server, or why it did not: kept in the run's header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeNote {
    /// `linked` (the toy server), `preloaded` (a target), or `off`.
    pub mode: String,
    /// The probe's reading interval, ms.
    pub interval_ms: u64,
    /// The preloaded library, when preloaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
    /// Why there is no probe (`mode` = `off`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why_not: Option<String>,
}

/// One reading of every page at a sample tick: all processes at the same `t`, so a process
/// tree's figures add up at each tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeTick {
    /// Seconds since the run started (the samples' clock).
    pub t: f64,
    pub pages: Vec<PageReading>,
}

/// Placed in time like the samples, so B's and A's windows take the same readings.
impl crate::figures::Timed for ProbeTick {
    fn t(&self) -> f64 {
        self.t
    }
}

/// One process's page at a tick: its known figures by name (`glibc.uordblks`, ...); a figure
/// the allocator cannot give is absent, never 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageReading {
    pub pid: u32,
    /// How old the probe's reading was when the harness read it, ms.
    pub age_ms: f64,
    pub figures: std::collections::BTreeMap<String, u64>,
    /// glibc's arenas (probe page layout 2), when glibc serves `malloc` and its `malloc_info`
    /// was read whole; absent otherwise, and in records made before the probe read them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glibc_arenas: Option<GlibcArenas>,
}

/// glibc's arenas in one reading: how many exist, and the first ones, the main arena first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlibcArenas {
    /// Every arena, even those beyond the page's slots (`arenas` holds at most 16).
    pub count: u64,
    pub arenas: Vec<ArenaReading>,
}

/// One arena from `malloc_info`: what it has from the kernel, and the free it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ArenaReading {
    /// `<system type="current">`: bytes the arena has from the kernel.
    pub system_bytes: u64,
    /// Fast + rest: its free chunks and its top chunk.
    pub free_bytes: u64,
    /// Fast + rest counts (the top chunk counts as one).
    pub free_chunks: u64,
}

/// A process's page, the first time the harness saw it: which allocator serves `malloc` there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbePage {
    /// When it was first read, seconds since the run started.
    pub t: f64,
    pub pid: u32,
    /// `glibc`, `jemalloc`, `tcmalloc`, `mimalloc` or `unknown`.
    pub allocator: String,
    /// The object that serves `malloc` (or, linked, what the server said it links).
    pub malloc_library: String,
}

/// The probe of one run: its private directory (removed when this drops) and how the server
/// gets it.
pub struct RunProbe {
    dir: tempfile::TempDir,
    interval: Duration,
    /// The library to preload into a target; `None` for the toy server, which links it.
    lib: Option<PathBuf>,
}

impl RunProbe {
    /// A private directory for the pages, on tmpfs where there is one (`/dev/shm`): the page is
    /// shared memory, and a disk-backed file would be written back.
    pub fn new(interval: Duration, lib: Option<PathBuf>) -> Result<RunProbe, String> {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        RunProbe::new_in(&base, interval, lib)
    }

    /// The run's directory in `base`, mode 0700, with its owner's pid in it; the directories
    /// of harnesses that were killed before they could remove theirs are removed first.
    fn new_in(base: &Path, interval: Duration, lib: Option<PathBuf>) -> Result<RunProbe, String> {
        use std::os::unix::fs::PermissionsExt;
        sweep_orphans(base);
        let fail = |e: std::io::Error| {
            format!(
                "cannot make the probe's directory in {}: {e}",
                base.display()
            )
        };
        let dir = tempfile::Builder::new()
            .prefix(PREFIX)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(base)
            .map_err(fail)?;
        std::fs::write(dir.path().join(OWNER), std::process::id().to_string()).map_err(fail)?;
        Ok(RunProbe { dir, interval, lib })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the server's environment gets: where to publish and how often.
    pub fn env(&self) -> [(&'static str, String); 2] {
        [
            (allocstorm_probe::ENV_DIR, self.dir().display().to_string()),
            (
                allocstorm_probe::ENV_INTERVAL_MS,
                self.interval.as_millis().max(1).to_string(),
            ),
        ]
    }

    /// `LD_PRELOAD` for a target: the variant's allocator first, so that it still serves
    /// `malloc`, then the probe.
    pub fn preload_after(&self, allocator: Option<&str>) -> Option<String> {
        let lib = self.lib.as_ref()?.display().to_string();
        Some(match allocator {
            Some(a) => format!("{a} {lib}"),
            None => lib,
        })
    }

    pub fn note(&self) -> ProbeNote {
        ProbeNote {
            mode: if self.lib.is_some() {
                "preloaded"
            } else {
                "linked"
            }
            .into(),
            interval_ms: self.interval.as_millis() as u64,
            library: self.lib.as_ref().map(|l| l.display().to_string()),
            why_not: None,
        }
    }

    pub fn pages(&self) -> PageSet {
        PageSet::new(self.dir().to_path_buf(), self.interval)
    }
}

impl ProbeNote {
    pub fn off(why: impl Into<String>) -> ProbeNote {
        ProbeNote {
            mode: "off".into(),
            interval_ms: 0,
            library: None,
            why_not: Some(why.into()),
        }
    }
}

/// The prefix of every run's probe directory.
const PREFIX: &str = "allocstorm-probe-";
/// The file in a run's directory that names the harness that made it.
const OWNER: &str = "owner";

/// Removes the probe directories in `base` whose harness is gone: one killed (SIGKILL) cannot
/// remove its own. A directory without an owner file, or whose owner lives, is left alone.
fn sweep_orphans(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()) {
        let ours = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(PREFIX));
        let owner = std::fs::read_to_string(path.join(OWNER))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        if ours && owner.is_some_and(|pid| !alive(pid)) {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// Whether a process with this pid exists (one of another user's counts: EPERM).
fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 sends nothing; it only checks that the pid exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The probe's cdylib for a target: `$ALLOCSTORM_PROBE_LIB`, else beside `exe` (cargo puts
/// `liballocstorm_probe.so` next to the `allocstorm` binary), or why it cannot be had.
pub fn library(exe: &Path) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(ENV_LIB) {
        let p = PathBuf::from(p);
        return match p.is_file() {
            true => Ok(p),
            false => Err(format!("{ENV_LIB}={} is not a file", p.display())),
        };
    }
    let beside = exe.with_file_name(LIB_NAME);
    match beside.is_file() {
        true => Ok(beside),
        false => Err(format!(
            "the probe library {} is not built (`cargo build -p allocstorm-probe`, or set {ENV_LIB})",
            beside.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_targets_preload_puts_the_allocator_first() {
        let p = RunProbe::new(
            Duration::from_millis(50),
            Some(PathBuf::from("/x/liballocstorm_probe.so")),
        )
        .unwrap();
        assert_eq!(
            p.preload_after(Some("/usr/lib/libjemalloc.so.2")).unwrap(),
            "/usr/lib/libjemalloc.so.2 /x/liballocstorm_probe.so"
        );
        assert_eq!(p.preload_after(None).unwrap(), "/x/liballocstorm_probe.so");
        assert_eq!(p.note().mode, "preloaded");
        let env = p.env();
        assert_eq!(env[1], ("ALLOCSTORM_PROBE_INTERVAL_MS", "50".to_string()));
        let dir = p.dir().to_path_buf();
        assert!(dir.is_dir());
        drop(p);
        assert!(!dir.exists(), "the run's probe directory goes with it");
    }

    #[test]
    fn the_directory_is_private_and_a_killed_harnesss_is_swept() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let orphan = base.path().join(format!("{PREFIX}orphan"));
        let unowned = base.path().join(format!("{PREFIX}unowned"));
        let other = base.path().join("something-else");
        for d in [&orphan, &unowned, &other] {
            std::fs::create_dir(d).unwrap();
        }
        // A pid that has exited and been reaped: its harness is gone.
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let dead = gone.id();
        gone.wait().unwrap();
        std::fs::write(orphan.join(OWNER), dead.to_string()).unwrap();
        std::fs::write(other.join(OWNER), dead.to_string()).unwrap();

        let p = RunProbe::new_in(base.path(), Duration::from_millis(50), None).unwrap();
        assert!(!orphan.exists(), "a dead harness's directory is removed");
        assert!(
            unowned.exists() && other.exists(),
            "nothing else is touched"
        );
        let mode = std::fs::metadata(p.dir()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let owner = std::fs::read_to_string(p.dir().join(OWNER)).unwrap();
        assert_eq!(owner, std::process::id().to_string());
        // A live harness's directory survives another's sweep.
        let q = RunProbe::new_in(base.path(), Duration::from_millis(50), None).unwrap();
        assert!(p.dir().exists() && q.dir().exists());
    }

    #[test]
    fn the_toy_server_links_it() {
        let p = RunProbe::new(Duration::from_millis(20), None).unwrap();
        assert_eq!(p.preload_after(Some("/lib/a.so")), None);
        assert_eq!(p.note().mode, "linked");
    }

    #[test]
    fn a_missing_library_says_how_to_build_it() {
        let e = library(Path::new("/nonexistent/allocstorm")).unwrap_err();
        assert!(e.contains("/nonexistent/liballocstorm_probe.so"), "{e}");
        assert!(e.contains("cargo build -p allocstorm-probe"), "{e}");
    }
}
