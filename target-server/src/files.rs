//! `/files/{key}`: many objects instead of one hot file, for a request mix.
//!
//! Every key shares the hot file's bytes for reads, but is an object of its own: the first
//! request for a key allocates its metadata record (name, etag), which lives as long as the
//! server, so a mix over many keys exercises long-lived small allocations. A write (`PUT` or
//! `POST`) is read whole into a fresh buffer and kept as that key's body, replacing (freeing) the
//! one before; the bodies kept are bounded by `--max-stored` bytes, the oldest evicted first, so
//! writes allocate and free their bodies and memory stays bounded.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Keys from 0 to this (exclusive) are objects; others are not found. A bound on the metadata
/// a client can make the server hold: a million records of about a hundred bytes.
pub const MAX_KEYS: u64 = 1_000_000;

/// A key's long-lived metadata, and its last written body.
struct Object {
    name: String,
    etag: String,
    body: Option<Stored>,
}

struct Stored {
    data: Vec<u8>,
    /// The write that stored it: eviction skips a queue entry a later write replaced.
    seq: u64,
}

impl Object {
    fn new(key: u64) -> Object {
        Object {
            name: format!("files/{key}"),
            etag: format!("\"{key:016x}\""),
            body: None,
        }
    }

    /// What its metadata holds on the heap and in the map.
    fn meta_bytes(&self) -> u64 {
        (std::mem::size_of::<(u64, Object)>() + self.name.capacity() + self.etag.capacity()) as u64
    }
}

#[derive(Default)]
struct Inner {
    objects: HashMap<u64, Object>,
    /// Writes kept, oldest first: `(key, seq)`.
    order: VecDeque<(u64, u64)>,
    seq: u64,
    meta_bytes: u64,
    stored_bytes: u64,
    stored_objects: u64,
    writes: u64,
    evicted: u64,
}

/// The objects of `/files/{key}`.
pub struct Files {
    inner: Mutex<Inner>,
    max_stored: u64,
}

impl std::fmt::Debug for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Files")
            .field("max_stored", &self.max_stored)
            .field("figures", &self.figures())
            .finish()
    }
}

/// The `files` part of `/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesFigures {
    /// Keys that have a metadata record (every key ever read or written).
    pub keys: u64,
    pub key_meta_bytes: u64,
    /// Written bodies kept, and their bytes (at most `--max-stored`).
    pub stored_objects: u64,
    pub stored_bytes: u64,
    /// Writes taken, and bodies evicted to stay within `--max-stored`.
    pub writes: u64,
    pub evicted: u64,
}

impl FilesFigures {
    /// What the objects hold: metadata and kept bodies.
    pub fn bytes(&self) -> u64 {
        self.key_meta_bytes + self.stored_bytes
    }
}

/// A key in a path segment, if it is one this server has.
pub fn parse_key(segment: &str) -> Option<u64> {
    if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    segment.parse().ok().filter(|k| *k < MAX_KEYS)
}

impl Files {
    pub fn new(max_stored: u64) -> Files {
        Files {
            inner: Mutex::new(Inner::default()),
            max_stored,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves counts, never broken memory: carry on.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A read of `key`: its metadata record, made on first use.
    pub fn touch(&self, key: u64) {
        let mut g = self.lock();
        let inner = &mut *g;
        inner.objects.entry(key).or_insert_with(|| {
            let o = Object::new(key);
            inner.meta_bytes += o.meta_bytes();
            o
        });
    }

    /// A write of `key`: keeps `data` as its body; returns the key's etag. The bodies it
    /// replaces or evicts are freed after the lock is released, so a large free does not hold
    /// up other requests.
    pub fn store(&self, key: u64, data: Vec<u8>) -> String {
        let (etag, freed) = self.store_locked(key, data);
        drop(freed);
        etag
    }

    fn store_locked(&self, key: u64, data: Vec<u8>) -> (String, Vec<Vec<u8>>) {
        let mut g = self.lock();
        let inner = &mut *g;
        inner.seq += 1;
        inner.writes += 1;
        let (seq, len) = (inner.seq, data.len() as u64);
        let obj = inner.objects.entry(key).or_insert_with(|| {
            let o = Object::new(key);
            inner.meta_bytes += o.meta_bytes();
            o
        });
        let etag = obj.etag.clone();
        let mut freed = Vec::new();
        if let Some(old) = obj.body.replace(Stored { data, seq }) {
            inner.stored_bytes -= old.data.len() as u64;
            inner.stored_objects -= 1;
            freed.push(old.data);
        }
        inner.stored_bytes += len;
        inner.stored_objects += 1;
        inner.order.push_back((key, seq));
        while inner.stored_bytes > self.max_stored {
            let Some((k, s)) = inner.order.pop_front() else {
                break;
            };
            let Some(o) = inner.objects.get_mut(&k) else {
                continue;
            };
            if o.body.as_ref().is_some_and(|b| b.seq == s) {
                if let Some(b) = o.body.take() {
                    inner.stored_bytes -= b.data.len() as u64;
                    inner.stored_objects -= 1;
                    inner.evicted += 1;
                    freed.push(b.data);
                }
            }
        }
        (etag, freed)
    }

    pub fn figures(&self) -> FilesFigures {
        let g = self.lock();
        FilesFigures {
            keys: g.objects.len() as u64,
            key_meta_bytes: g.meta_bytes,
            stored_objects: g.stored_objects,
            stored_bytes: g.stored_bytes,
            writes: g.writes,
            evicted: g.evicted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_digits_below_the_bound() {
        assert_eq!(parse_key("0"), Some(0));
        assert_eq!(parse_key("999999"), Some(999_999));
        for bad in ["", "-1", "1e3", "+4", "1000000", "x"] {
            assert_eq!(parse_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_make_metadata_once_and_writes_replace_and_evict() {
        let f = Files::new(10_000);
        f.touch(3);
        f.touch(3);
        f.touch(4);
        let fig = f.figures();
        assert_eq!(fig.keys, 2);
        assert!(fig.key_meta_bytes > 0);
        assert_eq!(fig.stored_bytes, 0);
        assert_eq!(f.store(3, vec![1; 4000]), "\"0000000000000003\"");
        f.store(3, vec![2; 3000]);
        assert_eq!(
            (f.figures().stored_objects, f.figures().stored_bytes),
            (1, 3000)
        );
        f.store(5, vec![3; 6000]);
        assert_eq!(f.figures().stored_bytes, 9000);
        // 9000 + 2000 is over 10,000: key 3's body (the oldest) goes.
        f.store(6, vec![4; 2000]);
        let fig = f.figures();
        assert_eq!((fig.stored_objects, fig.stored_bytes), (2, 8000));
        assert_eq!((fig.writes, fig.evicted, fig.keys), (4, 1, 4));
        assert_eq!(fig.bytes(), fig.key_meta_bytes + 8000);
        // A body larger than the whole store is taken and evicted at once.
        f.store(7, vec![5; 20_000]);
        assert_eq!(f.figures().stored_bytes, 0);
    }
}
