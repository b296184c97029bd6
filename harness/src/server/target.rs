//! A server of the user's own (`[target]`): its run directory, its command line, its start
//! through the [`guard`](super::guard). ([`super::Running::ready`] waits until it is ready.)
//!
//! Each run gets a directory beside its records, `runs/<variant>-<n>.target/`, holding the hot
//! file (`hot`, removed after the run), the scenario's templates with `{port}`, `{dir}` and
//! `{file}` replaced, and whatever the target writes there (pid files, logs).

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::child::describe_exit;
use crate::probe::RunProbe;
use crate::scenario::target::{DIR, FILE, PORT};
use crate::scenario::{Readiness, TargetSpec, Variant};

/// A target's run directory, ready for its start.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub dir: PathBuf,
    pub file: PathBuf,
    pub addr: SocketAddr,
    /// The command line with its placeholders replaced.
    pub command: Vec<String>,
}

/// Replaces the placeholders `{port}`, `{dir}` and `{file}` (only these exact tokens, so a
/// config's own braces stay as they are).
pub fn render(text: &str, port: u16, dir: &Path, file: &Path) -> String {
    text.replace(PORT, &port.to_string())
        .replace(DIR, &dir.display().to_string())
        .replace(FILE, &file.display().to_string())
}

/// A free TCP port on 127.0.0.1 (the kernel's pick; free when this returns, which is what any
/// launcher of a server that takes its port on the command line can know).
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Makes the run's directory: a fresh hot file of the scenario's size (bytes from `seed`),
/// the templates, a port.
pub fn prepare(spec: &TargetSpec, dir: &Path, seed: u64) -> Result<Prepared, String> {
    let err = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| err(dir, e))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    let dir = std::fs::canonicalize(dir).map_err(|e| err(dir, e))?;
    let file = dir.join("hot");
    write_hot_file(&file, spec.create_file, seed).map_err(|e| err(&file, e))?;
    // Readable by a server that drops root for its workers (apache's www-data), whatever the
    // umask: the directory traversable, the hot file readable.
    use std::os::unix::fs::PermissionsExt;
    for (p, mode) in [(&dir, 0o755), (&file, 0o644)] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
            .map_err(|e| err(p, e))?;
    }
    let port = free_port().map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}"))?;
    for t in &spec.files {
        let text = std::fs::read_to_string(t).map_err(|e| err(t, e))?;
        let name = t
            .file_name()
            .ok_or_else(|| format!("{}: no file name", t.display()))?;
        let out = dir.join(name);
        std::fs::write(&out, render(&text, port, &dir, &file)).map_err(|e| err(&out, e))?;
    }
    let command = spec
        .command
        .iter()
        .map(|a| render(a, port, &dir, &file))
        .collect();
    Ok(Prepared {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        dir,
        file,
        command,
    })
}

/// `size` bytes of a xorshift stream from `seed`: the same file for the same scenario.
fn write_hot_file(path: &Path, size: u64, seed: u64) -> std::io::Result<()> {
    use std::io::Write;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut x = seed | 1;
    let mut left = size;
    let mut chunk = vec![0u8; 1 << 20];
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        for b in chunk[..n].chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b.copy_from_slice(&x.to_le_bytes()[..b.len()]);
        }
        w.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    w.flush()
}

/// A started target: the guard (the process the harness waits for and signals, leader of the
/// target's process group) and the write end of its stdin, whose drop ends the group.
pub struct Started {
    pub guard: Child,
    pub guard_stdin: ChildStdin,
    /// The target's stdout, when readiness is a line on it.
    pub stdout: Option<ChildStdout>,
}

/// Starts `allocstorm target-guard -- <command>` with the variant's environment and preload,
/// the target (not the guard) in `cgroup` if there is one; the target's stderr (and stdout,
/// unless readiness reads it) goes to `log`.
pub fn spawn(
    exe: &Path,
    prepared: &Prepared,
    spec: &TargetSpec,
    variant: &Variant,
    log: &Path,
    cgroup: Option<&Path>,
    probe: Option<&RunProbe>,
) -> Result<Started, String> {
    let open = || std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()));
    let stderr = open()?;
    let stdout = match spec.ready {
        Readiness::Stdout(_) => Stdio::piped(),
        Readiness::Http(_) | Readiness::Tcp | Readiness::Command(_) => Stdio::from(
            stderr
                .try_clone()
                .map_err(|e| format!("{}: {e}", log.display()))?,
        ),
    };
    let mut cmd = Command::new(exe);
    cmd.arg("target-guard");
    // The variant's allocator first, so that it still serves `malloc`; the probe after it.
    let preload = match probe {
        Some(p) => p.preload_after(variant.preload.as_deref()),
        None => variant.preload.clone(),
    };
    if let Some(lib) = &preload {
        cmd.arg("--preload").arg(lib);
    }
    if let Some(p) = probe {
        cmd.envs(p.env());
    }
    if let Some(dir) = cgroup {
        cmd.arg("--cgroup").arg(dir);
    }
    cmd.arg("--")
        .args(&prepared.command)
        .current_dir(&prepared.dir)
        .envs(&variant.env)
        .env_remove("LD_PRELOAD")
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(stderr)
        // Its own group, which the guard ends when the harness goes. No parent-death signal
        // and no kill on drop here: either would kill the guard before it could end the group.
        .process_group(0);
    let mut guard = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let guard_stdin = guard.stdin.take().ok_or("guard stdin not captured")?;
    let stdout = guard.stdout.take();
    Ok(Started {
        guard,
        guard_stdin,
        stdout,
    })
}

/// The target's pid: the guard's one child, as soon as it has one.
pub async fn target_pid(guard: &mut Child) -> Result<u32, String> {
    let gpid = guard.id().ok_or("the guard has already exited")?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(p) = crate::sample::process_tree(gpid)
            .iter()
            .find(|p| p.1 == gpid)
        {
            return Ok(p.0);
        }
        if let Ok(Some(st)) = guard.try_wait() {
            return Err(format!(
                "target {} at once (see its .server.log)",
                describe_exit(st)
            ));
        }
        if Instant::now() >= deadline {
            return Err("the target did not start within 5s".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
