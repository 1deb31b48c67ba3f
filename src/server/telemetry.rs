//! Logging set-up. `RUST_LOG` picks the levels; the default is `info`, which holds one line per
//! request (`server::http::request_log`), each line of a request naming its `request_id`.
//!
//! Lines are handed to a thread of their own, which masks and writes them (`tracing-appender`'s
//! non-blocking writer): a request never waits on standard output, however slowly it is read. If
//! the reader falls so far behind that 128 000 lines wait, further lines are dropped rather than
//! the server slowed. The guard [`init`] returns writes out what waits when it is dropped, at the
//! end of `main`.
//!
//! In production mode (`APP_ENV=production`) every line is one JSON object, for a log pipeline.
//! What the app logs never holds a token or a code, and addresses only masked (`server::mask`);
//! `tests/app/production.rs` drives whole journeys, errors included, and searches the logs.
//!
//! Each log line also passes through [`mask::text`] on its way out: the last stop for an email
//! address or phone number that a line carries whole by mistake (a library's error text, a field
//! a new log line forgot to mask), at every level.

use std::io::{self, IsTerminal, Write};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

use crate::server::mask;

/// Installs the subscriber; keep the guard until the process ends (dropping it flushes the lines
/// still waiting).
#[must_use = "dropping the guard stops the log writer"]
pub fn init(json: bool) -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn"));
    // Buffered: the writer thread flushes once it has written every line waiting, so a burst of
    // lines goes out in one write.
    let (writer, guard) = tracing_appender::non_blocking(Masking(io::BufWriter::new(io::stdout())));
    // A second call (tests) keeps the first subscriber; that is fine.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        // Colours for a terminal only: a file or a log collector gets plain text.
        .with_ansi(io::stdout().is_terminal())
        .with_writer(writer);
    let _ = if json {
        // Each line carries its spans (`spans`, outermost first: `request`, with its
        // `request_id`, then any inside it) and the innermost again as `span`.
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    guard
}

/// Masks what is written through it. The formatter writes each event whole, in one call, and the
/// non-blocking writer passes each on whole, so an address is never split across two writes.
struct Masking<W>(W);

impl<W: Write> Write for Masking<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => self.0.write_all(mask::text(text).as_bytes())?,
            Err(_) => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_written_with_its_addresses_masked() {
        let mut out = Masking(Vec::new());
        let line = b"refused: 'ada@example.com' / +14155552671\n";
        assert_eq!(out.write(line).expect("written"), line.len());
        out.write_all(b"no address here\n").expect("written");
        assert_eq!(
            String::from_utf8(out.0).expect("UTF-8"),
            "refused: 'a***@example.com' / ********2671\nno address here\n"
        );
    }
}
