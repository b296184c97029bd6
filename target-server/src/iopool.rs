//! Where `pread` runs (`--io`), and the fixed I/O thread pool of incident 002.
//!
//! Incident 002: an authentication server with 128 blocking threads grew by 64 MiB of address
//! space with each message handled, until it had 8 × cores glibc arenas. glibc gives a thread an
//! arena at the thread's first `malloc`, and each thread arena reserves a 64 MiB heap. The pool
//! here does what that server did: `--io-threads` threads, jobs dealt round-robin, so each of the
//! first N jobs lands on a thread that has never allocated.
//!
//! For that, a pool thread must not allocate before its first job, and two ordinary choices
//! would:
//!
//! - A `std::thread` mallocs before it runs any user code: its start-up installs a stack-overflow
//!   handler that calls `pthread_getattr_np`, which `realloc`s a CPU-set buffer. Every std thread
//!   therefore has its arena from birth, and the whole VSZ step would come at start-up. The pool
//!   threads are plain `pthread_create` threads instead.
//! - A thread waits on its own queue, a `Mutex` and a `Condvar`: both are futex words, so waiting
//!   allocates nothing. Jobs and replies are allocated by the sender, on a tokio worker.
//!
//! Measured both ways in `README.md` ("Fixed I/O pool");
//! `pool_threads_get_their_arena_from_their_first_job` in `tests/io_pool.rs` pins it down.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

/// A pool thread's stack: the jobs are a `pread` and some bookkeeping, and a small stack keeps
/// N threads from adding much VSZ of their own next to the arenas being measured.
pub const STACK_BYTES: usize = 256 << 10;

type Job = Box<dyn FnOnce() + Send>;

/// Where blocking file reads run: `--io worker|blocking|pool`.
#[derive(Clone)]
pub enum IoRunner {
    /// Inline, on the tokio worker that polls the request or body.
    Worker,
    /// On tokio's blocking pool.
    Blocking,
    /// On the fixed pool, round-robin.
    Pool(Arc<IoPool>),
}

impl IoRunner {
    /// Runs `job` where this runner runs reads. The job starts when the future is first polled;
    /// an inline job runs within that poll.
    pub fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> impl Future<Output = io::Result<T>> + Send + 'static {
        let me = self.clone();
        async move {
            match me {
                Self::Worker => Ok(job()),
                Self::Blocking => tokio::task::spawn_blocking(job)
                    .await
                    .map_err(|e| io::Error::other(e.to_string())),
                Self::Pool(pool) => pool.run(job).await,
            }
        }
    }
}

/// `/stats` `io_pool`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IoPoolFigures {
    /// Threads in the pool.
    pub threads: u64,
    /// Threads that have been handed at least one job.
    pub threads_used: u64,
}

/// N threads, each with its own queue; jobs are dealt round-robin.
pub struct IoPool {
    shared: Arc<Shared>,
    next: AtomicU64,
}

struct Shared {
    slots: Box<[Slot]>,
    threads_used: AtomicU64,
}

/// One thread's queue.
struct Slot {
    queue: Mutex<Queue>,
    ready: Condvar,
}

struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

/// What a pool thread gets from its creator: boxed by the creator, never freed by the thread
/// before its first job.
struct Worker {
    shared: Arc<Shared>,
    index: usize,
}

impl std::fmt::Debug for IoPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoPool")
            .field("threads", &self.shared.slots.len())
            .finish_non_exhaustive()
    }
}

impl IoPool {
    /// Starts `threads` threads named `io-pool-{i}` with [`STACK_BYTES`] stacks, each blocked on
    /// its empty queue.
    pub fn start(threads: usize) -> io::Result<Self> {
        let slots = (0..threads)
            .map(|_| Slot {
                queue: Mutex::new(Queue {
                    jobs: VecDeque::new(),
                    closed: false,
                }),
                ready: Condvar::new(),
            })
            .collect();
        let pool = Self {
            shared: Arc::new(Shared {
                slots,
                threads_used: AtomicU64::new(0),
            }),
            next: AtomicU64::new(0),
        };
        for index in 0..threads {
            // On failure `pool` is dropped, which closes the queues of the threads already
            // started, and they exit.
            spawn_thread(Worker {
                shared: pool.shared.clone(),
                index,
            })?;
        }
        Ok(pool)
    }

    /// Hands `job` to the next thread in turn.
    pub fn submit(&self, job: Job) {
        let n = self.shared.slots.len() as u64;
        let slot = &self.shared.slots[(self.next.fetch_add(1, Ordering::Relaxed) % n) as usize];
        slot.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .jobs
            .push_back(job);
        slot.ready.notify_one();
    }

