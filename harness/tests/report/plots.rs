//! The plots and files a report writes, with and without ok runs.

use crate::common::records::write_records;
use allocstorm::figures::{self};
use allocstorm::record::RunStatus;
use allocstorm::report::{self, markdown::table_header};

use crate::fixtures::*;

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
    assert!(md.contains(&table_header()), "{md}");
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
