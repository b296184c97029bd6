//! What the server exposes, and to whom: it listens on loopback unless told otherwise, it serves
//! the one configured file and never a path taken from the URL, and `POST /admin/release`
//! answers peers on this host only (loopback, or the address it was reached at), checked from a
//! real non-loopback address of this host and from another network namespace.
//!
//! That address is one the tests make ([`Netns`]): a network namespace joined to this host by a
//! veth pair, on a /30 of 198.18.0.0/15 (the benchmarking range, RFC 2544) picked from the pid:
//! its first address on the host's end, its second on the namespace's. Clients run on a thread
//! that has entered the namespace, so the server sees them at the namespace's address, as it
//! would a host on that link. Both go when the guard drops, also on a panic; what a killed run
//! left, the next run removes. This needs root and iproute2's `ip`: without them the tests
//! fail, they do not skip.
//!
//! Routing and binding are the same code in every build, so these run on the glibc build only.
//! (That the load client refuses non-loopback targets without `--allow-remote` is
//! `remote_targets_are_refused_without_allow_remote` in `harness/tests/load_client.rs`.)

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use common::{num, Alloc, KnownFile, Server};

const ALLOC: Alloc = Alloc::Glibc;

/// One request on a fresh connection, written byte for byte as given (so `..` and `%2e` reach
/// the server unnormalised), read until the server closes. Returns the status (`None` if the
/// server closed without answering) and the whole raw response.
fn exchange(addr: SocketAddr, method: &str, target: &str) -> (Option<u16>, Vec<u8>) {
    let mut s = TcpStream::connect_timeout(&addr, CONNECT)
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
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

/// A connect that is neither answered nor refused by then has hung.
const CONNECT: Duration = Duration::from_secs(10);
/// How long one `ip` command may take.
const IP_CMD: Duration = Duration::from_secs(10);
/// How long the veth pair may take to come up (the kernel's link watch, within a second).
const LINK_UP: Duration = Duration::from_secs(5);
/// How long a client thread in the namespace may take for its work.
const IN_NETNS: Duration = Duration::from_secs(60);
/// Where `ip netns add` mounts a namespace (iproute2's NETNS_RUN_DIR).
const NETNS_DIR: &str = "/var/run/netns";
/// The tests' namespaces are `{NETNS_PREFIX}{pid}-{subnet}`.
const NETNS_PREFIX: &str = "allocstorm-boundaries-";
/// The /30s of 198.18.0.0/15.
const SUBNETS: u32 = 1 << 15;
/// Subnets tried before giving up, when another run (or anything else) has one.
const ATTEMPTS: u32 = 8;

/// Tests on threads of one process (`cargo test`) take different subnets.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// Polls `cond` every 10 ms, at most `within / 10 ms` times and until `within` has passed;
/// returns whether it held.
fn bounded_wait(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let step = Duration::from_millis(10);
    let deadline = Instant::now() + within;
    for _ in 0..=within.as_millis() / step.as_millis() {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(step);
    }
    cond()
}

/// Runs `ip args`: its stdout, or why it failed (its stderr). Debian's `ip` is
/// /usr/sbin/ip, which a root shell made by `su` without `-` has not on its PATH.
fn ip(args: &[&str]) -> Result<String, String> {
    let cmd = format!("ip {}", args.join(" "));
    let path = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("ip");
    let mut child = Command::new(path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("`{cmd}`: {e}"))?;
    // `ip` writes a line or two: the pipes cannot fill and block it.
    if !bounded_wait(IP_CMD, || child.try_wait().is_ok_and(|s| s.is_some())) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("`{cmd}` did not finish in {IP_CMD:?}"));
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("`{cmd}`: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{cmd}`: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Whether this thread's network namespace has an interface `name`.
fn link_exists(name: &str) -> bool {
    let c = std::ffi::CString::new(name).expect("an interface name");
    // SAFETY: if_nametoindex reads the NUL-terminated string only.
    unsafe { libc::if_nametoindex(c.as_ptr()) != 0 }
}

/// A network namespace joined to this host by a veth pair: `host_ip` on the host's end,
/// `ns_ip` on the namespace's, a /30 of 198.18.0.0/15 picked from the pid. Dropping it deletes
/// the veth pair and the namespace, also when the test panics, and checks both are gone.
struct Netns {
    name: String,
    /// The host's end of the veth pair; deleting it deletes the namespace's end too.
    host_if: String,
    /// Whether the namespace and `host_if` are this guard's to delete (made by it, not another
    /// run's of the same name).
    made_ns: bool,
    made_link: bool,
    host_ip: Ipv4Addr,
    ns_ip: Ipv4Addr,
}

impl Netns {
    /// Makes one, and checks that a client in it reaches this host from `ns_ip`. Fails the
    /// test, with why, where this is not root or there is no `ip`.
    fn new() -> Self {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(
            euid, 0,
            "this test must run as root: it makes a network namespace and a veth pair \
             (CAP_SYS_ADMIN, CAP_NET_ADMIN) to send requests from a non-loopback address"
        );
        if let Err(e) = ip(&["-V"]) {
            panic!(
                "this test needs iproute2's `ip` to make a network namespace, and it cannot be \
                 run ({e}); install iproute2 (scripts/servers.sh does)"
            );
        }
        Self::sweep_stale();
        let pid = std::process::id();
        let first = pid
            .wrapping_mul(2)
            .wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed))
            % SUBNETS;
        let mut taken = Vec::new();
        for attempt in 0..ATTEMPTS {
            let subnet = (first + attempt * 4099) % SUBNETS;
            match Self::make(pid, subnet) {
                Ok(Some(ns)) => {
                    ns.check_reaches_host();
                    return ns;
                }
                Ok(None) => taken.push(subnet),
                Err(e) => panic!("making a network namespace: {e}"),
            }
        }
        panic!("no free /30 of 198.18.0.0/15 for a network namespace: tried {taken:?}")
    }

    /// The names and addresses of run `pid`'s namespace on /30 number `subnet`; nothing made.
    fn named(pid: u32, subnet: u32) -> Self {
        let base = u32::from(Ipv4Addr::new(198, 18, 0, 0)) + subnet * 4;
        Netns {
            name: format!("{NETNS_PREFIX}{pid}-{subnet}"),
            host_if: format!("asb{subnet}h"),
            made_ns: false,
            made_link: false,
            host_ip: Ipv4Addr::from(base + 1),
            ns_ip: Ipv4Addr::from(base + 2),
        }
    }

    /// Removes what runs killed before their guards dropped (SIGKILL, an unhandled SIGINT)
    /// left: namespaces of a pid that is gone, and their veth pairs.
    fn sweep_stale() {
        let Ok(dir) = std::fs::read_dir(NETNS_DIR) else {
            return;
        };
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some((pid, subnet)) = name
                .strip_prefix(NETNS_PREFIX)
                .and_then(|rest| rest.split_once('-'))
            else {
                continue;
            };
            let (Ok(pid), Ok(subnet)) = (pid.parse::<u32>(), subnet.parse::<u32>()) else {
                continue;
            };
            if std::path::Path::new(&format!("/proc/{pid}")).exists() || subnet >= SUBNETS {
                continue;
            }
            let mut stale = Self::named(pid, subnet);
            stale.made_ns = true;
            stale.made_link = link_exists(&stale.host_if);
            eprintln!("removing {name}, left by a run that is gone");
            drop(stale);
        }
    }

    /// The namespace on /30 number `subnet`, or `None` where something has that subnet or the
    /// names already.
    fn make(pid: u32, subnet: u32) -> Result<Option<Self>, String> {
        let mut ns = Self::named(pid, subnet);
        let prefix = format!("{}/30", Ipv4Addr::from(u32::from(ns.host_ip) - 1));
        if !ip(&["-4", "-o", "addr", "show", "to", &prefix])?
            .trim()
            .is_empty()
        {
            return Ok(None);
        }
        let (host_if, name) = (ns.host_if.clone(), ns.name.clone());
        match ip(&["netns", "add", &name]) {
            Err(e) if e.contains("File exists") => return Ok(None),
            Err(e) => return Err(e),
            Ok(_) => ns.made_ns = true,
        }
        // From here on, dropping `ns` (an early return, a panic) removes what was made.
        let peer = format!("asb{subnet}n");
        let veth = [
            "link", "add", &host_if, "type", "veth", "peer", "name", &peer, "netns", &name,
        ];
        match ip(&veth) {
            Err(e) if e.contains("File exists") => return Ok(None),
            Err(e) => return Err(e),
            Ok(_) => ns.made_link = true,
        }
        let (host_cidr, ns_cidr) = (format!("{}/30", ns.host_ip), format!("{}/30", ns.ns_ip));
        ip(&["addr", "add", &host_cidr, "dev", &host_if])?;
        ip(&["link", "set", "dev", &host_if, "up"])?;
        ip(&["-n", &name, "addr", "add", &ns_cidr, "dev", &peer])?;
        ip(&["-n", &name, "link", "set", "dev", &peer, "up"])?;
        ip(&["-n", &name, "link", "set", "dev", "lo", "up"])?;
        // Both ends up and running (`state UP`: the link watch has activated their queues).
        let up = |args: &[&str]| ip(args).is_ok_and(|o| o.contains("state UP"));
        let ready = bounded_wait(LINK_UP, || {
            up(&["-o", "link", "show", "dev", &host_if])
                && up(&["-n", &name, "-o", "link", "show", "dev", &peer])
        });
        if !ready {
            let show = ip(&["-o", "link", "show", "dev", &host_if]);
            return Err(format!("veth {host_if} not up in {LINK_UP:?}: {show:?}"));
        }
        Ok(Some(ns))
    }

    /// A connection from inside the namespace to a listener of this test on `host_ip` arrives
    /// from `ns_ip`: the path a refusal is then told on works.
    fn check_reaches_host(&self) {
        let listener = TcpListener::bind((self.host_ip, 0))
            .unwrap_or_else(|e| panic!("listen on {}: {e}", self.host_ip));
        let to = listener.local_addr().unwrap();
        let from = self.run(move || TcpStream::connect_timeout(&to, CONNECT).map(|_| ()));
        from.unwrap_or_else(|e| panic!("connect from {} to {to}: {e}", self.name));
        // Connected: the connection is in the backlog, so accept does not wait.
        listener.set_nonblocking(true).unwrap();
        let (_, peer) = listener
            .accept()
            .unwrap_or_else(|e| panic!("accept on {to}: {e}"));
        assert_eq!(
            peer.ip(),
            IpAddr::V4(self.ns_ip),
            "the namespace's client came from {peer}"
        );
    }

    /// Runs `f` on a new thread that has entered the namespace (setns(2) moves the calling
    /// thread only), so every socket `f` opens is the namespace's; returns what `f` returns,
    /// and panics if it panics.
    fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("{NETNS_DIR}/{}", self.name);
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("in {}", self.name))
            .spawn(move || {
                let ns = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
                // SAFETY: setns(2) on an fd this thread holds open; a network namespace may be
                // entered by one thread of a multi-threaded process, which this thread is.
                let r = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(r, 0, "setns({path}): {}", std::io::Error::last_os_error());
                drop(ns);
                let _ = tx.send(f());
            })
            .expect("spawn a thread");
        match rx.recv_timeout(IN_NETNS) {
            Ok(v) => {
                let _ = thread.join();
                v
            }
            // It panicked (and printed why): so does the caller.
            Err(RecvTimeoutError::Disconnected) => match thread.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => unreachable!("the thread sends before it ends"),
            },
            Err(RecvTimeoutError::Timeout) => {
                panic!("a client in {} took over {IN_NETNS:?}", self.name)
            }
        }
    }

    /// Deletes the veth pair (both ends at once) and then the namespace, and checks both are
    /// gone.
    fn remove(&self) -> Result<(), String> {
        let mut errors = Vec::new();
        if self.made_link {
            errors.extend(ip(&["link", "del", "dev", &self.host_if]).err());
            if link_exists(&self.host_if) {
                errors.push(format!("{} is still there", self.host_if));
            }
        }
        if self.made_ns {
            errors.extend(ip(&["netns", "del", &self.name]).err());
            let file = std::path::Path::new(NETNS_DIR).join(&self.name);
            if file.exists() {
                errors.push(format!("{} is still there", file.display()));
            }
        }
        match errors.is_empty() {
            true => Ok(()),
            false => Err(errors.join("; ")),
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = self.remove() {
            let msg = format!(
                "removing network namespace {} and veth {}: {e}; by hand: `ip link del {}; \
                 ip netns del {}`",
                self.name, self.host_if, self.host_if, self.name
            );
            if std::thread::panicking() {
                eprintln!("{msg}");
            } else {
                panic!("{msg}");
            }
        }
    }
}

