//! Reports: `summary.json`, plots and `report.md`, from the run records of a report directory.
//!
//! Data before presentation: [`load_runs`] reads `DIR/runs/*.json` (and rebuilds the record of a
//! run whose harness was killed from its `.jsonl` event stream; [`crate::record::dir`]), [`summary`] turns the records into
//! the per-variant figures of `summary.json`, and every output is an [`Exporter`] that reads the
//! records and the summary and never another exporter. Nothing here is imported by the measuring
//! side.
//!
//! - [`summary`]: [`summarize`], medians over ok runs, run-to-run spread, held vs live bytes,
//!   the sweep, the peaks of the series a scenario declares.
//! - [`series`]: those series, read from the `/stats` readings through JSON pointers.
//! - [`json`] writes `summary.json`.
//! - [`plot`]: `rss-timeline`, `rss-summary`, `cost` and (numeric sweeps) `sweep`, each as PNG
//!   and SVG.
//! - [`markdown`]: `report.md`, ready to paste into a design review.
//! - [`html`]: `report.html`, the same sections and plots as one self-contained file to attach.
//! - [`text`]: the table printed on the terminal after a run.
//! - [`catalogue`]: every figure declared once (its key, titles, unit, precision, which way is
//!   better, how it is read); the tables and the terminal take their columns from it, and
//!   [`crate::table`] writes them.
//! - [`words`]: the sentences of the summary's reasons, notes and warnings, for every output.

pub mod catalogue;
pub mod html;
pub mod json;
pub mod markdown;
pub mod plot;
pub mod series;
pub mod summary;
pub mod text;
pub mod words;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::record::RunRecord;

/// The run records of `dir`, complete or rebuilt ([`crate::record::load_runs`]).
pub fn load_runs(dir: &Path) -> Result<Vec<crate::record::RunRecord>, ReportError> {
    Ok(crate::record::load_runs(dir)?)
}
pub use summary::{summarize, Summary};
pub use text::text_table;

/// Why a report could not be made. Each displays as one line that names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The run records could not be read (none there, unreadable, not a record, another schema).
    #[error(transparent)]
    Records(#[from] crate::record::RecordsError),
    #[error("{path}: cannot write: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot draw the plot: {message}")]
    Plot { path: String, message: String },
}

/// What every exporter reads: the records (raw samples) and the summary computed from them.
pub struct ReportInput<'a> {
    pub records: &'a [RunRecord],
    pub summary: &'a Summary,
}

/// One file of a report: its name in the report directory and its bytes.
pub struct Output {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl Output {
    pub fn new(name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Output {
        Output {
            name: name.into(),
            bytes: bytes.into(),
        }
    }
}

/// One output of the report. Exporters read [`ReportInput`] and return their files as bytes
/// (none, when they have nothing to show); they never read each other's output, and only
/// [`render`] writes.
pub trait Exporter {
    fn export(&self, input: &ReportInput<'_>) -> Result<Vec<Output>, ReportError>;
}

/// Every output of `allocstorm report`, in the order they are written.
pub fn exporters() -> Vec<Box<dyn Exporter>> {
    let mut all: Vec<Box<dyn Exporter>> = vec![Box::new(json::SummaryJson)];
    all.extend(plot::plots(plot::Files::PngAndSvg));
    all.push(Box::new(markdown::ReportMarkdown));
    all.push(Box::new(html::ReportHtml));
    all
}

/// `allocstorm report DIR`: reads the run records of `dir`, writes `summary.json`,
/// `rss-timeline.{png,svg}`, with the probe's readings `rss-explained.{png,svg}`, `rss-summary.{png,svg}`, `cost.{png,svg}`, for a numeric sweep
/// `sweep.{png,svg}`, `report.md` and `report.html` into it, and returns the summary. Every exporter runs even if one fails (a plot that cannot be drawn
/// must not cost the table); the first failure is returned.
pub fn render(dir: &Path) -> Result<Summary, ReportError> {
    let records = load_runs(dir)?;
    let summary = summarize(&records);
    let input = ReportInput {
        records: &records,
        summary: &summary,
    };
    let mut first_error = None;
    for e in exporters() {
        let written = e.export(&input).and_then(|outputs| {
            outputs
                .iter()
                .try_for_each(|o| write_atomic(&dir.join(&o.name), &o.bytes))
        });
        if let Err(err) = written {
            first_error.get_or_insert(in_dir(err, dir));
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// An exporter names the file it could not draw by its name; the user is told its path.
fn in_dir(err: ReportError, dir: &Path) -> ReportError {
    match err {
        ReportError::Plot { path, message } => ReportError::Plot {
            path: dir.join(path).display().to_string(),
            message,
        },
        other => other,
    }
}

/// `dir/.name.tmp`, renamed over `dir/name` once complete.
fn tmp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Writes `bytes` to `path` atomically: a reader sees the old file or the new one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let tmp = tmp_path(path);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        ReportError::Write {
            path: path.display().to_string(),
            source,
        }
    })
}
