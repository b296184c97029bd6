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
    /// Read only through this descriptor (`pread`), never again by path.
    file: File,
    pub size: u64,
    /// The file given with `--file`; `None` for a created file, which has no name.
    pub path: Option<PathBuf>,
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
            path: Some(path.to_path_buf()),
        })
    }

    /// Writes `size` seeded random bytes into an unnamed temporary file (`O_TMPFILE` in the
    /// temporary directory, or a file unlinked as soon as it is made): nothing is left on disk
    /// when the server exits, even killed with SIGKILL.
    pub fn create(size: u64, seed: u64) -> std::io::Result<Self> {
        let file = tempfile::tempfile()?;
        let mut w = std::io::BufWriter::new(&file);
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut block = vec![0u8; 64 << 10];
        let mut left = size;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            rng.fill_bytes(&mut block[..n]);
            w.write_all(&block[..n])?;
            left -= n as u64;
        }
        w.flush()?;
        drop(w);
        file.sync_all()?;
        Ok(Self {
            file,
            size,
            path: None,
        })
    }

    /// Allocates a fresh buffer for `range` and fills it with `pread`. No reuse, no zero-copy:
    /// the allocation is what is being measured.
    pub fn read_range(&self, range: ByteRange) -> std::io::Result<Vec<u8>> {
        let len = range.len as usize;
        // with_capacity is a plain malloc (no calloc, no memset), as in the incident's server.
        let mut buf: Vec<u8> = Vec::with_capacity(len);
        // SAFETY: the spare capacity is at least `len` bytes long.
        unsafe {
            self.pread_exact(
                buf.spare_capacity_mut().as_mut_ptr().cast(),
                len,
                range.start,
            )?
        };
        // SAFETY: pread_exact wrote all `len` bytes.
        unsafe { buf.set_len(len) };
        Ok(buf)
    }

    /// Fills `dst` with the file's bytes from `start` on: a read into a buffer the caller
    /// already has (a byte-pool buffer).
    pub fn read_into(&self, start: u64, dst: &mut [u8]) -> std::io::Result<()> {
        // SAFETY: `dst` is `dst.len()` writable bytes.
        unsafe { self.pread_exact(dst.as_mut_ptr(), dst.len(), start) }
    }

    /// `pread`s exactly `len` bytes from `offset` into `dst`, retrying short reads.
    ///
    /// # Safety
    /// `dst` must be valid for writes of `len` bytes.
    unsafe fn pread_exact(&self, dst: *mut u8, len: usize, offset: u64) -> std::io::Result<()> {
        let fd = self.file.as_raw_fd();
        let mut filled = 0usize;
        while filled < len {
            // SAFETY: the caller's guarantee covers `dst[filled..len]`.
            let n = unsafe {
                libc::pread(
                    fd,
                    dst.add(filled).cast(),
                    len - filled,
                    (offset + filled as u64) as libc::off_t,
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
        }
        Ok(())
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
        let all = a.read_range(whole).unwrap();
        let part = a
            .read_range(ByteRange {
                start: 99_000,
                len: 1000,
            })
            .unwrap();
        assert_eq!(part, &all[99_000..]);
        let mut into = vec![0u8; 1000];
        a.read_into(99_000, &mut into).unwrap();
        assert_eq!(into, &all[99_000..]);
        assert!(
            a.read_into(99_500, &mut into).is_err(),
            "a read past the end"
        );
        assert_eq!(a.path, None, "a created file has no name");
    }
}
