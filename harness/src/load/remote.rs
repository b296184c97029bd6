//! Load workers on other hosts.
//!
//! The coordinator (`allocstorm run`/`compare` with `[remote]`, beside the server whose `/proc`
//! it samples) listens at the scenario's address for the length of each load's join, takes the
//! workers that present the run's token, gives each its share of the plan and one start, and
//! merges what they stream exactly as it merges local workers ([`super::parent::drive`]).
//!
//! A worker (`allocstorm load-worker --connect HOST:PORT`) connects, says `hello`, gets its
//! plan, runs it as a local worker would, and reconnects for the next load until no
//! coordinator answers for `--wait`.
//!
//! The lines are [`super::wire`]'s, on the TCP connection both ways. What keeps this safe to
//! leave running: the listener is open only while a load waits for its workers; each side
//! proves it holds the run's token without sending it ([`super::handshake`]), the coordinator
//! first; a worker checks every plan it gets ([`super::limits`]) and loads only the address it
//! reached the coordinator on (where the server is), loopback when the coordinator is on
//! loopback, the benchmarking range 198.18.0.0/15, or an address given with `--allow-target`.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncBufRead, BufReader};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{timeout, timeout_at, Instant};

use super::bounded;
use super::door::{self, Backoff, Door};
use super::handshake::{self, Nonce};
use super::merge::{LoadSummary, SecondReport};
use super::parent::{self, send_line, Worker};
use super::plan::{is_loopback_ip, LoadPlan, Target};
use super::wire::{FromWorker, ToWorker, WorkerPlan};
use super::LoadError;

/// The environment variable both sides take the token from.
pub const TOKEN_ENV: &str = "ALLOCSTORM_TOKEN";
/// How long a new connection has to say `hello`.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// This build's protocol: workers of another version are refused. Protocol 2 is the
/// challenge-response; the workers before it (protocol 1) said the bare package version.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (protocol 2)");

/// How the coordinator takes remote workers for each load.
#[derive(Debug, Clone)]
pub struct Coordinator {
    pub listen: SocketAddr,
    pub workers: usize,
    pub join: Duration,
    pub token: String,
    /// Say on stderr when a load waits for its workers and who joined.
    pub verbose: bool,
}

/// The run's token: `ALLOCSTORM_TOKEN` when set (a Kubernetes Secret, a compose file), else a
/// new random one; and whether it is new (then it must be shown to whoever starts workers).
pub fn token() -> Result<(String, bool), String> {
    match std::env::var(TOKEN_ENV) {
        Ok(t) if t.trim().is_empty() => Err(format!("{TOKEN_ENV} is set but empty")),
        Ok(t) => Ok((t, false)),
        Err(_) => {
            let bytes: [u8; 16] = rand::random();
            Ok((bytes.iter().map(|b| format!("{b:02x}")).collect(), true))
        }
    }
}

impl Coordinator {
    /// How to start a worker for this coordinator, with the token when it is new.
    pub fn instructions(&self, show_token: bool) -> String {
        let token = if show_token {
            self.token.as_str()
        } else {
            "<ALLOCSTORM_TOKEN>"
        };
        format!(
            "remote: each load waits {:?} for {} load workers on {}; start each with\n  \
             {TOKEN_ENV}={token} allocstorm load-worker --connect {}",
            self.join,
            self.workers,
            self.listen,
            self.connect_hint(),
        )
    }

    /// The address workers connect to, as a person would type it.
    fn connect_hint(&self) -> String {
        if self.listen.ip().is_unspecified() {
            format!("<this host>:{}", self.listen.port())
        } else {
            self.listen.to_string()
        }
    }

    /// Runs `plan` on the remote workers: waits for all of them, gives each its share with the
    /// server's port at the address it reached us on, starts them together and merges their
    /// seconds. The plan's process count becomes the number of workers.
    pub async fn run_load(
        &self,
        plan: &LoadPlan,
        on_second: impl FnMut(&SecondReport),
    ) -> Result<LoadSummary, LoadError> {
        let mut plan = plan.clone();
        plan.processes = self.workers;
        plan.connections = plan.connections.max(self.workers);
        plan.allow_remote = true;
        let plan = plan.checked()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let workers = self.join(&plan, tx).await?;
        // The load's target as the workers dialled it (the server's port on the address they
        // reached us on), not the address the server is bound to (0.0.0.0 in a pod), when
        // they all dialled the same one.
        let mut ips = workers.iter().filter_map(|w| match w {
            Worker::Remote { target_ip, .. } => Some(*target_ip),
            Worker::Child { .. } => None,
        });
        let mut plan = plan;
        if let Some(first) = ips.next() {
            if ips.all(|ip| ip == first) {
                plan.target =
                    Target::at(SocketAddr::new(first, plan.target.port), &plan.target.path);
            }
        }
        parent::drive(&plan, workers, rx, on_second).await
    }

