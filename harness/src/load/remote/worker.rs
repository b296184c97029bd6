//! `load-worker --connect`: the worker's side of a remote load: connecting, the handshake
//! (it checks the coordinator's proof before giving its own), the plan checked before it runs.

use super::*;
use anyhow::{anyhow, Context};

/// What `--connect` and its companions say.
pub struct Connect {
    pub coordinator: String,
    pub index: Option<usize>,
    pub name: String,
    pub wait: Duration,
    pub once: bool,
    pub token: String,
    /// Addresses this worker may load besides its coordinator's (`--allow-target`).
    pub allow_targets: Vec<IpAddr>,
}

/// The coordinator will not take this worker: no use trying again.
#[derive(Debug, thiserror::Error)]
#[error("{coordinator} refused this worker: {reason}")]
pub struct Refused {
    pub coordinator: SocketAddr,
    pub reason: String,
}

/// The peer at the coordinator's address did not prove the token, or sent a plan this
/// worker will not run: no use trying again.
#[derive(Debug, thiserror::Error)]
#[error("the coordinator at {coordinator} {why}")]
pub struct Untrusted {
    pub coordinator: SocketAddr,
    pub why: String,
}

/// How one connection to the coordinator ended.
pub enum Session {
    /// A load ran to its end.
    Served,
    /// The coordinator went away mid-load; the worker waits for the next.
    Lost(String),
}

/// A coordinator's answer to hello: the plan, the connection to run it on.
pub struct Joined {
    pub plan: WorkerPlan,
    pub coordinator: SocketAddr,
    pub read: BufReader<OwnedReadHalf>,
    pub write: tokio::net::tcp::OwnedWriteHalf,
}

/// Connects (retrying every 200 ms until `until`), says hello, proves the token to a
/// coordinator that proved it first, and reads and checks the plan. `Ok(None)`: no
/// coordinator answered in time.
pub async fn join(c: &Connect, until: Instant) -> anyhow::Result<Option<Joined>> {
    let Some(stream) = connect(c, until).await else {
        return Ok(None);
    };
    let coordinator = stream.peer_addr()?;
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let nw = handshake::nonce();
    let hello = FromWorker::Hello {
        index: c.index,
        name: c.name.clone(),
        version: VERSION.to_string(),
        nonce: handshake::hex(&nw),
    };
    send_line(&mut write, &hello).await?;
    let line = next_line(&mut read, coordinator, bounded::HANDSHAKE_MAX).await?;
    let proof = match parse_answer(&line, coordinator)? {
        ToWorker::Challenge { nonce, proof } => prove(c, coordinator, &nw, &nonce, &proof)?,
        other => return Err(unexpected(coordinator, other, "a challenge")),
    };
    send_line(&mut write, &FromWorker::Proof { proof }).await?;
    let line = next_line(&mut read, coordinator, bounded::LINE_MAX).await?;
    let plan = plan_from(&line, coordinator, &c.allow_targets)?;
    Ok(Some(Joined {
        plan,
        coordinator,
        read,
        write,
    }))
}

/// The coordinator's answer to this worker's proof, one line: a plan this worker may run
/// ([`checked_plan`]), or why not. Whatever the line, a plan or an error, never a panic.
pub fn plan_from(
    line: &str,
    coordinator: SocketAddr,
    allowed: &[IpAddr],
) -> anyhow::Result<WorkerPlan> {
    match parse_answer(line, coordinator)? {
        ToWorker::Plan(plan) => {
            checked_plan(allowed, coordinator, &plan)?;
            Ok(*plan)
        }
        other => Err(unexpected(coordinator, other, "a plan")),
    }
}

/// The furthest ahead a coordinator may set the start: it sets it 50 ms after `go`; a
/// start further off would hold the worker for nothing (`u64::MAX` ns is 584 years).
pub const GO_AHEAD_MAX: Duration = Duration::from_secs(10);

/// How long after reading `go` the load starts, from its line: an error for anything but a
/// `go` with a start within [`GO_AHEAD_MAX`].
pub fn start_in(line: &str, coordinator: SocketAddr) -> anyhow::Result<Duration> {
    match serde_json::from_str::<ToWorker>(line) {
        Ok(ToWorker::Go {
            start_in_ns: Some(ns),
            ..
        }) if Duration::from_nanos(ns) <= GO_AHEAD_MAX => Ok(Duration::from_nanos(ns)),
        Ok(ToWorker::Go {
            start_in_ns: Some(ns),
            ..
        }) => Err(anyhow!(
            "{coordinator}: go starts in {:?}, more than {GO_AHEAD_MAX:?}",
            Duration::from_nanos(ns)
        )),
        _ => Err(anyhow!(
            "{coordinator}: expected go, got {:?}",
            bounded::shorten(line)
        )),
    }
}

