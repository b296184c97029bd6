//! `## What the allocator held vs what the app held`: the `/stats` figures at the peak and after
//! the drain, and who holds the growth over the baseline.

use super::Page;
use crate::figures::MIN_GROWTH_FOR_RETENTION;
use crate::report::summary::{HeldVsLive, Summary, VariantSummary};
use crate::table::{Cell, Column, Table};

/// Who holds the growth over the baseline at this instant, from the allocator's and the app's
/// own figures: the question of incident 001.
fn holder(h: &HeldVsLive, before: Option<u64>) -> Option<&'static str> {
    let (Some(rss), Some(b)) = (h.rss_anon_bytes, before) else {
        return None;
    };
    let growth = rss.saturating_sub(b);
    if growth < MIN_GROWTH_FOR_RETENTION {
        return Some("near the baseline");
    }
    let half = growth / 2;
    Some(match (h.allocator_free_held_bytes, h.app_live_bytes) {
        (Some(free), _) if free >= half => "the allocator: freed, not returned",
        (_, Some(live)) if live >= half && h.app_pool_bytes.is_some_and(|p| p >= live / 2) => {
            "the app: live data, mostly its pools"
        }
        (_, Some(live)) if live >= half => "the app: live data",
        (None, None) => return None,
        _ => "neither figure explains it",
    })
}

/// The instants of the held-vs-live table.
fn breakdown_rows(v: &VariantSummary) -> [(&'static str, Option<&HeldVsLive>); 2] {
    [
        ("peak", v.memory_breakdown.peak.as_ref()),
        ("after drain", v.memory_breakdown.after_drain.as_ref()),
    ]
}

/// The held-vs-live table of each variant, or why there is none (a target without `stats`).
pub(super) fn breakdown_table(s: &Summary, out: &mut Page) {
    let no_readings = s
        .variants
        .iter()
        .all(|v| breakdown_rows(v).iter().all(|r| r.1.is_none()));
    out.push_str("## What the allocator held vs what the app held\n\n");
    if no_readings && s.scenario.target.is_some() {
        // A server of the user's own says nothing of its allocator unless it has `stats`.
        out.push_str(
            "The target has no stats endpoint (`[target] stats`): only what the kernel charges it \
             is known. The mappings below tell the allocator's heap from other memory.\n\n",
        );
        return;
    }
    // The pools column only when the app has pools.
    let pools = s
        .variants
        .iter()
        .flat_map(|v| breakdown_rows(v).into_iter().filter_map(|r| r.1))
        .any(|h| h.app_pool_bytes.is_some_and(|p| p > 0));
    out.table(&table(s, pools));
    out.push_str(
        "\nFrom the server's `/stats` in each variant's median run (without an ok run: its failed or oom run, until \
         it ended): at the peak (the reading of the load nearest the highest \
         RssAnon) and after the drain (the last reading within `drain`), next to the nearest RssAnon sample; t is \
         seconds since the load started. **held**: what the allocator holds from the OS; **in use**: what the \
         app holds through it; **free held** = held − in use, freed memory the allocator keeps; **app live**: \
         the app's own count (block index and in-flight buffers, and its pools when it has them). RSS well above \
         live bytes with a large free held is the allocator retaining memory; live bytes close to RSS is the app \
         holding it.",
    );
    if pools {
        out.push_str(
            " **of which pools**: the part of app live kept in the app's own pools (`app.pool_bytes`) for reuse \
             instead of being freed.",
        );
    }
    out.push_str("\n\n");
}

/// One row per variant and instant, or one that says there are no readings.
fn table(s: &Summary, pools: bool) -> Table {
    let mib = |title: &str| Some(Column::right(format!("{title} (MiB)")));
    let columns = [
        Some(Column::left("variant")),
        Some(Column::left("when")),
        Some(Column::right("t (s)")),
        mib("RssAnon"),
        mib("allocator held"),
        mib("in use"),
        mib("free held"),
        mib("app live"),
        mib("of which pools").filter(|_| pools),
        Some(Column::left("the growth over B is held by")),
    ];
    let mut t = Table::new(columns.into_iter().flatten());
    for v in &s.variants {
        for (when, h) in breakdown_rows(v) {
            let Some(h) = h else { continue };
            t.row(row(v, when, h, pools));
        }
    }
    if t.rows.is_empty() {
        let mut none = vec![
            Cell::missing(),
            Cell::text("no `/stats` readings in the records"),
        ];
        none.resize(t.columns.len(), Cell::text(""));
        t.row(none);
    }
    t
}

fn row(v: &VariantSummary, when: &str, h: &HeldVsLive, pools: bool) -> Vec<Cell> {
    let mut row = vec![
        Cell::text(&v.name),
        Cell::text(when),
        Cell::fixed(Some(h.t_s), 1),
        Cell::mib(h.rss_anon_bytes),
        Cell::mib(h.allocator_held_bytes),
        Cell::mib(h.allocator_in_use_bytes),
        Cell::mib(h.allocator_free_held_bytes),
        Cell::mib(h.app_live_bytes),
    ];
    if pools {
        row.push(Cell::mib(h.app_pool_bytes));
    }
    let holder = holder(h, v.figures_shown().0.rss_before_bytes);
    row.push(holder.map_or_else(Cell::missing, Cell::text));
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: u64 = 1 << 20;

    fn at(rss: u64, free: u64, live: u64) -> HeldVsLive {
        HeldVsLive {
            t_s: 30.0,
            rss_anon_bytes: Some(rss * M),
            allocator_in_use_bytes: Some(live * M),
            allocator_held_bytes: Some((live + free) * M),
            allocator_free_held_bytes: Some(free * M),
            app_live_bytes: Some(live * M),
            app_pool_bytes: None,
        }
    }

    #[test]
    fn who_holds_the_growth() {
        let b = Some(10 * M);
        assert_eq!(
            holder(&at(300, 280, 5), b),
            Some("the allocator: freed, not returned")
        );
        assert_eq!(holder(&at(300, 10, 270), b), Some("the app: live data"));
        assert_eq!(
            holder(&at(300, 20, 20), b),
            Some("neither figure explains it")
        );
        assert_eq!(holder(&at(12, 1, 1), b), Some("near the baseline"));
        assert_eq!(holder(&at(300, 280, 5), None), None);
        let pooled = HeldVsLive {
            app_pool_bytes: Some(200 * M),
            ..at(300, 10, 270)
        };
        assert_eq!(
            holder(&pooled, b),
            Some("the app: live data, mostly its pools")
        );
    }
}
