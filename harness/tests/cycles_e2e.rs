//! Leak or retention, end to end: three cycles of load and drain against the real server. An
//! allocator that keeps what a burst needed reuses it (plateau); the server's `--leak` test
//! mode leaks a fixed amount per request, and the verdict must say growth.

mod common;

use common::run;
use common::scenario::ScenarioFile;
use serde_json::Value;

/// The shared toy scenario with 48 connections on one server worker thread, three cycles of
/// 2 s of load and 2 s of drain, and `leak`. 48 buffers of 1 MiB in flight make a growth of
/// about 50 MiB, so the rule's allowance for A (a tenth of it) is well above the MiB or two
/// that mimalloc's A moves by between cycles (with the shared scenario's 16 connections, an
/// 18 MiB growth and a 1.8 MiB allowance, a plateau read as growth in two full-suite runs of
/// five). One worker, because mimalloc keeps freed pages in the heap of the thread that
/// allocated them: with two, a cycle whose requests landed on the other thread allocated anew
/// beside what the first kept, and its peak came out 1.34 times the first's.
fn three_cycles(variant: &str, leak: Option<&str>) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let mut s = ScenarioFile::toy("cycles")
        .set("server.workers", 1)
        .set("load.connections", 48)
        .set("phases.cycles", 3)
        .set("phases.drain", "2s");
    if let Some(l) = leak {
        s = s.set("server.leak", l);
    }
    let (code, rec) = run(&s.write(dir.path(), "cycles.toml"), variant);
    assert_eq!(code, Some(0), "{variant}: {}", rec["failure"]);
    rec
}

fn verdict(rec: &Value) -> (&str, Vec<u64>, Vec<u64>) {
    let f = &rec["figures"];
    let cycles = f["cycles"].as_array().expect("cycles");
    let mib = |k: &str| -> Vec<u64> {
        cycles
            .iter()
            .map(|c| c[k].as_u64().expect(k) >> 20)
            .collect()
    };
    (
        f["cycle_verdict"]["verdict"].as_str().expect("verdict"),
        mib("peak_bytes"),
        mib("after_drain_bytes"),
    )
}

/// tcmalloc, not mimalloc: tcmalloc keeps every freed byte and reuses it, so each cycle's A is
/// the last one's (its A varied by 3 MiB over 52 runs of a similar load, observation_e2e),
/// while an idle mimalloc sometimes gives back by itself in one drain and not the next (A per
/// cycle 22, 38, 59 MiB in a CI run on 2026-12-07: "growth" by chance).
#[test]
fn three_cycles_of_the_same_load_are_a_plateau_for_an_allocator_that_retains() {
    let rec = three_cycles("tcmalloc", None);
    let names: Vec<&str> = rec["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["startup", "warmup", "before", "during", "drain", "during", "drain", "during", "drain"]
    );
    let (v, p, a) = verdict(&rec);
    assert_eq!(
        v, "plateau",
        "P {p:?} A {a:?}: {}",
        rec["figures"]["cycle_verdict"]
    );
}

#[test]
fn a_server_that_leaks_per_request_is_growth() {
    // 256 KiB per request at ~150 requests/s: tens of MiB more every cycle.
    let rec = three_cycles("mimalloc", Some("256KiB"));
    let (v, p, a) = verdict(&rec);
    assert_eq!(
        v, "growth",
        "P {p:?} A {a:?}: {}",
        rec["figures"]["cycle_verdict"]
    );
    assert!(a[2] > a[0] + 16, "A per cycle {a:?} MiB");
    // The app says so too: what it leaked is in its live bytes.
    let last = rec["stats"].as_array().unwrap().last().unwrap();
    assert!(
        last["stats"]["app"]["leaked_bytes"].as_u64().unwrap() > 16 << 20,
        "{last}"
    );
}
