//! A variant's figures over its ok runs: the median of each figure, and the run-to-run spread.

use crate::figures::{median_f64, median_u64, Figures};

use super::figures::{FigureSet, LatencyMs, SeriesPeak};

/// A median of figures; "never" (infinite) is no figure.
fn median_finite(v: &[f64]) -> Option<f64> {
    median_f64(v).filter(|m| m.is_finite())
}

/// Coefficient of variation with the sample (n − 1) standard deviation.
pub fn coefficient_of_variation(v: &[f64]) -> Option<f64> {
    if v.len() < 2 {
        return None;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if mean <= 0.0 {
        return None;
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some(var.sqrt() / mean)
}

pub(super) fn medians(sets: &[&FigureSet]) -> FigureSet {
    let x = |f: fn(&FigureSet) -> Option<f64>| {
        median_finite(&sets.iter().filter_map(|s| f(s)).collect::<Vec<_>>())
    };
    let u = |f: fn(&FigureSet) -> Option<u64>| {
        median_u64(&sets.iter().filter_map(|s| f(s)).collect::<Vec<_>>())
    };
    let mut labels: Vec<&str> = Vec::new();
    for p in sets.iter().flat_map(|s| &s.series_peaks) {
        if !labels.contains(&p.label.as_str()) {
            labels.push(&p.label);
        }
    }
    let series_peaks = labels
        .into_iter()
        .map(|label| {
            let peaks: Vec<f64> = sets
                .iter()
                .flat_map(|s| &s.series_peaks)
                .filter(|p| p.label == label)
                .filter_map(|p| p.peak)
                .collect();
            SeriesPeak {
                label: label.to_string(),
                peak: median_finite(&peaks),
            }
        })
        .collect();
    FigureSet {
        figures: Figures::medians(&sets.iter().map(|s| &s.figures).collect::<Vec<_>>()),
        throughput_rps: x(|s| s.throughput_rps),
        latency_ms: LatencyMs {
            p50: x(|s| s.latency_ms.p50),
            p99: x(|s| s.latency_ms.p99),
        },
        server_cpu_s_per_1000_responses: x(|s| s.server_cpu_s_per_1000_responses),
        arena_heaps_before: u(|s| s.arena_heaps_before),
        arena_heaps_peak: u(|s| s.arena_heaps_peak),
        arena_heaps_after_drain: u(|s| s.arena_heaps_after_drain),
        anon_huge_pages_before_bytes: u(|s| s.anon_huge_pages_before_bytes),
        anon_huge_pages_peak_bytes: u(|s| s.anon_huge_pages_peak_bytes),
        anon_huge_pages_after_drain_bytes: u(|s| s.anon_huge_pages_after_drain_bytes),
        minflt_during: u(|s| s.minflt_during),
        majflt_during: u(|s| s.majflt_during),
        series_peaks,
        requests_intended: u(|s| s.requests_intended),
        requests_sent: u(|s| s.requests_sent),
        requests_unsent: u(|s| s.requests_unsent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_cv() {
        assert_eq!(
            median_finite(&[1.0, f64::INFINITY, f64::INFINITY]),
            None,
            "mostly never: never"
        );
        assert_eq!(median_finite(&[1.0, 2.0, f64::INFINITY]), Some(2.0));
        let cv = coefficient_of_variation(&[10.0, 20.0, 30.0]).unwrap();
        assert!((cv - 0.5).abs() < 1e-12, "sample sd 10 / mean 20, got {cv}");
        assert_eq!(coefficient_of_variation(&[10.0]), None);
    }
}
