//! Reading a process's memory from outside, from `/proc`: where RSS is read.
//!
//! The allocator's own view (from `/stats`) says what it thinks it holds; these figures are
//! what the kernel charges the process, which is what the on-call engineer saw.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod failure;

/// One reading of `/proc/<pid>/status`, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the run started.
    pub t: f64,
    pub rss_anon: u64,
    pub vm_rss: u64,
    pub vm_size: u64,
    pub vm_hwm: u64,
    pub rss_file: u64,
    pub threads: u64,
    /// utime + stime so far, seconds (from `/proc/<pid>/stat`).
    pub cpu_s: f64,
    /// Minor and major page faults so far (fields 10 and 12 of `/proc/<pid>/stat`); 0 in
    /// records from before they were kept.
    #[serde(default)]
    pub minflt: u64,
    #[serde(default)]
    pub majflt: u64,
}

/// One reading of `/proc/<pid>/smaps_rollup`, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SmapsRollup {
    pub t: f64,
    pub rss: u64,
    pub pss: u64,
    pub anonymous: u64,
    pub lazy_free: u64,
    pub anon_huge_pages: u64,
}

/// The mapping breakdown of `/proc/<pid>/smaps` — what `pmap -X` shows, summed the way the
/// engineers of incidents 001 and 002 read it: how many 64 MiB glibc arena heaps there are, how
/// much of each is resident and how much only reserved, against the main heap and the rest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MappingBreakdown {
    pub t: f64,
    /// The main arena's `[heap]` (brk) mapping.
    pub main_heap_size: u64,
    pub main_heap_rss: u64,
    /// glibc thread-arena heaps: a 64 MiB-aligned anonymous `rw-p` mapping and the `---p`
    /// rest of its 64 MiB reservation.
    pub arena_heaps: u64,
    pub arena_heap_rss: u64,
    /// The `rw-p` part (committed, may be resident) and the `---p` part (reserved only).
    pub arena_heap_committed: u64,
    pub arena_heap_reserved: u64,
    /// Every other anonymous mapping (mmapped chunks, other allocators' regions, stacks).
    pub other_anon_mappings: u64,
    pub other_anon_size: u64,
    pub other_anon_rss: u64,
    /// File-backed mappings (the binary, libraries).
    pub file_rss: u64,
}

/// glibc's HEAP_MAX_SIZE on 64-bit: every thread arena heap reserves exactly this much,
/// aligned to it.
pub const ARENA_HEAP_SIZE: u64 = 64 << 20;

/// One mapping of `smaps`: its range, permissions, whether it has a path, and its Rss.
#[derive(Debug, Clone)]
struct Mapping {
    start: u64,
    end: u64,
    perms: String,
    path: String,
    rss: u64,
}

fn parse_mappings(text: &str) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = Vec::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let first = parts.next().unwrap_or("");
        // A header line: `start-end perms offset dev inode [path]`.
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(start), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) {
                let perms = parts.next().unwrap_or("").to_string();
                let path = parts.nth(3).map(str::to_string).unwrap_or_default();
                out.push(Mapping {
                    start,
                    end,
                    perms,
                    path,
                    rss: 0,
                });
                continue;
            }
        }
        if let (Some(m), Some(("Rss", v))) = (
            out.last_mut(),
            line.split_once(':').map(|(k, v)| (k.trim(), v)),
        ) {
            m.rss = v
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
                * 1024;
        }
    }
    out
}