    /// Listens until every worker has joined or the join time is up; the listener is closed
    /// when this returns.
    async fn join(
        &self,
        plan: &LoadPlan,
        tx: mpsc::UnboundedSender<(usize, parent::Line)>,
    ) -> Result<Vec<Worker>, LoadError> {
        let listener =
            TcpListener::bind(self.listen)
                .await
                .map_err(|source| LoadError::Listen {
                    listen: self.listen,
                    source,
                })?;
        if self.verbose {
            eprintln!(
                "remote: waiting for {} load workers on {}",
                self.workers, self.listen
            );
        }
        let mut door = Door::new(door::PENDING_MAX, door::PENDING_PER_PEER);
        let joined = self.gather(&listener, &mut door, plan, tx).await;
        if door.turned_away() > 0 {
            eprintln!(
                "remote: closed {} connections at once on {}: every place for connections \
                 waiting to say hello was taken ({} in all, {} for one address)",
                door.turned_away(),
                self.listen,
                door::PENDING_MAX,
                door::PENDING_PER_PEER
            );
        }
        joined
    }

    /// Takes connections on `listener` until every worker has joined or the join time is up.
    /// Hellos are read concurrently, so that one silent connection holds up no other; at most
    /// the door's places wait at once, each for [`HELLO_TIMEOUT`] in all.
    async fn gather(
        &self,
        listener: &TcpListener,
        door: &mut Door,
        plan: &LoadPlan,
        tx: mpsc::UnboundedSender<(usize, parent::Line)>,
    ) -> Result<Vec<Worker>, LoadError> {
        let deadline = Instant::now() + self.join;
        let mut joined: BTreeMap<usize, Worker> = BTreeMap::new();
        let (hello_tx, mut hellos) = mpsc::channel(door::PENDING_MAX);
        let mut backoff = Backoff::default();
        // The connections still waiting: aborted, so closed, when the join ends.
        let mut waiting = tokio::task::JoinSet::new();
        while joined.len() < self.workers {
            let resume = backoff.resume();
            let accept = async move {
                if let Some(at) = resume {
                    tokio::time::sleep_until(at).await;
                }
                listener.accept().await
            };
            tokio::select! {
                accepted = accept => match accepted {
                    Ok((stream, peer)) => {
                        backoff.succeeded();
                        // Beyond the door's places the connection is dropped here: closed.
                        if let Some(place) = door.enter(peer.ip()) {
                            let hello_tx = hello_tx.clone();
                            let token = self.token.clone();
                            waiting.spawn(async move {
                                let said =
                                    timeout(HELLO_TIMEOUT, read_hello(stream, peer, &token)).await;
                                if let Ok(Some(h)) = said {
                                    let _ = hello_tx.send(h).await;
                                }
                                drop(place);
                            });
                        }
                    }
                    Err(e) => {
                        if let Some(what) = backoff.failed(&e, Instant::now()) {
                            eprintln!("remote: on {}: {what}", self.listen);
                        }
                    }
                },
                Some(h) = hellos.recv() => {
                    self.admit(h, plan, &mut joined, &tx).await;
                }
                Some(_) = waiting.join_next() => {}
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(self.missing(&joined));
                }
            }
        }
        Ok(joined.into_values().collect())
    }

    /// Takes or refuses one worker that said hello.
    async fn admit(
        &self,
        h: Hello,
        plan: &LoadPlan,
        joined: &mut BTreeMap<usize, Worker>,
        tx: &mpsc::UnboundedSender<(usize, parent::Line)>,
    ) {
        let Hello {
            read,
            mut write,
            peer,
            local,
            index,
            name,
            refusal,
        } = h;
        let free = (0..self.workers).find(|i| !joined.contains_key(i));
        let verdict = if let Some(reason) = refusal {
            Err(reason)
        } else {
            match index {
                Some(i) if i >= self.workers => Err(format!(
                    "--index {i}: this load has workers 0 to {}",
                    self.workers - 1
                )),
                Some(i) if joined.contains_key(&i) => {
                    Err(format!("--index {i} is taken by another worker"))
                }
                Some(i) => Ok(i),
                None => free.ok_or_else(|| "the load has all its workers".to_string()),
            }
        };
        let index = match verdict {
            Ok(i) => i,
            Err(reason) => {
                eprintln!("remote: refused load worker {name:?} from {peer}: {reason}");
                let _ = timeout(
                    HELLO_TIMEOUT,
                    send_line(&mut write, &ToWorker::Refused { reason }),
                )
                .await;
                return;
            }
        };
        // Its share, aimed at the server's port on the address it reached us on.
        let mut its_plan = plan.clone();
        its_plan.target = Target::at(
            SocketAddr::new(local.ip(), plan.target.port),
            &plan.target.path,
        );
        let msg = ToWorker::Plan(Box::new(WorkerPlan {
            index,
            plan: its_plan,
        }));
        if timeout(HELLO_TIMEOUT, send_line(&mut write, &msg))
            .await
            .is_ok_and(|r| r.is_ok())
        {
            if self.verbose {
                eprintln!("remote: load worker {index} is {name} ({peer})");
            }
            parent::read_lines(index, read, tx.clone());
            joined.insert(
                index,
                Worker::Remote {
                    name,
                    peer,
                    target_ip: local.ip(),
                    write: Some(write),
                },
            );
        }
    }

    fn missing(&self, joined: &BTreeMap<usize, Worker>) -> LoadError {
        let names: Vec<String> = joined
            .iter()
            .map(|(i, w)| match w {
                Worker::Remote { name, peer, .. } => format!("{i} {name} ({})", peer.ip()),
                Worker::Child { .. } => i.to_string(),
            })
            .collect();
        let missing: Vec<String> = (0..self.workers)
            .filter(|i| !joined.contains_key(i))
            .map(|i| i.to_string())
            .collect();
        LoadError::Missing {
            joined: joined.len(),
            expected: self.workers,
            listen: self.listen,
            waited: self.join,
            who: format!(
                "; joined: {}; missing: {} (token in {TOKEN_ENV}, --connect {})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                },
                missing.join(", "),
                self.connect_hint()
            ),
        }
    }
}

