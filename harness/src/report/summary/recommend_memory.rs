//! The recommendation's peak: each priced variant's P as a ratio to the reference's, and
//! whether it is the highest of all.

use super::recommend::Recommendation;
use super::variant::VariantSummary;

impl Recommendation {
    /// With each priced variant's peak: its P as a ratio to `reference`'s, and whether it is
    /// the highest P of `variants`, above every other's (a variant that gives memory back
    /// after the load may still need the most while it lasts).
    pub fn with_peaks(mut self, variants: &[VariantSummary], reference: &str) -> Recommendation {
        let peak = |name: &str| {
            let v = variants.iter().find(|v| v.name == name)?;
            v.medians.rss_peak_bytes.filter(|_| v.runs_ok > 0)
        };
        let peaks: Vec<u64> = variants.iter().filter_map(|v| peak(&v.name)).collect();
        let highest = peaks.iter().copied().max();
        let unique = peaks.iter().filter(|&&p| Some(p) == highest).count() == 1;
        let theirs = peak(reference).filter(|&p| p > 0);
        for p in &mut self.within_budget {
            let mine = peak(&p.name);
            p.peak_ratio = mine.zip(theirs).map(|(m, r)| m as f64 / r as f64);
            p.highest_peak = unique && mine.is_some() && mine == highest;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::super::recommend::tests::priced;
    use super::super::recommend::{recommend, Note};
    use super::*;
    use crate::scenario::MemoryBudget;

    const M: u64 = 1 << 20;

    /// `priced` with the range of A its runs have, as `summarize_variant` gives it.
    fn with_range(mut v: VariantSummary) -> VariantSummary {
        let a = v
            .run_figures
            .iter()
            .filter_map(|r| r.figures.rss_after_drain_bytes);
        v.rss_after_drain_min_bytes = a.clone().min();
        v.rss_after_drain_max_bytes = a.max();
        v
    }

    /// An idle mimalloc's four identical runs: A 21.5, 68.5, 128.0 and 288.0 MiB.
    fn scattered() -> VariantSummary {
        with_range(priced(
            "mimalloc",
            &[0.165, 0.635, 1.23, 2.83],
            &[1.1],
            &[1.0],
        ))
    }

    /// A 95, 105 and 100 MiB.
    fn steady() -> VariantSummary {
        with_range(priced("glibc", &[0.9, 1.0, 0.95], &[1.0], &[1.0]))
    }

    fn after_drain(mib: u64) -> MemoryBudget {
        MemoryBudget {
            max_retention: None,
            max_after_drain_bytes: Some(mib * M),
        }
    }

    #[test]
    fn a_wide_spread_is_apart_by_more_than_half_the_median() {
        assert_eq!(
            scattered().after_drain_spreads_widely(),
            Some((21 * M + M / 2, 288 * M))
        );
        assert_eq!(steady().after_drain_spreads_widely(), None);
        let mut one = scattered();
        one.runs_ok = 1;
        assert_eq!(
            one.after_drain_spreads_widely(),
            None,
            "one run has no spread"
        );
    }

    #[test]
    fn a_wide_spread_is_judged_on_its_worst_run() {
        // The median A (98.2 MiB) is within 200 MiB; the worst run (288.0) is not.
        let r = recommend(&[scattered()], &after_drain(200));
        assert!(r.within_budget.is_empty());
        let why = r.over_budget[0].why[0].to_string();
        assert!(
            why.starts_with("after drain 288.0 MiB > 200.0 MiB in run 4, its worst"),
            "{why}"
        );
        // Within 300 MiB on every run: within, with the spread said.
        let r = recommend(&[scattered()], &after_drain(300));
        let notes = &r.within_budget[0].notes;
        assert!(matches!(notes[..], [Note::WideSpread { .. }]), "{notes:?}");
        assert!(notes[0]
            .to_string()
            .contains("(21.5–288.0 MiB, median 98.2 MiB)"));
        // A steady variant is read on its median, its run beyond the limit a note.
        let r = recommend(&[steady()], &after_drain(102));
        assert_eq!(r.within_budget.len(), 1);
        assert!(matches!(
            r.within_budget[0].notes[..],
            [Note::RunsBeyond { .. }]
        ));
    }

    #[test]
    fn a_median_over_the_budget_is_the_reason_even_when_wide() {
        let r = recommend(&[scattered()], &after_drain(50));
        let why = r.over_budget[0].why[0].to_string();
        assert!(
            why.starts_with("after drain 98.2 MiB > 50.0 MiB ("),
            "{why}"
        );
    }

    #[test]
    fn the_peak_as_a_ratio_and_the_highest() {
        let mut big = steady();
        big.name = "jemalloc-bg".into();
        big.medians.figures.rss_peak_bytes = Some(210 * M);
        let glibc = steady();
        let vs = vec![glibc, big];
        let r = recommend(&vs, &MemoryBudget::default()).with_peaks(&vs, "glibc");
        let p = |n: &str| r.within_budget.iter().find(|p| p.name == n).unwrap();
        assert_eq!(p("jemalloc-bg").peak_ratio, Some(2.0));
        assert!(p("jemalloc-bg").highest_peak);
        assert_eq!(p("glibc").peak_ratio, Some(1.0));
        assert!(!p("glibc").highest_peak);
        // Equal peaks: none is the highest.
        let vs = vec![steady(), with_range(priced("x", &[0.5], &[1.0], &[1.0]))];
        let r = recommend(&vs, &MemoryBudget::default()).with_peaks(&vs, "glibc");
        assert!(r.within_budget.iter().all(|p| !p.highest_peak));
    }
}
