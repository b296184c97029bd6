//! The gate on real runs: a quick comparison gated against a baseline made from another real
//! comparison of the same tree passes; the same runs with one variant's after-drain figures
//! doubled fail with exit 1.

mod common;

use std::path::Path;

use common::allocstorm;
use common::scenario::ScenarioFile;
use serde_json::Value;

/// The shared toy scenario on jemalloc alone: 16 connections each holding a 1 MiB buffer for
/// 100 ms, so after-drain RSS is tens of MiB — far above the gate's 8 MiB floor, so doubling
/// it is a real change.
fn write_scenario(dir: &Path) {
    ScenarioFile::toy("gate-e2e")
        .unset("seed")
        .hot_file(0x42)
        .set("variants", vec!["jemalloc"])
        // Run-to-run scatter of a small scenario on a shared 2-core machine: compare loosely,
        // as the hot-range scenario does for its noisy variants. A doubling is still far
        // outside.
        .set("gate.variants.jemalloc.rel_tolerance", 0.5)
        .write(dir, "gate-e2e.toml");
}

#[test]
fn real_runs_pass_against_a_real_baseline_and_doubled_figures_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_scenario(dir);
    let compare = |out: &str| {
        let o = allocstorm(
            dir,
            &[
                "compare",
                "--scenario",
                "gate-e2e.toml",
                "--runs",
                "3",
                "--quiet",
                "--out",
                out,
            ],
        );
        assert_eq!(o.code, 0, "compare {out}: {}", o.text());
    };
    compare("base");
    let o = allocstorm(
        dir,
        &[
            "gate",
            "--run",
            "base",
            "--update-baseline",
            "baseline.json",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.text());

    compare("cand");
    let o = allocstorm(
        dir,
        &["gate", "--run", "cand", "--baseline", "baseline.json"],
    );
    assert_eq!(
        o.code,
        0,
        "an unchanged tree passes against its own baseline: {}",
        o.text()
    );

    // Double the candidate's after-drain figures, as a change that makes memory stick would.
    for entry in std::fs::read_dir(dir.join("cand/runs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let mut rec: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let a = rec["figures"]["rss_after_drain_bytes"].as_u64().unwrap();
        assert!(
            a > 16 << 20,
            "after-drain RSS {a} is too small for this test to mean much"
        );
        rec["figures"]["rss_after_drain_bytes"] = (2 * a).into();
        std::fs::write(&path, serde_json::to_vec(&rec).unwrap()).unwrap();
    }
    let o = allocstorm(
        dir,
        &[
            "gate",
            "--run",
            "cand",
            "--baseline",
            "baseline.json",
            "--markdown",
            "gate.md",
        ],
    );
    let text = o.text();
    assert_eq!(o.code, 1, "doubled after-drain RSS is a regression: {text}");
    assert!(text.contains("jemalloc"), "{text}");
    let md = std::fs::read_to_string(dir.join("gate.md")).unwrap();
    assert!(
        md.contains("jemalloc") && md.to_lowercase().contains("regression"),
        "{md}"
    );
}
