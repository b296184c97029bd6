//! What the allocator held next to what the app held (and the kernel charged), from the
//! server's `/stats` readings at the peak and after the drain of a run.

use serde::{Deserialize, Serialize};

use crate::record::RunRecord;

use super::mappings::{mappings_at, MappingsAt};
use super::phase::{load_start, phase};

/// The allocator's view next to the app's and the kernel's, at one instant of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldVsLive {
    /// When the `/stats` reading was taken, seconds since the load started.
    pub t_s: f64,
    /// The RssAnon sample nearest that reading.
    pub rss_anon_bytes: Option<u64>,
    /// What the app holds through the allocator.
    pub allocator_in_use_bytes: Option<u64>,
    /// What the allocator holds from the OS.
    pub allocator_held_bytes: Option<u64>,
    /// Held but unused: freed memory the allocator keeps.
    pub allocator_free_held_bytes: Option<u64>,
    /// The app's own count: block index plus in-flight buffers (and its pools, when it has
    /// any).
    pub app_live_bytes: Option<u64>,
    /// The part of the app's bytes kept in its own pools (`app.pool_bytes`), when it reports it.
    #[serde(default)]
    pub app_pool_bytes: Option<u64>,
}

/// [`HeldVsLive`] at the peak (the `/stats` reading nearest the RssAnon peak) and after the
/// drain (the last reading within `drain`), from the variant's median run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryBreakdown {
    pub peak: Option<HeldVsLive>,
    pub after_drain: Option<HeldVsLive>,
    /// The mapping breakdown (what `pmap -X` shows) nearest the end of `before`, the peak and
    /// the end of `drain`.
    #[serde(default)]
    pub mappings: Vec<MappingsAt>,
}

fn u64_at(v: &serde_json::Value, path: &[&str]) -> Option<u64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_u64()
}

/// The allocator's and the app's figures from a `/stats` reading, next to the nearest RssAnon.
fn held_vs_live(r: &RunRecord, s: &crate::record::StatsSample, t0: f64) -> HeldVsLive {
    let st = &s.stats;
    let rss = r
        .samples
        .iter()
        .min_by(|a, b| (a.t - s.t).abs().total_cmp(&(b.t - s.t).abs()))
        .map(|x| x.rss_anon);
    HeldVsLive {
        t_s: s.t - t0,
        rss_anon_bytes: rss,
        allocator_in_use_bytes: u64_at(st, &["allocator_figures", "in_use_bytes"]),
        allocator_held_bytes: u64_at(st, &["allocator_figures", "held_bytes"]),
        allocator_free_held_bytes: u64_at(st, &["allocator_figures", "free_held_bytes"]),
        app_live_bytes: u64_at(st, &["app", "live_bytes"]),
        app_pool_bytes: u64_at(st, &["app", "pool_bytes"]),
    }
}

/// At the peak: the `/stats` reading within `during` nearest the highest RssAnon sample of
/// `during` (none for a run killed before its first reading under load: a reading from before
/// the load would say "near the baseline" of a run that crossed its limit). After the drain:
/// the last reading from the drain's start to the next phase's, which is the one taken right
/// after the drain (by default the server is not polled within it). Readings without allocator or app figures (the answer to
/// `/admin/release`) are skipped.
pub fn memory_breakdown(r: &RunRecord) -> MemoryBreakdown {
    let Some(t0) = load_start(r) else {
        return MemoryBreakdown::default();
    };
    let readings: Vec<_> = r
        .stats
        .iter()
        .filter(|s| s.stats.get("allocator_figures").is_some() || s.stats.get("app").is_some())
        .collect();
    let peak = phase(r, "during").and_then(|d| {
        let top = crate::figures::peak_moment(&r.samples, &r.phases)?;
        let s = readings
            .iter()
            .filter(|s| s.t >= d.start && s.t <= d.end)
            .min_by(|a, b| (a.t - top).abs().total_cmp(&(b.t - top).abs()))?;
        Some(held_vs_live(r, s, t0))
    });
    let after_drain = phase(r, "drain").and_then(|d| {
        // Up to the next phase's start: the reading taken once A's window had closed is after
        // the drain's end mark and before whatever follows (none in older records).
        let next = r
            .phases
            .iter()
            .find(|m| m.start >= d.end && m.name != "drain")
            .map_or(f64::INFINITY, |m| m.start);
        let s = readings.iter().rfind(|s| s.t >= d.start && s.t < next)?;
        Some(held_vs_live(r, s, t0))
    });
    MemoryBreakdown {
        peak,
        after_drain,
        mappings: mappings_at(r, t0),
    }
}
