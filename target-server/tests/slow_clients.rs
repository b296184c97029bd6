//! Slow, half-open and oversized clients: `--header-timeout` (1 s here) closes a connection
//! whose request head has not arrived in time — silent, half a request line, trickled a byte at
//! a time, or idle after a keep-alive response — and a head over 64 KiB gets `431`; meanwhile
//! everyone else is served.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{get, get_range, Alloc, Conn, Server};

for_each_allocator!(
    slow_and_half_open_clients_are_closed_at_the_header_timeout_and_others_served,
    heads_over_64_kib_get_431_and_the_server_keeps_serving,
);

const HEADER_TIMEOUT: Duration = Duration::from_secs(1);
/// Scheduling slack on a loaded CI machine; the server must close by timeout + this.
const MARGIN: Duration = Duration::from_secs(1);

fn start(alloc: Alloc) -> Server {
    Server::start_watched(
        alloc,
        &[
            "--create-file",
            "64KiB",
            "--header-timeout",
            "1s",
            "--workers",
            "2",
        ],
    )
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    // Far past timeout + margin: a server that never closes fails the test, not hangs it.
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Reads until the server closes; returns what it sent and when it closed, measured from
/// `since`. Panics if it does not close within the read timeout.
fn until_closed(s: &mut TcpStream, since: Instant) -> (Vec<u8>, Duration) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, since.elapsed()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (got, since.elapsed()),
            Err(e) => panic!(
                "not closed {:?} after the head was due: {e}; got {:?}",
                since.elapsed(),
                String::from_utf8_lossy(&got)
            ),
        }
    }
}

fn assert_closed_at_timeout(what: &str, took: Duration, got: &[u8]) {
    assert!(
        took >= HEADER_TIMEOUT - Duration::from_millis(200) && took <= HEADER_TIMEOUT + MARGIN,
        "{what}: closed after {took:?}, want about {HEADER_TIMEOUT:?}"
    );
    // hyper closes without an answer (no 408).
    assert!(
        got.is_empty(),
        "{what}: sent {:?}",
        String::from_utf8_lossy(got)
    );
}

/// All at once, each on its own thread: the whole test takes about one header timeout.
fn slow_and_half_open_clients_are_closed_at_the_header_timeout_and_others_served(alloc: Alloc) {
    let mut server = start(alloc);
    let addr = server.addr;
    let mut clients: Vec<(&str, std::thread::JoinHandle<()>)> = Vec::new();
    let sends: [(&str, &[u8]); 4] = [
        ("nothing", b""),
        ("half a request line", b"GET /file/h"),
        ("a request line", b"GET /file/hot HTTP/1.1\r\n"),
        (
            "half the headers",
            b"GET /file/hot HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=0-",
        ),
    ];
    for (what, bytes) in sends {
        let client = std::thread::spawn(move || {
            let mut s = connect(addr);
            let t0 = Instant::now();
            s.write_all(bytes).expect("send");
            let (got, took) = until_closed(&mut s, t0);
            assert_closed_at_timeout(what, took, &got);
        });
        clients.push((what, client));
    }
    clients.push(("a trickled head", std::thread::spawn(move || trickle(addr))));
    clients.push((
        "an idle keep-alive connection",
        std::thread::spawn(move || idle_after_an_answer(addr)),
    ));

    // 64 more stalled connections, and a range served while all of them are open.
    let t0 = Instant::now();
    let mut stalled: Vec<TcpStream> = (0..64)
        .map(|i| {
            let mut s = connect(addr);
            s.write_all(&b"GET /file/hot HTTP/1.1\r\nRange: bytes=0-"[..20 + i % 20])
                .expect("send");
            s
        })
        .collect();
    let r = get_range(addr, "bytes=0-65535");
    assert_eq!(r.status, 206, "{}", r.text());
    assert_eq!(r.body.len(), 65536);
    assert!(
        t0.elapsed() < HEADER_TIMEOUT,
        "the range came after {:?}: it waited for the stalled connections",
        t0.elapsed()
    );
    for (i, s) in stalled.iter_mut().enumerate() {
        let (got, took) = until_closed(s, t0);
        assert!(
            took <= HEADER_TIMEOUT + MARGIN,
            "stalled connection {i} closed after {took:?}"
        );
        assert!(got.is_empty(), "stalled connection {i} got an answer");
    }

    for (what, client) in clients {
        client
            .join()
            .unwrap_or_else(|_| panic!("the client that sent {what} failed"));
    }
    server.assert_alive_and_no_panic();
    assert_eq!(get(addr, "/healthz", &[]).status, 200);
}

