//! Signed webhooks for the Worker's events: the signature header (HMAC-SHA256 over the
//! timestamp and the body, written like Stripe's `t=...,v1=...`), its verification, the
//! delivery request and the retry backoff. Sans-I/O: the Worker's queue consumer sends the
//! request and reports the answer.
//!
//! Header format (`mcp-authlink-signature`):
//!
//! ```text
//! t=<unix seconds>,v1=<hex(HMAC-SHA256(key = WEBHOOK_SECRET, message = "<t>.<body>"))>
//! ```
//!
//! A receiver recomputes the HMAC over the timestamp, a `.` and the raw body exactly as
//! received, compares in constant time, and refuses timestamps older than its tolerance
//! (replays).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::secret::Secret;
use crate::transport::{HttpRequest, HttpResponse};

type HmacSha256 = Hmac<Sha256>;

/// The header carrying the signature.
pub(crate) const SIGNATURE_HEADER: &str = "mcp-authlink-signature";
/// The header carrying the event id (receivers deduplicate by it: delivery is at least once).
pub(crate) const EVENT_ID_HEADER: &str = "mcp-authlink-event-id";
/// How long one delivery may take.
pub(crate) const DELIVERY_TIMEOUT_MS: u32 = 8_000;
/// Longest backoff between two tries, seconds.
pub(crate) const MAX_BACKOFF_SECS: u32 = 3_600;

/// The HMAC key made from `WEBHOOK_SECRET`. `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct WebhookKey {
    mac: HmacSha256,
}

impl WebhookKey {
    /// The UTF-8 bytes of `secret` as the HMAC key; `None` when it is empty.
    pub(crate) fn new(secret: &Secret) -> Option<WebhookKey> {
        if secret.is_empty() {
            return None;
        }
        // HMAC takes keys of any length: this never fails.
        let mac = <HmacSha256 as KeyInit>::new_from_slice(secret.expose().as_bytes()).ok()?;
        Some(WebhookKey { mac })
    }

    fn mac_over(&self, timestamp: u64, body: &str) -> HmacSha256 {
        let mut m = self.mac.clone();
        m.update(timestamp.to_string().as_bytes());
        m.update(b".");
        m.update(body.as_bytes());
        m
    }
}

impl std::fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookKey([redacted])")
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The value of [`SIGNATURE_HEADER`] for `body` sent at `timestamp`.
pub(crate) fn signature_header(key: &WebhookKey, timestamp: u64, body: &str) -> String {
    let tag = key.mac_over(timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex(&tag))
}

/// Why a signature was refused.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VerifyError {
    /// No `t=` or no `v1=` part, or one that is not a number / hex.
    Malformed,
    /// The timestamp is further than the tolerance from now.
    Stale,
    /// No `v1` signature matches.
    Mismatch,
}

