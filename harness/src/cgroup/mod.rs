//! The server's own memory cgroup: made for one run, the server started in it, removed after
//! it. It measures the server as a container would be measured (usage and working set, as
//! kubelet and `docker stats` read them) and tells a kernel OOM kill of the server from one
//! elsewhere on the machine (its own `oom_kill` count). No limit is set on it: it only counts.
//!
//! Where: `<memory hierarchy>/allocstorm/<pid>-<variant>-<n>` (`/sys/fs/cgroup/memory/…` on
//! cgroup v1, `/sys/fs/cgroup/…` on v2), or under `ALLOCSTORM_SERVER_CGROUP=DIR` when that is
//! set (a cgroup of the caller's, with a limit, say). `<pid>` is the harness's: a cgroup whose
//! harness is gone (killed before it could remove it) is removed by the next run.
//!
//! Where none can be made (not root, no memory controller, a read-only `/sys/fs/cgroup` in a
//! container), the run goes on without one and its record says why ([`CgroupNote`]); only a
//! `DIR` the caller named and that cannot be used fails the run.

mod read;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use read::{stat_value, CgroupReader, CgroupSample, Version};

/// `ALLOCSTORM_SERVER_CGROUP=DIR`: the cgroup (v1 or v2) under which the harness makes each
/// run's own cgroup for the server, instead of `allocstorm/` of the machine's memory hierarchy:
/// a cgroup of the caller's with a memory limit, as a container has.
pub const SERVER_CGROUP_ENV: &str = "ALLOCSTORM_SERVER_CGROUP";

/// The directory under a hierarchy's root that holds the runs' cgroups.
pub const PARENT: &str = "allocstorm";

/// What a record says of the server's cgroup: where it was, or why there was none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CgroupNote {
    /// The cgroup the server ran in (removed after the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    /// Why the server ran without a cgroup of its own: one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub none_because: Option<String>,
}

/// Why a run has no cgroup.
#[derive(Debug, Clone, PartialEq)]
pub struct NoCgroup {
    pub reason: String,
    /// The caller named the parent (`ALLOCSTORM_SERVER_CGROUP`): the run fails instead of
    /// going on without it.
    pub asked: bool,
}

impl NoCgroup {
    /// What the record says of it.
    pub fn note(&self) -> CgroupNote {
        CgroupNote {
            path: None,
            version: None,
            none_because: Some(self.reason.clone()),
        }
    }
}

/// A run's cgroup, removed when dropped (once its processes are gone).
#[derive(Debug)]
pub struct ServerCgroup {
    reader: CgroupReader,
    removed: bool,
}

impl ServerCgroup {
    pub fn dir(&self) -> &Path {
        self.reader.dir()
    }

    pub fn reader(&self) -> CgroupReader {
        self.reader.clone()
    }

    pub fn note(&self) -> CgroupNote {
        CgroupNote {
            path: Some(self.dir().display().to_string()),
            version: Some(self.reader.version()),
            none_because: None,
        }
    }

    /// Removes it once its last process is gone (a server just killed may still be exiting):
    /// polled until `within`, off the runtime's threads. Says why not, if it could not be.
    pub async fn remove(mut self, within: Duration) -> Result<(), String> {
        self.removed = true;
        let dir = self.dir().to_path_buf();
        let shown = dir.display().to_string();
        tokio::task::spawn_blocking(move || remove_within(&dir, within))
            .await
            .unwrap_or_else(|e| Err(format!("{shown}: cgroup removal did not run: {e}")))
    }
}

impl Drop for ServerCgroup {
    /// The way out of a panic or an early return: the same polling, on this thread.
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        if let Err(e) = remove_within(self.dir(), Duration::from_secs(2)) {
            eprintln!("allocstorm: {e}");
        }
    }
}

