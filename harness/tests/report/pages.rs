//! Huge pages, page faults and A's spread, end to end from records to `summary.json` and
//! `report.md`: an allocator whose memory is mostly transparent huge pages and whose A
//! scatters between identical runs, as an idle mimalloc's did (issue 25).

use crate::common::records::write_records;
use allocstorm::record::RunRecord;
use allocstorm::report;
use allocstorm::sample::SmapsRollup;

use crate::fixtures::*;

/// `r` with a smaps reading every second, `share` of its RssAnon in huge pages.
fn with_huge_pages(mut r: RunRecord, share: f64) -> RunRecord {
    r.smaps = r
        .samples
        .iter()
        .filter(|s| (s.t * 10.0).round() as u64 % 10 == 0)
        .map(|s| SmapsRollup {
            t: s.t,
            rss: s.vm_rss,
            anonymous: s.rss_anon,
            anon_huge_pages: (s.rss_anon as f64 * share) as u64,
            ..Default::default()
        })
        .collect();
    r
}

/// Three runs of `mimalloc` whose A is 20, 80 and 200 MiB, 90% of it in huge pages.
fn scattered() -> Vec<RunRecord> {
    [20.0, 80.0, 200.0]
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            let at = format!("2026-01-01T00:0{i}:00Z");
            with_huge_pages(
                record("mimalloc", i as u32 + 1, &at, &step_shape(5.0, 300.0, a)),
                0.9,
            )
        })
        .collect()
}

#[test]
fn huge_pages_faults_and_the_range_of_a_reach_the_summary_and_the_page() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = report_dir(&tmp, "pages");
    write_records(&dir, &scattered());
    report::render(&dir).unwrap();

    let s = read_summary(&dir);
    let v = &s["variants"][0];
    assert_eq!(mib(&v["rss_after_drain_min_bytes"]), 20.0);
    assert_eq!(mib(&v["rss_after_drain_max_bytes"]), 200.0);
    // 90% of B (5 MiB), of the median A (80 MiB) and, at the peak, of the reading nearest its
    // moment (25.4 s): the one at 25.0 s, of 294.1 MiB on the way up.
    assert!(
        (mib(&v["anon_huge_pages_before_bytes"]) - 4.5).abs() < 0.01,
        "{v}"
    );
    assert!(
        (mib(&v["anon_huge_pages_peak_bytes"]) - 264.7).abs() < 0.05,
        "{v}"
    );
    assert!(
        (mib(&v["anon_huge_pages_after_drain_bytes"]) - 72.0).abs() < 0.01,
        "{v}"
    );
    // 1,000 minor faults a second over the 20 s load; no major fault.
    assert_eq!(v["minflt_during"], 20_000, "{v}");
    assert_eq!(v["majflt_during"], 0);
    assert_eq!(v["run_figures"][0]["minflt_during"], 20_000);

    // The mapping breakdown nearest the peak moment (25.4 s) is the one of 25.0 s, with the
    // RssAnon of its own moment beside it: below P, which came later.
    let at_peak = &v["memory_breakdown"]["mappings"][1];
    assert_eq!(at_peak["when"], "peak");
    assert_eq!(at_peak["breakdown"]["t"], 25.0);
    assert!(
        (mib(&at_peak["rss_anon_bytes"]) - 294.1).abs() < 0.05,
        "{at_peak}"
    );

    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("| A min–max (MiB) |"), "{md}");
    assert!(md.contains("| **80.0** | 20.0–200.0 |"), "{md}");
    assert!(md.contains("## Transparent huge pages\n"), "{md}");
    assert!(
        md.contains("- `mimalloc`: 72.0 of 80.0 MiB after the drain is AnonHugePages (its median run, 2).\n"),
        "{md}"
    );
    assert!(md.contains("| minor faults | major faults |"), "{md}");
    assert!(md.contains("| 20000 | 0 |"), "{md}");
}

#[test]
fn records_without_smaps_or_fault_counts_show_no_such_figure() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = report_dir(&tmp, "pages-old");
    let old: Vec<RunRecord> = (1..=2)
        .map(|i| {
            let mut r = record(
                "glibc",
                i,
                "2026-01-01T00:00:00Z",
                &step_shape(5.0, 100.0, 50.0),
            );
            r.samples.iter_mut().for_each(|s| s.minflt = 0);
            r
        })
        .collect();
    write_records(&dir, &old);
    report::render(&dir).unwrap();
    let v = &read_summary(&dir)["variants"][0];
    assert!(v["minflt_during"].is_null() && v["anon_huge_pages_after_drain_bytes"].is_null());
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(!md.contains("## Transparent huge pages"), "{md}");
}
