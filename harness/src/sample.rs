//! Reading a process's memory from outside, from `/proc`: where RSS is read.
//!
//! The allocator's own view (from `/stats`) says what it thinks it holds; these figures are
//! what the kernel charges the process, which is what the on-call engineer saw.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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

/// Why a process could not be read: it is gone, or /proc said something unexpected.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("process {0} is gone")]
    Gone(u32),
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
}

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

    fn read(&self, name: &str) -> Result<String, SampleError> {
        std::fs::read_to_string(self.root.join(name)).map_err(|_| SampleError::Gone(self.pid))
    }

    pub fn sample(&self, t: f64) -> Result<Sample, SampleError> {
        let status = self.read("status")?;
        let stat = self.read("stat")?;
        let mut s = parse_status(&status).map_err(|m| SampleError::Parse {
            path: format!("{}/status", self.root.display()),
            message: m,
        })?;
        s.cpu_s = parse_stat_cpu(&stat).map_err(|m| SampleError::Parse {
            path: format!("{}/stat", self.root.display()),
            message: m,
        })?;
        s.t = t;
        Ok(s)
    }

    pub fn smaps_rollup(&self, t: f64) -> Result<SmapsRollup, SampleError> {
        let text = self.read("smaps_rollup")?;
        let mut r = parse_smaps_rollup(&text);
        r.t = t;
        Ok(r)
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
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("expected `pid (comm) state ...`")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state is field 3, so utime (14) is index 11 and stime (15) index 12.
    let num = |i: usize| -> Result<u64, String> {
        f.get(i)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("expected a number in field {}", i + 3))
    };
    let ticks = num(11)? + num(12)?;
    // SAFETY: sysconf is always safe to call.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok(ticks as f64 / hz)
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
        assert!(parse_stat_cpu("garbage").is_err());
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

    #[test]
    fn reads_this_process() {
        let r = ProcReader::new(std::process::id());
        let s = r.sample(0.0).unwrap();
        assert!(s.vm_rss > 0 && s.vm_size >= s.vm_rss && s.threads >= 1);
        assert!(r.smaps_rollup(0.0).unwrap().rss > 0);
        assert!(matches!(
            ProcReader::new(u32::MAX - 1).sample(0.0),
            Err(SampleError::Gone(_))
        ));
    }
}
