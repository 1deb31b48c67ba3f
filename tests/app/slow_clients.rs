//! Slow clients are cut off: a request's head or body trickled in, or a kept-alive connection left
//! idle, is closed within seconds instead of holding a connection for as long as the client likes.
//!
//! These speak raw HTTP/1.1 over a socket, as such a client would, to an app whose deadlines are
//! one second (`HEADER_READ_TIMEOUT_SECS`, `BODY_READ_TIMEOUT_SECS`). Each byte of a trickle comes
//! well within that second, so only a deadline on the whole head or body can end it. The bounds
//! the tests check are generous on the upper side (a loaded machine is slow, never early): a
//! server that never cuts the client off fails them by tens of seconds.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::support::{TestApp, spawn_app_with};

/// The deadlines of the app under test.
const DEADLINE: Duration = Duration::from_secs(1);
/// How long a test waits for the server to close a connection before calling it a failure: far
/// above the deadline, far below a trickle's length.
const CLOSED_WITHIN: Duration = Duration::from_secs(15);
/// The gap between two trickled bytes, each well inside the deadline.
const TRICKLE_GAP: Duration = Duration::from_millis(100);
/// How many bytes a trickle sends at most: a minute's worth, many times the deadline.
const TRICKLE_BYTES: usize = 600;

async fn app_with_short_deadlines() -> TestApp {
    spawn_app_with(|settings| {
        settings.header_read_timeout = DEADLINE;
        settings.body_read_timeout = DEADLINE;
    })
    .await
}

async fn connect(app: &TestApp) -> TcpStream {
    let addr = app.base.trim_start_matches("http://");
    TcpStream::connect(addr).await.expect("the app accepts")
}

/// Sends `b` one byte at a time, [`TRICKLE_GAP`] apart, until the server stops taking them or
/// [`TRICKLE_BYTES`] have gone.
fn trickle(write: OwnedWriteHalf, byte: u8) -> tokio::task::JoinHandle<usize> {
    trickle_at_most(write, byte, TRICKLE_BYTES)
}

/// [`trickle`], `count` bytes at most, then silence with the connection left open (the writing
/// half is held until the task is aborted: dropping it would end the request).
fn trickle_at_most(
    mut write: OwnedWriteHalf,
    byte: u8,
    count: usize,
) -> tokio::task::JoinHandle<usize> {
    tokio::spawn(async move {
        for sent in 0..count {
            if write.write_all(&[byte]).await.is_err() {
                return sent;
            }
            tokio::time::sleep(TRICKLE_GAP).await;
        }
        if count < TRICKLE_BYTES {
            std::future::pending::<()>().await;
        }
        drop(write);
        count
    })
}

