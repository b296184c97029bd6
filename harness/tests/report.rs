//! The report side, end to end on synthetic records: no server, no load. Each record is made
//! from a function of time (RssAnon in MiB at t), written into a temporary `DIR/runs/`, and
//! rendered with `report::render` exactly as `allocstorm report DIR` does.
//!
//! To look at the plots of the realistic set: `ALLOCSTORM_KEEP_REPORT=/tmp/report cargo nextest
//! run -p allocstorm --test report` and open `/tmp/report/*/`.

mod common;

use std::path::{Path, PathBuf};

use allocstorm::cost::{CostFigures, CostRecord};
use allocstorm::figures::{self, PhaseMark};
use allocstorm::load::{Counts, LoadSummary, Percentiles};
use allocstorm::provenance::Environment;
use allocstorm::record::{
    Event, PhaseLoad, RecordsError, RunHeader, RunRecord, RunStatus, StatsSample,
};
use allocstorm::report::{self, markdown::TABLE_HEADER, ReportError};
use allocstorm::sample::{MappingBreakdown, Sample};
use allocstorm::scenario::{
    CostSpec, MemoryBudget, ReportSpec, SeriesKind, SeriesSpec, SeriesUnit, SweepPoint,
};
use common::records::{header, variant, write_records};
use serde_json::{json, Value};

const MIB: f64 = 1024.0 * 1024.0;

/// Phase plan of every synthetic run, in seconds since the run started.
const STARTUP: (f64, f64) = (0.0, 0.4);
const WARMUP: (f64, f64) = (0.4, 2.4);
const BEFORE: (f64, f64) = (2.4, 5.4);
const DURING: (f64, f64) = (5.4, 25.4);
const DRAIN: (f64, f64) = (25.4, 40.4);

fn phases() -> Vec<PhaseMark> {
    [
        ("startup", STARTUP),
        ("warmup", WARMUP),
        ("before", BEFORE),
        ("during", DURING),
        ("drain", DRAIN),
    ]
    .into_iter()
    .map(|(n, (s, e))| PhaseMark {
        name: n.into(),
        start: s,
        end: e,
    })
    .collect()
}

/// The machine of every synthetic run: the shared one, with a kernel of its own.
fn environment() -> Environment {
    Environment {
        kernel: "6.1.0-test".into(),
        ..common::records::environment()
    }
}

fn load_summary(throughput: f64, p50: f64, p99: f64) -> LoadSummary {
    let duration = DURING.1 - DURING.0;
    let ok = (throughput * duration) as u64;
    let lat = Percentiles {
        count: ok,
        p50,
        p90: p99 * 0.8,
        p99,
        p999: p99 * 1.2,
        max: p99 * 1.5,
    };
    LoadSummary {
        target: "http://127.0.0.1:41234/file/hot".into(),
        range: "0-1048575".into(),
        range_bytes: 1 << 20,
        processes: 4,
        connections: 256,
        offered_rate: Some(400.0),
        timeout_s: 3.0,
        max_retries: 3,
        backoff_s: 0.1,
        counts: Counts {
            requests: ok + 10,
            attempts: ok + 30,
            retries: 20,
            ok,
            errors: 10,
            bytes: ok << 20,
            ..Default::default()
        },
        unsent: 0,
        duration_s: duration,
        elapsed_s: duration + 1.0,
        throughput_rps: throughput,
        bytes_per_s: throughput * MIB,
        latency_ms: lat.clone(),
        latency_uncorrected_ms: lat,
        error_latency_ms: Percentiles::default(),
        latency_histogram_us: vec![],
        client_cpu_s: 1.0,
        workers: vec![],
        per_second: vec![],
    }
}

/// What one synthetic run looks like.
struct Shape {
    /// RssAnon in MiB at `t` seconds since the run started.
    rss: Box<dyn Fn(f64) -> f64>,
    throughput: f64,
    p50: f64,
    p99: f64,
    /// Share of RssAnon above the baseline the allocator holds free (the rest the app holds).
    free_share_after: f64,
}