/// Removes `dir`, trying every 10 ms until `within` has passed (the kernel refuses while a
/// process is still in it).
fn remove_within(dir: &Path, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        match try_remove(dir) {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(not_removed(dir, &e)),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn try_remove(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

fn not_removed(dir: &Path, e: &std::io::Error) -> String {
    format!(
        "{}: cgroup not removed ({e}); the next run removes it",
        dir.display()
    )
}

/// The cgroup's name for run `n` of `variant` by this harness: `<pid>-<variant>-<n>`, with
/// whatever a directory name cannot hold replaced.
pub fn run_name(pid: u32, variant: &str, n: u32) -> String {
    let v: String = variant
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "@=._+,-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    format!("{pid}-{v}-{n}")
}

/// The pid of the harness that made the run cgroup `name`, if `name` is one.
fn harness_pid(name: &str) -> Option<u32> {
    let (pid, rest) = name.split_once('-')?;
    (!rest.is_empty()).then(|| pid.parse().ok())?
}

/// Removes the run cgroups under `parent` whose harness is gone. One still holding a process
/// cannot be removed and stays (the kernel refuses).
pub fn remove_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(harness_pid) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

/// A memory hierarchy mounted on this machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Hierarchy {
    pub root: PathBuf,
    pub version: Version,
}

/// The memory hierarchy of `/proc/self/mountinfo`'s text: a cgroup-v1 mount with the memory
/// controller, or else a cgroup2 mount (whose controllers the caller checks).
pub fn memory_hierarchy(mountinfo: &str) -> Option<Hierarchy> {
    let mounts: Vec<(&str, &str, &str)> = mountinfo
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let point = left.split_whitespace().nth(4)?;
            let mut r = right.split_whitespace();
            let fstype = r.next()?;
            let options = r.nth(1).unwrap_or("");
            Some((point, fstype, options))
        })
        .collect();
    let v1 = mounts
        .iter()
        .find(|(_, fs, opts)| *fs == "cgroup" && opts.split(',').any(|o| o == "memory"))
        .map(|(p, _, _)| Hierarchy {
            root: PathBuf::from(p),
            version: Version::V1,
        });
    v1.or_else(|| {
        mounts
            .iter()
            .find(|(_, fs, _)| *fs == "cgroup2")
            .map(|(p, _, _)| Hierarchy {
                root: PathBuf::from(p),
                version: Version::V2,
            })
    })
}

/// Makes the cgroup of run `n` of `variant`, under `ALLOCSTORM_SERVER_CGROUP` if set, else
/// under `allocstorm/` of this machine's memory hierarchy; first removes the stale ones there.
pub fn for_run(variant: &str, n: u32) -> Result<ServerCgroup, NoCgroup> {
    let name = run_name(std::process::id(), variant, n);
    match std::env::var_os(SERVER_CGROUP_ENV) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            let asked = |reason: String| NoCgroup {
                reason: format!("{SERVER_CGROUP_ENV}={}: {reason}", dir.display()),
                asked: true,
            };
            let version = Version::of_dir(&dir)
                .or_else(|| {
                    dir.join("cgroup.controllers")
                        .is_file()
                        .then_some(Version::V2)
                })
                .ok_or_else(|| asked("not a memory cgroup directory".into()))?;
            if version == Version::V2 {
                enable_memory(&dir).map_err(asked)?;
            }
            make_in(&dir, &name, version).map_err(asked)
        }
        None => {
            let none = |reason: String| NoCgroup {
                reason,
                asked: false,
            };
            let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
                .map_err(|e| none(format!("/proc/self/mountinfo: {e}")))?;
            let h = memory_hierarchy(&mountinfo)
                .ok_or_else(|| none("no cgroup hierarchy is mounted".into()))?;
            let parent = h.root.join(PARENT);
            if h.version == Version::V2 {
                let controllers =
                    std::fs::read_to_string(h.root.join("cgroup.controllers")).unwrap_or_default();
                if !controllers.split_whitespace().any(|c| c == "memory") {
                    return Err(none(format!(
                        "cgroup v2 at {} has no memory controller",
                        h.root.display()
                    )));
                }
                enable_memory(&h.root).map_err(none)?;
            }
            mkdir(&parent).map_err(none)?;
            if h.version == Version::V2 {
                enable_memory(&parent).map_err(none)?;
            }
            make_in(&parent, &name, h.version).map_err(none)
        }
    }
}

