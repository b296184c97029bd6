//! The synthetic records of the report tests: a record made from a function of time, the
//! event stream a killed harness leaves, the incident-000 picture, sweeps, pool series and cost.

use std::path::{Path, PathBuf};

use crate::common::records::{header, variant};
use allocstorm::cost::{CostFigures, CostRecord};
use allocstorm::figures::{self, PhaseMark};
use allocstorm::load::{Counts, LoadSummary, Percentiles};
use allocstorm::provenance::Environment;
use allocstorm::record::{Event, PhaseLoad, RunHeader, RunRecord, StatsSample};
use allocstorm::sample::{MappingBreakdown, Sample};
use allocstorm::scenario::{
    CostSpec, MemoryBudget, ReportSpec, SeriesKind, SeriesSpec, SeriesUnit, SweepPoint,
};
use serde_json::{json, Value};

pub(crate) const MIB: f64 = 1024.0 * 1024.0;

/// Phase plan of every synthetic run, in seconds since the run started.
pub(crate) const STARTUP: (f64, f64) = (0.0, 0.4);
pub(crate) const WARMUP: (f64, f64) = (0.4, 2.4);
pub(crate) const BEFORE: (f64, f64) = (2.4, 5.4);
pub(crate) const DURING: (f64, f64) = (5.4, 25.4);
pub(crate) const DRAIN: (f64, f64) = (25.4, 40.4);

pub(crate) fn phases() -> Vec<PhaseMark> {
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
pub(crate) fn environment() -> Environment {
    Environment {
        kernel: "6.1.0-test".into(),
        ..crate::common::records::environment()
    }
}

pub(crate) fn load_summary(throughput: f64, p50: f64, p99: f64) -> LoadSummary {
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
        intended: Some(ok + 10),
        duration_s: duration,
        elapsed_s: duration + 1.0,
        ended_s: None,
        started: None,
        throughput_rps: throughput,
        bytes_per_s: throughput * MIB,
        latency_ms: lat.clone(),
        latency_uncorrected_ms: lat,
        error_latency_ms: Percentiles::default(),
        latency_histogram_us: vec![],
        client_cpu_s: 1.0,
        workers: vec![],
        per_request: vec![],
        per_second: vec![],
    }
}

/// What one synthetic run looks like.
pub(crate) struct Shape {
    /// RssAnon in MiB at `t` seconds since the run started.
    pub(crate) rss: Box<dyn Fn(f64) -> f64>,
    pub(crate) throughput: f64,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    /// Share of RssAnon above the baseline the allocator holds free (the rest the app holds).
    pub(crate) free_share_after: f64,
}

/// A complete record made from a shape: samples every 100 ms, `/stats` every second,
/// figures computed as the harness computes them.
pub(crate) fn record(name: &str, run: u32, started_at: &str, shape: &Shape) -> RunRecord {
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
                // 1,000 minor faults a second: a counter only grows.
                minflt: 100 + (t * 1000.0) as u64,
                majflt: 0,
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
    // Records of this shape were written before the load's end was kept: t90 from `during`'s.
    r.figures = figures::compute(&samples, &marks);
    r.phases = marks;
    r.load = Some(load.clone());
    r.phase_loads = vec![PhaseLoad {
        phase: "during".into(),
        summary: load,
        started_t: None,
        ended_t: None,
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
pub(crate) fn step_shape(before: f64, peak: f64, after: f64) -> Shape {
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
pub(crate) fn report_dir(tmp: &tempfile::TempDir, name: &str) -> PathBuf {
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

pub(crate) fn read_summary(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

pub(crate) fn mib(v: &Value) -> f64 {
    v.as_f64().unwrap() / MIB
}

/// The event stream the harness writes for a record, as far as a kill at `cut_at` lets it.
pub(crate) fn events(r: &RunRecord, cut_at: Option<f64>) -> Vec<Event> {
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

pub(crate) fn write_events(path: &Path, events: &[Event], torn_tail: bool) {
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

/// The incident-000 picture: glibc keeps most of its peak, the fixes fall back, at a price.
pub(crate) fn realistic() -> Vec<RunRecord> {
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

pub(crate) fn png_width(bytes: &[u8]) -> u32 {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is IHDR");
    u32::from_be_bytes(bytes[16..20].try_into().unwrap())
}

pub(crate) fn png_height(bytes: &[u8]) -> u32 {
    png_width(bytes);
    u32::from_be_bytes(bytes[20..24].try_into().unwrap())
}

/// One point of a thread sweep, `base@threads=VALUE`: one glibc arena heap before the load and
/// `arenas` from the load on, each adding 64 MiB to a VmSize of 1000 MiB; RssAnon peaks at
/// 50 + VALUE MiB.
pub(crate) fn sweep_point(base: &str, value: u64, arenas: u64, started_at: &str) -> RunRecord {
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
pub(crate) fn thread_sweep() -> Vec<RunRecord> {
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

/// Pool counters in `/stats`: `get_on_empty` goes `counter` at the readings 1 s apart from
/// the load's start on, `bytes_total` peaks at `pool_mib`.
pub(crate) fn with_pool_stats(mut r: RunRecord, counter: &[u64], pool_mib: u64) -> RunRecord {
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

/// The scenario's `[cost]` of [`with_cost`]: glibc the reference, a budget of retention 0.10
/// and 64 MiB after the drain.
pub(crate) fn cost_spec() -> CostSpec {
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
pub(crate) fn with_cost() -> Vec<RunRecord> {
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