/// A connection that said hello and went through the handshake, proved or not.
struct Hello {
    read: BufReader<OwnedReadHalf>,
    write: tokio::net::tcp::OwnedWriteHalf,
    peer: SocketAddr,
    local: SocketAddr,
    index: Option<usize>,
    name: String,
    /// Why it is not taken, whatever its index: its version, or a wrong proof of the token.
    refusal: Option<String>,
}

/// Why a handshake line was not the message expected.
#[derive(Debug, thiserror::Error)]
pub enum NotHello {
    #[error("it closed without a line")]
    Closed,
    #[error("{0}")]
    Unreadable(std::io::Error),
    #[error("it did not say hello: {0}")]
    Other(String),
}

/// One handshake line of a peer's, at most [`bounded::HANDSHAKE_MAX`] bytes of it.
async fn line_from<R: AsyncBufRead + Unpin>(read: &mut R) -> Result<String, NotHello> {
    bounded::read_line(read, bounded::HANDSHAKE_MAX)
        .await
        .map_err(NotHello::Unreadable)?
        .ok_or(NotHello::Closed)
}

/// Reads a connection's first line, at most [`bounded::HANDSHAKE_MAX`] bytes of it, as a
/// `hello`. Whatever the bytes, the answer is a hello or a [`NotHello`], after reading at most
/// the bound and one buffer.
pub async fn hello_from<R: AsyncBufRead + Unpin>(read: &mut R) -> Result<FromWorker, NotHello> {
    let line = line_from(read).await?;
    match serde_json::from_str::<FromWorker>(&line) {
        Ok(msg @ FromWorker::Hello { .. }) => Ok(msg),
        _ => Err(NotHello::Other(bounded::shorten(&line))),
    }
}

