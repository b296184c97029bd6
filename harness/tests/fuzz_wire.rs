//! Fuzz of the lines a coordinator and a load worker read from each other (issue 28): the
//! coordinator's reading of a new connection's first line (`remote::hello_from`: the bounded
//! reader, then `hello` or not), and the worker's reading of the coordinator's lines (the plan
//! or a refusal, `remote::worker::answer`; `go`, `remote::worker::start_in`). Inputs are random
//! bytes, long lines, and valid lines mangled (cut, spliced, a value swapped for an extreme
//! one). Whatever comes: no panic, a bounded read, and only a well-formed answer accepted.
//!
//! `FUZZ_CASES` cases per property (2000 by default; `make fuzz` runs many more).

use std::cell::Cell;
use std::net::SocketAddr;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use tokio::io::BufReader;

use allocstorm::load::bounded::{self, HANDSHAKE_MAX};
use allocstorm::load::remote::{self, worker, NotHello};
use allocstorm::load::wire::{FromWorker, ToWorker, WorkerPlan};
use allocstorm::load::{LoadPlan, Target};

/// The number of cases: `FUZZ_CASES` if set (as `make fuzz` does), else `ci_default`.
fn cases(ci_default: u32) -> u32 {
    std::env::var("FUZZ_CASES").map_or(ci_default, |v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("FUZZ_CASES={v:?} is not a number of cases"))
    })
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(2000),
        max_shrink_iters: 2_000,
        failure_persistence: None,
        ..Config::default()
    })
}

fn coordinator() -> SocketAddr {
    "10.1.2.3:7070".parse().unwrap()
}

fn valid_hello() -> String {
    serde_json::to_string(&FromWorker::Hello {
        index: Some(1),
        name: "worker-1".into(),
        version: remote::VERSION.into(),
        nonce: "0123456789abcdef".repeat(4),
    })
    .unwrap()
}

fn valid_answers() -> Vec<String> {
    let plan = LoadPlan {
        target: Target::at(([10, 1, 2, 3], 8080).into(), "/file/hot"),
        range: (0, 1_048_575),
        processes: 3,
        connections: 255,
        rate: Some(400.0),
        steps: Vec::new(),
        duration: Duration::from_secs(6),
        timeout: Duration::from_secs(3),
        retries: 3,
        backoff: Duration::from_millis(200),
        allow_remote: true,
        mix: None,
    };
    [
        ToWorker::Plan(Box::new(WorkerPlan { index: 2, plan })),
        ToWorker::Refused {
            reason: "wrong token".into(),
        },
        ToWorker::Challenge {
            nonce: "0123456789abcdef".repeat(4),
            proof: "fedcba9876543210".repeat(4),
        },
        ToWorker::Go {
            start_monotonic_ns: 123_456_789,
            start_in_ns: Some(50_000_000),
        },
    ]
    .iter()
    .map(|m| serde_json::to_string(m).unwrap())
    .collect()
}

/// Values a hostile peer would put in place of a field's.
fn extreme() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        Value::Null,
        Value::from(-1),
        Value::from(0),
        Value::from(u64::MAX),
        serde_json::from_str("18446744073709551616").unwrap(),
        serde_json::from_str("1e308").unwrap(),
        Value::from(""),
        Value::from("x".repeat(5000)),
        Value::from("999.999.999.999"),
        Value::from(vec![Value::from(1); 3]),
        serde_json::json!({"secs": u64::MAX, "nanos": 4_000_000_000u64}),
        Value::from(true),
    ])
}

/// The leaves of a JSON value, by path.
fn leaves(v: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                path.push(k.clone());
                leaves(x, path, out);
                path.pop();
            }
        }
        _ => out.push(path.clone()),
    }
}

/// `line` with one field (the `pick`-th leaf, or an object on its way) set to `to`.
fn swap_field(line: &str, pick: usize, to: Value) -> String {
    let mut v: Value = serde_json::from_str(line).unwrap();
    let mut all = Vec::new();
    leaves(&v, &mut Vec::new(), &mut all);
    let path = &all[pick % all.len()];
    let depth = 1 + pick % path.len().max(1);
    let mut at = &mut v;
    for key in &path[..depth.min(path.len())] {
        at = &mut at[key.as_str()];
    }
    *at = to;
    v.to_string()
}

