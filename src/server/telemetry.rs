//! Logging set-up. `RUST_LOG` picks the levels; the default keeps request logs at info.
//!
//! In production mode (`APP_ENV=production`) every line is one JSON object, for a log pipeline.
//! What the app logs never holds a token or a code, and addresses only masked (`server::mask`);
//! `tests/app/production.rs` drives whole journeys, errors included, and searches the logs.
//!
//! Each log line also passes through [`mask::text`] on its way out: the last stop for an email
//! address or phone number that a line carries whole by mistake (a library's error text, a field
//! a new log line forgot to mask), at every level.

use std::io::{self, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::server::mask;

pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn,tower_http=info"));
    // A second call (tests) keeps the first subscriber; that is fine.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(MaskedStdout);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

/// Standard output, with the addresses in each line masked.
struct MaskedStdout;

impl<'a> MakeWriter<'a> for MaskedStdout {
    type Writer = Masking<io::Stdout>;

    fn make_writer(&'a self) -> Self::Writer {
        Masking(io::stdout())
    }
}

/// Masks what is written through it. The formatter writes each event whole, in one call, so an
/// address is never split across two writes.
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
