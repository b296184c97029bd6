//! `[remote]`: every load of a run comes from load workers on other hosts, which connect to
//! the coordinator (`allocstorm run`/`compare`) at `listen` (issue 17; the interface is the
//! one of /work/runs/remote-spec.md).

use std::net::SocketAddr;
use std::time::Duration;

use allocstorm_core::units;
use serde::{Deserialize, Serialize};

use super::error::{nonzero, Ctx, ScenarioError};
use super::phases::secs;
use super::raw::RawRemote;

/// Where the coordinator waits for its workers, how many, and for how long.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RemoteSpec {
    /// An address of the coordinator's host (`0.0.0.0`/`::`: any) and a fixed port.
    pub listen: SocketAddr,
    /// Workers each load waits for (they replace `[load] processes`).
    pub workers: u32,
    /// How long a load waits for all of them to join.
    #[serde(with = "secs")]
    pub join: Duration,
}

pub(super) fn remote_spec(
    ctx: &Ctx,
    r: Option<&RawRemote>,
) -> Result<Option<RemoteSpec>, ScenarioError> {
    let Some(r) = r else { return Ok(None) };
    let listen: SocketAddr = r.listen.parse().map_err(|_| {
        ctx.err(
            "remote.listen",
            format!(
                "expected an IP address and a port, e.g. \"0.0.0.0:7070\", got {:?}",
                r.listen
            ),
        )
    })?;
    if listen.port() == 0 {
        return Err(ctx.err(
            "remote.listen",
            format!(
                "expected a fixed port (workers are told it), got {:?}",
                r.listen
            ),
        ));
    }
    if r.workers == 0 {
        return Err(ctx.err("remote.workers", "expected at least 1, got 0"));
    }
    let join = ctx.unit("remote.join", r.join.as_ref(), "60s", units::parse_duration)?;
    let join = nonzero(ctx, "remote.join", join)?;
    Ok(Some(RemoteSpec {
        listen,
        workers: r.workers,
        join,
    }))
}