pub fn parse_smaps(text: &str) -> MappingBreakdown {
    let maps = parse_mappings(text);
    let mut b = MappingBreakdown::default();
    let anon = |m: &Mapping| m.path.is_empty();
    let mut i = 0;
    while i < maps.len() {
        let m = &maps[i];
        let size = m.end - m.start;
        if m.path == "[heap]" {
            b.main_heap_size += size;
            b.main_heap_rss += m.rss;
        } else if anon(m) && m.perms == "rw-p" && m.start % ARENA_HEAP_SIZE == 0 {
            // An arena heap if, with the `---p` mapping right after it, it spans exactly one
            // aligned 64 MiB reservation.
            let rest = maps
                .get(i + 1)
                .filter(|n| anon(n) && n.perms == "---p" && n.start == m.end)
                .map(|n| n.end - n.start)
                .unwrap_or(0);
            if size + rest == ARENA_HEAP_SIZE {
                b.arena_heaps += 1;
                b.arena_heap_committed += size;
                b.arena_heap_reserved += rest;
                b.arena_heap_rss += m.rss;
                i += if rest > 0 { 2 } else { 1 };
                continue;
            }
            b.other_anon_mappings += 1;
            b.other_anon_size += size;
            b.other_anon_rss += m.rss;
        } else if anon(m) {
            b.other_anon_mappings += 1;
            b.other_anon_size += size;
            b.other_anon_rss += m.rss;
        } else if !m.path.starts_with('[') {
            b.file_rss += m.rss;
        }
        i += 1;
    }
    b
}

/// The path of each file-backed mapping of `/proc/<pid>/maps`, in order (once per mapping).
/// The path is everything after the inode, so a path with spaces stays whole; a file replaced
/// on disk since it was mapped keeps its old path, without the kernel's ` (deleted)`.
fn mapped_files(maps: &str) -> impl Iterator<Item = &str> {
    maps.lines().filter_map(|line| {
        // `start-end perms offset dev inode [path]`: skip five fields and their spaces.
        let mut rest = line.trim_start();
        for _ in 0..5 {
            let end = rest.find(char::is_whitespace)?;
            rest = rest[end..].trim_start();
        }
        let path = rest.trim_end();
        let path = path.strip_suffix(" (deleted)").unwrap_or(path);
        path.starts_with('/').then_some(path)
    })
}

/// Which mapping of `maps` (the text of `/proc/<pid>/maps`) is the shared library `lib`, given
/// with its symlinks resolved: the first mapped file whose path is `lib`, or failing that whose
/// file name is `lib`'s (the same library reached by another path: a bind mount, a container's
/// view). `None`: the library is not in the process.
pub fn find_mapped_library(maps: &str, lib: &Path) -> Option<String> {
    let name = lib.file_name()?;
    let mut by_name = None;
    for path in mapped_files(maps) {
        let p = Path::new(path);
        if p == lib {
            return Some(path.to_string());
        }
        if by_name.is_none() && p.file_name() == Some(name) {
            by_name = Some(path.to_string());
        }
    }
    by_name
}

use failure::read_failed;
pub use failure::{read_error, SampleError};

/// Reads a process's figures; the source is injectable so the parsing is tested on fixtures.
#[derive(Debug, Clone)]
pub struct ProcReader {
    pid: u32,
    root: PathBuf,
}

impl ProcReader {
    pub fn new(pid: u32) -> Self {
        Self {
            pid,
            root: PathBuf::from(format!("/proc/{pid}")),
        }
    }

    /// A reader of `root` in place of `/proc/<pid>`, for tests.
    #[cfg(test)]
    fn at(pid: u32, root: &Path) -> Self {
        Self {
            pid,
            root: root.to_path_buf(),
        }
    }

    fn read(&self, name: &str) -> Result<String, SampleError> {
        let path = self.root.join(name);
        std::fs::read_to_string(&path).map_err(|e| read_failed(self.pid, &path, e))
    }

    pub fn sample(&self, t: f64) -> Result<Sample, SampleError> {
        let status = self.read("status")?;
        let stat = self.read("stat")?;
        let mut s = parse_status(&status).map_err(|m| SampleError::Parse {
            path: format!("{}/status", self.root.display()),
            message: m,
        })?;
        let c = parse_stat_counters(&stat).map_err(|m| SampleError::Parse {
            path: format!("{}/stat", self.root.display()),
            message: m,
        })?;
        (s.cpu_s, s.minflt, s.majflt) = (c.user_s + c.system_s, c.minflt, c.majflt);
        s.t = t;
        Ok(s)
    }

    /// CPU time and page faults so far.
    pub fn counters(&self) -> Result<StatCounters, SampleError> {
        let stat = self.read("stat")?;
        parse_stat_counters(&stat).map_err(|m| SampleError::Parse {
            path: format!("{}/stat", self.root.display()),
            message: m,
        })
    }

