//! Reading a raw HTTP/1.1 response strictly, for the request fuzz: the status line, token
//! header names, CRLF line ends and a body of exactly `Content-Length` bytes.

use std::io::{BufRead, ErrorKind, Read};

/// A response as read off the wire.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body[..self.body.len().min(300)]).into_owned()
    }
}

#[derive(Debug)]
#[allow(dead_code)] // the messages are read through Debug, in failure reports
pub enum ReadError {
    /// Closed (or reset) before the first byte of a response.
    Closed,
    /// Neither an answer nor a close within the read timeout.
    Timeout(String),
    /// Not a valid HTTP/1.1 response.
    Invalid(String),
    /// A valid head whose body the connection ended early.
    ShortBody(u16),
}

fn io_error(e: std::io::Error, at_start: bool) -> ReadError {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => ReadError::Timeout(e.to_string()),
        ErrorKind::ConnectionReset if at_start => ReadError::Closed,
        _ => ReadError::Invalid(format!("reading: {e}")),
    }
}

/// One CRLF-terminated line of at most 8 KiB.
fn read_line(r: &mut impl BufRead, at_start: bool) -> Result<String, ReadError> {
    let mut line = Vec::new();
    let n = r
        .by_ref()
        .take(8 << 10)
        .read_until(b'\n', &mut line)
        .map_err(|e| io_error(e, at_start))?;
    if n == 0 && at_start {
        return Err(ReadError::Closed);
    }
    if !line.ends_with(b"\r\n") {
        return Err(ReadError::Invalid(format!(
            "line not ended by CRLF: {:?}",
            String::from_utf8_lossy(&line)
        )));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|e| ReadError::Invalid(format!("non-UTF-8 line: {e}")))
}

/// One response: `HTTP/1.1 DDD reason` (or `HTTP/1.0`, if `http10`: hyper answers an HTTP/1.0
/// request in kind), header lines with token names, and a body of exactly `Content-Length`
/// bytes (none for `head`, 1xx, 204, 304). Interim 1xx answers are skipped.
pub fn read_response(r: &mut impl BufRead, head: bool, http10: bool) -> Result<Resp, ReadError> {
    loop {
        let line = read_line(r, true)?;
        let bad = || ReadError::Invalid(format!("bad status line {line:?}"));
        let rest = match line.strip_prefix("HTTP/1.0 ") {
            Some(rest) if http10 => rest,
            _ => line.strip_prefix("HTTP/1.1 ").ok_or_else(bad)?,
        };
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.len() != 3 || !code.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let status: u16 = code.parse().map_err(|_| bad())?;
        if !(100..=599).contains(&status) || reason.chars().any(|c| c.is_control() && c != '\t') {
            return Err(bad());
        }
        let mut headers = Vec::new();
        loop {
            let line = read_line(r, false)?;
            if line.is_empty() {
                break;
            }
            let (k, v) = line
                .split_once(':')
                .ok_or_else(|| ReadError::Invalid(format!("bad header line {line:?}")))?;
            let token = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
            if k.is_empty() || !k.bytes().all(token) {
                return Err(ReadError::Invalid(format!("bad header name {k:?}")));
            }
            headers.push((k.to_string(), v.trim().to_string()));
        }
        if (100..200).contains(&status) {
            continue;
        }
        let mut resp = Resp {
            status,
            headers,
            body: Vec::new(),
        };
        if head || status == 204 || status == 304 {
            return Ok(resp);
        }
        let len: usize = resp
            .header("content-length")
            .ok_or_else(|| ReadError::Invalid(format!("{status} without Content-Length")))?
            .parse()
            .map_err(|e| ReadError::Invalid(format!("bad Content-Length: {e}")))?;
        // In a mangled stream a HEAD answer may be followed directly by the next response.
        if len > 0 && r.fill_buf().is_ok_and(|b| b.starts_with(b"HTTP/1.")) {
            return Ok(resp);
        }
        resp.body = vec![0; len];
        if let Err(e) = r.read_exact(&mut resp.body) {
            return match e.kind() {
                ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset => {
                    Err(ReadError::ShortBody(status))
                }
                _ => Err(io_error(e, false)),
            };
        }
        return Ok(resp);
    }
}