/// A complete record made from a shape: samples every 100 ms, `/stats` every second,
/// figures computed as the harness computes them.
fn record(name: &str, run: u32, started_at: &str, shape: &Shape) -> RunRecord {
    let end = DRAIN.1;
    let samples: Vec<Sample> = (0..=(end * 10.0).round() as usize)
        .map(|i| {
            let t = i as f64 / 10.0;
            let rss = ((shape.rss)(t) * MIB) as u64;
            Sample {
                t,
                rss_anon: rss,
                vm_rss: rss + (8 << 20),
                vm_size: rss * 3 + (300 << 20),
                vm_hwm: rss,
                rss_file: 8 << 20,
                threads: 6,
                // Half a CPU while loaded.
                cpu_s: if t < DURING.0 {
                    0.1
                } else {
                    0.1 + 0.5 * (t.min(DURING.1) - DURING.0)
                },
            }
        })
        .collect();
    let base = (shape.rss)(BEFORE.1) * MIB;
    let stats: Vec<StatsSample> = (1..=end as usize)
        .map(|i| {
            let t = i as f64 + 0.05;
            let rss = (shape.rss)(t) * MIB;
            let above = (rss - base).max(0.0);
            let loaded = t >= DURING.0 && t <= DURING.1;
            let live = if loaded {
                above * 0.9
            } else {
                above * (1.0 - shape.free_share_after)
            } + 2.0 * MIB;
            let held = rss * 0.97;
            let in_use = live.min(held);
            StatsSample {
                t,
                stats: json!({
                    "allocator": "glibc",
                    "allocator_settings": {"mmap_threshold": "dynamic"},
                    "server_settings": {"workers": 4},
                    "allocator_figures": {
                        "in_use_bytes": in_use as u64,
                        "held_bytes": held as u64,
                        "free_held_bytes": (held - in_use) as u64,
                        "raw": {}
                    },
                    "app": {"live_bytes": live as u64, "block_index_bytes": (2.0 * MIB) as u64},
                    "counters": {}
                }),
            }
        })
        .collect();
    let marks = phases();
    let load = load_summary(shape.throughput, shape.p50, shape.p99);
    let v = variant(name);
    let mut command = vec![
        format!("/work/target/release/{}", v.binary),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--workers".into(),
        "4".into(),
        "--meta-every".into(),
        "16".into(),
        "--egress-limit".into(),
        "200000000/s".into(),
    ];
    command.extend(v.args.iter().cloned());
    let mut r = RunRecord::from_header(RunHeader {
        scenario_description: "hot ranges behind a congested egress".into(),
        server_command: command,
        environment: environment(),
        ..header(name, run, started_at)
    });
    r.server_exit = Some("exited with code 0".into());
    r.server_pid = Some(4242);
    r.server_settings = Some(
        json!({"allocator": "glibc", "allocator_settings": {"mmap_threshold": "dynamic"}, "server_settings": {}}),
    );
    r.figures = figures::compute(&samples, &marks);
    r.phases = marks;
    r.load = Some(load.clone());
    r.phase_loads = vec![PhaseLoad {
        phase: "during".into(),
        summary: load,
    }];
    r.samples = samples;
    // One breakdown a second: three arena heaps that stay mostly resident after the load.
    r.mappings = (0..=(DURING.1 as u64 + 12))
        .map(|t| MappingBreakdown {
            t: t as f64,
            arena_heaps: 3,
            arena_heap_rss: 150 << 20,
            arena_heap_committed: 160 << 20,
            arena_heap_reserved: 32 << 20,
            ..Default::default()
        })
        .collect();
    r.stats = stats;
    r
}

/// Flat `before` MiB, `peak` at the end of the load, `after` from one second into the drain.
fn step_shape(before: f64, peak: f64, after: f64) -> Shape {
    Shape {
        rss: Box::new(move |t| {
            if t < DURING.0 {
                before
            } else if t <= DURING.1 {
                before + (peak - before) * ((t - DURING.0) / (DURING.1 - DURING.0))
            } else if t < DRAIN.0 + 1.0 {
                peak
            } else {
                after
            }
        }),
        throughput: 400.0,
        p50: 12.0,
        p99: 80.0,
        free_share_after: 0.9,
    }
}

/// The report directory of a test: a fresh temporary one, or `$ALLOCSTORM_KEEP_REPORT/<name>`
/// to keep the output for a person to look at.
fn report_dir(tmp: &tempfile::TempDir, name: &str) -> PathBuf {
    match std::env::var_os("ALLOCSTORM_KEEP_REPORT") {
        Some(keep) => {
            let dir = PathBuf::from(keep).join(name);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            dir
        }
        None => tmp.path().to_path_buf(),
    }
}