/// `mkdir`, an existing directory being fine.
fn mkdir(dir: &Path) -> Result<(), String> {
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(format!(
            "cannot make a memory cgroup: mkdir {}: {e}",
            dir.display()
        )),
        _ => Ok(()),
    }
}

/// v2: the memory controller for the children of `dir` (`+memory` in its
/// `cgroup.subtree_control`), unless they already have it.
fn enable_memory(dir: &Path) -> Result<(), String> {
    let control = dir.join("cgroup.subtree_control");
    let now = std::fs::read_to_string(&control).unwrap_or_default();
    if now.split_whitespace().any(|c| c == "memory") {
        return Ok(());
    }
    std::fs::write(&control, "+memory").map_err(|e| {
        format!(
            "cannot enable the memory controller: {}: {e}",
            control.display()
        )
    })
}

/// Makes `parent/name` (after removing the stale cgroups of `parent`) and checks that it
/// reads as a memory cgroup.
fn make_in(parent: &Path, name: &str, version: Version) -> Result<ServerCgroup, String> {
    remove_stale(parent);
    let dir = parent.join(name);
    // Ours from an earlier run of this very harness that could not be removed then.
    let _ = std::fs::remove_dir(&dir);
    std::fs::create_dir(&dir)
        .map_err(|e| format!("cannot make a memory cgroup: mkdir {}: {e}", dir.display()))?;
    let cg = ServerCgroup {
        reader: CgroupReader::new(&dir, version),
        removed: false,
    };
    // Dropped on error: removed again.
    cg.reader
        .sample(0.0)
        .and_then(|_| cg.reader.oom_kills())
        .map_err(|e| {
            format!(
                "made {}, but it does not read as a memory cgroup: {e}",
                dir.display()
            )
        })?;
    if !dir.join("cgroup.procs").is_file() {
        return Err(format!("{}: no cgroup.procs", dir.display()));
    }
    Ok(cg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_cgroup_is_named_after_its_harness_and_its_run() {
        assert_eq!(run_name(4242, "glibc", 1), "4242-glibc-1");
        assert_eq!(run_name(7, "glibc@threads=8", 3), "7-glibc@threads=8-3");
        assert_eq!(run_name(7, "a/b c", 1), "7-a_b_c-1");
        assert_eq!(harness_pid("4242-glibc@buffered-1"), Some(4242));
        assert_eq!(harness_pid("4242"), None);
        assert_eq!(harness_pid("4242-"), None);
        assert_eq!(harness_pid("tasks"), None);
        assert_eq!(harness_pid("allocstorm-test-12"), None);
    }

    #[test]
    fn stale_cgroups_of_gone_harnesses_are_removed_and_nothing_else() {
        let parent = tempfile::tempdir().unwrap();
        let gone = parent.path().join(run_name(u32::MAX - 1, "glibc", 1));
        let alive = parent.path().join(run_name(std::process::id(), "glibc", 1));
        let other = parent.path().join("someone-elses");
        let full = parent.path().join(run_name(u32::MAX - 2, "glibc", 2));
        for d in [&gone, &alive, &other, &full] {
            std::fs::create_dir(d).unwrap();
        }
        // A directory that is not empty stands for a cgroup still holding a process.
        std::fs::write(full.join("cgroup.procs"), "1\n").unwrap();
        remove_stale(parent.path());
        assert!(!gone.exists());
        assert!(alive.exists() && other.exists() && full.exists());
    }

    const MOUNTINFO_V1: &str = "\
24 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 24 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
33 30 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
36 30 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
";

    const MOUNTINFO_V2: &str = "\
24 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    #[test]
    fn the_memory_hierarchy_is_v1s_memory_mount_else_the_unified_one() {
        assert_eq!(
            memory_hierarchy(MOUNTINFO_V1),
            Some(Hierarchy {
                root: "/sys/fs/cgroup/memory".into(),
                version: Version::V1
            })
        );
        assert_eq!(
            memory_hierarchy(MOUNTINFO_V2),
            Some(Hierarchy {
                root: "/sys/fs/cgroup".into(),
                version: Version::V2
            })
        );
        assert_eq!(
            memory_hierarchy("24 1 0:22 / /sys rw - sysfs sysfs rw\n"),
            None
        );
    }
}
