//! End to end: a variant's `preload` loads another allocator into target-server-glibc with
//! `LD_PRELOAD`, and the harness checks in the server's maps that it took.
//!
//! Needs Debian's libjemalloc2 (`make deps`, which `make test` runs first).

mod common;

use std::path::{Path, PathBuf};

use common::scenario::ScenarioFile;
use common::{allocstorm, run};
use serde_json::Value;

const JEMALLOC: &str = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
const MIB: f64 = (1 << 20) as f64;

/// The shared toy scenario with 32 connections, so that the load grows the server's memory by
/// tens of MiB, `/stats` every 250 ms; and its own variants file, with `variants` written in.
fn write_scenario(dir: &Path, variants: &str) -> PathBuf {
    ScenarioFile::toy("preload-e2e")
        .set("load.connections", 32)
        .set("sampling.stats_interval", "250ms")
        .variants(variants)
        .write(dir, "preload.toml")
}

/// glibc's own figures (mallinfo2, from `/stats`) over the run: min and max of `key`.
fn glibc_figure_range(rec: &Value, key: &str) -> (u64, u64) {
    let values: Vec<u64> = rec["stats"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["stats"]["allocator_figures"][key].as_u64())
        .collect();
    assert!(
        values.len() >= 8,
        "{} /stats readings of {key}",
        values.len()
    );
    (*values.iter().min().unwrap(), *values.iter().max().unwrap())
}

fn mib(b: u64) -> f64 {
    b as f64 / MIB
}

#[test]
fn a_preloaded_jemalloc_serves_the_glibc_build() {
    assert!(
        Path::new(JEMALLOC).is_file(),
        "{JEMALLOC} missing: install it with `make deps` (scripts/deps.sh)"
    );
    let dir = tempfile::tempdir().unwrap();
    let variants = format!(
        r#"
[[variant]]
name = "glibc"
binary = "target-server-glibc"

[[variant]]
name = "glibc-jemalloc-preload"
binary = "target-server-glibc"
description = "Debian's jemalloc 5.3 preloaded into the glibc build"
preload = "{JEMALLOC}"
"#
    );
    let scenario = write_scenario(dir.path(), &variants);

    // The control: the same load on glibc itself moves mallinfo2's figures by tens of MiB.
    let (code, plain) = run(&scenario, "glibc");
    assert_eq!(code, Some(0), "{}", plain["failure"]);
    assert_eq!(plain["preload_mapped"], Value::Null);
    let (lo, hi) = glibc_figure_range(&plain, "in_use_bytes");
    let (held_lo, held_hi) = glibc_figure_range(&plain, "held_bytes");
    eprintln!(
        "glibc: in_use_bytes {:.1} .. {:.1} MiB, held_bytes {:.1} .. {:.1} MiB",
        mib(lo),
        mib(hi),
        mib(held_lo),
        mib(held_hi)
    );
    assert!(
        hi - lo >= 16 << 20,
        "glibc's in-use bytes moved {:.1} MiB",
        mib(hi - lo)
    );

    let (code, rec) = run(&scenario, "glibc-jemalloc-preload");
    assert_eq!(code, Some(0), "{}", rec["failure"]);
    assert_eq!(rec["status"], "ok");
    // Recorded: the variant with its preload, and where the server had it mapped.
    assert_eq!(rec["variant"]["preload"], JEMALLOC);
    let mapped = rec["preload_mapped"].as_str().expect("preload_mapped");
    assert!(mapped.contains("libjemalloc"), "{mapped}");
    assert!(
        rec["server_command"][0]
            .as_str()
            .unwrap()
            .ends_with("target-server-glibc"),
        "{}",
        rec["server_command"]
    );

    // jemalloc served the load: the server's RssAnon grew by tens of MiB, while glibc's own
    // figures (in use and held, mallinfo2) stayed where they were.
    let f = &rec["figures"];
    let (b, p) = (
        f["rss_before_bytes"].as_u64().unwrap(),
        f["rss_peak_bytes"].as_u64().unwrap(),
    );
    eprintln!(
        "preload: RssAnon B {:.1} MiB, P {:.1} MiB, A {:.1} MiB",
        mib(b),
        mib(p),
        mib(f["rss_after_drain_bytes"].as_u64().unwrap())
    );
    assert!(p - b >= 20 << 20, "RssAnon grew {:.1} MiB", mib(p - b));
    for key in ["in_use_bytes", "held_bytes"] {
        let (lo, hi) = glibc_figure_range(&rec, key);
        eprintln!("preload: glibc {key} {lo} .. {hi} bytes");
        assert!(
            hi - lo <= 4 << 20,
            "glibc's {key} moved {:.1} MiB under a preloaded jemalloc",
            mib(hi - lo)
        );
    }
    // The stream carries it too, so a record rebuilt from it keeps it.
    let jsonl = std::fs::read_to_string(dir.path().join("out/runs/glibc-jemalloc-preload-1.jsonl"))
        .unwrap();
    assert!(jsonl.contains(r#""kind":"preload""#));

    // The report names the preload beside the build's own allocator.
    let out = dir.path().join("out");
    let status = allocstorm(dir.path(), &["report".as_ref(), out.as_os_str()]);
    assert_eq!(status.code, 0, "{status:?}");
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let preload = summary["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "glibc-jemalloc-preload")
        .unwrap();
    assert_eq!(preload["preload"], JEMALLOC);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains(&format!("preloaded `{JEMALLOC}`")), "{md}");
}

#[test]
fn a_preload_the_loader_ignores_fails_the_run() {
    // An existing file that is not a shared library: ld.so says so on stderr and runs the
    // server without it, on glibc's malloc.
    let dir = tempfile::tempdir().unwrap();
    let hot = dir.path().join("hot.bin");
    let variants = format!(
        "[[variant]]\nname = \"glibc-bad-preload\"\nbinary = \"target-server-glibc\"\npreload = \"{}\"\n",
        hot.display()
    );
    let scenario = write_scenario(dir.path(), &variants);
    let (code, rec) = run(&scenario, "glibc-bad-preload");
    assert_eq!(code, Some(1), "a failed run exits 1");
    assert_eq!(rec["status"], "failed");
    let failure = rec["failure"].as_str().unwrap();
    let expected = format!(
        "preload {}: not mapped in the server (pid {}): LD_PRELOAD was ignored",
        hot.display(),
        rec["server_pid"]
    );
    assert!(failure.starts_with(&expected), "{failure}");
    assert_eq!(rec["preload_mapped"], Value::Null);
    // Nothing was measured under load: the run stopped when the server came up.
    assert!(rec["load"].is_null());
    assert!(
        rec["server_exit"].as_str().unwrap().contains("code 0"),
        "{}",
        rec["server_exit"]
    );
}
