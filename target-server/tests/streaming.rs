//! `--body streaming`: incident 004's fix. A streaming body has exactly the bytes and headers of
//! a buffered one, obeys the same `--max-range`, and holds about one chunk per connection where
//! a buffered body holds its whole range.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::{num, wait_until, Alloc, Conn, KnownFile, Server, MIB};

for_each_allocator!(
    streaming_bodies_have_the_bytes_and_headers_of_buffered_ones,
    streaming_holds_about_a_chunk_per_connection_buffered_the_whole_range,
);

/// Odd, so ranges end inside a chunk.
const SIZE: usize = 300_007;

fn streaming_bodies_have_the_bytes_and_headers_of_buffered_ones(alloc: Alloc) {
    let hot = KnownFile::new(SIZE);
    let common = [
        "--file",
        hot.path(),
        "--max-range",
        "256KiB",
        "--chunk",
        "10000",
    ];
    let start = |extra: &[&str]| {
        let args: Vec<&str> = common.iter().chain(extra).copied().collect();
        Server::start(alloc, &args)
    };
    let buffered = start(&[]);
    let variants = [
        start(&["--body", "streaming"]),
        start(&["--body", "streaming", "--egress-limit", "64MiB/s"]),
        start(&["--body", "streaming", "--io", "pool", "--io-threads", "3"]),
        start(&["--body", "streaming", "--io", "blocking"]),
    ];
    assert_eq!(variants[0].stats()["server_settings"]["body"], "streaming");
    assert_eq!(buffered.stats()["server_settings"]["body"], "buffered");

    // (method, target, Range header)
    let cases: [(&str, &str, Option<&str>); 8] = [
        ("GET", "/file/hot", Some("bytes=1234-250000")),
        ("GET", "/file/hot", Some("bytes=0-9999")),
        ("GET", "/file/hot", Some("bytes=0-10000")),
        ("GET", "/file/hot", Some("bytes=-77777")),
        ("GET", "/file/hot?range=5-5", None),
        ("HEAD", "/file/hot", Some("bytes=100-200099")),
        // Longer than --max-range: refused the same way by both.
        ("GET", "/file/hot", Some("bytes=0-")),
        ("GET", "/file/hot", None),
    ];
    let mut want_conn = Conn::open(buffered.addr);
    let mut got_conns: Vec<Conn> = variants.iter().map(|v| Conn::open(v.addr)).collect();
    for (method, target, range) in cases {
        let headers: Vec<(&str, &str)> = range.map(|r| ("Range", r)).into_iter().collect();
        let want = want_conn.send(method, target, &headers);
        for (i, conn) in got_conns.iter_mut().enumerate() {
            let what = format!("variant {i}: {method} {target} {range:?}");
            let got = conn.send(method, target, &headers);
            assert_eq!(got.status, want.status, "{what}: {}", got.text());
            for h in ["content-length", "content-range", "content-type"] {
                assert_eq!(got.header(h), want.header(h), "{what}: {h}");
            }
            assert!(
                got.body == want.body,
                "{what}: {} bytes streamed, {} buffered, not the same",
                got.body.len(),
                want.body.len()
            );
        }
        if want.status == 206 && method == "GET" {
            let (a, b) = parse_content_range(want.header("content-range").unwrap());
            assert!(want.body == hot.bytes[a..=b], "{target} {range:?}");
        }
    }
    for v in &variants {
        assert!(wait_until(Duration::from_secs(2), || {
            num(&v.stats(), "app/inflight_buffers") == 0
        }));
    }
}

fn parse_content_range(v: &str) -> (usize, usize) {
    let (range, _) = v
        .strip_prefix("bytes ")
        .and_then(|r| r.split_once('/'))
        .expect("bytes A-B/SIZE");
    let (a, b) = range.split_once('-').expect("A-B");
    (a.parse().unwrap(), b.parse().unwrap())
}

const CONNS: u64 = 4;
const RANGE: u64 = 2 * MIB;
const CHUNK: u64 = 16 << 10;
/// hyper's write buffer (`max_buf_size` 64 KiB) may queue frames ahead of the socket.
const HYPER_BUF: u64 = 64 << 10;

/// `CONNS` connections that each ask for the whole 2 MiB file and never read: their bodies
/// crawl through a 1 MiB/s limiter for the rest of the test.
fn slow_readers(server: &Server) -> Vec<TcpStream> {
    (0..CONNS)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr).expect("connect");
            s.write_all(b"GET /file/hot HTTP/1.1\r\nHost: t\r\nRange: bytes=0-\r\n\r\n")
                .expect("send");
            s
        })
        .collect()
}

fn streaming_holds_about_a_chunk_per_connection_buffered_the_whole_range(alloc: Alloc) {
    let hot = KnownFile::new(RANGE as usize);
    let start = |body: &str| {
        Server::start(
            alloc,
            &[
                "--file",
                hot.path(),
                "--body",
                body,
                "--max-range",
                "2MiB",
                "--chunk",
                "16KiB",
                "--egress-limit",
                "1MiB/s",
                "--meta-every",
                "0",
                "--workers",
                "2",
            ],
        )
    };

    let buffered = start("buffered");
    let _clients = slow_readers(&buffered);
    let started = wait_until(Duration::from_secs(3), || {
        num(&buffered.stats(), "counters/responses_ok") == CONNS
    });
    assert!(started, "the buffered responses never started");
    // 8 MiB through 1 MiB/s: every buffer is still alive seconds from now.
    let s = buffered.stats();
    assert_eq!(num(&s, "app/inflight_buffer_bytes"), CONNS * RANGE);
    drop(buffered);

    let streaming = start("streaming");
    let _clients = slow_readers(&streaming);
    let started = wait_until(Duration::from_secs(3), || {
        num(&streaming.stats(), "counters/responses_ok") == CONNS
    });
    assert!(started, "the streaming responses never started");
    // Watch the bodies go out for a dozen chunks: at no point does a connection hold more than
    // the chunk it is sending and what hyper has queued.
    let bound = CONNS * (CHUNK + HYPER_BUF);
    let mut most = 0;
    let progressed = wait_until(Duration::from_secs(5), || {
        let s = streaming.stats();
        most = most.max(num(&s, "app/inflight_buffer_bytes"));
        num(&s, "counters/bytes_sent") >= 12 * CHUNK
    });
    assert!(progressed, "the streaming bodies did not progress");
    assert!(
        most <= bound,
        "streaming held up to {most} bytes for {CONNS} connections (bound {bound}, buffered {})",
        CONNS * RANGE
    );
    assert!(most > 0, "no chunk was ever seen in flight");
}
