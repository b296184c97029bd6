//! Which shard of a comparison a run belongs to (`compare --shard I/N`), as its record says:
//! part of the record's schema, so it lives with the record; the fan-out itself is
//! the `shard` module's.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Shard `index` of `count` (1-based), as `--shard 2/3` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// The most shards of one comparison: far more machines than a CI matrix gives a job.
pub const MAX_SHARDS: u32 = 256;

impl Shard {
    /// `I/N` with 1 ≤ I ≤ N ≤ [`MAX_SHARDS`].
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("expected I/N with 1 <= I <= N <= {MAX_SHARDS} (e.g. 2/3), got {s:?}");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count || count > MAX_SHARDS {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The run numbers of this shard when each shard runs every variant `runs` times:
    /// `(I-1)·runs+1 ..= I·runs`, so that no two shards write the same `runs/<variant>-<n>`.
    pub fn run_numbers(self, runs: u32) -> std::ops::RangeInclusive<u32> {
        let first = (self.index - 1) * runs + 1;
        first..=first + runs - 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_number_their_runs_apart() {
        let s = Shard::parse("2/3").unwrap();
        assert_eq!(s, Shard { index: 2, count: 3 });
        assert_eq!(s.to_string(), "2/3");
        assert_eq!(s.run_numbers(4), 5..=8);
        assert_eq!(Shard::parse("1/1").unwrap().run_numbers(3), 1..=3);
        // Every shard's numbers, side by side, are 1..=N·R without a gap or an overlap.
        let all: Vec<u32> = (1..=3)
            .flat_map(|i| Shard { index: i, count: 3 }.run_numbers(2))
            .collect();
        assert_eq!(all, (1..=6).collect::<Vec<_>>());
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "2/", "1/257"] {
            let e = Shard::parse(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }
}
