//! HTTP byte ranges (RFC 9110 §14): the one header this server reads.
//!
//! Only single ranges are served; a multi-range request is refused rather than answered with a
//! `multipart/byteranges` body, because the point of the server is one fresh buffer per range.

/// A satisfiable range: `start..start+len` of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub len: u64,
}

impl ByteRange {
    /// The last byte's offset (inclusive), as `Content-Range` writes it.
    pub fn end_inclusive(&self) -> u64 {
        self.start + self.len - 1
    }
}

/// Why a range was not served; each maps to one status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// `400`: the header does not parse.
    #[error("malformed range {0:?}: expected bytes=A-B, bytes=A- or bytes=-N")]
    Malformed(String),
    /// `400`: several ranges in one request.
    #[error("multi-range requests are not supported: {0:?}")]
    MultiRange(String),
    /// `416`: no byte of the range is in the file.
    #[error("range {0:?} is not satisfiable")]
    Unsatisfiable(String),
    /// `416`: the range is longer than the server will buffer.
    #[error("range {spec:?} is {len} bytes, more than the {max} bytes this server serves at once")]
    TooLong { spec: String, len: u64, max: u64 },
}

/// Parses `bytes=A-B`, `bytes=A-` or `bytes=-N` against a file of `size` bytes.
pub fn parse_header(value: &str, size: u64, max_len: u64) -> Result<ByteRange, RangeError> {
    let v = value.trim();
    let spec = v
        .strip_prefix("bytes=")
        .ok_or_else(|| RangeError::Malformed(v.to_string()))?;
    if spec.contains(',') {
        return Err(RangeError::MultiRange(v.to_string()));
    }
    parse_spec(spec, v, size, max_len)
}

/// Parses the query form `A-B` (also `A-` and `-N`), for tools that cannot set headers.
pub fn parse_query(spec: &str, size: u64, max_len: u64) -> Result<ByteRange, RangeError> {
    if spec.contains(',') {
        return Err(RangeError::MultiRange(spec.to_string()));
    }
    parse_spec(spec.trim(), spec, size, max_len)
}

fn parse_spec(spec: &str, whole: &str, size: u64, max_len: u64) -> Result<ByteRange, RangeError> {
    let malformed = || RangeError::Malformed(whole.to_string());
    let (a, b) = spec.split_once('-').ok_or_else(malformed)?;
    let num = |s: &str| -> Result<u64, RangeError> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(malformed());
        }
        s.parse().map_err(|_| malformed())
    };
    let unsatisfiable = || RangeError::Unsatisfiable(whole.to_string());
    let range = match (a.is_empty(), b.is_empty()) {
        (true, true) => return Err(malformed()),
        // bytes=-N: the last N bytes.
        (true, false) => {
            let n = num(b)?;
            if n == 0 || size == 0 {
                return Err(unsatisfiable());
            }
            let len = n.min(size);
            ByteRange {
                start: size - len,
                len,
            }
        }
        // bytes=A-: from A to the end.
        (false, true) => {
            let start = num(a)?;
            if start >= size {
                return Err(unsatisfiable());
            }
            ByteRange {
                start,
                len: size - start,
            }
        }
        (false, false) => {
            let start = num(a)?;
            let end = num(b)?;
            if end < start {
                return Err(malformed());
            }
            if start >= size {
                return Err(unsatisfiable());
            }
            let end = end.min(size - 1);
            ByteRange {
                start,
                len: end - start + 1,
            }
        }
    };
    if range.len > max_len {
        return Err(RangeError::TooLong {
            spec: whole.to_string(),
            len: range.len,
            max: max_len,
        });
    }
    Ok(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u64 = 8 << 20;

    fn r(start: u64, len: u64) -> Result<ByteRange, RangeError> {
        Ok(ByteRange { start, len })
    }

    #[test]
    fn three_forms() {
        assert_eq!(parse_header("bytes=0-1023", 4096, MAX), r(0, 1024));
        assert_eq!(parse_header("bytes=4000-", 4096, MAX), r(4000, 96));
        assert_eq!(parse_header("bytes=-100", 4096, MAX), r(3996, 100));
        assert_eq!(parse_query("10-19", 4096, MAX), r(10, 10));
    }

    #[test]
    fn clamps_to_the_file() {
        assert_eq!(parse_header("bytes=4000-9999", 4096, MAX), r(4000, 96));
        assert_eq!(parse_header("bytes=-9999", 4096, MAX), r(0, 4096));
    }

    #[test]
    fn refusals() {
        use RangeError::*;
        let size = 4096;
        for bad in [
            "items=0-1",
            "bytes=",
            "bytes=-",
            "bytes=a-b",
            "bytes=5-1",
            "bytes=+1-2",
            "bytes=1",
        ] {
            assert!(
                matches!(parse_header(bad, size, MAX), Err(Malformed(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_header("bytes=0-1,5-6", size, MAX),
            Err(MultiRange(_))
        ));
        assert!(matches!(
            parse_header("bytes=4096-", size, MAX),
            Err(Unsatisfiable(_))
        ));
        assert!(matches!(
            parse_header("bytes=-0", size, MAX),
            Err(Unsatisfiable(_))
        ));
        assert!(matches!(
            parse_header("bytes=0-99", 0, MAX),
            Err(Unsatisfiable(_))
        ));
        assert!(matches!(
            parse_header("bytes=0-", size, 100),
            Err(TooLong { len: 4096, .. })
        ));
        assert!(matches!(
            parse_header("bytes=0-99999999999999999999999", size, MAX),
            Err(Malformed(_))
        ));
    }
}
