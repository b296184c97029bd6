//! The median of a figure and its min–max: over runs for a figure, over rounds for a ratio.

use serde::{Deserialize, Serialize};

use crate::figures::median_f64;

/// The median of a figure and its spread: over runs for a figure, over rounds for a ratio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Runs (a figure) or rounds (a ratio) it is taken over.
    pub n: usize,
}

impl Spread {
    /// The median and min–max of the finite values; `None` without one.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        Some(Spread {
            median: median_f64(&v)?,
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            n: v.len(),
        })
    }

    /// Whether the two spreads share a value: what is inside both could be either's.
    pub fn overlaps(&self, other: &Spread) -> bool {
        self.min <= other.max && other.min <= self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_overlap_when_they_share_a_value() {
        let a = Spread::of(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!((a.median, a.min, a.max, a.n), (2.0, 1.0, 3.0, 3));
        assert!(a.overlaps(&Spread::of(&[3.0, 4.0]).unwrap()));
        assert!(!a.overlaps(&Spread::of(&[3.5, 4.0]).unwrap()));
        assert_eq!(Spread::of(&[f64::INFINITY]), None);
    }
}
