//! summary.json's medians, spread, failed runs and variant order.

use crate::common::records::write_records;
use allocstorm::record::{RunRecord, RunStatus};
use allocstorm::report::{self};
use serde_json::Value;

use crate::fixtures::*;

#[test]
fn medians_and_spread_over_three_runs() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<RunRecord> = [10.0, 30.0, 20.0]
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            record(
                "glibc",
                i as u32,
                &format!("2026-01-01T00:0{i}:00Z"),
                &step_shape(5.0, 100.0, a),
            )
        })
        .collect();
    write_records(dir.path(), &records);

    let summary = report::render(dir.path()).unwrap();
    assert_eq!(summary.variants.len(), 1);

    let s = read_summary(dir.path());
    for key in ["schema_version", "scenario", "environment", "variants"] {
        assert!(s.get(key).is_some(), "summary.json has no {key}: {s}");
    }
    assert_eq!(s["scenario"]["name"], "hot-range");
    assert_eq!(s["scenario"]["path"], "scenarios/hot-range.toml");
    assert_eq!(s["scenario"]["hash"], "ab".repeat(32));
    assert_eq!(s["environment"]["kernel"], "6.1.0-test");
    let v = &s["variants"][0];
    for key in [
        "name",
        "status",
        "runs",
        "runs_ok",
        "rss_before_bytes",
        "rss_peak_bytes",
        "rss_after_drain_bytes",
        "retention",
        "t90_s",
        "vsz_after_drain_bytes",
        "throughput_rps",
        "latency_ms",
        "rss_after_drain_cv",
        "server_cpu_s_per_1000_responses",
        "run_figures",
    ] {
        assert!(v.get(key).is_some(), "variant has no {key}: {v}");
    }
    assert_eq!(v["name"], "glibc");
    assert_eq!(v["status"], "ok");
    assert_eq!(v["runs"], 3);
    assert_eq!(v["runs_ok"], 3);
    assert_eq!(mib(&v["rss_after_drain_bytes"]), 20.0);
    assert_eq!(mib(&v["rss_before_bytes"]), 5.0);
    assert!((mib(&v["rss_peak_bytes"]) - 100.0).abs() < 0.01);
    // Sample standard deviation of 10, 20, 30 MiB is 10 MiB; the mean is 20 MiB.
    let cv = v["rss_after_drain_cv"].as_f64().unwrap();
    assert!((cv - 0.5).abs() < 1e-6, "cv {cv}");
    // Retention of the median run: (20 - 5) / (100 - 5).
    let r = v["retention"].as_f64().unwrap();
    assert!((r - 15.0 / 95.0).abs() < 1e-3, "retention {r}");
    assert_eq!(
        v["t90_s"],
        Value::Null,
        "never came back to within 10%: {v}"
    );
    assert_eq!(v["throughput_rps"], 400.0);
    assert_eq!(v["latency_ms"]["p50"], 12.0);
    assert_eq!(v["latency_ms"]["p99"], 80.0);
    // 10 CPU seconds for 8000 responses.
    let cpu = v["server_cpu_s_per_1000_responses"].as_f64().unwrap();
    assert!((cpu - 1.25).abs() < 0.01, "cpu {cpu}");
    assert_eq!(v["median_run_index"], 2, "the run whose A is 20 MiB");
    let runs = v["run_figures"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[1]["run_index"], 1);
    assert_eq!(runs[1]["status"], "ok");
    assert_eq!(mib(&runs[1]["rss_after_drain_bytes"]), 30.0);
    assert!(runs[1].get("failure").is_some());
    // Held vs live from the median run.
    let after = &v["memory_breakdown"]["after_drain"];
    assert!(
        after["t_s"].as_f64().unwrap() > DRAIN.0 - DURING.0
            && after["t_s"].as_f64().unwrap() <= DRAIN.1 - DURING.0
    );
    assert!((mib(&after["rss_anon_bytes"]) - 20.0).abs() < 0.01);
    assert!(after["allocator_free_held_bytes"].as_u64().unwrap() > 0);
    assert!(after["app_live_bytes"].as_u64().unwrap() > 0);
    let peak = &v["memory_breakdown"]["peak"];
    assert!(
        (peak["t_s"].as_f64().unwrap() - (DURING.1 - DURING.0)).abs() <= 1.0,
        "peak reading near the end of the load: {peak}"
    );
}

