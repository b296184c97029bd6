//! A soak, end to end, both ways: the server's `--leak` test mode at a known rate is caught
//! with the right slope (the rate the requests made is inside the slope's 95% interval) and
//! fails `max_growth_per_hour`; the same soak without the leak passes it. An interrupted soak
//! keeps its cycles, and `report` renders their slope.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::scenario::ScenarioFile;
use common::{allocstorm, events, read_json, Running, BIN};
use serde_json::Value;

const MIB: f64 = 1048576.0;
/// Bytes leaked per response: 256 KiB, a whole number of mimalloc's slices, so RssAnon grows
/// by the leak itself and no rounding.
const LEAK: &str = "256KiB";
const LEAK_BYTES: f64 = 262144.0;
/// The budget, between the two: the leak grows A by about 20 GiB/h (80 responses of 256 KiB
/// every ~3.6 s), the plateau's interval spans about ±1 GiB/h around 0 (A moves by a MiB or
/// so from cycle to cycle over a soak of 20 s). A real soak of hours gates on MiB per hour.
const BUDGET: &str = "4GiB";

/// The toy scenario on mimalloc (whose A is flat from cycle to cycle, cycles_e2e.rs), one
/// server worker, a paced load of 40 requests/s on 4 connections so every cycle answers the
/// same number of requests, and cycles of 2 s of load and 1.5 s of drain for `soak`.
fn soak(dir: &Path, soak: &str, leak: Option<&str>) {
    let mut s = ScenarioFile::toy("soak")
        .set("variants", vec!["mimalloc"])
        .set("server.workers", 1)
        .set("load.processes", 1)
        .set("load.connections", 4)
        .set("load.rate", "40/s")
        .set("phases.soak", soak)
        // Without the probe the harness reads `/stats` once after each drain (after A's
        // window): the server's own count of what it leaked, cycle by cycle.
        .set("sampling.probe", false)
        .set("gate.variants.mimalloc.max_growth_per_hour", BUDGET);
    if let Some(l) = leak {
        s = s.set("server.leak", l);
    }
    s.write(dir, "soak.toml");
}

/// `compare` of one run in `dir`: its record.
fn compare(dir: &Path) -> Value {
    let o = allocstorm(
        dir,
        &[
            "compare",
            "--scenario",
            "soak.toml",
            "--runs",
            "1",
            "--quiet",
            "--out",
            "out",
        ],
    );
    assert_eq!(o.code, 0, "compare: {}", o.text());
    read_json(&dir.join("out/runs/mimalloc-1.json"))
}

fn gate(dir: &Path) -> common::Out {
    allocstorm(dir, &["gate", "--run", "out", "--scenario", "soak.toml"])
}

/// The slope and its interval, MiB per hour.
fn slope(figures: &Value) -> (f64, f64, f64, u64) {
    let s = &figures["soak"];
    let f = |k: &str| s[k].as_f64().unwrap_or_else(|| panic!("{k}: {figures}")) / MIB;
    (
        f("bytes_per_hour"),
        f("low_bytes_per_hour"),
        f("high_bytes_per_hour"),
        s["cycles"].as_u64().unwrap(),
    )
}