    /// Runs `f` on the next thread in turn and returns its result.
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> impl Future<Output = io::Result<T>> + Send + 'static {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(Box::new(move || {
            let _ = tx.send(f());
        }));
        async move {
            rx.await
                .map_err(|_| io::Error::other("the I/O pool job panicked"))
        }
    }

    pub fn figures(&self) -> IoPoolFigures {
        IoPoolFigures {
            threads: self.shared.slots.len() as u64,
            threads_used: self.shared.threads_used.load(Ordering::Relaxed),
        }
    }
}

impl Drop for IoPool {
    /// Tells every thread to exit once its queue is empty; does not wait for them, so a read
    /// in progress never holds up shutdown.
    fn drop(&mut self) {
        for slot in self.shared.slots.iter() {
            slot.queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .closed = true;
            slot.ready.notify_all();
        }
    }
}

impl Worker {
    fn run(&self) {
        let slot = &self.shared.slots[self.index];
        let mut used = false;
        loop {
            let job = {
                let mut q = slot.queue.lock().unwrap_or_else(PoisonError::into_inner);
                loop {
                    if let Some(job) = q.jobs.pop_front() {
                        break job;
                    }
                    if q.closed {
                        return;
                    }
                    q = slot.ready.wait(q).unwrap_or_else(PoisonError::into_inner);
                }
            };
            if !used {
                // Counted before the job runs, so a client that has its answer sees it counted.
                used = true;
                self.shared.threads_used.fetch_add(1, Ordering::Relaxed);
            }
            // Unwinding out of the thread's extern "C" entry would abort the process. A job
            // that panics drops its reply sender instead, and its request gets a 500.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
        }
    }
}

extern "C" fn thread_main(arg: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `arg` is the `Box<Worker>` leaked by `spawn_thread` for this thread alone.
    let worker = unsafe { Box::from_raw(arg.cast::<Worker>()) };
    worker.run();
    std::ptr::null_mut()
}

/// `pthread_create`, detached, with a [`STACK_BYTES`] stack; the name is set from here so the
/// new thread does nothing but wait.
fn spawn_thread(worker: Worker) -> io::Result<()> {
    let name = std::ffi::CString::new(format!("io-pool-{}", worker.index))
        .expect("a thread name without NUL");
    let arg = Box::into_raw(Box::new(worker));
    let check = |r: libc::c_int| {
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(r))
        }
    };
    // SAFETY: the attribute object is initialised before use and destroyed after; on success
    // the thread owns `arg` (see `thread_main`), on failure it is reclaimed here.
    unsafe {
        let mut attr = MaybeUninit::<libc::pthread_attr_t>::uninit();
        check(libc::pthread_attr_init(attr.as_mut_ptr()))?;
        let mut attr = attr.assume_init();
        let mut tid = MaybeUninit::<libc::pthread_t>::uninit();
        let created = check(libc::pthread_attr_setstacksize(&mut attr, STACK_BYTES))
            .and_then(|()| {
                check(libc::pthread_attr_setdetachstate(
                    &mut attr,
                    libc::PTHREAD_CREATE_DETACHED,
                ))
            })
            .and_then(|()| {
                check(libc::pthread_create(
                    tid.as_mut_ptr(),
                    &attr,
                    thread_main,
                    arg.cast(),
                ))
            });
        libc::pthread_attr_destroy(&mut attr);
        if let Err(e) = created {
            drop(Box::from_raw(arg));
            return Err(e);
        }
        // A name is a convenience for `top -H` and gdb: failing to set it is not an error.
        let _ = libc::pthread_setname_np(tid.assume_init(), name.as_ptr());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's name for the calling thread: std knows no name for a thread it did not
    /// start.
    fn os_thread_name() -> String {
        let mut buf = [0u8; 16];
        // SAFETY: a 16-byte buffer is what pthread_getname_np needs for Linux's names.
        let r = unsafe {
            libc::pthread_getname_np(libc::pthread_self(), buf.as_mut_ptr().cast(), buf.len())
        };
        assert_eq!(r, 0);
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    }

    #[tokio::test]
    async fn jobs_are_dealt_round_robin() {
        let pool = IoPool::start(3).unwrap();
        assert_eq!(pool.figures().threads, 3);
        assert_eq!(pool.figures().threads_used, 0);
        let mut names = Vec::new();
        for _ in 0..6 {
            names.push(pool.run(os_thread_name).await.unwrap());
        }
        assert_eq!(
            names,
            [
                "io-pool-0",
                "io-pool-1",
                "io-pool-2",
                "io-pool-0",
                "io-pool-1",
                "io-pool-2"
            ]
        );
        assert_eq!(pool.figures().threads_used, 3);
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_thread_serves_on() {
        let pool = IoPool::start(1).unwrap();
        let r = pool.run(|| panic!("boom")).await;
        assert!(r.is_err());
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn every_runner_runs_the_job() {
        let pool = Arc::new(IoPool::start(2).unwrap());
        for runner in [IoRunner::Worker, IoRunner::Blocking, IoRunner::Pool(pool)] {
            assert_eq!(runner.run(|| 6 * 7).await.unwrap(), 42);
        }
    }
}