/// A new connection's hello and the challenge-response on `token` ([`handshake`]), all of it
/// within the [`HELLO_TIMEOUT`] its caller gives. A worker of another version is not challenged (it is refused for
/// its version); one whose proof is wrong is refused for its token.
async fn read_hello(stream: TcpStream, peer: SocketAddr, token: &str) -> Option<Hello> {
    let local = stream.local_addr().ok()?;
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let hello = match hello_from(&mut read).await {
        Ok(hello) => hello,
        Err(NotHello::Closed) => return None,
        Err(why) => {
            eprintln!("remote: dropped a connection from {peer}: {why}");
            return None;
        }
    };
    let FromWorker::Hello {
        index,
        name,
        version,
        nonce,
    } = hello
    else {
        return None;
    };
    // The peer's version is quoted (escaped) in the refusal, which the coordinator also prints.
    let refusal = if version != VERSION {
        Some(format!(
            "version {version:?}, the coordinator's is {VERSION:?}: use the same build"
        ))
    } else if let Some(nw) = handshake::parse_nonce(&nonce) {
        match challenge(&mut read, &mut write, peer, token, &nw).await {
            Proved::Yes => None,
            Proved::No => Some("wrong token (ALLOCSTORM_TOKEN)".to_string()),
            Proved::Gone => {
                eprintln!(
                    "remote: load worker {name:?} from {peer} left after the challenge: its \
                     {TOKEN_ENV} is not this run's, or it is not a load worker"
                );
                return None;
            }
        }
    } else {
        Some("a hello without a nonce of 64 hex digits".to_string())
    };
    Some(Hello {
        read,
        write,
        peer,
        local,
        index,
        name,
        refusal,
    })
}

/// How a challenge ended.
enum Proved {
    Yes,
    /// A proof, of another token (or of other nonces).
    No,
    /// No proof: the peer left, said something else, or nothing in time.
    Gone,
}

/// Sends the challenge for the worker's nonce `nw` and checks the worker's proof.
async fn challenge(
    read: &mut BufReader<OwnedReadHalf>,
    write: &mut tokio::net::tcp::OwnedWriteHalf,
    peer: SocketAddr,
    token: &str,
    nw: &Nonce,
) -> Proved {
    // A fresh nonce for every connection: no earlier proof answers it.
    let nc = handshake::nonce();
    let msg = ToWorker::Challenge {
        nonce: handshake::hex(&nc),
        proof: handshake::coordinator_proof(token, nw, &nc),
    };
    if !matches!(
        timeout(HELLO_TIMEOUT, send_line(write, &msg)).await,
        Ok(Ok(()))
    ) {
        return Proved::Gone;
    }
    // The caller's deadline covers the whole handshake, this read with it.
    let line = match line_from(read).await {
        Ok(line) => line,
        Err(NotHello::Unreadable(e)) => {
            eprintln!("remote: dropped a connection from {peer}: {e}");
            return Proved::Gone;
        }
        Err(_) => return Proved::Gone,
    };
    match serde_json::from_str::<FromWorker>(&line) {
        Ok(FromWorker::Proof { proof }) if handshake::worker_proved(token, &nc, nw, &proof) => {
            Proved::Yes
        }
        Ok(FromWorker::Proof { .. }) => Proved::No,
        Ok(_) => Proved::Gone,
        Err(_) => {
            eprintln!(
                "remote: ignored a connection from {peer} that sent {}",
                bounded::shorten(&line)
            );
            Proved::Gone
        }
    }
}

/// Whether a remote worker may send load to `ip`: the address it reached its coordinator on
/// (the server is beside the coordinator); loopback only when the coordinator itself is on
/// loopback (the same host, where the coordinator could load it anyway); the benchmarking range
/// 198.18.0.0/15 (RFC 2544), which is never anyone's production network; or an address the
/// worker's owner allowed (`--allow-target`).
pub fn may_load(ip: IpAddr, coordinator: IpAddr, allowed: &[IpAddr]) -> bool {
    let same = |a: IpAddr, b: IpAddr| a.to_canonical() == b.to_canonical();
    same(ip, coordinator)
        || (is_loopback_ip(ip) && is_loopback_ip(coordinator))
        || is_benchmark_ip(ip)
        || allowed.iter().any(|&a| same(a, ip))
}

/// 198.18.0.0/15.
pub fn is_benchmark_ip(ip: IpAddr) -> bool {
    let v4 = match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4,
            None => return false,
        },
    };
    let [a, b, ..] = v4.octets();
    a == 198 && (b & 0xfe) == 18
}

