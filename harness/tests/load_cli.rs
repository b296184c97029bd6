//! `allocstorm load` as a person runs it: what it refuses (a remote target, bad input) in one
//! line, and its two outputs, the JSON summary and the human table.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use allocstorm::load::LoadSummary;
use common::load_server::{Behaviour, TestServer};
use common::BIN;

#[test]
fn remote_targets_are_refused_without_allow_remote() {
    let started = Instant::now();
    // 192.0.2.0/24 is TEST-NET-1: nothing answers there, and nothing must be sent.
    let out = Command::new(BIN)
        .args([
            "load",
            "--target",
            "http://192.0.2.1:9/file/hot",
            "--duration",
            "5s",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("192.0.2.1") && stderr.contains("--allow-remote"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    // Refused while planning, before any worker or connection.
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn bad_input_is_one_line_naming_flag_value_and_expectation() {
    let open = ["--rate", "50/s", "--duration", "3s"];
    for (before, flag, value) in [
        (&[][..], "--rate", "fast"),
        (&[], "--range", "10-2"),
        (&[], "--duration", "0s"),
        (&[], "--timeout", "soon"),
        // Steps: AT=RATE, AT after the previous step and before the end, RATE above zero.
        (&open, "--step", "4s"),
        (&open, "--step", "1s=0/s"),
        (&open, "--step", "1s=fast"),
        (&open, "--step", "later=5/s"),
        (&open, "--step", "0s=5/s"),
        (&open, "--step", "3s=5/s"),
        (&open, "--step", "5s=5/s"),
        (&["--rate", "50/s", "--step", "2s=9/s"], "--step", "1s=9/s"),
        (&["--rate", "50/s", "--step", "2s=9/s"], "--step", "2s=9/s"),
        // Closed loop has no rate to step.
        (&["--step", "1s=9/s"], "--rate", "max"),
    ] {
        let mut args = vec!["load", "--target", "http://127.0.0.1:9/"];
        args.extend_from_slice(before);
        args.extend([flag, value]);
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&format!("{flag} \"{value}\": expected")),
            "{stderr}"
        );
    }
}

#[test]
fn json_output_is_one_summary_with_the_documented_keys() {
    let server = TestServer::start(Behaviour::Good);
    let out = Command::new(BIN)
        .args([
            "load",
            "--target",
            &server.url(),
            "--range",
            "0-1023",
            // One connection per request due: none is ever skipped for want of a free
            // connection, however slowly a busy machine answers, so all 50 are ok.
            "--connections",
            "50",
            "--rate",
            "100/s",
            "--duration",
            "500ms",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for key in allocstorm::load::SUMMARY_KEYS {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    for key in ["p50", "p90", "p99", "p999", "max"] {
        assert!(v["latency_ms"][key].is_number(), "latency_ms.{key}");
        assert!(v["latency_uncorrected_ms"][key].is_number());
    }
    assert_eq!(v["ok"], 50);
    assert_eq!(v["bytes"], 50 * 1024);
    assert_eq!(v["offered_rate"], 100.0);
    // The offered rate of each second: 50 due in the half second of load, none in the drain.
    assert_eq!(v["per_second"][0]["offered"], 50);
    let s: LoadSummary = serde_json::from_value(v).unwrap();
    assert_eq!(s.per_second.iter().map(|r| r.ok).sum::<u64>(), 50);
    assert!(s.per_second[1..].iter().all(|r| r.offered == Some(0)));
}

#[test]
fn human_output_is_a_short_table() {
    let server = TestServer::start(Behaviour::Good);
    let out = Command::new(BIN)
        .args([
            "load",
            "--target",
            &server.url(),
            "--range",
            "0-1023",
            "--connections",
            "1",
            "--duration",
            "300ms",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.lines().count() <= 15, "{stdout}");
    for word in ["throughput", "latency ms", "p99", "closed loop"] {
        assert!(stdout.contains(word), "{word} missing:\n{stdout}");
    }
}

#[test]
fn human_output_shows_the_rate_steps() {
    let server = TestServer::start(Behaviour::Good);
    let out = Command::new(BIN)
        .args([
            "load",
            "--target",
            &server.url(),
            "--range",
            "0-1023",
            "--connections",
            "2",
            "--rate",
            "20/s",
            "--step",
            "1s=60/s",
            "--duration",
            "2s",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.lines().count() <= 15, "{stdout}");
    assert!(stdout.contains("open loop at 20/s"), "{stdout}");
    assert!(stdout.contains("offered      0s 20, 1s 60"), "{stdout}");
}

/// `allocstorm load --json | head -c 10`: the reader is gone before the summary is written.
/// The pipe's read end is closed before the child starts, so its write fails with EPIPE every
/// time: it exits 0, quietly, where `println!` panicked.
#[test]
fn a_closed_pipe_on_stdout_ends_the_output_quietly() {
    let server = TestServer::start(Behaviour::Good);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(BIN)
        .args(["load", "--target", &server.url(), "--range", "0-1023"])
        .args(["--connections", "1", "--duration", "200ms", "--json"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "", "no panic, no message");
}
