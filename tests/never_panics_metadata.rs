#![cfg(not(target_arch = "wasm32"))]
//! Properties of metadata parsing and of discovery as a whole: whatever a server answers
//! (any status, headers, body), nothing panics, and discovery always resolves to a result or
//! to one of its documented error codes.
//!
//! 512 cases per property by default; `PROPTEST_CASES=<n>` overrides it.

use futures_executor::block_on;
use mcp_authlink::discovery::{discover, DiscoverOptions};
use mcp_authlink::metadata::{
    issuer_candidates, parse_authorization_server, parse_protected_resource, resource_matches,
};
use mcp_authlink::transport::{HttpRequest, HttpResponse, SendFuture, Transport};
use proptest::prelude::*;
use url::Url;

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 512;
    }
    config
}

/// JSON-ish bodies: objects with the members parsers look at, of any type, plus garbage.
fn body() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        "[a-z:/.]{0,30}".prop_map(|s| format!("{s:?}")),
        Just("\"https://as.example\"".to_owned()),
        Just("[\"https://as.example\", 1]".to_owned()),
        Just("[\"S256\"]".to_owned()),
        Just("{}".to_owned()),
    ];
    let member = (
        prop_oneof![
            Just("resource"),
            Just("authorization_servers"),
            Just("issuer"),
            Just("authorization_endpoint"),
            Just("token_endpoint"),
            Just("registration_endpoint"),
            Just("code_challenge_methods_supported"),
            Just("token_endpoint_auth_methods_supported"),
            Just("grant_types_supported"),
            Just("scopes_supported"),
        ],
        value,
    )
        .prop_map(|(k, v)| format!("\"{k}\":{v}"));
    prop_oneof![
        prop::collection::vec(member, 0..8).prop_map(|m| format!("{{{}}}", m.join(","))),
        ".{0,200}",
        Just("<!DOCTYPE html><html></html>".to_owned()),
    ]
}

/// A server that answers every request with one of a few generated responses.
struct Chaos {
    answers: Vec<HttpResponse>,
    n: std::cell::Cell<usize>,
}

impl Transport for Chaos {
    fn send(&self, _request: HttpRequest) -> SendFuture<'_> {
        let i = self.n.get();
        self.n.set(i + 1);
        let answer = self.answers[i % self.answers.len()].clone();
        Box::pin(async move { Ok(answer) })
    }
}

fn response() -> impl Strategy<Value = HttpResponse> {
    let status = prop_oneof![
        Just(200u16),
        Just(401),
        Just(403),
        Just(404),
        Just(405),
        Just(302),
        Just(500),
        0u16..600
    ];
    let challenge = prop_oneof![
        Just(None),
        Just(Some("Bearer".to_owned())),
        Just(Some(
            "Bearer resource_metadata=\"https://mcp.example/.well-known/oauth-protected-resource\""
                .to_owned()
        )),
        Just(Some(
            "Bearer resource_metadata=\"/x\", scope=\"a b\"".to_owned()
        )),
        ".{0,60}".prop_map(Some),
    ];
    (status, challenge, body(), any::<bool>()).prop_map(|(status, challenge, body, too_large)| {
        let mut headers = Vec::new();
        if let Some(c) = challenge {
            headers.push(("www-authenticate".to_owned(), c));
        }
        HttpResponse {
            status,
            headers,
            body,
            body_too_large: too_large,
        }
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn metadata_parsers_never_panic(body in body(), status in 0u16..600, too_large in any::<bool>()) {
        let resp = HttpResponse { status, headers: Vec::new(), body, body_too_large: too_large };
        let _ = parse_protected_resource(&resp);
        let _ = parse_authorization_server(&resp);
    }

    #[test]
    fn url_rules_never_panic(a in ".{0,80}", b in "https?://[a-z.]{1,12}(:[0-9]{1,5})?(/[a-z%./]{0,20})?") {
        let _ = issuer_candidates(&a);
        let _ = issuer_candidates(&b);
        if let Ok(endpoint) = Url::parse(&b) {
            let _ = resource_matches(&a, &endpoint);
            let _ = resource_matches(&b, &endpoint);
        }
    }

    #[test]
    fn discovery_always_resolves_or_fails_cleanly(answers in prop::collection::vec(response(), 1..6)) {
        let chaos = Chaos { answers, n: std::cell::Cell::new(0) };
        match block_on(discover("https://mcp.example/mcp", &chaos, &DiscoverOptions::default())) {
            Ok(r) => {
                prop_assert!(!r.message.is_empty());
                prop_assert_eq!(r.trace.len(), chaos.n.get());
                if !r.requires_auth {
                    prop_assert!(r.resource.is_none() && r.token_url.is_none());
                }
            }
            Err(e) => prop_assert!(["unreachable", "aborted"].contains(&e.code.as_str()), "{}", e),
        }
    }
}
