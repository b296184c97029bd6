//! A [`Table`] as an HTML `<table>` for `report.html`: a header row, right-aligned numeric
//! columns (`class="r"`), `–` for a missing figure, `<strong>` and `<em>` for emphasis, every
//! text escaped (a variant name or a failure message is data, never markup) and a Markdown code
//! span in text written as `<code>`, as `report.md` shows it. One line per row and no blank
//! line, so the table stays one HTML block inside the page's CommonMark.

use super::{Align, Cell, Emphasis, Table, Value};

/// What stands for a missing figure in `report.html`: the mark `report.md` uses.
pub const MISSING: &str = super::markdown::MISSING;

/// The table, each line ending in a newline.
pub fn render(t: &Table) -> String {
    let mut out = String::from("<table>\n<thead><tr>");
    for c in &t.columns {
        out.push_str(&format!("<th{}>{}</th>", class(c.align), escape(&c.title)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for r in &t.rows {
        out.push_str("<tr>");
        for (c, col) in r.iter().zip(&t.columns) {
            out.push_str(&format!("<td{}>{}</td>", class(col.align), cell(c)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

fn class(a: Align) -> &'static str {
    match a {
        Align::Left => "",
        Align::Right => " class=\"r\"",
    }
}

/// One cell as HTML.
pub fn cell(c: &Cell) -> String {
    let Some(written) = c.value.written() else {
        return format!("<span class=\"missing\">{MISSING}</span>");
    };
    let written = match c.value {
        Value::Text(_) => code_spans(&written),
        _ => escape(&written),
    };
    match c.emphasis {
        Emphasis::Plain => written,
        Emphasis::Strong => format!("<strong>{written}</strong>"),
        Emphasis::Italic => format!("<em>{written}</em>"),
    }
}

/// Text escaped, with each pair of backticks made a `<code>` span (an odd one left as it is).
fn code_spans(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        let closed = i % 2 == 1 && i + 1 < parts.len();
        match (i % 2 == 1, closed) {
            (true, true) => out.push_str(&format!("<code>{}</code>", escape(part))),
            (true, false) => out.push_str(&format!("`{}", escape(part))),
            _ => out.push_str(&escape(part)),
        }
    }
    out
}

/// Text as HTML: the five characters that could open markup or end an attribute, and line
/// breaks (which would end the HTML block), made harmless.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::Column;
    use super::*;

    #[test]
    fn a_table_in_html() {
        let mut t = Table::new([Column::left("variant"), Column::right("A (MiB)")]);
        t.row(vec![
            Cell::text("<script>a & b\nc"),
            Cell::mib(Some(3 << 20)).strong_if(true),
        ]);
        t.row(vec![Cell::text("x"), Cell::mib(None).strong_if(true)]);
        t.row(vec![
            Cell::text("`<y>` and `z"),
            Cell::fixed(Some(0.5), 2).italic_if(true),
        ]);
        assert_eq!(
            render(&t),
            "<table>\n<thead><tr><th>variant</th><th class=\"r\">A (MiB)</th></tr></thead>\n<tbody>\n\
             <tr><td>&lt;script&gt;a &amp; b c</td><td class=\"r\"><strong>3.0</strong></td></tr>\n\
             <tr><td>x</td><td class=\"r\"><span class=\"missing\">–</span></td></tr>\n\
             <tr><td><code>&lt;y&gt;</code> and `z</td><td class=\"r\"><em>0.50</em></td></tr>\n\
             </tbody>\n</table>\n"
        );
    }
}
