//! The report side, end to end on synthetic records: no server, no load. Each record is made
//! from a function of time (RssAnon in MiB at t), written into a temporary `DIR/runs/`, and
//! rendered with `report::render` exactly as `allocstorm report DIR` does.
//!
//! To look at the plots of the realistic set: `ALLOCSTORM_KEEP_REPORT=/tmp/report cargo nextest
//! run -p allocstorm --test report` and open `/tmp/report/*/`.

#[path = "../common/mod.rs"]
mod common;

mod cost;
mod fixtures;
mod pages;
mod plots;
mod rebuild;
mod series_oom;
mod summary;
mod sweep;
