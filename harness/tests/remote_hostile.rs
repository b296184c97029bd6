//! A fake coordinator and a fake worker against the real ones, over raw TCP on loopback: what
//! each learns, and what each is refused (issue 28). Neither fake knows the run's token, except
//! the coordinator that sends hostile plans, which stands for a coordinator of the run gone bad.
//!
//! The fake coordinator is a listener in this test facing `allocstorm load-worker --connect`;
//! the fake worker is a connection from this test to the library's [`Coordinator`] joining in
//! the test's runtime. Every step waits for a line or the end of a connection, never a sleep.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use allocstorm::load::handshake::{self, Nonce};
use allocstorm::load::remote::{Coordinator, VERSION};
use allocstorm::load::LoadPlan;
use common::{Running, BIN};
use serde_json::{json, Value};

const TOKEN: &str = "hostile-e2e-token-0123456789abcdef";
/// A guard on every read, so that a broken side fails the test instead of hanging it.
const GUARD: Duration = Duration::from_secs(20);

fn nonce_hex(v: &Value) -> Nonce {
    handshake::parse_nonce(v.as_str().expect("a nonce string")).expect("64 hex digits")
}

/// One line from `r`, parsed.
fn line(r: &mut impl BufRead) -> Value {
    let mut l = String::new();
    r.read_line(&mut l).unwrap();
    serde_json::from_str(&l).unwrap_or_else(|e| panic!("{l:?}: {e}"))
}

fn send(w: &mut impl Write, v: &Value) {
    w.write_all(format!("{v}\n").as_bytes()).unwrap();
}

// ---- A fake coordinator against the real worker.

/// A real worker with the run's token, connecting to a listener this test holds.
fn real_worker(listener: &TcpListener, extra: &[&str]) -> Running {
    let mut cmd = Command::new(BIN);
    cmd.args(["load-worker", "--connect"])
        .arg(listener.local_addr().unwrap().to_string())
        .args(["--name", "real-worker", "--wait", "2s"])
        .args(extra)
        .env("ALLOCSTORM_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    Running::spawn(cmd)
}

fn accept(listener: &TcpListener) -> (BufReader<TcpStream>, TcpStream) {
    let (s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(GUARD)).unwrap();
    (BufReader::new(s.try_clone().unwrap()), s)
}

/// What the fake coordinator reads from the real worker until it closes.
fn rest(r: &mut BufReader<TcpStream>) -> Vec<u8> {
    let mut all = Vec::new();
    r.read_to_end(&mut all).unwrap();
    all
}

/// The fake coordinator learns the worker's hello: its name, index, version and a nonce, and
/// nothing of the token. Its challenge (no token: a made-up proof) is answered with nothing:
/// the worker closes and exits 2 saying the coordinator does not hold the run's token.
#[test]
fn a_fake_coordinator_learns_a_hello_and_gets_nothing_else() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut worker = real_worker(&listener, &[]);
    let (mut r, mut w) = accept(&listener);
    let hello = line(&mut r);
    let mut keys: Vec<&str> = hello
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["index", "name", "nonce", "type", "version"],
        "{hello}"
    );
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["name"], "real-worker");
    assert_eq!(hello["version"], VERSION);
    nonce_hex(&hello["nonce"]);
    assert!(!hello.to_string().contains(TOKEN));
    send(
        &mut w,
        &json!({"type": "challenge", "nonce": handshake::hex(&handshake::nonce()),
                "proof": "00".repeat(32)}),
    );
    assert!(
        rest(&mut r).is_empty(),
        "the worker sent more after a wrong proof"
    );
    let (status, err) = worker.wait_within(GUARD);
    assert_eq!(status.code(), Some(2), "{err}");
    let port = listener.local_addr().unwrap().port();
    assert!(
        err.contains(&format!(
            "the coordinator at 127.0.0.1:{port} does not hold the run's token"
        )),
        "{err}"
    );
}

