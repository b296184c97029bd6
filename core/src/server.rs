//! The toy server's settings, written once.
//!
//! [`ServerConfig`] is at the same time
//! - the server's command line: `target-server`'s clap `Cli` flattens it (`--queue-timeout 5s`);
//! - the scenario's `[server]` table: the harness reads each key with the same value parser
//!   ([`ServerConfig::from_settings`]), so `queue_timeout = "5s"` means what the flag means;
//! - what a `[sweep]` may vary ([`ServerConfig::keys`]);
//! - the settings the server reports in `/stats` (its `Serialize`, with the unit in the key:
//!   `queue_timeout_ms`);
//! - the checks of values that parse but make no sense together ([`ServerConfig::validate`]),
//!   run by the server at start and by the harness when it loads a scenario.
//!
//! A new server setting is one field here, with its doc comment, `#[arg]` and default.

use std::sync::OnceLock;
use std::time::Duration;

use clap::{Args, Command, FromArgMatches, ValueEnum};
use serde::{Serialize, Serializer};

use crate::units;

/// Where `pread` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IoMode {
    /// On the tokio worker thread that serves the request.
    Worker,
    /// On tokio's blocking pool: more threads, so more glibc arenas.
    Blocking,
    /// On a fixed pool of `--io-threads` threads, dealt round-robin: each thread's first job is
    /// its first malloc, and so a new glibc arena (incident 002).
    Pool,
}

/// How a response body is produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyMode {
    /// The whole range is read into one buffer before the answer starts.
    Buffered,
    /// The range is read one `--chunk` at a time as the body is sent (incident 004's fix).
    Streaming,
}

/// Most `--io-threads`: enough for incident 002's 128 and far beyond, short of a typo's
/// thousands of stacks.
pub const MAX_IO_THREADS: usize = 4096;

/// Most `--byte-pool` buffers: the pool's slots are reserved up front.
pub const MAX_BYTE_POOL: usize = 1 << 20;

/// Largest block-metadata record: above this it is not metadata.
pub const MAX_META_SIZE: u64 = 1 << 20;

/// The toy server's workload settings (everything but where it listens, which file it serves,
/// its seed and glibc's mallopt, which the harness sets itself).
#[derive(Debug, Clone, PartialEq, Args, Serialize)]
pub struct ServerConfig {
    /// Tokio worker threads.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,

    /// Where pread runs: on the serving worker thread, on tokio's blocking pool, or on a fixed
    /// pool of --io-threads threads dealt jobs round-robin.
    #[arg(long, value_enum, default_value_t = IoMode::Worker)]
    pub io: IoMode,

    /// Most threads in tokio's blocking pool (with --io blocking).
    #[arg(long, default_value_t = 512)]
    pub blocking_threads: usize,

    /// Threads in the fixed I/O pool (with --io pool), 1 to 4096.
    #[arg(long, default_value_t = 128)]
    pub io_threads: usize,

    /// Whether a body is read whole before the answer starts, or one --chunk at a time as it
    /// is sent.
    #[arg(long, value_enum, default_value_t = BodyMode::Buffered)]
    pub body: BodyMode,

    /// Take this many objects from an RPC resource pool per range request and hold them until
    /// the body is done; the pool never gives memory back (0: no pool).
    #[arg(long, default_value_t = 0)]
    pub rpc_pool_objects: usize,

    /// Size of each RPC pool object.
    #[arg(long, default_value = "64KiB", value_parser = size)]
    #[serde(rename = "rpc_object_bytes")]
    pub rpc_object_size: u64,

    /// Read every range into buffers from a watermark byte pool of at most this many idle
    /// buffers, as many as the range spans (0: no pool).
    #[arg(long, default_value_t = 0)]
    #[serde(rename = "byte_pool_buffers")]
    pub byte_pool: usize,

    /// Size of each byte-pool buffer.
    #[arg(long, default_value = "1MiB", value_parser = size)]
    #[serde(rename = "byte_pool_buffer_bytes")]
    pub byte_pool_buffer: u64,

