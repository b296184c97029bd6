//! `[target] stats_command`: the target's own account of its memory (`redis-cli info memory`),
//! read once after the last phase and kept in the record beside what the probe saw.
//!
//! The command is a request to the target: allocator activity on its threads (Redis answers
//! INFO on its main thread). So it runs after every phase has ended, when no window that a
//! figure comes from is open and no phase (a nudge) follows whose first activity must be its
//! own. Its reading is a `stats` entry of the record: `{"stats_command": {key: number}}`, or
//! `{"stats_command_failed": why}`; a failing command never fails the run (it is a cross-check).

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Map, Value};

use super::live::LiveRef;
use crate::record::{Event, StatsSample};

/// How long the command may take: an INFO answers in milliseconds; a hung one must not hold
/// the run's end.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `command` (placeholders already replaced) and records its reading.
pub async fn read_once(command: &[String], live: &LiveRef) {
    let t = live.borrow().now();
    let stats = match run(command).await {
        Ok(out) => serde_json::json!({ "stats_command": numeric_lines(&out) }),
        Err(why) => serde_json::json!({ "stats_command_failed": why }),
    };
    live.borrow_mut()
        .emit(Event::Stats(StatsSample { t, stats }));
}

/// The command's stdout, or why there is none (not started, timed out, exited non-zero).
async fn run(command: &[String]) -> Result<String, String> {
    let (program, args) = command.split_first().ok_or("an empty stats_command")?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    crate::child::die_with_parent(&mut cmd);
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let out = tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| format!("{program} still running after {TIMEOUT:?}: killed"))?
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{program} {}: {}",
            crate::child::describe_exit(out.status),
            err.trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The `key:value` lines whose value is a number (`used_memory:1038168`,
/// `mem_fragmentation_ratio:3.52`); headers (`# Memory`), text values and blank lines are
/// left out. An integer stays an integer, so byte counts are exact.
fn numeric_lines(out: &str) -> Map<String, Value> {
    out.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let (k, v) = (k.trim(), v.trim());
            if k.is_empty() || k.contains(char::is_whitespace) {
                return None;
            }
            let n = match v.parse::<u64>() {
                Ok(i) => Value::from(i),
                Err(_) => serde_json::Number::from_f64(v.parse::<f64>().ok()?)?.into(),
            };
            Some((k.to_string(), n))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_numeric_key_value_lines_only() {
        let info = "# Memory\r\nused_memory:1038168\r\nused_memory_human:1013.84K\r\n\
                    mem_fragmentation_ratio:3.52\r\nmem_allocator:jemalloc-5.3.0\r\n\r\n\
                    a key:1\r\nratio:inf\r\n";
        let m = numeric_lines(info);
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m["used_memory"], Value::from(1038168u64));
        assert_eq!(m["mem_fragmentation_ratio"].as_f64(), Some(3.52));
    }

    #[tokio::test]
    async fn a_failing_command_says_why() {
        let e = run(&["/bin/sh".into(), "-c".into(), "echo no >&2; exit 3".into()])
            .await
            .unwrap_err();
        assert!(
            e.contains("/bin/sh") && e.contains('3') && e.contains("no"),
            "{e}"
        );
        let out = run(&["/bin/echo".into(), "used_memory:5".into()]).await;
        assert_eq!(numeric_lines(&out.unwrap())["used_memory"], 5);
    }
}
