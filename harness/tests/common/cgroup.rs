//! Memory cgroups (v1) of a test's own, with a limit: removed when dropped, with whatever runs
//! in them killed first, also after a failed assertion. Needs root and the v1 memory
//! controller, which this project's machines and CI have.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::POLL;

/// Where the v1 memory controller is mounted.
pub const MEMORY: &str = "/sys/fs/cgroup/memory";

/// The prefix of the test cgroups' names: `allocstorm-test-<pid>-<tag>`.
const PREFIX: &str = "allocstorm-test-";

pub struct TestCgroup(pub PathBuf);

impl TestCgroup {
    /// `allocstorm-test-<pid>-<tag>` at the root of the v1 memory hierarchy, limited to
    /// `limit` bytes of memory (and of memory + swap, where swap is accounted). First removes
    /// the test cgroups of test processes that are gone.
    pub fn create(tag: &str, limit: u64) -> TestCgroup {
        let root = Path::new(MEMORY);
        assert!(
            root.join("cgroup.procs").is_file(),
            "cgroup v1 memory controller not mounted at {MEMORY}"
        );
        remove_left_over(root);
        let cg = TestCgroup(root.join(format!("{PREFIX}{}-{tag}", std::process::id())));
        std::fs::create_dir(&cg.0).unwrap_or_else(|e| panic!("{}: {e}", cg.0.display()));
        cg.write("memory.limit_in_bytes", &limit.to_string());
        if cg.0.join("memory.memsw.limit_in_bytes").is_file() {
            cg.write("memory.memsw.limit_in_bytes", &limit.to_string());
        }
        cg
    }

    fn write(&self, file: &str, value: &str) {
        std::fs::write(self.0.join(file), value)
            .unwrap_or_else(|e| panic!("{}/{file}: {e}", self.0.display()));
    }

    pub fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.0.join(file)).unwrap_or_default()
    }

    /// `oom_kill` of `memory.oom_control`: the processes the kernel OOM-killed in it (in it
    /// alone: cgroup v1 counts a kill in the victim's own cgroup, not in its parents).
    pub fn oom_kills(&self) -> Option<u64> {
        allocstorm::cgroup::stat_value(&self.read("memory.oom_control"), "oom_kill")
    }

    /// The cgroups made inside it.
    pub fn children(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.0)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Makes `cmd`'s child join this cgroup before it execs.
    pub fn run_inside(&self, cmd: &mut Command) {
        let join = allocstorm::child::join_cgroup(&self.0).unwrap();
        // SAFETY: the closure makes only async-signal-safe calls (open, write, close).
        unsafe { cmd.pre_exec(join) };
    }
}

/// SIGKILLs what runs in `dir` and below, then removes the cgroups, deepest first, polling
/// until `within` (a process just killed leaves its cgroup busy for a moment).
fn kill_and_remove(dir: &Path, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        let mut dirs = vec![dir.to_path_buf()];
        let mut i = 0;
        while i < dirs.len() {
            if let Ok(d) = std::fs::read_dir(&dirs[i]) {
                dirs.extend(
                    d.flatten()
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                        .map(|e| e.path()),
                );
            }
            i += 1;
        }
        for d in &dirs {
            let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                // SAFETY: signalling a process of a cgroup of this test's.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let mut last = None;
        for d in dirs.iter().rev() {
            match std::fs::remove_dir(d) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => last = Some(e),
                _ => {}
            }
        }
        match last {
            None => return Ok(()),
            Some(e) if Instant::now() >= deadline => {
                return Err(format!("{}: could not be removed: {e}", dir.display()))
            }
            Some(_) => std::thread::sleep(POLL),
        }
    }
}

/// The test cgroups of test processes that died before their clean-up.
fn remove_left_over(root: &Path) {
    let Ok(d) = std::fs::read_dir(root) else {
        return;
    };
    for e in d.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = kill_and_remove(&e.path(), Duration::from_secs(2));
        }
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        if let Err(e) = kill_and_remove(&self.0, Duration::from_secs(5)) {
            eprintln!("{e}");
        }
    }
}
