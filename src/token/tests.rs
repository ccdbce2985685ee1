//! The token module's unit tests: shared fixtures here, the request builders' tests in
//! `tests/request.rs`, the response judges' tests in `tests/response.rs`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;

use super::*;
use crate::error::{Error, ErrorCode, Result};
use crate::transport::{HttpRequest, DEFAULT_TIMEOUT_MS};

const URL: &str = "https://auth.example.com/token";
const RES: &str = "https://mcp.example.com/mcp";
const CB: &str = "https://w.example.com/service/mcp/consent/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn basic() -> ClientAuth {
    ClientAuth::confidential(
        "s6BhdRkqt3",
        "7Fjfp0ZBr1KtDRbnfVdmIw".into(),
        ClientAuthMethod::ClientSecretBasic,
    )
}

fn with(method: ClientAuthMethod) -> ClientAuth {
    ClientAuth { method, ..basic() }
}

fn code_req(auth: &ClientAuth) -> Result<HttpRequest> {
    authorization_code_request(URL, auth, "c0de", CB, &Secret::new(VERIFIER), RES)
}

fn header<'a>(r: &'a HttpRequest, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn resp(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        body: body.into(),
        ..HttpResponse::new(status)
    }
}

fn parse(status: u16, body: serde_json::Value) -> Result<TokenSet, TokenFailure> {
    parse_token_response(&resp(status, &body.to_string()), 1_000)
}

mod request;
mod response;
