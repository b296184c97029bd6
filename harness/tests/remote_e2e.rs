//! Remote load workers (`[remote]`, `allocstorm load-worker --connect`), end to end on
//! loopback: they join with the run's token, their figures merge into the run's, a worker with
//! the wrong token stops at the coordinator's challenge, a missing one is named, and one that disappears fails the run
//! at once. The namespace lab (`netlab_e2e.rs`) runs the same across shaped links.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::scenario::ScenarioFile;
use common::{events, free_listen_port, read_json, Running, BIN, POLL};
use serde_json::Value;

const TOKEN: &str = "remote-e2e-token";

/// The toy scenario with `workers` remote workers joining at 127.0.0.1:`port`.
fn write_scenario(dir: &Path, port: u16, workers: u32, join: &str, during: &str) -> PathBuf {
    ScenarioFile::toy("remote")
        .set("load.connections", 8)
        .set("phases.during", during)
        .set("phases.drain", "1s")
        .table(
            "remote",
            &format!("listen = \"127.0.0.1:{port}\"\nworkers = {workers}\njoin = \"{join}\""),
        )
        .write(dir, "remote.toml")
}

/// `allocstorm run --quiet` of glibc into `DIR/out`, with the token in its environment.
fn start_run(scenario: &Path) -> Running {
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--quiet", "--variant", "glibc", "--scenario"])
        .arg(scenario)
        .arg("--out")
        .arg(scenario.parent().unwrap().join("out"))
        .env("ALLOCSTORM_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    Running::spawn(cmd)
}

/// `allocstorm load-worker --connect 127.0.0.1:PORT --name NAME --wait WAIT` with `token`.
fn start_worker(port: u16, name: &str, token: &str, wait: &str) -> Running {
    let mut cmd = Command::new(BIN);
    cmd.args(["load-worker", "--connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--name", name, "--wait", wait])
        .env("ALLOCSTORM_TOKEN", token)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    Running::spawn(cmd)
}

/// Each load of the record: its phase and summary.
fn loads(record: &Value) -> Vec<(String, Value)> {
    record["phase_loads"]
        .as_array()
        .expect("the record's phase_loads")
        .iter()
        .map(|l| {
            (
                l["phase"].as_str().unwrap().to_string(),
                l["summary"].clone(),
            )
        })
        .collect()
}

#[test]
fn remote_workers_with_the_token_load_the_server_and_their_figures_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_listen_port();
    let scenario = write_scenario(dir.path(), port, 2, "20s", "2s");
    // Joins first: the coordinator's proof does not check out with its token, so it leaves
    // without proving anything; it is not counted and does not stop the others joining. The
    // workers start once it has left: started together, the two could fill the
    // listener while the intruder sleeps between connection attempts, and it would then wait
    // out its 20 s for a listener that never opens again.
    let mut intruder = start_worker(port, "intruder", "not-the-token", "20s");
    let mut run = start_run(&scenario);
    let (status, intruder_err) = intruder.wait_within(Duration::from_secs(30));
    assert_eq!(status.code(), Some(2), "{intruder_err}");
    assert!(
        intruder_err.contains(&format!(
            "the coordinator at 127.0.0.1:{port} does not hold the run's token"
        )),
        "{intruder_err}"
    );
    let mut workers = [
        start_worker(port, "w0", TOKEN, "3s"),
        start_worker(port, "w1", TOKEN, "3s"),
    ];

    let (status, stderr) = run.wait_within(Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("load worker \"intruder\" from 127.0.0.1:")
            && stderr.contains("left after the challenge"),
        "{stderr}"
    );

    let record = read_json(&dir.path().join("out/runs/glibc-1.json"));
    assert_eq!(record["status"], "ok");
    let loads = loads(&record);
    let phases: Vec<&str> = loads.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(phases, ["warmup", "during"], "{phases:?}");
    for (phase, s) in &loads {
        let ws = s["workers"].as_array().unwrap();
        assert_eq!(ws.len(), 2, "{phase}: two workers");
        let mut hosts: Vec<&str> = ws.iter().map(|w| w["host"].as_str().unwrap()).collect();
        hosts.sort_unstable();
        assert_eq!(hosts, ["w0 (127.0.0.1)", "w1 (127.0.0.1)"], "{phase}");
        for key in ["requests", "ok", "errors", "bytes"] {
            let sum: u64 = ws.iter().map(|w| w[key].as_u64().unwrap()).sum();
            assert_eq!(
                s[key].as_u64().unwrap(),
                sum,
                "{phase}: {key} is the workers' sum"
            );
        }
        let per_second: u64 = s["per_second"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["ok"].as_u64().unwrap())
            .sum();
        assert_eq!(
            s["ok"].as_u64().unwrap(),
            per_second,
            "{phase}: ok by second"
        );
        assert!(
            s["ok"].as_u64().unwrap() > 0,
            "{phase}: the load was served"
        );
    }
    let during = &loads[1].1;
    assert_eq!(during["errors"], 0, "{during}");
    assert_eq!(during["processes"], 2);

    // Both served the warmup and the main load, then found no coordinator for --wait.
    for w in &mut workers {
        let (status, err) = w.wait_within(Duration::from_secs(10));
        assert_eq!(status.code(), Some(0), "{err}");
        assert!(err.contains("after 2 load(s); done"), "{err}");
    }
}

#[test]
fn a_worker_that_does_not_join_is_named_and_the_run_fails() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_listen_port();
    let scenario = write_scenario(dir.path(), port, 2, "1500ms", "2s");
    let mut run = start_run(&scenario);
    let _only = start_worker(port, "only-one", TOKEN, "3s");
    let (status, stderr) = run.wait_within(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "{stderr}");
    let record = read_json(&dir.path().join("out/runs/glibc-1.json"));
    assert_eq!(record["status"], "failed");
    let failure = record["failure"].as_str().unwrap();
    assert!(
        failure.contains("1 of 2 load workers joined 127.0.0.1:")
            && failure.contains("joined: 0 only-one (127.0.0.1)")
            && failure.contains("missing: 1"),
        "{failure}"
    );
}

#[test]
fn a_remote_worker_that_disappears_fails_the_run_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_listen_port();
    let scenario = write_scenario(dir.path(), port, 2, "20s", "4s");
    let mut run = start_run(&scenario);
    let mut victim = start_worker(port, "victim", TOKEN, "3s");
    let _other = start_worker(port, "other", TOKEN, "3s");

    // Until the main load streams its seconds.
    let jsonl = dir.path().join("out/runs/glibc-1.jsonl");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !events(&jsonl)
        .iter()
        .any(|e| e["kind"] == "load_second" && e["phase"] == "during")
    {
        assert!(run.is_running(), "the run ended before its load");
        assert!(Instant::now() < deadline, "the run never reached its load");
        std::thread::sleep(POLL);
    }
    let killed_at = Instant::now();
    victim.kill();
    // About 3 s of `during` and 1 s of drain were left.
    let (status, stderr) = run.wait_within(Duration::from_secs(10));
    let took = killed_at.elapsed();
    eprintln!("the run ended {took:?} after a remote worker was killed");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        took < Duration::from_secs(3),
        "the run ended {took:?} after"
    );
    let record = read_json(&dir.path().join("out/runs/glibc-1.json"));
    assert_eq!(record["status"], "failed");
    let failure = record["failure"].as_str().unwrap();
    assert!(
        failure.contains("during load: remote load worker")
            && failure.contains("victim (127.0.0.1:")
            && failure.contains("disconnected before finishing"),
        "{failure}"
    );
}
