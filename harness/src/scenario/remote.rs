//! `[remote]`: every load of a run comes from `allocstorm load-worker --connect` processes on
//! other hosts, which join the coordinator (`allocstorm run`/`compare`, beside the server) at
//! `listen` ([`crate::load::remote`]).

use std::net::SocketAddr;
use std::time::Duration;

use allocstorm_core::units;
use serde::{Deserialize, Serialize};

use super::error::{nonzero, Ctx, ScenarioError};
use super::phases::secs;
use super::raw::RawRemote;

/// More remote workers than this is a typo (the same bound as `--processes`).
const MAX_WORKERS: u32 = 1024;

/// Where the coordinator waits for its workers, and how many.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RemoteSpec {
    /// An address of this host and a fixed port (`0.0.0.0`/`::` for any address). The toy
    /// server listens on the same IP, on a port of the kernel's choosing.
    pub listen: SocketAddr,
    /// Workers each load waits for; each load is split among them.
    pub workers: u32,
    /// How long a load waits for all of them to join.
    #[serde(with = "secs")]
    pub join: Duration,
}

/// `[remote]`, when present.
pub(super) fn remote_spec(
    ctx: &Ctx,
    r: Option<&RawRemote>,
) -> Result<Option<RemoteSpec>, ScenarioError> {
    let Some(r) = r else { return Ok(None) };
    let listen: SocketAddr = r.listen.parse().map_err(|_| {
        ctx.err(
            "remote.listen",
            format!(
                "expected IP:PORT of this host, e.g. \"198.18.0.1:7070\" or \"0.0.0.0:7070\", got {:?}",
                r.listen
            ),
        )
    })?;
    if listen.port() == 0 {
        return Err(ctx.err(
            "remote.listen",
            format!(
                "expected a fixed port (workers must know where to connect), got {:?}",
                r.listen
            ),
        ));
    }
    if !(1..=MAX_WORKERS).contains(&r.workers) {
        return Err(ctx.err(
            "remote.workers",
            format!("expected 1 to {MAX_WORKERS} workers, got {}", r.workers),
        ));
    }
    let join = ctx.unit("remote.join", r.join.as_ref(), "60s", units::parse_duration)?;
    let join = nonzero(ctx, "remote.join", join)?;
    if join > Duration::from_secs(3600) {
        return Err(ctx.err(
            "remote.join",
            format!("expected at most an hour, got {join:?}"),
        ));
    }
    Ok(Some(RemoteSpec {
        listen,
        workers: r.workers,
        join,
    }))
}

/// `[remote]` drives the toy server's memory run only: the cost measurement and a `[target]`
/// start servers and loads of their own.
pub(super) fn check_scope(
    ctx: &Ctx,
    has_cost: bool,
    has_target: bool,
) -> Result<(), ScenarioError> {
    if has_cost {
        return Err(ctx.err(
            "remote",
            "[remote] cannot be combined with [cost] (the capacity runs use local workers); \
             set [cost] enabled = false",
        ));
    }
    if has_target {
        return Err(ctx.err(
            "remote",
            "[remote] cannot be combined with [target] yet: remote workers load the toy server",
        ));
    }
    Ok(())
}