fn read_summary(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn mib(v: &Value) -> f64 {
    v.as_f64().unwrap() / MIB
}

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

/// The event stream the harness writes for a record, as far as a kill at `cut_at` lets it.
fn events(r: &RunRecord, cut_at: Option<f64>) -> Vec<Event> {
    let limit = cut_at.unwrap_or(f64::INFINITY);
    let mut timed: Vec<(f64, Event)> = Vec::new();
    for m in &r.phases {
        if m.start <= limit {
            timed.push((
                m.start,
                Event::Phase(PhaseMark {
                    end: m.start,
                    ..m.clone()
                }),
            ));
        }
        if m.end <= limit {
            timed.push((m.end, Event::Phase(m.clone())));
        }
    }
    timed.extend(
        r.samples
            .iter()
            .filter(|s| s.t <= limit)
            .map(|s| (s.t, Event::Sample(*s))),
    );
    timed.extend(
        r.stats
            .iter()
            .filter(|s| s.t <= limit)
            .map(|s| (s.t, Event::Stats(s.clone()))),
    );
    if DURING.1 <= limit {
        for l in &r.phase_loads {
            timed.push((DURING.1 + 0.01, Event::Load(Box::new(l.clone()))));
        }
    }
    timed.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = vec![
        Event::Start(Box::new(r.header.clone())),
        Event::Server {
            pid: 4242,
            addr: "127.0.0.1:41234".into(),
        },
    ];
    out.extend(timed.into_iter().map(|(_, e)| e));
    if cut_at.is_none() {
        out.push(Event::End {
            status: r.status,
            failure: r.failure.clone(),
            server_exit: r.server_exit.clone(),
        });
    }
    out
}

fn write_events(path: &Path, events: &[Event], torn_tail: bool) {
    let mut text = String::new();
    for e in events {
        text.push_str(&serde_json::to_string(e).unwrap());
        text.push('\n');
    }
    if torn_tail {
        // The kill interrupted a write.
        text.push_str("{\"kind\":\"sample\",\"t\":33.1,\"rss_an");
    }
    std::fs::write(path, text).unwrap();
}

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

/// The incident-000 picture: glibc keeps most of its peak, the fixes fall back, at a price.
fn realistic() -> Vec<RunRecord> {
    /// One variant's behaviour: MiB at the peak and after the drain, how fast it gives memory
    /// back (0: never), and the load it sustains.
    struct Picture {
        name: &'static str,
        peak: f64,
        after: f64,
        tau: f64,
        rps: f64,
        p50: f64,
        p99: f64,
        free_share_after: f64,
    }
    let p = |name, peak, after, tau, rps, p50, p99, free_share_after| Picture {
        name,
        peak,
        after,
        tau,
        rps,
        p50,
        p99,
        free_share_after,
    };
    let variants = [
        p("glibc", 320.0, 258.0, 0.0, 398.0, 14.0, 95.0, 0.95),
        p("glibc-mmap64k", 300.0, 9.0, 0.6, 228.0, 160.0, 2300.0, 0.1),
        p("glibc-arena2", 305.0, 215.0, 0.0, 392.0, 16.0, 120.0, 0.95),
        p("jemalloc", 280.0, 140.0, 0.0, 397.0, 13.0, 90.0, 0.9),
        p("jemalloc-bg", 290.0, 12.0, 6.0, 396.0, 13.0, 92.0, 0.3),
        p("mimalloc", 270.0, 38.0, 2.0, 399.0, 12.0, 85.0, 0.6),
    ];
    let mut out = Vec::new();
    let mut minute = 0;
    for run in 0..3u32 {
        for (k, v) in variants.iter().enumerate() {
            let Picture {
                name,
                peak,
                after,
                tau,
                rps,
                p50,
                p99,
                free_share_after: free,
            } = *v;
            let jitter = 1.0 + 0.04 * ((run as f64 * 7.0 + k as f64 * 3.0).sin());
            let (peak, after) = (peak * jitter, after * (1.0 + 0.08 * (run as f64 - 1.0)));
            let before = 6.0 + k as f64 * 0.5;
            let rss = move |t: f64| {
                let wobble = 4.0 * (t * 2.3 + run as f64).sin();
                if t < WARMUP.0 {
                    2.0 + t * 5.0
                } else if t < DURING.0 {
                    before
                } else if t <= DURING.1 {
                    let x = (t - DURING.0) / 3.0;
                    before + (peak - before) * (1.0 - (-x).exp()) + wobble
                } else {
                    let x = t - DURING.1;
                    let fall = if tau == 0.0 { 1.0 } else { (-x / tau).exp() };
                    after + (peak - after) * fall.min(1.0) * if x < 0.3 { 1.0 } else { 0.9 }
                }
            };
            let shape = Shape {
                rss: Box::new(rss),
                throughput: rps * jitter,
                p50,
                p99: p99 * jitter,
                free_share_after: free,
            };
            out.push(record(
                name,
                run,
                &format!("2026-01-01T00:{minute:02}:00Z"),
                &shape,
            ));
            minute += 1;
        }
    }
    out
}

fn png_width(bytes: &[u8]) -> u32 {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is IHDR");
    u32::from_be_bytes(bytes[16..20].try_into().unwrap())
}

fn png_height(bytes: &[u8]) -> u32 {
    png_width(bytes);
    u32::from_be_bytes(bytes[20..24].try_into().unwrap())
}

#[test]
fn plots_are_readable_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = report_dir(&tmp, "realistic");
    let mut records = realistic();
    records[4].status = RunStatus::Failed;
    records[4].failure = Some("server process is gone: server killed by signal 9 (SIGKILL)".into());
    write_records(&dir, &records);

    let summary = report::render(&dir).unwrap();
    assert_eq!(summary.variants.len(), 6);

    for stem in ["rss-timeline", "rss-summary", "cost"] {
        let png = std::fs::read(dir.join(format!("{stem}.png"))).unwrap();
        let w = png_width(&png);
        assert!(w >= 1200, "{stem}.png is {w} px wide");
        assert_eq!(
            png_height(&png),
            900,
            "{stem}.png: no declared series, no extra panel"
        );
        let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"), "{stem}.svg");
        for v in &summary.variants {
            assert!(svg.contains(&v.name), "{stem}.svg does not name {}", v.name);
        }
    }
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains(TABLE_HEADER), "{md}");
    for img in ["](rss-timeline.png)", "](rss-summary.png)", "](cost.png)"] {
        assert!(md.contains(img), "report.md has no link {img}");
    }
    assert!(md.contains("What the allocator held vs what the app held"));
    assert!(md.contains("## Mappings (what `pmap -X` shows)"), "{md}");
    assert!(
        md.contains("| after drain | ") && md.contains("| 3 | 150.0 |"),
        "{md}"
    );
    assert!(
        md.contains("the allocator: freed, not returned"),
        "glibc keeps freed memory: {md}"
    );
    assert!(
        md.contains("6.1.0-test") && md.contains("0123456789abcdef"),
        "environment: {md}"
    );
    assert!(
        md.contains("`MALLOC_ARENA_MAX=2`") || md.contains("MALLOC_ARENA_MAX=2"),
        "variant settings: {md}"
    );
    assert!(
        !dir.join("sweep.png").exists() && !md.contains("## Sweep"),
        "no sweep, no sweep plot or table"
    );
    assert!(
        !md.contains("## Declared series")
            && !md.contains("## Runs that did not end ok\n\n- `glibc`")
    );
    // Nothing half-written is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn variant_without_an_ok_run_is_reported_not_plotted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = report_dir(&tmp, "no-ok-run");
    let mut records = vec![
        record(
            "glibc",
            0,
            "2026-01-01T00:00:00Z",
            &step_shape(5.0, 100.0, 80.0),
        ),
        record(
            "mimalloc",
            0,
            "2026-01-01T00:01:00Z",
            &step_shape(5.0, 400.0, 400.0),
        ),
        record(
            "glibc",
            1,
            "2026-01-01T00:02:00Z",
            &step_shape(5.0, 100.0, 82.0),
        ),
        record(
            "mimalloc",
            1,
            "2026-01-01T00:03:00Z",
            &step_shape(5.0, 400.0, 400.0),
        ),
    ];
    for r in records
        .iter_mut()
        .filter(|r| r.header.variant.name == "mimalloc")
    {
        r.status = RunStatus::Failed;
        r.failure = Some(
            "server process is gone: killed by the OOM killer (memory.events oom_kill 1)".into(),
        );
    }
    write_records(&dir, &records);
    let summary = report::render(&dir).unwrap();
    let m = &summary.variants[1];
    assert_eq!(
        (m.name.as_str(), m.status.as_str(), m.runs, m.runs_ok),
        ("mimalloc", "oom", 2, 0)
    );
    assert_eq!(m.medians.rss_after_drain_bytes, None);
    assert_eq!(m.median_run_index, None);
    assert_eq!(
        m.run_figures.len(),
        2,
        "each failed run keeps its own figures"
    );
    assert!(m.run_figures[0].figures.rss_peak_bytes.is_some());
    let bars = std::fs::read_to_string(dir.join("rss-summary.svg")).unwrap();
    assert!(
        bars.contains("oom: no ok run"),
        "the bar chart says why there are no bars"
    );
    let cost = std::fs::read_to_string(dir.join("cost.svg")).unwrap();
    assert!(cost.contains("not plotted") && cost.contains("mimalloc"));
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("| mimalloc | **oom** | 2 (0 ok) |"), "{md}");
}

