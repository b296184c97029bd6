//! `--byte-pool`: incident 003's watermark byte pool. Pre-filled at start; every range is
//! gathered into as many pool buffers as it spans, so a burst of requests drains the pool,
//! allocates on empty and starts a background refill; the bytes are exactly the file's, and
//! afterwards every buffer is back and the pool keeps at most its capacity.

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{num, wait_until, Alloc, Conn, KnownFile, Response, Server};

for_each_allocator!(
    a_burst_of_multi_buffer_ranges_allocates_on_empty_and_refills,
    ranges_of_any_length_come_from_the_pool_with_exact_bytes,
);

fn pool(s: &serde_json::Value, k: &str) -> u64 {
    num(s, &format!("pools/bytes/{k}"))
}

const CAPACITY: u64 = 8;
const BUFFER: u64 = 4096;
const BURST: usize = 8;
/// 15 buffers a request: 14 full ones and 2560 bytes.
const RANGE_LEN: usize = 60_000;
const GETS_PER_RANGE: u64 = 15;

/// `BURST` requests of `RANGE_LEN` bytes sent at once on connections opened beforehand, so they
/// reach the server together: (first byte, response) per client.
fn burst(server: &Server) -> Vec<std::thread::JoinHandle<(usize, Response)>> {
    let go = Arc::new(Barrier::new(BURST));
    (0..BURST)
        .map(|i| {
            let (addr, go) = (server.addr, go.clone());
            std::thread::spawn(move || {
                let mut conn = Conn::open(addr);
                let first = i * 20_011;
                let range = format!("bytes={first}-{}", first + RANGE_LEN - 1);
                go.wait();
                (first, conn.send("GET", "/file/hot", &[("Range", &range)]))
            })
        })
        .collect()
}