    /// Below this fraction of --byte-pool idle, one background refill starts.
    #[arg(long, default_value_t = 0.3, allow_negative_numbers = true)]
    pub byte_pool_low: f64,

    /// A refill allocates until this fraction of --byte-pool is idle; the pool is pre-filled
    /// to it at start.
    #[arg(long, default_value_t = 0.6, allow_negative_numbers = true)]
    pub byte_pool_high: f64,

    /// Allocate a long-lived block-metadata record every N requests (0: never).
    #[arg(long, default_value_t = 16)]
    pub meta_every: u64,

    /// Size of each metadata record, MIN-MAX bytes.
    #[arg(long, default_value = "96-640", value_parser = size_range)]
    pub meta_size: (u64, u64),

    /// Delete this many metadata records per second (e.g. 10/s; 0: keep them forever).
    #[arg(long, default_value = "0", value_parser = rate)]
    #[serde(rename = "meta_churn_per_s")]
    pub meta_churn: f64,

    /// A test mode, not a workload: leak this many bytes per range answered (e.g. 64KiB), every
    /// page written and never freed. Memory that grows with every load, where an allocator's
    /// retention plateaus: what the harness's cycle verdict must call `growth`. 0: none.
    #[arg(long, default_value = "0", value_parser = size)]
    #[serde(rename = "leak_bytes_per_request")]
    pub leak: u64,

    /// A test mode, not a workload: spend this much CPU (the serving thread's own clock) per
    /// range answered (e.g. 2ms). A server made slower by a known amount, for the cost
    /// measurement to find (`[cost]`, docs/cost.md).
    #[arg(long, value_parser = duration)]
    #[serde(rename = "burn_ms_per_request", serialize_with = "opt_ms")]
    pub burn: Option<Duration>,

    /// Send response bodies through one token bucket of this rate shared by all connections
    /// (e.g. 120MiB/s): the server's NIC. Buffers queue in memory behind it.
    #[arg(long, value_parser = byte_rate)]
    #[serde(rename = "egress_limit_bytes_per_s")]
    pub egress_limit: Option<f64>,

    /// Keep each buffer this long before sending it (e.g. 100ms).
    #[arg(long, value_parser = duration)]
    #[serde(rename = "hold_ms", serialize_with = "opt_ms")]
    pub hold: Option<Duration>,

    /// Body chunk size used with --egress-limit and --body streaming.
    #[arg(long, default_value = "64KiB", value_parser = size)]
    #[serde(rename = "chunk_bytes")]
    pub chunk: u64,

    /// Most requests served at once (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub max_inflight: usize,

    /// A request that waits longer than this for a slot gets 503 with Retry-After.
    #[arg(long, default_value = "5s", value_parser = duration)]
    #[serde(rename = "queue_timeout_ms", serialize_with = "ms")]
    pub queue_timeout: Duration,

    /// Longest range served; longer ranges get 416.
    #[arg(long, default_value = "8MiB", value_parser = size)]
    #[serde(rename = "max_range_bytes")]
    pub max_range: u64,

    /// Bytes of written `/files/{key}` bodies kept (a request mix's PUTs and POSTs); past it the
    /// oldest are evicted. Write bodies longer than --max-range get 413.
    #[arg(long, default_value = "256MiB", value_parser = size)]
    #[serde(rename = "max_stored_bytes")]
    pub max_stored: u64,

    /// A connection that has not sent its request headers within this time is closed.
    #[arg(long, default_value = "10s", value_parser = duration)]
    #[serde(rename = "header_timeout_ms", serialize_with = "ms")]
    pub header_timeout: Duration,

    /// How long in-flight requests may finish after SIGINT/SIGTERM.
    #[arg(long, default_value = "2s", value_parser = duration)]
    #[serde(rename = "grace_ms", serialize_with = "ms")]
    pub grace: Duration,
}