    /// The mapping breakdown: one walk of every mapping, so about once a second at most.
    pub fn mappings(&self, t: f64) -> Result<MappingBreakdown, SampleError> {
        let text = self.read("smaps")?;
        let mut b = parse_smaps(&text);
        b.t = t;
        Ok(b)
    }

    /// Where the shared library `lib` is mapped in the process, if it is: `lib` with its
    /// symlinks resolved, looked up in `/proc/<pid>/maps` by [`find_mapped_library`].
    pub fn mapped_library(&self, lib: &Path) -> Result<Option<String>, SampleError> {
        let maps = self.read("maps")?;
        let canonical = std::fs::canonicalize(lib).unwrap_or_else(|_| lib.to_path_buf());
        Ok(find_mapped_library(&maps, &canonical))
    }

    pub fn smaps_rollup(&self, t: f64) -> Result<SmapsRollup, SampleError> {
        let text = self.read("smaps_rollup")?;
        let mut r = parse_smaps_rollup(&text);
        r.t = t;
        Ok(r)
    }
}

/// One process of a sampled process tree, read at the same moment as the tree's sum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcSample {
    pub pid: u32,
    pub ppid: u32,
    /// The command name (`comm`), e.g. `nginx`.
    pub name: String,
    pub sample: Sample,
}

/// Every process of a tree at one moment: what the tree's summed [`Sample`] of the same `t`
/// was added up from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeSample {
    pub t: f64,
    pub procs: Vec<ProcSample>,
}

impl Sample {
    /// Adds another process's figures (the time stays this one's).
    pub fn add(&mut self, o: &Sample) {
        self.rss_anon += o.rss_anon;
        self.vm_rss += o.vm_rss;
        self.vm_size += o.vm_size;
        self.vm_hwm += o.vm_hwm;
        self.rss_file += o.rss_file;
        self.threads += o.threads;
        self.cpu_s += o.cpu_s;
        self.minflt += o.minflt;
        self.majflt += o.majflt;
    }
}

impl SmapsRollup {
    pub fn add(&mut self, o: &SmapsRollup) {
        self.rss += o.rss;
        self.pss += o.pss;
        self.anonymous += o.anonymous;
        self.lazy_free += o.lazy_free;
        self.anon_huge_pages += o.anon_huge_pages;
    }
}

impl MappingBreakdown {
    pub fn add(&mut self, o: &MappingBreakdown) {
        self.main_heap_size += o.main_heap_size;
        self.main_heap_rss += o.main_heap_rss;
        self.arena_heaps += o.arena_heaps;
        self.arena_heap_rss += o.arena_heap_rss;
        self.arena_heap_committed += o.arena_heap_committed;
        self.arena_heap_reserved += o.arena_heap_reserved;
        self.other_anon_mappings += o.other_anon_mappings;
        self.other_anon_size += o.other_anon_size;
        self.other_anon_rss += o.other_anon_rss;
        self.file_rss += o.file_rss;
    }
}

/// `pid`, its parent and its command name from `/proc/<pid>/stat` text.
pub fn parse_stat_ids(text: &str) -> Option<(u32, u32, String)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    let name = text[open + 1..close].to_string();
    let ppid = text[close + 1..].split_whitespace().nth(1)?.parse().ok()?;
    Some((pid, ppid, name))
}

/// `root` and all its descendants, root first, then in the order of a breadth-first walk,
/// each with its parent and name: one pass over `/proc`. Processes that vanish meanwhile are
/// left out.
pub fn process_tree(root: u32) -> Vec<(u32, u32, String)> {
    walk_tree(root).unwrap_or_default()
}

/// [`process_tree`], or why `/proc` could not be listed.
fn walk_tree(root: u32) -> std::io::Result<Vec<(u32, u32, String)>> {
    let mut all: Vec<(u32, u32, String)> = Vec::new();
    for e in std::fs::read_dir("/proc")?.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(ids) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|t| parse_stat_ids(&t))
        {
            all.push(ids);
        }
    }
    Ok(tree_of(root, &all))
}

