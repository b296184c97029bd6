//! Why a `/proc` read failed: the process is gone, `/proc` said something unexpected, or the
//! harness could not read it. Only the last is no news about the server: it is told apart.

use std::path::Path;

/// Why a process could not be read: it is gone, /proc said something unexpected, or the
/// harness itself could not read it (out of file descriptors, say): the last is no news about
/// the process, and is told apart from its exit.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("process {0} is gone")]
    Gone(u32),
    #[error("the harness could not read {path}: {}", read_error(source))]
    Unreadable {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
}

/// A `/proc/<pid>` read that failed: the process is gone when its entry is (ENOENT, ESRCH) or
/// when `kill(pid, 0)` says so; any other error (EMFILE, ENFILE, EACCES, …) is the harness's.
pub(super) fn read_failed(pid: u32, path: &Path, e: std::io::Error) -> SampleError {
    let gone = matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ESRCH)) || !exists(pid);
    if gone {
        SampleError::Gone(pid)
    } else {
        SampleError::Unreadable {
            path: path.display().to_string(),
            source: e,
        }
    }
}

/// Whether `pid` is a process (a zombie counts): `kill(pid, 0)` finds it, or finds it and may
/// not signal it.
fn exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 checks for the process and sends nothing.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// A read error as what it is; running out of file descriptors with the limit's value.
pub fn read_error(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EMFILE) => format!(
            "{e}: the harness is out of file descriptors (ulimit -n {})",
            crate::load::door::open_files_limit().map_or("unknown".into(), |n| n.to_string())
        ),
        Some(libc::ENFILE) => format!("{e}: the system is out of file descriptors (fs.file-max)"),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::ProcReader;
    use super::*;

    /// With `ulimit -n 1024`, 1,100 idle connections to the coordinator made every `/proc`
    /// read of the harness fail with EMFILE, and the run ended "server process is gone" while
    /// the server ran on. A read error of a process that exists is the harness's own.
    #[test]
    fn a_read_error_of_a_live_process_is_not_its_exit() {
        let me = std::process::id();
        let dir = tempfile::tempdir().unwrap();
        // `status` a directory: reading it fails (EISDIR) while the process is there.
        std::fs::create_dir(dir.path().join("status")).unwrap();
        let err = ProcReader::at(me, dir.path()).sample(0.0).unwrap_err();
        assert!(
            matches!(err, SampleError::Unreadable { .. }),
            "{err:?} for a live process"
        );
        let emfile = std::io::Error::from_raw_os_error(libc::EMFILE);
        let err = read_failed(me, Path::new("/proc/self/status"), emfile);
        let said = err.to_string();
        assert!(
            said.starts_with("the harness could not read /proc/self/status: ")
                && said.contains("the harness is out of file descriptors (ulimit -n "),
            "{said}"
        );
        // The same error for a process that is not there: gone.
        let emfile = std::io::Error::from_raw_os_error(libc::EMFILE);
        let dead = read_failed(u32::MAX - 1, Path::new("/proc/x/status"), emfile);
        assert!(matches!(dead, SampleError::Gone(_)), "{dead:?}");
        let enoent = std::io::Error::from_raw_os_error(libc::ENOENT);
        let gone = read_failed(me, Path::new("/proc/x/status"), enoent);
        assert!(matches!(gone, SampleError::Gone(_)), "{gone:?}");
    }
}
