//! The HTML page the consent callback answers with (api.md, "The callback page").
//!
//! Every dynamic string is HTML-escaped. With a return origin, the page tells
//! `window.opener` the result by `postMessage` to exactly that origin and closes itself: the
//! data sits in a `<script type="application/json">` island (escaped so no value can end the
//! element) and a nonce'd script parses it; no untrusted text is ever concatenated into
//! JavaScript. Without a return origin the page holds no script at all.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::callback::{CallbackError, PendingConsent};

/// The `type` of the message posted to the opener.
pub const MESSAGE_TYPE: &str = "mcp-authlink:consent";
/// The `id` of the JSON data island.
pub const DATA_ELEMENT_ID: &str = "mcp-authlink-consent";

/// Fixed script: reads the island, posts to the opener with the island's origin, closes.
const SCRIPT: &str = r#"(function () {
  var el = document.getElementById("mcp-authlink-consent");
  var data = JSON.parse(el.textContent);
  if (!window.opener || window.opener.closed) return;
  try { window.opener.postMessage(data.message, data.target_origin); } catch (e) { return; }
  window.close();
})();"#;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;\
padding:0 1rem;line-height:1.5;color:#1b1b1b}h1{font-size:1.5rem}code{background:#f2f2f2;\
padding:0 .25em}.error h1{color:#a4000f}.connected h1{color:#0b6b2f}";

/// The outcome shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStatus {
    Connected,
    Error,
}

impl PageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PageStatus::Connected => "connected",
            PageStatus::Error => "error",
        }
    }
}

/// What the callback page says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentPage {
    pub status: PageStatus,
    pub server_id: Option<String>,
    pub server_name: Option<String>,
    /// A stable code (`CallbackError::code`), posted to the opener as `error`.
    pub error_code: Option<String>,
    pub message: String,
    /// The origin to `postMessage` to. Only a serialised http(s) origin is used; anything
    /// else (`*`, a path, a URL with a path) gives the plain page.
    pub return_origin: Option<String>,
    /// The flow's id, posted to the opener as `flow_id` (`None` when unknown).
    pub flow_id: Option<String>,
}

impl ConsentPage {
    /// The success page for `pending`'s server.
    pub fn connected(pending: &PendingConsent, server_name: Option<String>) -> Self {
        let message = match &server_name {
            Some(name) => {
                format!("{name} is connected. You can close this window and go back to the app.")
            }
            None => "The server is connected. You can close this window and go back to the app."
                .to_owned(),
        };
        ConsentPage {
            status: PageStatus::Connected,
            server_id: Some(pending.server_id.clone()),
            server_name,
            error_code: None,
            message,
            return_origin: pending.return_origin.clone(),
            flow_id: Some(pending.flow_id.clone()).filter(|f| !f.is_empty()),
        }
    }

    /// The error page. `pending` is `None` when the state was missing or unknown: the page
    /// then names no server and posts nothing (there is no trusted origin to post to).
    pub fn error(
        err: &CallbackError,
        pending: Option<&PendingConsent>,
        server_name: Option<String>,
    ) -> Self {
        ConsentPage {
            status: PageStatus::Error,
            server_id: pending.map(|p| p.server_id.clone()),
            server_name,
            error_code: Some(err.code().to_owned()),
            message: err.message(),
            return_origin: pending.and_then(|p| p.return_origin.clone()),
            flow_id: pending.map(|p| p.flow_id.clone()).filter(|f| !f.is_empty()),
        }
    }
}

/// An HTTP response, ready for the adapter to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// 200 when connected, 400 on error.
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// A fresh CSP nonce: base64url of 18 random bytes (24 characters).
///
/// # Panics
/// When the platform's secure random source fails (then no `state` could be made either).
pub fn new_nonce() -> String {
    let mut buf = [0u8; 18];
    getrandom::fill(&mut buf).expect("the platform's secure random source failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// Escapes `& < > " '` for HTML text and quoted attribute values.
pub fn escape_html(s: &str) -> String {
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

/// JSON for a `<script type="application/json">` element: `<`, `>`, `&`, U+2028 and U+2029
/// as `\u` escapes, so no value can close the element or open a comment.
pub fn json_for_script(value: &Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(c),
        }
    }
    out
}

/// A nonce usable in a header and an attribute: 16 to 128 base64 / base64url characters.
fn valid_nonce(nonce: &str) -> bool {
    (16..=128).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'/' | b'='))
}

