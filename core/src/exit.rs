//! The exit codes of the `allocstorm` commands: one contract. [`Exit::ALL`] and
//! [`Exit::meaning`] are the list `--help` prints ([`Exit::help`]) and docs/cli.md's exit-code
//! table states (a test of the harness compares the two).

use std::process::ExitCode;

/// How an `allocstorm` command ended. The numbers are a contract other tools read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done: every run measured, the gate passed, the load ran.
    Ok = 0,
    /// A run failed (its server died), or the gate found a regression.
    Failed = 1,
    /// Bad input or a harness error: one line names the file, field or value.
    Error = 2,
    /// Incomplete or inconclusive: a variant was skipped, the gate's runs cannot tell,
    /// something `deps` looks for is missing.
    Incomplete = 3,
    /// Interrupted by Ctrl-C (SIGINT): what was measured is kept.
    Interrupted = 130,
}

impl Exit {
    /// Every exit code of the contract, in order.
    pub const ALL: [Exit; 5] = [
        Exit::Ok,
        Exit::Failed,
        Exit::Error,
        Exit::Incomplete,
        Exit::Interrupted,
    ];

    pub fn code(self) -> u8 {
        self as u8
    }

    /// What the code means, in one line, as `--help` and docs/cli.md state it.
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "ok: every run measured (an oom under the memory limit is a result), the gate passed, the load ran",
            Exit::Failed => "failed: a run failed (its server died), or the gate found a regression",
            Exit::Error => "bad input or a harness error: one line on stderr names the file, field or value",
            Exit::Incomplete => "incomplete: a variant was skipped (it cannot run here; the others were measured), the gate is inconclusive, or something deps looks for is missing",
            Exit::Interrupted => "interrupted by Ctrl-C (SIGINT): what was measured is kept",
        }
    }

    /// The `Exit codes:` list of `--help` for a command that ends with one of `codes`.
    pub fn help(codes: &[Exit]) -> String {
        help_list(codes.iter().map(|e| (e.code(), e.meaning())))
    }
}

/// An `Exit codes:` list, one code a row with its meaning wrapped under it (clap prints
/// `after_help` as it is).
pub fn help_list<'a>(rows: impl IntoIterator<Item = (u8, &'a str)>) -> String {
    const WIDTH: usize = 90;
    const INDENT: &str = "       ";
    let mut out = String::from("Exit codes:");
    for (code, meaning) in rows {
        let mut line = format!("  {code:<3}  ");
        let mut empty = true;
        for word in meaning.split_whitespace() {
            if !empty && line.len() + 1 + word.len() > WIDTH {
                out.push('\n');
                out.push_str(line.trim_end());
                line = INDENT.to_string();
                empty = true;
            }
            if !empty {
                line.push(' ');
            }
            line.push_str(word);
            empty = false;
        }
        out.push('\n');
        out.push_str(&line);
    }
    out
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::{help_list, Exit};

    #[test]
    fn the_codes_are_the_documented_ones() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 130]);
    }

    #[test]
    fn help_wraps_a_long_meaning_under_its_code() {
        let long = "word ".repeat(30);
        let help = help_list([(3, long.as_str()), (130, "short")]);
        let lines: Vec<&str> = help.lines().collect();
        assert_eq!(lines[0], "Exit codes:");
        assert!(lines[1].starts_with("  3    word word"), "{help}");
        assert!(lines[2].starts_with("       word"), "{help}");
        assert!(lines.iter().all(|l| l.len() <= 90), "{help}");
        assert_eq!(*lines.last().unwrap(), "  130  short");
        let words: usize = lines[1..lines.len() - 1]
            .iter()
            .map(|l| l.split_whitespace().count())
            .sum();
        assert_eq!(words, 31, "{help}");
    }
}