#[test]
fn run_that_failed_at_startup_still_renders() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = record(
        "glibc",
        0,
        "2026-01-01T00:00:00Z",
        &step_shape(5.0, 100.0, 60.0),
    );
    r.status = RunStatus::Failed;
    r.failure = Some("server exited before printing `listening on` (see its .server.log)".into());
    r.phases.truncate(1);
    r.samples.clear();
    r.stats.clear();
    r.load = None;
    r.phase_loads.clear();
    r.figures = figures::compute(&r.samples, &r.phases);
    write_records(dir.path(), &[r]);
    let summary = report::render(dir.path()).unwrap();
    assert_eq!(summary.variants[0].status, RunStatus::Failed);
    assert_eq!(summary.variants[0].medians, Default::default());
    for f in [
        "rss-timeline.png",
        "rss-summary.png",
        "cost.png",
        "report.md",
        "summary.json",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
}

#[test]
fn a_report_writes_its_files_and_a_sweep_plot_only_for_a_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = report_dir(&tmp, "files");
    write_records(&dir, &realistic());
    report::render(&dir).unwrap();
    for f in [
        "summary.json",
        "rss-timeline.png",
        "rss-timeline.svg",
        "rss-summary.png",
        "rss-summary.svg",
        "cost.png",
        "cost.svg",
        "report.md",
    ] {
        let len = std::fs::metadata(dir.join(f)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{f}: not written");
    }
    for f in ["sweep.png", "sweep.svg"] {
        assert!(
            !dir.join(f).exists(),
            "{f} written for a report without a sweep"
        );
    }
}

