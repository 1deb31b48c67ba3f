//! Logging set-up. `RUST_LOG` picks the levels; the default is `info`, which holds one line per
//! request (`server::http::request_log`), each line of a request naming its `request_id`.
//!
//! A request never waits on standard output: its lines are appended to a buffer in memory, and a
//! thread of its own ([`init`]) writes out whatever has gathered, at most [`FLUSH_EVERY`] after the
//! first of it, in one write. So a busy server writes about twenty times a second, not once a
//! line, and no request wakes a thread to write its line. If the reader falls so far behind that
//! [`MAX_PENDING`] bytes wait, further lines are dropped rather than the server slowed; a line
//! then says how many. The guard [`init`] returns writes out what waits when it is dropped, at the
//! end of `main`, waiting for that a second at most: a stuck reader does not keep the process
//! from stopping.
//!
//! In production mode (`APP_ENV=production`) every line is one JSON object, for a log pipeline.
//! What the app logs never holds a token or a code, and addresses only masked (`server::mask`);
//! `tests/app/production.rs` drives whole journeys, errors included, and searches the logs.
//!
//! Each batch of lines also passes through [`mask::text`] on its way out: the last stop for an
//! email address or phone number that a line carries whole by mistake (a library's error text, a
//! field a new log line forgot to mask), at every level. No address spans two lines, so masking a
//! batch masks each line.

use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::server::mask;

/// How long the first line of a batch waits for others before the batch is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// How long the end of `main` waits for the lines still waiting to be written: a reader that takes
/// none (a stuck pipe) must not keep the process from stopping.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(1);

/// Bytes of lines that may wait at most (about a hundred thousand request lines); beyond, lines
/// are dropped and counted.
pub const MAX_PENDING: usize = 16 << 20;

/// Installs the subscriber; keep the guard until the process ends (dropping it writes out the
/// lines still waiting).
#[must_use = "dropping the guard stops the log writer"]
pub fn init(json: bool) -> LogGuard {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn"));
    let (lines, guard) = batched(io::stdout(), FLUSH_EVERY, MAX_PENDING);
    // A second call (tests) keeps the first subscriber; that is fine.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        // Colours for a terminal only: a file or a log collector gets plain text.
        .with_ansi(io::stdout().is_terminal())
        .with_writer(lines);
    let _ = if json {
        // Each line carries its spans (`spans`, outermost first: `request`, with its
        // `request_id`, then any inside it) and the innermost again as `span`.
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    guard
}

/// A writer for the subscriber that gathers lines in memory, and the guard of the thread that
/// writes them to `out` (masked) at most `every` after the first of a batch, keeping at most
/// `max_pending` bytes waiting.
fn batched(
    out: impl Write + Send + 'static,
    every: Duration,
    max_pending: usize,
) -> (Lines, LogGuard) {
    let shared = Arc::new(Shared {
        pending: Mutex::default(),
        wake: Condvar::new(),
        max_pending,
    });
    // Sent (or dropped, if the thread never starts) when the writer is done.
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let started = std::thread::Builder::new()
        .name("log-writer".to_owned())
        .spawn({
            let shared = Arc::clone(&shared);
            move || {
                write_out(&shared, out, every);
                let _ = done.send(());
            }
        });
    if let Err(e) = started {
        eprintln!("the log writer did not start ({e}); log lines are dropped");
    }
    (Lines(Arc::clone(&shared)), LogGuard { shared, finished })
}

/// Keeps the log writer running; dropped, it has the writer write out what waits and stop, and
/// waits for that up to [`SHUTDOWN_WAIT`].
pub struct LogGuard {
    shared: Arc<Shared>,
    finished: std::sync::mpsc::Receiver<()>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        let _ = self.finished.recv_timeout(SHUTDOWN_WAIT);
    }
}

struct Shared {
    pending: Mutex<Pending>,
    /// Wakes the writer for a batch's first line, and to close.
    wake: Condvar,
    max_pending: usize,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    dropped: u64,
    closing: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding it (a write of bytes) left the buffer whole.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The subscriber's writer: each event is one `write` of one whole line.
struct Lines(Arc<Shared>);

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line(&self.0)
    }
}

