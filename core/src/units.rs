//! Units as a person writes them: `3MiB`, `64k`, `20s`, `400/s`, `120MiB/s`.
//!
//! Shared by the server's command line and the harness's scenario files, so a value means the
//! same thing wherever it is written.

use std::time::Duration;

/// A value that could not be read, with what was expected. Displays as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, got {value:?}")]
pub struct UnitError {
    pub value: String,
    pub expected: &'static str,
}

fn err(value: &str, expected: &'static str) -> UnitError {
    UnitError {
        value: value.to_string(),
        expected,
    }
}

/// Splits `12.5MiB` into (`12.5`, `MiB`).
fn split_number(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    (&s[..end], s[end..].trim())
}

const SIZE_EXPECTED: &str = "a size such as 65664, 64KiB, 3MiB or 1.5GB";

/// Parses a byte size. IEC suffixes (`KiB`, `MiB`, `GiB`) and the bare `K`, `M`, `G` are
/// powers of 1024; SI suffixes (`kB`, `MB`, `GB`) are powers of 1000.
pub fn parse_size(s: &str) -> Result<u64, UnitError> {
    let t = s.trim();
    let (num, suffix) = split_number(t);
    let mult: u64 = match suffix {
        "" | "B" | "b" => 1,
        "k" | "K" | "KiB" | "kiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "T" | "TiB" => 1 << 40,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        _ => return Err(err(s, SIZE_EXPECTED)),
    };
    let v: f64 = num.parse().map_err(|_| err(s, SIZE_EXPECTED))?;
    let bytes = v * mult as f64;
    // `u64::MAX as f64` is 2^64, one above u64::MAX: `>=`, or 2^64 saturated to u64::MAX
    // and a range ending there had a length that overflowed.
    if !bytes.is_finite() || bytes < 0.0 || bytes >= u64::MAX as f64 || bytes.fract() != 0.0 {
        return Err(err(s, SIZE_EXPECTED));
    }
    Ok(bytes as u64)
}

/// The largest hot file (`create_file`, the server's `--create-file`), and so where a range over
/// one ends: 64 GiB. A created file is written whole before the server listens, so a typo of
/// `3TiB` for `3MiB` would fill a disk first; every shipped scenario uses 32 MiB or less.
pub const MAX_FILE_SIZE: u64 = 64 << 30;

const FILE_SIZE_EXPECTED: &str = "a file size of at most 64GiB, such as 3MiB";

/// A size that is a file's: [`parse_size`], at most [`MAX_FILE_SIZE`].
pub fn parse_file_size(s: &str) -> Result<u64, UnitError> {
    match parse_size(s)? {
        b if b > MAX_FILE_SIZE => Err(err(s, FILE_SIZE_EXPECTED)),
        b => Ok(b),
    }
}

const DURATION_EXPECTED: &str = "a duration such as 250ms, 3s, 1.5m or 1h";

/// Parses a duration: `us`, `ms`, `s`, `m`, `h`. A bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let t = s.trim();
    let (num, suffix) = split_number(t);
    let secs_per: f64 = match suffix {
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "" | "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(err(s, DURATION_EXPECTED)),
    };
    let v: f64 = num.parse().map_err(|_| err(s, DURATION_EXPECTED))?;
    Duration::try_from_secs_f64(v * secs_per).map_err(|_| err(s, DURATION_EXPECTED))
}

const RATE_EXPECTED: &str = "a rate such as 400/s, 10k/s or 30/m";

/// Parses an event rate into events per second: `400/s`, `10k/s`, `30/m`, or a bare `400`.
pub fn parse_rate(s: &str) -> Result<f64, UnitError> {
    let t = s.trim();
    let (count, per) = match t.split_once('/') {
        Some((c, p)) => (c.trim(), p.trim()),
        None => (t, "s"),
    };
    let (num, suffix) = split_number(count);
    let mult = match suffix {
        "" => 1.0,
        "k" | "K" => 1e3,
        "M" => 1e6,
        _ => return Err(err(s, RATE_EXPECTED)),
    };
    let per_secs = match per {
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(err(s, RATE_EXPECTED)),
    };
    let v: f64 = num.parse().map_err(|_| err(s, RATE_EXPECTED))?;
    let r = v * mult / per_secs;
    if r.is_finite() && r >= 0.0 {
        Ok(r)
    } else {
        Err(err(s, RATE_EXPECTED))
    }
}

const BYTE_RATE_EXPECTED: &str = "a byte rate such as 120MiB/s or 1GB/s";

/// Parses a byte rate into bytes per second: `120MiB/s`, `1GB/s`.
pub fn parse_byte_rate(s: &str) -> Result<f64, UnitError> {
    let (size, per) = s
        .trim()
        .split_once('/')
        .ok_or_else(|| err(s, BYTE_RATE_EXPECTED))?;
    let bytes = parse_size(size).map_err(|_| err(s, BYTE_RATE_EXPECTED))?;
    let per_secs = match per.trim() {
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        _ => return Err(err(s, BYTE_RATE_EXPECTED)),
    };
    if bytes == 0 {
        return Err(err(s, BYTE_RATE_EXPECTED));
    }
    Ok(bytes as f64 / per_secs)
}

