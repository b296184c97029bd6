//! `report.html`: the sections of `report.md` as one self-contained page to attach to a design
//! review — every plot inline as SVG, a small embedded stylesheet, no script, nothing fetched.
//!
//! The sections are written once ([`markdown::sections`]) onto a [`Page`] that keeps each table
//! aside as HTML ([`crate::table::html`]); the rest is CommonMark, made HTML by pulldown-cmark.
//! On the way, an image of a plot (`![..](x.png)`) becomes the plot's SVG, drawn again for the
//! page ([`plot::Files::SvgOnly`]), a link to `x.svg` becomes a link to that figure on the page,
//! and anything a record could smuggle in is made inert: raw HTML is shown as text, an image
//! that is not one of the plots shows its words, and a link that is neither to the web nor into
//! the page keeps its words only.

use std::collections::BTreeMap;

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

use super::markdown::{self, Page};
use super::plot::{self, Files};
use super::summary::Summary;
use super::{Exporter, Output, ReportError, ReportInput};
use crate::table::html::escape;

/// The background of every other table row: the band the browser test finds in a screenshot.
pub const BAND: [u8; 3] = [0xe4, 0xec, 0xf7];

/// The page's stylesheet: system fonts only, tables banded, in a smaller type so that the wide
/// ones (the runs, the probe's parts) fit more columns, numbers right-aligned, plots as wide as
/// the page.
const STYLE: &str = "body { font-family: sans-serif; max-width: 1200px; margin: 1em auto; \
padding: 0 1em; color: #1a1a1a; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.8em 0; display: block; overflow-x: auto; font-size: 0.82em; }
th, td { border: 1px solid #9aa8b8; padding: 0.25em 0.6em; vertical-align: top; }
thead th { background: #c9d6e6; }
tbody tr:nth-child(even) { background: #e4ecf7; }
.r { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.missing { color: #777; }
code { background: #f0f0f0; padding: 0 0.2em; overflow-wrap: anywhere; }
blockquote { border-left: 4px solid #b2182b; margin: 1em 0; padding: 0 1em; }
.plot { display: block; margin: 1em 0; }
.plot svg { display: block; width: 100%; height: auto; }
.plot .caption { display: block; font-style: italic; color: #444; }
";

pub struct ReportHtml;

impl Exporter for ReportHtml {
    fn export(&self, input: &ReportInput<'_>) -> Result<Vec<Output>, ReportError> {
        Ok(vec![Output::new(
            "report.html",
            page(input.summary, &svgs(input)),
        )])
    }
}

/// Each plot's SVG by its stem (`rss-timeline`). A plot that cannot be drawn is left out: its
/// own exporter reports it, and the page shows its caption instead.
fn svgs(input: &ReportInput<'_>) -> BTreeMap<String, String> {
    let mut svgs = BTreeMap::new();
    for p in plot::plots(Files::SvgOnly) {
        for o in p.export(input).unwrap_or_default() {
            if let Some(stem) = o.name.strip_suffix(".svg") {
                svgs.insert(
                    stem.to_string(),
                    String::from_utf8_lossy(&o.bytes).into_owned(),
                );
            }
        }
    }
    svgs
}

/// The whole `report.html`.
pub fn page(s: &Summary, svgs: &BTreeMap<String, String>) -> String {
    let mut p = Page::with_html_tables();
    markdown::sections(s, &mut p);
    let (text, tables) = p.into_parts();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>allocstorm report: {}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n{}</body>\n</html>\n",
        escape(&s.scenario.name),
        body(&text, &tables, svgs)
    )
}

/// The page's CommonMark as HTML, with its tables and plots put in and records made inert.
pub fn body(text: &str, tables: &[String], svgs: &BTreeMap<String, String>) -> String {
    let mut events = Vec::new();
    let mut image: Option<(String, String)> = None;
    let mut links_kept = Vec::new();
    for ev in Parser::new_ext(text, Options::ENABLE_TABLES) {
        if let Some((_, alt)) = &mut image {
            match ev {
                Event::End(TagEnd::Image) => {
                    let (dest, alt) = image.take().unwrap_or_default();
                    events.push(figure(&dest, &alt, svgs));
                }
                Event::Text(t) | Event::Code(t) => alt.push_str(&t),
                _ => {}
            }
            continue;
        }
        match ev {
            Event::Start(Tag::Image { dest_url, .. }) => {
                image = Some((dest_url.to_string(), String::new()));
            }
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let dest = link_dest(&dest_url, svgs);
                links_kept.push(dest.is_some());
                if let Some(dest_url) = dest {
                    events.push(Event::Start(Tag::Link {
                        link_type,
                        dest_url,
                        title,
                        id,
                    }));
                }
            }
            Event::End(TagEnd::Link) => {
                if links_kept.pop() == Some(true) {
                    events.push(ev);
                }
            }
            Event::Html(h) | Event::InlineHtml(h) => events.push(table_or_text(h, tables)),
            other => events.push(other),
        }
    }
    heading_ids(&mut events);
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events.into_iter());
    out
}

/// Each heading gets the anchor GitHub gives it (`## The price of each fix` is
/// `#the-price-of-each-fix`), which `report.md`'s links into the page use.
fn heading_ids(events: &mut [Event<'_>]) {
    let mut seen = BTreeMap::new();
    for i in 0..events.len() {
        if !matches!(events[i], Event::Start(Tag::Heading { .. })) {
            continue;
        }
        let text: String = events[i + 1..]
            .iter()
            .take_while(|e| !matches!(e, Event::End(TagEnd::Heading(_))))
            .filter_map(|e| match e {
                Event::Text(t) | Event::Code(t) => Some(t.as_ref()),
                _ => None,
            })
            .collect();
        if let Event::Start(Tag::Heading { id, .. }) = &mut events[i] {
            *id = Some(slug(&text, &mut seen).into());
        }
    }
}

/// GitHub's slug: lower case, spaces to hyphens, other punctuation dropped; a repeat gets
/// `-1`, `-2`.
fn slug(text: &str, seen: &mut BTreeMap<String, usize>) -> String {
    let base: String = text
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect();
    let n = seen.entry(base.clone()).or_insert(0);
    let slug = match *n {
        0 => base,
        n => format!("{base}-{n}"),
    };
    *n += 1;
    slug
}

/// A table's placeholder becomes the table; any other HTML is a record's text, shown as text.
fn table_or_text<'a>(h: CowStr<'a>, tables: &[String]) -> Event<'a> {
    let table = tables
        .iter()
        .enumerate()
        .find(|(n, _)| h.trim_end() == Page::placeholder(*n));
    match table {
        Some((_, t)) => Event::Html(t.clone().into()),
        None => Event::Text(h),
    }
}

/// An image: the plot `x.png` names, inline, with its words under it; anything else, its words.
fn figure(dest: &str, alt: &str, svgs: &BTreeMap<String, String>) -> Event<'static> {
    let svg = dest
        .strip_suffix(".png")
        .and_then(|stem| Some((stem, svgs.get(stem)?)));
    let html = match svg {
        Some((stem, svg)) => format!(
            "<span class=\"plot\" id=\"{}\">{}<span class=\"caption\">{}</span></span>",
            escape(stem),
            svg.trim_end(),
            escape(alt)
        ),
        None => escape(alt),
    };
    Event::InlineHtml(html.into())
}

/// Where a link may go from an attached page: the web, or the page itself (a plot's `x.svg`
/// is the plot on the page). `None`: nowhere (a file beside `report.md`, another scheme).
fn link_dest<'a>(dest: &CowStr<'a>, svgs: &BTreeMap<String, String>) -> Option<CowStr<'a>> {
    if dest.starts_with("https://") || dest.starts_with("http://") || dest.starts_with('#') {
        return Some(dest.clone());
    }
    let stem = dest.strip_suffix(".svg")?;
    svgs.contains_key(stem)
        .then(|| format!("#{}", escape(stem)).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::summary::VariantSummary;

    fn plots() -> BTreeMap<String, String> {
        BTreeMap::from([("cost".to_string(), "<svg><rect/></svg>\n".to_string())])
    }

    #[test]
    fn tables_and_plots_go_in() {
        let text = format!(
            "# t\n\n{}\n\n![the cost](cost.png)\n\nVector: [cost.svg](cost.svg), [docs](https://x.org/a).\n",
            Page::placeholder(0)
        );
        let html = body(
            &text,
            &["<table>\n<tr><td>1</td></tr>\n</table>\n".into()],
            &plots(),
        );
        assert!(
            html.contains("<table>\n<tr><td>1</td></tr>\n</table>"),
            "{html}"
        );
        assert!(
            html.contains("<span class=\"plot\" id=\"cost\"><svg><rect/></svg><span class=\"caption\">the cost</span></span>"),
            "{html}"
        );
        assert!(html.contains("<a href=\"#cost\">cost.svg</a>"), "{html}");
        assert!(
            html.contains("<a href=\"https://x.org/a\">docs</a>"),
            "{html}"
        );
        assert!(!html.contains("allocstorm table"), "{html}");
    }

    #[test]
    fn a_hostile_variant_name_is_text_on_the_whole_page() {
        let mut v = VariantSummary::for_test("<script>alert(1)</script>", 1, None);
        v.description = "![x](https://e/x.png) <img src=x onerror=alert(1)>".into();
        let mut s = Summary::of(vec![v]);
        s.scenario.name = "<b>".into();
        let html = page(&s, &plots());
        for bad in ["<script>alert", "<img", "<b>", "https://e/"] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(!html.contains("allocstorm table"), "{html}");
    }

    #[test]
    fn headings_have_github_s_anchors() {
        let html = body(
            "## Mappings (what `pmap -X` shows)\n\n## Runs\n\n## Runs\n",
            &[],
            &plots(),
        );
        assert!(
            html.contains("<h2 id=\"mappings-what-pmap--x-shows\">"),
            "{html}"
        );
        assert!(
            html.contains("<h2 id=\"runs\">Runs</h2>\n<h2 id=\"runs-1\">"),
            "{html}"
        );
    }

    #[test]
    fn what_a_record_brings_is_inert() {
        let text = "<script>alert(1)</script>\n\nvariant <img src=\"http://e/x\"> and \
                    ![x](http://e/x.png) and [y](javascript:alert(1)) and [z](runs/a.json)\n\n\
                    <!-- allocstorm table 0 -->\n";
        let html = body(text, &[], &plots());
        for bad in ["<script", "<img", "javascript:", "href=", "<!--"] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("variant &lt;img src="), "{html}");
        assert!(html.contains(" and x and y and z"), "{html}");
    }
}
