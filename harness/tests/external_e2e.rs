//! End to end: a `[target]` scenario runs a server the harness did not build in, as the user's
//! own server would be run.
//!
//! - target-server-glibc started as an external target with the jemalloc preload variant:
//!   jemalloc is in its maps, and glibc's own figures (`mallinfo2` in `/stats`) stay flat while
//!   the server's memory grows under load;
//! - nginx with two workers (a pre-forking server), sampled as a process tree: every summed
//!   sample is the sum of its processes' figures, the tree is the master and its two workers;
//! - SIGKILL to allocstorm mid-run: nothing of the target's process group is left.
//!
//! Needs Debian's libjemalloc2 and nginx (`make deps`, which `make test` runs first).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::scenario::ScenarioFile;
use common::{run, Running, BIN};
use serde_json::Value;

const JEMALLOC: &str = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
const NGINX: &str = "/usr/sbin/nginx";
const MIB: f64 = (1 << 20) as f64;

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// A scenario of `target` (a `[target]` table's body) with short phases; `load` the body of
/// `[load]`; variants glibc and jemalloc-preload.
fn write_scenario(dir: &Path, target: &str, load: &str, phases: &str) -> PathBuf {
    ScenarioFile::named("external-e2e")
        .set("seed", 7)
        .table("target", target)
        .table("load", load)
        .table("phases", phases)
        .table(
            "sampling",
            r#"interval = "50ms"
stats_interval = "250ms"
smaps_interval = "250ms""#,
        )
        .variants(format!(
            r#"
[[variant]]
name = "glibc"
binary = "target-server-glibc"

[[variant]]
name = "jemalloc-preload"
binary = "target-server-glibc"
preload = "{JEMALLOC}"
"#
        ))
        .write(dir, "external.toml")
}

fn toy_server() -> String {
    Path::new(BIN)
        .with_file_name("target-server-glibc")
        .display()
        .to_string()
}

fn alive(pid: u64) -> bool {
    // A zombie is as good as gone: its memory is freed and it only waits to be reaped.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

fn samples(rec: &Value) -> &Vec<Value> {
    rec["samples"].as_array().unwrap()
}

#[test]
fn an_external_target_with_the_jemalloc_preload_is_served_by_jemalloc() {
    assert!(
        Path::new(JEMALLOC).exists(),
        "{JEMALLOC} missing: run `make deps` (make test does)"
    );
    let dir = tempdir();
    let target = format!(
        r#"command = ["{}", "--listen", "127.0.0.1:{{port}}", "--file", "{{file}}", "--workers", "2", "--hold", "100ms"]
create_file = "2MiB"
ready = "stdout:listening on"
stats = "/stats""#,
        toy_server()
    );
    let load = r#"path = "/file/hot"
range = "0-1048575"
processes = 2
connections = 32
rate = "max"
timeout = "2s""#;
    let phases = r#"warmup = "0s"
before = "1s"
during = "2s"
drain = "1s""#;
    let sc = write_scenario(dir.path(), &target, load, phases);
    let (code, rec) = run(&sc, "jemalloc-preload");
    assert_eq!(code, Some(0), "record: {}", rec["failure"]);
    assert_eq!(rec["status"], "ok");
    let mapped = rec["preload_mapped"].as_str().unwrap();
    assert!(mapped.contains("libjemalloc"), "mapped: {mapped}");
    assert_eq!(rec["target"]["sample"], "process");
    assert!(rec["server_command"][0]
        .as_str()
        .unwrap()
        .ends_with("target-server-glibc"));

    // The server's memory grew by tens of MiB under load ...
    let rss: Vec<u64> = samples(&rec)
        .iter()
        .map(|s| s["vm_rss"].as_u64().unwrap())
        .collect();
    let (first, peak) = (rss[0], *rss.iter().max().unwrap());
    assert!(
        peak as f64 - first as f64 > 16.0 * MIB,
        "RSS {:.1} -> {:.1} MiB",
        first as f64 / MIB,
        peak as f64 / MIB
    );
    // ... while glibc's malloc saw none of it: mallinfo2's heap stayed empty.
    let held: Vec<u64> = rec["stats"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["stats"]["allocator_figures"]["held_bytes"].as_u64())
        .collect();
    assert!(held.len() >= 8, "{} /stats readings", held.len());
    let max_held = *held.iter().max().unwrap();
    assert!(
        (max_held as f64) < 1.0 * MIB,
        "glibc held {:.1} MiB: glibc served allocations",
        max_held as f64 / MIB
    );

    // The run's directory keeps what the target wrote, not the hot file.
    let tdir = dir.path().join("out/runs/jemalloc-preload-1.target");
    assert!(tdir.is_dir());
    assert!(!tdir.join("hot").exists());
    assert!(!alive(rec["server_pid"].as_u64().unwrap()));
}

/// The shipped nginx template: two workers, in the foreground, everything under the run's
/// directory, `/ready` for readiness.
fn nginx_template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/targets/nginx.conf")
}

fn nginx_scenario(dir: &Path, during: &str) -> PathBuf {
    assert!(
        Path::new(NGINX).exists(),
        "{NGINX} missing: run `make deps` (make test does)"
    );
    let target = format!(
        r#"command = ["{NGINX}", "-p", "{{dir}}", "-c", "{{dir}}/nginx.conf"]
files = ["{}"]
create_file = "2MiB"
ready = "http:/ready"
sample = "tree""#,
        nginx_template().display()
    );
    let load = r#"path = "/hot"
range = "0-1048575"
processes = 1
connections = 8
rate = "100/s"
timeout = "2s""#;
    let phases = format!("warmup = \"0s\"\nbefore = \"1s\"\nduring = \"{during}\"\ndrain = \"1s\"");
    write_scenario(dir, &target, load, &phases)
}

