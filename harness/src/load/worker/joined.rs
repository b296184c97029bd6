//! `load-worker --connect`: joins a coordinator's `[remote]` run and serves its loads, one after
//! another, until no coordinator answers for `--wait`.

use std::process::ExitCode;

use anyhow::{anyhow, Context};
use tokio::sync::mpsc;
use tokio::task::LocalSet;
use tokio::time::{timeout, Duration, Instant};

use super::{connections_of, drive, resolve, Out, WorkerArgs};
use crate::load::wire::FromWorker;
use crate::load::{bounded, remote};

/// `--connect`: joins, serves a load, and again, until no coordinator answers for `--wait`.
pub(super) async fn connect_main(args: WorkerArgs) -> ExitCode {
    let fail = |msg: String| {
        eprintln!("allocstorm load-worker: {msg}");
        ExitCode::from(2)
    };
    let wait = match allocstorm_core::units::parse_duration(&args.wait) {
        Ok(d) if !d.is_zero() => d,
        _ => {
            return fail(format!(
                "--wait {:?}: expected a duration above zero such as 30s or 2m",
                args.wait
            ))
        }
    };
    let token = match std::env::var(remote::TOKEN_ENV) {
        Ok(t) if !t.trim().is_empty() => t,
        _ => {
            return fail(format!(
                "{} is not set: the coordinator prints the run's token when it starts",
                remote::TOKEN_ENV
            ))
        }
    };
    let c = remote::worker::Connect {
        coordinator: args.connect.clone().unwrap_or_default(),
        index: args.index,
        name: args.name.clone().unwrap_or_else(hostname),
        wait,
        once: args.once,
        token,
        allow_targets: args.allow_target.clone(),
    };
    let mut served = 0u64;
    // The deadline moves on only after a load (served or lost): a coordinator that keeps
    // refusing or dropping us cannot keep this loop going past --wait.
    let mut until = Instant::now() + c.wait;
    loop {
        match session(&c, until).await {
            Ok(None) if served > 0 => {
                eprintln!(
                    "load-worker {}: no coordinator at {} for {:?} after {served} load(s); done",
                    c.name, c.coordinator, c.wait
                );
                return ExitCode::SUCCESS;
            }
            Ok(None) => {
                return fail(format!(
                    "no coordinator answered at {} within {:?}",
                    c.coordinator, c.wait
                ))
            }
            Ok(Some(remote::worker::Session::Served)) => {
                served += 1;
                if c.once {
                    return ExitCode::SUCCESS;
                }
                until = Instant::now() + c.wait;
            }
            Ok(Some(remote::worker::Session::Lost(why))) => {
                eprintln!("load-worker {}: {why}; waiting for the next load", c.name);
                until = Instant::now() + c.wait;
            }
            // Refused, or a peer that did not prove the token or sent a plan not to run: the
            // same answer again, so stop and say why.
            Err(e) if e.is::<remote::worker::Refused>() || e.is::<remote::worker::Untrusted>() => {
                return fail(format!("{e:#}"))
            }
            Err(e) => {
                eprintln!("load-worker {}: {e:#}; trying again", c.name);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_string())
}

/// How long a joined worker waits for `go`: the coordinator sends it once every worker is
/// ready, which each has 15 s to be.
const GO_TIMEOUT: Duration = Duration::from_secs(30);

/// One load for a coordinator: join, ready, go, the load, done. `Ok(None)`: nobody answered
/// before `until`.
async fn session(
    c: &remote::worker::Connect,
    until: Instant,
) -> anyhow::Result<Option<remote::worker::Session>> {
    use remote::worker::Session;
    use tokio::io::AsyncWriteExt;

    let Some(joined) = remote::worker::join(c, until).await? else {
        return Ok(None);
    };
    let remote::worker::Joined {
        plan: wp,
        coordinator,
        mut read,
        mut write,
    } = joined;
    let connections = connections_of(&wp)?;
    let addr = resolve(&wp.plan.target, true).await?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Option<String>>();
    let writer = tokio::spawn(async move {
        while let Some(Some(line)) = rx.recv().await {
            if write.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
        let _ = write.flush().await;
        let _ = write.shutdown().await;
    });
    let out = Out::Remote(tx.clone());
    out.emit(&FromWorker::Ready {
        index: wp.index,
        pid: std::process::id(),
        connections,
        addr: addr.to_string(),
    });
    let go = timeout(
        GO_TIMEOUT,
        bounded::read_line(&mut read, bounded::HANDSHAKE_MAX),
    )
    .await
    .map_err(|_| anyhow!("{coordinator} sent no go within {GO_TIMEOUT:?}"))?
    .with_context(|| format!("{coordinator}'s go"))?;
    let Some(line) = go else {
        return Ok(Some(Session::Lost(format!(
            "{coordinator} closed the connection before go"
        ))));
    };
    let start = Instant::now() + remote::worker::start_in(&line, coordinator)?;
    // The coordinator says nothing more during a load: the end of its side means it is gone.
    let gone = async {
        while let Ok(Some(_)) = bounded::read_line(&mut read, bounded::HANDSHAKE_MAX).await {}
    };
    let local = LocalSet::new();
    let outcome = tokio::select! {
        done = local.run_until(drive(&wp, addr, start, connections, out.clone())) => {
            out.emit(&FromWorker::Done(done?));
            Session::Served
        }
        _ = gone => Session::Lost(format!("{coordinator} closed the connection mid-load")),
    };
    drop(local);
    let _ = tx.send(None);
    let _ = timeout(Duration::from_secs(5), writer).await;
    Ok(Some(outcome))
}
