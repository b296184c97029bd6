//! Where and with what a run was measured. Every record carries this, and the gate refuses to
//! compare runs whose environments differ.

use std::collections::BTreeMap;
use std::process::Command;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub hostname: String,
    pub kernel: String,
    pub glibc_version: String,
    pub nproc: usize,
    pub cpu_model: String,
    pub mem_total_bytes: u64,
    /// The selected mode of `/sys/kernel/mm/transparent_hugepage/enabled` (THP inflates RSS).
    pub thp_enabled: String,
    pub thp_defrag: String,
    pub overcommit_memory: String,
    pub rustc: String,
    pub allocstorm_version: String,
    pub git_revision: Option<String>,
    pub git_dirty: Option<bool>,
    pub crate_versions: BTreeMap<String, String>,
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// `always [madvise] never` → `madvise`.
pub fn selected_mode(s: &str) -> String {
    s.split_whitespace()
        .find_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(']')))
        .unwrap_or(s)
        .to_string()
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl Environment {
    pub fn collect() -> Self {
        let cpuinfo = read_trim("/proc/cpuinfo");
        let meminfo = read_trim("/proc/meminfo");
        Environment {
            hostname: read_trim("/proc/sys/kernel/hostname"),
            kernel: read_trim("/proc/sys/kernel/osrelease"),
            glibc_version: target_server::alloc::glibc_version(),
            nproc: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default(),
            mem_total_bytes: meminfo_bytes(&meminfo, "MemTotal"),
            thp_enabled: selected_mode(&read_trim("/sys/kernel/mm/transparent_hugepage/enabled")),
            thp_defrag: selected_mode(&read_trim("/sys/kernel/mm/transparent_hugepage/defrag")),
            overcommit_memory: read_trim("/proc/sys/vm/overcommit_memory"),
            rustc: env!("ALLOCSTORM_RUSTC").to_string(),
            allocstorm_version: env!("CARGO_PKG_VERSION").to_string(),
            git_revision: git(&["rev-parse", "HEAD"]),
            git_dirty: git(&["status", "--porcelain", "--untracked-files=no"])
                .map(|s| !s.is_empty()),
            crate_versions: env!("ALLOCSTORM_CRATES")
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }
}

fn meminfo_bytes(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thp_mode() {
        assert_eq!(selected_mode("always [madvise] never"), "madvise");
        assert_eq!(selected_mode("[always] madvise never"), "always");
        assert_eq!(selected_mode(""), "");
    }

    #[test]
    fn collects_this_machine() {
        let e = Environment::collect();
        assert!(e.nproc >= 1);
        assert!(
            e.kernel.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "{}",
            e.kernel
        );
        assert!(e.glibc_version.starts_with("2."));
        assert!(e.mem_total_bytes > 0);
        assert!(e.crate_versions.contains_key("tikv-jemallocator"));
        assert!(e.rustc.starts_with("rustc "));
    }
}
