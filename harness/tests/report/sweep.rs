//! Sweeps: the sweep plot, its fields and its table.

use crate::common::records::write_records;
use allocstorm::record::RunRecord;
use allocstorm::report::{self};
use allocstorm::scenario::SweepPoint;
use serde_json::{json, Value};

use crate::fixtures::*;

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
