//! How the report writes a figure, in one place for every output: sizes in MiB with one
//! decimal, t90 with "never", and what stands for a figure that is not there (`–` in Markdown,
//! `-` on the terminal); and the cells of `report.md`'s tables (a status, a setting's value,
//! text that must not break the row).

use super::summary::FigureSet;
use crate::figures::Recovery;
use crate::record::RunStatus;

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

    /// A count: `3`.
    pub fn count(&self, v: Option<u64>) -> String {
        v.map(|n| n.to_string())
            .unwrap_or_else(|| self.missing.into())
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

/// A status in `report.md`: `ok`, or in bold what is not.
pub fn status(status: &RunStatus) -> String {
    if status.is_ok() {
        "ok".into()
    } else {
        format!("**{status}**")
    }
}

/// A JSON value as a person writes it: `8`, `buffered`.
pub fn shown(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A figure of a run that did not end ok, shown as far as it went: in italics (Markdown),
/// unless it is missing.
pub fn italic_if(measured: bool, c: String) -> String {
    if measured && c != MARKDOWN.missing {
        format!("*{c}*")
    } else {
        c
    }
}

/// A ratio or a cost figure with the digits it deserves: `0.63`, `13.9`, `257`, `0.002`.
pub fn figure(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 0.1 || a == 0.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// The min–max of a spread: `0.60–0.66`.
pub fn min_max(s: &super::summary::Spread) -> String {
    format!("{}–{}", figure(s.min), figure(s.max))
}

/// A Markdown table cell: pipes and newlines would break the row.
pub fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::Figures;

    const M: u64 = 1 << 20;

    #[test]
    fn t90_says_never_only_after_growth() {
        let grew = Figures {
            rss_before_bytes: Some(M),
            rss_peak_bytes: Some(100 * M),
            ..Default::default()
        };
        let set = |figures: Figures| FigureSet {
            figures,
            ..Default::default()
        };
        assert_eq!(MARKDOWN.t90(&set(grew.clone())), "never");
        assert_eq!(
            MARKDOWN.t90(&set(Figures {
                t90_s: Some(1.25),
                ..grew
            })),
            "1.2"
        );
        assert_eq!(MARKDOWN.t90(&FigureSet::default()), MARKDOWN.missing);
    }

    #[test]
    fn figures_keep_the_digits_that_matter() {
        assert_eq!(figure(0.6312), "0.63");
        assert_eq!(figure(13.86), "13.9");
        assert_eq!(figure(257.01), "257");
        assert_eq!(figure(0.00121), "0.001");
        assert_eq!(figure(0.0), "0.00");
    }

    #[test]
    fn cells_keep_the_table_intact() {
        assert_eq!(cell("a | b\nc"), "a \\| b c");
    }
}