/// `origin` when it is exactly a serialised http(s) origin (`https://app.example.com[:port]`).
fn exact_origin(origin: &str) -> Option<&str> {
    let url = url::Url::parse(origin).ok()?;
    if !matches!(url.scheme(), "https" | "http") {
        return None;
    }
    (url.origin().ascii_serialization() == origin).then_some(origin)
}

/// The CSP for `nonce` (`None`: no script or style may run at all).
fn csp(nonce: Option<&str>) -> String {
    let (script, style) = match nonce {
        Some(n) => (format!("'nonce-{n}'"), format!("'nonce-{n}'")),
        None => ("'none'".to_owned(), "'none'".to_owned()),
    };
    format!(
        "default-src 'none'; script-src {script}; style-src {style}; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'"
    )
}

/// Renders the page. `nonce` should come from [`new_nonce`], fresh per response; a nonce that
/// is not 16-128 base64 characters is not used: the page then carries no script or style and
/// its CSP allows none.
pub fn render(page: &ConsentPage, nonce: &str) -> Rendered {
    let nonce = valid_nonce(nonce).then_some(nonce);
    let connected = page.status == PageStatus::Connected;
    let heading = if connected {
        "Connected"
    } else {
        "Could not connect"
    };
    let name = page.server_name.as_deref().filter(|n| !n.is_empty());
    let title = match name {
        Some(n) => format!("{heading}: {}", escape_html(n)),
        None => heading.to_owned(),
    };

    let mut body = String::with_capacity(2048);
    body.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    body.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    body.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n");
    body.push_str(&format!("<title>{title}</title>\n"));
    if let Some(n) = nonce {
        body.push_str(&format!("<style nonce=\"{n}\">{STYLE}</style>\n"));
    }
    body.push_str("</head>\n");
    body.push_str(&format!(
        "<body class=\"{}\">\n<main>\n",
        page.status.as_str()
    ));
    body.push_str(&format!("<h1>{heading}</h1>\n"));
    let role = if connected { "status" } else { "alert" };
    body.push_str(&format!(
        "<p role=\"{role}\">{}</p>\n",
        escape_html(&page.message)
    ));
    if let Some(n) = name {
        body.push_str(&format!(
            "<p>Server: <strong>{}</strong></p>\n",
            escape_html(n)
        ));
    }
    if let Some(code) = &page.error_code {
        body.push_str(&format!(
            "<p>Error code: <code>{}</code></p>\n",
            escape_html(code)
        ));
    }
    body.push_str("<p>You can close this window.</p>\n</main>\n");

    let origin = page.return_origin.as_deref().and_then(exact_origin);
    if let (Some(origin), Some(n)) = (origin, nonce) {
        let mut message = Map::new();
        message.insert("type".into(), json!(MESSAGE_TYPE));
        message.insert("flow_id".into(), json!(page.flow_id));
        message.insert("status".into(), json!(page.status.as_str()));
        message.insert("server_id".into(), json!(page.server_id));
        if !connected {
            message.insert("error".into(), json!(page.error_code));
        }
        let data = json!({ "target_origin": origin, "message": Value::Object(message) });
        body.push_str(&format!(
            "<script type=\"application/json\" id=\"{DATA_ELEMENT_ID}\">{}</script>\n",
            json_for_script(&data)
        ));
        body.push_str(&format!("<script nonce=\"{n}\">\n{SCRIPT}\n</script>\n"));
    }
    body.push_str("</body>\n</html>\n");

    let headers = [
        ("content-type", "text/html; charset=utf-8".to_owned()),
        ("content-security-policy", csp(nonce)),
        ("cache-control", "no-store".to_owned()),
        ("pragma", "no-cache".to_owned()),
        ("referrer-policy", "no-referrer".to_owned()),
        ("x-content-type-options", "nosniff".to_owned()),
        ("x-frame-options", "DENY".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();

    Rendered {
        status: if connected { 200 } else { 400 },
        headers,
        body,
    }
}