/// Bytes from `valid`: as is, cut, spliced with random bytes, a field swapped, or random bytes
/// alone; with a newline, without, or a long run without one.
fn mangled(valid: Vec<String>) -> impl Strategy<Value = Vec<u8>> {
    let pick = prop::sample::select(valid);
    prop_oneof![
        2 => (pick.clone(), any::<usize>(), extreme())
            .prop_map(|(l, i, to)| format!("{}\n", swap_field(&l, i, to)).into_bytes()),
        2 => (pick.clone(), any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 0..16))
            .prop_map(|(l, at, junk)| {
                let mut b = l.into_bytes();
                let i = at.index(b.len() + 1);
                b.splice(i..i, junk);
                b.push(b'\n');
                b
            }),
        1 => (pick.clone(), any::<prop::sample::Index>())
            .prop_map(|(l, at)| { let b = l.into_bytes(); b[..at.index(b.len() + 1)].to_vec() }),
        1 => pick.prop_map(|l| format!("{l}\n{l}\n").into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..600),
        1 => (16 * 1024..64 * 1024usize).prop_map(|n| vec![b'x'; n]),
        1 => (HANDSHAKE_MAX - 2..HANDSHAKE_MAX + 3, any::<bool>())
            .prop_map(|(n, nl)| { let mut b = vec![b'{'; n]; if nl { b.push(b'\n') }; b }),
    ]
}

/// The coordinator's reading of a new connection: a hello (which is what `line` said), or
/// not; never more than the bound and one buffer read.
#[test]
fn the_coordinator_reads_any_first_line_to_a_hello_or_a_refusal() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let hellos = Cell::new(0u32);
    runner()
        .run(&mangled(vec![valid_hello()]), |bytes| {
            const BUFFER: usize = 512;
            let mut r = BufReader::with_capacity(BUFFER, bytes.as_slice());
            let got = rt.block_on(remote::hello_from(&mut r));
            let consumed = bytes.len() - r.get_ref().len();
            prop_assert!(
                consumed <= HANDSHAKE_MAX + BUFFER + 1,
                "read {consumed} bytes"
            );
            match got {
                Ok(FromWorker::Hello { nonce, name, .. }) => {
                    hellos.set(hellos.get() + 1);
                    prop_assert!(nonce.len() + name.len() <= HANDSHAKE_MAX);
                }
                Ok(other) => prop_assert!(false, "took {other:?} as a hello"),
                Err(NotHello::Unreadable(e)) => {
                    prop_assert_eq!(e.kind(), std::io::ErrorKind::InvalidData)
                }
                Err(NotHello::Closed | NotHello::Other(_)) => {}
            }
            Ok(())
        })
        .unwrap();
    eprintln!(
        "{} cases ({} hellos) in {:?}",
        cases(2000),
        hellos.get(),
        started.elapsed()
    );
}

/// The worker's reading of the coordinator's answer to hello and of `go`: a plan for an
/// address it may load, a refusal, a start within `GO_AHEAD_MAX`, or an error that says so.
#[test]
fn the_worker_reads_any_answer_to_a_plan_a_start_or_an_error() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let (plans, starts) = (Cell::new(0u32), Cell::new(0u32));
    runner()
        .run(&mangled(valid_answers()), |bytes| {
            let mut r = BufReader::with_capacity(512, bytes.as_slice());
            let Ok(Some(line)) = rt.block_on(bounded::read_line(&mut r, bounded::LINE_MAX)) else {
                return Ok(());
            };
            if let Ok(wp) = worker::plan_from(&line, coordinator(), &[]) {
                plans.set(plans.get() + 1);
                let host = wp.plan.target.host.parse().unwrap();
                prop_assert!(remote::may_load(host, coordinator().ip(), &[]));
            }
            match worker::start_in(&line, coordinator()) {
                Ok(d) => {
                    starts.set(starts.get() + 1);
                    prop_assert!(d <= worker::GO_AHEAD_MAX);
                }
                Err(e) => prop_assert!(e.to_string().lines().count() == 1, "{e}"),
            }
            Ok(())
        })
        .unwrap();
    eprintln!(
        "{} cases ({} plans, {} starts) in {:?}",
        cases(2000),
        plans.get(),
        starts.get(),
        started.elapsed()
    );
}