/// One point of a thread sweep, `base@threads=VALUE`: one glibc arena heap before the load and
/// `arenas` from the load on, each adding 64 MiB to a VmSize of 1000 MiB; RssAnon peaks at
/// 50 + VALUE MiB.
fn sweep_point(base: &str, value: u64, arenas: u64, started_at: &str) -> RunRecord {
    let mut r = record(
        base,
        0,
        started_at,
        &step_shape(5.0, 50.0 + value as f64, 20.0),
    );
    r.header.scenario = "thread-arenas".into();
    let label = format!("threads={value}");
    r.header.variant.name = format!("{base}@{label}");
    r.header.variant.sweep = Some(SweepPoint {
        base: base.into(),
        name: "threads".into(),
        field: "io_threads".into(),
        value: json!(value),
        label,
    });
    let arenas_at = |t: f64| if t < DURING.0 { 1 } else { arenas };
    for s in &mut r.samples {
        s.vm_size = (1000 + 64 * arenas_at(s.t)) << 20;
    }
    for m in &mut r.mappings {
        m.arena_heaps = arenas_at(m.t);
    }
    r.figures = figures::compute(&r.samples, &r.phases);
    r
}

/// glibc gains an arena per thread up to 8 × 2 cores; glibc-arena2 stays at two.
fn thread_sweep() -> Vec<RunRecord> {
    let mut out = Vec::new();
    // Interleaved in time as a schedule might run them; the report groups them by base.
    for (k, threads) in [2u64, 8, 32, 128].into_iter().enumerate() {
        out.push(sweep_point(
            "glibc",
            threads,
            threads.min(16),
            &format!("2026-01-01T00:{:02}:00Z", 2 * k),
        ));
        out.push(sweep_point(
            "glibc-arena2",
            threads,
            2,
            &format!("2026-01-01T00:{:02}:00Z", 2 * k + 1),
        ));
    }
    out
}

#[test]
fn numeric_sweep_gives_the_sweep_plot_fields_and_table() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = report_dir(&tmp, "thread-sweep");
    write_records(&dir, &thread_sweep());
    let summary = report::render(&dir).unwrap();
    let names: Vec<&str> = summary.variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "glibc@threads=2",
            "glibc@threads=8",
            "glibc@threads=32",
            "glibc@threads=128",
            "glibc-arena2@threads=2",
            "glibc-arena2@threads=8",
            "glibc-arena2@threads=32",
            "glibc-arena2@threads=128",
        ],
        "points grouped by base variant, in the order they ran"
    );

    let s = read_summary(&dir);
    assert_eq!(
        s["scenario"]["sweep"],
        json!({"name": "threads", "field": "io_threads", "values": [2, 8, 32, 128]})
    );
    assert_eq!(s["scenario"]["memory_limit_bytes"], Value::Null);
    let v = &s["variants"][1];
    assert_eq!(v["name"], "glibc@threads=8");
    assert_eq!(v["base_variant"], "glibc");
    assert_eq!(
        v["sweep"],
        json!({"name": "threads", "field": "io_threads", "value": 8, "label": "threads=8"})
    );
    assert_eq!(mib(&v["vsz_peak_bytes"]), 1000.0 + 8.0 * 64.0);
    assert_eq!(v["arena_heaps_peak"], 8);
    assert_eq!(v["arena_heaps_before"], 1);
    assert_eq!(v["arena_heaps_after_drain"], 8);
    assert_eq!(v["run_figures"][0]["arena_heaps_peak"], 8);
    assert_eq!(v["failure"], Value::Null);
    let capped = &s["variants"][3];
    assert_eq!(capped["arena_heaps_peak"], 16, "8 × cores");
    assert_eq!(mib(&capped["vsz_peak_bytes"]), 1000.0 + 16.0 * 64.0);
    let flat = &s["variants"][7];
    assert_eq!(flat["base_variant"], "glibc-arena2");
    assert_eq!(mib(&flat["vsz_peak_bytes"]), 1128.0);

    for ext in ["png", "svg"] {
        assert!(dir.join(format!("sweep.{ext}")).is_file(), "sweep.{ext}");
    }
    assert!(png_width(&std::fs::read(dir.join("sweep.png")).unwrap()) >= 1200);
    let svg = std::fs::read_to_string(dir.join("sweep.svg")).unwrap();
    for text in [
        "glibc",
        "glibc-arena2",
        "io_threads (log2 scale)",
        "128",
        "arena heaps",
        "VSZ",
    ] {
        assert!(svg.contains(text), "sweep.svg has no {text:?}");
    }

    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("## Sweep: `io_threads`"), "{md}");
    assert!(md.contains("](sweep.png)"), "{md}");
    let row = |base: &str, threads: &str| {
        md.lines()
            .find(|l| l.starts_with(&format!("| {base} | {threads} | ")))
            .unwrap_or_else(|| panic!("no sweep row {base} {threads}: {md}"))
            .to_string()
    };
    let r = row("glibc", "8");
    assert!(
        r.starts_with("| glibc | 8 | ok | 1064.0 | 1512.0 | 1512.0 | ")
            && r.ends_with(" | 1 | 8 | 8 |"),
        "{r}"
    );
    let r = row("glibc", "128");
    assert!(
        r.contains(" | 1064.0 | 2024.0 | 2024.0 | 178.0 | 20.0 | 1 | 16 | 16 |"),
        "{r}"
    );
    let r = row("glibc-arena2", "128");
    assert!(
        r.ends_with(" | 1128.0 | 1128.0 | 178.0 | 20.0 | 1 | 2 | 2 |"),
        "{r}"
    );
    // The base variant's settings are listed once, with its points.
    assert!(
        md.contains("- `glibc-arena2`: target-server-glibc")
            && md.contains("run as `glibc-arena2@threads=2`, `glibc-arena2@threads=8`"),
        "{md}"
    );
}

