//! A [`Table`] as aligned plain text for the terminal: columns as wide as their widest cell,
//! two spaces apart, `-` for a missing figure, no emphasis, no trailing spaces.

use super::{Align, Cell, Table};

/// What stands for a missing figure on the terminal.
pub const MISSING: &str = "-";

/// The table, header first, each line ending in a newline.
pub fn render(t: &Table) -> String {
    let mut lines: Vec<Vec<String>> = vec![t.columns.iter().map(|c| c.title.clone()).collect()];
    lines.extend(t.rows.iter().map(|r| r.iter().map(cell).collect()));
    let widths: Vec<usize> = (0..t.columns.len())
        .map(|c| {
            lines
                .iter()
                .map(|l| l.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for l in &lines {
        let padded: Vec<String> = l
            .iter()
            .zip(&t.columns)
            .zip(&widths)
            .map(|((v, col), &w)| match col.align {
                Align::Left => format!("{v:<w$}"),
                Align::Right => format!("{v:>w$}"),
            })
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// One cell as plain text.
pub fn cell(c: &Cell) -> String {
    c.value.written().unwrap_or_else(|| MISSING.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::Column;
    use super::*;

    #[test]
    fn columns_line_up() {
        let mut t = Table::new([Column::left("variant"), Column::right("A MiB")]);
        t.row(vec![
            Cell::text("glibc-mmap64k"),
            Cell::mib(Some(3 << 20)).strong_if(true),
        ]);
        t.row(vec![Cell::text("x"), Cell::mib(None)]);
        assert_eq!(
            render(&t),
            "variant        A MiB\nglibc-mmap64k    3.0\nx                  -\n"
        );
    }
}
