//! What `pmap -X` shows of a run: the mapping breakdown (glibc arena heaps, the main heap,
//! other anonymous memory) at the end of `before`, at the peak and at the end of `drain`.

use serde::{Deserialize, Serialize};

use crate::record::RunRecord;
use crate::sample::MappingBreakdown;

use super::phase::phase;

/// The mapping breakdown at one point of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MappingsAt {
    /// `before`, `peak` or `after drain`.
    pub when: String,
    /// Seconds since the load started.
    pub t_s: f64,
    pub breakdown: crate::sample::MappingBreakdown,
    /// The RssAnon sample nearest the breakdown: what its resident parts add up to. At the
    /// peak it may be below P, since smaps is walked about once a second and RssAnon moves
    /// between the peak moment and the walk.
    #[serde(default)]
    pub rss_anon_bytes: Option<u64>,
}

/// The last mapping breakdown taken within a phase.
fn last_mapping_in<'a>(r: &'a RunRecord, name: &str) -> Option<&'a MappingBreakdown> {
    let p = phase(r, name)?;
    r.mappings.iter().rfind(|m| m.t >= p.start && m.t <= p.end)
}

/// glibc arena heaps at the end of `before`, at most during the load, at the end of `drain`.
pub(super) fn arena_heaps(r: &RunRecord) -> (Option<u64>, Option<u64>, Option<u64>) {
    let peak = phase(r, "during").and_then(|d| {
        r.mappings
            .iter()
            .filter(|m| m.t >= d.start && m.t <= d.end)
            .map(|m| m.arena_heaps)
            .max()
    });
    (
        last_mapping_in(r, "before").map(|m| m.arena_heaps),
        peak,
        last_mapping_in(r, "drain").map(|m| m.arena_heaps),
    )
}

/// The mapping breakdowns nearest the end of `before`, the peak moment
/// ([`crate::figures::peak_moment`]) and the end of `drain`, with their time since `t0`.
pub(super) fn mappings_at(r: &RunRecord, t0: f64) -> Vec<MappingsAt> {
    let peak_t = crate::figures::peak_moment(&r.samples, &r.phases);
    // The end of a phase is read from the last breakdown taken within it; the peak from the
    // breakdown of `during` nearest it.
    let last_in = |name: &str| last_mapping_in(r, name);
    let nearest = |t: f64| {
        let d = phase(r, "during")?;
        r.mappings
            .iter()
            .filter(|m| m.t >= d.start && m.t <= d.end)
            .min_by(|a, b| (a.t - t).abs().total_cmp(&(b.t - t).abs()))
    };
    let points = [
        ("before", last_in("before")),
        ("peak", peak_t.and_then(nearest)),
        ("after drain", last_in("drain")),
    ];
    points
        .into_iter()
        .filter_map(|(when, m)| {
            let m = m?;
            Some(MappingsAt {
                when: when.to_string(),
                t_s: m.t - t0,
                breakdown: *m,
                rss_anon_bytes: r
                    .samples
                    .iter()
                    .min_by(|a, b| (a.t - m.t).abs().total_cmp(&(b.t - m.t).abs()))
                    .map(|s| s.rss_anon),
            })
        })
        .collect()
}
