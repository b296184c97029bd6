//! A deliberately small HTTP/1.1 client on a blocking socket: it writes exactly the request the
//! test asks for (any `Range` header, malformed ones included) and reads responses framed by
//! `Content-Length`, so a connection can be reused to show the server keeps serving on it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// No single exchange in the suite should take longer; a hung server fails the test instead of
/// hanging it.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.text()))
    }
}

/// One keep-alive connection.
pub struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        Self {
            reader: BufReader::new(stream),
        }
    }

    /// Sends `METHOD target` with `headers` and reads the whole response.
    pub fn send(&mut self, method: &str, target: &str, headers: &[(&str, &str)]) -> Response {
        self.send_body(method, target, headers, &[])
    }

    /// The same with a body (and its `Content-Length`) when `body` is not empty.
    pub fn send_body(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let mut req = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.reader
            .get_mut()
            .write_all(&bytes)
            .unwrap_or_else(|e| panic!("send {method} {target}: {e}"));
        self.read_response(method == "HEAD")
            .unwrap_or_else(|e| panic!("{method} {target} {headers:?}: {e}"))
    }

    fn read_response(&mut self, head: bool) -> Result<Response, String> {
        let line = self.line()?;
        let mut parts = line.splitn(3, ' ');
        let (version, status) = (parts.next(), parts.next());
        if version != Some("HTTP/1.1") {
            return Err(format!("bad status line {line:?}"));
        }
        let status: u16 = status
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let mut headers = Vec::new();
        loop {
            let line = self.line()?;
            if line.is_empty() {
                break;
            }
            let (k, v) = line
                .split_once(':')
                .ok_or_else(|| format!("bad header line {line:?}"))?;
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let mut resp = Response {
            status,
            headers,
            body: Vec::new(),
        };
        // `204 No Content` has neither a body nor its length.
        if !head && status != 204 {
            let len: usize = resp
                .header("content-length")
                .ok_or("response has no Content-Length")?
                .parse()
                .map_err(|e| format!("bad Content-Length: {e}"))?;
            resp.body = vec![0; len];
            self.reader
                .read_exact(&mut resp.body)
                .map_err(|e| format!("reading a {len}-byte body: {e}"))?;
        }
        Ok(resp)
    }

    fn line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err("connection closed before a full response".into()),
            Ok(_) => Ok(line.trim_end_matches(['\r', '\n']).to_string()),
            Err(e) => Err(format!("reading the response: {e}")),
        }
    }
}

/// `GET target` on a fresh connection that the server closes afterwards.
pub fn get(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> Response {
    let mut all = headers.to_vec();
    all.push(("Connection", "close"));
    Conn::open(addr).send("GET", target, &all)
}

/// `GET target` with `Range: range` on a fresh connection.
pub fn get_range(addr: SocketAddr, range: &str) -> Response {
    get(addr, "/file/hot", &[("Range", range)])
}
