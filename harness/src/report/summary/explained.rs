//! Every byte of RssAnon explained by the allocator's own figures, from the probe's pages (no
//! request made): at B's, P's and A's own moments, the samples the headline figures come from.

use serde::{Deserialize, Serialize};

use crate::figures::{last_second_window, median_u64, PhaseMark};
use crate::probe::explain::{arena_parts, explain, ArenaParts, Explained};
use crate::probe::ProbeTick;
use crate::record::RunRecord;

use super::phase::{load_start, phase};

/// The parts of RssAnon at one of the headline figures' moments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplainedAt {
    /// Seconds since the load started: the window's end (B, A) or the peak's moment (P).
    pub t_s: f64,
    /// The headline figure itself (B, P or A), so the parts add up against it.
    pub rss_anon_bytes: Option<u64>,
    #[serde(flatten)]
    pub parts: Explained,
    /// RssAnon not accounted for as in use: free memory the allocator keeps, pages it gave back
    /// lazily, and what is not the allocator's (stacks, other heaps).
    pub rss_anon_not_in_use_bytes: Option<u64>,
    /// RssAnon / in use: 1.0 holds nothing beyond the app's data.
    pub fragmentation: Option<f64>,
    /// How many probe readings the figures are the median of.
    pub readings: usize,
}

/// The probe's view of a variant's median run (without an ok run: the run that shows its
/// status), at B's, P's and A's moments, or why there is none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExplainedRun {
    /// The allocator each process's page named (one entry per distinct allocator).
    pub allocators: Vec<String>,
    /// The object that serves `malloc`, per distinct allocator.
    pub malloc_libraries: Vec<String>,
    pub before: Option<ExplainedAt>,
    pub peak: Option<ExplainedAt>,
    pub after_drain: Option<ExplainedAt>,
    /// glibc's arenas over A's window, per process whose page gave them; absent when none did
    /// (not glibc, or a record made before the probe read them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arenas_after_drain: Vec<ProcessArenas>,
    /// Why there are no figures: the probe was off, or no page appeared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why_none: Option<String>,
}

/// One process's glibc arenas at A: each arena's parts, the median over A's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessArenas {
    pub pid: u32,
    /// Every arena the process has, even beyond those listed (the page holds 16).
    pub arena_count: u64,
    /// Main arena first, then the thread arenas, newest first (glibc's order).
    pub arenas: Vec<ArenaParts>,
    /// How many readings the medians are taken over.
    pub readings: usize,
}

/// `None` for a record of a version without the probe: its report stays as it was.
pub fn explained_run(r: &RunRecord) -> Option<ExplainedRun> {
    let note = r.header.probe.as_ref()?;
    if let Some(why) = &note.why_not {
        return Some(ExplainedRun {
            why_none: Some(format!("no probe: {why}")),
            ..ExplainedRun::default()
        });
    }
    if r.probe_readings.is_empty() {
        return Some(ExplainedRun {
            why_none: Some(no_page(note.mode.as_str())),
            ..ExplainedRun::default()
        });
    }
    let t0 = load_start(r).unwrap_or(0.0);
    let f = &r.figures;
    let at = |name: &str, rss: Option<u64>| {
        phase(r, name).and_then(|p| last_second(&r.probe_readings, p, rss, t0))
    };
    let mut allocators: Vec<String> = r.probe_pages.iter().map(|p| p.allocator.clone()).collect();
    allocators.sort();
    allocators.dedup();
    let mut libraries: Vec<String> = r
        .probe_pages
        .iter()
        .map(|p| p.malloc_library.clone())
        .collect();
    libraries.sort();
    libraries.dedup();
    Some(ExplainedRun {
        allocators,
        malloc_libraries: libraries,
        before: at("before", f.rss_before_bytes),
        peak: peak(r, t0),
        after_drain: at("drain", f.rss_after_drain_bytes),
        arenas_after_drain: phase(r, "drain")
            .map(|p| arenas_over(&r.probe_readings, p))
            .unwrap_or_default(),
        why_none: None,
    })
}

fn no_page(mode: &str) -> String {
    match mode {
        "preloaded" => {
            "no probe page appeared: the server did not load the preloaded probe (a static \
                        binary, Go, or musl cannot; see the server's log)"
                .into()
        }
        _ => "no probe page appeared: the server did not start its probe (see the server's log)"
            .into(),
    }
}

/// The parts over the window of B or A (the phase's last second): each part's median over the
/// readings in it, as B and A are medians of RssAnon over the same second.
fn last_second(
    ticks: &[ProbeTick],
    p: &PhaseMark,
    rss: Option<u64>,
    t0: f64,
) -> Option<ExplainedAt> {
    let parts: Vec<Explained> = last_second_window(ticks, p)
        .map(|t| explain(&t.pages))
        .collect();
    if parts.is_empty() {
        return None;
    }
    let median = |f: fn(&Explained) -> Option<u64>| -> Option<u64> {
        let v: Option<Vec<u64>> = parts.iter().map(f).collect();
        median_u64(&v?)
    };
    let parts_median = Explained {
        in_use: median(|e| e.in_use),
        allocator_in_use: median(|e| e.allocator_in_use),
        free_held: median(|e| e.free_held),
        lazily_freed: median(|e| e.lazily_freed),
        given_back_mapped: median(|e| e.given_back_mapped),
        metadata: median(|e| e.metadata),
        free_chunks: median(|e| e.free_chunks),
        keepcost: median(|e| e.keepcost),
        committed: median(|e| e.committed),
    };
    Some(at(p.end - t0, rss, parts_median, parts.len()))
}