/// Everything the server sends until it closes the connection (end of stream, or a reset), and
/// when that was; `None` when it is still open after [`CLOSED_WITHIN`].
async fn until_closed(read: &mut OwnedReadHalf) -> Option<(Vec<u8>, Instant)> {
    let mut received = Vec::new();
    let reading = async {
        let mut chunk = [0u8; 4096];
        loop {
            match read.read(&mut chunk).await {
                Ok(0) | Err(_) => return Instant::now(),
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let closed_at = tokio::time::timeout(CLOSED_WITHIN, reading).await.ok()?;
    Some((received, closed_at))
}

/// Reads one response with a `Content-Length` body; returns its status and body.
async fn read_response(read: &mut OwnedReadHalf) -> (u16, String) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = tokio::time::timeout(CLOSED_WITHIN, read.read(&mut chunk))
            .await
            .expect("the response comes")
            .expect("the connection stays open");
        assert!(n > 0, "closed before a whole response head");
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no Content-Length in {head:?}"));
    while buffer.len() < head_end + length {
        let n = tokio::time::timeout(CLOSED_WITHIN, read.read(&mut chunk))
            .await
            .expect("the body comes")
            .expect("the connection stays open");
        assert!(n > 0, "closed before the whole body");
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buffer[head_end..head_end + length]).to_string();
    (status, body)
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

#[tokio::test]
async fn a_request_head_trickled_in_is_cut_off() {
    let app = app_with_short_deadlines().await;
    let started = Instant::now();
    let (mut read, mut write) = connect(&app).await.into_split();
    write
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .expect("the start of the head");
    // The header's value never ends, a byte every tenth of a second.
    let trickling = trickle(write, b'a');

    let closed = until_closed(&mut read).await;
    trickling.abort();
    let (received, closed_at) =
        closed.expect("a head still trickling after 15 s: the connection was never cut off");
    let took = closed_at - started;
    assert!(
        took >= DEADLINE,
        "closed after {took:?}, before the deadline: not the deadline's doing"
    );
    assert!(
        received.is_empty(),
        "no request was read, so nothing is answered: {}",
        String::from_utf8_lossy(&received)
    );
}

#[tokio::test]
async fn a_request_body_trickled_in_is_answered_408_and_cut_off() {
    let app = app_with_short_deadlines().await;
    let started = Instant::now();
    let (mut read, mut write) = connect(&app).await.into_split();
    // A form post with its head at once and its body promised but trickled in.
    write
        .write_all(
            b"POST /api/otp/sign-in HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\n\
              Content-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 2000\r\n\r\nlogin_id=",
        )
        .await
        .expect("the head");
    // Half the deadline's worth of bytes, then silence: a body still arriving when the server
    // answers would make its close a reset, which may discard the answer before it is read.
    // The head test above shows that a trickle that keeps going is cut all the same.
    let count = (DEADLINE.as_millis() / TRICKLE_GAP.as_millis() / 2) as usize;
    let trickling = trickle_at_most(write, b'a', count);

    let closed = until_closed(&mut read).await;
    trickling.abort();
    let (received, closed_at) =
        closed.expect("a body still trickling after 15 s: the connection was never cut off");
    let took = closed_at - started;
    assert!(
        took >= DEADLINE,
        "closed after {took:?}, before the deadline"
    );
    let answer = String::from_utf8_lossy(&received);
    assert!(
        answer.starts_with("HTTP/1.1 408 "),
        "the body's deadline answers 408: {answer}"
    );
    assert!(
        answer.contains("That request arrived too slowly."),
        "the page says why: {answer}"
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_while_new_ones_are_served() {
    let app = app_with_short_deadlines().await;
    let (mut idle_read, mut idle_write) = connect(&app).await.into_split();
    let asked = Instant::now();
    idle_write.write_all(HEALTHZ).await.expect("a request");
    let (status, _) = read_response(&mut idle_read).await;
    assert_eq!(status, 200);
    // The first connection now sits idle, kept alive; a second is served all the same.
    let (mut read, mut write) = connect(&app).await.into_split();
    write.write_all(HEALTHZ).await.expect("a request");
    assert_eq!(read_response(&mut read).await.0, 200);

    let (received, closed_at) = until_closed(&mut idle_read)
        .await
        .expect("an idle kept-alive connection still open after 15 s");
    assert!(
        received.is_empty(),
        "{}",
        String::from_utf8_lossy(&received)
    );
    let idle_for = closed_at - asked;
    assert!(
        idle_for >= DEADLINE,
        "closed after {idle_for:?}, before the deadline"
    );
}

#[tokio::test]
async fn requests_in_turn_on_one_kept_alive_connection_are_all_served() {
    // A deadline far above what one request takes, even on a loaded machine: nothing here waits.
    let app = spawn_app_with(|settings| {
        settings.header_read_timeout = Duration::from_secs(5);
        settings.body_read_timeout = Duration::from_secs(5);
    })
    .await;
    let (mut read, mut write) = connect(&app).await.into_split();
    for turn in 0..3 {
        write.write_all(HEALTHZ).await.expect("a request");
        let (status, body) = read_response(&mut read).await;
        assert_eq!(status, 200, "request {turn}: {body}");
    }
    // A form post on the same connection is read whole and answered, and the connection lives
    // on. No session and no code waiting, so the verify is refused, but by the app, not a deadline.
    let form = b"code=123456";
    write
        .write_all(
            format!(
                "POST /api/otp/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
                form.len()
            )
            .as_bytes(),
        )
        .await
        .expect("a head");
    write.write_all(form).await.expect("a body");
    let (status, body) = read_response(&mut read).await;
    assert!(
        status != 408 && status < 500,
        "the form was read and answered: {status} {body}"
    );
    write.write_all(HEALTHZ).await.expect("a request");
    assert_eq!(read_response(&mut read).await.0, 200);
}