fn size(s: &str) -> Result<u64, String> {
    units::parse_size(s).map_err(|e| e.to_string())
}
fn size_range(s: &str) -> Result<(u64, u64), String> {
    units::parse_size_range(s).map_err(|e| e.to_string())
}
fn rate(s: &str) -> Result<f64, String> {
    units::parse_rate(s).map_err(|e| e.to_string())
}
fn byte_rate(s: &str) -> Result<f64, String> {
    units::parse_byte_rate(s).map_err(|e| e.to_string())
}
fn duration(s: &str) -> Result<Duration, String> {
    units::parse_duration(s).map_err(|e| e.to_string())
}
fn ms<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1e3)
}
fn opt_ms<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ms(d, s),
        None => s.serialize_none(),
    }
}

/// A setting the scenario names that the server does not have, or a value its parser refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct SettingError {
    /// The key as written (`queue_timeout`).
    pub key: String,
    /// What was expected, and what was given, in one line.
    pub message: String,
}

/// Values that parse but make no sense (together). Says which settings and values, in either
/// spelling: flags for the server's own error (`--io-threads 0: expected 1 to 4096 threads`),
/// keys for the scenario's.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    /// The setting to blame: the last of `got`.
    pub key: &'static str,
    /// The settings involved and their values as given.
    pub got: Vec<(&'static str, String)>,
    /// What was expected, in the keys' names (`expected 1 to 4096 threads`).
    pub expected: String,
}

impl Invalid {
    fn new(got: Vec<(&'static str, String)>, expected: impl Into<String>) -> Invalid {
        Invalid {
            key: got.last().map(|g| g.0).unwrap_or(""),
            got,
            expected: expected.into(),
        }
    }

    /// `--byte-pool-low 0.7 --byte-pool-high 0.6: expected …`: the server's one line.
    pub fn as_flags(&self) -> String {
        let got: Vec<String> = self
            .got
            .iter()
            .map(|(k, v)| format!("{} {v}", flag(k)))
            .collect();
        format!("{}: {}", got.join(" "), self.expected)
    }

    /// `expected …, got byte_pool_low = 0.7, byte_pool_high = 0.6`: the scenario's message
    /// for the field [`Invalid::key`].
    pub fn as_keys(&self) -> String {
        let got: Vec<String> = self.got.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        format!("{}, got {}", self.expected, got.join(", "))
    }
}

/// `queue_timeout` → `--queue-timeout`.
pub fn flag(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

fn command() -> &'static Command {
    static CMD: OnceLock<Command> = OnceLock::new();
    CMD.get_or_init(|| {
        ServerConfig::augment_args(Command::new("target-server").no_binary_name(true))
    })
}

fn choice_name<T: ValueEnum>(v: &T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

impl Default for ServerConfig {
    /// The server's defaults: what it runs with when no flag is given.
    fn default() -> ServerConfig {
        let m = command()
            .clone()
            .try_get_matches_from(Vec::<String>::new())
            .expect("the server's defaults parse");
        ServerConfig::from_arg_matches(&m).expect("the server's defaults parse")
    }
}

impl ServerConfig {
    /// Every setting's key (`workers`, `io`, …, `grace`), in the order of the server's `--help`:
    /// the scenario's `[server]` keys and what a sweep may vary.
    pub fn keys() -> Vec<&'static str> {
        command()
            .get_arguments()
            .map(|a| a.get_id().as_str())
            .filter(|id| *id != "help")
            .collect()
    }

    /// The settings from `(key, value)` pairs as a scenario writes them (`("queue_timeout",
    /// "5s")`), each read by the server's own parser for that flag; the rest are the server's
    /// defaults. Errors name the key and say what was expected.
    pub fn from_settings<K: AsRef<str>, V: AsRef<str>>(
        pairs: &[(K, V)],
    ) -> Result<ServerConfig, SettingError> {
        let cmd = command();
        let mut argv = Vec::new();
        for (key, value) in pairs {
            let (key, value) = (key.as_ref(), value.as_ref());
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_id() == key && key != "help")
                .ok_or_else(|| SettingError {
                    key: key.to_string(),
                    message: format!(
                        "not a setting of the toy server: expected one of {}",
                        ServerConfig::keys().join(", ")
                    ),
                })?;
            // `--key=value`, so that a value such as `-1` is read as a value, not a flag.
            let one = format!("{}={value}", flag(key));
            if let Err(e) = cmd.clone().try_get_matches_from([&one]) {
                return Err(SettingError {
                    key: key.to_string(),
                    message: value_error(arg, value, &e),
                });
            }
            argv.push(one);
        }
        let bad = |e: clap::Error| SettingError {
            key: pairs
                .last()
                .map(|p| p.0.as_ref().to_string())
                .unwrap_or_default(),
            message: e
                .to_string()
                .lines()
                .next()
                .unwrap_or("invalid")
                .to_string(),
        };
        let m = cmd.clone().try_get_matches_from(argv).map_err(bad)?;
        ServerConfig::from_arg_matches(&m).map_err(bad)
    }