/// The parts at P's moment ([`crate::figures::peak_moment`]): the reading of `during` nearest it.
fn peak(r: &RunRecord, t0: f64) -> Option<ExplainedAt> {
    let p = r.figures.rss_peak_bytes?;
    let during = phase(r, "during")?;
    let moment = crate::figures::peak_moment(&r.samples, &r.phases)?;
    let tick = r
        .probe_readings
        .iter()
        .filter(|t| t.t >= during.start && t.t <= during.end)
        .min_by(|a, b| (a.t - moment).abs().total_cmp(&(b.t - moment).abs()))?;
    Some(at(moment - t0, Some(p), explain(&tick.pages), 1))
}

fn at(t_s: f64, rss: Option<u64>, parts: Explained, readings: usize) -> ExplainedAt {
    ExplainedAt {
        t_s,
        rss_anon_bytes: rss,
        rss_anon_not_in_use_bytes: rss.zip(parts.in_use).map(|(r, u)| r.saturating_sub(u)),
        fragmentation: rss
            .zip(parts.in_use)
            .filter(|(_, u)| *u > 0)
            .map(|(r, u)| r as f64 / u as f64),
        parts,
        readings,
    }
}

/// Each process's arenas over the window of A: per arena, each part's median over the readings
/// that had that arena (a thread arena appears when a thread first allocates).
fn arenas_over(ticks: &[ProbeTick], p: &PhaseMark) -> Vec<ProcessArenas> {
    let mut by_pid: std::collections::BTreeMap<u32, Vec<(u64, Vec<ArenaParts>)>> =
        Default::default();
    for tick in last_second_window(ticks, p) {
        for page in &tick.pages {
            if let Some(g) = &page.glibc_arenas {
                let parts = g.arenas.iter().map(arena_parts).collect();
                by_pid.entry(page.pid).or_default().push((g.count, parts));
            }
        }
    }
    by_pid
        .into_iter()
        .map(|(pid, readings)| ProcessArenas {
            pid,
            arena_count: readings.iter().map(|(c, _)| *c).max().unwrap_or(0),
            arenas: arena_medians(&readings),
            readings: readings.len(),
        })
        .collect()
}

fn arena_medians(readings: &[(u64, Vec<ArenaParts>)]) -> Vec<ArenaParts> {
    let most = readings.iter().map(|(_, a)| a.len()).max().unwrap_or(0);
    (0..most)
        .map(|i| {
            let of = |f: fn(&ArenaParts) -> u64| {
                let v: Vec<u64> = readings
                    .iter()
                    .filter_map(|(_, a)| a.get(i))
                    .map(f)
                    .collect();
                median_u64(&v).unwrap_or(0)
            };
            ArenaParts {
                system_bytes: of(|a| a.system_bytes),
                in_use_bytes: of(|a| a.in_use_bytes),
                free_held_bytes: of(|a| a.free_held_bytes),
                free_chunks: of(|a| a.free_chunks),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{ArenaReading, GlibcArenas, PageReading};

    fn tick(t: f64, frees: &[u64]) -> ProbeTick {
        let arenas = frees
            .iter()
            .map(|f| ArenaReading {
                system_bytes: 100,
                free_bytes: *f,
                free_chunks: 2,
            })
            .collect();
        ProbeTick {
            t,
            pages: vec![PageReading {
                pid: 7,
                age_ms: 1.0,
                figures: Default::default(),
                glibc_arenas: Some(GlibcArenas { count: 20, arenas }),
            }],
        }
    }

    #[test]
    fn a_s_arenas_are_medians_over_its_last_second_and_an_arena_that_came_late_counts() {
        let drain = PhaseMark {
            name: "drain".into(),
            start: 0.0,
            end: 3.0,
        };
        // 1.0 is outside A's window; the thread arena appears at 2.5.
        let ticks = [
            tick(1.0, &[0]),
            tick(2.2, &[10]),
            tick(2.4, &[30]),
            tick(2.5, &[20, 60]),
        ];
        let got = arenas_over(&ticks, &drain);
        assert_eq!(got.len(), 1);
        let p = &got[0];
        assert_eq!((p.pid, p.arena_count, p.readings), (7, 20, 3));
        let free: Vec<u64> = p.arenas.iter().map(|a| a.free_held_bytes).collect();
        assert_eq!(free, [20, 60]);
        assert_eq!(p.arenas[0].in_use_bytes, 80, "system − free");
        assert!(arenas_over(&ticks[..1], &drain).is_empty());
    }
}
