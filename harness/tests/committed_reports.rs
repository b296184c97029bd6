//! Every report committed under `reports/` renders again, from its `runs/` alone, to the very
//! bytes that are committed: `report.md`, `report.html`, `summary.json` and every plot. The records are the
//! data and the rest is presentation, so a change to the presentation that moves a committed
//! page shows here — either it is a regression, or the committed reports are rendered again in
//! the same change (`allocstorm report DIR`), as a stale figure is a wrong figure.

mod common;

use std::path::{Path, PathBuf};

use common::{allocstorm, root};

/// The committed report directories: every folder under `reports/` holding `report.md` and
/// `runs/`.
fn committed_reports() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        if dir.join("report.md").is_file() && dir.join("runs").is_dir() {
            found.push(dir.to_path_buf());
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            if e.path().is_dir() {
                walk(&e.path(), found);
            }
        }
    }
    let mut found = Vec::new();
    walk(&root().join("reports"), &mut found);
    found.sort();
    found
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// The files of a committed report other than its records.
fn rendered_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_committed_report_renders_again_byte_for_byte_from_its_records() {
    let reports = committed_reports();
    // reports/example, four incidents and three targets at the time of writing: the walk must
    // find them, or the test would pass on nothing.
    assert!(reports.len() >= 8, "found only {reports:?}");
    let mut differ = Vec::new();
    for committed in &reports {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&committed.join("runs"), &tmp.path().join("runs"));
        let out = allocstorm(tmp.path(), &["report".as_ref(), tmp.path().as_os_str()]);
        assert_eq!(out.code, 0, "{}: {out:?}", committed.display());
        let files = rendered_files(committed);
        for required in ["summary.json", "report.html"] {
            assert!(
                files.iter().any(|f| f == required),
                "{}: no {required} committed",
                committed.display()
            );
        }
        for f in files {
            let (a, b) = (
                std::fs::read(committed.join(&f)).unwrap(),
                std::fs::read(tmp.path().join(&f)).unwrap_or_default(),
            );
            if a != b {
                differ.push(format!("{}/{f}", committed.display()));
            }
        }
    }
    assert!(
        differ.is_empty(),
        "rendered again, these differ from what is committed: {differ:?}"
    );
}