#[test]
fn a_pre_forking_target_is_sampled_as_the_sum_of_its_processes() {
    let dir = tempdir();
    let sc = nginx_scenario(dir.path(), "1500ms");
    let (code, rec) = run(&sc, "glibc");
    assert_eq!(code, Some(0), "record: {}", rec["failure"]);
    assert_eq!(rec["status"], "ok");
    let load = &rec["load"];
    assert!(
        load["ok"].as_u64().unwrap_or(0) > 50,
        "nginx served {} ranges",
        load["ok"]
    );
    let root = rec["server_pid"].as_u64().unwrap();
    let trees = rec["procs"].as_array().unwrap();
    let by_t: Vec<(f64, &Value)> = samples(&rec)
        .iter()
        .map(|s| (s["t"].as_f64().unwrap(), s))
        .collect();
    // From the first phase after startup: before it nginx may still be forking its workers.
    let ready_at = rec["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "before")
        .and_then(|m| m["start"].as_f64())
        .unwrap();
    let trees: Vec<&Value> = trees
        .iter()
        .filter(|t| t["t"].as_f64().unwrap() >= ready_at)
        .collect();
    assert!(trees.len() >= 4, "{} process-tree readings", trees.len());
    let mut pids = std::collections::BTreeSet::new();
    for tree in trees {
        let procs = tree["procs"].as_array().unwrap();
        // The master and its two workers.
        assert_eq!(procs.len(), 3, "tree: {tree}");
        assert_eq!(procs[0]["pid"].as_u64().unwrap(), root);
        for w in &procs[1..] {
            assert_eq!(w["ppid"].as_u64().unwrap(), root);
            assert_eq!(w["name"], "nginx");
        }
        // The summed sample of the same moment is the sum of these.
        let t = tree["t"].as_f64().unwrap();
        let (_, sum) = by_t
            .iter()
            .find(|(st, _)| *st == t)
            .unwrap_or_else(|| panic!("no summed sample at t={t}"));
        for key in ["vm_rss", "rss_anon", "vm_size", "rss_file", "threads"] {
            let total: u64 = procs
                .iter()
                .map(|p| p["sample"][key].as_u64().unwrap())
                .sum();
            assert_eq!(sum[key].as_u64().unwrap(), total, "{key} at t={t}");
        }
        let master = procs[0]["sample"]["vm_rss"].as_u64().unwrap();
        assert!(sum["vm_rss"].as_u64().unwrap() > master);
        pids.extend(procs.iter().map(|p| p["pid"].as_u64().unwrap()));
    }
    // The master and its workers ran in the run's memory cgroup (the guard outside it): it was
    // charged their memory once they were up, and removed after the run.
    assert_eq!(
        rec["server_cgroup"]["version"], "v1",
        "{}",
        rec["server_cgroup"]
    );
    let usage: Vec<u64> = rec["cgroup"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["t"].as_f64().unwrap() >= ready_at)
        .map(|c| c["usage"].as_u64().unwrap())
        .collect();
    assert!(
        usage.len() >= 4 && usage.iter().all(|&u| u >= 1 << 20),
        "cgroup usage {usage:?}"
    );
    let cg = rec["server_cgroup"]["path"].as_str().unwrap();
    assert!(!Path::new(cg).exists(), "{cg} left behind");
    // Stopped with SIGTERM, cleanly, and nothing of it left.
    assert_eq!(rec["server_exit"], "exited with code 0");
    for p in pids {
        assert!(!alive(p), "nginx process {p} still running");
    }
}

#[test]
fn killing_allocstorm_takes_the_whole_target_with_it() {
    let dir = tempdir();
    let sc = nginx_scenario(dir.path(), "20s");
    let out = dir.path().join("out");
    // The harness under test, SIGKILLed if the test fails first (which ends its whole run:
    // that is what the test checks).
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--quiet", "--scenario"])
        .arg(&sc)
        .args(["--variant", "glibc", "--out"])
        .arg(&out)
        .stdin(Stdio::null());
    let mut harness = Running::spawn(cmd);
    // Wait, with a deadline, until the load runs against the tree (a `during` phase streamed).
    let jsonl = out.join("runs/glibc-1.jsonl");
    let deadline = Instant::now() + Duration::from_secs(15);
    let tree: Vec<u64> = loop {
        let text = std::fs::read_to_string(&jsonl).unwrap_or_default();
        let events: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .collect();
        let during = events
            .iter()
            .any(|e| e["kind"] == "phase" && e["name"] == "during");
        let last_tree = events
            .iter()
            .rev()
            .find(|e| e["kind"] == "procs")
            .map(|e| e["procs"].clone());
        if let (true, Some(t)) = (during, last_tree) {
            break t
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["pid"].as_u64().unwrap())
                .collect();
        }
        assert!(Instant::now() < deadline, "the run never reached `during`");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(tree.len(), 3);
    // The guard is the group's leader: its group holds the target's processes.
    harness.kill();
    let killed = Instant::now();
    while tree.iter().any(|&p| alive(p)) && killed.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let left: Vec<u64> = tree.iter().copied().filter(|&p| alive(p)).collect();
    // Clean up before asserting, whatever happened.
    for &p in &left {
        // SAFETY: kill only signals.
        unsafe { libc::kill(p as i32, libc::SIGKILL) };
    }
    assert!(left.is_empty(), "left running: {left:?}");
    assert!(
        killed.elapsed() < Duration::from_secs(1),
        "the target's processes took {:?} to go",
        killed.elapsed()
    );
}
