//! A report directory: the layout of its `runs/` folder ([`ReportDir`], the one place that
//! names its files) and its run records: `runs/<variant>-<n>.json`, or, for a run whose
//! harness was killed before it could write that, a record rebuilt from the event stream
//! `runs/<variant>-<n>.jsonl` that was flushed line by line while the run went. A killed run is
//! an outcome to report, not a reason to lose the other results.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::figures::PhaseMark;
use crate::scenario::{PhaseSpec, Variant};

use super::{Event, RecordBuilder, RunHeader, RunRecord, RunStatus, SCHEMA_VERSION};

/// A report directory and the layout of its `runs/` folder: every file a run leaves there is
/// named here, `runs/<variant>-<n>` and a suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportDir {
    root: PathBuf,
}

/// The suffixes of a run's files in `runs/`.
const RECORD: &str = ".json";
const EVENTS: &str = ".jsonl";

/// `name` made one path component, whatever it holds: every byte but letters, digits, `.`,
/// `_`, `-`, `@` and `=` (sweep labels, `glibc@rate=0.5`) becomes `_`. Names are checked where
/// they are read (the scenario's `name`, a variant's); this is the second line, at the one
/// place a name becomes a path, so that no file says where a report is written.
pub fn one_component(name: &str) -> String {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '=');
    let s: String = name.chars().map(|c| if ok(c) { c } else { '_' }).collect();
    match s.as_str() {
        "" | "." | ".." => format!("_{s}"),
        _ => s,
    }
}

impl ReportDir {
    pub fn new(root: impl Into<PathBuf>) -> ReportDir {
        ReportDir { root: root.into() }
    }

    /// The directory itself (the report's files are written here).
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `runs/`: every file of every run.
    pub fn runs(&self) -> PathBuf {
        self.root.join("runs")
    }

    /// `runs/<variant>-<n><suffix>`. The suffix is appended, never swapped for an extension:
    /// a sweep label may hold a `.` (`glibc@rate=0.5`).
    fn run_file(&self, variant: &str, n: u32, suffix: &str) -> PathBuf {
        self.runs()
            .join(format!("{}-{n}{suffix}", one_component(variant)))
    }

    /// The run's record, written when it ends.
    pub fn record(&self, variant: &str, n: u32) -> PathBuf {
        self.run_file(variant, n, RECORD)
    }

    /// The run's event stream, flushed line by line while it goes.
    pub fn events(&self, variant: &str, n: u32) -> PathBuf {
        self.run_file(variant, n, EVENTS)
    }

    /// The server's stderr.
    pub fn server_log(&self, variant: &str, n: u32) -> PathBuf {
        self.run_file(variant, n, ".server.log")
    }

    /// The stderr of the cost measurement's own server.
    pub fn cost_server_log(&self, variant: &str, n: u32) -> PathBuf {
        self.run_file(variant, n, ".cost-server.log")
    }

    /// An external target's run directory (its rendered templates and scratch files).
    pub fn target_dir(&self, variant: &str, n: u32) -> PathBuf {
        self.run_file(variant, n, ".target")
    }

    /// The directories of a run's own load tool, one per phase it drove (`{out}`).
    pub fn tool_dir(&self, variant: &str, n: u32) -> PathBuf {
        self.run_file(variant, n, ".tool")
    }

    /// Makes `runs/` and proves it writable (a file written and removed), before any server
    /// starts: a read-only directory must not cost a run.
    pub fn check_writable(&self) -> std::io::Result<()> {
        let runs = self.runs();
        std::fs::create_dir_all(&runs)?;
        let probe = runs.join(".write-test");
        std::fs::write(&probe, b"")?;
        std::fs::remove_file(&probe)
    }

    /// The record and event-stream files of `runs/` by stem (`<variant>-<n>`): (json, jsonl).
    /// Logs and a killed harness's half-written `x.json.tmp` are not records.
    fn run_files(&self) -> std::io::Result<BTreeMap<String, RunFiles>> {
        let mut files: BTreeMap<String, RunFiles> = BTreeMap::new();
        for path in self.files()? {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if let Some(stem) = name.strip_suffix(EVENTS) {
                files.entry(stem.to_string()).or_default().1 = Some(path.clone());
            } else if let Some(stem) = name.strip_suffix(RECORD) {
                files.entry(stem.to_string()).or_default().0 = Some(path.clone());
            }
        }
        Ok(files)
    }

    /// The regular files of `runs/` (records, event streams, logs); hidden ones (the write
    /// test) are left out.
    pub fn files(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.runs())? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') || !path.is_file() {
                continue;
            }
            out.push(path);
        }
        Ok(out)
    }
}

