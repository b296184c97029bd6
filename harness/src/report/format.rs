//! How the report writes a figure, in one place for every output: sizes in MiB with one
//! decimal, t90 with "never", and what stands for a figure that is not there (`–` in Markdown,
//! `-` on the terminal).

use super::summary::FigureSet;
use crate::figures::Recovery;

/// The cells of one output: what it writes for a missing figure.
pub struct Cells {
    pub missing: &'static str,
}

/// `report.md`.
pub const MARKDOWN: Cells = Cells { missing: "–" };
/// The table on the terminal.
pub const TEXT: Cells = Cells { missing: "-" };

impl Cells {
    /// Bytes as MiB, one decimal: `255.4`.
    pub fn mib(&self, v: Option<u64>) -> String {
        match v {
            Some(b) => format!("{:.1}", b as f64 / (1024.0 * 1024.0)),
            None => self.missing.into(),
        }
    }

    pub fn num(&self, v: Option<f64>, decimals: usize) -> String {
        match v {
            Some(x) => format!("{x:.decimals$}"),
            None => self.missing.into(),
        }
    }

    /// t90, with "never" when memory grew and did not come back.
    pub fn t90(&self, f: &FigureSet) -> String {
        match f.recovery() {
            Recovery::After(t) => format!("{t:.1}"),
            Recovery::Never => "never".into(),
            Recovery::NoGrowth => self.missing.into(),
        }
    }
}
