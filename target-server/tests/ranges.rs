//! `GET /file/hot`: every accepted range form returns exactly the file's bytes; every refusal
//! gets its own status, and the server keeps serving on the same connection afterwards.

mod common;

use common::{num, Alloc, Conn, KnownFile, Server};

for_each_allocator!(
    every_range_form_returns_exactly_the_files_bytes,
    refused_requests_get_their_status_and_the_connection_keeps_serving,
);

/// Odd, so the last byte sits on no power-of-two boundary.
const SIZE: usize = 100_003;

fn every_range_form_returns_exactly_the_files_bytes(alloc: Alloc) {
    let hot = KnownFile::new(SIZE);
    let server = Server::start(alloc, &["--file", hot.path(), "--workers", "2"]);
    let mut conn = Conn::open(server.addr);
    let last = SIZE - 1;
    // (Range header, target, first byte, last byte)
    let cases: [(Option<&str>, &str, usize, usize); 7] = [
        (Some("bytes=0-1023"), "/file/hot", 0, 1023),
        (Some("bytes=99000-"), "/file/hot", 99_000, last),
        (Some("bytes=-500"), "/file/hot", SIZE - 500, last),
        // An end past the file is clamped to it (RFC 9110 §14.1.2).
        (Some("bytes=99990-200000"), "/file/hot", 99_990, last),
        (Some("bytes=-999999"), "/file/hot", 0, last),
        (None, "/file/hot?range=10-19", 10, 19),
        (None, "/file/hot?x=1&range=-7", SIZE - 7, last),
    ];
    for (range, target, first, end) in cases {
        let headers: Vec<(&str, &str)> = range.map(|r| ("Range", r)).into_iter().collect();
        let what = format!("{target} {range:?}");
        let r = conn.send("GET", target, &headers);
        assert_eq!(r.status, 206, "{what}: {}", r.text());
        let want_cr = format!("bytes {first}-{end}/{SIZE}");
        assert_eq!(r.header("content-range"), Some(want_cr.as_str()), "{what}");
        let want_len = (end - first + 1).to_string();
        assert_eq!(
            r.header("content-length"),
            Some(want_len.as_str()),
            "{what}"
        );
        assert!(
            r.body == hot.bytes[first..=end],
            "{what}: the {} bytes received are not the file's bytes {first}..={end}",
            r.body.len()
        );
    }

    let r = conn.send("GET", "/file/hot", &[]);
    assert_eq!(r.status, 200, "no range: {}", r.text());
    assert_eq!(r.header("content-range"), None);
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert!(
        r.body == hot.bytes,
        "no range: the body is not the whole file"
    );
    // A query parameter that merely ends in "range=" asks for no range.
    let r = conn.send("GET", "/file/hot?xrange=5-9", &[]);
    assert_eq!(r.status, 200, "?xrange: {}", r.text());
    assert_eq!(r.header("content-range"), None);
    assert!(
        r.body == hot.bytes,
        "?xrange: the body is not the whole file"
    );

    let r = conn.send("HEAD", "/file/hot", &[("Range", "bytes=0-1023")]);
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 0-1023/{SIZE}").as_str())
    );
    assert_eq!(r.header("content-length"), Some("1024"));
    // HEAD sent no body: the next response on this connection parses cleanly.
    let r = conn.send("GET", "/file/hot", &[("Range", "bytes=5-9")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, hot.bytes[5..=9]);
}

fn refused_requests_get_their_status_and_the_connection_keeps_serving(alloc: Alloc) {
    let hot = KnownFile::new(SIZE);
    let server = Server::start(
        alloc,
        &[
            "--file",
            hot.path(),
            "--max-range",
            "64KiB",
            "--workers",
            "2",
        ],
    );
    // (method, target, Range header or "" for none, status); every 416 carries
    // `Content-Range: bytes */SIZE`, nothing else carries a Content-Range.
    let cases: [(&str, &str, &str, u16); 13] = [
        ("GET", "/file/hot", "bytes=x-y", 400),
        ("GET", "/file/hot", "bytes=5-1", 400),
        ("GET", "/file/hot", "items=0-1", 400),
        ("GET", "/file/hot?range=a-b", "", 400),
        // Multi-range is refused, not answered with multipart/byteranges.
        ("GET", "/file/hot", "bytes=0-1,5-6", 400),
        ("GET", "/file/hot?range=0-1,5-6", "", 400),
        ("GET", "/file/hot", "bytes=99999999-", 416),
        // 70001 bytes: longer than --max-range.
        ("GET", "/file/hot", "bytes=0-70000", 416),
        // No range asks for the whole file, which is longer than --max-range too.
        ("GET", "/file/hot", "", 416),
        ("GET", "/file/cold", "", 404),
        ("GET", "/file/hot/../../etc/passwd", "", 404),
        ("GET", "/etc/passwd", "", 404),
        ("POST", "/file/hot", "", 405),
    ];
    let unsatisfiable = format!("bytes */{SIZE}");
    let mut conn = Conn::open(server.addr);
    for (method, target, range, status) in cases {
        let headers: Vec<(&str, &str)> = [("Range", range)]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let what = format!("{method} {target} {range:?}");
        let r = conn.send(method, target, &headers);
        assert_eq!(r.status, status, "{what}: {}", r.text());
        let content_range = (status == 416).then_some(unsatisfiable.as_str());
        assert_eq!(r.header("content-range"), content_range, "{what}");
        assert!(!r.text().trim().is_empty(), "{what}: the refusal says why");

        let ok = conn.send("GET", "/file/hot", &[("Range", "bytes=100-199")]);
        assert_eq!(ok.status, 206, "after {what}: {}", ok.text());
        assert!(ok.body == hot.bytes[100..=199], "after {what}: wrong bytes");
    }

    let stats = server.stats();
    let n = cases.len() as u64;
    assert_eq!(num(&stats, "counters/client_errors_4xx"), n);
    assert_eq!(num(&stats, "counters/responses_ok"), n);
    assert_eq!(num(&stats, "counters/responses_completed"), n);
    assert_eq!(num(&stats, "counters/bytes_sent"), 100 * n);
}
