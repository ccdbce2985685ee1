//! The control plane's platform routes (api.md "Connections", "Events"): connections as a
//! resource (`GET /ai/connections`, `DELETE /ai/connections[/{id}]`) and the event log
//! (`GET /ai/events`). Ending a connection is `connections`; recording events is `events`.

use serde_json::{json, Value};
use worker::{D1Database, Request};

use super::connections;
use super::error::{ApiError, ApiResult};
use super::events;
use super::http::{json_response, no_content};
use super::sealed::open_tokens;
use super::servers::{check_id, check_platform_id};
use super::store::platform::{self as pstore, ConnectionFilter, ConnectionListRow};
use super::{rfc3339, Settings};

const MAX_LIMIT: u32 = 200;

fn connection_cursor(pos: u64) -> String {
    format!("c{pos}")
}

fn parse_connection_cursor(c: &str) -> Option<u64> {
    c.strip_prefix('c')?.parse().ok()
}

/// A connection as the control plane shows it. `token_expires_at` is the current access
/// token's expiry (minutes, typically), not the connection's: a connection lasts until its
/// refresh token is refused (then `status: "expired"`) or it is deleted.
fn connection_json(row: &ConnectionListRow, s: &Settings) -> Value {
    let scopes: Vec<String> = open_tokens(s, &row.server_id, &row.actor_id, &row.tokens_sealed)
        .ok()
        .and_then(|t| t.scope)
        .map(|sc| sc.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let mut v = json!({
        "id": row.id,
        "server_id": row.server_id,
        "actor_id": row.actor_id,
        "status": row.status,
        "scopes": scopes,
        "connected_at": row.connected_at,
        "token_expires_at": row.expires_at.map(|e| rfc3339(e as u64)),
    });
    if let Some(e) = &row.last_error {
        v["last_error"] = json!(e);
    }
    v
}

fn actor_filter(v: &str) -> ApiResult<String> {
    check_platform_id(v, "actor_id")?;
    Ok(v.to_owned())
}

fn server_filter(v: &str) -> ApiResult<String> {
    check_id(v, "server_id")?;
    Ok(v.to_owned())
}

/// `GET /ai/connections?actor_id=&server_id=&status=&limit=&cursor=`.
pub async fn list_connections(req: &Request, db: &D1Database, s: &Settings) -> ApiResult {
    let url = req.url()?;
    let mut filter = ConnectionFilter::default();
    let mut limit = 50u32;
    let mut after = 0u64;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "actor_id" => filter.actor_id = Some(actor_filter(&v)?),
            "server_id" => filter.server_id = Some(server_filter(&v)?),
            "status" => match v.as_ref() {
                "connected" | "expired" => filter.status = Some(v.into_owned()),
                _ => {
                    return Err(ApiError::InvalidValue {
                        path: "status".into(),
                        message: "status must be connected or expired.".into(),
                    })
                }
            },
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| ApiError::InvalidValue {
                        path: "limit".into(),
                        message: "limit must be 1 to 200.".into(),
                    })?
            }
            "cursor" => {
                after = parse_connection_cursor(&v).ok_or_else(|| ApiError::InvalidValue {
                    path: "cursor".into(),
                    message: "cursor must be the next_cursor of an earlier answer.".into(),
                })?
            }
            other => {
                return Err(ApiError::UnknownParameter {
                    name: other.to_owned(),
                    known: "actor_id, server_id, status, limit, cursor",
                })
            }
        }
    }
    let mut rows = pstore::list_connections(db, &filter, after, limit + 1).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|r| connection_cursor(r.pos as u64))
    } else {
        None
    };
    let items: Vec<Value> = rows.iter().map(|r| connection_json(r, s)).collect();
    Ok(json_response(
        &json!({ "items": items, "next_cursor": next_cursor }),
        200,
    ))
}

/// `DELETE /ai/connections/{id}`.
pub async fn delete_connection(db: &D1Database, s: &Settings, id: &str) -> ApiResult {
    check_id(id, "id")?;
    let Some(row) = pstore::connection_by_id(db, id).await? else {
        return Err(ApiError::NotFound { what: "connection" });
    };
    connections::end(db, s, &row, "deleted_by_platform").await?;
    Ok(no_content())
}

/// `DELETE /ai/connections?actor_id=`: every connection of one person.
pub async fn delete_connections_of_actor(
    req: &Request,
    db: &D1Database,
    s: &Settings,
) -> ApiResult {
    let url = req.url()?;
    let mut actor = None;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "actor_id" => actor = Some(actor_filter(&v)?),
            other => {
                return Err(ApiError::UnknownParameter {
                    name: other.to_owned(),
                    known: "actor_id",
                })
            }
        }
    }
    let Some(actor) = actor else {
        return Err(ApiError::Required { path: "actor_id".into(), message: "Name the person: DELETE /ai/connections?actor_id=<actor_id> (or delete one connection by its id).".into() });
    };
    for row in pstore::connections_of_actor(db, &actor).await? {
        connections::end(db, s, &row, "deleted_by_platform").await?;
    }
    Ok(no_content())
}

fn event_cursor(seq: u64) -> String {
    format!("e{seq}")
}

fn parse_event_cursor(c: &str) -> Option<u64> {
    c.strip_prefix('e')?.parse().ok()
}

/// `GET /ai/events?after=&limit=&type=`.
pub async fn list_events(req: &Request, db: &D1Database) -> ApiResult {
    let url = req.url()?;
    let mut after = 0u64;
    let mut limit = 100u32;
    let mut kind = None;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "after" if v.is_empty() => after = 0,
            "after" => {
                after = parse_event_cursor(&v).ok_or_else(|| {
                    ApiError::InvalidValue { path: "after".into(), message: "after must be a next_cursor from an earlier answer (or absent for the oldest events).".into() }
                })?
            }
            "limit" => {
                limit = v.parse().ok().filter(|n| (1..=500).contains(n)).ok_or_else(|| {
                    ApiError::InvalidValue { path: "limit".into(), message: "limit must be 1 to 500.".into() }
                })?
            }
            "type" => {
                let known = events::Kind::ALL.iter().find(|t| t.as_str() == v.as_ref()).ok_or_else(|| {
                    let names: Vec<&str> = events::Kind::ALL.iter().map(|t| t.as_str()).collect();
                    ApiError::InvalidValue { path: "type".into(), message: format!("type must be one of {}.", names.join(", ")) }
                })?;
                kind = Some(known.as_str());
            }
            other => return Err(ApiError::UnknownParameter { name: other.to_owned(), known: "after, limit, type" }),
        }
    }
    let rows = pstore::events_after(db, after, limit, kind).await?;
    let next = rows.last().map(|r| r.seq as u64).unwrap_or(after);
    let items: Vec<Value> = rows.iter().map(events::event_json).collect();
    Ok(json_response(
        &json!({ "items": items, "next_cursor": event_cursor(next) }),
        200,
    ))
}
