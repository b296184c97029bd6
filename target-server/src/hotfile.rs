//! The one hot file, and the per-request read that is the point of the server: a fresh heap
//! buffer of the range's size, filled by `pread`.

use std::fs::File;
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};

use crate::range::ByteRange;

#[derive(Debug)]
pub struct HotFile {
    file: File,
    pub size: u64,
    pub path: PathBuf,
    /// Keeps a created file's directory alive; removed when the server exits.
    _dir: Option<tempfile::TempDir>,
}

impl HotFile {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        Ok(Self {
            file,
            size: meta.len(),
            path: path.to_path_buf(),
            _dir: None,
        })
    }

    /// Writes `size` seeded random bytes into a new temporary directory and opens them.
    pub fn create(size: u64, seed: u64) -> std::io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("allocstorm-hot-")
            .tempdir()?;
        let path = dir.path().join("hot.bin");
        let mut f = std::io::BufWriter::new(File::create(&path)?);
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut block = vec![0u8; 64 << 10];
        let mut left = size;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            rng.fill_bytes(&mut block[..n]);
            f.write_all(&block[..n])?;
            left -= n as u64;
        }
        f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        let mut hot = Self::open(&path)?;
        hot._dir = Some(dir);
        Ok(hot)
    }

    /// Allocates a fresh buffer for `range` and fills it with `pread`. No reuse, no zero-copy:
    /// the allocation is what is being measured.
    pub fn read_range(&self, range: ByteRange) -> std::io::Result<Vec<u8>> {
        let len = range.len as usize;
        // with_capacity is a plain malloc (no calloc, no memset), as in the incident's server.
        let mut buf: Vec<u8> = Vec::with_capacity(len);
        let fd = self.file.as_raw_fd();
        let mut filled = 0usize;
        while filled < len {
            let spare = buf.spare_capacity_mut();
            // SAFETY: pread writes at most `len - filled` bytes into the spare capacity, which
            // is at least that long; set_len covers only bytes pread reported written.
            let n = unsafe {
                libc::pread(
                    fd,
                    spare.as_mut_ptr().cast(),
                    len - filled,
                    (range.start + filled as u64) as libc::off_t,
                )
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "hot file shrank while serving",
                ));
            }
            filled += n as usize;
            // SAFETY: the first `filled` bytes were written by pread.
            unsafe { buf.set_len(filled) };
        }
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_file_is_seeded_and_readable() {
        let a = HotFile::create(100_000, 5).unwrap();
        let b = HotFile::create(100_000, 5).unwrap();
        let c = HotFile::create(100_000, 6).unwrap();
        assert_eq!(a.size, 100_000);
        let whole = ByteRange {
            start: 0,
            len: 100_000,
        };
        assert_eq!(a.read_range(whole).unwrap(), b.read_range(whole).unwrap());
        assert_ne!(a.read_range(whole).unwrap(), c.read_range(whole).unwrap());
        let all = std::fs::read(&a.path).unwrap();
        let part = a
            .read_range(ByteRange {
                start: 99_000,
                len: 1000,
            })
            .unwrap();
        assert_eq!(part, &all[99_000..]);
        let dir = a.path.parent().unwrap().to_path_buf();
        drop(a);
        assert!(
            !dir.exists(),
            "the temporary directory is removed with the server"
        );
    }
}
