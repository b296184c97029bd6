//! A variant whose preload library is missing on this machine: `compare` skips it with the
//! reason and the fix, measures every other variant, reports both, and exits 3 (incomplete);
//! the gate calls it inconclusive; `deps` names the package to install; `run` of that variant
//! alone refuses with one line.

mod common;

use std::path::Path;

use common::scenario::ScenarioFile;
use common::{allocstorm, Out};
use serde_json::Value;

const MISSING: &str = "/nonexistent/libtcmalloc_minimal.so.4";

/// `skip.toml`: the shared toy scenario, smaller (one load process, 4 connections, buffers
/// held 50 ms, phases of a second), with a tcmalloc variant whose library is `MISSING` and a
/// gate budget on it.
fn write_scenario(dir: &Path) {
    ScenarioFile::toy("skip")
        .unset("seed")
        .hot_file(0x42)
        .set("server.hold", "50ms")
        .set("load.processes", 1)
        .set("load.connections", 4)
        .set("phases.warmup", "200ms")
        .set("phases.during", "1s")
        .set("phases.drain", "1s")
        .set("gate.variants.tcmalloc.min_retention", 0.4)
        .variants(format!(
            r#"
[[variant]]
name = "glibc"
binary = "target-server-glibc"

[[variant]]
name = "tcmalloc"
binary = "target-server-glibc"
preload = "{MISSING}"
package = "libtcmalloc-minimal4"
"#
        ))
        .write(dir, "skip.toml");
}

#[test]
fn a_variant_whose_library_is_missing_is_skipped_and_the_others_are_measured() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_scenario(dir);

    let Out { code, stderr, .. } = allocstorm(
        dir,
        &[
            "compare",
            "--scenario",
            "skip.toml",
            "--runs",
            "1",
            "--out",
            "out",
        ],
    );
    assert_eq!(code, 3, "incomplete comparison exits 3: {stderr}");
    assert!(
        stderr.contains("skipped tcmalloc") && stderr.contains(MISSING),
        "the progress output names the skipped variant and its library: {stderr}"
    );
    assert!(
        stderr.contains("incomplete: tcmalloc skipped"),
        "the last line says the comparison is incomplete: {stderr}"
    );

    let summary: Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/summary.json")).unwrap()).unwrap();
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
    assert_eq!(glibc["status"], "ok");
    assert_eq!(glibc["runs"], 1);
    assert!(glibc["rss_after_drain_bytes"].as_u64().unwrap() > 0);
    let tc = variant("tcmalloc");
    assert_eq!(tc["status"], "skipped");
    assert_eq!(tc["runs"], 0, "nothing was run: {tc}");
    assert!(tc["rss_after_drain_bytes"].is_null());
    let why = tc["failure"].as_str().unwrap();
    assert!(
        why.contains(MISSING) && why.contains("apt-get install libtcmalloc-minimal4"),
        "the reason names the library and the fix: {why}"
    );

    let report = std::fs::read_to_string(dir.join("out/report.md")).unwrap();
    assert!(
        report.contains("incomplete comparison: `tcmalloc` was not measured (skipped)"),
        "report.md says what is missing at the top:\n{report}"
    );
    for plot in ["rss-timeline.png", "rss-summary.png"] {
        assert!(
            std::fs::metadata(dir.join("out").join(plot)).unwrap().len() > 0,
            "{plot} drawn with the measured variant"
        );
    }

    // The gate cannot judge a budget on a variant that did not run: inconclusive, not failed.
    let Out {
        code,
        stdout,
        stderr,
    } = allocstorm(dir, &["gate", "--run", "out"]);
    assert_eq!(code, 3, "gate on a skipped variant: {stdout}{stderr}");
    assert!(
        stdout.contains("tcmalloc: not measured, skipped"),
        "the verdict names why: {stdout}"
    );
    // A baseline needs every variant measured.
    let Out { code, stderr, .. } = allocstorm(
        dir,
        &["gate", "--run", "out", "--update-baseline", "base.json"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("tcmalloc"), "{stderr}");
}

#[test]
fn deps_names_what_to_install_and_run_refuses_the_variant_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_scenario(dir);

    let Out { code, stdout, .. } = allocstorm(dir, &["deps", "--scenario", "skip.toml"]);
    assert_eq!(code, 3, "{stdout}");
    assert!(
        stdout.contains("tcmalloc") && stdout.contains("MISSING"),
        "{stdout}"
    );
    let Out { code, stdout, .. } =
        allocstorm(dir, &["deps", "--scenario", "skip.toml", "--missing"]);
    assert_eq!((code, stdout.trim()), (3, "libtcmalloc-minimal4"));
    let Out { code, stdout, .. } = allocstorm(
        dir,
        &[
            "deps",
            "--scenario",
            "skip.toml",
            "--variants",
            "glibc",
            "--missing",
        ],
    );
    assert_eq!((code, stdout.trim()), (0, ""), "glibc needs nothing");

    let Out { code, stderr, .. } = allocstorm(
        dir,
        &[
            "run",
            "--scenario",
            "skip.toml",
            "--variant",
            "tcmalloc",
            "--out",
            "o",
        ],
    );
    assert_eq!(code, 2);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("--variant tcmalloc: cannot run here") && stderr.contains(MISSING),
        "{stderr}"
    );
    assert!(
        !dir.join("o/runs/tcmalloc-1.json").exists(),
        "nothing started"
    );
}
