//! What the server does under more load than it takes: admission control answers `503` with
//! `Retry-After`, and `--egress-limit` paces every body through one shared bucket.
//!
//! Timing bounds here are loose lower bounds (pacing cannot be faster than the rate), never
//! benchmarks.

mod common;

use std::time::{Duration, Instant};

use common::{get_range, num, wait_until, Alloc, Server, MIB};

for_each_allocator!(
    over_max_inflight_a_request_gets_503_with_retry_after,
    egress_limit_paces_bodies_through_one_shared_bucket,
);

fn over_max_inflight_a_request_gets_503_with_retry_after(alloc: Alloc) {
    let server = Server::start(
        alloc,
        &[
            "--create-file",
            "1MiB",
            "--max-inflight",
            "1",
            "--queue-timeout",
            "200ms",
            "--hold",
            "1s",
            "--workers",
            "2",
        ],
    );
    let addr = server.addr;
    let first = std::thread::spawn(move || get_range(addr, "bytes=0-65535"));
    let admitted = wait_until(Duration::from_secs(1), || {
        num(&server.stats(), "app/inflight_buffers") == 1
    });
    assert!(admitted, "the first request never held its slot");

    let second = get_range(addr, "bytes=0-65535");
    assert_eq!(second.status, 503, "{}", second.text());
    // Whole seconds, at least one: a 200 ms queue timeout rounds up.
    assert_eq!(second.header("retry-after"), Some("1"));
    assert!(
        !first.is_finished(),
        "the 503 should come while the first request still holds the only slot"
    );

    let first = first.join().expect("first client");
    assert_eq!(first.status, 206, "{}", first.text());
    assert_eq!(first.body.len(), 65536);

    let stats = server.stats();
    assert_eq!(num(&stats, "counters/rejected_503"), 1);
    assert_eq!(num(&stats, "counters/responses_ok"), 1);
    // The slot came back with the first body: the server serves again.
    assert_eq!(server.get_range("bytes=0-99").status, 206);
}

fn egress_limit_paces_bodies_through_one_shared_bucket(alloc: Alloc) {
    let server = Server::start(
        alloc,
        &[
            "--create-file",
            "3MiB",
            "--egress-limit",
            "4MiB/s",
            "--workers",
            "2",
        ],
    );
    // 2 MiB at 4 MiB/s: 0.5 s less a one-chunk burst.
    let t0 = Instant::now();
    let r = server.get_range("bytes=0-2097151");
    let alone = t0.elapsed();
    assert_eq!(r.status, 206, "{}", r.text());
    assert_eq!(r.body.len() as u64, 2 * MIB);
    assert!(
        alone >= Duration::from_millis(400),
        "2 MiB at 4 MiB/s took {alone:?}"
    );

    // Two 1 MiB bodies at once share the bucket: together they take as long as 2 MiB, where
    // one alone would take half of that.
    let addr = server.addr;
    let t0 = Instant::now();
    let clients: Vec<_> = [0u64, MIB]
        .into_iter()
        .map(|start| {
            let range = format!("bytes={start}-{}", start + MIB - 1);
            std::thread::spawn(move || get_range(addr, &range))
        })
        .collect();
    for c in clients {
        let r = c.join().expect("client");
        assert_eq!(r.status, 206, "{}", r.text());
        assert_eq!(r.body.len() as u64, MIB);
    }
    let together = t0.elapsed();
    assert!(
        together >= Duration::from_millis(400),
        "two concurrent 1 MiB bodies at 4 MiB/s took {together:?}"
    );
    assert_eq!(num(&server.stats(), "counters/bytes_sent"), 4 * MIB);
}
