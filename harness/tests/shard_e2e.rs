//! A comparison fanned out over shards (`compare --shard I/N`), merged by `report DIR... --out`
//! and gated by `gate --run DIR...`: two shards of one run per variant, merged, give the report
//! of one comparison with two runs per variant — the same keys in summary.json, the same
//! sections and tables in report.md, the same run count — plus the list of shards; shards
//! measured under different keys are refused with exit 2 and one line naming the field, both
//! values and both directories.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use common::records::{header, write_records};
use common::scenario::ScenarioFile;
use common::{allocstorm, read_json, BIN};
use serde_json::Value;

/// The shared toy scenario on glibc and jemalloc, made lighter so that three comparisons can
/// run side by side on a 2-core machine: one load process of 8 connections at a fixed 100
/// requests/s, 1 s of load and 1 s of drain.
fn write_scenario(dir: &Path) {
    ScenarioFile::toy("shard-e2e")
        .set("variants", vec!["glibc", "jemalloc"])
        .set("load.processes", 1)
        .set("load.connections", 8)
        .set("load.rate", "100/s")
        .set("phases.during", "1s")
        .set("phases.drain", "1s")
        .write(dir, "shard.toml");
}

/// `allocstorm compare` of the scenario into `out` with `extra` flags, started (not waited for).
fn compare(dir: &Path, out: &str, extra: &[&str]) -> std::process::Child {
    Command::new(BIN)
        .args([
            "compare",
            "--scenario",
            "shard.toml",
            "--quiet",
            "--out",
            out,
        ])
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Every key path of a JSON value (`variants[].run_figures[].rss_after_drain_bytes`), arrays
/// taken as the union of their elements'.
fn key_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = format!("{prefix}.{k}");
                out.insert(p.clone());
                key_paths(v, &p, out);
            }
        }
        Value::Array(a) => {
            for v in a {
                key_paths(v, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn keys_of(summary: &Value) -> BTreeSet<String> {
    let mut k = BTreeSet::new();
    key_paths(summary, "", &mut k);
    k
}

/// The section headings of a report.md and the header row of each of its tables.
fn shape_of_markdown(md: &str) -> Vec<String> {
    let lines: Vec<&str> = md.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter(|(i, l)| {
            let separator = |n: &&str| n.starts_with('|') && n.chars().all(|c| "|-: ".contains(c));
            l.starts_with('#') || (l.starts_with('|') && lines.get(i + 1).is_some_and(separator))
        })
        .map(|(_, l)| l.to_string())
        .collect()
}

fn records_in(dir: &Path) -> Vec<Value> {
    let mut names: Vec<_> = std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    names.iter().map(|p| read_json(p)).collect()
}

#[test]
fn two_shards_merged_report_like_one_comparison_with_twice_the_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_scenario(dir);

    // The two shards and the unsharded comparison of twice the runs, side by side: the
    // figures differ from run to run anyway, the shape of the report does not.
    let jobs = [
        ("s1", compare(dir, "s1", &["--runs", "1", "--shard", "1/2"])),
        ("s2", compare(dir, "s2", &["--runs", "1", "--shard", "2/2"])),
        ("whole", compare(dir, "whole", &["--runs", "2"])),
    ];
    for (name, child) in jobs {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "compare {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Each shard numbers its runs apart and records its shard.
    for (shard, n) in [("s1", 1), ("s2", 2)] {
        let recs = records_in(&dir.join(shard));
        let ids: Vec<String> = recs
            .iter()
            .map(|r| {
                format!(
                    "{}-{}",
                    r["variant"]["name"].as_str().unwrap(),
                    r["run_index"]
                )
            })
            .collect();
        assert_eq!(
            ids,
            [format!("glibc-{n}"), format!("jemalloc-{n}")],
            "{shard}"
        );
        for r in &recs {
            assert_eq!(
                r["shard"],
                serde_json::json!({"index": n, "count": 2}),
                "{shard}"
            );
        }
        let s = read_json(&dir.join(shard).join("summary.json"));
        assert_eq!(s["shards"][0]["index"], n, "{shard}: {}", s["shards"]);
    }
    assert!(
        records_in(&dir.join("whole"))
            .iter()
            .all(|r| r.get("shard").is_none()),
        "an unsharded comparison records no shard"
    );

    // Several directories need a place for the merged report.
    let o = allocstorm(dir, &["report", "s1", "s2"]);
    assert_eq!(o.code, 2, "{o:?}");
    assert_eq!(o.stderr.lines().count(), 1, "{o:?}");
    assert!(o.stderr.contains("--out"), "{o:?}");

    let o = allocstorm(dir, &["report", "s1", "s2", "--out", "merged"]);
    assert_eq!(o.code, 0, "{o:?}");
    let merged = read_json(&dir.join("merged/summary.json"));
    let whole = read_json(&dir.join("whole/summary.json"));

    // The same keys, but for the shards the merged report lists.
    let mut merged_keys = keys_of(&merged);
    merged_keys.retain(|k| !k.starts_with(".shards"));
    assert_eq!(merged_keys, keys_of(&whole), "summary.json keys");
    let shards = merged["shards"].as_array().unwrap();
    let listed: Vec<(u64, u64, u64, u64)> = shards
        .iter()
        .map(|s| {
            (
                s["index"].as_u64().unwrap(),
                s["runs"].as_u64().unwrap(),
                s["first_run"].as_u64().unwrap(),
                s["last_run"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, [(1, 2, 1, 1), (2, 2, 2, 2)]);
    assert!(whole.get("shards").is_none());

    // The same run count, variant by variant.
    let runs = |s: &Value| -> Vec<(String, u64, usize)> {
        s["variants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["name"].as_str().unwrap().to_string(),
                    v["runs"].as_u64().unwrap(),
                    v["run_figures"].as_array().unwrap().len(),
                )
            })
            .collect()
    };
    assert_eq!(runs(&merged), runs(&whole));
    assert_eq!(runs(&merged)[0].1, 2);
    // Shards of one machine, one key: nothing to warn of but the load, which 8 connections
    // that hold each response 100 ms cannot carry at 100/s (80/s at most): each variant's
    // runs are overloaded, in the merged report as in the whole one.
    let warnings: Vec<&str> = merged["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    let (overloaded, other): (Vec<&str>, Vec<&str>) = warnings
        .iter()
        .partition(|w| w.contains(": overloaded in runs #1, #2: "));
    assert_eq!(other, Vec::<&str>::new());
    assert_eq!(overloaded.len(), 2, "{overloaded:?}");
    assert_eq!(
        whole["warnings"].as_array().unwrap().len(),
        2,
        "{}",
        whole["warnings"]
    );

    // The same sections and tables in report.md; the shards named in its environment.
    let md = std::fs::read_to_string(dir.join("merged/report.md")).unwrap();
    let whole_md = std::fs::read_to_string(dir.join("whole/report.md")).unwrap();
    assert_eq!(shape_of_markdown(&md), shape_of_markdown(&whole_md));
    assert!(md.contains("- shard 1/2: host `"), "{md}");
    assert!(md.contains("- shard 2/2: host `"), "{md}");
    assert!(!whole_md.contains("- shard "), "{whole_md}");
    assert!(md.contains("Measured in 2 of 2 shards"), "{md}");
    assert!(!whole_md.contains("Measured in"), "{whole_md}");

    // The merged directory is a report directory like any other: rendered again, the same.
    let before = (
        std::fs::read(dir.join("merged/summary.json")).unwrap(),
        std::fs::read(dir.join("merged/report.md")).unwrap(),
    );
    let o = allocstorm(dir, &["report", "merged"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(before.0 == std::fs::read(dir.join("merged/summary.json")).unwrap());
    assert!(before.1 == std::fs::read(dir.join("merged/report.md")).unwrap());
    // ... and not a place to merge into again.
    let o = allocstorm(dir, &["report", "s1", "s2", "--out", "merged"]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(
        o.stderr.contains("merged/runs: already holds run records"),
        "{o:?}"
    );

    // The gate on the shards is the gate on the merged directory.
    let shards_gate = allocstorm(dir, &["gate", "--run", "s1", "s2"]);
    let merged_gate = allocstorm(dir, &["gate", "--run", "merged"]);
    assert_eq!(shards_gate.code, 0, "{shards_gate:?}");
    assert_eq!(merged_gate.code, 0, "{merged_gate:?}");
    assert_eq!(
        shards_gate.stdout.replace("s1 s2", "merged"),
        merged_gate.stdout
    );
    assert!(merged_gate.stdout.contains("jemalloc"), "{merged_gate:?}");

    // A shard measured under another key (here: another core count) is refused, by both.
    let other = dir.join("s2-other");
    std::fs::create_dir_all(other.join("runs")).unwrap();
    for entry in std::fs::read_dir(dir.join("s2/runs")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "json") {
            let mut r = read_json(&p);
            let nproc = r["environment"]["nproc"].as_u64().unwrap();
            r["environment"]["nproc"] = (nproc + 6).into();
            std::fs::write(
                other.join("runs").join(p.file_name().unwrap()),
                serde_json::to_vec(&r).unwrap(),
            )
            .unwrap();
        }
    }
    let nproc = records_in(&dir.join("s1"))[0]["environment"]["nproc"]
        .as_u64()
        .unwrap();
    for args in [
        &["report", "s1", "s2-other", "--out", "mixed"][..],
        &["gate", "--run", "s1", "s2-other"][..],
    ] {
        let o = allocstorm(dir, args);
        assert_eq!(o.code, 2, "{args:?}: {o:?}");
        assert_eq!(o.stderr.lines().count(), 1, "{args:?}: {o:?}");
        let want = format!("nproc ({nproc} in s1, {} in s2-other)", nproc + 6);
        assert!(o.stderr.contains(&want), "{args:?}: {want}: {o:?}");
        assert!(o.stderr.contains("different keys"), "{args:?}: {o:?}");
    }
    assert!(
        !dir.join("mixed/runs").exists(),
        "nothing copied when refused"
    );

    // The same shard twice is two copies of the same runs.
    let o = allocstorm(dir, &["report", "s1", "s1", "--out", "twice"]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("both hold run glibc #1"), "{o:?}");

    // One directory given: the report as it always was, in place.
    let o = allocstorm(dir, &["report", "whole"]);
    assert_eq!(o.code, 0, "{o:?}");
}

/// Synthetic shards, no server: every key field named with its values and the directories;
/// shards of another N; a shard not given is noted and the rest still merged.
#[test]
fn merges_refuse_other_keys_and_note_missing_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let shard_dir =
        |name: &str, index: u32, count: u32, edit: &dyn Fn(&mut allocstorm::record::RunHeader)| {
            let records: Vec<_> = ["glibc", "jemalloc"]
                .iter()
                .map(|v| {
                    let mut h = header(v, index, &format!("2026-12-05T0{index}:00:00Z"));
                    h.shard = Some(allocstorm::shard::Shard { index, count });
                    edit(&mut h);
                    let mut r = allocstorm::record::RunRecord::from_header(h);
                    r.figures.rss_after_drain_bytes = Some(64 << 20);
                    r
                })
                .collect();
            write_records(&dir.join(name), &records);
        };
    shard_dir("a", 1, 3, &|_| {});
    shard_dir("b", 2, 3, &|_| {});
    shard_dir("quick", 2, 3, &|h| {
        h.quick = true;
        h.environment.glibc_version = "2.36".into();
    });
    shard_dir("four", 2, 4, &|_| {});

    let o = allocstorm(dir, &["report", "a", "quick", "--out", "x"]);
    assert_eq!(o.code, 2, "{o:?}");
    assert_eq!(o.stderr.lines().count(), 1, "{o:?}");
    for want in [
        "a and quick were measured under different keys",
        "quick (false in a, true in quick)",
        "glibc_version (\"2.39\" in a, \"2.36\" in quick)",
    ] {
        assert!(o.stderr.contains(want), "{want}: {o:?}");
    }

    let o = allocstorm(dir, &["gate", "--run", "a", "four"]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(
        o.stderr.contains("a is shard 1/3 and four shard 2/4"),
        "{o:?}"
    );

    let o = allocstorm(dir, &["report", "a", "b", "--out", "ab"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("note: shard 3/3 not given"), "{o:?}");
    let s = read_json(&dir.join("ab/summary.json"));
    assert_eq!(s["variants"][0]["runs"], 2, "{s}");
    assert_eq!(s["shards"].as_array().unwrap().len(), 2, "{s}");
    let scenario = common::root().join("scenarios/hot-range.toml");
    let scenario = scenario.to_str().unwrap();
    let o = allocstorm(dir, &["gate", "--run", "a", "b", "--scenario", scenario]);
    assert_ne!(o.code, 2, "{o:?}");
    assert!(
        o.stdout.contains("shard 3/3 not given"),
        "the gate's notes say so too: {o:?}"
    );
}
