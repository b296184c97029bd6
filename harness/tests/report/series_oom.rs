//! Declared series, runs ended by the memory limit, and records from before those existed.

use crate::common::records::write_records;
use allocstorm::figures::{self};
use allocstorm::record::RunStatus;
use allocstorm::report::{self};
use allocstorm::scenario::{ReportSpec, SweepPoint};
use serde_json::{json, Value};

use crate::fixtures::*;

#[test]
fn declared_rate_series_gets_a_panel_and_its_peak() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = report_dir(&tmp, "series");
    let records = vec![
        with_pool_stats(
            record(
                "glibc",
                0,
                "2026-01-01T00:00:00Z",
                &step_shape(5.0, 300.0, 280.0),
            ),
            &[0, 10, 30, 30],
            64,
        ),
        with_pool_stats(
            record(
                "jemalloc",
                0,
                "2026-01-01T00:01:00Z",
                &step_shape(5.0, 300.0, 280.0),
            ),
            &[0, 5, 10, 15],
            32,
        ),
    ];
    write_records(&dir, &records);
    let summary = report::render(&dir).unwrap();
    assert_eq!(summary.scenario.series, records[0].header.report.series);

    let s = read_summary(&dir);
    let peaks = &s["variants"][0]["series_peaks"];
    let peak = |v: usize, k: usize| {
        let p = &s["variants"][v]["series_peaks"][k];
        (
            p["label"].as_str().unwrap().to_string(),
            p["peak"].as_f64().unwrap(),
        )
    };
    let (label, rate) = peak(0, 0);
    assert_eq!(label, "get-on-empty/s");
    // Readings are 1 s apart up to float rounding of their times.
    assert!(
        (rate - 20.0).abs() < 1e-9,
        "0, 10, 30, 30 at 1 s steps: 20/s at most, got {rate}"
    );
    assert_eq!(peak(0, 1), ("byte pool".into(), (64u64 << 20) as f64));
    assert!((peak(1, 0).1 - 5.0).abs() < 1e-9);
    assert_eq!(s["variants"][0]["run_figures"][0]["series_peaks"], *peaks);

    let png = std::fs::read(dir.join("rss-timeline.png")).unwrap();
    assert_eq!(png_height(&png), 900 + 2 * 300, "a panel per series");
    let svg = std::fs::read_to_string(dir.join("rss-timeline.svg")).unwrap();
    for text in ["get-on-empty/s", "byte pool (MiB)", "RssAnon (MiB)"] {
        assert!(svg.contains(text), "rss-timeline.svg has no {text:?}");
    }

    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("## Declared series"), "{md}");
    assert!(
        md.contains("- **get-on-empty/s**: the increase per second of `/pools/bytes/get_on_empty`"),
        "{md}"
    );
    assert!(
        md.contains("| variant | status | peak get-on-empty/s | peak byte pool (MiB) |"),
        "{md}"
    );
    assert!(md.contains("| glibc | ok | 20 | 64 |"), "{md}");
    assert!(md.contains("| jemalloc | ok | 5 | 32 |"), "{md}");
    // The app reports its pools: the held-vs-live table shows their part.
    assert!(md.contains("| of which pools (MiB) |"), "{md}");
}

