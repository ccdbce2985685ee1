//! HTTP translation for the Worker: JSON answers and bodies (size-capped), bearer
//! credentials and CORS for the runtime plane. The error answer is `super::error`.

use serde::Serialize;
use serde_json::Value;
use worker::{Headers, Request, Response};

use super::error::{ApiError, ApiResult};

/// Largest JSON request body accepted.
const MAX_BODY_BYTES: usize = 256 * 1024;

pub fn json_response<T: Serialize>(value: &T, status: u16) -> Response {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json; charset=utf-8");
    let _ = headers.set("cache-control", "no-store");
    Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(body.into_bytes())
}

pub fn no_content() -> Response {
    let headers = Headers::new();
    let _ = headers.set("cache-control", "no-store");
    Response::builder()
        .with_status(204)
        .with_headers(headers)
        .empty()
}

/// The request's JSON object body, at most 256 KiB.
pub async fn json_body(req: &mut Request) -> ApiResult<Value> {
    let bytes = body_bytes(req).await?;
    parse_object(&bytes)
}

/// Like [`json_body`], but an empty body is `{}` (routes whose body is optional).
pub async fn optional_json_body(req: &mut Request) -> ApiResult<Value> {
    let bytes = body_bytes(req).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    parse_object(&bytes)
}

fn too_large(max: usize) -> ApiError {
    ApiError::BodyTooLarge { max_bytes: max }
}

/// Whether a `Content-Length` value announces more than `max` bytes (a value that is not a
/// number is left to the read, which is capped anyway).
fn announced_too_large(content_length: Option<&str>, max: usize) -> bool {
    content_length
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > max as u64)
}

/// The JSON body, at most [`MAX_BODY_BYTES`].
async fn body_bytes(req: &mut Request) -> ApiResult<Vec<u8>> {
    read_capped(req, MAX_BODY_BYTES).await
}

/// The request body, at most `max` bytes: refused by its `Content-Length` before any of it is
/// read, and otherwise (chunked, or a length that lies) read as a stream that stops at the
/// cap.
pub async fn read_capped(req: &mut Request, max: usize) -> ApiResult<Vec<u8>> {
    use futures_util::StreamExt;
    let length = req.headers().get("content-length").ok().flatten();
    if announced_too_large(length.as_deref(), max) {
        return Err(too_large(max));
    }
    if req.inner().body().is_none() {
        return Ok(Vec::new());
    }
    let mut stream = req.stream().map_err(|_| ApiError::BodyUnreadable)?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::BodyUnreadable)?;
        if bytes.len() + chunk.len() > max {
            return Err(too_large(max));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn parse_object(bytes: &[u8]) -> ApiResult<Value> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| ApiError::NotJson {
        reason: e.to_string(),
    })?;
    if !value.is_object() {
        return Err(ApiError::NotAnObject);
    }
    Ok(value)
}

/// The token of `Authorization: Bearer <token>`.
pub fn bearer(req: &Request) -> Option<String> {
    let value = req.headers().get("authorization").ok()??;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// Constant-time equality of two secrets (compares their SHA-256 digests).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// Whether browsers call this path from the app's pages (the runtime routes that answer CORS):
/// `/service/mcp/agents/…`, `/service/mcp/consent/flows/…` and `/service/mcp/discover`.
pub fn is_cors_path(path: &str) -> bool {
    path.starts_with("/service/mcp/agents/")
        || path.starts_with("/service/mcp/consent/flows/")
        || path == "/service/mcp/discover"
}

/// CORS headers for an allowed origin (exact match), added to a runtime-plane response.
pub fn with_cors(mut resp: Response, origin: Option<&str>, allowed: &[String]) -> Response {
    let Some(origin) = origin.filter(|o| allowed.iter().any(|a| a == o)) else {
        return resp;
    };
    let h = resp.headers_mut();
    let _ = h.set("access-control-allow-origin", origin);
    let _ = h.set("vary", "origin");
    let _ = h.set(
        "access-control-allow-headers",
        "authorization, content-type",
    );
    let _ = h.set("access-control-allow-methods", "GET, POST, OPTIONS");
    let _ = h.set("access-control-max-age", "600");
    resp
}