/// A run's record and event stream, where present.
type RunFiles = (Option<PathBuf>, Option<PathBuf>);

/// How the failure of a run rebuilt from a cut stream begins: the report flags such runs.
pub const INCOMPLETE_PREFIX: &str = "incomplete:";

/// The run records of a directory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// The directory holds no run records at all.
    #[error("{dir}: no run records (runs/*.json or runs/*.jsonl); run `allocstorm compare` into this directory first")]
    NoRuns { dir: String },
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A file that is not a run record (or event stream) of this version.
    #[error("{path}: not a valid run record: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: written with record schema {found}, this allocstorm reads schema {expected}")]
    Schema {
        path: String,
        found: u32,
        expected: u32,
    },
}

/// Run order: by start time; a record without one (rebuilt from an empty stream) last.
pub fn run_order(a: &RunRecord, b: &RunRecord) -> std::cmp::Ordering {
    let key = |r: &RunRecord| {
        (
            r.header.started_at.is_empty(),
            r.header.started_at.clone(),
            r.header.variant.name.clone(),
            r.header.run_index,
        )
    };
    key(a).cmp(&key(b))
}

/// Reads every `DIR/runs/*.json`; a run with only a `.jsonl` is rebuilt from its events and
/// marked incomplete (see [`rebuild`]). Records come back in run order (by start time).
pub fn load_runs(dir: &Path) -> Result<Vec<RunRecord>, RecordsError> {
    let report = ReportDir::new(dir);
    let files = match report.run_files() {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(source) => {
            return Err(RecordsError::Read {
                path: report.runs().display().to_string(),
                source,
            })
        }
    };
    if files.is_empty() {
        return Err(RecordsError::NoRuns {
            dir: dir.display().to_string(),
        });
    }

    let mut records = Vec::new();
    let mut streams = Vec::new();
    for (stem, (json, jsonl)) in files {
        match (json, jsonl) {
            (Some(json), _) => records.push(read_record(&json)?),
            (None, Some(jsonl)) => streams.push((stem, jsonl)),
            (None, None) => {}
        }
    }
    // Rebuilt records borrow what the stream does not carry (the planned phases, the scenario
    // file) from a complete record of the same report.
    let mut rebuilt = Vec::new();
    for (stem, path) in streams {
        rebuilt.push(rebuild(&path, &stem, &records)?);
    }
    records.extend(rebuilt);
    records.sort_by(run_order);
    Ok(records)
}

fn read_record(path: &Path) -> Result<RunRecord, RecordsError> {
    let p = || path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|source| RecordsError::Read { path: p(), source })?;
    #[derive(serde::Deserialize)]
    struct Version {
        schema_version: Option<u32>,
    }
    let version = serde_json::from_str::<Version>(&text)
        .ok()
        .and_then(|v| v.schema_version);
    if let Some(found) = version.filter(|&v| v != SCHEMA_VERSION) {
        return Err(RecordsError::Schema {
            path: p(),
            found,
            expected: SCHEMA_VERSION,
        });
    }
    serde_json::from_str(&text).map_err(|e| RecordsError::Parse {
        path: p(),
        message: e.to_string(),
    })
}

/// `glibc-mmap64k-2` → (`glibc-mmap64k`, 2). Variant names may contain `-`; the index may not.
fn split_stem(stem: &str) -> (String, u32) {
    match stem
        .rsplit_once('-')
        .and_then(|(v, n)| Some((v, n.parse().ok()?)))
    {
        Some((v, n)) => (v.to_string(), n),
        None => (stem.to_string(), 0),
    }
}

