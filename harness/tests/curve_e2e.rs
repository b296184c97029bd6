//! The curve after the load on real runs, and the gate on a point of it: jemalloc with its
//! background thread gives memory back over its 10 s decay, so it holds nearly all of its
//! growth 1 s after the load and none at the end of a 14 s drain; one budget fails on
//! `[gate] after = "1s"` and passes on the drain, and a baseline made on the drain is refused
//! for a 1 s gate, naming both.

mod common;

use std::path::Path;

use common::allocstorm;
use common::scenario::ScenarioFile;
use serde_json::Value;

/// The share of the growth the budget allows. jemalloc's decay is a smoothstep over
/// `dirty_decay_ms` (10 s by default): 1 s in, it may purge about 3% of the pages freed at the
/// load's end, so the share at 1 s stays near 1 (0.99 to 1.00 in 5 passes of this test in a
/// row, debug build, 2026-12-07; in a run by hand the first purge came 2.6 s after the load);
/// 13 s in, the decay is over (-0.09 to 0.12 in those passes, 0.01 in reports/example). 0.5 is
/// far from both.
const MAX_RETENTION: f64 = 0.5;

/// The toy scenario on the shipped jemalloc-bg, its drain 14 s: the decay and A's second.
fn scenario(dir: &Path, file: &str, after: Option<&str>) {
    let mut s = ScenarioFile::toy("curve-e2e")
        .set("variants", vec!["jemalloc-bg"])
        .set("phases.drain", "14s")
        .set("gate.variants.jemalloc-bg.max_retention", MAX_RETENTION);
    if let Some(a) = after {
        s = s.set("gate.after", a);
    }
    s.write(dir, file);
}

fn summary_variant(dir: &Path) -> Value {
    let s = common::read_json(&dir.join("out/summary.json"));
    s["variants"][0].clone()
}

#[test]
fn a_budget_fails_one_second_after_the_load_and_passes_at_the_end_of_the_drain() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    scenario(dir, "drain.toml", None);
    scenario(dir, "one-second.toml", Some("1s"));
    let o = allocstorm(
        dir,
        &[
            "compare",
            "--scenario",
            "drain.toml",
            "--runs",
            "1",
            "--quiet",
            "--out",
            "out",
        ],
    );
    assert_eq!(o.code, 0, "compare: {}", o.text());

    // The curve, in summary.json and report.md: most of the growth held at 1 s, little at A.
    let v = summary_variant(dir);
    let share = |key: &str| v[key].as_f64().unwrap_or_else(|| panic!("{key}: {v}"));
    let (at_1s, at_drain) = (share("retention_after_load_1s"), share("retention"));
    eprintln!("share of the growth held 1 s after the load {at_1s:.2}, at the end of the drain {at_drain:.2}");
    assert!(
        at_1s > MAX_RETENTION && at_drain < MAX_RETENTION,
        "share at 1 s {at_1s}, at the end of the drain {at_drain}"
    );
    assert!(v["rss_after_load_5s_bytes"].is_u64(), "{v}");
    assert!(
        v["rss_after_load_60s_bytes"].is_null(),
        "a 6 s drain has no 60 s point: {v}"
    );
    let report = std::fs::read_to_string(dir.join("out/report.md")).unwrap();
    assert!(report.contains("## The curve after the load"), "{report}");
    // And on the terminal, under the figures: the points the run has, no 60 s column.
    let curve = o.stdout.lines().find(|l| l.starts_with("after the load"));
    let columns = curve.map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "));
    assert_eq!(
        columns.as_deref(),
        Some("after the load 1 s MiB 5 s MiB A MiB"),
        "{}",
        o.stdout
    );

    let gate = |args: &[&str]| {
        let mut all = vec!["gate", "--run", "out"];
        all.extend(args);
        allocstorm(dir, &all)
    };
    let o = gate(&["--scenario", "drain.toml"]);
    assert_eq!(
        o.code,
        0,
        "within budget at the end of the drain: {}",
        o.text()
    );
    let o = gate(&["--scenario", "one-second.toml"]);
    assert_eq!(o.code, 1, "over budget 1 s after the load: {}", o.text());
    assert!(
        o.stdout
            .contains("median share of the growth held 1 s after the load"),
        "{}",
        o.text()
    );

    // A baseline of A is not compared with a 1 s figure.
    let o = gate(&["--scenario", "drain.toml", "--update-baseline", "base.json"]);
    assert_eq!(o.code, 0, "{}", o.text());
    let base = common::read_json(&dir.join("base.json"));
    assert_eq!(base["after"], "drain");
    let o = gate(&["--scenario", "one-second.toml", "--baseline", "base.json"]);
    assert_eq!(o.code, 2, "{}", o.text());
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.text());
    assert!(
        o.stderr.contains("after = \"drain\"") && o.stderr.contains("after = \"1s\""),
        "{}",
        o.text()
    );
}
