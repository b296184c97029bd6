//! Reading a memory cgroup: its usage, its working set and its OOM-kill count, from the files
//! of cgroup v1 or v2. The directory is a parameter, so the reading is tested on fixture
//! directories of either version (`harness/fixtures/cgroup/`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Which cgroup interface a directory has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    /// The v1 memory controller's own hierarchy (`/sys/fs/cgroup/memory`).
    V1,
    /// The unified hierarchy (`/sys/fs/cgroup` as `cgroup2`).
    V2,
}

impl Version {
    /// What a cgroup directory of this version holds, by role.
    fn files(self) -> Files {
        match self {
            Version::V1 => Files {
                usage: "memory.usage_in_bytes",
                // Hierarchical: the cgroup's and its children's, what kubelet reads on v1.
                inactive_file: "total_inactive_file",
                oom: "memory.oom_control",
            },
            Version::V2 => Files {
                usage: "memory.current",
                inactive_file: "inactive_file",
                oom: "memory.events",
            },
        }
    }

    /// The version of the cgroup directory `dir`, from the files it has; `None`: it has no
    /// memory controller (or is no cgroup).
    pub fn of_dir(dir: &Path) -> Option<Version> {
        [Version::V1, Version::V2]
            .into_iter()
            .find(|v| dir.join(v.files().usage).is_file())
    }

    pub fn name(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
        }
    }
}

/// The files a reading comes from: usage, the `memory.stat` key of the inactive file pages,
/// and the file with the `oom_kill` line.
struct Files {
    usage: &'static str,
    inactive_file: &'static str,
    oom: &'static str,
}

/// One reading of the server's memory cgroup, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CgroupSample {
    /// Seconds since the run started (the `t` of the `/proc` sample it was read with).
    pub t: f64,
    /// What the cgroup is charged: `memory.usage_in_bytes` (v1) or `memory.current` (v2);
    /// anonymous memory, page cache and kernel memory of its processes.
    pub usage: u64,
    /// Page cache on the inactive list, the first the kernel reclaims: `total_inactive_file`
    /// (v1) or `inactive_file` (v2) of `memory.stat`.
    pub inactive_file: u64,
    /// `usage − inactive_file`: what kubelet and `docker stats` report as the container's memory.
    pub working_set: u64,
}

/// Reads one memory cgroup directory.
#[derive(Debug, Clone)]
pub struct CgroupReader {
    dir: PathBuf,
    version: Version,
}

impl CgroupReader {
    pub fn new(dir: &Path, version: Version) -> CgroupReader {
        CgroupReader {
            dir: dir.to_path_buf(),
            version,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn version(&self) -> Version {
        self.version
    }

    fn read(&self, name: &str) -> Result<String, String> {
        let p = self.dir.join(name);
        std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))
    }

    /// Usage and working set now, at `t`.
    pub fn sample(&self, t: f64) -> Result<CgroupSample, String> {
        let f = self.version.files();
        let usage_text = self.read(f.usage)?;
        let usage = usage_text.trim().parse::<u64>().map_err(|_| {
            format!(
                "{}: expected a number of bytes, got {:?}",
                self.dir.join(f.usage).display(),
                usage_text.trim()
            )
        })?;
        let stat = self.read("memory.stat")?;
        let inactive_file = stat_value(&stat, f.inactive_file).ok_or_else(|| {
            format!(
                "{}: no {} line",
                self.dir.join("memory.stat").display(),
                f.inactive_file
            )
        })?;
        Ok(CgroupSample {
            t,
            usage,
            inactive_file,
            working_set: usage.saturating_sub(inactive_file),
        })
    }

    /// The processes the kernel's OOM killer killed in this cgroup since it was made:
    /// `oom_kill` of `memory.oom_control` (v1) or `memory.events` (v2).
    pub fn oom_kills(&self) -> Result<u64, String> {
        let file = self.version.files().oom;
        stat_value(&self.read(file)?, "oom_kill")
            .ok_or_else(|| format!("{}: no oom_kill line", self.dir.join(file).display()))
    }

    /// Where [`oom_kills`](Self::oom_kills) is read, for a failure that quotes it.
    pub fn oom_kills_file(&self) -> PathBuf {
        self.dir.join(self.version.files().oom)
    }
}

/// The value of the `key value` line whose key is exactly `key` (`oom_kill`, not
/// `oom_kill_disable`).
pub fn stat_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(version: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/cgroup")
            .join(version)
    }

    #[test]
    fn a_v1_memory_cgroup_is_read_from_its_own_files() {
        let dir = fixture("v1");
        assert_eq!(Version::of_dir(&dir), Some(Version::V1));
        let r = CgroupReader::new(&dir, Version::V1);
        let s = r.sample(2.5).unwrap();
        // memory.usage_in_bytes, and total_inactive_file (not inactive_file, the cgroup's
        // own without its children).
        assert_eq!(s.t, 2.5);
        assert_eq!(s.usage, 48_234_496);
        assert_eq!(s.inactive_file, 6_307_840);
        assert_eq!(s.working_set, 48_234_496 - 6_307_840);
        // oom_kill, not oom_kill_disable.
        assert_eq!(r.oom_kills(), Ok(1));
    }

    #[test]
    fn a_v2_memory_cgroup_is_read_from_its_own_files() {
        let dir = fixture("v2");
        assert_eq!(Version::of_dir(&dir), Some(Version::V2));
        let r = CgroupReader::new(&dir, Version::V2);
        let s = r.sample(0.0).unwrap();
        assert_eq!(s.usage, 73_400_320);
        assert_eq!(s.inactive_file, 10_485_760);
        assert_eq!(s.working_set, 62_914_560);
        // oom_kill, not oom or oom_group_kill.
        assert_eq!(r.oom_kills(), Ok(2));
        assert!(r.oom_kills_file().ends_with("memory.events"));
    }

    #[test]
    fn a_directory_that_is_no_memory_cgroup_says_which_file_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Version::of_dir(dir.path()), None);
        let r = CgroupReader::new(dir.path(), Version::V2);
        let e = r.sample(0.0).unwrap_err();
        assert!(e.contains("memory.current"), "{e}");
        std::fs::write(dir.path().join("memory.current"), "12\n").unwrap();
        std::fs::write(dir.path().join("memory.stat"), "anon 12\n").unwrap();
        let e = r.sample(0.0).unwrap_err();
        assert!(e.ends_with("memory.stat: no inactive_file line"), "{e}");
        std::fs::write(dir.path().join("memory.current"), "max\n").unwrap();
        let e = r.sample(0.0).unwrap_err();
        assert!(e.contains("expected a number of bytes"), "{e}");
    }

    #[test]
    fn working_set_never_goes_below_zero() {
        // v1's usage is batched per CPU and may lag memory.stat by a little.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("memory.usage_in_bytes"), "4096\n").unwrap();
        std::fs::write(
            dir.path().join("memory.stat"),
            "inactive_file 0\ntotal_inactive_file 8192\n",
        )
        .unwrap();
        let s = CgroupReader::new(dir.path(), Version::V1)
            .sample(0.0)
            .unwrap();
        assert_eq!((s.usage, s.working_set), (4096, 0));
    }

    #[test]
    fn stat_values_by_exact_key() {
        let t = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(stat_value(t, "oom_kill"), Some(3));
        assert_eq!(stat_value(t, "under_oom"), Some(0));
        assert_eq!(stat_value(t, "oom"), None);
        assert_eq!(stat_value("", "oom_kill"), None);
    }
}
