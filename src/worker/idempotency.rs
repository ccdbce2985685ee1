//! `Idempotency-Key` on `POST /ai/mcp-servers` and `POST /ai/session-tickets`.
//!
//! The key is claimed in D1 before any work starts (`INSERT … ON CONFLICT DO NOTHING`), so of
//! two concurrent requests with one key exactly one does the work (one registration at the
//! provider); the other waits for its answer. A finished 2xx answer is kept 24 hours, sealed
//! (a session ticket is a secret), and answered again, with `Idempotent-Replayed: true`, to
//! the same key with the same body; the same key with another body is 409
//! `idempotency_conflict`. An answer that is not 2xx is not kept: a retry runs again.
//! Bodies are compared as JSON (member order and white space do not matter).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use worker::{D1Database, Delay, Headers, Request, RequestInit, Response};

use super::error::{ApiError, ApiResult};
use super::http::read_capped;
use super::store::platform as pstore;
use super::{now, Settings};
use crate::seal;

pub const HEADER: &str = "idempotency-key";
/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;
/// An unfinished claim older than this belongs to a request that died: it may be taken over.
const STALE_CLAIM_SECS: u64 = 120;
/// How long a duplicate waits for the first request's answer.
const WAIT_TRIES: u32 = 150;
const WAIT_MS: u64 = 200;
const MAX_BODY_BYTES: usize = 256 * 1024;

/// A claimed key: [`finish`] stores the answer under it.
pub struct Claim {
    scope: &'static str,
    key: String,
}

pub enum Begin {
    /// The stored answer of an earlier request with this key and body.
    Replay(Response),
    /// Do the work (with a claim when the request carried a key).
    Run(Option<Claim>),
}

#[derive(Serialize, Deserialize)]
struct Stored {
    status: u16,
    body: String,
}

fn aad(scope: &str, key: &str) -> String {
    format!("idempotency:{scope}:{key}")
}

fn body_hash(bytes: &[u8]) -> String {
    // serde_json's maps are sorted: equal JSON values print equally.
    let canonical = serde_json::from_slice::<Value>(bytes)
        .map(|v| v.to_string().into_bytes())
        .unwrap_or_else(|_| bytes.to_vec());
    Sha256::digest(&canonical)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn check_key(key: &str) -> ApiResult<()> {
    if (1..=MAX_KEY_LEN).contains(&key.len()) && key.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        Ok(())
    } else {
        Err(ApiError::InvalidValue { path: "Idempotency-Key".into(), message: "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good choice).".into() })
    }
}

/// Reads the request's key; with one, claims it or finds the earlier answer. The request's
/// body is read here and put back, so the route reads it as usual.
pub async fn begin(
    req: &mut Request,
    db: &D1Database,
    s: &Settings,
    scope: &'static str,
) -> ApiResult<Begin> {
    let Some(key) = req.headers().get(HEADER).ok().flatten() else {
        return Ok(Begin::Run(None));
    };
    check_key(&key)?;
    // Refused by Content-Length before it is read, else read up to the cap (413 beyond).
    let bytes = read_capped(req, MAX_BODY_BYTES).await?;
    let hash = body_hash(&bytes);
    *req = rebuild(req, &bytes)?;
    for _ in 0..WAIT_TRIES {
        let t = now();
        if pstore::claim_key(
            db,
            scope,
            &key,
            &hash,
            t,
            t.saturating_sub(STALE_CLAIM_SECS),
        )
        .await?
        {
            return Ok(Begin::Run(Some(Claim { scope, key })));
        }
        let Some(row) = pstore::get_key(db, scope, &key).await? else {
            continue; // expired or released in between: claim again
        };
        if row.body_hash != hash {
            return Err(ApiError::IdempotencyConflict);
        }
        if let (Some(_), Some(sealed)) = (row.status, row.response_sealed.as_deref()) {
            return replay(s, scope, &key, sealed).map(Begin::Replay);
        }
        // The first request with this key is still running.
        Delay::from(Duration::from_millis(WAIT_MS)).await;
    }
    Err(ApiError::IdempotencyInProgress)
}

fn rebuild(req: &Request, bytes: &[u8]) -> ApiResult<Request> {
    let mut init = RequestInit::new();
    init.with_method(req.method())
        .with_headers(req.headers().clone())
        .with_body(Some(js_sys::Uint8Array::from(bytes).into()));
    Ok(Request::new_with_init(req.url()?.as_str(), &init)?)
}

fn replay(s: &Settings, scope: &str, key: &str, sealed: &str) -> ApiResult<Response> {
    let stored: Stored = seal::open(&s.seal_key, sealed, aad(scope, key).as_bytes())
        .ok()
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or(ApiError::Unsealable {
            what: "A stored idempotent answer",
        })?;
    respond(stored.status, stored.body, true)
}

fn respond(status: u16, body: String, replayed: bool) -> ApiResult<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json; charset=utf-8")?;
    headers.set("cache-control", "no-store")?;
    if replayed {
        headers.set("idempotent-replayed", "true")?;
    }
    Ok(Response::ok(body)?
        .with_status(status)
        .with_headers(headers))
}

/// Stores a 2xx answer under the claim (sealed) and gives it back; gives the claim up for
/// any other outcome.
pub async fn finish(
    db: &D1Database,
    s: &Settings,
    claim: Option<Claim>,
    result: ApiResult,
) -> ApiResult {
    let Some(claim) = claim else {
        return result;
    };
    let mut resp = match result {
        Ok(resp) if (200..300).contains(&resp.status_code()) => resp,
        other => {
            pstore::release_key(db, claim.scope, &claim.key).await?;
            return other;
        }
    };
    let status = resp.status_code();
    let body = resp.text().await?;
    let stored = serde_json::to_vec(&Stored {
        status,
        body: body.clone(),
    })
    .map_err(|_| ApiError::Internal {
        what_failed: "The answer to keep for this Idempotency-Key could not be written as JSON",
    })?;
    let sealed = seal::seal(
        &s.seal_key,
        &stored,
        aad(claim.scope, &claim.key).as_bytes(),
    )
    .map_err(|_| ApiError::Internal {
        what_failed: "The answer to keep for this Idempotency-Key could not be sealed",
    })?;
    pstore::finish_key(db, claim.scope, &claim.key, status, &sealed).await?;
    respond(status, body, false)
}
