//! Does it leak slowly? The slope of A over a soak's cycles, in bytes per hour, with a 95%
//! confidence interval. The first cycle is left out: it is where the allocator builds the
//! working set it then reuses (glibc's arenas, jemalloc's extents), a step, not a slope.
//!
//! Ordinary least squares of A_k against the end of the k-th drain, k = 2..n; the interval is
//! slope ± t(0.975, m − 2)·SE with m = n − 1 points (n − 3 degrees of freedom), the t quantile
//! from [`T_975`], a table, not a crate: its values are the textbook ones to three decimals
//! and a soak's degrees of freedom are whole numbers.

use serde::{Deserialize, Serialize};

use super::cycles::Cycle;

/// Seconds per hour: the slope is reported per hour.
const HOUR_S: f64 = 3600.0;

/// Fewest cycles with a slope: three points after the first cycle, one degree of freedom.
pub const MIN_CYCLES: usize = 4;

/// t(0.975, df) for df = 1..=30: the two-sided 95% quantiles of Student's t.
const T_975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];
/// Above 30 degrees of freedom: t(0.975) at 40, 60 and 120; the table's entry at or below df,
/// so the interval is never narrower than the exact one (by at most 0.02 in t).
const T_975_BEYOND: [(usize, f64); 3] = [(40, 2.021), (60, 2.000), (120, 1.980)];

/// t(0.975, df), rounded towards the wider interval between table entries.
pub fn t_975(df: usize) -> Option<f64> {
    match df {
        0 => None,
        1..=30 => Some(T_975[df - 1]),
        _ => Some(
            T_975_BEYOND
                .iter()
                .rev()
                .find(|(d, _)| *d <= df)
                .map_or(T_975[29], |(_, t)| *t),
        ),
    }
}

/// The slope of A after the first cycle, and its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Slope {
    /// Cycles measured (the first among them, though the slope leaves it out).
    pub cycles: usize,
    pub bytes_per_hour: f64,
    /// The 95% interval's bounds.
    pub low_bytes_per_hour: f64,
    pub high_bytes_per_hour: f64,
}

/// The slope over `cycles` (those with an A and a complete drain; `None` below
/// [`MIN_CYCLES`] of them).
pub fn slope(cycles: &[Cycle]) -> Option<Slope> {
    let points: Vec<(f64, f64)> = cycles
        .iter()
        .filter_map(|c| Some((c.end_s?, c.after_drain_bytes? as f64)))
        .collect();
    if points.len() < MIN_CYCLES {
        return None;
    }
    let (b, se) = ols(&points[1..])?;
    let half = t_975(points.len() - 3)? * se;
    Some(Slope {
        cycles: points.len(),
        bytes_per_hour: b * HOUR_S,
        low_bytes_per_hour: (b - half) * HOUR_S,
        high_bytes_per_hour: (b + half) * HOUR_S,
    })
}

/// Least squares of y on x: the slope and its standard error (`None` when every x is the same).
fn ols(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let m = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / m;
    let my = points.iter().map(|p| p.1).sum::<f64>() / m;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let b = sxy / sxx;
    let sse: f64 = points
        .iter()
        .map(|p| (p.1 - my - b * (p.0 - mx)).powi(2))
        .sum();
    Some((b, (sse / (m - 2.0) / sxx).sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: f64 = 1048576.0;

    fn at(end: f64, a_mib: f64) -> Cycle {
        Cycle {
            peak_bytes: None,
            after_drain_bytes: Some((a_mib * MIB) as u64),
            end_s: Some(end),
        }
    }

    #[test]
    fn a_straight_line_after_the_first_cycle_is_its_slope_with_no_width() {
        // The first cycle's step (10 → 50 MiB) is left out; then 1 MiB per 360 s: 10 MiB/h.
        let c = [
            at(360.0, 10.0),
            at(720.0, 50.0),
            at(1080.0, 51.0),
            at(1440.0, 52.0),
            at(1800.0, 53.0),
        ];
        let s = slope(&c).unwrap();
        assert_eq!(s.cycles, 5);
        assert!((s.bytes_per_hour / MIB - 10.0).abs() < 1e-6, "{s:?}");
        assert!(
            (s.high_bytes_per_hour - s.low_bytes_per_hour).abs() < 1.0,
            "{s:?}"
        );
    }

    #[test]
    fn scatter_widens_the_interval_by_t_with_n_minus_3_degrees_of_freedom() {
        // After the first: x = 1, 2, 3, 4 h; y = 0, 2, 0, 2 MiB. Slope 0.4 MiB/h, residuals
        // −0.4, 1.2, −1.2, 0.4: SSE = 3.2 MiB², sxx = 5 h², SE = √(3.2 / 2 / 5) = 0.566 MiB/h;
        // t(0.975, 2) = 4.303.
        let h = HOUR_S;
        let c = [
            at(0.0, 0.0),
            at(h, 0.0),
            at(2.0 * h, 2.0),
            at(3.0 * h, 0.0),
            at(4.0 * h, 2.0),
        ];
        let s = slope(&c).unwrap();
        let se = (3.2_f64 / 2.0 / 5.0).sqrt();
        assert!((s.bytes_per_hour / MIB - 0.4).abs() < 1e-9, "{s:?}");
        assert!((s.low_bytes_per_hour / MIB - (0.4 - 4.303 * se)).abs() < 1e-9);
        assert!((s.high_bytes_per_hour / MIB - (0.4 + 4.303 * se)).abs() < 1e-9);
    }

    #[test]
    fn too_few_cycles_or_cycles_without_an_end_have_no_slope() {
        let c = [at(1.0, 1.0), at(2.0, 2.0), at(3.0, 3.0)];
        assert_eq!(slope(&c), None);
        let mut cut = [at(1.0, 1.0), at(2.0, 2.0), at(3.0, 3.0), at(4.0, 9.0)];
        cut[3].end_s = None;
        assert_eq!(slope(&cut), None);
    }

    #[test]
    fn t_quantiles_come_from_the_table_and_round_towards_the_wider_interval() {
        assert_eq!(t_975(0), None);
        assert_eq!(t_975(1), Some(12.706));
        assert_eq!(t_975(30), Some(2.042));
        assert_eq!(t_975(35), Some(2.042));
        assert_eq!(t_975(59), Some(2.021));
        assert_eq!(t_975(1000), Some(1.980));
    }
}