/// Rebuilds the record of a run from its event stream. Samples, phases, `/stats` readings and
/// load summaries are taken as streamed and the figures recomputed with
/// [`figures::compute`]. Without an `end` event the harness was killed mid-run: the record is
/// `interrupted` and its failure starts with `incomplete:`. A torn last line (the write the
/// kill interrupted) is dropped; a bad line anywhere else is an error.
pub fn rebuild(path: &Path, stem: &str, complete: &[RunRecord]) -> Result<RunRecord, RecordsError> {
    let p = || path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|source| RecordsError::Read { path: p(), source })?;
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let (file_variant, file_index) = split_stem(stem);

    let mut events = RecordBuilder::default();
    for (k, &(i, line)) in lines.iter().enumerate() {
        let event: Event = match serde_json::from_str(line) {
            Ok(e) => e,
            Err(_) if k + 1 == lines.len() => break,
            Err(e) => {
                return Err(RecordsError::Parse {
                    path: format!("{}:{}", p(), i + 1),
                    message: e.to_string(),
                })
            }
        };
        events.apply(&event);
    }

    let last_t = events
        .samples
        .iter()
        .map(|s| s.t)
        .chain(events.stats.iter().map(|s| s.t))
        .fold(0.0_f64, f64::max);
    // The phase the kill interrupted never got its end: it lasted as long as we measured.
    if events.end.is_none() {
        if let Some(m) = events.phases.last_mut() {
            if m.end <= m.start {
                m.end = m.start.max(last_t);
            }
        }
    }
    // The header says everything known before the run started; a stream cut before even
    // that borrows from a complete sibling in the same directory, or from the file name.
    let header = events.start.take().unwrap_or_else(|| {
        let sibling = complete
            .iter()
            .find(|r| r.header.variant.name == file_variant);
        let mut h = match sibling.or(complete.first()) {
            Some(r) => r.header.clone(),
            None => RunHeader::unknown(
                Variant::named(&file_variant),
                file_index,
                planned_from(&events.phases),
                median_gap(&events.samples),
            ),
        };
        if sibling.is_none() {
            h.variant.name = file_variant.clone();
        }
        h.run_index = file_index;
        h.started_at = String::new();
        h
    });
    let (status, failure, server_exit) = match events.end.take() {
        Some(e) => e,
        None => {
            let at = match events.phases.last() {
                Some(m) => format!(" (last measured at {last_t:.1}s, in `{}`)", m.name),
                None => String::new(),
            };
            (
                RunStatus::Interrupted,
                Some(format!(
                    "{INCOMPLETE_PREFIX} the harness stopped before the run ended{at}; record rebuilt from the event stream {}",
                    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
                )),
                None,
            )
        }
    };
    Ok(events.build(header, status, failure, server_exit))
}

fn median_gap(samples: &[crate::sample::Sample]) -> f64 {
    let mut g: Vec<f64> = samples.windows(2).map(|w| w[1].t - w[0].t).collect();
    g.sort_by(f64::total_cmp);
    g.get(g.len() / 2).copied().unwrap_or(0.0)
}

/// The phases as they ran, for a record with no complete sibling to borrow the plan from.
fn planned_from(marks: &[PhaseMark]) -> PhaseSpec {
    let d = |name: &str| {
        marks
            .iter()
            .find(|m| m.name == name)
            .map(|m| Duration::from_secs_f64((m.end - m.start).max(0.0)))
            .unwrap_or_default()
    };
    PhaseSpec {
        warmup: d("warmup"),
        warmup_rate: 0.0,
        before: d("before"),
        during: d("during"),
        drain: d("drain"),
        nudge: d("nudge"),
        nudge_rate: 0.0,
        release: d("release"),
        cycles: marks.iter().filter(|m| m.name == "during").count().max(1) as u32,
        soak: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_s_files_are_named_once_and_a_dot_in_a_sweep_label_is_kept() {
        let d = ReportDir::new("/r");
        assert_eq!(d.runs(), Path::new("/r/runs"));
        assert_eq!(d.record("glibc", 2), Path::new("/r/runs/glibc-2.json"));
        assert_eq!(d.events("glibc", 2), Path::new("/r/runs/glibc-2.jsonl"));
        assert_eq!(
            d.server_log("glibc", 2),
            Path::new("/r/runs/glibc-2.server.log")
        );
        // `with_extension` would have made this `glibc@rate=0.json`, for every run of the point.
        assert_eq!(
            d.record("glibc@rate=0.5", 1),
            Path::new("/r/runs/glibc@rate=0.5-1.json")
        );
    }

    /// Hostile names (issue 28): whatever a record or scenario names, a run's files and the
    /// default report directory stay one component below where they belong.
    #[test]
    fn a_name_with_a_path_in_it_stays_one_component() {
        let d = ReportDir::new("/r");
        for hostile in [
            "../../../escaped",
            "/etc/passwd",
            "..",
            ".",
            "",
            "a/b",
            "x\0y",
        ] {
            let p = d.record(hostile, 1);
            assert_eq!(p.parent(), Some(Path::new("/r/runs")), "{hostile:?}: {p:?}");
            let out = crate::cli::default_out_dir(hostile);
            assert_eq!(
                out.parent(),
                Some(Path::new("reports")),
                "{hostile:?}: {out:?}"
            );
            assert_eq!(out.components().count(), 2, "{hostile:?}: {out:?}");
        }
        assert_eq!(one_component("x/../../../escaped"), "x_.._.._.._escaped");
        assert_eq!(one_component(".."), "_..");
    }

    #[test]
    fn stems() {
        assert_eq!(split_stem("glibc-mmap64k-2"), ("glibc-mmap64k".into(), 2));
        assert_eq!(split_stem("glibc-0"), ("glibc".into(), 0));
        assert_eq!(split_stem("odd"), ("odd".into(), 0));
    }
}