fn a_burst_of_multi_buffer_ranges_allocates_on_empty_and_refills(alloc: Alloc) {
    let hot = KnownFile::new(256 * 1024 + 4099);
    let server = Server::start(
        alloc,
        &[
            "--file",
            hot.path(),
            "--byte-pool",
            "8",
            "--byte-pool-buffer",
            "4KiB",
            "--hold",
            "1s",
            "--meta-every",
            "0",
            "--workers",
            "2",
        ],
    );
    let s = server.stats();
    assert_eq!(num(&s, "server_settings/byte_pool_buffers"), CAPACITY);
    assert_eq!(num(&s, "server_settings/byte_pool_buffer_bytes"), BUFFER);
    assert_eq!(s["server_settings"]["byte_pool_low"], 0.3);
    assert_eq!(s["server_settings"]["byte_pool_high"], 0.6);
    assert_eq!(pool(&s, "capacity"), CAPACITY);
    assert_eq!(pool(&s, "buffer_bytes"), BUFFER);
    // ⌈0.3 × 8⌉ and ⌈0.6 × 8⌉ buffers; pre-filled to the high watermark.
    assert_eq!(pool(&s, "low_watermark"), 3);
    assert_eq!(pool(&s, "high_watermark"), 5);
    assert_eq!(pool(&s, "prefilled"), 5);
    assert_eq!(pool(&s, "idle"), 5);
    assert_eq!(pool(&s, "allocated_total"), 5);
    assert_eq!(pool(&s, "bytes_total"), 5 * BUFFER);
    assert_eq!(num(&s, "app/pool_bytes"), 5 * BUFFER);
    assert_eq!(num(&s, "app/live_bytes"), 5 * BUFFER);

    // Each request takes its 15 buffers in a tight loop and holds them for a second, and the
    // pool never has more than 5 idle before a put: the first gather alone outruns the pre-fill,
    // and a refill (a thread to start, then one allocation at a time, stopping at 5 idle) cannot
    // hand 115 buffers to 8 tight loops just in time. get_on_empty > 0 is as good as certain.
    let clients = burst(&server);
    let gets = BURST as u64 * GETS_PER_RANGE;
    let all_out = wait_until(Duration::from_millis(900), || {
        pool(&server.stats(), "outstanding") == gets
    });
    assert!(
        all_out,
        "the burst's {BURST} held requests never all had their {GETS_PER_RANGE} buffers: {:#}",
        server.stats()["pools"]
    );
    let busy = server.stats();
    assert_eq!(
        num(&busy, "app/inflight_buffers"),
        0,
        "pool buffers are the pool's, not in-flight request buffers"
    );
    assert_eq!(
        pool(&busy, "bytes_total"),
        (pool(&busy, "idle") + gets) * BUFFER
    );
    assert!(pool(&busy, "get_on_empty") > 0, "{:#}", busy["pools"]);
    for c in clients {
        let (first, r) = c.join().expect("client");
        assert_eq!(r.status, 206, "{}", r.text());
        let want = format!("bytes {first}-{}/{}", first + RANGE_LEN - 1, hot.size());
        assert_eq!(r.header("content-range"), Some(want.as_str()));
        assert!(
            r.body == hot.bytes[first..first + RANGE_LEN],
            "bytes {first}.. across 15 pool buffers"
        );
    }

    // Every buffer back, and no refill still allocating: each buffer ever allocated is idle or
    // was freed.
    let settled = wait_until(Duration::from_secs(3), || {
        let s = server.stats();
        pool(&s, "outstanding") == 0
            && pool(&s, "allocated_total") == pool(&s, "idle") + pool(&s, "put_dropped")
    });
    assert!(
        settled,
        "the pool did not settle: {:#}",
        server.stats()["pools"]
    );
    let s = server.stats();
    assert!(pool(&s, "get_on_empty") > 0, "{:#}", s["pools"]);
    assert!(pool(&s, "refills") >= 1, "{:#}", s["pools"]);
    assert!(pool(&s, "refill_allocated") >= 1, "{:#}", s["pools"]);
    assert_eq!(pool(&s, "get_total"), gets);
    assert_eq!(pool(&s, "put_total"), gets);
    // Every get either found an idle buffer or allocated one; what was allocated is counted.
    assert_eq!(
        pool(&s, "allocated_total"),
        5 + pool(&s, "get_on_empty") + pool(&s, "refill_allocated")
    );
    // More came back than fit: the pool keeps its capacity and freed the rest.
    assert_eq!(pool(&s, "idle"), CAPACITY);
    assert_eq!(
        pool(&s, "put_dropped"),
        pool(&s, "allocated_total") - CAPACITY
    );
    assert!(pool(&s, "put_dropped") > 0);
    assert_eq!(pool(&s, "bytes_total"), CAPACITY * BUFFER);
    assert_eq!(num(&s, "app/pool_bytes"), CAPACITY * BUFFER);
    assert_eq!(num(&s, "app/live_bytes"), CAPACITY * BUFFER);
}

/// Odd, so the last byte sits on no buffer or chunk boundary.
const SIZE: usize = 100_003;
/// Not a multiple of the 4 KiB chunk: a buffer's last chunk is short, and no chunk may span
/// two buffers.
const ODD_BUFFER: u64 = 10_000;

