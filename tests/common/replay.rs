//! The test replay adapter: a `Transport` that answers from a discovery fixture
//! (format in ../shared/fixtures/README.md), recording every request it is sent.
//! Shared by the native and the wasm test suites.

#![allow(dead_code)]

use std::cell::RefCell;

use mcp_authlink::transport::{
    HttpRequest, HttpResponse, SendFuture, Transport, TransportError, TransportErrorKind,
};
use serde_json::Value;

pub struct Replay {
    routes: Vec<Value>,
    pub sent: RefCell<Vec<HttpRequest>>,
}

impl Replay {
    pub fn new(fixture: &Value) -> Self {
        Replay {
            routes: fixture["routes"].as_array().cloned().unwrap_or_default(),
            sent: RefCell::new(Vec::new()),
        }
    }

    fn answer(&self, req: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let route = self.routes.iter().find(|r| {
            r["url"].as_str() == Some(req.url.as_str())
                && r.get("method")
                    .and_then(Value::as_str)
                    .is_none_or(|m| m.eq_ignore_ascii_case(req.method.as_str()))
        });
        let Some(route) = route else {
            return Ok(HttpResponse::new(404));
        };
        match route.get("error").and_then(Value::as_str) {
            Some("timeout") => {
                return Err(TransportError::new(
                    TransportErrorKind::Timeout,
                    "timed out",
                ))
            }
            Some(_) => {
                return Err(TransportError::new(
                    TransportErrorKind::Network,
                    "TypeError: fetch failed",
                ))
            }
            None => {}
        }
        let mut headers = Vec::new();
        if let Some(Value::Object(h)) = route.get("headers") {
            for (name, value) in h {
                match value {
                    Value::Array(vs) => headers.extend(
                        vs.iter()
                            .filter_map(Value::as_str)
                            .map(|v| (name.to_ascii_lowercase(), v.to_owned())),
                    ),
                    Value::String(v) => headers.push((name.to_ascii_lowercase(), v.clone())),
                    _ => {}
                }
            }
        }
        let body = match (route.get("json"), route.get("body")) {
            (Some(j), _) => j.to_string(),
            (None, Some(Value::String(b))) => b.clone(),
            _ => String::new(),
        };
        let too_large = body.len() > req.max_body_bytes;
        let mut body = body;
        if too_large {
            let mut cut = req.max_body_bytes;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
        }
        Ok(HttpResponse {
            status: route["status"].as_u64().unwrap_or(200) as u16,
            headers,
            body,
            body_too_large: too_large && req.max_body_bytes > 0,
        })
    }
}

impl Transport for Replay {
    fn send(&self, request: HttpRequest) -> SendFuture<'_> {
        self.sent.borrow_mut().push(request.clone());
        let answer = self.answer(&request);
        Box::pin(async move { answer })
    }
}

/// Checks a result against a fixture's `expect` and `expect_warnings`; returns the problems.
pub fn check_expectations(fixture: &Value, result: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(Value::Object(expect)) = fixture.get("expect") {
        for (field, want) in expect {
            let got = result.get(field).unwrap_or(&Value::Null);
            if got != want {
                problems.push(format!("{field}: expected {want}, got {got}"));
            }
        }
    }
    let codes: Vec<&str> = result["warnings"]
        .as_array()
        .map(|ws| ws.iter().filter_map(|w| w["code"].as_str()).collect())
        .unwrap_or_default();
    for want in fixture
        .get("expect_warnings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let want = want.as_str().unwrap_or_default();
        if !codes.contains(&want) {
            problems.push(format!("warning {want} missing (got {codes:?})"));
        }
    }
    // Extension of the project's own fixtures: URLs that must never be requested.
    let requested: Vec<&str> = result["trace"]
        .as_array()
        .map(|t| t.iter().filter_map(|e| e["url"].as_str()).collect())
        .unwrap_or_default();
    for url in fixture
        .get("expect_not_requested")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if requested.contains(&url) {
            problems.push(format!("{url} was requested (trace: {requested:?})"));
        }
    }
    problems
}
