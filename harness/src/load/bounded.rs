//! Lines read from a peer, bounded in length.
//!
//! `read_line` grows its buffer until a newline comes: a peer that sends bytes and never a
//! newline grows the reader's memory without end (two such connections took a coordinator from
//! 7.5 MB to 1.37 GB in 4.5 s). Every line the load's processes and hosts read from each other
//! goes through [`read_line`] here instead, which refuses a line longer than its bound after
//! reading at most that many bytes of it.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// The longest handshake line (`hello`, a challenge, a proof, `refused`): a few hundred bytes
/// in practice.
pub const HANDSHAKE_MAX: usize = 4 * 1024;

/// The longest line of a load (a plan, a `second`, `done` with its histograms). A `done` line of
/// a mix of many entries is the largest, well under 1 MiB; the bound leaves room and stops a
/// runaway peer.
pub const LINE_MAX: usize = 16 * 1024 * 1024;

/// Reads one line (without its `\n`) of at most `max` bytes. `Ok(None)` at the end of the input;
/// a last line without `\n` is returned as a line. A longer line, or one that is not UTF-8, is
/// an `InvalidData` error that says so; the rest of that line is left unread.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    max: usize,
) -> io::Result<Option<String>> {
    let mut line: Vec<u8> = Vec::new();
    loop {
        let available = r.fill_buf().await?;
        if available.is_empty() {
            return if line.is_empty() {
                Ok(None)
            } else {
                text(line).map(Some)
            };
        }
        let (take, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (available.len(), false),
        };
        if line.len() + take > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a line longer than {max} bytes"),
            ));
        }
        line.extend_from_slice(&available[..take]);
        r.consume(if done { take + 1 } else { take });
        if done {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return text(line).map(Some);
        }
    }
}

/// Keeps error lines to one readable line.
pub fn shorten(s: &str) -> String {
    const MAX: usize = 200;
    let s = s.trim();
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

fn text(line: Vec<u8>) -> io::Result<String> {
    String::from_utf8(line)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a line that is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncWriteExt, BufReader};

    fn lines(input: &[u8], max: usize) -> Vec<Result<String, String>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut r = BufReader::with_capacity(7, input);
            let mut out = Vec::new();
            loop {
                match read_line(&mut r, max).await {
                    Ok(Some(l)) => out.push(Ok(l)),
                    Ok(None) => break,
                    Err(e) => {
                        out.push(Err(e.to_string()));
                        break;
                    }
                }
            }
            out
        })
    }

    #[test]
    fn lines_are_split_as_read_line_splits_them() {
        let got = lines(b"one\ntwo\r\n\nlast without newline", 64);
        let want: Vec<Result<String, String>> = ["one", "two", "", "last without newline"]
            .iter()
            .map(|s| Ok(s.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_line_at_the_bound_is_taken_and_one_byte_more_refused() {
        assert_eq!(lines(b"abcd\n", 4), vec![Ok("abcd".to_string())]);
        assert_eq!(
            lines(b"abcde\n", 4),
            vec![Err("a line longer than 4 bytes".to_string())]
        );
    }

    #[test]
    fn not_utf8_is_refused() {
        assert_eq!(
            lines(b"\xff\xfe\n", 64),
            vec![Err("a line that is not UTF-8".to_string())]
        );
    }

    /// A peer that sends without a newline: the reader stops at the bound, having buffered no
    /// more than the bound and one buffer.
    #[test]
    fn an_endless_line_stops_at_the_bound() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (mut tx, rx) = tokio::io::duplex(64 * 1024);
            let writer = tokio::spawn(async move {
                let chunk = [b'x'; 8192];
                let mut sent = 0usize;
                while tx.write_all(&chunk).await.is_ok() {
                    sent += chunk.len();
                    if sent > 64 * 1024 * 1024 {
                        break;
                    }
                }
                sent
            });
            let mut r = BufReader::new(rx);
            let err = read_line(&mut r, 1024 * 1024).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            drop(r);
            let sent = writer.await.unwrap();
            assert!(sent < 4 * 1024 * 1024, "the writer got {sent} bytes in");
        });
    }
}
