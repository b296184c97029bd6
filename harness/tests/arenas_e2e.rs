//! glibc's arenas in a real run: the toy server's glibc build links the probe, whose page
//! carries glibc's per-arena figures; the record keeps them with every probe reading, the
//! arenas add up to glibc's process-wide `mallinfo2` figures, and the report shows them at A.

mod common;

use common::run;
use common::scenario::ScenarioFile;
use serde_json::Value;

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Sums of the arenas' system and free bytes, and `mallinfo2`'s arena and fordblks, of one
/// reading.
fn sums(page: &Value) -> [u64; 4] {
    let arenas = page["glibc_arenas"]["arenas"].as_array().unwrap();
    let sum = |k: &str| arenas.iter().map(|a| u(&a[k])).sum::<u64>();
    let f = &page["figures"];
    [
        sum("system_bytes"),
        sum("free_bytes"),
        u(&f["glibc.arena"]),
        u(&f["glibc.fordblks"]),
    ]
}

#[test]
fn a_glibc_toy_run_records_each_arena_and_they_add_up_to_mallinfo2() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = ScenarioFile::toy("arenas").write(dir.path(), "arenas.toml");
    let (code, rec) = run(&scenario, "glibc");
    assert_eq!(code, Some(0), "{}", rec["failure"]);
    let pages: Vec<&Value> = rec["probe_readings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["pages"].as_array().unwrap())
        .collect();
    assert!(pages.len() >= 20, "{} readings", pages.len());
    for p in &pages {
        let g = &p["glibc_arenas"];
        let arenas = g["arenas"].as_array().unwrap_or_else(|| panic!("{p}"));
        assert!(
            u(&g["count"]) >= arenas.len() as u64 && !arenas.is_empty(),
            "{g}"
        );
        for a in arenas {
            assert!(u(&a["free_bytes"]) <= u(&a["system_bytes"]), "{a}");
        }
    }
    // The server's worker threads allocate in arenas of their own.
    let most = pages.iter().map(|p| u(&p["glibc_arenas"]["count"])).max();
    assert!(most >= Some(2), "at most {most:?} arenas");
    // Read apart (mallinfo2, then malloc_info), the two agree whenever nothing allocated in
    // between: in an idle drain, at least once.
    assert!(
        pages.iter().any(|p| {
            let [system, free, arena, fordblks] = sums(p);
            system == arena && free == fordblks
        }),
        "no reading where the arenas add up to mallinfo2: {:?}",
        pages
            .iter()
            .rev()
            .take(3)
            .map(|p| sums(p))
            .collect::<Vec<_>>()
    );
    let out = common::allocstorm(dir.path(), &["report", "out"]);
    assert_eq!(out.code, 0, "{out:?}");
    let report = std::fs::read_to_string(dir.path().join("out/report.md")).unwrap();
    assert!(report.contains("### glibc's arenas at A"), "{report}");
    assert!(report.contains("| glibc | main |"), "{report}");
}
