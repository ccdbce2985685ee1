//! The wasm-bindgen adapter behind the npm package. It only translates: JSON strings in,
//! JSON envelopes out (`{"ok": value}` or `{"error": {code, message}}`), and a JavaScript
//! `send` function as the [`Transport`]. The package's JavaScript turns envelopes into values
//! and `Error`s with a `code`.

// No panic reachable from a request (issue 9 item 13): errors are values here.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use js_sys::{Function, Promise};
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use crate::authorize::AuthorizationRequest;
use crate::discovery::{self, DiscoverOptions, DiscoveryResult, TraceEntry};
use crate::error::{Error, ErrorCode};
use crate::target::TargetPolicy;
use crate::transport::shape::{Read, ReadError};
use crate::transport::{
    adapter_answer, HttpRequest, SendFuture, Transport, TransportError, TransportErrorKind,
};

// Talc instead of Rust's default dlmalloc: a smaller module (and a faster allocator) for the
// single-threaded npm build.
#[cfg(not(target_feature = "atomics"))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

fn ok<T: Serialize>(value: &T) -> String {
    wrap("ok", serde_json::to_value(value))
}

fn err(e: &Error) -> String {
    // What `Error`'s `Serialize` writes, without instantiating it for a `Value`.
    let mut error = serde_json::Map::new();
    error.insert("code".into(), e.code.as_str().into());
    error.insert("message".into(), e.message.as_str().into());
    wrap("error", Ok(Value::Object(error)))
}

/// `{"<key>": value}` as text. The generic halves above only convert: the envelope itself is
/// built once, not once per type.
fn wrap(key: &str, value: serde_json::Result<Value>) -> String {
    let mut envelope = serde_json::Map::new();
    envelope.insert(key.into(), value.unwrap_or_default());
    Value::Object(envelope).to_string()
}

fn envelope<T: Serialize>(r: Result<T, Error>) -> String {
    match r {
        Ok(v) => ok(&v),
        Err(e) => err(&e),
    }
}

/// `<what>.<path>: <problem>`, as the config validator names a field.
fn wrong_shape(what: &str, e: &ReadError) -> Error {
    let sep = if e.path.is_empty() || e.path.starts_with('[') {
        ""
    } else {
        "."
    };
    Error::new(
        ErrorCode::InvalidArgument,
        format!("{what}{sep}{}: {}", e.path, e.problem),
    )
}

/// The argument as JSON. pkg/core.js writes it with `JSON.stringify`, so only a value it
/// cannot write (`undefined`, a function) arrives unparsable.
fn parse_json(json: &str, what: &str) -> Result<Value, Error> {
    serde_json::from_str(json).map_err(|_| {
        Error::new(
            ErrorCode::InvalidArgument,
            format!("{what}: must be a JSON value (an object)"),
        )
    })
}

/// Parses a JSON argument and reads it with a hand-written reader (`from_json`): serde's
/// typed deserialization would make the module much larger.
fn parse_arg<T>(json: &str, what: &str, read: fn(&Value) -> Read<T>) -> Result<T, Error> {
    read(&parse_json(json, what)?).map_err(|e| wrong_shape(what, &e))
}

/// A `Transport` over a JavaScript function `send(requestJson) -> Promise<string>` that
/// resolves to `{"response": HttpResponse}` or `{"error": TransportError}`.
struct JsTransport {
    send: Function,
}

impl Transport for JsTransport {
    fn send(&self, request: HttpRequest) -> SendFuture<'_> {
        // Through a `Value` (keys sorted; the adapter reads them by name): the module then needs
        // no second JSON writer.
        let json = serde_json::to_value(&request)
            .map(|v| v.to_string())
            .unwrap_or_default();
        let call = self.send.call1(&JsValue::NULL, &JsValue::from_str(&json));
        Box::pin(async move {
            // The package's fetch adapter is an async function: it answers every request with
            // (a promise of) a JSON string and never throws or rejects.
            let fail = |m: &str| TransportError::new(TransportErrorKind::Network, m);
            let answer = call.map_err(|_| fail("the fetch adapter threw"))?;
            let text = JsFuture::from(Promise::resolve(&answer))
                .await
                .map_err(|_| fail("the fetch adapter failed"))?
                .as_string()
                .unwrap_or_default();
            serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| adapter_answer(&v))
                .unwrap_or_else(|| Err(fail("the fetch adapter answered with an unreadable value")))
        })
    }

    fn now_ms(&self) -> f64 {
        js_sys::Date::now()
    }
}

/// `discover(endpoint, timeoutMs, allowHttp, allowIssuerMismatch, send, onStep, blockPrivate)`:
/// resolves to a JSON envelope string. `blockPrivate` adds the server-side refusal of private,
/// loopback, link-local and metadata addresses to the client policy (the package turns it on
/// by default in Node).
#[wasm_bindgen(js_name = discover)]
pub fn discover_js(
    endpoint: String,
    timeout_ms: Option<u32>,
    allow_http: bool,
    allow_issuer_mismatch: bool,
    send: Function,
    on_step: Option<Function>,
    block_private: bool,
) -> Promise {
    future_to_promise(async move {
        let run = async {
            let timeout_ms = match timeout_ms {
                None => crate::transport::DEFAULT_TIMEOUT_MS,
                Some(t) if t >= 1 => t,
                Some(_) => {
                    return Err(Error::new(
                        ErrorCode::InvalidArgument,
                        "options.timeoutMs must be a positive number of milliseconds",
                    ))
                }
            };
            let step = on_step.map(|f| {
                move |e: &TraceEntry| {
                    let _ = f.call1(&JsValue::NULL, &JsValue::from_str(&e.to_json()));
                }
            });
            let options = DiscoverOptions {
                timeout_ms,
                policy: TargetPolicy {
                    block_private,
                    ..TargetPolicy::client(allow_http)
                },
                allow_issuer_mismatch,
                speculate: true,
                on_step: step.as_ref().map(|f| f as &dyn Fn(&TraceEntry)),
            };
            discovery::discover(&endpoint, &JsTransport { send }, &options)
                .await
                .map_err(|e| match e.code {
                    // The core's wording names the Worker's setting; here the fix is an option.
                    ErrorCode::BlockedTarget => Error::new(
                        ErrorCode::BlockedTarget,
                        format!(
                            "{:?} points at a private, loopback, link-local or metadata address, which \
                             discovery refuses here (blockPrivate): pass {{ blockPrivate: false }} only for \
                             URLs you trust",
                            endpoint.trim()
                        ),
                    ),
                    _ => e,
                })
        };
        Ok(JsValue::from_str(&envelope(run.await)))
    })
}