/// The part of `all` (pid, ppid, name) that descends from `root`, root first.
pub fn tree_of(root: u32, all: &[(u32, u32, String)]) -> Vec<(u32, u32, String)> {
    let mut out: Vec<(u32, u32, String)> = all.iter().filter(|p| p.0 == root).cloned().collect();
    let mut i = 0;
    // Bounded: each pass adds only processes not yet in the list.
    while i < out.len() && out.len() <= all.len() {
        let parent = out[i].0;
        for p in all.iter().filter(|p| p.1 == parent && p.0 != root) {
            if !out.iter().any(|o| o.0 == p.0) {
                out.push(p.clone());
            }
        }
        i += 1;
    }
    out
}

/// Reads a process tree: each process's figures and their sum.
#[derive(Debug, Clone)]
pub struct TreeReader {
    root: u32,
}

impl TreeReader {
    pub fn new(root: u32) -> Self {
        Self { root }
    }

    /// The tree's processes now: the root's figures must be readable (else the root is gone);
    /// a child that vanishes between the walk and the read is left out.
    pub fn sample(&self, t: f64) -> Result<(Sample, TreeSample), SampleError> {
        let mut procs = Vec::new();
        let tree =
            walk_tree(self.root).map_err(|e| read_failed(self.root, Path::new("/proc"), e))?;
        for (pid, ppid, name) in tree {
            match ProcReader::new(pid).sample(t) {
                Ok(sample) => procs.push(ProcSample {
                    pid,
                    ppid,
                    name,
                    sample,
                }),
                Err(e) if pid == self.root => return Err(e),
                Err(_) => {}
            }
        }
        let Some(first) = procs.first() else {
            return Err(SampleError::Gone(self.root));
        };
        let mut sum = first.sample;
        for p in &procs[1..] {
            sum.add(&p.sample);
        }
        sum.t = t;
        Ok((sum, TreeSample { t, procs }))
    }

    /// `smaps_rollup` summed over the processes of `tree` (PSS summed is the tree's fair
    /// share of shared pages; RSS summed counts a shared page once per process).
    pub fn smaps_rollup(&self, tree: &TreeSample, t: f64) -> Result<SmapsRollup, SampleError> {
        self.sum(tree, |r| r.smaps_rollup(t), SmapsRollup::add)
    }

    /// The mapping breakdown summed over the processes of `tree`.
    pub fn mappings(&self, tree: &TreeSample, t: f64) -> Result<MappingBreakdown, SampleError> {
        self.sum(tree, |r| r.mappings(t), MappingBreakdown::add)
    }

    /// `read` of the root (which must be readable) plus `read` of every other process of
    /// `tree` that still is.
    fn sum<T>(
        &self,
        tree: &TreeSample,
        read: impl Fn(&ProcReader) -> Result<T, SampleError>,
        add: fn(&mut T, &T),
    ) -> Result<T, SampleError> {
        let mut sum = read(&ProcReader::new(self.root))?;
        for p in tree.procs.iter().filter(|p| p.pid != self.root) {
            if let Ok(v) = read(&ProcReader::new(p.pid)) {
                add(&mut sum, &v);
            }
        }
        Ok(sum)
    }
}

/// `Key:   1234 kB` lines into bytes.
fn kb_fields(text: &str) -> impl Iterator<Item = (&str, u64)> {
    text.lines().filter_map(|l| {
        let (k, v) = l.split_once(':')?;
        let mut it = v.split_whitespace();
        let n: u64 = it.next()?.parse().ok()?;
        let mult = match it.next() {
            Some("kB") => 1024,
            None => 1,
            Some(_) => return None,
        };
        Some((k.trim(), n * mult))
    })
}

pub fn parse_status(text: &str) -> Result<Sample, String> {
    let mut s = Sample::default();
    let mut seen = 0;
    for (k, v) in kb_fields(text) {
        let slot = match k {
            "RssAnon" => &mut s.rss_anon,
            "VmRSS" => &mut s.vm_rss,
            "VmSize" => &mut s.vm_size,
            "VmHWM" => &mut s.vm_hwm,
            "RssFile" => &mut s.rss_file,
            "Threads" => &mut s.threads,
            _ => continue,
        };
        *slot = v;
        seen += 1;
    }
    // A zombie has no memory lines; treat a status without RssAnon as unreadable.
    if seen < 6 {
        return Err("expected RssAnon, VmRSS, VmSize, VmHWM, RssFile and Threads".into());
    }
    Ok(s)
}