/// One byte every 50 ms: the whole head would take 5 s; the timeout is for the whole head,
/// not per read.
fn trickle(addr: SocketAddr) {
    let head = format!(
        "GET /file/hot HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: {}\r\n\r\n",
        "z".repeat(50)
    );
    let mut s = connect(addr);
    let mut reader = s.try_clone().expect("clone the socket");
    let t0 = Instant::now();
    let watcher = std::thread::spawn(move || until_closed(&mut reader, t0));
    let mut sent = 0;
    for b in head.bytes() {
        if watcher.is_finished() || s.write_all(&[b]).is_err() {
            break;
        }
        sent += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    let (got, took) = watcher.join().expect("watcher");
    assert_closed_at_timeout("a trickled head", took, &got);
    assert!(
        sent < head.len(),
        "the whole head went out before the server closed"
    );
}

/// A keep-alive connection that says nothing after its first answer.
fn idle_after_an_answer(addr: SocketAddr) {
    let mut s = connect(addr);
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("send");
    // The answer is small: read until its body, then wait for the close.
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"\r\n\r\nok\n") {
        let n = s.read(&mut buf).expect("the /healthz answer");
        assert!(
            n > 0,
            "closed before answering: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
    let (more, took) = until_closed(&mut s, Instant::now());
    assert_closed_at_timeout("an idle keep-alive connection", took, &more);
}

/// Sends `head` on a fresh connection: the status, or `None` if the server closed or reset
/// before its answer could be read (allowed for a refusal).
fn status_of(addr: SocketAddr, head: &[u8]) -> Option<u16> {
    let mut s = connect(addr);
    // The server may refuse and reset before it has read everything.
    let _ = s.write_all(head);
    let (got, _) = until_closed(&mut s, Instant::now());
    let line = got.split(|&b| b == b'\n').next()?;
    let line = String::from_utf8_lossy(line);
    let code = line
        .strip_prefix("HTTP/1.1 ")
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    Some(code[..3].parse().expect("a 3-digit status"))
}

fn heads_over_64_kib_get_431_and_the_server_keeps_serving(alloc: Alloc) {
    let mut server = start(alloc);
    let addr = server.addr;
    // A keep-alive connection opened before, used after.
    let mut before = Conn::open(addr);
    assert_eq!(before.send("GET", "/healthz", &[]).status, 200);

    let head = |extra: &str| {
        format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Connection: close\r\n\r\n")
            .into_bytes()
    };
    let line = |n: usize| format!("X-Big: {}\r\n", "a".repeat(n));
    // Just under the limit: served.
    assert_eq!(status_of(addr, &head(&line(60 << 10))), Some(200));
    // Over it, by a little and by a lot; 150 headers (hyper takes at most 100); a 100 KiB
    // target.
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let long_target = format!(
        "GET /file/hot?{} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "q".repeat(100 << 10)
    );
    for (what, bytes) in [
        ("a 65 KiB header line", head(&line(65 << 10))),
        ("a 100 KiB header line", head(&line(100 << 10))),
        ("a 1 MiB header line", head(&line(1 << 20))),
        ("150 headers", head(&many)),
        ("a 100 KiB target", long_target.into_bytes()),
    ] {
        let status = status_of(addr, &bytes);
        assert!(
            matches!(status, Some(431) | None),
            "{what}: status {status:?}, want 431 or a close"
        );
    }

    // Everyone else is still served, on new connections and on the old one.
    assert_eq!(before.send("GET", "/healthz", &[]).text(), "ok\n");
    let r = get_range(addr, "bytes=100-199");
    assert_eq!(r.status, 206, "{}", r.text());
    assert_eq!(r.body.len(), 100);
    server.assert_alive_and_no_panic();
}
