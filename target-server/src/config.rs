//! The command line: where to listen, which file, the seed and mallopt, and the workload
//! settings of [`ServerConfig`] (shared with the harness), checked by [`Cli::validate`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::alloc::MalloptParam;
use crate::units;
pub use allocstorm_core::server::{BodyMode, IoMode, ServerConfig};

/// allocstorm's toy data server: serves byte ranges of one hot file, allocating a fresh buffer
/// per request and interleaving long-lived block metadata, like the data server of incident 000.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    /// Address to listen on. The first line on stdout is `listening on IP:PORT`.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// The hot file to serve.
    #[arg(
        long,
        conflicts_with = "create_file",
        required_unless_present = "create_file"
    )]
    pub file: Option<PathBuf>,

    /// Write a hot file of this size (e.g. 3MiB) with seeded random bytes into an unnamed
    /// temporary file: nothing is left behind, even by a server killed with SIGKILL.
    #[arg(long, value_parser = size)]
    pub create_file: Option<u64>,

    /// Seed for the created file's bytes and the metadata sizes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// The workload settings: one list shared with the harness's scenario files.
    #[command(flatten)]
    pub server: ServerConfig,

    /// glibc mallopt, NAME=VALUE (mmap_threshold, arena_max, trim_threshold, top_pad);
    /// repeatable; applied before any thread starts.
    #[arg(long, value_parser = mallopt)]
    pub mallopt: Vec<(MalloptParam, u64)>,
}

fn size(s: &str) -> Result<u64, String> {
    units::parse_file_size(s).map_err(|e| e.to_string())
}
fn mallopt(s: &str) -> Result<(MalloptParam, u64), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got {s:?}"))?;
    let p = MalloptParam::from_name(name.trim())
        .ok_or_else(|| format!("unknown mallopt {name:?}: expected {}", MalloptParam::NAMES))?;
    let v = units::parse_size(value).map_err(|e| format!("{name}: {e}"))?;
    Ok((p, v))
}

impl Cli {
    /// Checks what clap cannot: values that parse but make no sense together.
    pub fn validate(&self) -> Result<(), String> {
        self.server.validate().map_err(|e| e.as_flags())
    }

    /// The server settings as recorded in `/stats`.
    pub fn settings_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.server).expect("settings serialize");
        v["listen"] = self.listen.to_string().into();
        v["seed"] = self.seed.into();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::Parser;

    /// Issue 28: `--create-file` had no upper bound (2^64 was read as u64::MAX).
    #[test]
    fn create_file_is_bounded() {
        for bad in ["3TiB", "18446744073709551616"] {
            let e = Cli::try_parse_from(["target-server", "--create-file", bad]).unwrap_err();
            assert!(e.to_string().contains(bad), "{bad}: {e}");
        }
        let e = Cli::try_parse_from(["target-server", "--create-file", "3TiB"]).unwrap_err();
        assert!(e.to_string().contains("at most 64GiB"), "{e}");
        let ok = Cli::try_parse_from(["target-server", "--create-file", "64GiB"]).unwrap();
        assert_eq!(ok.create_file, Some(64 << 30));
    }
}
