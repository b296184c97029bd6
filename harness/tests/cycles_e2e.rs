//! Leak or retention, end to end: three cycles of load and drain against the real server. An
//! allocator that keeps what a burst needed reuses it (plateau); the server's `--leak` test
//! mode leaks a fixed amount per request, and the verdict must say growth.

mod common;

use common::run;
use common::scenario::ScenarioFile;
use serde_json::Value;

/// The shared toy scenario, three cycles of 2 s of load and 2 s of drain, and `leak`.
fn three_cycles(variant: &str, leak: Option<&str>) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let mut s = ScenarioFile::toy("cycles")
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

#[test]
fn three_cycles_of_the_same_load_are_a_plateau_for_an_allocator_that_retains() {
    let rec = three_cycles("mimalloc", None);
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
