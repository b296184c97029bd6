//! The built `.so` preloaded into a helper that holds a known amount, under each allocator
//! installed here (`make deps`); one without the library is skipped with the reason printed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use allocstorm_probe::{page_path, read, Allocator, Figure, PageReader, ReadError, Snapshot};
use common::{wait_for_reading_after_now, DEADLINE};

mod common;

const HELD: u64 = 8 << 20;
const LIBS: &str = "/usr/lib/x86_64-linux-gnu";

/// Cargo builds the lib's cdylib beside the test binaries' `deps/` directory.
fn probe_so() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let so = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("liballocstorm_probe.so");
    assert!(
        so.exists(),
        "{} missing: cargo build -p allocstorm-probe",
        so.display()
    );
    so
}

/// The helper and whatever it forked; killed and reaped on drop, pass or fail.
struct Held {
    child: Child,
    pids: Vec<u32>,
}

impl Drop for Held {
    fn drop(&mut self) {
        // Forked children first: until stdin closes their parent does not reap them, so their
        // pids cannot have been reused.
        for pid in &self.pids[1..] {
            // SAFETY: a pid the helper forked and reported, not yet reaped.
            unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
        }
        drop(self.child.stdin.take());
        // The helper reaps its forked child when stdin closes; kill it only if it is stuck.
        let start = Instant::now();
        while matches!(self.child.try_wait(), Ok(None)) && start.elapsed() < DEADLINE / 4 {
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the helper runs: alone, forking once, or exec'd by a shell (same pid, new image).
#[derive(Clone, Copy, PartialEq)]
enum Run {
    Alone,
    Forking,
    /// `FORKS` short-lived children first, then alone.
    ForkStorm,
    ExecdByShell,
}

const FORKS: usize = 100;

fn hold(preload: &[&Path], dir: Option<&Path>, run: Run) -> Held {
    let preload: Vec<String> = preload.iter().map(|p| p.display().to_string()).collect();
    let helper = env!("CARGO_BIN_EXE_allocstorm-probe-hold");
    let mut cmd = match run {
        Run::Alone => Command::new(helper),
        Run::Forking => {
            let mut c = Command::new(helper);
            c.arg("--fork");
            c
        }
        Run::ForkStorm => {
            let mut c = Command::new(helper);
            c.args(["--forks", &FORKS.to_string()]);
            c
        }
        Run::ExecdByShell => {
            let mut c = Command::new("sh");
            c.arg("-c").arg(format!("exec '{helper}' \"$0\""));
            c
        }
    };
    cmd.arg(HELD.to_string())
        .env("LD_PRELOAD", preload.join(" "))
        .env("ALLOCSTORM_PROBE_INTERVAL_MS", "5")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    match dir {
        Some(dir) => cmd.env("ALLOCSTORM_PROBE_DIR", dir),
        None => cmd.env_remove("ALLOCSTORM_PROBE_DIR"),
    };
    let mut child = cmd.spawn().unwrap();
    // Lines arrive through a channel so that a helper stuck before `ready` fails the test at
    // the deadline (and is killed by `Held`) instead of hanging it.
    let (send, lines) = std::sync::mpsc::channel();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        stdout
            .lines()
            .map_while(Result::ok)
            .try_for_each(|l| send.send(l))
    });
    let mut held = Held {
        pids: vec![child.id()],
        child,
    };
    let ready = |line: String| line.strip_prefix("ready ").unwrap().parse::<u32>().unwrap();
    let mut pids: Vec<u32> = (0..if run == Run::Forking { 2 } else { 1 })
        .map(|_| ready(lines.recv_timeout(DEADLINE).expect("helper not ready")))
        .collect();
    pids.sort_by_key(|p| *p != held.pids[0]);
    held.pids = pids;
    held
}

fn reading_after_ready(dir: &Path, pid: u32) -> Snapshot {
    wait_for_reading_after_now(&page_path(dir, pid))
}

/// Runs the helper under `library` (None: glibc) and checks allocator, figures, in use.
fn check(library: Option<&str>, allocator: Allocator, holds: Figure) {
    let lib = library.map(|l| Path::new(LIBS).join(l));
    if let Some(lib) = lib.as_ref().filter(|l| !l.exists()) {
        eprintln!("skipped: {} is not installed (make deps)", lib.display());
        return;
    }
    let so = probe_so();
    let dir = tempfile::tempdir().unwrap();
    let preload: Vec<&Path> = lib
        .iter()
        .map(|l| l.as_path())
        .chain([so.as_path()])
        .collect();
    let held = hold(&preload, Some(dir.path()), Run::Alone);
    let snap = reading_after_ready(dir.path(), held.pids[0]);
    assert_eq!(
        snap.allocator, allocator,
        "malloc in {}",
        snap.malloc_library
    );
    assert_eq!(snap.pid, held.pids[0]);
    if let Some(l) = library {
        assert!(snap.malloc_library.ends_with(l), "{}", snap.malloc_library);
    }
    for (figure, value) in snap.figures() {
        let ours = figure.allocator() == Some(allocator);
        assert_eq!(value.is_some(), ours, "{} = {value:?}", figure.name());
    }
    let value = snap.get(holds).unwrap();
    assert!(value >= HELD, "{} = {value}, held {HELD}", holds.name());
}

#[test]
fn under_glibc_the_page_says_glibc_and_in_use_covers_what_is_held() {
    check(None, Allocator::Glibc, Figure::GlibcInUse);
}

#[test]
fn under_jemalloc_the_page_says_jemalloc_with_its_figures() {
    check(
        Some("libjemalloc.so.2"),
        Allocator::Jemalloc,
        Figure::JemallocAllocated,
    );
}

#[test]
fn under_tcmalloc_the_page_says_tcmalloc_with_its_figures() {
    check(
        Some("libtcmalloc_minimal.so.4"),
        Allocator::Tcmalloc,
        Figure::TcmallocAllocated,
    );
}

#[test]
fn under_mimalloc_the_page_says_mimalloc_with_committed_and_no_in_use() {
    check(
        Some("libmimalloc.so.2"),
        Allocator::Mimalloc,
        Figure::MimallocCommitted,
    );
}

#[test]
fn a_forked_child_publishes_its_own_page() {
    let so = probe_so();
    let dir = tempfile::tempdir().unwrap();
    let held = hold(&[&so], Some(dir.path()), Run::Forking);
    for pid in &held.pids {
        let snap = reading_after_ready(dir.path(), *pid);
        assert_eq!(snap.pid, *pid);
        assert!(snap.get(Figure::GlibcInUse).unwrap() >= HELD);
    }
    let parent = read(&page_path(dir.path(), held.pids[0])).unwrap();
    let child = read(&page_path(dir.path(), held.pids[1])).unwrap();
    assert_ne!(parent.thread_tid, child.thread_tid);
}

#[test]
fn without_the_directory_variable_the_preloaded_probe_does_nothing() {
    let so = probe_so();
    let held = hold(&[&so], None, Run::Alone);
    let tasks = std::fs::read_dir(format!("/proc/{}/task", held.pids[0])).unwrap();
    for task in tasks {
        let comm = std::fs::read_to_string(task.unwrap().path().join("comm")).unwrap();
        assert_ne!(comm.trim(), "allocstormprobe");
    }
}

#[test]
fn an_execd_image_replaces_the_page_its_pid_had_before_exec() {
    let so = probe_so();
    let dir = tempfile::tempdir().unwrap();
    let held = hold(&[&so], Some(dir.path()), Run::ExecdByShell);
    let snap = reading_after_ready(dir.path(), held.pids[0]);
    assert_eq!(snap.pid, held.pids[0]);
    assert!(snap.get(Figure::GlibcInUse).unwrap() >= HELD);
}

#[test]
fn a_hundred_forks_in_a_row_neither_deadlock_nor_miss_a_page() {
    let so = probe_so();
    let dir = tempfile::tempdir().unwrap();
    let held = hold(&[&so], Some(dir.path()), Run::ForkStorm);
    reading_after_ready(dir.path(), held.pids[0]);
    let pages = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(
        pages,
        FORKS + 1,
        "one page per child and one for the parent"
    );
}

#[test]
fn a_killed_servers_page_reads_as_stale_not_as_its_last_numbers() {
    let so = probe_so();
    let dir = tempfile::tempdir().unwrap();
    let mut held = hold(&[&so], Some(dir.path()), Run::Alone);
    reading_after_ready(dir.path(), held.pids[0]);
    held.child.kill().unwrap();
    held.child.wait().unwrap();
    let path = page_path(dir.path(), held.pids[0]);
    let reader = PageReader::open(&path)
        .unwrap()
        .with_max_age(Duration::from_millis(100));
    let start = Instant::now();
    loop {
        match reader.read() {
            Err(ReadError::Stale { .. }) => break,
            Ok(_) if start.elapsed() < DEADLINE => std::thread::sleep(Duration::from_millis(5)),
            other => panic!("{other:?}"),
        }
    }
}

/// A non-PIE executable that takes `malloc`'s address (Debian's `/usr/bin/python3`) makes its
/// own PLT entry `malloc`'s canonical address: `dlsym` returns the executable. The page must
/// still name the library that defines `malloc`: glibc's, or the preloaded allocator's.
fn python_under(library: Option<&str>) -> Snapshot {
    let python = Path::new("/usr/bin/python3");
    assert!(
        python.exists(),
        "{} missing: make servers",
        python.display()
    );
    let so = probe_so();
    let dir = tempfile::tempdir().unwrap();
    let preload: Vec<String> = library
        .map(|l| Path::new(LIBS).join(l).display().to_string())
        .into_iter()
        .chain([so.display().to_string()])
        .collect();
    let child = Command::new(python)
        .args(["-I", "-c", "import sys; sys.stdin.read()"])
        .env("LD_PRELOAD", preload.join(" "))
        .env("ALLOCSTORM_PROBE_DIR", dir.path())
        .env("ALLOCSTORM_PROBE_INTERVAL_MS", "5")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    // Killed and reaped on drop, pass or fail.
    let held = Held {
        pids: vec![child.id()],
        child,
    };
    reading_after_ready(dir.path(), held.pids[0])
}

#[test]
fn a_non_pie_python_is_read_as_glibc_not_as_its_own_plt_entry() {
    let snap = python_under(None);
    assert_eq!(snap.allocator, Allocator::Glibc, "{}", snap.malloc_library);
    assert!(
        snap.malloc_library.ends_with("libc.so.6"),
        "{}",
        snap.malloc_library
    );
    assert!(snap.get(Figure::GlibcInUse).is_some());
}

#[test]
fn a_non_pie_python_under_a_preloaded_jemalloc_is_read_as_jemalloc() {
    let snap = python_under(Some("libjemalloc.so.2"));
    assert_eq!(
        snap.allocator,
        Allocator::Jemalloc,
        "{}",
        snap.malloc_library
    );
    assert!(
        snap.malloc_library.ends_with("libjemalloc.so.2"),
        "{}",
        snap.malloc_library
    );
}