/// What the leak alone makes, MiB per hour: the server's own count of what it leaked
/// (`app.leaked_bytes`, the responses it answered × the leak), read right after each drain,
/// from the first cycle's end to the last's, over the time between.
fn expected(rec: &Value) -> f64 {
    let ends: Vec<f64> = rec["figures"]["cycles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["end_s"].as_f64().unwrap())
        .collect();
    let leaked_at = |t: f64| {
        let after =
            rec["stats"].as_array().unwrap().iter().find(|s| {
                s["t"].as_f64().unwrap() >= t && s["stats"]["app"]["leaked_bytes"].is_u64()
            });
        after.expect("a /stats reading after the drain")["stats"]["app"]["leaked_bytes"]
            .as_f64()
            .unwrap()
    };
    let (first, last) = (ends[0], ends[ends.len() - 1]);
    let leaked = leaked_at(last) - leaked_at(first);
    let per_response = leaked / LEAK_BYTES;
    eprintln!("leaked over cycles 2..n: {per_response} responses of {LEAK}");
    leaked / (last - first) * 3600.0 / MIB
}

#[test]
fn a_leak_at_a_known_rate_is_caught_with_its_slope_and_a_plateau_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let (leaky, flat) = (tmp.path().join("leak"), tmp.path().join("plateau"));
    for d in [&leaky, &flat] {
        std::fs::create_dir(d).unwrap();
    }
    soak(&leaky, "20s", Some(LEAK));
    soak(&flat, "20s", None);

    let rec = compare(&leaky);
    let (b, lo, hi, n) = slope(&rec["figures"]);
    let want = expected(&rec);
    eprintln!("leak: {n} cycles, slope {b:.0} MiB/h (95%: {lo:.0} to {hi:.0}), the requests made {want:.0}");
    assert!(n >= 5, "{n} cycles in 20 s of 3.5 s cycles");
    assert!(
        lo <= want && want <= hi,
        "{want:.0} outside {lo:.0}..{hi:.0}"
    );
    let o = gate(&leaky);
    eprintln!("{}", o.stdout);
    assert_eq!(o.code, 1, "the leak is beyond the budget: {}", o.text());
    assert!(
        o.stdout
            .contains("is above max_growth_per_hour 4096.0 MiB/h: its whole 95% interval is"),
        "{}",
        o.text()
    );
    let report = std::fs::read_to_string(leaky.join("out/report.md")).unwrap();
    assert!(report.contains("### Soak"), "{report}");

    let rec = compare(&flat);
    let (b, lo, hi, n) = slope(&rec["figures"]);
    eprintln!("plateau: {n} cycles, slope {b:.0} MiB/h (95%: {lo:.0} to {hi:.0})");
    let o = gate(&flat);
    eprintln!("{}", o.stdout);
    assert_eq!(o.code, 0, "a plateau is within the budget: {}", o.text());
}

#[test]
fn an_interrupted_soak_keeps_its_cycles_and_report_renders_their_slope() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    soak(dir, "120s", Some(LEAK));
    let out = dir.join("out");
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--quiet", "--scenario", "soak.toml", "--variant"])
        .args(["mimalloc", "--out"])
        .arg(&out)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = Running::spawn(cmd);
    // Five drains ended: four cycles and more for a slope, then the interrupt mid-cycle.
    let jsonl = out.join("runs/mimalloc-1.jsonl");
    let deadline = Instant::now() + Duration::from_secs(60);
    while ended_drains(&jsonl) < 5 {
        assert!(Instant::now() < deadline, "no fifth drain within 60 s");
        assert!(child.is_running(), "the soak ended before its fifth drain");
        std::thread::sleep(common::POLL);
    }
    child.signal(libc::SIGINT);
    assert_eq!(child.wait().code(), Some(130));

    // The record keeps every cycle measured; the one cut short has no end and no part in the
    // slope.
    let rec = read_json(&out.join("runs/mimalloc-1.json"));
    assert_eq!(rec["status"], "interrupted");
    let (_, lo, hi, n) = slope(&rec["figures"]);
    assert!(n >= 5, "the cycles measured before the interrupt: {n}");
    assert!(lo > 0.0 && hi > lo, "a leak: {lo}..{hi}");
    let o = allocstorm(dir, &["report", "out"]);
    assert_eq!(o.code, 0, "report: {}", o.text());
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let row = format!("| mimalloc (interrupted, as far as it went) | {n} | **");
    assert!(
        report.contains("### Soak") && report.contains(&row),
        "{report}"
    );
}

/// Drains that have ended in the run's stream so far.
fn ended_drains(jsonl: &Path) -> usize {
    events(jsonl)
        .iter()
        .filter(|e| e["kind"] == "phase" && e["name"] == "drain")
        .filter(|e| e["end"].as_f64() > e["start"].as_f64())
        .count()
}
