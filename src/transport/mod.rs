//! The only door between the core and the network. The core plans [`HttpRequest`]s and judges
//! [`HttpResponse`]s; an adapter (browser or Node fetch, the Worker's fetch, a test replay)
//! implements [`Transport`] and does the I/O, enforcing each request's timeout and body cap.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Default bound on one request (discovery.md §1).
pub const DEFAULT_TIMEOUT_MS: u32 = 8_000;

/// HTTP method of a planned request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// A request the core wants sent. Redirects are never followed (`redirect: "manual"`).
///
/// `Debug` never shows the body or the `authorization` header: token and registration
/// requests carry secrets there.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The adapter fails the request with [`TransportErrorKind::Timeout`] after this long.
    pub timeout_ms: u32,
    /// The adapter reads at most this many body bytes; past it, it stops reading and sets
    /// [`HttpResponse::body_too_large`]. 0 means: do not read the body at all.
    pub max_body_bytes: usize,
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                let secret =
                    n.eq_ignore_ascii_case("authorization") || n.eq_ignore_ascii_case("cookie");
                (n.as_str(), if secret { "[redacted]" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field(
                "body",
                &self
                    .body
                    .as_ref()
                    .map(|b| format!("[{} bytes redacted]", b.len())),
            )
            .field("timeout_ms", &self.timeout_ms)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl HttpRequest {
    pub fn get(url: impl Into<String>) -> Self {
        HttpRequest {
            method: Method::Get,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_body_bytes: 0,
        }
    }

    pub fn post(url: impl Into<String>, content_type: &str, body: String) -> Self {
        HttpRequest {
            method: Method::Post,
            url: url.into(),
            headers: vec![("content-type".into(), content_type.into())],
            body: Some(body),
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_body_bytes: 0,
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.timeout_ms = ms;
        self
    }

    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = n;
        self
    }
}

/// A response as the adapter read it. Header names are lower-case; a header sent more than
/// once appears once per value, in order (a fetch adapter sees them comma-joined, which the
/// challenge parser reads the same way).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// 0 for a browser's opaque redirect (`redirect: "manual"` hides the 3xx status).
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body as text, at most `max_body_bytes` of it.
    #[serde(default)]
    pub body: String,
    /// The body was longer than `max_body_bytes`.
    #[serde(default)]
    pub body_too_large: bool,
}

impl HttpResponse {
    pub fn new(status: u16) -> Self {
        HttpResponse {
            status,
            ..Default::default()
        }
    }

    /// The first value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order.
    pub fn headers_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A 3xx, or a browser's opaque redirect.
    pub fn is_redirect(&self) -> bool {
        self.status == 0 || (300..400).contains(&self.status)
    }
}

/// Why no response arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportErrorKind {
    /// The fetch rejected: DNS, TLS, connection refused, or CORS in a browser.
    Network,
    /// The request's `timeout_ms` passed.
    Timeout,
    /// The caller's abort signal fired.
    Aborted,
    /// The target is refused by policy before anything was sent.
    Blocked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportError {
    pub kind: TransportErrorKind,
    #[serde(default)]
    pub message: String,
}

impl TransportError {
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError {
            kind,
            message: message.into(),
        }
    }
}

impl TransportErrorKind {
    pub const ALL: [TransportErrorKind; 4] = [
        TransportErrorKind::Network,
        TransportErrorKind::Timeout,
        TransportErrorKind::Aborted,
        TransportErrorKind::Blocked,
    ];

    /// The names of [`TransportErrorKind::ALL`], as serialized.
    const NAMES: [&str; 4] = ["network", "timeout", "aborted", "blocked"];
}

/// The answer of the npm package's fetch adapter (pkg/core.js), `{"response": HttpResponse}`
/// or `{"error": TransportError}` (a response wins when both are given); `None` when it is
/// neither. It reads what the derived `Deserialize` reads from an object (absent fields
/// defaulted, `null` only for `response` and `error`, exactly two strings per header), without
/// serde's typed deserialization, which would make the module much larger. Forms the adapter
/// never sends and only serde would accept (a struct as an array, a variant as `{"name":
/// null}`) are refused.
pub fn adapter_answer(v: &Value) -> Option<Result<HttpResponse, TransportError>> {
    let v = v.as_object()?;
    let present = |k: &str| v.get(k).filter(|x| !x.is_null());
    let response = match present("response") {
        Some(r) => Some(response_of(r.as_object()?)?),
        None => None,
    };
    let error = match present("error") {
        Some(e) => Some(error_of(e.as_object()?)?),
        None => None,
    };
    match (response, error) {
        (Some(r), _) => Some(Ok(r)),
        (None, Some(e)) => Some(Err(e)),
        (None, None) => None,
    }
}

fn response_of(r: &serde_json::Map<String, Value>) -> Option<HttpResponse> {
    let mut headers = Vec::new();
    if let Some(list) = r.get("headers") {
        for pair in list.as_array()? {
            let [name, value] = pair.as_array()?.as_slice() else {
                return None;
            };
            headers.push((name.as_str()?.to_string(), value.as_str()?.to_string()));
        }
    }
    Some(HttpResponse {
        status: u16::try_from(r.get("status")?.as_u64()?).ok()?,
        headers,
        body: string_or_empty(r.get("body"))?,
        body_too_large: match r.get("body_too_large") {
            Some(b) => b.as_bool()?,
            None => false,
        },
    })
}

fn error_of(e: &serde_json::Map<String, Value>) -> Option<TransportError> {
    let kind = e.get("kind")?.as_str()?;
    let i = TransportErrorKind::NAMES.iter().position(|n| *n == kind)?;
    Some(TransportError::new(
        TransportErrorKind::ALL[i],
        string_or_empty(e.get("message"))?,
    ))
}

/// An absent field is empty; a present one must be a string.
fn string_or_empty(v: Option<&Value>) -> Option<String> {
    match v {
        Some(s) => s.as_str().map(str::to_string),
        None => Some(String::new()),
    }
}

/// What an adapter's `send` returns.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<HttpResponse, TransportError>> + 'a>>;

/// The I/O half. Implementations must: not follow redirects, fail with `Timeout` after
/// `timeout_ms`, read at most `max_body_bytes` of the body, and never panic.
pub trait Transport {
    fn send(&self, request: HttpRequest) -> SendFuture<'_>;

    /// Milliseconds from any fixed origin, used only to fill the trace's `ms`. The default
    /// (no clock) reports 0.
    fn now_ms(&self) -> f64 {
        0.0
    }
}

pub(crate) mod shape;

#[cfg(test)]
mod tests;
