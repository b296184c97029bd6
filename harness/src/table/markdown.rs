//! A [`Table`] as a Markdown table: the header, the alignment line (`---` left, `--:` right),
//! one row per line; `–` for a missing figure, `**bold**` and `*italics*`, pipes and line
//! breaks in text escaped so the row holds.

use super::{Align, Cell, Emphasis, Table, Value};

/// What stands for a missing figure in `report.md`.
pub const MISSING: &str = "–";

/// The table, each line ending in a newline.
pub fn render(t: &Table) -> String {
    let mut out = String::new();
    line(&mut out, t.columns.iter().map(|c| c.title.clone()));
    out.push('|');
    for c in &t.columns {
        out.push_str(match c.align {
            Align::Left => "---|",
            Align::Right => "--:|",
        });
    }
    out.push('\n');
    for r in &t.rows {
        line(&mut out, r.iter().map(cell));
    }
    out
}

fn line(out: &mut String, cells: impl Iterator<Item = String>) {
    out.push('|');
    for c in cells {
        out.push(' ');
        out.push_str(&c);
        out.push_str(" |");
    }
    out.push('\n');
}

/// One cell as Markdown.
pub fn cell(c: &Cell) -> String {
    let Some(written) = c.value.written() else {
        return MISSING.to_string();
    };
    let written = match c.value {
        Value::Text(_) => escape(&written),
        _ => written,
    };
    match c.emphasis {
        Emphasis::Plain => written,
        Emphasis::Strong => format!("**{written}**"),
        Emphasis::Italic => format!("*{written}*"),
    }
}

/// Text in a table cell: pipes and line breaks would break the row.
pub fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::super::Column;
    use super::*;

    #[test]
    fn a_table_in_markdown() {
        let mut t = Table::new([Column::left("variant"), Column::right("A (MiB)")]);
        t.row(vec![
            Cell::text("a | b\nc"),
            Cell::mib(Some(3 << 20)).strong_if(true),
        ]);
        t.row(vec![Cell::text("x"), Cell::mib(None).strong_if(true)]);
        t.row(vec![
            Cell::text("`y`"),
            Cell::fixed(Some(0.5), 2).italic_if(true),
        ]);
        assert_eq!(
            render(&t),
            "| variant | A (MiB) |\n|---|--:|\n| a \\| b c | **3.0** |\n| x | – |\n| `y` | *0.50* |\n"
        );
    }
}
