//! Records rebuilt from the event stream of a killed harness, and records that cannot be read.

use crate::common::records::write_records;
use allocstorm::record::{RecordsError, RunStatus};
use allocstorm::report::{self, ReportError};

use crate::fixtures::*;

#[test]
fn killed_run_is_rebuilt_from_its_event_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = report_dir(&tmp, "killed");
    let dir = dir.as_path();
    let runs = dir.join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    let full = record(
        "glibc",
        0,
        "2026-01-01T00:00:00Z",
        &step_shape(5.0, 100.0, 60.0),
    );
    // Killed 8 s into the drain: the drain's last second never happened.
    write_events(
        &runs.join("glibc-0.jsonl"),
        &events(&full, Some(33.4)),
        true,
    );

    let summary = report::render(dir).unwrap();
    let v = &summary.variants[0];
    assert_eq!(v.name, "glibc");
    assert_eq!(v.status, RunStatus::Interrupted);
    assert_eq!((v.runs, v.runs_ok), (1, 0));
    let run = &v.run_figures[0];
    assert!(run.incomplete);
    let why = run.failure.as_deref().unwrap();
    assert!(
        why.starts_with("incomplete:") && why.contains("glibc-0.jsonl"),
        "{why}"
    );
    // What was measured is kept: the peak is there, recomputed from the streamed samples.
    assert!((run.figures.rss_peak_bytes.unwrap() as f64 / MIB - 100.0).abs() < 0.01);
    assert_eq!(
        run.figures.rss_before_bytes.map(|b| b as f64 / MIB),
        Some(5.0)
    );
    assert_eq!(
        run.figures.throughput_rps,
        Some(400.0),
        "the load summary was streamed before the kill"
    );
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| matches!(w, report::summary::Warning::Rebuilt { .. })),
        "{:?}",
        summary.warnings
    );

    let s = read_summary(dir);
    assert_eq!(s["variants"][0]["run_figures"][0]["incomplete"], true);
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("incomplete: the harness stopped"), "{md}");
    assert!(dir.join("rss-timeline.png").is_file());

    let records = report::load_runs(dir).unwrap();
    assert_eq!(records[0].status, RunStatus::Interrupted);
    assert_eq!(records[0].header.scenario, "hot-range");
    assert_eq!(records[0].header.variant.binary, "target-server-glibc");
    let drain = records[0]
        .phases
        .iter()
        .find(|m| m.name == "drain")
        .unwrap();
    assert!(
        drain.end > drain.start + 7.0,
        "the cut phase lasts until the last sample: {drain:?}"
    );
}

#[test]
fn stream_with_an_end_but_no_json_keeps_its_status_and_borrows_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let a = record(
        "glibc",
        0,
        "2026-01-01T00:00:00Z",
        &step_shape(5.0, 100.0, 60.0),
    );
    let b = record(
        "jemalloc-bg",
        0,
        "2026-01-01T00:01:00Z",
        &step_shape(5.0, 100.0, 8.0),
    );
    write_records(dir.path(), std::slice::from_ref(&a));
    write_events(
        &dir.path().join("runs/jemalloc-bg-0.jsonl"),
        &events(&b, None),
        false,
    );

    let records = report::load_runs(dir.path()).unwrap();
    assert_eq!(records.len(), 2);
    let rebuilt = &records[1];
    // The stream's start event names the variant and its command, not its environment.
    assert_eq!(
        (&rebuilt.header.variant.name, &rebuilt.header.variant.binary),
        (&b.header.variant.name, &b.header.variant.binary)
    );
    assert_eq!(rebuilt.status, RunStatus::Ok);
    assert_eq!(rebuilt.figures, b.figures);
    assert_eq!(rebuilt.phases, b.phases);
    assert_eq!(
        rebuilt.header.phases_planned, a.header.phases_planned,
        "borrowed from the complete record"
    );
    assert_eq!(rebuilt.header.scenario_hash, a.header.scenario_hash);
}

#[test]
fn bad_line_inside_a_stream_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    let r = record(
        "glibc",
        0,
        "2026-01-01T00:00:00Z",
        &step_shape(5.0, 100.0, 60.0),
    );
    let mut ev: Vec<String> = events(&r, Some(10.0))
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    ev.insert(3, "this is not json".into());
    std::fs::write(runs.join("glibc-0.jsonl"), ev.join("\n") + "\n").unwrap();
    let err = report::render(dir.path()).unwrap_err();
    assert!(
        matches!(err, ReportError::Records(RecordsError::Parse { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("glibc-0.jsonl:4"), "{err}");
}

#[test]
fn no_runs_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = report::render(dir.path()).unwrap_err();
    assert!(
        matches!(err, ReportError::Records(RecordsError::NoRuns { .. })),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&dir.path().display().to_string()) && msg.contains("no run records"),
        "{msg}"
    );

    std::fs::create_dir_all(dir.path().join("runs")).unwrap();
    std::fs::write(dir.path().join("runs/glibc-0.server.log"), "listening\n").unwrap();
    assert!(matches!(
        report::render(dir.path()),
        Err(ReportError::Records(RecordsError::NoRuns { .. }))
    ));
    assert!(!dir.path().join("summary.json").exists());
}

#[test]
fn malformed_record_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_records(
        dir.path(),
        &[record(
            "glibc",
            0,
            "2026-01-01T00:00:00Z",
            &step_shape(5.0, 100.0, 60.0),
        )],
    );
    std::fs::write(
        dir.path().join("runs/glibc-1.json"),
        "{\"schema_version\": 1, \"scenario\": ",
    )
    .unwrap();
    let err = report::render(dir.path()).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, ReportError::Records(RecordsError::Parse { .. })),
        "{err:?}"
    );
    assert!(msg.contains("glibc-1.json") && !msg.contains('\n'), "{msg}");

    std::fs::write(
        dir.path().join("runs/glibc-1.json"),
        "{\"schema_version\": 99}",
    )
    .unwrap();
    let err = report::render(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            ReportError::Records(RecordsError::Schema { found: 99, .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("glibc-1.json"), "{err}");
}
