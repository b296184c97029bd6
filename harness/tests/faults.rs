//! Fault injection: allocstorm SIGKILLed, Ctrl-C twice, a load worker killed, a server killed
//! inside a comparison, an output directory that cannot be created.
//!
//! Processes are identified by pid *and* start time (field 22 of `/proc/PID/stat`), so a pid
//! reused by an unrelated process after ours died never counts as ours. Only processes of this
//! test's own runs are looked at: the server named in the run's `.jsonl`, and the children of
//! the allocstorm process the test started. A zombie (state `Z`) counts as gone: it has been
//! killed and holds no memory or sockets; it only waits for its new parent (init or a
//! subreaper) to reap it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::scenario::ScenarioFile;
use common::{allocstorm, events, read_json, Running, BIN, POLL};
use serde_json::Value;

/// The shared toy scenario with 8 connections, a drain of 1 s and a `during` long enough to
/// act in (its first merged second arrives about a second in).
fn write_scenario(dir: &Path, during: &str) -> PathBuf {
    ScenarioFile::toy("faults")
        .set("load.connections", 8)
        .set("phases.during", during)
        .set("phases.drain", "1s")
        .write(dir, "faults.toml")
}

/// One process as seen in `/proc`: the pid and when it started, which together name it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Proc {
    pid: i32,
    start_time: u64,
}

/// `(state, ppid, start time)` from `/proc/PID/stat`, if the pid exists.
fn stat(pid: i32) -> Option<(char, i32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses; it ends at the last `)`.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((
        f.first()?.chars().next()?,
        f.get(1)?.parse().ok()?,
        f.get(19)?.parse().ok()?,
    ))
}

impl Proc {
    fn of(pid: i32) -> Option<Proc> {
        stat(pid).map(|(_, _, start_time)| Proc { pid, start_time })
    }

    /// Gone: no such pid, or the pid is another process now, or it is a zombie (dead, not yet
    /// reaped by whoever inherited it).
    fn is_gone(&self) -> bool {
        match stat(self.pid) {
            None => true,
            Some((state, _, start)) => start != self.start_time || matches!(state, 'Z' | 'X'),
        }
    }
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .unwrap_or_default()
}

/// The live (not zombie) children of `parent`.
fn children_of(parent: i32) -> Vec<Proc> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let (state, ppid, start_time) = stat(pid)?;
            (ppid == parent && state != 'Z').then_some(Proc { pid, start_time })
        })
        .collect()
}

/// Waits until every one of `procs` is gone, at most `within` from `since`; panics naming the
/// ones left.
fn assert_all_gone(procs: &[Proc], since: Instant, within: Duration, what: &str) {
    loop {
        let left: Vec<(Proc, String)> = procs
            .iter()
            .filter(|p| !p.is_gone())
            .map(|p| (*p, cmdline(p.pid)))
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(
            since.elapsed() < within,
            "{what}: still running {:?} later: {left:?}",
            since.elapsed()
        );
        std::thread::sleep(POLL);
    }
}

/// `allocstorm ARGS`, its stderr kept for [`Running::wait_within`]; SIGKILLed if the test ends
/// (or panics) before it does.
fn spawn(args: &[&std::ffi::OsStr]) -> Running {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    Running::spawn(cmd)
}

/// A run followed through its `.jsonl` until its main load is under way.
struct Loaded {
    server: Proc,
    /// The `during` load workers: children of allocstorm running `load-worker`.
    workers: Vec<Proc>,
    /// When `during` began, in run seconds.
    during_start: f64,
}

/// Follows `jsonl` until the server has said where it listens and a merged second of `during`
/// has been streamed, then finds the load workers among allocstorm's children.
fn wait_until_loaded(h: &mut Running, jsonl: &Path) -> Loaded {
    let deadline = Instant::now() + Duration::from_secs(20);
    let (server_pid, during_start) = loop {
        let ev = events(jsonl);
        let server = ev.iter().find(|e| e["kind"] == "server");
        let during = ev
            .iter()
            .find(|e| e["kind"] == "phase" && e["name"] == "during");
        let loaded = ev
            .iter()
            .any(|e| e["kind"] == "load_second" && e["phase"] == "during");
        if let (Some(s), Some(d), true) = (server, during, loaded) {
            break (
                s["pid"].as_i64().unwrap() as i32,
                d["start"].as_f64().unwrap(),
            );
        }
        if !h.is_running() {
            let (status, stderr) = h.wait_within(Duration::ZERO);
            panic!("the run ended ({status}) before its load: {stderr}");
        }
        assert!(
            Instant::now() < deadline,
            "the run never reached its load: {}",
            jsonl.display()
        );
        std::thread::sleep(POLL);
    };
    let server = Proc::of(server_pid).expect("the server is running");
    // The warmup's worker has been reaped before `during` began: the load workers now are the
    // two of `during`.
    let workers = loop {
        let children = children_of(h.pid());
        assert!(
            children.iter().any(|c| c.pid == server.pid),
            "the server {server:?} is a child of allocstorm {}",
            h.pid()
        );
        let workers: Vec<Proc> = children
            .into_iter()
            .filter(|c| cmdline(c.pid).contains(" load-worker "))
            .collect();
        if workers.len() == 2 {
            break workers;
        }
        assert!(
            Instant::now() < deadline,
            "expected 2 load workers under allocstorm {}, found {workers:?}",
            h.pid()
        );
        std::thread::sleep(POLL);
    };
    Loaded {
        server,
        workers,
        during_start,
    }
}

