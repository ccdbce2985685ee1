//! The wasm-bindgen adapter behind the npm package. It only translates: JSON strings in,
//! JSON envelopes out (`{"ok": value}` or `{"error": {code, message}}`), and a JavaScript
//! `send` function as the [`Transport`]. The package's JavaScript turns envelopes into values
//! and `Error`s with a `code`.

use js_sys::{Function, Promise};
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use crate::discovery::{self, DiscoverOptions, DiscoveryResult, TraceEntry};
use crate::error::{Error, ErrorCode};
use crate::target::TargetPolicy;
use crate::transport::{
    HttpRequest, HttpResponse, SendFuture, Transport, TransportError, TransportErrorKind,
};

fn ok<T: Serialize>(value: &T) -> String {
    serde_json::json!({ "ok": value }).to_string()
}

fn err(e: &Error) -> String {
    serde_json::json!({ "error": e }).to_string()
}

fn envelope<T: Serialize>(r: Result<T, Error>) -> String {
    match r {
        Ok(v) => ok(&v),
        Err(e) => err(&e),
    }
}

fn parse_arg<T: serde::de::DeserializeOwned>(json: &str, what: &str) -> Result<T, Error> {
    serde_json::from_str(json).map_err(|e| {
        Error::new(
            ErrorCode::InvalidArgument,
            format!("{what} has the wrong shape: {e}"),
        )
    })
}

/// A `Transport` over a JavaScript function `send(requestJson) -> Promise<string>` that
/// resolves to `{"response": HttpResponse}` or `{"error": TransportError}`.
struct JsTransport {
    send: Function,
}

impl Transport for JsTransport {
    fn send(&self, request: HttpRequest) -> SendFuture<'_> {
        let json = serde_json::to_string(&request).unwrap_or_default();
        let call = self.send.call1(&JsValue::NULL, &JsValue::from_str(&json));
        Box::pin(async move {
            let fail = |m: String| TransportError::new(TransportErrorKind::Network, m);
            let promise: Promise = call
                .map_err(|e| fail(format!("{e:?}")))?
                .dyn_into()
                .map_err(|_| fail("send did not return a Promise".into()))?;
            let text = JsFuture::from(promise)
                .await
                .map_err(|e| fail(format!("{e:?}")))?
                .as_string()
                .unwrap_or_default();
            #[derive(serde::Deserialize)]
            struct Answer {
                response: Option<HttpResponse>,
                error: Option<TransportError>,
            }
            match serde_json::from_str::<Answer>(&text) {
                Ok(Answer {
                    response: Some(r), ..
                }) => Ok(r),
                Ok(Answer { error: Some(e), .. }) => Err(e),
                _ => Err(fail(
                    "the fetch adapter answered with an unreadable value".into(),
                )),
            }
        })
    }

    fn now_ms(&self) -> f64 {
        js_sys::Date::now()
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JsDiscoverOptions {
    timeout_ms: Option<u32>,
    allow_http: bool,
    allow_issuer_mismatch: bool,
}

/// `discover(endpoint, optionsJson, send, onStep)`: resolves to a JSON envelope string.
#[wasm_bindgen(js_name = discover)]
pub fn discover_js(
    endpoint: String,
    options_json: String,
    send: Function,
    on_step: Option<Function>,
) -> Promise {
    future_to_promise(async move {
        let run = async {
            let opts: JsDiscoverOptions = parse_arg(&options_json, "options")?;
            let timeout_ms = match opts.timeout_ms {
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
                    let _ = f.call1(
                        &JsValue::NULL,
                        &JsValue::from_str(&serde_json::to_string(e).unwrap_or_default()),
                    );
                }
            });
            let options = DiscoverOptions {
                timeout_ms,
                policy: TargetPolicy::client(opts.allow_http),
                allow_issuer_mismatch: opts.allow_issuer_mismatch,
                speculate: true,
                on_step: step.as_ref().map(|f| f as &dyn Fn(&TraceEntry)),
            };
            discovery::discover(&endpoint, &JsTransport { send }, &options).await
        };
        Ok(JsValue::from_str(&envelope(run.await)))
    })
}

#[wasm_bindgen(js_name = parseWwwAuthenticate)]
pub fn parse_www_authenticate_js(header: String) -> String {
    ok(&crate::challenge::parse_www_authenticate(&header))
}

#[wasm_bindgen(js_name = recommendAuthMode)]
pub fn recommend_auth_mode_js(result_json: String) -> String {
    envelope(
        parse_arg::<DiscoveryResult>(&result_json, "result")
            .map(|r| crate::recommend::recommend(&r)),
    )
}

#[wasm_bindgen(js_name = generatePkce)]
pub fn generate_pkce_js() -> String {
    envelope(crate::pkce::generate())
}

#[wasm_bindgen(js_name = pkceChallenge)]
pub fn pkce_challenge_js(verifier: String) -> String {
    envelope(crate::pkce::challenge_s256(&verifier))
}

#[wasm_bindgen(js_name = generateState)]
pub fn generate_state_js() -> String {
    envelope(crate::pkce::generate_state())
}

#[wasm_bindgen(js_name = buildAuthorizationUrl)]
pub fn build_authorization_url_js(params_json: String) -> String {
    envelope(
        parse_arg::<crate::authorize::AuthorizationRequest>(
            &params_json,
            "buildAuthorizationUrl's params",
        )
        .and_then(|p| crate::authorize::build_authorization_url(&p)),
    )
}

/// Always `{ok: {ok: true, value}}` or `{ok: {ok: false, errors}}`: validation reports, it
/// does not throw.
#[wasm_bindgen(js_name = validateServerConfig)]
pub fn validate_server_config_js(input_json: String) -> String {
    let input: Value = serde_json::from_str(&input_json).unwrap_or(Value::Null);
    match crate::config::validate_server_config(&input, TargetPolicy::CLIENT) {
        Ok(value) => ok(&serde_json::json!({ "ok": true, "value": value })),
        Err(errors) => ok(&serde_json::json!({ "ok": false, "errors": errors })),
    }
}

/// The config is validated first (by the same contract as `validateServerConfig`), so a
/// malformed config is refused with every problem named instead of being half-hydrated.
#[wasm_bindgen(js_name = hydrateServerConfig)]
pub fn hydrate_server_config_js(config_json: String, discovery_json: String) -> String {
    envelope((|| {
        let config: Value = parse_arg(&config_json, "config")?;
        let discovery: DiscoveryResult = parse_arg(&discovery_json, "discovery")?;
        let body = serde_json::json!({ "name": "hydrate", "config": config });
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

#[wasm_bindgen(js_name = registrationMethods)]
pub fn registration_methods_js(discovery_json: String) -> String {
    envelope(
        parse_arg::<DiscoveryResult>(&discovery_json, "discovery").map(|d| {
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
