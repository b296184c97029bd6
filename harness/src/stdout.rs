//! The CLI's stdout, for a reader that may go away: `allocstorm load --json | head -c 10`
//! closes the pipe before the output is written. Rust ignores SIGPIPE, so the write fails with
//! EPIPE, which `println!` turns into a panic; here it ends the output quietly and the command
//! exits as it would have (as ripgrep does), its exit code still the contract.

use std::io::{self, ErrorKind, StdoutLock, Write};

/// Stdout, where a reader that closed the pipe is not an error: what is left is dropped.
pub struct Stdout {
    out: StdoutLock<'static>,
    /// The reader has gone: nothing more is written.
    gone: bool,
}

/// The process's stdout, locked.
pub fn stdout() -> Stdout {
    Stdout {
        out: io::stdout().lock(),
        gone: false,
    }
}

/// Writes `text` to stdout and flushes it; any error but a closed pipe is returned.
pub fn print(text: &str) -> io::Result<()> {
    let mut out = stdout();
    out.write_all(text.as_bytes())?;
    out.flush()
}

impl Stdout {
    /// `r`, unless it is the reader's going, which is remembered and swallowed.
    fn quiet<T>(&mut self, r: io::Result<T>, gone: T) -> io::Result<T> {
        match r {
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                self.gone = true;
                Ok(gone)
            }
            r => r,
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.gone {
            return Ok(buf.len());
        }
        let r = self.out.write(buf);
        self.quiet(r, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.gone {
            return Ok(());
        }
        let r = self.out.flush();
        self.quiet(r, ())
    }
}
