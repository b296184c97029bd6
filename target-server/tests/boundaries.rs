//! What the server exposes, and to whom: it listens on loopback unless told otherwise, it serves
//! the one configured file and never a path taken from the URL, and `POST /admin/release`
//! answers loopback peers only, checked from a real non-loopback address of this host.
//!
//! Routing and binding are the same code in every build, so these run on the glibc build only.
//! (That the load client refuses non-loopback targets without `--allow-remote` is
//! `remote_targets_are_refused_without_allow_remote` in `harness/tests/load_client.rs`.)

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use common::{num, Alloc, KnownFile, Server};

const ALLOC: Alloc = Alloc::Glibc;

/// One request on a fresh connection, written byte for byte as given (so `..` and `%2e` reach
/// the server unnormalised), read until the server closes. Returns the status (`None` if the
/// server closed without answering) and the whole raw response.
fn exchange(addr: SocketAddr, method: &str, target: &str) -> (Option<u16>, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .unwrap_or_else(|e| panic!("send {method} {target}: {e}"));
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("{method} {target}: reading the answer: {e}"));
    let status = std::str::from_utf8(raw.get(..12).unwrap_or_default())
        .ok()
        .and_then(|l| l.strip_prefix("HTTP/1.1 "))
        .and_then(|c| c.parse().ok());
    (status, raw)
}

fn body(raw: &[u8]) -> &[u8] {
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    &raw[at + 4..]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The first up, non-loopback IPv4 address of this host's interfaces (getifaddrs(3)), if any.
fn non_loopback_ipv4() -> Option<Ipv4Addr> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we only read and then free once.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return None;
    }
    let mut found = None;
    let mut cur = head;
    while !cur.is_null() && found.is_none() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        let up = ifa.ifa_flags & libc::IFF_UP as libc::c_uint != 0;
        // SAFETY: for AF_INET, ifa_addr points to a sockaddr_in.
        if up
            && !ifa.ifa_addr.is_null()
            && unsafe { (*ifa.ifa_addr).sa_family } == libc::AF_INET as libc::sa_family_t
        {
            let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            if !ip.is_loopback() && !ip.is_unspecified() {
                found = Some(ip);
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: the list from getifaddrs above, freed once, not used after.
    unsafe { libc::freeifaddrs(head) };
    found
}

/// The socket inodes among `pid`'s open files.
fn socket_inodes(pid: i32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the server's fds")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect()
}

/// `(table, local address as the kernel shows it)` of every listening TCP socket `pid` holds,
/// from `/proc/<pid>/net/tcp` and `tcp6`.
fn listening_sockets(pid: i32) -> Vec<(&'static str, String)> {
    let mine = socket_inodes(pid);
    let mut out = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            if f.len() > 9 && f[3] == "0A" && mine.iter().any(|i| i == f[9]) {
                out.push((table, f[1].to_string()));
            }
        }
    }
    out
}

#[test]
fn the_server_binds_loopback_by_default() {
    let server = Server::start_on(ALLOC, None, &["--create-file", "4KiB"]);
    // The `listening on` line, which Server::start_on parsed.
    assert_eq!(
        server.addr.ip(),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        "no --listen, yet listening on {}",
        server.addr
    );
    // The socket itself: one listening socket, IPv4 127.0.0.1 (0100007F) on that port.
    let want = format!("0100007F:{:04X}", server.addr.port());
    assert_eq!(
        listening_sockets(server.pid()),
        vec![("tcp", want)],
        "the server's listening sockets"
    );
    // And from this host's own non-loopback address the port is closed.
    match non_loopback_ipv4() {
        Some(ip) => {
            let there = SocketAddr::new(ip.into(), server.addr.port());
            let r = TcpStream::connect_timeout(&there, Duration::from_secs(2));
            assert!(
                r.as_ref()
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused),
                "connecting to {there} should be refused, got {r:?}"
            );
        }
        None => eprintln!(
            "SKIPPED part: this host has no non-loopback IPv4 address, so the port was not \
             tried from one"
        ),
    }
    assert_eq!(server.get_range("bytes=0-9").status, 206);
}