/// `allocstorm run` of glibc into `DIR/out`, followed until its load is under way.
fn start_run(dir: &Path, during: &str) -> (Running, PathBuf, Loaded) {
    let scenario = write_scenario(dir, during);
    let out = dir.join("out");
    let mut h = spawn(&[
        "run".as_ref(),
        "--quiet".as_ref(),
        "--scenario".as_ref(),
        scenario.as_os_str(),
        "--variant".as_ref(),
        "glibc".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    let loaded = wait_until_loaded(&mut h, &out.join("runs/glibc-1.jsonl"));
    (h, out, loaded)
}

#[test]
fn sigkill_to_allocstorm_leaves_no_server_or_load_worker() {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, out, run) = start_run(dir.path(), "3s");
    let jsonl = out.join("runs/glibc-1.jsonl");

    let killed_at = Instant::now();
    h.signal(libc::SIGKILL);
    let (status, _) = h.wait_within(Duration::from_secs(1));
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    // The parent-death signal takes the server and the workers down with it.
    let mut ours = run.workers.clone();
    ours.push(run.server);
    assert_all_gone(
        &ours,
        killed_at,
        Duration::from_secs(1),
        "after SIGKILL to allocstorm",
    );

    // The stream holds what was measured up to the kill, and no end.
    let ev = events(&jsonl);
    let samples: Vec<f64> = ev
        .iter()
        .filter(|e| e["kind"] == "sample")
        .map(|e| e["t"].as_f64().unwrap())
        .collect();
    assert!(samples.len() > 20, "{} samples streamed", samples.len());
    let last = samples.iter().copied().fold(0.0, f64::max);
    assert!(
        last > run.during_start + 0.5,
        "samples stop at {last:.2}s; the load began at {:.2}s and had streamed a second",
        run.during_start
    );
    assert!(!ev.iter().any(|e| e["kind"] == "end"));
    assert!(!out.join("runs/glibc-1.json").exists());

    // `report` rebuilds the run from its stream and says it is incomplete.
    let report = allocstorm(dir.path(), &["report".as_ref(), out.as_os_str()]);
    assert_eq!(report.code, 0, "allocstorm report: {}", report.stderr);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("incomplete: the harness stopped"), "{md}");
    let summary = read_json(&out.join("summary.json"));
    let v = &summary["variants"][0];
    assert_eq!(v["status"], "interrupted");
    assert_eq!(v["run_figures"][0]["incomplete"], true);
    assert!(v["run_figures"][0]["rss_before_bytes"].as_u64().is_some());
}

#[test]
fn ctrl_c_twice_exits_at_once_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, out, run) = start_run(dir.path(), "3s");

    let interrupted_at = Instant::now();
    h.signal(libc::SIGINT);
    h.signal(libc::SIGINT);
    let (status, stderr) = h.wait_within(Duration::from_millis(1500));
    assert_eq!(status.code(), Some(130), "{stderr}");
    let took = interrupted_at.elapsed();
    eprintln!(
        "exited {took:?} after Ctrl-C twice; record written: {}",
        out.join("runs/glibc-1.json").exists()
    );
    assert!(
        took < Duration::from_secs(1),
        "exited {took:?} after Ctrl-C"
    );

    let mut ours = run.workers.clone();
    ours.push(run.server);
    assert_all_gone(
        &ours,
        interrupted_at,
        Duration::from_secs(1),
        "after Ctrl-C twice",
    );
    // Whichever path the exit took (the second Ctrl-C exits without a record), what was
    // measured is on disk.
    let samples = events(&out.join("runs/glibc-1.jsonl"))
        .iter()
        .filter(|e| e["kind"] == "sample")
        .count();
    assert!(samples > 20, "{samples} samples streamed");
}