const BIT_RATE_EXPECTED: &str = "a link rate such as 1Gbit/s, 100Mbit/s or 120MiB/s";

/// Parses a link rate into bits per second: `1Gbit/s`, `100Mbit/s`, `2.5Gbit/s` (decimal
/// prefixes, as network links and `tc` count), or a byte rate such as `120MiB/s`.
pub fn parse_bit_rate(s: &str) -> Result<u64, UnitError> {
    let t = s.trim();
    let (count, per) = t.split_once('/').ok_or_else(|| err(s, BIT_RATE_EXPECTED))?;
    if per.trim() != "s" {
        return Err(err(s, BIT_RATE_EXPECTED));
    }
    let bits = match count.trim().strip_suffix("bit") {
        Some(n) => {
            let (num, prefix) = split_number(n.trim());
            let mult = match prefix {
                "" => 1e0,
                "k" | "K" => 1e3,
                "M" => 1e6,
                "G" => 1e9,
                _ => return Err(err(s, BIT_RATE_EXPECTED)),
            };
            let v: f64 = num.parse().map_err(|_| err(s, BIT_RATE_EXPECTED))?;
            v * mult
        }
        None => parse_byte_rate(t).map_err(|_| err(s, BIT_RATE_EXPECTED))? * 8.0,
    };
    if !bits.is_finite() || bits < 1.0 || bits > u64::MAX as f64 {
        return Err(err(s, BIT_RATE_EXPECTED));
    }
    Ok(bits.round() as u64)
}

const SIZE_RANGE_EXPECTED: &str = "a size range MIN-MAX such as 96-640 or 0-1MiB, MIN <= MAX";

/// Parses an inclusive size range `MIN-MAX`, each side a size.
pub fn parse_size_range(s: &str) -> Result<(u64, u64), UnitError> {
    let (a, b) = s
        .trim()
        .split_once('-')
        .ok_or_else(|| err(s, SIZE_RANGE_EXPECTED))?;
    let lo = parse_size(a).map_err(|_| err(s, SIZE_RANGE_EXPECTED))?;
    let hi = parse_size(b).map_err(|_| err(s, SIZE_RANGE_EXPECTED))?;
    if lo > hi {
        return Err(err(s, SIZE_RANGE_EXPECTED));
    }
    Ok((lo, hi))
}

/// Formats bytes for people: `1.5 MiB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65664"), Ok(65664));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("3MiB"), Ok(3 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size(" 8M "), Ok(8 << 20));
        for bad in ["", "MiB", "3 parsecs", "-1", "0.5", "1.2.3k", "1e9"] {
            let e = parse_size(bad).unwrap_err();
            assert_eq!(e.value, bad);
        }
    }

    /// Issue 28: 2^64 was read as u64::MAX (a range ending there overflowed its length).
    #[test]
    fn sizes_of_2_to_the_64_and_above_are_refused_and_files_are_bounded() {
        for bad in [
            "18446744073709551616",
            "18446744073709551615",
            "16777216TiB",
            "1e30",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_size("16777215TiB"), Ok(16777215 << 40));
        assert_eq!(parse_file_size("64GiB"), Ok(MAX_FILE_SIZE));
        let e = parse_file_size("3TiB").unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected a file size of at most 64GiB, such as 3MiB, got \"3TiB\""
        );
        assert!(parse_file_size("64.5GiB").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("100us"), Ok(Duration::from_micros(100)));
        assert!(parse_duration("3 fortnights").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("400/s"), Ok(400.0));
        assert_eq!(parse_rate("400"), Ok(400.0));
        assert_eq!(parse_rate("10k/s"), Ok(10_000.0));
        assert_eq!(parse_rate("30/m"), Ok(0.5));
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("10/fortnight").is_err());
        assert_eq!(parse_byte_rate("120MiB/s"), Ok(120.0 * 1048576.0));
        assert!(parse_byte_rate("120MiB").is_err());
        assert!(parse_byte_rate("0/s").is_err());
        assert_eq!(parse_bit_rate("1Gbit/s"), Ok(1_000_000_000));
        assert_eq!(parse_bit_rate("2.5Gbit/s"), Ok(2_500_000_000));
        assert_eq!(parse_bit_rate("100Mbit/s"), Ok(100_000_000));
        assert_eq!(parse_bit_rate("120MiB/s"), Ok(120 * 1048576 * 8));
        for bad in ["1Gbit", "1Gbps", "0bit/s", "1Tbit/s", "fast/s", "1Gbit/m"] {
            assert!(parse_bit_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn size_ranges() {
        assert_eq!(parse_size_range("96-640"), Ok((96, 640)));
        assert_eq!(parse_size_range("0-1MiB"), Ok((0, 1 << 20)));
        assert!(parse_size_range("640-96").is_err());
        assert!(parse_size_range("96").is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(format_size(512), "512 B");
        assert_eq!(format_size(3 << 20), "3.0 MiB");
    }
}