#[test]
fn url_paths_never_reach_the_filesystem() {
    let hot = KnownFile::new(4096);
    let dir = hot.file.path().parent().expect("the hot file's directory");
    // A file beside the hot one, with a marker no response may carry.
    let marker = b"allocstorm-boundaries-secret-7f3a9c";
    let mut secret = tempfile::Builder::new()
        .prefix("secret-")
        .tempfile_in(dir)
        .expect("a secret file beside the hot file");
    secret.write_all(marker).unwrap();
    secret.flush().unwrap();
    let secret_name = secret
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let secret_path = secret.path().to_string_lossy().into_owned();
    let hot_path = hot.path().to_string();
    // What /etc/passwd starts with, where there is one (`root:x:0:0:...`).
    let passwd = std::fs::read("/etc/passwd").unwrap_or_default();
    let passwd_line: Vec<u8> = passwd.split(|&b| b == b'\n').next().unwrap_or(&[]).to_vec();

    let server = Server::start(ALLOC, &["--file", &hot_path, "--workers", "2"]);

    let n = &secret_name;
    let targets: Vec<String> = vec![
        "/etc/passwd".into(),
        "//etc/passwd".into(),
        "/file/../../etc/passwd".into(),
        "/file/hot/../../../etc/passwd".into(),
        "/file/%2e%2e/%2e%2e/etc/passwd".into(),
        "/file/%2E%2E/%2E%2E/%2E%2E/etc/passwd".into(),
        "/file/..%2f..%2f..%2fetc%2fpasswd".into(),
        "/file/hot%2f..%2f..%2fetc%2fpasswd".into(),
        "/%2e%2e/%2e%2e/etc/passwd".into(),
        "/file//etc/passwd".into(),
        "/file/passwd".into(),
        "/file/hot/../../etc/passwd%00".into(),
        "/proc/self/environ".into(),
        "/proc/self/cmdline".into(),
        "http://127.0.0.1/etc/passwd".into(),
        format!("/file/{n}"),
        format!("/file/hot/../{n}"),
        format!("/file/%2e%2e/{n}"),
        format!("/{n}"),
        secret_path.clone(),
        format!("/file{secret_path}"),
        // The hot file's own path is not a route either.
        hot_path.clone(),
        format!("/file{hot_path}"),
    ];
    for target in &targets {
        for method in ["GET", "HEAD"] {
            let (status, raw) = exchange(server.addr, method, target);
            assert!(
                matches!(status, Some(400 | 404)),
                "{method} {target}: want 404 or 400, got {status:?}: {}",
                String::from_utf8_lossy(&raw)
            );
            assert!(
                !contains(&raw, marker),
                "{method} {target} sent the secret file"
            );
            assert!(
                !contains(&raw, &passwd_line),
                "{method} {target} sent /etc/passwd"
            );
        }
    }

    // A query naming a file is ignored: /file/hot without a range is the whole hot file.
    let queries = [
        format!("/file/hot?file={secret_path}"),
        "/file/hot?path=../../../etc/passwd".to_string(),
        format!("/file/hot?name={n}&file=/etc/passwd"),
    ];
    for target in &queries {
        let (status, raw) = exchange(server.addr, "GET", target);
        assert_eq!(
            status,
            Some(200),
            "{target}: {}",
            String::from_utf8_lossy(&raw)
        );
        assert!(
            body(&raw) == hot.bytes,
            "{target}: not the hot file's bytes"
        );
    }

    // Nothing else was read and sent: only the hot file, once per query above.
    let stats = server.stats();
    assert_eq!(
        num(&stats, "counters/bytes_sent"),
        queries.len() as u64 * hot.size()
    );
    assert_eq!(
        num(&stats, "counters/client_errors_4xx"),
        2 * targets.len() as u64
    );
}

#[test]
fn admin_release_answers_loopback_peers_only() {
    let Some(ip) = non_loopback_ipv4() else {
        eprintln!(
            "SKIPPED: this host has no non-loopback IPv4 address to send /admin/release from; \
             a 127.x peer would not test the rule"
        );
        return;
    };
    // Bound to every address, so a peer on this host's non-loopback address can reach it.
    let server = Server::start_on(ALLOC, Some("0.0.0.0:0"), &["--create-file", "4KiB"]);
    let port = server.addr.port();
    let outside = SocketAddr::new(ip.into(), port);

    // The connection really comes from a non-loopback address: the kernel picks the
    // destination's own address as the source, and the server sees that as the peer.
    let s = TcpStream::connect(outside).unwrap_or_else(|e| panic!("connect to {outside}: {e}"));
    let local = s.local_addr().unwrap();
    assert!(!local.ip().is_loopback(), "the client is at {local}");
    drop(s);

    let (status, raw) = exchange(outside, "POST", "/admin/release");
    let text = String::from_utf8_lossy(&raw);
    assert_eq!(status, Some(403), "POST /admin/release from {ip}: {text}");
    assert!(
        contains(body(&raw), b"loopback peers only"),
        "the refusal says why: {text}"
    );
    assert!(!text.contains("called"), "release ran anyway: {text}");
    // The peer is refused only that: the rest answers it.
    let (status, _) = exchange(outside, "GET", "/healthz");
    assert_eq!(status, Some(200), "GET /healthz from {ip}");

    let (status, raw) = exchange(
        SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port),
        "POST",
        "/admin/release",
    );
    let text = String::from_utf8_lossy(&raw);
    assert_eq!(
        status,
        Some(200),
        "POST /admin/release from 127.0.0.1: {text}"
    );
    assert!(text.contains("malloc_trim(0)"), "{text}");
}
