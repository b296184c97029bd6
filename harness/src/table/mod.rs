//! Tables as data: a view builds a [`Table`] of typed [`Cell`]s and knows no syntax; the
//! [`markdown`], [`html`] and [`text`] renderers are the only code that knows pipes, the alignment line,
//! column widths and the mark of a missing figure. How a value is written (MiB with one
//! decimal, a ratio with the digits it deserves, a percentage) is decided once, in
//! [`Value::written`].

pub mod html;
pub mod markdown;
pub mod text;

/// Which side of its column a cell sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// How a cell stands out in Markdown and HTML; the text renderer writes every cell plain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Emphasis {
    #[default]
    Plain,
    /// `**x**`: the figure the table is about, a status that is not ok.
    Strong,
    /// `*x*`: a figure of a run that did not end ok, shown as far as it went.
    Italic,
}

/// What a cell holds. Numbers stay numbers until a renderer writes them.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text as it is (Markdown: pipes and line breaks are escaped so the row holds).
    Text(String),
    /// Bytes, written in MiB with one decimal: `255.4`.
    Mib(u64),
    /// A number with a fixed number of decimals.
    Fixed(f64, usize),
    /// A ratio or a cost figure with the digits it deserves: `0.63`, `13.9`, `257`, `0.002`.
    Ratio(f64),
    /// A fraction written as a percentage with one decimal: `0.053` → `5.3%`.
    Percent(f64),
    /// A count: `3`.
    Count(u64),
    /// No figure.
    Missing,
}

/// One cell: a value and how it stands out.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub value: Value,
    pub emphasis: Emphasis,
}

/// A column: its title and alignment.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub title: String,
    pub align: Align,
}

/// A table: columns and rows of cells, one cell per column.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

/// Bytes in MiB, as a plot places them.
pub fn in_mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// MiB with one decimal, the way every output writes a size: `255.4`.
pub fn mib(bytes: u64) -> String {
    format!("{:.1}", in_mib(bytes))
}

/// MiB with one decimal and its unit, for a size in a sentence or in a cell that holds more
/// than the size: `255.4 MiB`.
pub fn mib_unit(bytes: u64) -> String {
    format!("{} MiB", mib(bytes))
}

/// A change in bytes, in MiB with its sign and unit: `+5.5 MiB`, `-141.8 MiB`. A fall too
/// small to show keeps its sign (`-0.0 MiB`), so the reader still sees which way it went.
pub fn signed_mib_unit(delta: i64) -> String {
    let sign = if delta >= 0 { '+' } else { '-' };
    format!("{sign}{}", mib_unit(delta.unsigned_abs()))
}

/// A fraction as a percentage with one decimal: `0.053` → `5.3%`.
pub fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// A relative change as a percentage with its sign: `+2.2%`, `-48.8%`.
pub fn signed_percent(x: f64) -> String {
    let plus = if x >= 0.0 { "+" } else { "" };
    format!("{plus}{}", percent(x))
}

/// A ratio or a cost figure with the digits it deserves: `0.63`, `13.9`, `257`, `0.002`.
pub fn ratio(x: f64) -> String {
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

impl Value {
    /// The value as written, or `None` when it is missing (each renderer has its own mark).
    pub fn written(&self) -> Option<String> {
        Some(match self {
            Value::Text(s) => s.clone(),
            Value::Mib(b) => mib(*b),
            Value::Fixed(x, d) => format!("{x:.d$}"),
            Value::Ratio(x) => ratio(*x),
            Value::Percent(x) => percent(*x),
            Value::Count(n) => n.to_string(),
            Value::Missing => return None,
        })
    }
}

impl Cell {
    pub fn new(value: Value) -> Cell {
        Cell {
            value,
            emphasis: Emphasis::Plain,
        }
    }
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::new(Value::Text(s.into()))
    }
    pub fn missing() -> Cell {
        Cell::new(Value::Missing)
    }
    /// Bytes in MiB, or missing.
    pub fn mib(v: Option<u64>) -> Cell {
        Cell::new(v.map_or(Value::Missing, Value::Mib))
    }
    /// A number with `decimals` decimals, or missing.
    pub fn fixed(v: Option<f64>, decimals: usize) -> Cell {
        Cell::new(v.map_or(Value::Missing, |x| Value::Fixed(x, decimals)))
    }
    /// A count, or missing.
    pub fn count(v: Option<u64>) -> Cell {
        Cell::new(v.map_or(Value::Missing, Value::Count))
    }
    /// Written in italics in Markdown when `yes`.
    pub fn italic_if(mut self, yes: bool) -> Cell {
        if yes {
            self.emphasis = Emphasis::Italic;
        }
        self
    }
    /// Written in bold in Markdown when `yes`.
    pub fn strong_if(mut self, yes: bool) -> Cell {
        if yes {
            self.emphasis = Emphasis::Strong;
        }
        self
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::text(s)
    }
}

impl Table {
    /// A table with these columns and no rows.
    pub fn new(columns: impl IntoIterator<Item = Column>) -> Table {
        Table {
            columns: columns.into_iter().collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; it must have one cell per column.
    pub fn row(&mut self, cells: Vec<Cell>) {
        debug_assert_eq!(cells.len(), self.columns.len(), "one cell per column");
        self.rows.push(cells);
    }
}

impl Column {
    pub fn left(title: impl Into<String>) -> Column {
        Column {
            title: title.into(),
            align: Align::Left,
        }
    }
    pub fn right(title: impl Into<String>) -> Column {
        Column {
            title: title.into(),
            align: Align::Right,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_keep_the_digits_that_matter() {
        assert_eq!(ratio(0.6312), "0.63");
        assert_eq!(ratio(13.86), "13.9");
        assert_eq!(ratio(257.01), "257");
        assert_eq!(ratio(0.00121), "0.001");
        assert_eq!(ratio(0.0), "0.00");
    }

    #[test]
    fn sizes_and_changes_with_their_unit() {
        assert_eq!(mib_unit(255 << 20), "255.0 MiB");
        assert_eq!(mib_unit(0), "0.0 MiB");
        assert_eq!(signed_mib_unit(5 << 20), "+5.0 MiB");
        assert_eq!(signed_mib_unit(0), "+0.0 MiB");
        assert_eq!(signed_mib_unit(-(141 << 20) - (800 << 10)), "-141.8 MiB");
        assert_eq!(signed_mib_unit(-1), "-0.0 MiB");
        assert_eq!(signed_percent(0.022), "+2.2%");
        assert_eq!(signed_percent(-0.488), "-48.8%");
        assert_eq!(signed_percent(0.0), "+0.0%");
    }

    #[test]
    fn values_are_written_once() {
        assert_eq!(Value::Mib(255 << 20).written().unwrap(), "255.0");
        assert_eq!(Value::Fixed(1.25, 1).written().unwrap(), "1.2");
        assert_eq!(Value::Percent(0.053).written().unwrap(), "5.3%");
        assert_eq!(Value::Count(3).written().unwrap(), "3");
        assert_eq!(Value::Missing.written(), None);
    }
}