/// Pool counters in `/stats`: `get_on_empty` goes `counter` at the readings 1 s apart from
/// the load's start on, `bytes_total` peaks at `pool_mib`.
fn with_pool_stats(mut r: RunRecord, counter: &[u64], pool_mib: u64) -> RunRecord {
    r.header.report = ReportSpec {
        series: vec![
            SeriesSpec {
                label: "get-on-empty/s".into(),
                stat: "/pools/bytes/get_on_empty".into(),
                kind: SeriesKind::Rate,
                unit: SeriesUnit::Count,
            },
            SeriesSpec {
                label: "byte pool".into(),
                stat: "/pools/bytes/bytes_total".into(),
                kind: SeriesKind::Gauge,
                unit: SeriesUnit::Bytes,
            },
        ],
    };
    let first = r.stats.iter().position(|s| s.t >= DURING.0).unwrap();
    for (k, st) in r.stats.iter_mut().enumerate() {
        let live = st.stats["app"]["live_bytes"].as_u64().unwrap();
        st.stats["app"]["pool_bytes"] = json!(live * 3 / 4);
        if let Some(&c) = k.checked_sub(first).and_then(|i| counter.get(i)) {
            st.stats["pools"] = json!({"bytes": {
                "get_on_empty": c,
                "bytes_total": (pool_mib << 20) * (k - first + 1) as u64 / counter.len() as u64,
            }});
        }
    }
    r
}

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

#[test]
fn labelled_numeric_sweep_ticks_its_labels_on_a_linear_axis() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = report_dir(&tmp, "admission-sweep");
    let records: Vec<RunRecord> = [(0u64, "unbounded"), (48, "limit-48")]
        .into_iter()
        .enumerate()
        .map(|(k, (limit, label))| {
            let mut r = sweep_point("glibc", limit, 1, &format!("2026-01-01T00:0{k}:00Z"));
            r.header.variant.name = format!("glibc@{label}");
            r.header.variant.sweep = Some(SweepPoint {
                base: "glibc".into(),
                name: "admission".into(),
                field: "max_inflight".into(),
                value: json!(limit),
                label: label.into(),
            });
            r
        })
        .collect();
    write_records(&dir, &records);
    report::render(&dir).unwrap();
    let svg = std::fs::read_to_string(dir.join("sweep.svg")).unwrap();
    assert!(
        svg.contains("unbounded") && svg.contains("limit-48"),
        "ticks carry the scenario's labels"
    );
    assert!(
        svg.contains("max_inflight") && !svg.contains("log2"),
        "0 and 48: a linear axis"
    );
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("| glibc | 0 (unbounded) | ok |"), "{md}");
    assert!(md.contains("| glibc | 48 (limit-48) | ok |"), "{md}");
}

/// The scenario's `[cost]` of [`with_cost`]: glibc the reference, a budget of retention 0.10
/// and 64 MiB after the drain.
fn cost_spec() -> CostSpec {
    CostSpec {
        reference: "glibc".into(),
        processes: 2,
        connections: 16,
        warmup: std::time::Duration::from_secs(1),
        capacity: std::time::Duration::from_secs(5),
        latency: std::time::Duration::from_secs(5),
        latency_at: 0.5,
        latency_rate: None,
        budget: MemoryBudget {
            max_retention: Some(0.1),
            max_after_drain_bytes: Some(64 << 20),
        },
    }
}

