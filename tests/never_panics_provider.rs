#![cfg(not(target_arch = "wasm32"))]
//! Properties of what a provider sends after discovery: token responses (numbers at their
//! extremes, wrong types, huge strings), registration responses, the consent callback's query
//! string and the callback's stored state. Whatever arrives, nothing panics, and every
//! failure has a code and a one-line message that quotes no secret.
//!
//! 512 cases per property by default; `PROPTEST_CASES=<n>` overrides it (`make fuzz-long`).

use futures_executor::block_on;
use mcp_authlink::consent::{
    check_callback, parse_callback_query, state_param, CallbackError, PendingConsent,
};
use mcp_authlink::registration::{judge_registration, register, Judgement, RegistrationRequest};
use mcp_authlink::token::{parse_refresh_response, parse_token_response, TokenFailure};
use mcp_authlink::transport::{HttpRequest, HttpResponse, SendFuture, Transport};
use mcp_authlink::Secret;
use mcp_authlink::{AuthMode, ClientAuthMethod};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 512;
    }
    config
}

/// A secret the generated bodies carry: no message may show it.
const SECRET: &str = "s3cr3t-Zq9-token-value";

/// JSON values of every type, with numbers at their extremes and strings up to 100 KB.
fn json_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("1e300".to_owned()),
        Just("-1e300".to_owned()),
        Just("1e-300".to_owned()),
        Just("1.7976931348623157e308".to_owned()),
        Just("18446744073709551615".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("-9223372036854775808".to_owned()),
        Just("123456789012345678901234567890".to_owned()),
        Just("3600.9".to_owned()),
        Just("\"1e300\"".to_owned()),
        Just("\"NaN\"".to_owned()),
        Just("\"inf\"".to_owned()),
        Just("\"-5\"".to_owned()),
        Just("\" 60 \"".to_owned()),
        Just("\"Bearer\"".to_owned()),
        Just("\"DPoP\"".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        ".{0,40}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        (1usize..100_000).prop_map(|n| format!("\"{}\"", "x".repeat(n))),
        Just("[]".to_owned()),
        Just("[\"a\", 1, null]".to_owned()),
        Just("{}".to_owned()),
        Just("{\"nested\": {\"deeper\": [1, 2, {}]}}".to_owned()),
    ]
}

/// Objects with the members token and registration responses carry, of any type, plus
/// bodies that are not objects at all.
fn provider_body() -> impl Strategy<Value = String> {
    let member = (
        prop_oneof![
            Just("access_token".to_owned()),
            Just("token_type".to_owned()),
            Just("refresh_token".to_owned()),
            Just("expires_in".to_owned()),
            Just("scope".to_owned()),
            Just("error".to_owned()),
            Just("error_description".to_owned()),
            Just("error_uri".to_owned()),
            Just("client_id".to_owned()),
            Just("client_secret".to_owned()),
            Just("client_secret_expires_at".to_owned()),
            Just("client_id_issued_at".to_owned()),
            Just("token_endpoint_auth_method".to_owned()),
            Just("registration_access_token".to_owned()),
            Just("redirect_uris".to_owned()),
            "[a-z_]{1,12}",
        ],
        json_value(),
    )
        .prop_map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).unwrap()));
    // The secret goes only where secrets go: no message may then show it.
    let secret = prop_oneof![
        Just("access_token"),
        Just("refresh_token"),
        Just("client_secret"),
        Just("registration_access_token"),
    ]
    .prop_map(|k| format!("\"{k}\":\"{SECRET}\""));
    let member = prop_oneof![3 => member, 1 => secret];
    prop_oneof![
        4 => prop::collection::vec(member, 0..10).prop_map(|m| format!("{{{}}}", m.join(","))),
        1 => ".{0,200}",
        1 => json_value(),
        1 => Just("<!DOCTYPE html><html><body>Sign in</body></html>".to_owned()),
        1 => Just(format!("access_token={SECRET}&token_type=bearer")),
        1 => Just("{\"access_token\": \"a\"} trailing".to_owned()),
        1 => Just("[{\"access_token\": \"a\"}]".to_owned()),
    ]
}

fn response() -> impl Strategy<Value = HttpResponse> {
    let status = prop_oneof![
        Just(200u16),
        Just(201),
        Just(400),
        Just(401),
        Just(500),
        0u16..1000
    ];
    let content_type = prop_oneof![
        Just("application/json"),
        Just("text/html"),
        Just("application/x-www-form-urlencoded"),
        Just(""),
    ];
    (status, content_type, provider_body(), any::<bool>()).prop_map(
        |(status, content_type, body, body_too_large)| HttpResponse {
            status,
            headers: vec![("content-type".to_owned(), content_type.to_owned())],
            body,
            body_too_large,
        },
    )
}

