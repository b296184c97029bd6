//! The gate's verdict on the page of a GitHub Actions run: appended to the file
//! `$GITHUB_STEP_SUMMARY` names, kept under GitHub's limit of 1 MiB per step.

use std::io::Write;
use std::path::Path;

/// GitHub's limit on a step's summary: 1 MiB (a larger one is not shown, and the step says
/// so). The file may already hold what earlier commands of the step appended.
pub const LIMIT: u64 = 1 << 20;

/// The line that ends a verdict cut to fit.
pub const TRUNCATED: &str =
    "\n_The verdict is cut here: GitHub shows at most 1 MiB of a step's summary. The gate's output and its `--markdown` file hold all of it._\n";

/// Appends `markdown` to `path`, cut at a line's end (with [`TRUNCATED`] after it) so that
/// the file stays within `limit` bytes.
pub fn append(path: &Path, markdown: &str, limit: u64) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let used = f.metadata()?.len();
    let room = usize::try_from(limit.saturating_sub(used)).unwrap_or(usize::MAX);
    f.write_all(fitted(markdown, room).as_bytes())
}

/// `markdown` whole if it fits in `room` bytes, else as many of its lines as fit with
/// [`TRUNCATED`] after them; nothing where not even that line fits.
fn fitted(markdown: &str, room: usize) -> std::borrow::Cow<'_, str> {
    if markdown.len() <= room {
        return markdown.into();
    }
    let Some(budget) = room.checked_sub(TRUNCATED.len()) else {
        return "".into();
    };
    // A newline byte is always a character's end: the cut never splits one.
    let cut = markdown.as_bytes()[..budget.min(markdown.len())]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    format!("{}{TRUNCATED}", &markdown[..cut]).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_whole_when_it_fits() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("summary.md");
        std::fs::write(&p, "earlier step output\n").unwrap();
        append(&p, "| a | b |\n", LIMIT).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "earlier step output\n| a | b |\n"
        );
    }

    /// What the file held counts: the whole stays within the limit, cut at a line's end.
    #[test]
    fn a_verdict_over_the_limit_is_cut_at_a_line_and_says_so() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("summary.md");
        std::fs::write(&p, "x".repeat(100)).unwrap();
        let line = format!("{}\n", "y".repeat(99));
        let md = line.repeat(50);
        let limit = 100 + 1000 + TRUNCATED.len() as u64 + 50;
        append(&p, &md, limit).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.len() as u64 <= limit, "{} > {limit}", text.len());
        assert!(text.ends_with(TRUNCATED));
        let kept = &text[100..text.len() - TRUNCATED.len()];
        assert_eq!(kept, line.repeat(10), "ten whole lines fit");
    }

    #[test]
    fn no_room_writes_nothing() {
        assert_eq!(fitted("abc\n", 2), "");
        assert_eq!(fitted("abc\n", 4), "abc\n");
        let wide = "é\n".repeat(1000);
        let cut = fitted(&wide, 500 + TRUNCATED.len());
        assert!(cut.ends_with(TRUNCATED) && cut.len() <= 500 + TRUNCATED.len());
    }
}