#[test]
fn a_load_worker_that_dies_fails_the_run_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, out, run) = start_run(dir.path(), "3s");
    let victim = run.workers[0];
    // The worker's number, from the plan on its command line.
    let cmd = cmdline(victim.pid);
    let plan: Value = serde_json::from_str(
        cmd.split_once(" --plan ")
            .expect("--plan on the worker's command line")
            .1
            .trim(),
    )
    .unwrap();
    let index = plan["index"].as_u64().unwrap();

    let killed_at = Instant::now();
    assert!(!victim.is_gone());
    // SAFETY: a live child of the allocstorm we started (same pid and start time).
    unsafe { libc::kill(victim.pid, libc::SIGKILL) };
    // Left of the phases: about 2 s of `during` and 1 s of drain. The run must end well
    // before they would have, let alone 10 s later.
    let (status, stderr) = h.wait_within(Duration::from_secs(5));
    let took = killed_at.elapsed();
    eprintln!("the run ended {took:?} after load worker {index} was killed: {stderr}");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        took < Duration::from_secs(3),
        "the run ended {took:?} after the kill"
    );

    let rec = read_json(&out.join("runs/glibc-1.json"));
    assert_eq!(rec["status"], "failed");
    let failure = rec["failure"].as_str().unwrap();
    assert!(
        failure.contains(&format!("load worker {index} died")) && failure.contains("during"),
        "{failure}"
    );
    assert!(stderr.contains(failure), "{stderr}");
    assert!(rec["samples"].as_array().unwrap().len() > 20);

    let mut ours = run.workers.clone();
    ours.push(run.server);
    assert_all_gone(
        &ours,
        killed_at,
        Duration::from_secs(5),
        "after a load worker died",
    );
}

#[test]
fn compare_goes_on_after_a_server_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "2s");
    let out = dir.path().join("out");
    let mut h = spawn(&[
        "compare".as_ref(),
        "--quiet".as_ref(),
        "--scenario".as_ref(),
        scenario.as_os_str(),
        "--runs".as_ref(),
        "1".as_ref(),
        "--variants".as_ref(),
        "glibc,glibc-arena2".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    let first = wait_until_loaded(&mut h, &out.join("runs/glibc-1.jsonl"));
    assert!(!first.server.is_gone());
    // SAFETY: the server of our run (same pid and start time).
    unsafe { libc::kill(first.server.pid, libc::SIGKILL) };

    // The second run goes through all its phases: about 5 s.
    let (status, stderr) = h.wait_within(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("some runs failed"), "{stderr}");

    let summary = read_json(&out.join("summary.json"));
    let variant = |name: &str| {
        summary["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("{name} in summary.json: {summary}"))
            .clone()
    };
    let glibc = variant("glibc");
    assert_eq!(glibc["status"], "failed");
    let failure = glibc["failure"].as_str().unwrap();
    assert!(failure.contains("SIGKILL"), "{failure}");
    assert_eq!(glibc["runs_ok"], 0);

    let arena2 = variant("glibc-arena2");
    assert_eq!(arena2["status"], "ok", "{}", arena2["failure"]);
    assert_eq!(arena2["runs_ok"], 1);
    for k in [
        "rss_before_bytes",
        "rss_peak_bytes",
        "rss_after_drain_bytes",
    ] {
        assert!(arena2[k].as_u64().is_some_and(|b| b > 0), "{k}: {arena2}");
    }
    assert!(arena2["throughput_rps"].as_f64().is_some_and(|r| r > 0.0));
    let rec = read_json(&out.join("runs/glibc-arena2-1.json"));
    assert!(
        rec["server_exit"].as_str().unwrap().contains("code 0"),
        "the second server was stopped cleanly: {}",
        rec["server_exit"]
    );
    assert!(out.join("report.md").is_file());

    let mut ours = first.workers.clone();
    ours.push(first.server);
    assert_all_gone(
        &ours,
        Instant::now(),
        Duration::from_secs(1),
        "after the comparison",
    );
}

#[test]
fn an_unwritable_output_directory_fails_before_any_server_starts() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "1s");
    // Permissions do not stop root: a path under a regular file cannot be created by anyone.
    std::fs::write(dir.path().join("afile"), b"").unwrap();
    let out = dir.path().join("afile/out");
    for cmd in ["run", "compare"] {
        let variant_flag = if cmd == "run" {
            "--variant"
        } else {
            "--variants"
        };
        let args: [&std::ffi::OsStr; 8] = [
            cmd.as_ref(),
            "--quiet".as_ref(),
            "--scenario".as_ref(),
            scenario.as_os_str(),
            variant_flag.as_ref(),
            "glibc".as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ];
        let started = Instant::now();
        let mut h = spawn(&args);
        let (status, stderr) = h.wait_within(Duration::from_secs(5));
        let took = started.elapsed();
        assert_eq!(status.code(), Some(2), "{cmd}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{cmd}: one line: {stderr}");
        assert!(
            stderr.contains(&out.display().to_string()),
            "{cmd}: names the path: {stderr}"
        );
        assert!(took < Duration::from_millis(500), "{cmd}: took {took:?}");
    }
    // No server was started: none would have run without its log.
    let mut logs = Vec::new();
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".server.log") {
                logs.push(p);
            }
        }
    }
    assert!(logs.is_empty(), "{logs:?}");
}
