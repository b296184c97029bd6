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
    /// The container the harness ran in (`docker`, `podman`, `kubernetes`, or what the image's
    /// `ALLOCSTORM_CONTAINER` says); absent on a bare machine or VM. Part of the gate's key: a
    /// container's kernel, limits and neighbours are not the host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The memory limit of the harness's cgroup, if one is set (cgroup v2 `memory.max`, v1
    /// `memory.limit_in_bytes`): what the kernel OOM-kills at, whatever `mem_total_bytes` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_memory_limit_bytes: Option<u64>,
    /// The CPU quota of the harness's cgroup in cores (v2 `cpu.max`, v1 `cpu.cfs_quota_us` /
    /// `cpu.cfs_period_us`), if one is set: it throttles without changing `nproc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_cpu_quota: Option<f64>,
}

/// Which container this process runs in, from what container runtimes leave behind.
pub fn container() -> Option<String> {
    let named = std::env::var("ALLOCSTORM_CONTAINER")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if named.is_some() {
        return named;
    }
    // Docker writes /.dockerenv into every container, but an image exported from a container
    // keeps it: this project's own CI VMs have one on an ext4 root. Only with the overlay root
    // that Docker mounts is it a container.
    if std::path::Path::new("/.dockerenv").exists()
        && root_fs_type(&read_trim("/proc/self/mountinfo")) == Some("overlay")
    {
        return Some("docker".into());
    }
    if std::path::Path::new("/run/.containerenv").exists() {
        return Some("podman".into());
    }
    container_of_cgroup(&read_trim("/proc/self/cgroup"))
}

/// The file system type of `/` in a `/proc/self/mountinfo` text.
pub fn root_fs_type(mountinfo: &str) -> Option<&str> {
    mountinfo.lines().rev().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        (left.split_whitespace().nth(4)? == "/").then(|| right.split_whitespace().next())?
    })
}

/// A container named by the process's cgroup path (`/proc/self/cgroup`), for runtimes that
/// leave no marker file (containerd under Kubernetes).
pub fn container_of_cgroup(cgroup: &str) -> Option<String> {
    if cgroup.contains("kubepods") {
        Some("kubernetes".into())
    } else if cgroup.contains("/docker/") || cgroup.contains("docker-") {
        Some("docker".into())
    } else {
        None
    }
}

/// The memory limit in a cgroup's `memory.max` (v2) or `memory.limit_in_bytes` (v1) text;
/// `max`, and v1's "no limit" (a huge page-rounded number), are none.
pub fn cgroup_memory_limit(text: &str) -> Option<u64> {
    let v: u64 = text.trim().parse().ok()?;
    // v1 reports no limit as LONG_MAX rounded down to a page: anything past 2^60 is that.
    (v < 1 << 60).then_some(v)
}

/// Cores of a cgroup v2 `cpu.max` (`QUOTA PERIOD`, or `max PERIOD`).
pub fn cgroup_cpu_quota_v2(text: &str) -> Option<f64> {
    let mut it = text.split_whitespace();
    let quota: f64 = it.next()?.parse().ok()?;
    let period: f64 = it.next()?.parse().ok()?;
    (quota > 0.0 && period > 0.0).then(|| quota / period)
}

/// Cores of cgroup v1's `cpu.cfs_quota_us` (-1: none) over `cpu.cfs_period_us`.
pub fn cgroup_cpu_quota_v1(quota: &str, period: &str) -> Option<f64> {
    let q: f64 = quota.trim().parse().ok()?;
    let p: f64 = period.trim().parse().ok()?;
    (q > 0.0 && p > 0.0).then(|| q / p)
}

fn first_readable(paths: &[&str]) -> Option<String> {
    paths.iter().find_map(|p| std::fs::read_to_string(p).ok())
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
            glibc_version: allocstorm_core::glibc_version(),
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
            // An image has no .git: docker/Dockerfile bakes the checkout's revision into
            // ALLOCSTORM_GIT_REVISION / ALLOCSTORM_GIT_DIRTY.
            git_revision: git(&["rev-parse", "HEAD"]).or_else(|| {
                std::env::var("ALLOCSTORM_GIT_REVISION")
                    .ok()
                    .filter(|v| !v.is_empty() && v != "unknown")
            }),
            git_dirty: git(&["status", "--porcelain", "--untracked-files=no"])
                .map(|s| !s.is_empty())
                .or_else(
                    || match std::env::var("ALLOCSTORM_GIT_DIRTY").ok()?.as_str() {
                        "true" => Some(true),
                        "false" => Some(false),
                        _ => None,
                    },
                ),
            crate_versions: env!("ALLOCSTORM_CRATES")
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            container: container(),
            cgroup_memory_limit_bytes: first_readable(&[
                "/sys/fs/cgroup/memory.max",
                "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            ])
            .and_then(|t| cgroup_memory_limit(&t)),
            cgroup_cpu_quota: match first_readable(&["/sys/fs/cgroup/cpu.max"]) {
                Some(t) => cgroup_cpu_quota_v2(&t),
                None => cgroup_cpu_quota_v1(
                    &read_trim("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
                    &read_trim("/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
                ),
            },
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
    fn containers_and_cgroup_limits() {
        assert_eq!(
            container_of_cgroup("0::/kubepods/burstable/pod1/abc"),
            Some("kubernetes".into())
        );
        assert_eq!(
            container_of_cgroup("12:memory:/docker/0123abcd"),
            Some("docker".into())
        );
        assert_eq!(
            container_of_cgroup("0::/system.slice/docker-0123.scope"),
            Some("docker".into())
        );
        assert_eq!(container_of_cgroup("0::/user.slice/session-1.scope"), None);
        let vm = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n";
        assert_eq!(root_fs_type(vm), Some("ext4"));
        let docker = "22 1 0:21 / /proc rw - proc proc rw\n\
                      812 700 0:52 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/x\n";
        assert_eq!(root_fs_type(docker), Some("overlay"));
        assert_eq!(cgroup_memory_limit("max\n"), None);
        assert_eq!(cgroup_memory_limit("9223372036854771712\n"), None);
        assert_eq!(cgroup_memory_limit("536870912\n"), Some(512 << 20));
        assert_eq!(cgroup_cpu_quota_v2("max 100000\n"), None);
        assert_eq!(cgroup_cpu_quota_v2("150000 100000\n"), Some(1.5));
        assert_eq!(cgroup_cpu_quota_v1("-1", "100000"), None);
        assert_eq!(cgroup_cpu_quota_v1("200000", "100000"), Some(2.0));
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