struct Line<'a>(&'a Shared);

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut pending = self.0.lock();
        if pending.bytes.len() + buf.len() > self.0.max_pending {
            pending.dropped += 1;
        } else {
            let first = pending.bytes.is_empty();
            pending.bytes.extend_from_slice(buf);
            drop(pending);
            if first {
                self.0.wake.notify_one();
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The writer thread: waits for a first line, lets a batch gather for `every`, writes it out
/// masked in one write, and again, until closed with nothing left.
fn write_out(shared: &Shared, mut out: impl Write, every: Duration) {
    let mut batch = Vec::new();
    loop {
        let mut pending = shared.lock();
        while pending.bytes.is_empty() && pending.dropped == 0 && !pending.closing {
            pending = shared
                .wake
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if !pending.closing {
            drop(pending);
            std::thread::sleep(every);
            pending = shared.lock();
        }
        std::mem::swap(&mut pending.bytes, &mut batch);
        let dropped = std::mem::take(&mut pending.dropped);
        let closing = pending.closing;
        drop(pending);
        if !batch.is_empty() {
            // The formatter writes UTF-8; were a line not, it is still masked (with its bad bytes
            // replaced), and so is the rest of its batch.
            let _ = out.write_all(mask::text(&String::from_utf8_lossy(&batch)).as_bytes());
        }
        if dropped > 0 {
            let _ = writeln!(
                out,
                "{dropped} log lines were dropped: the log's reader fell behind"
            );
        }
        let _ = out.flush();
        let written = !batch.is_empty() || dropped > 0;
        batch.clear();
        if closing && !written {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the writer wrote, and in how many writes.
    #[derive(Clone, Default)]
    struct Out(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Out {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut out = self.0.lock().expect("not poisoned");
            out.0.extend_from_slice(buf);
            out.1 += 1;
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Out {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().expect("not poisoned").0.clone()).expect("UTF-8")
        }

        fn writes(&self) -> usize {
            self.0.lock().expect("not poisoned").1
        }
    }

    #[test]
    fn lines_go_out_masked_in_order_in_few_writes_and_all_of_them_at_the_end() {
        let out = Out::default();
        let (lines, guard) = batched(out.clone(), Duration::from_millis(200), 1 << 20);
        for n in 0..1000 {
            lines
                .make_writer()
                .write_all(format!("line {n} from ada@example.com / +14155552671\n").as_bytes())
                .expect("written");
        }
        drop(guard);
        let text = out.text();
        let expected: String = (0..1000)
            .map(|n| format!("line {n} from a***@example.com / ********2671\n"))
            .collect();
        assert_eq!(text, expected);
        assert!(
            out.writes() <= 10,
            "{} writes for 1000 lines: not batched",
            out.writes()
        );
    }

    #[test]
    fn a_line_that_is_not_utf8_does_not_unmask_its_batch() {
        let out = Out::default();
        let (lines, guard) = batched(out.clone(), Duration::from_millis(200), 1 << 20);
        lines
            .make_writer()
            .write_all(b"bad \xff from +14155552671\n")
            .expect("written");
        lines
            .make_writer()
            .write_all(b"then ada@example.com\n")
            .expect("written");
        drop(guard);
        assert_eq!(
            out.text(),
            "bad \u{fffd} from ********2671\nthen a***@example.com\n"
        );
    }

    #[test]
    fn a_line_goes_out_within_the_interval_without_waiting_for_more() {
        let out = Out::default();
        let (lines, _guard) = batched(out.clone(), Duration::from_millis(20), 1 << 20);
        lines.make_writer().write_all(b"alone\n").expect("written");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while out.text().is_empty() {
            assert!(std::time::Instant::now() < deadline, "never written");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(out.text(), "alone\n");
    }

    /// A reader that takes nothing (a stuck pipe) keeps the process from stopping for at most
    /// [`SHUTDOWN_WAIT`].
    #[test]
    fn a_stuck_reader_holds_the_end_of_main_a_second_at_most() {
        struct Stuck(Arc<Mutex<()>>);
        impl Write for Stuck {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let _wait = self.0.lock().expect("not poisoned");
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().expect("not poisoned");
        let (lines, guard) = batched(Stuck(Arc::clone(&gate)), Duration::from_millis(1), 1 << 20);
        lines
            .make_writer()
            .write_all(b"never read\n")
            .expect("written");
        let started = std::time::Instant::now();
        drop(guard);
        let waited = started.elapsed();
        assert!(
            waited >= SHUTDOWN_WAIT / 2 && waited < SHUTDOWN_WAIT * 5,
            "{waited:?}"
        );
        drop(held);
    }

    /// A stalled reader: the writer thread is stuck in a write, lines pile up to the limit, the
    /// rest are dropped and counted, and the count is written once the reader moves again.
    #[test]
    fn lines_beyond_the_limit_are_dropped_and_counted() {
        struct Stalled(Out, Arc<Mutex<()>>);
        impl Write for Stalled {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let _wait = self.1.lock().expect("not poisoned");
                self.0.write(buf)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let out = Out::default();
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().expect("not poisoned");
        let (lines, guard) = batched(
            Stalled(out.clone(), Arc::clone(&gate)),
            Duration::from_millis(1),
            100,
        );
        // The first line is taken by the writer, which then stalls writing it.
        lines.make_writer().write_all(b"first\n").expect("written");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !lines.0.lock().bytes.is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the writer never took it"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        for _ in 0..30 {
            lines
                .make_writer()
                .write_all(b"0123456789\n")
                .expect("written");
        }
        // 100 bytes hold 9 lines of 11 bytes; 21 are dropped.
        drop(held);
        drop(guard);
        let text = out.text();
        assert!(text.starts_with("first\n"), "{text}");
        assert_eq!(text.matches("0123456789\n").count(), 9, "{text}");
        assert!(text.contains("21 log lines were dropped"), "{text}");
    }
}
