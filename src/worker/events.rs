//! Events: connection and server events, kept 30 days (listed by `GET /ai/events`, in
//! `platform`), and their signed
//! webhook, delivered through the Cloudflare Queue bound as `WEBHOOK_QUEUE` with retries and
//! exponential backoff (signature and backoff rules: `crate::webhook`).
//!
//! Recording never fails the request that caused the event: a D1 or queue failure is logged
//! and the request goes on.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{D1Database, MessageBatch, MessageExt, QueueRetryOptionsBuilder};

use super::store::platform::{self as pstore, EventRow};
use super::{now, rfc3339, Settings};
use crate::transport::Transport;
use crate::webhook::{backoff_secs, delivered, delivery_request};

/// How long events are kept.
pub const RETENTION_SECS: u64 = 30 * 86_400;
/// The queue binding the webhook deliveries go through.
pub const QUEUE_BINDING: &str = "WEBHOOK_QUEUE";

/// The event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ConnectionConnected,
    ConnectionFailed,
    ConnectionExpired,
    ConnectionRefreshFailed,
    ConnectionDisconnected,
    ServerCreated,
    ServerDeleted,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::ConnectionConnected,
        Kind::ConnectionFailed,
        Kind::ConnectionExpired,
        Kind::ConnectionRefreshFailed,
        Kind::ConnectionDisconnected,
        Kind::ServerCreated,
        Kind::ServerDeleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ConnectionConnected => "connection.connected",
            Kind::ConnectionFailed => "connection.failed",
            Kind::ConnectionExpired => "connection.expired",
            Kind::ConnectionRefreshFailed => "connection.refresh_failed",
            Kind::ConnectionDisconnected => "connection.disconnected",
            Kind::ServerCreated => "server.created",
            Kind::ServerDeleted => "server.deleted",
        }
    }
}

fn new_event_id() -> String {
    let mut bytes = [0u8; 12];
    if getrandom::fill(&mut bytes).is_err() {
        // Unique enough for an event id without a random source: the time and a counter
        // would do too, but getrandom does not fail in workerd.
        return format!("evt-{}", js_sys::Date::now() as u64);
    }
    format!(
        "evt-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// The queue message: the event id only (the event itself is read from D1 at delivery).
#[derive(Debug, Serialize, Deserialize)]
pub struct Delivery {
    pub event_id: String,
}

/// Records an event (D1), and queues its webhook delivery when a webhook is configured.
/// Failures are logged, never returned.
pub async fn record(db: &D1Database, s: &Settings, kind: Kind, data: Value) {
    let id = new_event_id();
    let t = now();
    let stored = pstore::insert_event(
        db,
        &id,
        kind.as_str(),
        &data.to_string(),
        t,
        t.saturating_sub(RETENTION_SECS),
    )
    .await;
    if let Err(e) = stored {
        worker::console_error!("event {}: not stored: {e}", kind.as_str());
        return;
    }
    if s.webhook.is_none() {
        return;
    }
    let Some(queue) = s.webhook_queue.as_ref() else {
        worker::console_error!(
            "event {id}: WEBHOOK_URL is set but the {QUEUE_BINDING} queue is not bound: not delivered"
        );
        return;
    };
    if let Err(e) = queue
        .send(Delivery {
            event_id: id.clone(),
        })
        .await
    {
        worker::console_error!("event {id}: could not be queued for the webhook: {e}");
    }
}

/// An event as the API and the webhook show it.
pub fn event_json(row: &EventRow) -> Value {
    json!({
        "id": row.id,
        "type": row.kind,
        "created_at": rfc3339(row.created_at as u64),
        "data": serde_json::from_str::<Value>(&row.data).unwrap_or(Value::Null),
    })
}

/// The queue consumer: delivers each event to `WEBHOOK_URL`, signed; a failed try is retried
/// after the backoff (`WEBHOOK_RETRY_BASE_SECONDS`, doubled per try, at most an hour), up to
/// the consumer's `max_retries`.
pub async fn deliver_batch(
    batch: MessageBatch<Delivery>,
    db: &D1Database,
    s: &Settings,
) -> worker::Result<()> {
    let Some(hook) = s.webhook.as_ref() else {
        // Deliveries queued while a webhook was configured, now removed: drop them.
        batch.ack_all();
        return Ok(());
    };
    let transport = s.transport();
    for message in batch.iter() {
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                worker::console_error!("webhook: unreadable queue message dropped: {e}");
                continue;
            }
        };
        let event_id = message.body().event_id.clone();
        let Some(row) = pstore::event_by_id(db, &event_id).await? else {
            message.ack(); // swept after 30 days, or never stored
            continue;
        };
        if row.delivered_at.is_some() {
            message.ack();
            continue;
        }
        let body = event_json(&row).to_string();
        let request = delivery_request(&hook.url, &hook.key, &row.id, now(), body);
        let failure = match transport.send(request).await {
            Ok(resp) if delivered(&resp) => None,
            Ok(resp) => Some(format!("the receiver answered HTTP {}", resp.status)),
            Err(e) => Some(format!("the receiver failed: {}", e.message)),
        };
        let attempts =
            pstore::record_delivery(db, &row.id, failure.is_none().then(now), failure.as_deref())
                .await?;
        match failure {
            None => {
                worker::console_log!(
                    "webhook: {} {} delivered (try {attempts})",
                    row.id,
                    row.kind
                );
                message.ack();
            }
            Some(why) => {
                let delay = backoff_secs(attempts as u32, s.webhook_retry_base);
                worker::console_warn!(
                    "webhook: {} {} try {attempts} failed ({why}); retry in {delay} s",
                    row.id,
                    row.kind
                );
                message.retry_with_options(
                    &QueueRetryOptionsBuilder::new()
                        .with_delay_seconds(delay)
                        .build(),
                );
            }
        }
    }
    Ok(())
}

/// `data` of a connection event.
pub fn connection_data(
    connection_id: Option<&str>,
    server_id: &str,
    actor_id: &str,
    reason: Option<&str>,
) -> Value {
    let mut d = json!({ "server_id": server_id, "actor_id": actor_id });
    if let Some(id) = connection_id {
        d["connection_id"] = json!(id);
    }
    if let Some(r) = reason {
        d["reason"] = json!(r);
    }
    d
}