/// A fake coordinator that skips the challenge and sends a plan at once gets nothing: the
/// worker wanted a challenge and leaves.
#[test]
fn a_fake_coordinator_that_sends_a_plan_without_a_challenge_is_left() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut worker = real_worker(&listener, &[]);
    let (mut r, mut w) = accept(&listener);
    line(&mut r);
    send(
        &mut w,
        &json!({"type": "plan", "index": 0, "plan": plan_json("127.0.0.1")}),
    );
    assert!(rest(&mut r).is_empty());
    let (status, err) = worker.wait_within(GUARD);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains("sent something other than a challenge"),
        "{err}"
    );
}

/// A fake coordinator's refusal (allowed before any proof: it is how another version says no)
/// reaches the worker's stderr as one short line without control characters.
#[test]
fn a_fake_refusal_is_shown_as_one_printable_line() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut worker = real_worker(&listener, &[]);
    let (mut r, mut w) = accept(&listener);
    line(&mut r);
    let reason = format!("\u{1b}[2J\rfake\nsecond line{}", "x".repeat(3000));
    send(&mut w, &json!({"type": "refused", "reason": reason}));
    assert!(rest(&mut r).is_empty());
    let (status, err) = worker.wait_within(GUARD);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains("refused this worker: ?[2J?fake?second line"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!err.contains('\u{1b}') && err.len() < 600, "{err}");
}

/// A challenge recorded from the real coordinator, played to the real worker: its proof was
/// for another worker nonce, so the worker refuses it.
#[test]
fn a_replayed_challenge_is_refused_by_the_worker() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (addr, _coordinator) = coordinator(&rt, 1);
    let (mut cr, mut cw) = connect(addr);
    send(&mut cw, &hello_of(&handshake::nonce()));
    let recorded = line(&mut cr);
    assert_eq!(recorded["type"], "challenge");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut worker = real_worker(&listener, &[]);
    let (mut r, mut w) = accept(&listener);
    line(&mut r);
    send(&mut w, &recorded);
    assert!(rest(&mut r).is_empty());
    let (status, err) = worker.wait_within(GUARD);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("does not hold the run's token"), "{err}");
}

/// A plan of the run's coordinator, well formed and close to one the harness sends.
fn plan_json(host: &str) -> Value {
    json!({
        "target": {"url": format!("http://{host}:9/"), "host": host, "port": 9, "path": "/",
                   "authority": format!("{host}:9")},
        "range": [0, 1023], "processes": 1, "connections": 1, "rate": 10.0, "steps": [],
        "duration": {"secs": 1, "nanos": 0}, "timeout": {"secs": 1, "nanos": 0}, "retries": 0,
        "backoff": {"secs": 0, "nanos": 0}, "allow_remote": true
    })
}

/// A coordinator that holds the token (one of the run's, gone bad) proves it and then sends
/// `plan` to a real worker started with `extra`; returns the worker's exit code, stderr, and
/// its first line after the plan (`ready` if it took the plan), if any.
fn serve_plan(plan: Value, extra: &[&str]) -> (Option<i32>, String, Option<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut worker = real_worker(&listener, extra);
    let (mut r, mut w) = accept(&listener);
    let nw = nonce_hex(&line(&mut r)["nonce"]);
    let nc = handshake::nonce();
    send(
        &mut w,
        &json!({"type": "challenge", "nonce": handshake::hex(&nc),
                "proof": handshake::coordinator_proof(TOKEN, &nw, &nc)}),
    );
    let proof = line(&mut r);
    assert!(handshake::worker_proved(
        TOKEN,
        &nc,
        &nw,
        proof["proof"].as_str().unwrap()
    ));
    send(&mut w, &json!({"type": "plan", "index": 0, "plan": plan}));
    let mut after = String::new();
    r.read_line(&mut after).unwrap();
    let first = (!after.is_empty()).then(|| serde_json::from_str(&after).unwrap());
    // No listener before the connection ends: a worker that took the plan and lost its
    // coordinator finds none to go back to, and exits after its --wait.
    drop(listener);
    drop((r, w));
    let (status, err) = worker.wait_within(GUARD);
    (status.code(), err, first)
}