fn ranges_of_any_length_come_from_the_pool_with_exact_bytes(alloc: Alloc) {
    let hot = KnownFile::new(SIZE);
    let server = Server::start(
        alloc,
        &[
            "--file",
            hot.path(),
            "--byte-pool",
            "4",
            "--byte-pool-buffer",
            "10000",
            "--egress-limit",
            "64MiB/s",
            "--chunk",
            "4KiB",
            "--meta-every",
            "0",
            "--workers",
            "2",
        ],
    );
    let mut conn = Conn::open(server.addr);
    let last = SIZE - 1;
    // (Range header, target, first byte, last byte)
    let cases: [(Option<&str>, &str, usize, usize); 8] = [
        (Some("bytes=0-0"), "/file/hot", 0, 0),
        (Some("bytes=5-10004"), "/file/hot", 5, 10_004),
        (Some("bytes=9999-10000"), "/file/hot", 9_999, 10_000),
        (Some("bytes=1234-"), "/file/hot", 1_234, last),
        (Some("bytes=-25001"), "/file/hot", SIZE - 25_001, last),
        (Some("bytes=0-999999"), "/file/hot", 0, last),
        (None, "/file/hot?range=40000-79999", 40_000, 79_999),
        (None, "/file/hot?range=-7", SIZE - 7, last),
    ];
    let mut gets = 0;
    for (range, target, first, end) in cases {
        let headers: Vec<(&str, &str)> = range.map(|r| ("Range", r)).into_iter().collect();
        let what = format!("{target} {range:?}");
        let r = conn.send("GET", target, &headers);
        assert_eq!(r.status, 206, "{what}: {}", r.text());
        let want_cr = format!("bytes {first}-{end}/{SIZE}");
        assert_eq!(r.header("content-range"), Some(want_cr.as_str()), "{what}");
        let len = end - first + 1;
        assert_eq!(
            r.header("content-length"),
            Some(len.to_string().as_str()),
            "{what}"
        );
        assert!(
            r.body == hot.bytes[first..=end],
            "{what}: the {} bytes received are not the file's bytes {first}..={end}",
            r.body.len()
        );
        gets += (len as u64).div_ceil(ODD_BUFFER);
        assert_eq!(pool(&server.stats(), "get_total"), gets, "{what}");
    }

    // The whole file, no range: a 200 in 11 buffers.
    let r = conn.send("GET", "/file/hot", &[]);
    assert_eq!(r.status, 200, "no range: {}", r.text());
    assert_eq!(r.header("content-range"), None);
    assert_eq!(r.header("content-length"), Some(SIZE.to_string().as_str()));
    assert!(
        r.body == hot.bytes,
        "no range: the body is not the whole file"
    );
    gets += 11;
    // HEAD gathers too, and gives the buffers back at once.
    let r = conn.send("HEAD", "/file/hot", &[("Range", "bytes=0-29999")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-length"), Some("30000"));
    gets += 3;
    assert_eq!(pool(&server.stats(), "get_total"), gets);

    // A little load: 6 connections at once, each asking for the whole file three times.
    let clients: Vec<_> = (0..6)
        .map(|_| {
            let addr = server.addr;
            std::thread::spawn(move || {
                let mut conn = Conn::open(addr);
                (0..3)
                    .map(|_| conn.send("GET", "/file/hot", &[("Range", "bytes=0-")]))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for c in clients {
        for r in c.join().expect("client") {
            assert_eq!(r.status, 206, "{}", r.text());
            assert!(r.body == hot.bytes, "a whole-file range under load");
        }
    }
    gets += 6 * 3 * 11;

    let settled = wait_until(Duration::from_secs(3), || {
        let s = server.stats();
        pool(&s, "outstanding") == 0
            && pool(&s, "allocated_total") == pool(&s, "idle") + pool(&s, "put_dropped")
    });
    assert!(
        settled,
        "the pool did not settle: {:#}",
        server.stats()["pools"]
    );
    let s = server.stats();
    assert_eq!(pool(&s, "get_total"), gets);
    assert_eq!(pool(&s, "put_total"), gets);
    assert!(pool(&s, "idle") <= 4, "{:#}", s["pools"]);
    assert!(
        pool(&s, "get_on_empty") > 0,
        "11 buffers a request, 3 pre-filled"
    );
    assert_eq!(pool(&s, "bytes_total"), pool(&s, "idle") * ODD_BUFFER);
    // No fresh request buffers: every range went through the pool.
    assert_eq!(num(&s, "app/inflight_buffers"), 0);
    assert_eq!(num(&s, "counters/responses_ok"), 8 + 1 + 1 + 18);
    assert_eq!(num(&s, "counters/responses_completed"), 8 + 1 + 18);
}
