//! Entering network namespaces: the calling thread (the coordinator's main thread, before its
//! runtime starts), or a child between fork and exec. A network namespace is a thread's, not a
//! process's: threads and children made afterwards inherit it.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;

/// Where `ip netns add NAME` mounts a namespace.
pub const NETNS_DIR: &str = "/run/netns";

pub fn path(name: &str) -> PathBuf {
    PathBuf::from(NETNS_DIR).join(name)
}

/// The namespace `name` of `ip netns`, opened (the handle [`enter`] takes).
pub fn open(name: &str) -> io::Result<File> {
    File::open(path(name))
}

/// The calling thread's own network namespace, to come back to.
pub fn current() -> io::Result<File> {
    File::open("/proc/thread-self/ns/net")
}

/// Moves the calling thread into the namespace `ns`.
pub fn enter(ns: &File) -> io::Result<()> {
    setns(ns.as_raw_fd())
}

/// `setns(fd, CLONE_NEWNET)`: async-signal-safe, so a `pre_exec` closure may call it.
pub fn setns(fd: RawFd) -> io::Result<()> {
    // SAFETY: a plain syscall on a descriptor the caller keeps open.
    if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The inode of a network namespace (of `/run/netns/NAME` or `/proc/PID/ns/net`): equal inodes,
/// the same namespace.
pub fn inode(p: &std::path::Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| m.ino())
}

/// The processes whose (main thread's) network namespace is `name`'s.
pub fn pids_in(name: &str) -> Vec<u32> {
    let Some(ino) = inode(&path(name)) else {
        return Vec::new();
    };
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| inode(&PathBuf::from(format!("/proc/{pid}/ns/net"))) == Some(ino))
        .collect()
}

/// The names of `ip netns` that start with `prefix`.
pub fn list(prefix: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(NETNS_DIR) else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}