/// The operations of [`call`], in number order: an operation's number is its place here.
/// This list is the one source of the numbers: pkg/core.js reads it from [`ops`] when it first
/// calls one, so the two sides cannot disagree.
pub const OPS: [&str; 9] = [
    "parseWwwAuthenticate",
    "recommendAuthMode",
    "generatePkce",
    "pkceChallenge",
    "generateState",
    "buildAuthorizationUrl",
    "validateServerConfig",
    "hydrateServerConfig",
    "registrationMethods",
];

/// `ops()`: the names of [`OPS`], joined by `,`.
#[wasm_bindgen]
pub fn ops() -> String {
    OPS.join(",")
}

/// `call(op, a, b)`: the synchronous functions, by their number in [`OPS`], with their string
/// arguments (`""` for one not used). One export instead of nine keeps the generated glue and
/// its shims small.
#[wasm_bindgen]
pub fn call(op: u32, a: String, b: String) -> String {
    match OPS.get(op as usize).copied().unwrap_or_default() {
        "parseWwwAuthenticate" => parse_www_authenticate_js(a),
        "recommendAuthMode" => recommend_auth_mode_js(a),
        "generatePkce" => generate_pkce_js(),
        "pkceChallenge" => pkce_challenge_js(a),
        "generateState" => generate_state_js(),
        "buildAuthorizationUrl" => build_authorization_url_js(a),
        "validateServerConfig" => validate_server_config_js(a),
        "hydrateServerConfig" => hydrate_server_config_js(a, b),
        "registrationMethods" => registration_methods_js(a),
        _ => err(&Error::new(ErrorCode::InvalidArgument, "no such function")),
    }
}

fn parse_www_authenticate_js(header: String) -> String {
    ok(&crate::challenge::parse_www_authenticate(&header))
}

fn recommend_auth_mode_js(result_json: String) -> String {
    envelope(
        parse_arg(&result_json, "result", DiscoveryResult::from_json)
            .map(|r| crate::recommend::recommend(&r)),
    )
}

fn generate_pkce_js() -> String {
    envelope(crate::pkce::generate())
}

fn pkce_challenge_js(verifier: String) -> String {
    envelope(crate::pkce::challenge_s256(&verifier))
}

fn generate_state_js() -> String {
    envelope(crate::pkce::generate_state())
}

fn build_authorization_url_js(params_json: String) -> String {
    envelope(
        parse_arg(&params_json, "params", AuthorizationRequest::from_json)
            .and_then(|p| crate::authorize::build_authorization_url(&p)),
    )
}

/// Always `{ok: {ok: true, value}}` or `{ok: {ok: false, errors}}`: validation reports, it
/// does not throw.
fn validate_server_config_js(input_json: String) -> String {
    let input: Value = serde_json::from_str(&input_json).unwrap_or(Value::Null);
    match crate::config::validate_server_config(&input, TargetPolicy::CLIENT) {
        Ok(value) => wrap("ok", Ok(serde_json::json!({ "ok": true, "value": value }))),
        Err(errors) => wrap(
            "ok",
            Ok(serde_json::json!({ "ok": false, "errors": errors })),
        ),
    }
}

/// The config is validated first (by the same contract as `validateServerConfig`), so a
/// malformed config is refused with every problem named instead of being half-hydrated.
fn hydrate_server_config_js(config_json: String, discovery_json: String) -> String {
    envelope((|| {
        let config = parse_json(&config_json, "config")?;
        let discovery = parse_arg(&discovery_json, "discovery", DiscoveryResult::from_json)?;
        let mut body = serde_json::Map::new();
        body.insert("name".into(), "hydrate".into());
        body.insert("config".into(), config);
        let body = Value::Object(body);
        let valid = crate::config::validate_server_config(&body, TargetPolicy::CLIENT).map_err(
            |errors| {
                let list: Vec<String> = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.path, e.message))
                    .collect();
                Error::new(
                    ErrorCode::InvalidArgument,
                    format!("the config is invalid: {}", list.join("; ")),
                )
            },
        )?;
        Ok(crate::config::hydrate_server_config(
            &valid.config,
            &discovery,
        ))
    })())
}

fn registration_methods_js(discovery_json: String) -> String {
    envelope(
        parse_arg(&discovery_json, "discovery", DiscoveryResult::from_json).map(|d| {
            match d.recommended_auth_mode {
                Some(mode) => crate::registration::registration_methods(
                    mode,
                    &d.token_endpoint_auth_methods_supported,
                ),
                None => Vec::new(),
            }
        }),
    )
}
