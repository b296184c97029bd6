//! The coordinator's door during a join: how many connections may wait to say hello at once,
//! and how accept errors are waited out and named.
//!
//! Anyone who reaches the port can connect; until a connection has said hello it is nobody's.
//! Each waiting connection costs a task and a file descriptor, so they are capped
//! ([`PENDING_MAX`], [`PENDING_PER_PEER`] of them from one address): beyond the cap a new
//! connection is closed at once and counted. Without
//! the cap 1,100 idle connections exhausted a coordinator under `ulimit -n 1024` in about 2 s.
//! An accept that fails (EMFILE, ENFILE, ENOBUFS) would fail again at once: the loop waits
//! 10 ms, doubling to 1 s, and says what ran out once rather than per error.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Connections that may wait to say hello at once. A real worker says hello as soon as it has
/// connected, so even a join of many workers has few waiting at any moment.
pub const PENDING_MAX: usize = 64;

/// Of those, from one address: one host cannot take every place from the workers. Workers
/// behind one address (NAT, or all on loopback) each wait only the moment between their
/// connect and their hello.
pub const PENDING_PER_PEER: usize = 16;

/// The first wait after a failed accept, and the longest.
const BACKOFF_FIRST: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The places for connections waiting to say hello, and how many were turned away.
pub struct Door {
    places: Arc<Semaphore>,
    per_peer_max: usize,
    per_peer: Arc<Mutex<HashMap<IpAddr, usize>>>,
    turned_away: u64,
}

/// A connection's place at the door, left when dropped.
pub struct Place {
    _permit: OwnedSemaphorePermit,
    peer: IpAddr,
    per_peer: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut counts = self.per_peer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.peer);
            }
        }
    }
}

impl Door {
    /// `places` in all, at most `per_peer` of them for one address.
    pub fn new(places: usize, per_peer: usize) -> Door {
        Door {
            places: Arc::new(Semaphore::new(places)),
            per_peer_max: per_peer,
            per_peer: Arc::default(),
            turned_away: 0,
        }
    }

    /// A place for a new connection from `peer`, held until it has said hello (or failed to);
    /// `None` when every place, or every place its address may hold, is taken: the caller
    /// closes the connection.
    pub fn enter(&mut self, peer: IpAddr) -> Option<Place> {
        let place = self.try_enter(peer);
        if place.is_none() {
            self.turned_away += 1;
        }
        place
    }

    fn try_enter(&self, peer: IpAddr) -> Option<Place> {
        let mut counts = self.per_peer.lock().unwrap_or_else(|e| e.into_inner());
        let n = counts.entry(peer).or_insert(0);
        if *n >= self.per_peer_max {
            return None;
        }
        let permit = self.places.clone().try_acquire_owned().ok()?;
        *n += 1;
        Some(Place {
            _permit: permit,
            peer,
            per_peer: self.per_peer.clone(),
        })
    }

    /// Connections closed at once because every place was taken.
    pub fn turned_away(&self) -> u64 {
        self.turned_away
    }
}

/// The accept loop's pause after errors.
#[derive(Debug, Default)]
pub struct Backoff {
    delay: Option<Duration>,
    resume: Option<Instant>,
    /// The errors already told (raw OS error numbers): each is said once per join.
    told: Vec<Option<i32>>,
}

impl Backoff {
    /// When the next accept may be tried (`None`: now).
    pub fn resume(&self) -> Option<Instant> {
        self.resume
    }

    /// An accept succeeded: the next error waits the shortest time again.
    pub fn succeeded(&mut self) {
        self.delay = None;
        self.resume = None;
    }

    /// An accept failed at `now`: the next waits twice as long as the last (10 ms to 1 s). What
    /// to tell, the first time this error is seen.
    pub fn failed(&mut self, e: &io::Error, now: Instant) -> Option<String> {
        let delay = self
            .delay
            .map_or(BACKOFF_FIRST, |d| (d * 2).min(BACKOFF_MAX));
        self.delay = Some(delay);
        self.resume = Some(now + delay);
        let kind = e.raw_os_error();
        if self.told.contains(&kind) {
            return None;
        }
        self.told.push(kind);
        Some(describe(e))
    }

    /// The current wait.
    pub fn delay(&self) -> Option<Duration> {
        self.delay
    }
}

/// An accept error as what it is: which limit ran out, with its value when it is ours.
pub fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EMFILE) => format!(
            "out of file descriptors (ulimit -n {}): accepting again after a pause",
            open_files_limit().map_or("unknown".to_string(), |n| n.to_string())
        ),
        Some(libc::ENFILE) => {
            "the system is out of file descriptors (fs.file-max): accepting again after a pause"
                .to_string()
        }
        _ => format!("accept failed: {e}; accepting again after a pause"),
    }
}

/// This process's soft limit of open files.
pub fn open_files_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct it is given.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    (rc == 0).then_some(lim.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn the_door_has_its_places_and_counts_who_it_turns_away() {
        let mut door = Door::new(2, 2);
        let a = door.enter(ip(1)).expect("first place");
        let _b = door.enter(ip(2)).expect("second place");
        assert!(door.enter(ip(3)).is_none());
        assert!(door.enter(ip(1)).is_none());
        assert_eq!(door.turned_away(), 2);
        drop(a);
        assert!(
            door.enter(ip(3)).is_some(),
            "a place is free again once left"
        );
        assert_eq!(door.turned_away(), 2);
    }

    #[test]
    fn one_address_holds_at_most_its_share_of_the_places() {
        let mut door = Door::new(4, 2);
        let held: Vec<Place> = (0..2).map(|_| door.enter(ip(1)).unwrap()).collect();
        assert!(door.enter(ip(1)).is_none(), "its share is taken");
        let _other = door.enter(ip(2)).expect("another address gets in");
        drop(held);
        assert!(door.enter(ip(1)).is_some(), "its places were given back");
        assert_eq!(door.turned_away(), 1);
    }

    #[test]
    fn accept_errors_wait_10ms_doubling_to_1s_and_are_told_once() {
        let now = Instant::now();
        let mut b = Backoff::default();
        assert_eq!(b.resume(), None);
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        let told = b.failed(&emfile, now).expect("told the first time");
        assert!(
            told.starts_with("out of file descriptors (ulimit -n "),
            "{told}"
        );
        let mut delays = vec![b.delay().unwrap()];
        for _ in 0..8 {
            assert_eq!(b.failed(&emfile, now), None, "told once, not per error");
            delays.push(b.delay().unwrap());
        }
        let ms: Vec<u128> = delays.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert_eq!(b.resume(), Some(now + BACKOFF_MAX));
        let enfile = io::Error::from_raw_os_error(libc::ENFILE);
        assert!(b.failed(&enfile, now).unwrap().contains("fs.file-max"));
        b.succeeded();
        assert_eq!(b.resume(), None);
        b.failed(&emfile, now);
        assert_eq!(b.delay(), Some(BACKOFF_FIRST));
    }
}
