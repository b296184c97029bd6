//! End to end: `allocstorm run` with short phases against the real server binaries.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cgroup::TestCgroup;
use common::scenario::ScenarioFile;
use common::{run, Running, BIN};
use serde_json::Value;

/// The shared toy scenario with a `during` of this length: buffers held 100 ms so the peak is
/// well above the baseline, phases of a second or two.
fn write_scenario(dir: &Path, during: &str) -> PathBuf {
    write_scenario_with(dir, during, "")
}

fn write_scenario_with(dir: &Path, during: &str, extra_phases: &str) -> PathBuf {
    ScenarioFile::toy("e2e")
        .set("phases.during", during)
        .table("phases", extra_phases)
        .write(dir, "e2e.toml")
}

fn run_variant(variant: &str, extra_phases: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario_with(dir.path(), "2s", extra_phases);
    let out = dir.path().join("out");
    let (code, rec) = run(&scenario, variant);
    assert_eq!(
        code,
        Some(0),
        "allocstorm run {variant}: {}",
        rec["failure"]
    );
    let jsonl = std::fs::read_to_string(out.join(format!("runs/{variant}-1.jsonl"))).unwrap();
    let streamed = jsonl
        .lines()
        .filter(|l| l.contains(r#""kind":"sample""#))
        .count();
    assert_eq!(
        streamed,
        rec["samples"].as_array().unwrap().len(),
        "every sample streamed"
    );
    rec
}

/// The record's `timings`: every phase the run had is a step with time in it, the steps add up
/// to no more than the run's total, and the sums by kind to exactly it.
fn check_timings(rec: &Value, phase_names: &[&str]) {
    let t = &rec["timings"];
    let total = t["total_s"].as_f64().expect("timings.total_s");
    let steps: Vec<(&str, &str, f64)> = t["steps"]
        .as_array()
        .expect("timings.steps")
        .iter()
        .map(|s| {
            let name = s["step"].as_str().unwrap();
            (
                name,
                s["kind"].as_str().unwrap(),
                s["seconds"].as_f64().unwrap(),
            )
        })
        .collect();
    let secs = |name: &str| steps.iter().find(|s| s.0 == name).map(|s| s.2);
    let always = [
        "setup",
        "server start",
        "load start",
        "load end",
        "server stop",
        "record",
    ];
    for name in phase_names.iter().chain(&always) {
        assert!(secs(name).is_some(), "no step {name:?} in {t}");
    }
    for name in phase_names {
        assert!(secs(name).unwrap() > 0.0, "{name} took no time: {t}");
    }
    let parts: f64 = steps.iter().map(|s| s.2).sum();
    assert!(
        parts <= total + 1e-9,
        "steps {parts} s over the total {total} s"
    );
    let kind = |k: &str| -> f64 { steps.iter().filter(|s| s.1 == k).map(|s| s.2).sum() };
    assert!((t["measured_s"].as_f64().unwrap() - kind("measured")).abs() < 1e-9);
    let by_kind: f64 = ["measured_s", "conditioning_s", "overhead_s"]
        .iter()
        .map(|k| t[k].as_f64().unwrap())
        .sum();
    assert!((by_kind - total).abs() < 1e-9, "{t}");
    // The phases that feed a figure are measured, the warmup conditions, start-up is overhead.
    assert_eq!(
        steps.iter().find(|s| s.0 == "during").unwrap().1,
        "measured"
    );
    assert_eq!(
        steps.iter().find(|s| s.0 == "warmup").unwrap().1,
        "conditioning"
    );
    assert_eq!(
        steps.iter().find(|s| s.0 == "startup").unwrap().1,
        "overhead"
    );
}

fn check_record(rec: &Value, allocator: &str, phase_names: &[&str]) {
    assert_eq!(rec["status"], "ok", "{}", rec["failure"]);
    check_timings(rec, phase_names);
    let f = &rec["figures"];
    let b = f["rss_before_bytes"].as_u64().expect("B");
    let p = f["rss_peak_bytes"].as_u64().expect("P");
    let a = f["rss_after_drain_bytes"].as_u64().expect("A");
    assert!(p > b, "peak {p} above before {b}");
    assert!(a > 0);
    // 16 connections each holding a 1 MiB buffer: the peak grows by well over 4 MiB, so
    // retention is defined.
    assert!(p - b >= 4 << 20, "growth {} MiB", (p - b) >> 20);
    let r = f["retention"].as_f64().expect("R");
    assert!((-0.5..=1.5).contains(&r), "retention {r}");
    assert!(f["vsz_after_drain_bytes"].as_u64().unwrap() >= a);
    assert!(f["server_cpu_during_s"].as_f64().unwrap() > 0.0);
    // Page faults are counted in every sample: the load's growth of RssAnon is fresh pages,
    // each a minor fault (at least one per 4 KiB page of the growth).
    let samples = rec["samples"].as_array().unwrap();
    let minflt = |s: &serde_json::Value| s["minflt"].as_u64().unwrap();
    let (first, last) = (samples.first().unwrap(), samples.last().unwrap());
    assert!(
        minflt(last) - minflt(first) >= (p - b) / 4096,
        "{first} .. {last}"
    );
    // Memory as a container sees it: the server's own cgroup, usage at least its working set,
    // and RssAnon less the MADV_FREE'd pages at most RssAnon.
    assert_eq!(
        rec["server_cgroup"]["version"], "v1",
        "{}",
        rec["server_cgroup"]
    );
    let usage = f["cgroup_usage_after_drain_bytes"].as_u64().expect("usage");
    let ws = f["cgroup_working_set_after_drain_bytes"]
        .as_u64()
        .expect("working set");
    assert!(ws > 0 && usage >= ws, "usage {usage}, working set {ws}");
    assert!(!rec["cgroup"].as_array().unwrap().is_empty());
    let less_lazy = f["rss_anon_less_lazy_free_after_drain_bytes"]
        .as_u64()
        .expect("RssAnon - LazyFree");
    assert!(
        less_lazy > 0 && less_lazy <= 2 * a,
        "{less_lazy} against A {a}"
    );

    // Phases in order, back to back.
    let phases: Vec<(String, f64, f64)> = rec["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["start"].as_f64().unwrap(),
                m["end"].as_f64().unwrap(),
            )
        })
        .collect();
    let names: Vec<&str> = phases.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(names, phase_names);
    for w in phases.windows(2) {
        assert!(w[0].1 <= w[0].2 && w[0].2 <= w[1].1 + 1e-6, "{w:?}");
    }
    let during = phases.iter().find(|p| p.0 == "during").unwrap();
    assert!(
        (during.2 - during.1 - 2.0).abs() < 1.0,
        "during lasted {}",
        during.2 - during.1
    );

    // One sample per 50 ms, give or take scheduling.
    let samples = rec["samples"].as_array().unwrap();
    let span = samples.last().unwrap()["t"].as_f64().unwrap() - samples[0]["t"].as_f64().unwrap();
    let expected = span / 0.05 + 1.0;
    let n = samples.len() as f64;
    assert!(
        (n - expected).abs() / expected < 0.15,
        "{n} samples over {span:.2}s, expected {expected:.0}"
    );
    assert!(!rec["smaps"].as_array().unwrap().is_empty());
    // The mapping breakdown is taken with smaps; on glibc, worker threads serving 1 MiB
    // buffers get thread arenas: 64 MiB-aligned heaps.
    let mappings = rec["mappings"].as_array().unwrap();
    assert!(!mappings.is_empty());
    let most_heaps = mappings
        .iter()
        .filter_map(|m| m["arena_heaps"].as_u64())
        .max()
        .unwrap();
    if allocator == "glibc" {
        assert!(
            most_heaps >= 1,
            "no glibc arena heap seen in {} breakdowns",
            mappings.len()
        );
    }
    assert!(rec["stats"].as_array().unwrap().len() >= 3);

    // The load.
    let load = &rec["load"];
    assert!(load["ok"].as_u64().unwrap() > 0);
    assert!(load["throughput_rps"].as_f64().unwrap() > 0.0);
    assert!(load["latency_ms"]["p99"].as_f64().is_some());
    // Its start and its real end (its last request's end) in the run's clock: inside
    // `during`, which also holds the workers' start-up and exit; t90 counts from the end.
    let during_load = rec["phase_loads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["phase"] == "during")
        .unwrap();
    let started = during_load["started_t"].as_f64().expect("started_t");
    let ended = during_load["ended_t"].as_f64().expect("ended_t");
    assert!(
        during.1 <= started && started + 1.9 <= ended && ended <= during.2,
        "load {started}..{ended} in during {during:?}"
    );

    // Provenance.
    assert_eq!(rec["server_settings"]["allocator"], allocator);
    assert_eq!(rec["scenario"], "e2e");
    assert_eq!(rec["seed"], 7);
    assert_eq!(rec["scenario_hash"].as_str().unwrap().len(), 64);
    let env = &rec["environment"];
    for k in [
        "kernel",
        "glibc_version",
        "thp_enabled",
        "overcommit_memory",
        "rustc",
    ] {
        assert!(!env[k].as_str().unwrap_or("").is_empty(), "environment.{k}");
    }
    assert!(env["nproc"].as_u64().unwrap() >= 1);
    assert!(
        env["git_revision"].as_str().is_some_and(|s| s.len() == 40),
        "git revision"
    );
    assert!(
        rec["server_exit"].as_str().unwrap().contains("code 0"),
        "{}",
        rec["server_exit"]
    );
}

#[test]
fn glibc_run_records_every_figure() {
    let rec = run_variant("glibc", "");
    check_record(
        &rec,
        "glibc",
        &["startup", "warmup", "before", "during", "drain"],
    );
}

#[test]
fn jemalloc_run_records_every_figure() {
    // With the optional phases: a trickle of requests, then an explicit release.
    let rec = run_variant("jemalloc-bg", "nudge = \"1s\"\nrelease = \"1s\"");
    check_record(
        &rec,
        "jemalloc",
        &[
            "startup", "warmup", "before", "during", "drain", "nudge", "release",
        ],
    );
    assert!(rec["figures"]["rss_after_nudge_bytes"].as_u64().is_some());
    assert!(rec["figures"]["rss_after_release_bytes"].as_u64().is_some());
    let nudge = rec["phase_loads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["phase"] == "nudge")
        .expect("nudge load");
    assert!(nudge["summary"]["ok"].as_u64().unwrap() >= 1);
    assert!(
        rec["release"]["called"].as_str().unwrap().contains("purge"),
        "{}",
        rec["release"]
    );
    assert_eq!(
        rec["server_settings"]["allocator_settings"]["background_thread"],
        true
    );
}

/// Processes whose command line contains `needle`, other than ourselves.
fn processes_with(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(needle)
                })
                .unwrap_or(false)
        })
        .collect()
}