#[test]
fn oom_run_is_reported_next_to_an_intact_ok_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = report_dir(&tmp, "oom");
    let limit: u64 = 512 << 20;
    let point = |body: &str, started_at: &str, shape: &Shape| {
        let mut r = record("glibc", 0, started_at, shape);
        r.header.scenario = "buffered-vs-streaming".into();
        r.header.memory_limit_bytes = Some(limit);
        r.header.variant.name = format!("glibc@body={body}");
        r.header.variant.sweep = Some(SweepPoint {
            base: "glibc".into(),
            name: "body".into(),
            field: "body".into(),
            value: json!(body),
            label: format!("body={body}"),
        });
        r
    };
    let streaming = point(
        "streaming",
        "2026-01-01T00:01:00Z",
        &step_shape(5.0, 40.0, 10.0),
    );
    // Buffering whole bodies: RSS climbs 60 MiB a second from the load's start until the
    // harness kills the server at the limit, 8.5 s in.
    let mut buffered = point(
        "buffered",
        "2026-01-01T00:00:00Z",
        &Shape {
            rss: Box::new(|t| {
                if t < DURING.0 {
                    5.0
                } else {
                    5.0 + 60.0 * (t - DURING.0)
                }
            }),
            ..step_shape(0.0, 0.0, 0.0)
        },
    );
    let killed_at = DURING.0 + 8.5;
    buffered.status = RunStatus::Oom;
    buffered.failure = Some(format!(
        "VmRSS 518.0 MiB crossed the memory limit of 512.0 MiB at {killed_at:.1}s (during); killed with SIGKILL by the harness"
    ));
    buffered.server_exit =
        Some("killed by signal 9 (SIGKILL) (memory limit, by the harness)".into());
    buffered.samples.retain(|s| s.t <= killed_at);
    buffered.stats.retain(|s| s.t <= killed_at);
    buffered.mappings.retain(|m| m.t <= killed_at);
    buffered.phases.retain(|m| m.start < killed_at);
    buffered.phases.last_mut().unwrap().end = killed_at;
    buffered.load = None;
    buffered.phase_loads.clear();
    buffered.figures = figures::compute(&buffered.samples, &buffered.phases);
    let streaming_figures = streaming.figures.clone();
    write_records(&dir, &[buffered, streaming]);

    let summary = report::render(&dir).unwrap();
    let ok = &summary.variants[1];
    assert_eq!(
        (ok.name.as_str(), ok.status.as_str()),
        ("glibc@body=streaming", "ok")
    );
    assert_eq!(
        ok.medians.figures, streaming_figures,
        "the ok run's figures are intact"
    );

    let s = read_summary(&dir);
    assert_eq!(s["scenario"]["memory_limit_bytes"], limit);
    assert_eq!(
        s["scenario"]["sweep"]["values"],
        json!(["buffered", "streaming"])
    );
    let oom = &s["variants"][0];
    assert_eq!(oom["name"], "glibc@body=buffered");
    assert_eq!(oom["status"], "oom");
    assert_eq!(oom["runs_ok"], 0);
    assert_eq!(oom["memory_limit_bytes"], limit);
    assert!(
        oom["failure"]
            .as_str()
            .unwrap()
            .contains("crossed the memory limit"),
        "{oom}"
    );
    assert_eq!(oom["run_figures"][0]["status"], "oom");
    assert!(
        mib(&oom["run_figures"][0]["rss_peak_bytes"]) > 500.0,
        "what was measured until the kill is kept"
    );
    assert_eq!(s["variants"][1]["status"], "ok");
    assert_eq!(s["variants"][1]["failure"], Value::Null);

    // A sweep of words: a table, no plot.
    assert!(!dir.join("sweep.png").exists());
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("## Sweep: `body`") && !md.contains("](sweep.png)"),
        "{md}"
    );
    assert!(md.contains("| glibc | buffered | **oom** |"), "{md}");
    assert!(
        md.contains("| glibc@body=buffered | **oom** | 1 (0 ok) |"),
        "{md}"
    );
    assert!(md.contains("| glibc@body=streaming | ok | 1 |"), "{md}");
    assert!(md.contains("## Runs that did not end ok"), "{md}");
    assert!(
        md.contains(
            "- `glibc@body=buffered` run 0: **oom** — VmRSS 518.0 MiB crossed the memory limit"
        ),
        "{md}"
    );
    assert!(md.contains("The memory limit was 512.0 MiB"), "{md}");
    // Who held what the limit stopped: the oom run's own `/stats`, until the kill.
    assert!(
        md.lines()
            .any(|l| l.starts_with("| glibc@body=buffered | peak | ")
                && l.ends_with("| the app: live data |")),
        "{md}"
    );
    assert!(
        md.contains("| glibc | buffered | **oom** | *315.0* |"),
        "the oom point as measured until the kill: {md}"
    );
    let svg = std::fs::read_to_string(dir.join("rss-timeline.svg")).unwrap();
    assert!(
        svg.contains("memory limit 512 MiB (VmRSS)"),
        "the limit is drawn"
    );
    let table = report::text_table(&summary);
    assert!(
        table.contains("oom: glibc@body=buffered #0: VmRSS 518.0 MiB crossed"),
        "{table}"
    );
}

#[test]
fn records_from_before_sweeps_limits_and_series_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = sweep_point("glibc", 8, 8, "2026-01-01T00:00:00Z");
    r.header.memory_limit_bytes = Some(1 << 30);
    let mut v = serde_json::to_value(&r).unwrap();
    let o = v.as_object_mut().unwrap();
    assert!(o.remove("report").is_some() && o.remove("memory_limit_bytes").is_some());
    assert!(o["variant"]
        .as_object_mut()
        .unwrap()
        .remove("sweep")
        .is_some());
    o["variant"]["name"] = json!("glibc");
    std::fs::create_dir_all(dir.path().join("runs")).unwrap();
    std::fs::write(
        dir.path().join("runs/glibc-0.json"),
        serde_json::to_string_pretty(&v).unwrap(),
    )
    .unwrap();

    let records = report::load_runs(dir.path()).unwrap();
    assert_eq!(records[0].header.report, ReportSpec::default());
    assert_eq!(records[0].header.memory_limit_bytes, None);
    assert_eq!(records[0].header.variant.sweep, None);
    let summary = report::render(dir.path()).unwrap();
    let s = read_summary(dir.path());
    assert_eq!(s["scenario"]["sweep"], Value::Null);
    assert_eq!(s["scenario"]["memory_limit_bytes"], Value::Null);
    assert_eq!(s["variants"][0]["base_variant"], "glibc");
    assert_eq!(s["variants"][0]["sweep"], Value::Null);
    assert_eq!(s["variants"][0]["series_peaks"], json!([]));
    assert_eq!(summary.variants[0].status, RunStatus::Ok);
    assert!(!dir.path().join("sweep.png").exists());
}