/// utime + stime (fields 14 and 15) in seconds. The command name may contain spaces and
/// parentheses, so fields are counted after the last `)`.
pub fn parse_stat_cpu(text: &str) -> Result<f64, String> {
    parse_stat_counters(text).map(|c| c.user_s + c.system_s)
}

/// What `/proc/<pid>/stat` counts of a process's work: CPU seconds in user space and in the
/// kernel, and page faults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StatCounters {
    /// utime (field 14), seconds.
    pub user_s: f64,
    /// stime (field 15), seconds: the kernel's work for it (page faults, mmap/munmap, I/O).
    pub system_s: f64,
    /// Minor page faults (field 10): pages mapped without I/O, each fresh page of a new mmap.
    pub minflt: u64,
    /// Major page faults (field 12).
    pub majflt: u64,
}

impl StatCounters {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &StatCounters) -> StatCounters {
        StatCounters {
            user_s: self.user_s - earlier.user_s,
            system_s: self.system_s - earlier.system_s,
            minflt: self.minflt.saturating_sub(earlier.minflt),
            majflt: self.majflt.saturating_sub(earlier.majflt),
        }
    }
}

/// Fields 10, 12, 14 and 15 of `/proc/<pid>/stat`, counted after the last `)` (the command
/// name may contain spaces and parentheses).
pub fn parse_stat_counters(text: &str) -> Result<StatCounters, String> {
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("expected `pid (comm) state ...`")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state is field 3, so field N is index N - 3.
    let num = |field: usize| -> Result<u64, String> {
        f.get(field - 3)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("expected a number in field {field}"))
    };
    // SAFETY: sysconf is always safe to call.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok(StatCounters {
        user_s: num(14)? as f64 / hz,
        system_s: num(15)? as f64 / hz,
        minflt: num(10)?,
        majflt: num(12)?,
    })
}

