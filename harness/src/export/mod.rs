//! Exports for the dashboards CI feeds: `allocstorm export DIR --format F` and
//! `--export F=PATH` on `compare` and `report` (docs/exports.md).
//!
//! Every figure comes from the catalogue ([`crate::report::catalogue`]): those it marks
//! [`Exported`](crate::report::catalogue::Exported) are read from the summary by [`measures`],
//! and each format only lays them out: [`bmf`] (Bencher), [`github`] (github-action-benchmark),
//! [`openmetrics`] (Prometheus). A format returns an [`Output`]'s bytes; [`write`] alone writes.

pub mod bmf;
pub mod github;
pub mod measures;
pub mod openmetrics;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use allocstorm_core::Exit;

use crate::report::catalogue::{BaseUnit, Better};
use crate::report::{Output, ReportError, Summary};

/// A format of `--format` and `--export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Bmf,
    /// github-action-benchmark's `customSmallerIsBetter`.
    GithubBenchmark,
    /// github-action-benchmark's `customBiggerIsBetter`.
    GithubBenchmarkBigger,
    Openmetrics,
}

impl Format {
    pub const ALL: [Format; 4] = [
        Format::Bmf,
        Format::GithubBenchmark,
        Format::GithubBenchmarkBigger,
        Format::Openmetrics,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Bmf => "bmf",
            Format::GithubBenchmark => "github-benchmark",
            Format::GithubBenchmarkBigger => "github-benchmark-bigger",
            Format::Openmetrics => "openmetrics",
        }
    }

    /// The file it is written to when `--out` is a directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Bmf => "bmf.json",
            Format::GithubBenchmark => "github-benchmark.json",
            Format::GithubBenchmarkBigger => "github-benchmark-bigger.json",
            Format::Openmetrics => "metrics.txt",
        }
    }

    pub fn parse(s: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                format!("{s:?}: not a format: expected one of {}", names.join(", "))
            })
    }

    /// The summary's exported figures in this format.
    pub fn render(self, summary: &Summary) -> Output {
        let b = measures::benchmarks(summary);
        let bytes = match self {
            Format::Bmf => bmf::render(&b),
            Format::GithubBenchmark => github::render(&b, Better::Lower),
            Format::GithubBenchmarkBigger => github::render(&b, Better::Higher),
            Format::Openmetrics => openmetrics::render(&b),
        };
        Output::new(self.file_name(), bytes)
    }
}

/// A unit as the github-benchmark lists name it.
pub fn unit_symbol(u: BaseUnit) -> &'static str {
    match u {
        BaseUnit::Bytes => "bytes",
        BaseUnit::Seconds => "s",
        BaseUnit::Ratio => "ratio",
        BaseUnit::PerSecond => "responses/s",
    }
}

/// `--export F=PATH`: write format F to PATH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportTo {
    pub format: Format,
    pub path: PathBuf,
}

