//! The `/stats` poller: the server's own figures about once per `stats_interval`, in the
//! phases the scenario allows (`[sampling] stats_in`) and never outside them.
//!
//! A `/stats` request is allocator activity on one of the server's threads. Allocators that
//! purge only on activity (mimalloc; jemalloc without its background thread) give memory back
//! because they were asked for their figures, so a poll in `before` or `drain` moves B or A
//! (see [`QUIET_PHASES`](crate::scenario::QUIET_PHASES)). The poller follows the phase in
//! progress and stops asking, cancelling a request still in flight, the moment a phase it may
//! not poll in begins.

use std::future::Future;
use std::time::Duration;

use super::live::LiveRef;
use crate::record::{Event, StatsSample};

/// One reading: `fetch` stamped with the time it was asked, streamed when it answers.
pub async fn read_once(fetch: impl Future<Output = Option<serde_json::Value>>, live: &LiveRef) {
    let t = live.borrow().now();
    if let Some(stats) = fetch.await {
        live.borrow_mut()
            .emit(Event::Stats(StatsSample { t, stats }));
    }
}

/// Polls through `fetch` every `interval` while the phase in progress is one of `stats_in`.
/// `fetch` answers `None` when there is nothing to read (no address yet, a failed request): a
/// slow `/stats` under load is a figure too, it just arrives late and never blocks sampling.
pub async fn stats_loop<F, Fut>(fetch: F, interval: Duration, stats_in: &[String], live: LiveRef)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<serde_json::Value>>,
{
    let mut phase = live.borrow().watch_phase();
    let allowed = |p: &String| stats_in.iter().any(|s| s == p);
    loop {
        if phase.wait_for(allowed).await.is_err() {
            // The run is over: nothing more to poll.
            return std::future::pending().await;
        }
        let poll = async {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                read_once(fetch(), &live).await;
            }
        };
        let mut left = phase.clone();
        tokio::select! {
            _ = poll => {}
            // The phase that may be polled has ended: drop the request in flight with it.
            _ = left.wait_for(|p| !allowed(p)) => {}
        }
    }
}