/// `load-worker --connect`: the worker's side.
pub mod worker;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_workers_load_only_the_coordinator_the_benchmark_range_or_allowed_addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let coord = ip("10.1.2.3");
        let allowed = [ip("10.9.9.9")];
        for ok in [
            "10.1.2.3",
            "::ffff:10.1.2.3",
            "198.18.0.1",
            "198.19.255.254",
            "10.9.9.9",
        ] {
            assert!(may_load(ip(ok), coord, &allowed), "{ok}");
        }
        // Loopback is the worker's own host, not the coordinator's: refused.
        for no in [
            "127.0.0.1",
            "::1",
            "10.1.2.4",
            "198.17.255.255",
            "198.20.0.0",
            "8.8.8.8",
            "::",
        ] {
            assert!(!may_load(ip(no), coord, &allowed), "{no}");
        }
        assert!(!may_load(ip("10.9.9.9"), coord, &[]));
        // A coordinator on loopback is on this host: its loopback is the worker's.
        for local in ["127.0.0.1", "::1"] {
            assert!(may_load(ip("127.0.0.1"), ip(local), &[]), "{local}");
            assert!(may_load(ip("::1"), ip(local), &[]), "{local}");
        }
        assert!(is_benchmark_ip(ip("::ffff:198.18.3.4")));
    }

    fn plan() -> LoadPlan {
        LoadPlan {
            target: Target::at(([127, 0, 0, 1], 9).into(), "/file/hot"),
            range: (0, 1023),
            processes: 1,
            connections: 1,
            rate: Some(10.0),
            steps: Vec::new(),
            duration: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            retries: 0,
            backoff: Duration::from_millis(100),
            allow_remote: true,
            mix: None,
        }
    }

    /// Reads what the coordinator sends until it closes: `None` when it closes with nothing.
    async fn first_line(s: &mut TcpStream) -> Option<String> {
        let mut r = BufReader::new(s);
        bounded::read_line(&mut r, bounded::LINE_MAX)
            .await
            .ok()
            .flatten()
    }

    /// The door's places held by silent connections: the next ones are closed at once (each
    /// reads the end of its connection), while the ones waiting still get an answer when they
    /// say hello. Without the cap every extra connection waited its 5 s too, and a flood of
    /// them took every file descriptor of the coordinator.
    #[tokio::test]
    async fn connections_beyond_the_waiting_cap_are_closed_at_once() {
        const PLACES: usize = 4;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let c = Coordinator {
            listen: addr,
            workers: 1,
            join: Duration::from_secs(60),
            token: "the-token".into(),
            verbose: false,
        };
        let gather = tokio::spawn(async move {
            let (tx, _rx) = mpsc::unbounded_channel();
            let mut door = Door::new(PLACES, PLACES);
            let joined = c.gather(&listener, &mut door, &plan(), tx).await;
            (joined.map(|w| w.len()), door.turned_away())
        });
        let mut waiting = Vec::new();
        for _ in 0..PLACES {
            waiting.push(TcpStream::connect(addr).await.unwrap());
        }
        for _ in 0..3 {
            let mut extra = TcpStream::connect(addr).await.unwrap();
            assert_eq!(first_line(&mut extra).await, None, "closed at once");
        }
        // A waiting connection is still open: its hello is answered (with a challenge).
        let hello = FromWorker::Hello {
            index: None,
            name: "w".into(),
            version: VERSION.into(),
            nonce: handshake::hex(&handshake::nonce()),
        };
        let (_, mut write) = waiting[0].split();
        send_line(&mut write, &hello).await.unwrap();
        let answer = first_line(&mut waiting[0]).await.expect("an answer");
        assert!(answer.contains("challenge"), "{answer}");
        gather.abort();
    }

    /// A coordinator's `go` holds a worker only as long as a start can sensibly be ahead.
    #[test]
    fn a_go_far_ahead_is_refused() {
        let coord: SocketAddr = "10.1.2.3:7070".parse().unwrap();
        let go = |ns: u64| format!(r#"{{"type":"go","start_monotonic_ns":1,"start_in_ns":{ns}}}"#);
        assert_eq!(
            worker::start_in(&go(50_000_000), coord).unwrap(),
            Duration::from_millis(50)
        );
        let far = worker::start_in(&go(u64::MAX), coord).unwrap_err();
        assert!(far.to_string().contains("more than 10s"), "{far}");
        let not_go = worker::start_in(r#"{"type":"refused","reason":"x"}"#, coord).unwrap_err();
        assert!(not_go.to_string().contains("expected go"), "{not_go}");
    }

    #[test]
    fn a_new_token_is_32_hex_digits() {
        // Only when the environment does not give one (tests do not set it).
        if std::env::var(TOKEN_ENV).is_err() {
            let (t, new) = token().unwrap();
            assert!(new);
            assert_eq!(t.len(), 32);
            assert!(t.chars().all(|c| c.is_ascii_hexdigit()));
            assert_ne!(t, token().unwrap().0);
        }
    }
}