/// Unix seconds at the extremes as well as now-ish.
fn now() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(u64::MAX),
        Just(u64::MAX - 1),
        Just(253_402_300_799), // 9999-12-31T23:59:59Z
        1_700_000_000u64..1_900_000_000,
        any::<u64>(),
    ]
}

fn token_failure_ok(f: &TokenFailure) -> Result<(), TestCaseError> {
    let (code, message) = (f.code(), f.to_string());
    prop_assert!(!code.as_str().is_empty());
    prop_assert!(!message.is_empty());
    prop_assert!(!message.contains('\n'), "{message}");
    prop_assert!(!message.contains(SECRET), "{message}");
    prop_assert!(message.len() < 4096, "{} bytes", message.len());
    Ok(())
}

/// A provider that answers every request with one generated response.
struct Provider(HttpResponse);

impl Transport for Provider {
    fn send(&self, _request: HttpRequest) -> SendFuture<'_> {
        let answer = self.0.clone();
        Box::pin(async move { Ok(answer) })
    }
}

/// Query strings from the callback's parameters, repeated, encoded, overlong or not.
fn callback_query() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just(String::new()),
        "[A-Za-z0-9_~.-]{1,40}",
        ".{0,20}".prop_map(|s| url::form_urlencoded::byte_serialize(s.as_bytes()).collect()),
        Just("%".to_owned()),
        Just("%FF%FE".to_owned()),
        Just("%E2%80%AE".to_owned()), // right-to-left override
        (4000usize..5000).prop_map(|n| "a".repeat(n)),
    ];
    let pair = (
        prop_oneof![
            Just("code"),
            Just("state"),
            Just("iss"),
            Just("error"),
            Just("error_description"),
            Just("error_uri"),
            Just("session_state"),
            Just(""),
            Just("st%61te"),
        ],
        value,
        any::<bool>(),
    )
        .prop_map(|(k, v, eq)| if eq { format!("{k}={v}") } else { k.to_owned() });
    prop_oneof![
        4 => prop::collection::vec(pair, 0..8).prop_map(|p| p.join("&")),
        1 => ".{0,300}",
        1 => prop::collection::vec(pair_sep(), 0..10).prop_map(|p| p.concat()),
    ]
}

fn pair_sep() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("&".to_owned()),
        Just("=".to_owned()),
        Just("?".to_owned()),
        Just("+".to_owned()),
        Just("state".to_owned()),
        Just("%".to_owned()),
        Just(";".to_owned()),
    ]
}

