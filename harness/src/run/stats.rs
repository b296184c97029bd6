//! The `/stats` poller: the server's own figures about once per `stats_interval`, once its
//! address is known.

use std::time::Duration;

use super::live::LiveRef;
use crate::probe;
use crate::record::{Event, StatsSample};

/// Polls `path` on the server; a server without a stats endpoint (`None`) is never polled.
pub async fn stats_loop(path: Option<&str>, interval: Duration, live: LiveRef) {
    let Some(path) = path else {
        return std::future::pending().await;
    };
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(addr) = live.borrow().addr else {
            continue;
        };
        let t = live.borrow().now();
        // A slow /stats under load is a figure too: it just arrives late, never blocks sampling.
        if let Ok(stats) = probe::stats_at(addr, path).await {
            live.borrow_mut()
                .emit(Event::Stats(StatsSample { t, stats }));
        }
    }
}