impl ExportTo {
    pub fn parse(s: &str) -> Result<ExportTo, String> {
        let (f, path) = s
            .split_once('=')
            .filter(|(_, p)| !p.is_empty())
            .ok_or_else(|| format!("{s:?}: expected FORMAT=PATH, e.g. bmf=bmf.json"))?;
        Ok(ExportTo {
            format: Format::parse(f)?,
            path: PathBuf::from(path),
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// A report directory: its runs/ (as `report` reads them), or its summary.json where it
    /// has no runs/.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// bmf (Bencher), github-benchmark (customSmallerIsBetter), github-benchmark-bigger
    /// (customBiggerIsBetter) or openmetrics (Prometheus).
    #[arg(long, value_name = "F", value_parser = Format::parse)]
    pub format: Format,
    /// Where to write it (atomically); a directory gets the format's file name (bmf.json,
    /// github-benchmark.json, github-benchmark-bigger.json, metrics.txt) [default: stdout].
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

/// Why an export could not be made: one line that names the file.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("{dir}: neither runs/ nor summary.json: not a report directory (give one that allocstorm compare or report wrote)")]
    NotAReport { dir: String },
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not an allocstorm summary: {source}")]
    BadSummary {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

/// `allocstorm export`: the format on stdout or in `--out`; exit 2 after one line on bad input.
pub fn main(args: &ExportArgs) -> ExitCode {
    let written = summary_of(&args.dir).and_then(|s| {
        let out = args.format.render(&s);
        match &args.out {
            Some(path) => write(&out, path),
            None => crate::stdout::stdout()
                .write_all(&out.bytes)
                .map_err(|source| {
                    ExportError::Report(ReportError::Write {
                        path: "stdout".into(),
                        source,
                    })
                }),
        }
    });
    match written {
        Ok(()) => ExitCode::from(Exit::Ok),
        Err(e) => {
            eprintln!("allocstorm: {e}");
            Exit::Error.into()
        }
    }
}

/// The summary of `dir`: made from its run records as `report` makes it, or read from its
/// `summary.json` where it keeps no runs/.
pub fn summary_of(dir: &Path) -> Result<Summary, ExportError> {
    if dir.join("runs").is_dir() {
        let records = crate::report::load_runs(dir)?;
        return Ok(crate::report::summarize(&records));
    }
    let path = dir.join("summary.json");
    if !path.is_file() {
        return Err(ExportError::NotAReport {
            dir: dir.display().to_string(),
        });
    }
    let p = path.display().to_string();
    let text = std::fs::read(&path).map_err(|source| ExportError::Read {
        path: p.clone(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|source| ExportError::BadSummary { path: p, source })
}

/// Writes `out` to `path` atomically, or into `path/<its file name>` when `path` is a
/// directory.
pub fn write(out: &Output, path: &Path) -> Result<(), ExportError> {
    let target = if path.is_dir() {
        path.join(&out.name)
    } else {
        path.to_path_buf()
    };
    Ok(crate::report::write_atomic(&target, &out.bytes)?)
}

/// `--export F=PATH...` of `compare` and `report`: each format of `summary` to its path.
pub fn write_all(exports: &[ExportTo], summary: &Summary) -> Result<(), ExportError> {
    exports
        .iter()
        .try_for_each(|e| write(&e.format.render(summary), &e.path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_export_arguments_parse() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.name()), Ok(f));
        }
        let e = Format::parse("csv").unwrap_err();
        assert!(
            e.starts_with("\"csv\": not a format: expected one of bmf, "),
            "{e}"
        );
        assert_eq!(
            ExportTo::parse("openmetrics=out/m.txt"),
            Ok(ExportTo {
                format: Format::Openmetrics,
                path: PathBuf::from("out/m.txt")
            })
        );
        assert!(ExportTo::parse("bmf").unwrap_err().contains("FORMAT=PATH"));
        assert!(ExportTo::parse("bmf=").is_err());
        assert!(ExportTo::parse("xml=a.xml")
            .unwrap_err()
            .contains("\"xml\""));
    }

    /// A summary read back from summary.json exports what one made from the runs does (to the
    /// last bit but one: serde_json reads a float back within an ulp).
    #[test]
    fn the_committed_example_exports_the_same_from_its_runs_and_its_summary_json() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/example");
        let from_runs = summary_of(&dir).unwrap();
        let text = std::fs::read(dir.join("summary.json")).unwrap();
        let from_json: Summary = serde_json::from_slice(&text).unwrap();
        type Flat = (String, f64, Option<(f64, f64)>);
        let flat = |s: &Summary| -> Vec<Flat> {
            measures::benchmarks(s)
                .iter()
                .flat_map(|b| {
                    b.measures
                        .iter()
                        .map(|m| (format!("{}/{}", b.name(), m.name), m.value, m.bounds))
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let (a, b) = (flat(&from_runs), flat(&from_json));
        assert_eq!(a.len(), b.len());
        assert!(a.len() > 7 * 8, "{} measures", a.len());
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * x.abs().max(1.0);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.0, y.0);
            assert!(close(x.1, y.1), "{x:?} {y:?}");
            match (x.2, y.2) {
                (Some((l1, h1)), Some((l2, h2))) => assert!(close(l1, l2) && close(h1, h2)),
                (None, None) => {}
                _ => panic!("{x:?} {y:?}"),
            }
        }
    }

    #[test]
    fn a_directory_without_runs_or_summary_is_named() {
        let d = tempfile::tempdir().unwrap();
        let e = summary_of(d.path()).unwrap_err().to_string();
        assert!(e.starts_with(&d.path().display().to_string()), "{e}");
        assert!(e.contains("neither runs/ nor summary.json"), "{e}");
        std::fs::write(d.path().join("summary.json"), "{}").unwrap();
        let e = summary_of(d.path()).unwrap_err().to_string();
        assert!(e.contains("summary.json: not an allocstorm summary"), "{e}");
    }
}
