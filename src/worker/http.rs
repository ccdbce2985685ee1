//! HTTP translation for the Worker: the API's error envelope, JSON bodies (size-capped),
//! bearer credentials and CORS for the runtime plane.

use serde::Serialize;
use serde_json::{json, Value};
use worker::{Headers, Request, Response};

use crate::config::ConfigError;

/// Largest JSON request body accepted.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// An API error: `{"errors": [{code, message, path?}]}` with a status, plus optional extra
/// top-level members (the discovery result of `auth_required`).
#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub errors: Vec<Value>,
    pub extra: Option<(&'static str, Value)>,
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            errors: vec![json!({"code": code, "message": message.into()})],
            extra: None,
        }
    }

    pub fn at(status: u16, code: &str, message: impl Into<String>, path: &str) -> ApiError {
        ApiError {
            status,
            errors: vec![json!({"code": code, "message": message.into(), "path": path})],
            extra: None,
        }
    }

    /// 400 `invalid_request` followed by every field error.
    pub fn invalid(errors: &[ConfigError]) -> ApiError {
        let mut list = vec![json!({
            "code": "invalid_request",
            "message": format!("The request body has {} problem(s); each is listed with its path.", errors.len()),
        })];
        list.extend(
            errors
                .iter()
                .map(|e| serde_json::to_value(e).unwrap_or(Value::Null)),
        );
        ApiError {
            status: 400,
            errors: list,
            extra: None,
        }
    }

    pub fn with(mut self, key: &'static str, value: Value) -> ApiError {
        self.extra = Some((key, value));
        self
    }

    /// 409 `not_configured`: the stored config lacks what the operation needs.
    pub fn not_configured(what: &str) -> ApiError {
        ApiError::new(
            409,
            "not_configured",
            format!("The server's config lacks {what}: update it."),
        )
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(404, "not_found", format!("No {what} with that id."))
    }

    pub fn into_response(self) -> worker::Result<Response> {
        let mut body = json!({ "errors": self.errors });
        if let Some((k, v)) = self.extra {
            body[k] = v;
        }
        Ok(json_response(&body, self.status))
    }
}

impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> ApiError {
        // The detail goes to the log only: it may name internals.
        worker::console_error!("internal error: {e}");
        ApiError::new(
            500,
            "internal_error",
            "The Worker failed to complete the request; retry, and check the Worker's logs.",
        )
    }
}

pub type ApiResult<T = Response> = Result<T, ApiError>;

pub fn json_response<T: Serialize>(value: &T, status: u16) -> Response {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json; charset=utf-8");
    let _ = headers.set("cache-control", "no-store");
    Response::ok(body)
        .map(|r| r.with_status(status).with_headers(headers))
        .unwrap_or_else(|_| Response::empty().unwrap())
}

pub fn no_content() -> Response {
    let headers = Headers::new();
    let _ = headers.set("cache-control", "no-store");
    Response::empty()
        .map(|r| r.with_status(204).with_headers(headers))
        .unwrap_or_else(|_| Response::empty().unwrap())
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

/// The request body, refused past `max` bytes (by `Content-Length` before reading, then by
/// what was read).
pub async fn read_capped(req: &mut Request, max: usize) -> ApiResult<Vec<u8>> {
    let too_large = || {
        ApiError::new(
            413,
            "body_too_large",
            format!("The body is over {max} bytes."),
        )
    };
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let bytes = req
        .bytes()
        .await
        .map_err(|_| ApiError::new(400, "invalid_body", "The body could not be read."))?;
    if bytes.len() > max {
        return Err(too_large());
    }
    Ok(bytes)
}

async fn body_bytes(req: &mut Request) -> ApiResult<Vec<u8>> {
    let bytes = req
        .bytes()
        .await
        .map_err(|_| ApiError::new(400, "invalid_json", "The body could not be read."))?;
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(
            413,
            "body_too_large",
            "The body is over 256 KiB.",
        ));
    }
    Ok(bytes)
}

fn parse_object(bytes: &[u8]) -> ApiResult<Value> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            400,
            "invalid_json",
            format!("The body is not JSON ({e}): send a JSON object."),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::new(
            400,
            "invalid_json",
            "The body must be a JSON object.",
        ));
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