    /// Checks what a value parser cannot: values that parse but make no sense (together).
    pub fn validate(&self) -> Result<(), Invalid> {
        let one =
            |k: &'static str, v: String, expected: &str| Err(Invalid::new(vec![(k, v)], expected));
        if self.workers == 0 {
            return one("workers", "0".into(), "expected at least 1 worker");
        }
        if self.blocking_threads == 0 {
            return one("blocking_threads", "0".into(), "expected at least 1 thread");
        }
        if !(1..=MAX_IO_THREADS).contains(&self.io_threads) {
            return one(
                "io_threads",
                self.io_threads.to_string(),
                &format!("expected 1 to {MAX_IO_THREADS} threads"),
            );
        }
        if let Some(b) = self.burn.filter(|b| *b > Duration::from_secs(1)) {
            return one(
                "burn",
                format!("{}ms", b.as_millis()),
                "expected at most 1s of CPU per request",
            );
        }
        for (key, v) in [
            ("rpc_object_size", self.rpc_object_size),
            ("byte_pool_buffer", self.byte_pool_buffer),
            ("chunk", self.chunk),
            ("max_range", self.max_range),
        ] {
            if v == 0 {
                return one(key, "0".into(), "expected a positive size, at least 1 byte");
            }
        }
        if self.byte_pool > MAX_BYTE_POOL {
            return one(
                "byte_pool",
                self.byte_pool.to_string(),
                &format!("expected at most {MAX_BYTE_POOL} buffers"),
            );
        }
        let (low, high) = (self.byte_pool_low, self.byte_pool_high);
        // Written so that NaN fails too.
        if !(0.0 <= low && low < high && high <= 1.0) {
            return Err(Invalid::new(
                vec![
                    ("byte_pool_low", low.to_string()),
                    ("byte_pool_high", high.to_string()),
                ],
                "expected 0 <= byte_pool_low < byte_pool_high <= 1",
            ));
        }
        if self.byte_pool > 0 && self.body == BodyMode::Streaming {
            return Err(Invalid::new(
                vec![
                    ("byte_pool", self.byte_pool.to_string()),
                    ("body", choice_name(&self.body)),
                ],
                "the byte pool holds whole-range buffers and a streaming body reads one chunk \
                 at a time: expected one or the other",
            ));
        }
        if self.meta_size.1 > MAX_META_SIZE {
            return one(
                "meta_size",
                format!("{}-{}", self.meta_size.0, self.meta_size.1),
                "expected records of at most 1MiB (larger ones are not metadata)",
            );
        }
        Ok(())
    }
}

