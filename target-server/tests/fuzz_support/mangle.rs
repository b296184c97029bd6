//! Mangled requests for the request fuzz: a well-formed request truncated, its line breaks
//! dropped or bare, bytes inserted or overwritten, huge heads, other versions and methods,
//! conflicting framing headers, garbage ([`Mutation`], [`mangle`]).

use proptest::prelude::*;
use proptest::sample::Index;

/// One way to break a request.
#[derive(Debug, Clone)]
pub enum Mutation {
    Truncate(Index),
    BareLf,
    DropCrlf(Index),
    LoneCr(Index),
    Insert(Index, Vec<u8>),
    Overwrite(Index, u8),
    BigHeader(usize),
    ManyHeaders(usize),
    LongTarget(usize),
    Version(&'static str),
    Method(Vec<u8>),
    Header(&'static str),
    Leading(&'static str),
    Garbage(Vec<u8>),
    H2Preface,
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    use Mutation::*;
    prop_oneof![
        3 => any::<Index>().prop_map(Truncate),
        1 => Just(BareLf),
        2 => any::<Index>().prop_map(DropCrlf),
        1 => any::<Index>().prop_map(LoneCr),
        2 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Insert(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Overwrite(i, b)),
        1 => prop::sample::select(vec![8 << 10, 60 << 10, 65 << 10, 100 << 10, 1 << 20])
            .prop_map(BigHeader),
        1 => (90usize..=300).prop_map(ManyHeaders),
        1 => prop::sample::select(vec![8 << 10, 70 << 10, 100 << 10]).prop_map(LongTarget),
        1 => prop::sample::select(vec![
            "HTTP/1.0", "HTTP/2.0", "HTTP/0.9", "HTTP/1.1x", "http/1.1", "HTTP/9.9", "",
            "HTTP/1.12", "HTTP/1.1 HTTP/1.1", "HTTP/1",
        ])
        .prop_map(Version),
        1 => prop_oneof![
            Just(b"CONNECT".to_vec()),
            Just(Vec::new()),
            Just(b"G E T".to_vec()),
            Just("GËT".as_bytes().to_vec()),
            prop::collection::vec(any::<u8>(), 1..12),
        ]
        .prop_map(Method),
        2 => prop::sample::select(vec![
            "Content-Length: -1",
            "Content-Length: 5\r\nContent-Length: 6",
            "Content-Length: 99999999999999999999999",
            "Content-Length: 1e3",
            "Content-Length: 0x10",
            "Transfer-Encoding: chunked",
            "Transfer-Encoding: chunked\r\nContent-Length: 3",
            "Transfer-Encoding: gzip, chunked",
            "Transfer-Encoding: gzip",
            "Transfer-Encoding: chunked, identity",
            "Expect: 100-continue",
            "Expect: 200-ok",
            "Connection: upgrade\r\nUpgrade: h2c",
            "Host: a\r\nHost: b",
            "Range: bytes=0-1\r\nRange: bytes=5-6",
            "Range: bytes=0-1\r\n\tbytes=5-6",
            "X-Folded: a\r\n b",
            "X-Nul: a\0b",
            "Bad Name: x",
            ": no name",
            "X-No-Colon",
            "Range:\u{00ff}bytes=0-1",
        ])
        .prop_map(Header),
        1 => prop::sample::select(vec!["\r\n", "\r\n\r\n", "\n", " ", "\t", "\0"]).prop_map(Leading),
        1 => prop::collection::vec(any::<u8>(), 0..256).prop_map(Garbage),
        1 => Just(H2Preface),
    ]
}

/// Where the request line ends (after its line break, if any).
fn first_line_end(b: &[u8]) -> usize {
    b.iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |i| i + 1)
}

pub fn mangle(mut b: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    fn crlf_positions(b: &[u8]) -> Vec<usize> {
        b.windows(2)
            .enumerate()
            .filter(|(_, w)| w == b"\r\n")
            .map(|(i, _)| i)
            .collect()
    }
    for m in muts {
        match m {
            Mutation::Truncate(i) => b.truncate(i.index(b.len() + 1)),
            Mutation::BareLf => {
                let mut out = Vec::with_capacity(b.len());
                let mut it = b.iter().peekable();
                while let Some(&c) = it.next() {
                    if c == b'\r' && it.peek() == Some(&&b'\n') {
                        continue;
                    }
                    out.push(c);
                }
                b = out;
            }
            Mutation::DropCrlf(i) | Mutation::LoneCr(i) => {
                let at = crlf_positions(&b);
                if !at.is_empty() {
                    let p = at[i.index(at.len())];
                    let with: &[u8] = if matches!(m, Mutation::DropCrlf(_)) {
                        b""
                    } else {
                        b"\r"
                    };
                    b.splice(p..p + 2, with.iter().copied());
                }
            }
            Mutation::Insert(i, bytes) => {
                let p = i.index(b.len() + 1);
                b.splice(p..p, bytes.iter().copied());
            }
            Mutation::Overwrite(i, byte) => {
                if !b.is_empty() {
                    let p = i.index(b.len());
                    b[p] = *byte;
                }
            }
            Mutation::BigHeader(n) => {
                let mut line = b"X-Big: ".to_vec();
                line.resize(line.len() + n, b'a');
                line.extend_from_slice(b"\r\n");
                let p = first_line_end(&b);
                b.splice(p..p, line);
            }
            Mutation::ManyHeaders(n) => {
                let lines: Vec<u8> = (0..*n)
                    .flat_map(|i| format!("X-N{i}: v\r\n").into_bytes())
                    .collect();
                let p = first_line_end(&b);
                b.splice(p..p, lines);
            }
            Mutation::LongTarget(_) | Mutation::Version(_) | Mutation::Method(_) => {
                let end = first_line_end(&b);
                let line = String::from_utf8_lossy(&b[..end]).into_owned();
                let eol = if line.ends_with("\r\n") {
                    "\r\n"
                } else if line.ends_with('\n') {
                    "\n"
                } else {
                    ""
                };
                let mut parts: Vec<Vec<u8>> = line
                    .trim_end_matches(['\r', '\n'])
                    .splitn(3, ' ')
                    .map(|s| s.as_bytes().to_vec())
                    .collect();
                parts.resize(3, Vec::new());
                match m {
                    Mutation::LongTarget(n) => {
                        let mut t = b"/file/hot?".to_vec();
                        t.resize(t.len() + n, b'a');
                        parts[1] = t;
                    }
                    Mutation::Version(v) => parts[2] = v.as_bytes().to_vec(),
                    Mutation::Method(meth) => parts[0] = meth.clone(),
                    _ => unreachable!(),
                }
                let mut new = parts.join(&b' ');
                new.extend_from_slice(eol.as_bytes());
                b.splice(..end, new);
            }
            Mutation::Header(h) => {
                let mut line = h.as_bytes().to_vec();
                line.extend_from_slice(b"\r\n");
                let p = first_line_end(&b);
                b.splice(p..p, line);
            }
            Mutation::Leading(s) => {
                b.splice(0..0, s.bytes());
            }
            Mutation::Garbage(g) => b = g.clone(),
            Mutation::H2Preface => b = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
        }
    }
    b
}
