//! The exit codes of the `allocstorm` commands: one contract, documented in docs/cli.md.

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
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Exit;

    #[test]
    fn the_codes_are_the_documented_ones() {
        let codes: Vec<u8> = [
            Exit::Ok,
            Exit::Failed,
            Exit::Error,
            Exit::Incomplete,
            Exit::Interrupted,
        ]
        .iter()
        .map(|e| e.code())
        .collect();
        assert_eq!(codes, [0, 1, 2, 3, 130]);
    }
}