/// [`realistic`] with a cost measurement in every run. The machine drifts between rounds
/// (glibc's capacity 600, 900, then 480/s); each variant's capacity is a fixed share of
/// glibc's in the same round, plus a little: jemalloc-bg's is 0.93, 0.95 and 0.97 of it. Its
/// first run's capacity was the client's; mimalloc's second measurement stopped short.
fn with_cost() -> Vec<RunRecord> {
    const DRIFT: [f64; 3] = [1.0, 1.5, 0.8];
    let mut records = realistic();
    for r in &mut records {
        let run = r.header.run_index as usize;
        let (share, p99, cpu, faults) = match r.header.variant.name.as_str() {
            "glibc" => (1.0, 10.0, 0.5, 0.002),
            "glibc-mmap64k" => (0.45, 200.0, 2.0, 257.0),
            "glibc-arena2" => (0.98, 10.5, 0.5, 0.002),
            "jemalloc" => (1.0, 11.0, 0.55, 0.3),
            "jemalloc-bg" => (0.95 + 0.02 * (run as f64 - 1.0), 11.0, 0.6, 0.34),
            _ => (1.05, 9.0, 0.5, 0.8),
        };
        let mut c = CostRecord::stopped("");
        c.failure = None;
        c.server_command = vec![
            format!("/work/target/release/{}", r.header.variant.binary),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--workers".into(),
            "4".into(),
        ];
        c.server_command
            .extend(r.header.variant.args.iter().cloned());
        c.nproc = 2;
        c.latency_rate = Some(300.0);
        c.latency_rate_basis = Some("0.5 x the capacity of glibc #0 (600/s)".into());
        c.figures = CostFigures {
            capacity_rps: Some(600.0 * DRIFT[run] * share),
            latency_p50_ms: Some(p99 / 4.0),
            latency_p99_ms: Some(p99 * DRIFT[run]),
            server_cpu_s_per_1000: Some(cpu),
            server_system_s_per_1000: Some(cpu * 0.6),
            minflt_per_response: Some(faults),
            capacity_server_cores: Some(0.9),
            capacity_client_cores: Some(0.8),
            client_bound: None,
            latency_rate_to_capacity: None,
        };
        if r.header.variant.name == "jemalloc-bg" && run == 0 {
            c.figures.client_bound =
                Some("the client used 1.95 of the 2 cores its 2 processes can use".into());
        }
        if r.header.variant.name == "mimalloc" && run == 1 {
            c.failure = Some("the capacity server did not answer".into());
            c.figures = CostFigures::default();
        }
        r.header.cost_spec = Some(cost_spec());
        r.cost = Some(c);
    }
    records
}