/// One line for a value the flag's parser refused: the parser's own words for units
/// (`expected a duration such as 250ms …, got "5x"`), the choices for an enum.
fn value_error(arg: &clap::Arg, value: &str, e: &clap::Error) -> String {
    if let Some(source) = std::error::Error::source(e) {
        let said = source.to_string();
        // The units' parsers say what they expected; Rust's number parsers do not.
        return if said.starts_with("expected") {
            said
        } else {
            format!("expected a number, got {value:?} ({said})")
        };
    }
    let choices: Vec<String> = arg
        .get_possible_values()
        .iter()
        .map(|p| format!("{:?}", p.get_name()))
        .collect();
    if !choices.is_empty() {
        let (last, rest) = choices.split_last().expect("not empty");
        let list = if rest.is_empty() {
            last.clone()
        } else {
            format!("{} or {last}", rest.join(", "))
        };
        return format!("expected {list}, got {value:?}");
    }
    format!(
        "expected a value for {}, got {value:?}: {}",
        flag(arg.get_id().as_str()),
        e.kind()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_fields_in_order() {
        let keys = ServerConfig::keys();
        assert_eq!(keys.first(), Some(&"workers"));
        assert_eq!(keys.last(), Some(&"grace"));
        assert!(keys.contains(&"queue_timeout") && !keys.contains(&"help"));
        // Every key is a field that /stats reports (under its unit-suffixed name).
        let stats = serde_json::to_value(ServerConfig::default()).unwrap();
        assert_eq!(stats.as_object().unwrap().len(), keys.len());
    }

    #[test]
    fn settings_are_read_by_the_flags_parsers() {
        let c = ServerConfig::from_settings(&[
            ("queue_timeout", "250ms"),
            ("io", "pool"),
            ("meta_size", "1KiB-2KiB"),
            ("egress_limit", "120MiB/s"),
        ])
        .unwrap();
        assert_eq!(c.queue_timeout, Duration::from_millis(250));
        assert_eq!(c.io, IoMode::Pool);
        assert_eq!(c.meta_size, (1024, 2048));
        assert_eq!(c.egress_limit, Some(120.0 * 1048576.0));
        assert_eq!(c.workers, ServerConfig::default().workers);
    }

    #[test]
    fn a_bad_setting_names_the_key_and_what_was_expected() {
        let e = ServerConfig::from_settings(&[("io", "async")]).unwrap_err();
        assert_eq!(e.key, "io");
        assert_eq!(
            e.message,
            r#"expected "worker", "blocking" or "pool", got "async""#
        );
        let e = ServerConfig::from_settings(&[("egress_limit", "120MiB")]).unwrap_err();
        assert!(e.message.starts_with("expected a byte rate"), "{e}");
        let e = ServerConfig::from_settings(&[("colour", "3")]).unwrap_err();
        assert!(e.message.contains("queue_timeout"), "{e}");
        let e = ServerConfig::from_settings(&[("workers", "-1")]).unwrap_err();
        assert_eq!(e.key, "workers");
    }

    #[test]
    fn invalid_combinations_say_so_in_both_spellings() {
        let c = ServerConfig::from_settings(&[("byte_pool_low", "0.7"), ("byte_pool_high", "0.6")])
            .unwrap();
        let e = c.validate().unwrap_err();
        assert_eq!(e.key, "byte_pool_high");
        assert!(e
            .as_flags()
            .starts_with("--byte-pool-low 0.7 --byte-pool-high 0.6: expected"));
        assert!(e
            .as_keys()
            .ends_with("got byte_pool_low = 0.7, byte_pool_high = 0.6"));
        assert!(ServerConfig::default().validate().is_ok());
    }

    #[test]
    fn stats_keep_their_unit_suffixed_names() {
        let v = serde_json::to_value(ServerConfig::default()).unwrap();
        assert_eq!(v["queue_timeout_ms"], 5000.0);
        assert_eq!(v["rpc_object_bytes"], 65536);
        assert_eq!(v["meta_size"], serde_json::json!([96, 640]));
        assert_eq!(v["hold_ms"], serde_json::Value::Null);
        assert_eq!(v["io"], "worker");
    }
}