/// A connection to the coordinator, trying every 200 ms until `until`.
async fn connect(c: &Connect, until: Instant) -> Option<TcpStream> {
    loop {
        match timeout_at(until, TcpStream::connect(c.coordinator.as_str())).await {
            Err(_) => return None,
            Ok(Ok(s)) => return Some(s),
            Ok(Err(_)) if Instant::now() + Duration::from_millis(200) < until => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(Err(_)) => return None,
        }
    }
}

/// The coordinator's next line, of at most `max` bytes. It answers once it has read the
/// hello; it may be busy with others.
async fn next_line(
    read: &mut BufReader<OwnedReadHalf>,
    coordinator: SocketAddr,
    max: usize,
) -> anyhow::Result<String> {
    let line = timeout(HELLO_TIMEOUT * 2, bounded::read_line(read, max))
        .await
        .map_err(|_| anyhow!("{coordinator} did not answer hello"))?
        .with_context(|| format!("{coordinator} answered hello"))?;
    // `None`: accepted and closed: a listener between loads, one that had all its workers,
    // or a coordinator of a version before the handshake.
    line.ok_or_else(|| anyhow!("{coordinator} closed the connection after hello"))
}

/// One line of the coordinator's as a message.
fn parse_answer(line: &str, coordinator: SocketAddr) -> anyhow::Result<ToWorker> {
    serde_json::from_str::<ToWorker>(line)
        .with_context(|| format!("{coordinator} answered {}", bounded::shorten(line.trim())))
}

/// `refused` is the coordinator's last word; anything else out of turn is an error.
fn unexpected(coordinator: SocketAddr, got: ToWorker, expected: &str) -> anyhow::Error {
    match got {
        // A refusal may come before the coordinator has proved anything (another
        // version's): its reason is shown as one short line of printable characters.
        ToWorker::Refused { reason } => Refused {
            coordinator,
            reason: bounded::shorten(&reason.replace(|c: char| c.is_control(), "?")),
        }
        .into(),
        ToWorker::Go { .. } => anyhow!("{coordinator} sent go before {expected}"),
        _ => Untrusted {
            coordinator,
            why: format!("sent something other than {expected}: not a coordinator of this build"),
        }
        .into(),
    }
}

/// Checks the coordinator's proof and makes this worker's, which is sent only then.
fn prove(
    c: &Connect,
    coordinator: SocketAddr,
    nw: &Nonce,
    nonce: &str,
    proof: &str,
) -> Result<String, Untrusted> {
    match handshake::parse_nonce(nonce) {
        Some(nc) if handshake::coordinator_proved(&c.token, nw, &nc, proof) => {
            Ok(handshake::worker_proof(&c.token, &nc, nw))
        }
        _ => Err(Untrusted {
            coordinator,
            why: format!(
                "does not hold the run's token (its proof is wrong; or this worker's \
                 {TOKEN_ENV} is not the run's); nothing derived from the token was sent"
            ),
        }),
    }
}

/// The plan passes the checks a plan made from flags passes, within limits
/// ([`super::super::limits`]), and aims at an address this worker may load.
fn checked_plan(
    allowed: &[IpAddr],
    coordinator: SocketAddr,
    wp: &WorkerPlan,
) -> Result<(), Untrusted> {
    let untrusted = |why: String| Untrusted { coordinator, why };
    super::super::limits::check_received(wp)
        .map_err(|e| untrusted(format!("sent a plan this worker will not run: {e}")))?;
    let target = &wp.plan.target;
    let host: IpAddr = target.host.parse().map_err(|_| {
        untrusted(format!(
            "sent a target {:?} that is not an IP address",
            target.host
        ))
    })?;
    if !may_load(host, coordinator.ip(), allowed) {
        return Err(untrusted(format!(
            "sent a target this worker refuses to load, {}: a remote worker loads only its \
             coordinator's address, loopback when the coordinator is on loopback, \
             198.18.0.0/15, or an --allow-target address",
            target.url
        )));
    }
    Ok(())
}