#[test]
fn failed_run_is_counted_and_left_out_of_the_medians() {
    let dir = tempfile::tempdir().unwrap();
    let mut records = vec![
        record(
            "glibc",
            0,
            "2026-01-01T00:00:00Z",
            &step_shape(5.0, 100.0, 10.0),
        ),
        record(
            "glibc",
            1,
            "2026-01-01T00:01:00Z",
            &step_shape(5.0, 100.0, 500.0),
        ),
        record(
            "glibc",
            2,
            "2026-01-01T00:02:00Z",
            &step_shape(5.0, 100.0, 30.0),
        ),
    ];
    records[1].status = RunStatus::Failed;
    records[1].failure = Some("server process is gone: server killed by signal 9 (SIGKILL)".into());
    write_records(dir.path(), &records);

    report::render(dir.path()).unwrap();
    let s = read_summary(dir.path());
    let v = &s["variants"][0];
    assert_eq!(v["status"], "failed");
    assert_eq!(v["runs"], 3);
    assert_eq!(v["runs_ok"], 2);
    assert_eq!(
        mib(&v["rss_after_drain_bytes"]),
        20.0,
        "median of 10 and 30, not of 500"
    );
    assert_eq!(v["run_figures"][1]["status"], "failed");
    assert!(v["run_figures"][1]["failure"]
        .as_str()
        .unwrap()
        .contains("SIGKILL"));
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("| glibc | **failed** | 3 (2 ok) |"), "{md}");
}

#[test]
fn variants_in_the_order_their_first_run_started() {
    let dir = tempfile::tempdir().unwrap();
    let records = vec![
        record(
            "mimalloc",
            0,
            "2026-01-01T00:00:00Z",
            &step_shape(5.0, 100.0, 10.0),
        ),
        record(
            "glibc",
            0,
            "2026-01-01T00:01:00Z",
            &step_shape(5.0, 100.0, 80.0),
        ),
        record(
            "mimalloc",
            1,
            "2026-01-01T00:02:00Z",
            &step_shape(5.0, 100.0, 12.0),
        ),
    ];
    write_records(dir.path(), &records);
    let summary = report::render(dir.path()).unwrap();
    let names: Vec<&str> = summary.variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["mimalloc", "glibc"]);
    let table = report::text_table(&summary);
    assert!(
        table.contains("mimalloc") && table.contains("glibc"),
        "{table}"
    );
}

/// A run whose load left 2,000 of the 3,200 requests it intended unsent is marked overloaded
/// (in the warnings and in its row of the runs table), and summary.json has its intended, sent
/// and unsent; a run that sent all but 1% is not, and a record written before `intended` was
/// kept has it as sent + unsent.
#[test]
fn an_overloaded_run_is_marked() {
    let dir = tempfile::tempdir().unwrap();
    let shape = step_shape(5.0, 100.0, 20.0);
    let with = |run: u32, sent: u64, unsent: u64, intended: Option<u64>| {
        let mut r = record("glibc", run, &format!("2026-01-01T00:0{run}:00Z"), &shape);
        let load = r.load.as_mut().unwrap();
        (load.counts.requests, load.unsent, load.intended) = (sent, unsent, intended);
        r
    };
    let records = vec![
        with(1, 1200, 2000, Some(3200)),
        with(2, 3168, 32, Some(3200)),
        with(3, 3100, 100, None),
    ];
    write_records(dir.path(), &records);
    report::render(dir.path()).unwrap();

    let s = read_summary(dir.path());
    let runs = &s["variants"][0]["run_figures"];
    let counts = |i: usize| {
        let r = &runs[i];
        [
            &r["requests_intended"],
            &r["requests_sent"],
            &r["requests_unsent"],
        ]
        .map(|v| v.as_u64())
    };
    assert_eq!(counts(0), [Some(3200), Some(1200), Some(2000)]);
    assert_eq!(counts(1), [Some(3200), Some(3168), Some(32)]);
    assert_eq!(counts(2), [Some(3200), Some(3100), Some(100)]);
    let v = &s["variants"][0];
    assert_eq!(v["requests_unsent"], 100, "the median");
    let warnings: Vec<&str> = s["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w.as_str())
        .filter(|w| w.contains("overloaded"))
        .collect();
    assert_eq!(
        warnings,
        [
            "glibc: overloaded in runs #1, #3: 3.1–62.5% of the 3200 requests the load intended \
          were never sent, no connection being free before it stopped; the figures, latency \
          included, are of those sent"
        ]
    );

    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    let results = md
        .lines()
        .find(|l| l.starts_with("| variant | status | runs"))
        .unwrap();
    for title in ["| intended |", "| sent |", "| unsent |"] {
        assert!(results.contains(title), "{results}");
    }
    let row = |run: u32| {
        md.lines()
            .find(|l| l.starts_with(&format!("| glibc | {run} |")))
            .unwrap()
    };
    assert!(row(1).contains("| 3200 | 1200 | 2000 |"), "{}", row(1));
    assert!(row(1).contains("overloaded: 62% unsent"), "{}", row(1));
    assert!(!row(2).contains("overloaded"), "{}", row(2));
    assert!(row(3).contains("overloaded: 3% unsent"), "{}", row(3));
}