/// Each hostile plan: the worker sends nothing after it, exits 2 (not a panic's 101) and names
/// the field. Before the worker checked plans, `processes = 0` exited 101 (a division by zero)
/// and the huge duration panicked on an `Instant` overflow.
#[test]
fn hostile_plans_are_refused_with_a_line_naming_the_field() {
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut p = plan_json("127.0.0.1");
        f(&mut p);
        p
    };
    let cases: [(Value, &str); 6] = [
        (edit(&|p| p["processes"] = json!(0)), "--processes \"0\""),
        (
            edit(&|p| p["duration"] = json!({"secs": u64::MAX, "nanos": 0})),
            "duration 18446744073709551615s",
        ),
        (edit(&|p| p["range"] = json!([9, 3])), "range (9, 3)"),
        (edit(&|p| p["rate"] = json!(1e30)), "rate 1e30"),
        (
            edit(&|p| p["connections"] = json!(usize::MAX)),
            "connections 18446744073709551615",
        ),
        (
            plan_json("10.255.255.1"),
            "sent a target this worker refuses to load, http://10.255.255.1:9/",
        ),
    ];
    for (plan, says) in cases {
        let (code, err, first) = serve_plan(plan, &[]);
        assert_eq!(code, Some(2), "{says}: {err}");
        assert!(first.is_none(), "{says}: the worker answered {first:?}");
        assert!(err.contains(says), "{says}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

/// An address given with `--allow-target` is one the worker takes a plan for: it says ready.
#[test]
fn an_allowed_target_is_taken() {
    let (_, err, first) = serve_plan(
        plan_json("10.255.255.1"),
        &["--allow-target", "10.255.255.1"],
    );
    let first = first.unwrap_or_else(|| panic!("no ready: {err}"));
    assert_eq!(first["type"], "ready", "{first}");
    assert_eq!(first["addr"], "10.255.255.1:9");
}

// ---- A fake worker against the real coordinator.

/// The library's coordinator joining `workers` workers for a small plan, on a port of its own.
fn coordinator(
    rt: &tokio::runtime::Runtime,
    workers: usize,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<String>) {
    let listen = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let c = Coordinator {
        listen,
        workers,
        join: Duration::from_secs(30),
        token: TOKEN.to_string(),
        verbose: false,
    };
    let plan: LoadPlan = serde_json::from_value(plan_json("127.0.0.1")).unwrap();
    let task = rt.spawn(async move {
        match c.run_load(&plan, |_| {}).await {
            Ok(_) => "ran".to_string(),
            Err(e) => e.to_string(),
        }
    });
    (listen, task)
}

/// Connects, retrying while the coordinator's listener is not yet bound.
fn connect(addr: std::net::SocketAddr) -> (BufReader<TcpStream>, TcpStream) {
    let started = std::time::Instant::now();
    let s = loop {
        match TcpStream::connect(addr) {
            Ok(s) => break s,
            Err(_) if started.elapsed() < GUARD => std::thread::sleep(common::POLL),
            Err(e) => panic!("{addr}: {e}"),
        }
    };
    s.set_read_timeout(Some(GUARD)).unwrap();
    (BufReader::new(s.try_clone().unwrap()), s)
}

fn hello_of(nw: &Nonce) -> Value {
    json!({"type": "hello", "index": null, "name": "fake", "version": VERSION,
           "nonce": handshake::hex(nw)})
}

/// The fake worker's hello, and the challenge it gets: a nonce and a proof, nothing of the
/// token.
fn challenged(addr: std::net::SocketAddr) -> (BufReader<TcpStream>, TcpStream, Nonce, Value) {
    let (mut r, mut w) = connect(addr);
    let nw = handshake::nonce();
    send(&mut w, &hello_of(&nw));
    let ch = line(&mut r);
    let mut keys: Vec<&str> = ch.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["nonce", "proof", "type"], "{ch}");
    assert_eq!(ch["type"], "challenge");
    assert!(!ch.to_string().contains(TOKEN));
    (r, w, nw, ch)
}

fn refusal(r: &mut BufReader<TcpStream>) -> String {
    let v = line(r);
    assert_eq!(v["type"], "refused", "{v}");
    v["reason"].as_str().unwrap().to_string()
}

/// What a fake worker without the token gets from the real coordinator: a challenge, then a
/// refusal, whatever it sends as its proof (made up, the coordinator's own proof reflected, a
/// proof recorded from an earlier connection); old workers and hellos without a nonce are
/// refused before any challenge. None is counted: the load is still missing its worker.
#[test]
fn a_fake_worker_learns_a_challenge_and_is_refused() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (addr, task) = coordinator(&rt, 1);

    // A made-up proof.
    let (mut r, mut w, _, _) = challenged(addr);
    send(&mut w, &json!({"type": "proof", "proof": "ab".repeat(32)}));
    assert_eq!(refusal(&mut r), "wrong token (ALLOCSTORM_TOKEN)");

    // The coordinator's own proof, sent back as the worker's.
    let (mut r, mut w, _, ch) = challenged(addr);
    send(&mut w, &json!({"type": "proof", "proof": ch["proof"]}));
    assert_eq!(refusal(&mut r), "wrong token (ALLOCSTORM_TOKEN)");

    // A real worker's proof from an earlier connection (made here with the token, as a
    // recording of it would be), replayed with the same hello: the new challenge differs.
    let (_r, _w, nw, first) = challenged(addr);
    let recorded = handshake::worker_proof(TOKEN, &nonce_hex(&first["nonce"]), &nw);
    let (mut r, mut w) = connect(addr);
    send(&mut w, &hello_of(&nw));
    let again = line(&mut r);
    assert_ne!(
        again["nonce"], first["nonce"],
        "a fresh nonce each connection"
    );
    send(&mut w, &json!({"type": "proof", "proof": recorded}));
    assert_eq!(refusal(&mut r), "wrong token (ALLOCSTORM_TOKEN)");

    // A worker of the protocol before: its hello carried the token; refused for its version,
    // with no challenge.
    let (mut r, mut w) = connect(addr);
    send(
        &mut w,
        &json!({"type": "hello", "token": "guess", "index": null, "name": "old",
                "version": env!("CARGO_PKG_VERSION")}),
    );
    let reason = refusal(&mut r);
    assert!(
        reason.starts_with("version \"0.1.0\", the coordinator's is \"0.1.0 (protocol 2)\""),
        "{reason}"
    );

    // This version, no nonce.
    let (mut r, mut w) = connect(addr);
    send(
        &mut w,
        &json!({"type": "hello", "index": null, "name": "x", "version": VERSION}),
    );
    assert_eq!(refusal(&mut r), "a hello without a nonce of 64 hex digits");

    // A proof with no hello first: the connection is closed, unanswered.
    let (mut r, mut w) = connect(addr);
    send(&mut w, &json!({"type": "proof", "proof": "00".repeat(32)}));
    assert!(rest(&mut r).is_empty());

    // Nobody was counted: a worker with the token, proving it, is the load's one worker
    // (index 0), after checking the coordinator's proof.
    let (mut r, mut w, nw, ch) = challenged(addr);
    let nc = nonce_hex(&ch["nonce"]);
    assert!(handshake::coordinator_proved(
        TOKEN,
        &nw,
        &nc,
        ch["proof"].as_str().unwrap()
    ));
    send(
        &mut w,
        &json!({"type": "proof", "proof": handshake::worker_proof(TOKEN, &nc, &nw)}),
    );
    let plan = line(&mut r);
    assert_eq!(
        (&plan["type"], &plan["index"]),
        (&json!("plan"), &json!(0)),
        "{plan}"
    );
    assert!(!task.is_finished());
    task.abort();
}
