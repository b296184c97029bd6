//! The sampler: memory every interval and the slower readings less often, streamed as they
//! are read, until the server is gone or crosses the memory limit.

use std::time::Duration;

use tokio::time::Instant;

use allocstorm_core::units::format_size;

use super::live::LiveRef;
use super::memory::MemorySource;
use crate::record::Event;
use crate::sample::SampleError;

/// Why the sampler stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum SamplerEnd {
    /// The server is gone (exited, killed by someone else).
    Gone(String),
    /// VmRSS crossed the memory limit (the caller kills the server at once).
    OverLimit(String),
    /// The harness could not read the server's figures for [`UNREADABLE_FOR`] (out of file
    /// descriptors, say): its own failure, not the server's.
    Unreadable(String),
}

/// How long the harness may fail to read `/proc` before the run ends: a failure that passes
/// (a burst of connections holding the harness's descriptors) costs samples, not the run.
pub const UNREADABLE_FOR: Duration = Duration::from_secs(5);

pub async fn sample_loop(
    source: &mut impl MemorySource,
    interval: Duration,
    detail_every: Duration,
    memory_limit: Option<u64>,
    live: LiveRef,
) -> SamplerEnd {
    let mut tick = tokio::time::interval(interval);
    // A late tick is taken late, not bunched: samples stay evenly spaced in time.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_detail: Option<Instant> = None;
    let mut last_progress = Instant::now();
    // Since when the harness cannot read /proc, while it cannot.
    let mut unreadable_since: Option<Instant> = None;
    loop {
        tick.tick().await;
        let t = live.borrow().now();
        match source.sample(t) {
            Ok(s) => {
                unreadable_since = None;
                let found = source.probe(t);
                let mut l = live.borrow_mut();
                l.emit(Event::Sample(s));
                for page in found.new_pages {
                    l.emit(Event::ProbePage(page));
                }
                if let Some(tick) = found.tick {
                    l.emit(Event::Probe(tick));
                }
                if last_progress.elapsed() >= Duration::from_millis(500) {
                    last_progress = Instant::now();
                    let (name, start, planned) = l.phase.clone();
                    let left = planned.saturating_sub(start.elapsed());
                    let rps = l.last_rps;
                    l.progress.tick(&name, left, s.rss_anon, rps);
                }
                if let Some(limit) = memory_limit.filter(|&m| s.vm_rss > m) {
                    let (phase, start, _) = &l.phase;
                    return SamplerEnd::OverLimit(format!(
                        "VmRSS {} crossed the memory limit of {} {:.1}s into `{phase}`; killed with SIGKILL by the harness",
                        format_size(s.vm_rss),
                        format_size(limit),
                        start.elapsed().as_secs_f64()
                    ));
                }
            }
            Err(SampleError::Gone(_)) => return SamplerEnd::Gone("server process is gone".into()),
            Err(e @ SampleError::Unreadable { .. }) => {
                let since = *unreadable_since.get_or_insert_with(|| {
                    eprintln!("allocstorm: {e}; trying again at every sample");
                    Instant::now()
                });
                if since.elapsed() >= UNREADABLE_FOR {
                    return SamplerEnd::Unreadable(format!(
                        "the harness failed (not the server): {e}, for {UNREADABLE_FOR:?}"
                    ));
                }
                continue;
            }
            // A zombie's status has no memory lines: the server has exited.
            Err(e @ SampleError::Parse { .. }) => {
                return SamplerEnd::Gone(format!("server stopped: {e}"))
            }
        }
        if last_detail.is_none_or(|d| d.elapsed() >= detail_every) {
            last_detail = Some(Instant::now());
            let d = source.detail(t);
            let mut l = live.borrow_mut();
            if let Some(p) = d.procs {
                l.emit(Event::Procs(p));
            }
            if let Some(r) = d.rollup {
                l.emit(Event::Smaps(r));
            }
            if let Some(m) = d.mappings {
                l.emit(Event::Mappings(m));
            }
            if let Some(c) = d.cgroup {
                l.emit(Event::Cgroup(c));
            }
        }
    }
}