#[test]
fn cost_data_gives_a_recommendation_a_price_table_and_the_cost_plot() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = report_dir(&tmp, "cost");
    write_records(&dir, &with_cost());
    report::render(&dir).unwrap();

    let s = read_summary(&dir);
    assert_eq!(s["schema_version"], 1, "keys added, none changed");
    let c = &s["cost"];
    for key in [
        "reference",
        "budget",
        "latency_rate",
        "latency_rate_basis",
        "latency_rates",
        "processes",
        "connections",
        "warmup_s",
        "capacity_s",
        "latency_s",
        "latency_at",
        "nproc",
        "server_args",
        "recommendation",
    ] {
        assert!(c.get(key).is_some(), "cost has no {key}: {c}");
    }
    assert_eq!(c["reference"], "glibc");
    assert_eq!(c["budget"]["max_retention"], 0.1);
    assert_eq!(c["latency_rate"], 300.0);
    assert_eq!(c["latency_rates"][0]["runs"], 18);
    assert_eq!(
        c["server_args"],
        json!(["--listen", "127.0.0.1:0", "--workers", "4"])
    );

    let variant = |name: &str| -> Value {
        s["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap()
            .clone()
    };
    let bg = variant("jemalloc-bg");
    let bc = &bg["cost"];
    for key in [
        "apply_line",
        "runs",
        "capacity_rps",
        "latency_p50_ms",
        "latency_p99_ms",
        "server_cpu_s_per_1000",
        "server_system_s_per_1000",
        "minflt_per_response",
        "capacity_server_cores",
        "capacity_client_cores",
        "ratio_to_reference",
        "client_bound_runs",
        "client_bound",
        "latency_rates",
        "rate_above_capacity",
        "failures",
    ] {
        assert!(
            bc.get(key).is_some(),
            "jemalloc-bg's cost has no {key}: {bc}"
        );
    }
    // Paired per round: 0.93, 0.95, 0.97 of glibc's, whatever the machine did between rounds
    // (the medians' ratio would be 558 / 600 = 0.93).
    let ratio = &bc["ratio_to_reference"]["capacity_rps"];
    let close = |v: &Value, x: f64| (v.as_f64().unwrap() - x).abs() < 1e-9;
    assert!(close(&ratio["median"], 0.95), "{ratio}");
    assert!(
        close(&ratio["min"], 0.93) && close(&ratio["max"], 0.97),
        "{ratio}"
    );
    assert_eq!(ratio["n"], 3);
    assert!(close(&bc["capacity_rps"]["median"], 558.0), "{bc}");
    assert_eq!(bc["client_bound_runs"], 1);
    assert_eq!(bc["client_bound"][0]["run_index"], 0);
    assert_eq!(
        bc["apply_line"],
        "link jemalloc as the global allocator, with _RJEM_MALLOC_CONF=background_thread:true"
    );
    // mimalloc: three runs with a cost record, two measured; the stopped one said why.
    let mc = &variant("mimalloc")["cost"];
    assert_eq!(mc["runs"], 3);
    assert_eq!(mc["capacity_rps"]["n"], 2);
    assert_eq!(mc["ratio_to_reference"]["capacity_rps"]["n"], 2);
    assert_eq!(
        mc["failures"][0]["why"],
        "the capacity server did not answer"
    );
    // mmap64k's capacity (270, 405 and 216/s) was below the 300/s it was then driven at in
    // rounds 0 and 2.
    let over: Vec<Value> = variant("glibc-mmap64k")["cost"]["rate_above_capacity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["run_index"].clone())
        .collect();
    assert_eq!(over, [0, 2]);

    let rec = &c["recommendation"];
    assert_eq!(rec["budget_stated"], true);
    assert_eq!(rec["cheapest"], "jemalloc-bg");
    let within: Vec<&str> = rec["within_budget"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(within, ["jemalloc-bg", "glibc-mmap64k"]);
    let over: Vec<&str> = rec["over_budget"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(over, ["glibc", "glibc-arena2", "jemalloc", "mimalloc"]);

    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let at = |needle: &str| {
        md.find(needle)
            .unwrap_or_else(|| panic!("no {needle}: {md}"))
    };
    assert!(at("Variants:\n") < at("## Recommendation\n"));
    assert!(at("## Recommendation\n") < at("## Results\n"));
    assert!(
        md.contains("**Cheapest within the budget: `jemalloc-bg`**, applied with `link jemalloc as the global allocator, with _RJEM_MALLOC_CONF=background_thread:true`. Its price: 0.95× glibc's capacity (0.93–0.97 over 3 rounds)"),
        "{md}"
    );
    assert!(
        md.contains("Its capacity was the client's in 1 run (the client used 1.95 of the 2 cores its 2 processes can use): a lower bound of the client, not the server's."),
        "{md}"
    );
    assert!(
        md.contains("- `glibc` (the reference): retention 0.97 > 0.10 (0.96–0.97 over 3 runs); after drain 321.4 MiB > 64.0 MiB"),
        "{md}"
    );
    assert!(at("## The price of each fix\n") > at("## Results\n"));
    assert!(!md.contains("## Cost\n"), "{md}");
    assert!(
        md.contains("| jemalloc-bg | 3 | 558 ‡ | 0.95 (0.93–0.97) |"),
        "{md}"
    );
    assert!(md.contains("| mimalloc | 3 (2 measured) |"), "{md}");
    assert!(
        md.contains("`mimalloc` run 1: the capacity server did not answer"),
        "{md}"
    );

    let png = std::fs::read(dir.join("cost.png")).unwrap();
    assert_eq!(png_height(&png), 1300, "four panels, two by two");
    let svg = std::fs::read_to_string(dir.join("cost.svg")).unwrap();
    for name in [
        "capacity ÷ glibc",
        "p99 ÷ glibc",
        "faults per response, absolute",
    ] {
        assert!(svg.contains(name), "cost.svg has no {name}");
    }
}

#[test]
fn without_cost_data_no_cost_keys_and_no_recommendation() {
    let tmp = tempfile::tempdir().unwrap();
    write_records(tmp.path(), &realistic());
    report::render(tmp.path()).unwrap();
    let s = read_summary(tmp.path());
    assert!(s.get("cost").is_none(), "{}", s["cost"]);
    assert!(s["variants"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v.get("cost").is_none()));
    let md = std::fs::read_to_string(tmp.path().join("report.md")).unwrap();
    assert!(!md.contains("## Recommendation") && !md.contains("## The price of each fix"));
    assert!(md.contains("## Cost\n"), "{md}");
    let png = std::fs::read(tmp.path().join("cost.png")).unwrap();
    assert_eq!(png_height(&png), 900);
}
