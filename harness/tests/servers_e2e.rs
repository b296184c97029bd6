//! End to end: servers nobody here wrote, as their shipped scenarios run them (issue 26).
//!
//! - Debian's caddy (Go) under `scenarios/caddy-control.toml`, shortened, under glibc and the
//!   tcmalloc preload: both preloads go in and the probe publishes, yet `malloc` holds almost
//!   nothing of caddy's memory (Go's heap is mapped by the Go runtime): the control;
//! - `[target] stats_command`: run once after the last phase, its numeric `key:value` lines
//!   in the record; a failing one says why and does not fail the run.
//!
//! Needs Debian's caddy and libtcmalloc-minimal4 (`make servers`, `make deps`: `make test`
//! runs both first).

mod common;

use std::path::Path;

use common::scenario::{table_at, ScenarioFile};
use common::{root, run};
use serde_json::Value;

const CADDY: &str = "/usr/bin/caddy";
const TCMALLOC: &str = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4";
const MIB: f64 = (1 << 20) as f64;

/// The shipped caddy control, its template by absolute path, short phases and a light load.
fn caddy_control(dir: &Path) -> std::path::PathBuf {
    for p in [CADDY, TCMALLOC] {
        assert!(
            Path::new(p).exists(),
            "{p} missing: run `make servers` and `make deps` (make test does)"
        );
    }
    let template = root().join("scenarios/targets/Caddyfile");
    ScenarioFile::shipped("caddy-control.toml")
        .edit(|t| {
            let files = vec![toml::Value::from(template.display().to_string())];
            table_at(t, "target").insert("files".into(), files.into());
            let load = table_at(t, "load");
            load.insert("processes".into(), 1.into());
            load.insert("connections".into(), 8.into());
            let phases = table_at(t, "phases");
            for (k, v) in [("warmup", "0s"), ("before", "1s"), ("during", "2s")] {
                phases.insert(k.into(), v.into());
            }
            phases.insert("drain".into(), "1s".into());
        })
        .write(dir, "caddy.toml")
}

/// The largest in-use figure `malloc`'s allocator gave in any probe reading of the run.
fn max_malloc_in_use(rec: &Value, figure: &str) -> u64 {
    let readings = rec["probe_readings"].as_array().unwrap();
    assert!(readings.len() >= 20, "{} probe readings", readings.len());
    readings
        .iter()
        .flat_map(|r| r["pages"].as_array().unwrap())
        .map(|p| {
            p["figures"][figure]
                .as_u64()
                .unwrap_or_else(|| panic!("no {figure} in {p}"))
        })
        .max()
        .unwrap()
}

#[test]
fn caddy_runs_under_two_allocators_and_neither_holds_its_memory() {
    for (variant, allocator, in_use) in [
        ("glibc", "glibc", "glibc.uordblks"),
        ("tcmalloc", "tcmalloc", "tcmalloc.allocated"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let sc = caddy_control(dir.path());
        let (code, rec) = run(&sc, variant);
        assert_eq!(code, Some(0), "{variant}: {}", rec["failure"]);
        assert_eq!(rec["status"], "ok");
        assert!(
            rec["load"]["ok"].as_u64().unwrap_or(0) > 50,
            "{variant}: caddy served {} ranges",
            rec["load"]["ok"]
        );
        let page = &rec["probe_pages"][0];
        assert_eq!(page["allocator"], allocator, "{variant}: {page}");
        // caddy's heap is Go's: at least the Go runtime's few MiB resident all along, of
        // which malloc's allocator hands out well under one.
        let rss_before = rec["figures"]["rss_before_bytes"].as_u64().unwrap();
        let in_use = max_malloc_in_use(&rec, in_use);
        assert!(
            rss_before as f64 > 4.0 * MIB && (in_use as f64) < 1.0 * MIB,
            "{variant}: RssAnon before {:.1} MiB, malloc in use up to {:.2} MiB",
            rss_before as f64 / MIB,
            in_use as f64 / MIB
        );
        // caddy wrote its autosaved config under the run's directory, not into $HOME.
        let tdir = dir.path().join(format!("out/runs/{variant}-1.target"));
        assert!(
            tdir.join("config/caddy/autosave.json").is_file(),
            "{variant}: no autosave in {}",
            tdir.display()
        );
    }
}

/// A toy-server target (quick to start) with `stats_command` set to `command`.
fn toy_target_with_stats_command(dir: &Path, command: &str) -> std::path::PathBuf {
    let server = Path::new(common::BIN).with_file_name("target-server-glibc");
    ScenarioFile::named("stats-command-e2e")
        .set("seed", 7)
        .set("variants", vec!["glibc"])
        .table(
            "target",
            &format!(
                r#"command = ["{}", "--listen", "127.0.0.1:{{port}}", "--file", "{{file}}"]
create_file = "1MiB"
ready = "stdout:listening on"
stats_command = {command}"#,
                server.display()
            ),
        )
        .table(
            "load",
            "path = \"/file/hot\"\nrange = \"0-65535\"\nprocesses = 1\nconnections = 2\nrate = \"50/s\"",
        )
        .table(
            "phases",
            "warmup = \"0s\"\nbefore = \"1s\"\nduring = \"1s\"\ndrain = \"1s\"",
        )
        .write(dir, "s.toml")
}

/// The record's `stats` entries that a stats command made.
fn command_readings(rec: &Value) -> Vec<&Value> {
    rec["stats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["stats"].get("stats_command").is_some()
                || s["stats"].get("stats_command_failed").is_some()
        })
        .collect()
}

#[test]
fn the_stats_command_runs_once_after_the_last_phase_and_keeps_its_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let command = r#"["/bin/sh", "-c", "echo '# Memory'; echo port:{port}; echo ratio:1.25; echo name:redis"]"#;
    let (code, rec) = run(&toy_target_with_stats_command(dir.path(), command), "glibc");
    assert_eq!(code, Some(0), "{}", rec["failure"]);
    let readings = command_readings(&rec);
    assert_eq!(readings.len(), 1, "{readings:?}");
    let drain_end = rec["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "drain")
        .and_then(|p| p["end"].as_f64())
        .unwrap();
    assert!(readings[0]["t"].as_f64().unwrap() >= drain_end);
    let figures = &readings[0]["stats"]["stats_command"];
    // `{port}` became the target's port: unreplaced, the line would not be a number.
    let port = figures["port"].as_u64().unwrap_or(0);
    assert!((1024..=65535).contains(&port), "{figures}");
    assert_eq!(figures["ratio"].as_f64(), Some(1.25));
    assert_eq!(figures.as_object().unwrap().len(), 2, "{figures}");

    let dir = tempfile::tempdir().unwrap();
    let failing = r#"["/bin/sh", "-c", "echo refused >&2; exit 3"]"#;
    let (code, rec) = run(&toy_target_with_stats_command(dir.path(), failing), "glibc");
    assert_eq!(
        code,
        Some(0),
        "a failing stats command failed the run: {}",
        rec["failure"]
    );
    let why = command_readings(&rec)[0]["stats"]["stats_command_failed"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        why.contains("/bin/sh") && why.contains('3') && why.contains("refused"),
        "{why}"
    );
}
