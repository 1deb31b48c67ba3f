//! The development outbox: every code the emulator "sends" lands here instead of in an inbox or
//! on a phone. Tests read it as JSON (with a long poll); people read it as an HTML page (the
//! endpoints are in `handlers/dev.rs`).
//!
//! It lives in memory only: it is a development aid, and codes from before a restart are void
//! anyway (pending codes are not persisted either).

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;

use super::otp::{is_email, mask_email, mask_phone};

/// One delivered code. The field names are a fixed contract with other engineers' tests.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: u64,
    pub channel: String,
    pub destination: String,
    pub login_id: String,
    pub purpose: String,
    pub code: String,
    pub sent_at: i64,
    pub template_options: Option<Value>,
}

/// A message before it has an id.
pub struct NewMessage {
    pub channel: &'static str,
    pub destination: String,
    pub login_id: String,
    pub purpose: &'static str,
    pub code: String,
    pub sent_at: i64,
    pub template_options: Option<Value>,
}

#[derive(Debug)]
pub struct Outbox {
    messages: Mutex<Vec<Message>>,
    /// The id of the newest message; long polls wait for it to change.
    latest: watch::Sender<u64>,
}

impl Default for Outbox {
    fn default() -> Self {
        Self {
            messages: Mutex::new(Vec::new()),
            latest: watch::Sender::new(0),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    pub destination: Option<String>,
    pub login_id: Option<String>,
}

impl Filter {
    fn matches(&self, m: &Message) -> bool {
        self.destination
            .as_deref()
            .is_none_or(|d| d.is_empty() || d == m.destination)
            && self
                .login_id
                .as_deref()
                .is_none_or(|l| l.is_empty() || l == m.login_id)
    }
}

impl Outbox {
    /// Records a delivery and wakes long polls. Logs it without the code: codes never reach logs.
    pub fn deliver(&self, new: NewMessage) -> Message {
        let mut messages = self.lock();
        // The id is taken and published under the lock, so concurrent deliveries can neither
        // share an id nor publish them out of order.
        let id = *self.latest.borrow() + 1;
        let message = Message {
            id,
            channel: new.channel.to_string(),
            destination: new.destination,
            login_id: new.login_id,
            purpose: new.purpose.to_string(),
            code: new.code,
            sent_at: new.sent_at,
            template_options: new.template_options,
        };
        messages.push(message.clone());
        self.latest.send_replace(id);
        drop(messages);
        // The embedded emulator logs into the app's own log: addresses masked there too (the
        // outbox page shows them whole; it is not a log).
        tracing::info!(
            id,
            channel = %message.channel,
            destination = %masked(&message.destination),
            login_id = %masked(&message.login_id),
            purpose = %message.purpose,
            "emulator delivered a one-time code (see the outbox)"
        );
        message
    }

    /// Matching messages, newest first.
    pub fn list(&self, filter: &Filter) -> Vec<Message> {
        self.lock()
            .iter()
            .rev()
            .filter(|m| filter.matches(m))
            .cloned()
            .collect()
    }

    /// How many long polls are parked right now (lets tests wait for one without sleeping).
    #[cfg(test)]
    pub fn waiters(&self) -> usize {
        self.latest.receiver_count()
    }

    pub fn clear(&self) {
        // Ids keep increasing across a clear so `after=` cursors stay meaningful.
        self.lock().clear();
    }

    fn newest_after(&self, filter: &Filter, after: u64) -> Option<Message> {
        self.lock()
            .iter()
            .rev()
            .find(|m| m.id > after && filter.matches(m))
            .cloned()
    }

    /// The newest matching message with an id above `after`, waiting up to `timeout` for one.
    pub async fn wait(&self, filter: &Filter, after: u64, timeout: Duration) -> Option<Message> {
        // Subscribe before looking so a delivery between the look and the wait is not missed.
        let mut changes = self.latest.subscribe();
        let look = async {
            loop {
                if let Some(m) = self.newest_after(filter, after) {
                    return m;
                }
                if changes.changed().await.is_err() {
                    // The sender lives as long as `self`; this cannot happen while we borrow it.
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(timeout, look).await.ok()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Message>> {
        // A poisoned lock only means another thread panicked mid-push; the Vec is still usable.
        self.messages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The page a person looks at instead of grepping logs (`GET /outbox`), newest first. No JS; it
/// reloads itself.
pub fn page_html(messages: &[Message]) -> String {
    let mut rows = String::new();
    for m in messages {
        let template = m
            .template_options
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_default();
        rows.push_str(&format!(
            "<tr><td class=\"code\">{code}</td><td><span class=\"chan\">{channel}</span></td>\
             <td>{destination}<div class=\"muted\">login id: {login_id}</div></td>\
             <td>{purpose}</td><td>{time}<div class=\"muted\">#{id}</div></td>\
             <td class=\"muted\">{template}</td></tr>\n",
            code = escape(&m.code),
            channel = escape(&m.channel),
            destination = escape(&m.destination),
            login_id = escape(&m.login_id),
            purpose = escape(&m.purpose),
            time = escape(&format_time(m.sent_at)),
            id = m.id,
            template = escape(&template),
        ));
    }
    if messages.is_empty() {
        rows.push_str("<tr><td colspan=\"6\" class=\"muted\">No codes sent yet. This page refreshes every 3 seconds.</td></tr>");
    }
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="3">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Descope emulator outbox</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1d1d1f; background: #fafafa; }}
h1 {{ font-size: 1.4rem; }}
table {{ border-collapse: collapse; width: 100%; background: #fff; }}
th, td {{ text-align: left; padding: .6rem .8rem; border-bottom: 1px solid #e3e3e3; vertical-align: top; }}
th {{ font-size: .8rem; text-transform: uppercase; color: #666; }}
.code {{ font-family: ui-monospace, monospace; font-size: 2rem; font-weight: bold; letter-spacing: .2rem; }}
.chan {{ background: #e8f0fe; color: #1a4fa0; border-radius: .3rem; padding: .1rem .4rem; }}
.muted {{ color: #777; font-size: .85rem; }}
</style></head>
<body>
<h1>Descope emulator outbox</h1>
<p class="muted">Newest first. Codes shown here were never sent anywhere. JSON: <code>/emulator/outbox</code></p>
<table>
<thead><tr><th>Code</th><th>Channel</th><th>Destination</th><th>Purpose</th><th>Sent (UTC)</th><th>Template options</th></tr></thead>
<tbody>
{rows}</tbody></table>
</body></html>
"#
    )
}

fn format_time(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// HTML-escapes text for element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// An email address or phone number as the emulator writes it in a log line: masked.
fn masked(address: &str) -> String {
    if is_email(address) {
        mask_email(address)
    } else {
        mask_phone(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(dest: &str) -> NewMessage {
        NewMessage {
            channel: "email",
            destination: dest.into(),
            login_id: dest.into(),
            purpose: "signin",
            code: "123456".into(),
            sent_at: 0,
            template_options: None,
        }
    }

    #[test]
    fn markup_in_values_is_escaped() {
        assert_eq!(
            escape("<b a=\"x\">&'"),
            "&lt;b a=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_deliveries_get_distinct_increasing_ids() {
        let outbox = std::sync::Arc::new(Outbox::default());
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let outbox = outbox.clone();
                tokio::spawn(async move { outbox.deliver(new(&format!("{i}@x.io"))).id })
            })
            .collect();
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap());
        }
        ids.sort_unstable();
        assert_eq!(ids, (1..=32).collect::<Vec<u64>>());
    }

    #[test]
    fn the_list_is_newest_first_and_filtered() {
        let outbox = Outbox::default();
        outbox.deliver(new("a@x.io"));
        outbox.deliver(new("b@x.io"));
        outbox.deliver(new("a@x.io"));
        let all = outbox.list(&Filter::default());
        assert_eq!(all.iter().map(|m| m.id).collect::<Vec<_>>(), vec![3, 2, 1]);
        let only_a = outbox.list(&Filter {
            destination: Some("a@x.io".into()),
            login_id: None,
        });
        assert_eq!(only_a.iter().map(|m| m.id).collect::<Vec<_>>(), vec![3, 1]);
    }
}