/// Connects to `to` and returns the connection's own address (or why not), closing it again.
fn connect_from(to: SocketAddr) -> std::io::Result<SocketAddr> {
    TcpStream::connect_timeout(&to, CONNECT)?.local_addr()
}

fn is_refused(r: &std::io::Result<SocketAddr>) -> bool {
    r.as_ref()
        .is_err_and(|e| e.kind() == ErrorKind::ConnectionRefused)
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
    let ns = Netns::new();
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
    // And from a non-loopback address the port is closed: from this host's own (the veth's
    // end here), and from a peer on that link (in the namespace, which reaches this host:
    // Netns::new checked).
    let there = SocketAddr::new(ns.host_ip.into(), server.addr.port());
    let r = connect_from(there);
    assert!(
        is_refused(&r),
        "connecting from this host to {there} should be refused, got {r:?}"
    );
    let r = ns.run(move || connect_from(there));
    assert!(
        is_refused(&r),
        "connecting from {} to {there} should be refused, got {r:?}",
        ns.ns_ip
    );
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
fn admin_release_answers_peers_on_this_host_only() {
    let ns = Netns::new();
    // Bound to every address, so peers on the veth's addresses can reach it.
    let server = Server::start_on(ALLOC, Some("0.0.0.0:0"), &["--create-file", "4KiB"]);
    let port = server.addr.port();
    let outside = SocketAddr::new(ns.host_ip.into(), port);

    // A peer in the namespace, and one on this host's own non-loopback address (the kernel
    // picks the destination's address as the source); the server sees each as the peer. The
    // namespace's is another host's and refused; this host's own is the harness beside a server
    // bound to that address (`[remote]`) and answered (issue 28: it was refused, 403).
    let in_ns = ns.run(move || {
        let local = connect_from(outside);
        let release = exchange(outside, "POST", "/admin/release");
        let health = exchange(outside, "GET", "/healthz");
        (local, release, health)
    });
    let on_host = (
        connect_from(outside),
        exchange(outside, "POST", "/admin/release"),
        exchange(outside, "GET", "/healthz"),
    );
    for (peer, (local, (status, raw), (health, _)), answered) in
        [(ns.ns_ip, in_ns, false), (ns.host_ip, on_host, true)]
    {
        // The connection really comes from that non-loopback address.
        let local = local.unwrap_or_else(|e| panic!("connect from {peer} to {outside}: {e}"));
        assert_eq!(local.ip(), IpAddr::V4(peer), "the client is at {local}");
        let text = String::from_utf8_lossy(&raw);
        if answered {
            assert_eq!(status, Some(200), "POST /admin/release from {peer}: {text}");
            assert!(text.contains("malloc_trim(0)"), "{text}");
        } else {
            assert_eq!(status, Some(403), "POST /admin/release from {peer}: {text}");
            assert!(
                contains(body(&raw), b"peers on this host only"),
                "the refusal says why: {text}"
            );
            assert!(!text.contains("called"), "release ran anyway: {text}");
        }
        // The rest answers every peer.
        assert_eq!(health, Some(200), "GET /healthz from {peer}");
    }

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
