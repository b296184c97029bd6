//! Baseline files: the gated figures of every run of a report directory (A, or the point of
//! the curve after the load `[gate] after` chose, which the file names), and the key they were
//! measured under, kept (usually committed under `baselines/`) to gate later runs
//! against. See `baselines/README.md`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::measured::{Key, Measured, VariantRuns};
use super::GateError;
use crate::figures::curve::After;

/// Version of the baseline layout; bumped when a key changes meaning or goes away.
pub const BASELINE_SCHEMA_VERSION: u32 = 1;

/// Where a baseline came from, for the people reading it (not part of the key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// The report directory it was made from.
    pub run_dir: String,
    pub hostname: String,
    pub git_revision: Option<String>,
    pub git_dirty: Option<bool>,
    pub allocstorm_version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub schema_version: u32,
    pub created_at: String,
    pub source: Source,
    pub key: Key,
    /// The figure its runs hold (`[gate] after`); baselines made before it hold A.
    #[serde(default)]
    pub after: After,
    pub variants: Vec<VariantRuns>,
}

impl Baseline {
    pub fn variant(&self, name: &str) -> Option<&VariantRuns> {
        self.variants.iter().find(|v| v.name == name)
    }
}

/// A baseline made from what a directory measured. Refused when a variant has no ok run with
/// an after-drain figure (a baseline with a hole would pass that variant forever) or the runs
/// disagree on the key.
pub fn from_measured(
    m: &Measured,
    source: Source,
    created_at: String,
) -> Result<Baseline, GateError> {
    if !m.inconsistencies.is_empty() {
        return Err(GateError::MixedRuns {
            dir: source.run_dir.clone(),
            runs: m.inconsistencies.clone(),
        });
    }
    let empty: Vec<VariantRuns> = m
        .variants
        .iter()
        .filter(|v| v.gated(m.after).is_empty())
        .cloned()
        .collect();
    if !empty.is_empty() {
        return Err(GateError::NoOkRuns {
            dir: source.run_dir.clone(),
            after: m.after,
            variants: empty,
        });
    }
    Ok(Baseline {
        schema_version: BASELINE_SCHEMA_VERSION,
        created_at,
        source,
        key: m.key.clone(),
        after: m.after,
        variants: m.variants.clone(),
    })
}

/// Where `--baseline PATH` or `--update-baseline PATH` points: a file as given, or in a
/// directory (an existing one, or any path ending in `/`) the file named by the key,
/// `<scenario>-<host key>.json`.
pub fn resolve(path: &Path, key: &Key) -> PathBuf {
    if is_dir_like(path) {
        path.join(key.file_name())
    } else {
        path.to_path_buf()
    }
}

/// An existing directory, or a path written as one (`baselines/`).
pub fn is_dir_like(path: &Path) -> bool {
    path.is_dir() || path.as_os_str().to_string_lossy().ends_with('/')
}

/// Why a file is not a baseline this allocstorm reads.
#[derive(Debug, thiserror::Error)]
pub enum NotABaseline {
    #[error("not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("no schema_version: not an allocstorm baseline")]
    NoSchema,
    #[error("baseline schema {0}, this allocstorm reads schema {BASELINE_SCHEMA_VERSION}: make it again with --update-baseline")]
    Schema(u32),
    /// JSON of this schema, but not of its layout.
    #[error("{0}")]
    Layout(serde_json::Error),
    #[error("no variants")]
    NoVariants,
    #[error("variant {0:?} appears twice")]
    Twice(String),
    #[error("variant {name:?} has no ok run with {}", held(*after))]
    NoOkRun { name: String, after: After },
}

/// The key of a run's figure a baseline at `after` holds.
fn held(after: After) -> &'static str {
    match after {
        After::Drain => "rss_after_drain_bytes",
        _ => "rss_after_load_bytes",
    }
}

/// Reads and checks a baseline file. Every error is one line naming the file.
pub fn read(path: &Path) -> Result<Baseline, GateError> {
    let p = || path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|source| GateError::Read { path: p(), source })?;
    #[derive(Deserialize)]
    struct Version {
        schema_version: Option<u32>,
    }
    let bad = |why| GateError::BadBaseline { path: p(), why };
    match serde_json::from_str::<Version>(&text) {
        Err(e) => return Err(bad(NotABaseline::NotJson(e))),
        Ok(Version {
            schema_version: None,
        }) => return Err(bad(NotABaseline::NoSchema)),
        Ok(Version {
            schema_version: Some(v),
        }) if v != BASELINE_SCHEMA_VERSION => return Err(bad(NotABaseline::Schema(v))),
        Ok(_) => {}
    }
    let b: Baseline = serde_json::from_str(&text).map_err(|e| bad(NotABaseline::Layout(e)))?;
    if b.variants.is_empty() {
        return Err(bad(NotABaseline::NoVariants));
    }
    for (i, v) in b.variants.iter().enumerate() {
        if b.variants[..i].iter().any(|w| w.name == v.name) {
            return Err(bad(NotABaseline::Twice(v.name.clone())));
        }
        if v.gated(b.after).is_empty() {
            return Err(bad(NotABaseline::NoOkRun {
                name: v.name.clone(),
                after: b.after,
            }));
        }
    }
    Ok(b)
}

/// Writes a baseline atomically (write, then rename), creating its directory.
pub fn write(path: &Path, b: &Baseline) -> Result<(), GateError> {
    let w = |source| GateError::Write {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(w)?;
    }
    crate::record::write_json_atomic(path, b).map_err(w)
}