pub fn parse_smaps_rollup(text: &str) -> SmapsRollup {
    let mut r = SmapsRollup::default();
    for (k, v) in kb_fields(text) {
        match k {
            "Rss" => r.rss = v,
            "Pss" => r.pss = v,
            "Anonymous" => r.anonymous = v,
            "LazyFree" => r.lazy_free = v,
            "AnonHugePages" => r.anon_huge_pages = v,
            _ => {}
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\ttarget-server-g\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t  300000 kB\nVmSize:\t  295656 kB\nVmHWM:\t    9000 kB\nVmRSS:\t    8652 kB\nRssAnon:\t    4200 kB\nRssFile:\t    4452 kB\nRssShmem:\t       0 kB\nThreads:\t5\n";

    #[test]
    fn status_fields_in_bytes() {
        let s = parse_status(STATUS).unwrap();
        assert_eq!(s.rss_anon, 4200 * 1024);
        assert_eq!(s.vm_rss, 8652 * 1024);
        assert_eq!(s.vm_size, 295656 * 1024);
        assert_eq!(s.vm_hwm, 9000 * 1024);
        assert_eq!(s.rss_file, 4452 * 1024);
        assert_eq!(s.threads, 5);
    }

    #[test]
    fn zombie_status_is_an_error() {
        assert!(parse_status("Name:\tx\nState:\tZ (zombie)\nThreads:\t1\n").is_err());
    }

    #[test]
    fn stat_with_awkward_command_name() {
        let stat =
            "1234 (a) b (c) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 5 0 100 0 0";
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        assert_eq!(parse_stat_cpu(stat).unwrap(), 300.0 / hz);
        let c = parse_stat_counters(stat).unwrap();
        assert_eq!((c.user_s, c.system_s), (250.0 / hz, 50.0 / hz));
        assert_eq!((c.minflt, c.majflt), (100, 0));
        assert!(parse_stat_cpu("garbage").is_err());
        assert!(parse_stat_counters("1 (x) S 1 2").is_err());
    }

    #[test]
    fn smaps_rollup_fields() {
        let t = "00400000-7ffd [rollup]\nRss:  1000 kB\nPss:  900 kB\nAnonymous:  700 kB\nLazyFree:  0 kB\nAnonHugePages:  2048 kB\n";
        let r = parse_smaps_rollup(t);
        assert_eq!(
            (r.rss, r.pss, r.anonymous, r.anon_huge_pages),
            (1000 * 1024, 900 * 1024, 700 * 1024, 2048 * 1024)
        );
    }

    const SMAPS: &str = "\
5600aaa00000-5600aab00000 r-xp 00000000 08:01 123  /usr/bin/server
Size:               1024 kB
Rss:                 512 kB
5600bbb00000-5600bbc00000 rw-p 00000000 00:00 0    [heap]
Size:               1024 kB
Rss:                 900 kB
7f2dd4000000-7f2dd4118000 rw-p 00000000 00:00 0
Size:               1120 kB
Rss:                1000 kB
7f2dd4118000-7f2dd8000000 ---p 00000000 00:00 0
Size:              64416 kB
Rss:                   0 kB
7f2ddc000000-7f2de0000000 rw-p 00000000 00:00 0
Size:              65536 kB
Rss:               65536 kB
7f2de8000000-7f2de8200000 rw-p 00000000 00:00 0
Size:               2048 kB
Rss:                2048 kB
7f2dea1fc000-7f2dea1fd000 ---p 00000000 00:00 0
Size:                  4 kB
Rss:                   0 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0    [stack]
Size:                132 kB
Rss:                  20 kB
";

    #[test]
    fn arena_heaps_are_told_from_other_mappings() {
        let b = parse_smaps(SMAPS);
        // Two heaps: one partly committed (rw-p + ---p = 64 MiB), one fully grown.
        assert_eq!(b.arena_heaps, 2);
        assert_eq!(b.arena_heap_committed, (1120 + 65536) * 1024);
        assert_eq!(b.arena_heap_reserved, 64416 * 1024);
        assert_eq!(b.arena_heap_rss, (1000 + 65536) * 1024);
        assert_eq!(
            (b.main_heap_size, b.main_heap_rss),
            (1024 * 1024, 900 * 1024)
        );
        // 64 MiB-aligned but only 2 MiB: not an arena heap; the guard page is other anon too.
        assert_eq!(b.other_anon_mappings, 2);
        assert_eq!(b.other_anon_rss, 2048 * 1024);
        assert_eq!(b.file_rss, 512 * 1024);
    }

    const MAPS: &str = "\
5600aaa00000-5600aab00000 r-xp 00000000 08:01 123                        /work/target/debug/target-server-glibc
7f2dd4000000-7f2dd4118000 rw-p 00000000 00:00 0 
7f2de0000000-7f2de0020000 r--p 00000000 08:01 5501                       /usr/lib/x86_64-linux-gnu/libjemalloc.so.2
7f2de0020000-7f2de00c0000 r-xp 00020000 08:01 5501                       /usr/lib/x86_64-linux-gnu/libjemalloc.so.2
7f2de1000000-7f2de1020000 r--p 00000000 08:01 5600                       /opt/my libs/libmimalloc.so.2.0 (deleted)
7f2de2000000-7f2de2020000 r--p 00000000 08:01 5700                       /usr/lib/x86_64-linux-gnu/libc.so.6
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
";

    #[test]
    fn a_preloaded_library_is_found_by_path_or_by_file_name() {
        let jemalloc = Path::new("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2");
        assert_eq!(
            find_mapped_library(MAPS, jemalloc).as_deref(),
            Some("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2")
        );
        // The same library seen through another path (a bind mount): its file name matches.
        assert_eq!(
            find_mapped_library(MAPS, Path::new("/lib/x86_64-linux-gnu/libjemalloc.so.2"))
                .as_deref(),
            Some("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2")
        );
        // A path with spaces, replaced on disk since it was mapped.
        assert_eq!(
            find_mapped_library(MAPS, Path::new("/opt/my libs/libmimalloc.so.2.0")).as_deref(),
            Some("/opt/my libs/libmimalloc.so.2.0")
        );
        // An exact path wins over an earlier file-name match.
        let both = format!(
            "{MAPS}7f2de3000000-7f2de3020000 r--p 00000000 08:01 9 /srv/libjemalloc.so.2\n"
        );
        assert_eq!(
            find_mapped_library(&both, Path::new("/srv/libjemalloc.so.2")).as_deref(),
            Some("/srv/libjemalloc.so.2")
        );
        // Not loaded (LD_PRELOAD ignored): nothing, and pseudo-paths never match.
        assert_eq!(
            find_mapped_library(MAPS, Path::new("/usr/lib/libtcmalloc_minimal.so.4")),
            None
        );
        assert_eq!(find_mapped_library(MAPS, Path::new("/tmp/hot.bin")), None);
        assert_eq!(find_mapped_library(MAPS, Path::new("[stack]")), None);
        assert_eq!(find_mapped_library("", jemalloc), None);
    }

    #[test]
    fn this_process_maps_its_libc_through_a_symlink() {
        // Where libc is mapped in this test process, found again from a symlink to it: the
        // reader resolves symlinks before looking.
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let libc = mapped_files(&maps)
            .find(|p| {
                Path::new(p)
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("libc.so"))
            })
            .expect("libc mapped")
            .to_string();
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("a-link-to-libc");
        std::os::unix::fs::symlink(&libc, &link).unwrap();
        let r = ProcReader::new(std::process::id());
        assert_eq!(r.mapped_library(&link).unwrap(), Some(libc));
        assert_eq!(
            r.mapped_library(&dir.path().join("missing.so")).unwrap(),
            None
        );
        assert!(matches!(
            ProcReader::new(u32::MAX - 1).mapped_library(&link),
            Err(SampleError::Gone(_))
        ));
    }

    #[test]
    fn stat_ids_with_a_name_holding_parentheses_and_spaces() {
        let (pid, ppid, name) =
            parse_stat_ids("4242 (nginx: (worker) x) S 4241 4241 4241 0 -1").unwrap();
        assert_eq!(
            (pid, ppid, name.as_str()),
            (4242, 4241, "nginx: (worker) x")
        );
        assert!(parse_stat_ids("garbage").is_none());
    }

    #[test]
    fn a_tree_is_the_root_and_its_descendants_only() {
        let all: Vec<(u32, u32, String)> = [
            (1, 0, "init"),
            (10, 1, "master"),
            (11, 10, "worker"),
            (12, 10, "worker"),
            (13, 12, "helper"),
            (20, 1, "other"),
            (21, 20, "other-child"),
        ]
        .iter()
        .map(|&(p, pp, n)| (p, pp, n.to_string()))
        .collect();
        let pids: Vec<u32> = tree_of(10, &all).iter().map(|p| p.0).collect();
        assert_eq!(pids, vec![10, 11, 12, 13]);
        assert!(tree_of(99, &all).is_empty());
    }

    #[test]
    fn this_process_tree_holds_a_child_and_sums_it() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let me = std::process::id();
        let reader = TreeReader::new(me);
        let (sum, tree) = reader.sample(1.0).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(tree.procs[0].pid, me);
        assert!(tree
            .procs
            .iter()
            .any(|p| p.pid == child.id() && p.ppid == me));
        let total: u64 = tree.procs.iter().map(|p| p.sample.vm_rss).sum();
        assert_eq!(sum.vm_rss, total);
        assert!(sum.vm_rss > tree.procs[0].sample.vm_rss);
        let faults: u64 = tree.procs.iter().map(|p| p.sample.minflt).sum();
        assert_eq!(sum.minflt, faults, "faults are summed like memory");
    }

    #[test]
    fn reads_this_process() {
        let r = ProcReader::new(std::process::id());
        let s = r.sample(0.0).unwrap();
        assert!(s.vm_rss > 0 && s.vm_size >= s.vm_rss && s.threads >= 1);
        assert!(s.minflt > 0, "a live process has taken minor faults");
        assert!(r.smaps_rollup(0.0).unwrap().rss > 0);
        let m = r.mappings(0.0).unwrap();
        assert!(m.file_rss > 0 && m.other_anon_mappings > 0);
        assert!(matches!(
            ProcReader::new(u32::MAX - 1).sample(0.0),
            Err(SampleError::Gone(_))
        ));
    }
}
