//! Log lines off the request path: a bounded, batching, non-blocking writer.
//!
//! Why: the access log writes a line per request, and writing each line to stderr as it
//! is made costs a `write` call per request on the request's thread. Here a request's
//! thread only copies its formatted line into a shared batch (a lock held for one copy);
//! one thread takes the batch every few milliseconds and writes it with one call. A
//! request never waits for the sink: when the batch is full (the sink has fallen behind),
//! the line is dropped and counted, and `/metrics` shows the count
//! (`kyrgyz_relations_log_lines_dropped_total`), so a loss is visible, not silent.
//! Lines keep their order, and a line is never split.
//!
//! `Guard`, dropped at the end of `main`, writes what is batched before the process ends.

use std::cell::RefCell;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// The bytes a batch may hold before lines are dropped: at a few hundred bytes a line, a
/// burst of thousands of requests between two writes.
pub const BATCH_BYTES: usize = 4 * 1024 * 1024;

/// How often the writer thread writes the batch.
const INTERVAL: Duration = Duration::from_millis(5);

/// The process's log writer's count of dropped lines, once `install` has made it the one.
static DROPPED: OnceLock<Arc<Shared>> = OnceLock::new();

/// Log lines dropped by the process's log writer (see `NonBlocking::install`).
pub fn dropped_lines() -> u64 {
    DROPPED
        .get()
        .map_or(0, |shared| shared.dropped.load(Ordering::Relaxed))
}

struct Shared {
    batch: Mutex<Batch>,
    /// Wakes the writer thread early: to finish.
    wake: Condvar,
    limit: usize,
    dropped: AtomicU64,
}

#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    finish: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Batch> {
        // A panic while holding the lock leaves whole lines behind; keep using it.
        self.batch
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Hands each log line to the batch; `tracing_subscriber`'s `MakeWriter`.
#[derive(Clone)]
pub struct NonBlocking {
    shared: Arc<Shared>,
}

/// Ends the writer thread once everything batched before it is written.
pub struct Guard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A writer of `sink` on a thread of its own, batching at most `limit` bytes.
pub fn non_blocking<W: Write + Send + 'static>(sink: W, limit: usize) -> (NonBlocking, Guard) {
    let shared = Arc::new(Shared {
        batch: Mutex::new(Batch::default()),
        wake: Condvar::new(),
        limit,
        dropped: AtomicU64::new(0),
    });
    let thread = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("log-writer".to_owned())
            .spawn(move || write_batches(sink, &shared))
            .expect("a thread for the log writer starts")
    };
    let guard = Guard {
        shared: shared.clone(),
        thread: Some(thread),
    };
    (NonBlocking { shared }, guard)
}

impl NonBlocking {
    /// Makes this writer's count of dropped lines the one `/metrics` shows. Once per
    /// process: a second call changes nothing.
    pub fn install(&self) {
        let _ = DROPPED.set(self.shared.clone());
    }

    /// Lines this writer has dropped.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

fn write_batches<W: Write>(mut sink: W, shared: &Shared) {
    let mut spare = Vec::new();
    loop {
        let finish = {
            let mut batch = shared.lock();
            if batch.bytes.is_empty() && !batch.finish {
                batch = shared
                    .wake
                    .wait_timeout(batch, INTERVAL)
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0;
            }
            std::mem::swap(&mut batch.bytes, &mut spare);
            batch.finish
        };
        if !spare.is_empty() {
            // Nowhere to report a failed write of the log but the log itself.
            let _ = sink.write_all(&spare);
            let _ = sink.flush();
            spare.clear();
        }
        if finish {
            return;
        }
        std::thread::sleep(INTERVAL);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shared.lock().finish = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

thread_local! {
    /// The line being formatted on this thread, its buffer kept from line to line.
    static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// One log line as it is formatted: written into this thread's line buffer, added to the
/// batch whole when the formatter is done with it.
pub struct LineWriter {
    shared: Arc<Shared>,
}

impl Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LINE.with(|line| line.borrow_mut().extend_from_slice(bytes));
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        LINE.with(|line| {
            let mut line = line.borrow_mut();
            if line.is_empty() {
                return;
            }
            let mut batch = self.shared.lock();
            if batch.finish || batch.bytes.len() + line.len() > self.shared.limit {
                drop(batch);
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            } else {
                batch.bytes.extend_from_slice(&line);
            }
            line.clear();
        });
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for NonBlocking {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            shared: self.shared.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use tracing_subscriber::fmt::MakeWriter;

    /// Whether the gate is open, and what was written through it.
    type GateState = (Mutex<(bool, Vec<u8>)>, Condvar);

    /// A sink that holds every write until it is opened, and keeps what it was given.
    #[derive(Clone, Default)]
    struct Gate {
        state: Arc<GateState>,
    }

    impl Gate {
        fn open(&self) {
            let (state, opened) = &*self.state;
            state.lock().expect("the gate's lock").0 = true;
            opened.notify_all();
        }

        fn written(&self) -> String {
            String::from_utf8(self.state.0.lock().expect("the gate's lock").1.clone())
                .expect("UTF-8")
        }
    }

    impl Write for Gate {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let (state, opened) = &*self.state;
            let mut state = state.lock().expect("the gate's lock");
            while !state.0 {
                state = opened.wait(state).expect("the gate's lock");
            }
            state.1.extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn log(writer: &NonBlocking, line: &str) {
        let mut out = writer.make_writer();
        // As the formatter writes a line: in pieces.
        let (head, tail) = line.split_at(line.len() / 2);
        out.write_all(head.as_bytes()).expect("a write");
        out.write_all(tail.as_bytes()).expect("a write");
    }

    #[test]
    fn a_stalled_sink_drops_and_counts_lines_instead_of_blocking() {
        let gate = Gate::default();
        // Room for ten lines of 8 bytes.
        let (writer, guard) = non_blocking(gate.clone(), 80);
        let started = Instant::now();
        for index in 0..1000 {
            log(&writer, &format!("line{index:03}\n"));
            if index == 9 {
                // Let the writer take the first batch, and stall on the closed sink.
                std::thread::sleep(INTERVAL * 4);
            }
        }
        // The sink wrote nothing while it was closed, yet every call returned at once.
        assert!(started.elapsed() < Duration::from_secs(5));
        gate.open();
        drop(guard);
        let written = gate.written();
        let lines: Vec<&str> = written.lines().collect();
        // What the writer took before it stalled (the first ten lines, or some of them:
        // it takes a batch every few milliseconds), and one more batch of ten: the rest
        // was dropped, and counted.
        assert!((10..=20).contains(&lines.len()), "{written}");
        assert_eq!(writer.dropped(), 1000 - lines.len() as u64);
        // What was kept is the oldest lines, whole and in order.
        for (index, line) in lines.iter().enumerate() {
            assert_eq!(*line, format!("line{index:03}"));
        }
    }

    #[test]
    fn the_guard_writes_every_batched_line_before_the_process_ends() {
        let gate = Gate::default();
        gate.open();
        let (writer, guard) = non_blocking(gate.clone(), BATCH_BYTES);
        for index in 0..500 {
            log(&writer, &format!("{index}\n"));
        }
        drop(guard);
        assert_eq!(writer.dropped(), 0);
        let expected: String = (0..500).map(|index| format!("{index}\n")).collect();
        assert_eq!(gate.written(), expected);
        // After the guard, a line is dropped rather than queued for nobody.
        log(&writer, "late\n");
        assert_eq!(writer.dropped(), 1);
    }
}