/// A 30 s glibc run, started and followed until its main load is under way (a merged second
/// of `during`): the server and every load worker exist.
struct LoadedRun {
    dir: tempfile::TempDir,
    out: PathBuf,
    /// SIGKILLed if the test fails before it ends.
    child: Running,
    server_pid: i32,
    addr: String,
}

fn start_run_until_loaded() -> LoadedRun {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "30s");
    let out = dir.path().join("out");
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--quiet", "--scenario"])
        .arg(&scenario)
        .args(["--variant", "glibc", "--out"])
        .arg(&out)
        .stdin(Stdio::null());
    let mut child = Running::spawn(cmd);
    let jsonl = out.join("runs/glibc-1.jsonl");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(&jsonl).unwrap_or_default();
        let server = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|e| e["kind"] == "server");
        let loaded = text.contains(r#""kind":"load_second","phase":"during""#);
        if let (Some(s), true) = (server, loaded) {
            return LoadedRun {
                server_pid: s["pid"].as_u64().unwrap() as i32,
                addr: s["addr"].as_str().unwrap().to_string(),
                dir,
                out,
                child,
            };
        }
        assert!(
            Instant::now() < deadline,
            "run never reached the load phase"
        );
        assert!(child.is_running(), "run ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A run cgroup as a harness killed before it could remove it leaves one: named after a pid
/// that is gone.
fn stale_run_cgroup() -> PathBuf {
    let parent = Path::new(common::cgroup::MEMORY).join("allocstorm");
    std::fs::create_dir_all(&parent).unwrap();
    let mut gone = Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    let stale = parent.join(format!("{}-glibc-1", gone.id()));
    std::fs::create_dir(&stale).unwrap();
    stale
}

#[test]
fn sigint_leaves_no_process_and_keeps_samples() {
    let stale = stale_run_cgroup();
    let LoadedRun {
        dir,
        out,
        mut child,
        addr,
        ..
    } = start_run_until_loaded();
    let jsonl = out.join("runs/glibc-1.jsonl");
    let hot = dir.path().join("hot.bin").display().to_string();
    assert!(!processes_with(&hot).is_empty(), "server running");
    assert!(
        !processes_with(&format!("http://{addr}")).is_empty(),
        "load workers running"
    );

    child.signal(libc::SIGINT);
    let status = child.wait();
    assert_eq!(status.code(), Some(130));

    // Nothing of this run is left: no server on our hot file, no worker aimed at its port.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let left: Vec<u32> = processes_with(&hot)
            .into_iter()
            .chain(processes_with(&format!("http://{addr}")))
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "processes left after SIGINT: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // What was measured is on disk, and the record says it was interrupted.
    let text = std::fs::read_to_string(&jsonl).unwrap();
    assert!(
        text.lines()
            .filter(|l| l.contains(r#""kind":"sample""#))
            .count()
            > 10
    );
    let rec: Value =
        serde_json::from_slice(&std::fs::read(out.join("runs/glibc-1.json")).unwrap()).unwrap();
    assert_eq!(rec["status"], "interrupted");
    assert!(rec["figures"]["rss_before_bytes"].as_u64().is_some());
    // The server's memory cgroup went with it, and so did the one a killed harness had left.
    let run_cg = rec["server_cgroup"]["path"].as_str().expect("a run cgroup");
    assert!(!Path::new(run_cg).exists(), "{run_cg} left behind");
    assert!(!stale.exists(), "{} left behind", stale.display());
}

#[test]
fn a_server_killed_mid_run_is_recorded_as_failed_with_its_signal() {
    let LoadedRun {
        // Kept: the run writes into it until the end of the test.
        dir: _dir,
        out,
        mut child,
        server_pid: pid,
        addr,
        ..
    } = start_run_until_loaded();
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let status = child.wait();
    assert_eq!(status.code(), Some(1), "a failed run exits 1");
    let rec: Value =
        serde_json::from_slice(&std::fs::read(out.join("runs/glibc-1.json")).unwrap()).unwrap();
    assert_eq!(rec["status"], "failed");
    let failure = rec["failure"].as_str().unwrap();
    assert!(failure.contains("SIGKILL"), "{failure}");
    // What was measured before the kill is kept, and no load worker outlives the run.
    assert!(rec["samples"].as_array().unwrap().len() > 10);
    assert!(rec["figures"]["rss_before_bytes"].as_u64().is_some());
    let deadline = Instant::now() + Duration::from_secs(2);
    while !processes_with(&format!("http://{addr}")).is_empty() {
        assert!(
            Instant::now() < deadline,
            "load workers left after the server died"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `oom_kill` of `/proc/vmstat`: the kernel's OOM kills on the whole machine since boot.
fn machine_oom_kills() -> u64 {
    allocstorm::cgroup::stat_value(
        &std::fs::read_to_string("/proc/vmstat").unwrap(),
        "oom_kill",
    )
    .expect("oom_kill in /proc/vmstat")
}

/// The problem of a machine-wide OOM count: a server SIGKILLed by someone else while the
/// kernel OOM-killed an unrelated process was recorded as `oom`. Here, mid-load, a process in
/// a 32 MiB memory cgroup of the test's asks for 64 MiB (`dd bs=64M`) and the kernel kills it
/// there, `oom_kill` in /proc/vmstat going up; then the test SIGKILLs the run's server. The
/// harness reads its server's own cgroup's count, which did not move: the run is `failed` with
/// its signal.
#[test]
fn an_oom_kill_elsewhere_while_the_server_is_killed_is_not_the_servers_oom() {
    let LoadedRun {
        dir: _dir,
        out,
        mut child,
        server_pid: pid,
        ..
    } = start_run_until_loaded();
    let machine_before = machine_oom_kills();

    let hog = TestCgroup::create("hog", 32 << 20);
    let mut dd = Command::new("dd");
    dd.args(["if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    hog.run_inside(&mut dd);
    let st = dd.status().unwrap();
    assert_eq!(st.signal(), Some(libc::SIGKILL), "dd {st}");
    assert_eq!(
        hog.oom_kills(),
        Some(1),
        "{}",
        hog.read("memory.oom_control")
    );
    assert!(
        machine_oom_kills() > machine_before,
        "the machine's count rose: the old rule would have said oom"
    );
    assert!(child.is_running(), "the run is still going");

    unsafe { libc::kill(pid, libc::SIGKILL) };
    let status = child.wait();
    assert_eq!(status.code(), Some(1), "a failed run exits 1");
    let rec: Value =
        serde_json::from_slice(&std::fs::read(out.join("runs/glibc-1.json")).unwrap()).unwrap();
    let failure = rec["failure"].as_str().unwrap();
    assert_eq!(rec["status"], "failed", "{failure}");
    assert!(
        failure.contains("killed by signal 9 (SIGKILL)"),
        "{failure}"
    );
    assert!(!failure.contains("OOM"), "{failure}");
    // The server ran in a cgroup of its own, and the run removed it.
    let run_cg = rec["server_cgroup"]["path"].as_str().expect("a run cgroup");
    assert!(!Path::new(run_cg).exists(), "{run_cg} left behind");
}

/// Inside a container `/sys/fs/cgroup` is read-only: no cgroup can be made for the server. The
/// run goes on without one (in a mount namespace of its own where the memory hierarchy is
/// read-only), ok, and its record says why in one line; the cgroup figures are null and the
/// `/proc` ones are all there.
#[test]
fn a_run_where_no_cgroup_can_be_made_goes_on_without_one_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "1s");
    let out = dir.path().join("out");
    let st = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "mount -o remount,bind,ro {} && exec \"$0\" \"$@\"",
            common::cgroup::MEMORY
        ))
        .arg(BIN)
        .args(["run", "--quiet", "--variant", "glibc", "--scenario"])
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    let rec = common::read_json(&out.join("runs/glibc-1.json"));
    assert_eq!(st.code(), Some(0), "{}", rec["failure"]);
    assert_eq!(rec["status"], "ok");
    let why = rec["server_cgroup"]["none_because"].as_str().unwrap();
    assert!(
        why.starts_with("cannot make a memory cgroup: mkdir /sys/fs/cgroup/memory/allocstorm")
            && why.ends_with("Read-only file system (os error 30)")
            && !why.contains('\n'),
        "{why}"
    );
    assert!(rec["server_cgroup"].get("path").is_none());
    let f = &rec["figures"];
    assert!(f["cgroup_working_set_after_drain_bytes"].is_null());
    assert!(f["rss_after_drain_bytes"].as_u64().is_some());
    assert!(f["rss_anon_less_lazy_free_after_drain_bytes"]
        .as_u64()
        .is_some());
}
