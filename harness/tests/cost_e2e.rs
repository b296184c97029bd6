//! The price of each fix, end to end: a comparison with `[cost]` against the real server, in
//! which one of two otherwise identical variants is made slow by a known amount (the toy
//! server's `--burn`, CPU spent per response). Its capacity ratio must fall, and the
//! recommendation must put it last; made slow the other way round, the order must turn.

mod common;

use common::scenario::ScenarioFile;
use common::{allocstorm, read_json};
use serde_json::Value;

/// CPU per response of the slow variant. The debug server spends about 1.5 ms of CPU on a
/// 1 MiB response here, so 10 ms cuts its capacity several times over on any machine; the
/// assertions below ask for much less than that.
const BURN: &str = "10ms";

/// Two glibc variants, `x` and `y`; `slow` gets `--burn`.
fn variants(slow: &str) -> String {
    let mut text = String::new();
    for name in ["x", "y"] {
        text.push_str(&format!(
            "[[variant]]\nname = \"{name}\"\nbinary = \"target-server-glibc\"\n"
        ));
        if name == slow {
            text.push_str(&format!("args = [\"--burn\", \"{BURN}\"]\n"));
        }
        text.push('\n');
    }
    text
}

/// The shared toy scenario without its `hold` (the capacity run lifts it anyway), the
/// shortest memory phases, and `[cost]` with `x` as the reference and no memory budget.
fn compare(slow: &str) -> (tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    let scenario = ScenarioFile::toy("cost")
        .unset("server.hold")
        .set("phases.during", "1s")
        .set("phases.drain", "1s")
        .table(
            "cost",
            r#"reference = "x"
processes = 2
connections = 8
warmup = "200ms"
capacity = "2s"
latency = "1s""#,
        )
        .variants(variants(slow))
        .write(dir.path(), "cost.toml");
    let out = dir.path().join("out");
    let o = allocstorm(
        dir.path(),
        &[
            "compare",
            "--scenario",
            scenario.to_str().unwrap(),
            "--variants",
            "all",
            "--runs",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.code, 0, "{o:?}");
    check_timings(&read_json(&out.join("timings.json")));
    let summary = read_json(&out.join("summary.json"));
    (dir, summary)
}

/// The comparison's `timings.json`: the cost measurement's steps, the comparison's own, and
/// parts that add up to no more than the total.
fn check_timings(t: &Value) {
    let steps = t["steps"].as_array().expect("timings.steps");
    let secs = |name: &str| {
        steps
            .iter()
            .find(|s| s["step"] == name)
            .and_then(|s| s["seconds"].as_f64())
            .unwrap_or_else(|| panic!("no step {name:?} in {t}"))
    };
    for name in [
        "cost capacity",
        "cost latency",
        "cost warmup",
        "during",
        "drain",
    ] {
        assert!(secs(name) > 0.0, "{name} took no time: {t}");
    }
    for name in [
        "comparison setup",
        "cost server start",
        "cost startup",
        "cost server stop",
        "between runs",
        "report",
    ] {
        secs(name);
    }
    let parts: f64 = steps.iter().map(|s| s["seconds"].as_f64().unwrap()).sum();
    let total = t["total_s"].as_f64().unwrap();
    assert!(
        parts <= total + 1e-9,
        "steps {parts} s over the total {total} s"
    );
    assert_eq!(
        steps.iter().find(|s| s["step"] == "cost capacity").unwrap()["kind"],
        "measured"
    );
}

/// The run record of `variant`'s first run.
fn record(dir: &tempfile::TempDir, variant: &str) -> Value {
    read_json(&dir.path().join(format!("out/runs/{variant}-1.json")))
}

fn capacity(rec: &Value) -> f64 {
    rec["cost"]["figures"]["capacity_rps"]
        .as_f64()
        .unwrap_or_else(|| panic!("no capacity: {}", rec["cost"]))
}

#[test]
fn a_variant_made_slow_costs_capacity_and_moves_down_the_recommendation() {
    // y slow: its capacity is a fraction of x's.
    let (dir, _) = compare("y");
    let (x, y) = (record(&dir, "x"), record(&dir, "y"));
    let ratio = capacity(&y) / capacity(&x);
    assert!(
        ratio < 0.6,
        "y burns {BURN} per response, capacity ratio {ratio:.2}"
    );
    // The latency phase of both ran at the rate set by the reference's capacity.
    let rate = |r: &Value| r["cost"]["latency_rate"].as_f64().unwrap();
    assert_eq!(rate(&x), rate(&y));
    assert!(
        (rate(&x) - 0.5 * capacity(&x)).abs() <= 1.0,
        "{}",
        x["cost"]
    );
    // The capacity server ran without the scenario's congestion model and with the burn.
    let cmd = |r: &Value| -> Vec<String> {
        r["cost"]["server_command"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    };
    assert!(!cmd(&x)
        .iter()
        .any(|a| a == "--hold" || a == "--egress-limit"));
    assert!(
        cmd(&y).windows(2).any(|w| w == ["--burn", BURN]),
        "{:?}",
        cmd(&y)
    );
    // The slow server spent more CPU per response at the same rate.
    let cpu = |r: &Value| {
        r["cost"]["figures"]["server_cpu_s_per_1000"]
            .as_f64()
            .unwrap()
    };
    assert!(cpu(&y) > cpu(&x) + 5.0, "x {} y {}", cpu(&x), cpu(&y));

    // x slow: the ratio turns.
    let (dir, _) = compare("x");
    let (x, y) = (record(&dir, "x"), record(&dir, "y"));
    let ratio = capacity(&y) / capacity(&x);
    assert!(
        ratio > 1.6,
        "x burns {BURN} per response, y's capacity ratio {ratio:.2}"
    );
}
