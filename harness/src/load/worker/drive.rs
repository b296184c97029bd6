//! The load of one worker: its connections, each taking the next send (at once in closed loop,
//! the next slot in open loop), the request's retries with their backoff, and the drain when the
//! load stops.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout_at, Duration, Instant};

use super::exchange::{attempt, Conn};
use super::prepared::Requests;
use super::{Ctx, Out};
use crate::load::mix::{Draw, Drawer};
use crate::load::schedule::{pickup, Pickup};
use crate::load::stats::Recorder;
use crate::load::wire::{self, FromWorker, WorkerDone, WorkerPlan};

/// Attempts still in flight when the load stops end at their own deadline, at most `--timeout`
/// later; past that plus this margin (timer resolution, scheduling) the worker drops whatever is
/// left, so a run is bounded in time whatever the server does.
const DRAIN_MARGIN: Duration = Duration::from_millis(100);

pub(super) async fn drive(
    wp: &WorkerPlan,
    addr: SocketAddr,
    start: Instant,
    connections: usize,
    out: Out,
) -> anyhow::Result<WorkerDone> {
    let plan = &wp.plan;
    let stop = start + plan.duration;
    let hard_stop = stop + plan.timeout + DRAIN_MARGIN;
    let requests = Requests::of(plan)?;
    let entries = plan.mix.as_ref().map_or(0, |m| m.entries.len());
    let ctx = Rc::new(Ctx {
        addr,
        requests,
        drawer: plan.mix.as_ref().map(|m| Drawer::new(m, wp.index)),
        timeout: plan.timeout,
        retries: plan.retries,
        backoff: plan.backoff,
        start,
        stop,
        schedule: plan.worker_schedule(wp.index),
        next_slot: Cell::new(0),
        sent_slots: Cell::new(0),
        in_flight: Cell::new(0),
        entry_in_flight: RefCell::new(vec![0; entries]),
        rec: RefCell::new(
            Recorder::new(start, Box::new(move |s| out.emit(&FromWorker::Second(s))))
                .with_entries(entries),
        ),
    });

    sleep_until(start).await;
    // Emits seconds in which nothing happened too: the parent reports second t only once every
    // worker has sent it.
    let flusher = tokio::task::spawn_local({
        let ctx = ctx.clone();
        async move {
            for k in 1u64.. {
                sleep_until(start + Duration::from_secs(k)).await;
                ctx.rec.borrow_mut().advance(Instant::now());
            }
        }
    });
    let seed = u64::from(std::process::id()) << 32 ^ wire::monotonic_ns();
    let mut set = JoinSet::new();
    for c in 0..connections {
        let rng = SmallRng::seed_from_u64(seed ^ c as u64);
        set.spawn_local(connection(ctx.clone(), rng, (c, connections)));
    }
    let drained = timeout_at(hard_stop, async {
        while set.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    let now = Instant::now();
    if !drained {
        // Dropping the tasks drops their requests and connections.
        set.abort_all();
        let mut rec = ctx.rec.borrow_mut();
        rec.abandoned(now, ctx.in_flight.get());
        for (e, &n) in ctx.entry_in_flight.borrow().iter().enumerate() {
            rec.entry_abandoned(now, e, n);
        }
    }
    flusher.abort();
    ctx.rec.borrow_mut().finish(now);
    let ended_s = ctx
        .rec
        .borrow()
        .last_end()
        .map(|e| e.saturating_duration_since(start).as_secs_f64());
    let unsent = ctx.schedule.as_ref().map_or(0, |s| {
        s.slots_before(plan.duration)
            .saturating_sub(ctx.sent_slots.get())
    });
    let (cpu_user_s, cpu_system_s) = wire::cpu_seconds();
    Ok(WorkerDone {
        load_s: plan.duration.as_secs_f64(),
        elapsed_s: now.saturating_duration_since(start).as_secs_f64(),
        unsent,
        ended_s,
        cpu_user_s,
        cpu_system_s,
    })
}

/// One connection's loop: take the next send (now in closed loop, the next slot in open loop),
/// run the request with its retries, repeat until the load stops.
///
/// `(c, of)`: this connection's index among the worker's `of`, which numbers its requests in
/// closed loop (`c`, `c + of`, `c + 2 of`, ...) for their mix draws.
async fn connection(ctx: Rc<Ctx>, mut rng: SmallRng, (c, of): (usize, usize)) {
    let mut conn: Option<Conn> = None;
    let mut own = 0u64;
    loop {
        // (due, sent): the same instant in closed loop, where nothing is scheduled. `number`:
        // the request's number in this worker, its slot in open loop.
        let (due, sent, number) = match &ctx.schedule {
            None => {
                let now = Instant::now();
                if now >= ctx.stop {
                    break;
                }
                own += 1;
                (now, now, (own - 1) * of as u64 + c as u64)
            }
            Some(s) => {
                let i = ctx.next_slot.get();
                ctx.next_slot.set(i + 1);
                let offset = s.offset(i);
                let Some(due) = ctx.start.checked_add(offset) else {
                    break;
                };
                let now = Instant::now();
                // Slots due after the stop are not offered; overdue ones the stop overtook are
                // `unsent`.
                if due >= ctx.stop || now >= ctx.stop {
                    break;
                }
                match pickup(offset, now.saturating_duration_since(ctx.start)) {
                    Pickup::Wait => sleep_until(due).await,
                    Pickup::OnTime => {}
                    Pickup::Late => ctx.rec.borrow_mut().no_free_connection(now),
                }
                ctx.sent_slots.set(ctx.sent_slots.get() + 1);
                (due, Instant::now(), i)
            }
        };
        // Without a mix every request is the plan's one GET, and nothing is drawn.
        let draw = ctx.drawer.as_ref().map_or(
            Draw {
                entry: 0,
                key: 0,
                body: 0,
            },
            |d| d.draw(number),
        );
        request(&ctx, &mut conn, due, sent, &mut rng, &draw).await;
    }
}

/// One logical request: attempts until one succeeds, a failure is not worth retrying, the
/// retries are used up, or the next retry would start after the load stopped.
async fn request(
    ctx: &Ctx,
    conn: &mut Option<Conn>,
    due: Instant,
    sent: Instant,
    rng: &mut SmallRng,
    draw: &Draw,
) {
    let e = draw.entry;
    ctx.in_flight.set(ctx.in_flight.get() + 1);
    in_flight_by_entry(ctx, e, 1);
    {
        let mut rec = ctx.rec.borrow_mut();
        rec.request_started(sent);
        rec.entry_started(sent, e);
    }
    let mut retry = 0u32;
    loop {
        ctx.rec
            .borrow_mut()
            .attempt_started(Instant::now(), retry > 0);
        let result = attempt(ctx, conn, draw).await;
        let now = Instant::now();
        let wake = {
            let mut rec = ctx.rec.borrow_mut();
            match result {
                Ok(bytes) => {
                    rec.ok(now, bytes, due, sent);
                    rec.entry_ok(now, e, bytes, draw.body, due);
                    break;
                }
                Err(kind) => {
                    rec.attempt_failed(now, kind);
                    if !kind.retryable() || retry >= ctx.retries {
                        rec.failed(now, kind, sent);
                        rec.entry_failed(now, e);
                        break;
                    }
                    let wake = now + backoff_delay(ctx.backoff, retry, rng.random::<f64>());
                    if wake >= ctx.stop {
                        rec.abandoned(now, 1);
                        rec.entry_abandoned(now, e, 1);
                        break;
                    }
                    wake
                }
            }
        };
        sleep_until(wake).await;
        retry += 1;
    }
    ctx.in_flight.set(ctx.in_flight.get() - 1);
    in_flight_by_entry(ctx, e, -1);
}

fn in_flight_by_entry(ctx: &Ctx, e: usize, delta: i64) {
    if let Some(n) = ctx.entry_in_flight.borrow_mut().get_mut(e) {
        *n = n.saturating_add_signed(delta);
    }
}

/// Delay before retry number `retry` (0 for the first): `base * 2^retry`, half fixed and half
/// random (`unit` in [0, 1)). The jitter keeps clients that failed together from retrying in
/// lockstep; the fixed half keeps every retry from coming straight back.
pub fn backoff_delay(base: Duration, retry: u32, unit: f64) -> Duration {
    let nominal = base.saturating_mul(1u32 << retry.min(20));
    nominal / 2 + nominal.mul_f64(unit.clamp(0.0, 1.0) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        let b = Duration::from_millis(100);
        assert_eq!(backoff_delay(b, 0, 0.0), Duration::from_millis(50));
        assert_eq!(backoff_delay(b, 0, 1.0), Duration::from_millis(100));
        assert_eq!(backoff_delay(b, 1, 0.0), Duration::from_millis(100));
        assert_eq!(backoff_delay(b, 3, 0.5), Duration::from_millis(600));
        assert_eq!(backoff_delay(Duration::ZERO, 5, 0.7), Duration::ZERO);
        // Huge retry counts saturate instead of overflowing.
        let d = backoff_delay(Duration::from_secs(3600), u32::MAX, 1.0);
        assert_eq!(d, Duration::from_secs(3600 * (1 << 20)));
    }
}