/// Checks a [`SIGNATURE_HEADER`] value against `body` (what a receiver does; the tests use it
/// as the reference, and the Worker never receives webhooks).
#[cfg(test)]
pub(crate) fn verify(
    key: &WebhookKey,
    header: &str,
    body: &str,
    now: u64,
    tolerance_secs: u64,
) -> Result<(), VerifyError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => {
                timestamp = Some(v.parse::<u64>().map_err(|_| VerifyError::Malformed)?)
            }
            Some(("v1", v)) => signatures.push(unhex(v).ok_or(VerifyError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(VerifyError::Malformed)?;
    if signatures.is_empty() {
        return Err(VerifyError::Malformed);
    }
    if now.abs_diff(timestamp) > tolerance_secs {
        return Err(VerifyError::Stale);
    }
    let matches = signatures
        .iter()
        .any(|sig| key.mac_over(timestamp, body).verify_slice(sig).is_ok());
    if matches {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// The POST of one event to the webhook URL, signed at `timestamp`.
pub(crate) fn delivery_request(
    url: &str,
    key: &WebhookKey,
    event_id: &str,
    timestamp: u64,
    body: String,
) -> HttpRequest {
    let signature = signature_header(key, timestamp, &body);
    HttpRequest::post(url, "application/json", body)
        .header(SIGNATURE_HEADER, signature)
        .header(EVENT_ID_HEADER, event_id)
        .header(
            "user-agent",
            concat!("mcp-authlink/", env!("CARGO_PKG_VERSION")),
        )
        .timeout_ms(DELIVERY_TIMEOUT_MS)
        .max_body_bytes(0)
}

/// A delivery counts when the receiver answers 2xx; anything else (redirects included) is
/// retried.
pub(crate) fn delivered(resp: &HttpResponse) -> bool {
    resp.is_success()
}

/// Seconds to wait before try number `attempt + 1`, after `attempt` failed tries (1-based):
/// `base`, `2 base`, `4 base`, ... capped at [`MAX_BACKOFF_SECS`].
pub(crate) fn backoff_secs(attempt: u32, base: u32) -> u32 {
    let factor = 1u32
        .checked_shl(attempt.saturating_sub(1).min(20))
        .unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(MAX_BACKOFF_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> WebhookKey {
        WebhookKey::new(&Secret::new("whsec-test")).unwrap()
    }

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_dot_body() {
        // The MAC covers exactly `<t>.<body>`, nothing else.
        let header = signature_header(&key(), 1_700_000_000, r#"{"a":1}"#);
        let expected = {
            let mut m = <HmacSha256 as KeyInit>::new_from_slice(b"whsec-test").unwrap();
            m.update(br#"1700000000.{"a":1}"#);
            hex(&m.finalize().into_bytes())
        };
        assert_eq!(header, format!("t=1700000000,v1={expected}"));
        assert_eq!(expected.len(), 64);
    }

    #[test]
    fn the_documented_example() {
        // docs/api.md, "Webhook": the same header, computed independently with node:crypto.
        let key = WebhookKey::new(&Secret::new("whsec-example")).unwrap();
        assert_eq!(
            signature_header(&key, 1_764_486_000, r#"{"id":"evt-1"}"#),
            "t=1764486000,v1=0afcdf7b16e0c1a9a36a30b796ce10a786aa1c0a72882b00c7a9ef1bf7e11c03"
        );
    }

    #[test]
    fn verify_accepts_its_own_signature_and_refuses_changes() {
        let body = r#"{"type":"server.created"}"#;
        let header = signature_header(&key(), 100, body);
        assert_eq!(verify(&key(), &header, body, 100, 300), Ok(()));
        assert_eq!(
            verify(&key(), &header, "{}", 100, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(
                &WebhookKey::new(&Secret::new("other")).unwrap(),
                &header,
                body,
                100,
                300
            ),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(&key(), &header, body, 1000, 300),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify(&key(), "v1=00", body, 100, 300),
            Err(VerifyError::Malformed)
        );
        assert_eq!(
            verify(&key(), "t=100", body, 100, 300),
            Err(VerifyError::Malformed)
        );
        assert_eq!(
            verify(&key(), "t=x,v1=00", body, 100, 300),
            Err(VerifyError::Malformed)
        );
        // A moved timestamp breaks the signature.
        let moved = header.replace("t=100", "t=101");
        assert_eq!(
            verify(&key(), &moved, body, 100, 300),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn delivery_request_is_signed_and_names_the_event() {
        let req = delivery_request("https://hooks.example/x", &key(), "evt-1", 5, "{}".into());
        assert_eq!(req.url, "https://hooks.example/x");
        let sig = req
            .headers
            .iter()
            .find(|(k, _)| k == SIGNATURE_HEADER)
            .map(|(_, v)| v.clone())
            .unwrap();
        assert_eq!(verify(&key(), &sig, "{}", 5, 0), Ok(()));
        assert!(req
            .headers
            .iter()
            .any(|(k, v)| k == EVENT_ID_HEADER && v == "evt-1"));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_secs(1, 10), 10);
        assert_eq!(backoff_secs(2, 10), 20);
        assert_eq!(backoff_secs(3, 10), 40);
        assert_eq!(backoff_secs(40, 10), MAX_BACKOFF_SECS);
        assert_eq!(backoff_secs(0, 0), 0);
    }

    #[test]
    fn an_empty_secret_is_no_key() {
        assert!(WebhookKey::new(&Secret::new("")).is_none());
        assert_eq!(format!("{:?}", key()), "WebhookKey([redacted])");
    }

    #[test]
    fn only_2xx_counts_as_delivered() {
        assert!(delivered(&HttpResponse::new(204)));
        assert!(!delivered(&HttpResponse::new(302)));
        assert!(!delivered(&HttpResponse::new(500)));
    }
}