/// Stored pending consents as the Worker reads them back: any field of any type, extreme
/// times, missing members, and other JSON.
fn stored_state() -> impl Strategy<Value = String> {
    let text = prop_oneof![
        Just("\"\"".to_owned()),
        Just("\"https://as.example\"".to_owned()),
        ".{0,20}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        Just("null".to_owned()),
        Just("1".to_owned()),
    ];
    let time = prop_oneof![
        Just("0".to_owned()),
        Just("18446744073709551615".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("-1".to_owned()),
        Just("1e300".to_owned()),
        any::<u64>().prop_map(|n| n.to_string()),
        Just("\"900\"".to_owned()),
    ];
    let member = prop_oneof![
        text.clone().prop_map(|v| format!("\"state\":{v}")),
        text.clone().prop_map(|v| format!("\"actor_id\":{v}")),
        text.clone().prop_map(|v| format!("\"agent_id\":{v}")),
        text.clone().prop_map(|v| format!("\"server_id\":{v}")),
        text.clone().prop_map(|v| format!("\"redirect_uri\":{v}")),
        text.clone().prop_map(|v| format!("\"code_verifier\":{v}")),
        text.clone().prop_map(|v| format!("\"issuer\":{v}")),
        any::<bool>().prop_map(|b| format!("\"iss_required\":{b}")),
        text.clone().prop_map(|v| format!("\"resource\":{v}")),
        text.prop_map(|v| format!("\"return_origin\":{v}")),
        time.clone().prop_map(|v| format!("\"created_at\":{v}")),
        time.prop_map(|v| format!("\"expires_at\":{v}")),
    ];
    prop_oneof![
        4 => prop::collection::vec(member, 0..14).prop_map(|m| format!("{{{}}}", m.join(","))),
        1 => ".{0,100}",
        1 => Just("[]".to_owned()),
    ]
}

/// A well-formed pending consent with generated values.
fn pending() -> impl Strategy<Value = PendingConsent> {
    (
        prop::option::of(".{0,30}"),
        any::<bool>(),
        now(),
        now(),
        ".{0,30}",
    )
        .prop_map(
            |(issuer, iss_required, created_at, expires_at, state)| PendingConsent {
                state,
                actor_id: "alice@example.com".into(),
                agent_id: "auth0|65f0c1".into(),
                server_id: "srv-1".into(),
                redirect_uri: "https://authlink.example/service/mcp/consent/callback".into(),
                code_verifier: Secret::new(SECRET),
                issuer,
                iss_required,
                resource: "https://mcp.example/mcp".into(),
                return_origin: None,
                flow_id: "flow-1".into(),
                return_to: None,
                authorization_url: "https://as.example/authorize?client_id=c".into(),
                created_at,
                expires_at,
                config_version: Some(1),
            },
        )
}

fn callback_error_ok(e: &CallbackError) -> Result<(), TestCaseError> {
    let message = e.message();
    prop_assert!(!e.code().is_empty());
    prop_assert!(!message.contains(SECRET), "{message}");
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn token_responses_never_panic(resp in response(), now in now()) {
        match parse_token_response(&resp, now) {
            Ok(set) => {
                prop_assert!(resp.is_success() && !resp.body_too_large);
                prop_assert!(!set.access_token.expose().is_empty());
                // expires_at saturates instead of overflowing.
                if let Some(at) = set.expires_at {
                    prop_assert!(at >= now);
                }
                let _ = set.is_expired(now, u64::MAX);
                let _ = set.is_expired(u64::MAX, u64::MAX);
            }
            Err(f) => token_failure_ok(&f)?,
        }
        let previous = Secret::new("previous-refresh");
        if let Err(f) = parse_refresh_response(&resp, now, &previous) {
            token_failure_ok(&f)?;
        }
    }

    #[test]
    fn expires_in_at_its_extremes_never_panics(expires_in in json_value(), now in now()) {
        let body = format!(
            "{{\"access_token\":\"{SECRET}\",\"token_type\":\"Bearer\",\"expires_in\":{expires_in}}}"
        );
        let resp = HttpResponse { status: 200, headers: Vec::new(), body, body_too_large: false };
        match parse_token_response(&resp, now) {
            Ok(set) => {
                if let Some(at) = set.expires_at {
                    prop_assert!(at >= now);
                }
            }
            Err(f) => {
                token_failure_ok(&f)?;
                prop_assert!(matches!(f, TokenFailure::Malformed { field: "expires_in", .. }), "{f:?}");
            }
        }
    }

    #[test]
    fn registration_responses_never_panic(resp in response(), mode in 0usize..4) {
        for method in ClientAuthMethod::ALL {
            match judge_registration(method, &resp) {
                Judgement::Registered(client) => {
                    prop_assert!(!client.client_id.is_empty());
                    prop_assert!(resp.is_success());
                }
                Judgement::TryNext(e) => {
                    prop_assert!(!e.error.is_empty());
                    let d = e.error_description.unwrap_or_default();
                    prop_assert!(!d.contains(SECRET), "{d}");
                }
            }
        }
        let req = RegistrationRequest {
            client_name: "fuzz".into(),
            redirect_uri: "https://authlink.example/service/mcp/consent/callback".into(),
            scopes: vec!["read".into()],
        };
        let advertised = vec!["client_secret_basic".to_owned(), "none".to_owned()];
        let result = block_on(register(
            &Provider(resp),
            Some("https://as.example/register"),
            AuthMode::ALL[mode],
            &advertised,
            &req,
        ));
        if let Err(e) = result {
            let text = format!("{e:?}");
            prop_assert!(!text.contains(SECRET), "{text}");
        }
    }

    #[test]
    fn callback_queries_never_panic(query in callback_query(), pending in pending(), now in now()) {
        let params = parse_callback_query(&query);
        for v in [&params.code, &params.state, &params.iss, &params.error, &params.error_description].into_iter().flatten() {
            prop_assert!(v.len() <= mcp_authlink::consent::MAX_PARAM_BYTES, "{} bytes kept", v.len());
        }
        match state_param(&params) {
            Ok(state) => prop_assert!(!state.is_empty()),
            Err(e) => callback_error_ok(&e)?,
        }
        match check_callback(&params, &pending, now) {
            Ok(code) => {
                prop_assert!(!code.is_empty());
                prop_assert!(now < pending.expires_at);
            }
            Err(e) => callback_error_ok(&e)?,
        }
    }

    #[test]
    fn stored_state_read_back_never_panics(stored in stored_state(), query in callback_query(), now in now()) {
        // The Worker reads its pending row back with serde; whatever it holds, reading and
        // judging it must not panic.
        if let Ok(pending) = serde_json::from_str::<PendingConsent>(&stored) {
            let _ = pending.is_expired(now);
            match check_callback(&parse_callback_query(&query), &pending, now) {
                Ok(code) => prop_assert!(!code.is_empty()),
                Err(e) => callback_error_ok(&e)?,
            }
        }
    }
}
