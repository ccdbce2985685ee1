//! The core compiled to wasm32 and run by wasm-bindgen-test, in Node and (with
//! `WASM_BINDGEN_USE_BROWSER=1`) in headless Chromium: every fixture replayed, every config
//! vector checked, PKCE with the wasm random source, challenge parsing.

#![cfg(target_arch = "wasm32")]

mod common;

use common::fixture_list::{OWN_CONFIG, OWN_DISCOVERY, SHARED_CONFIG, SHARED_DISCOVERY};
use common::replay::{check_expectations, Replay};
use mcp_authlink::config::validate_server_config;
use mcp_authlink::discovery::{discover, DiscoverOptions};
use mcp_authlink::TargetPolicy;
use serde_json::Value;
use wasm_bindgen_test::*;

#[wasm_bindgen_test]
async fn every_discovery_fixture_replays() {
    let mut failures = Vec::new();
    for (name, text) in SHARED_DISCOVERY.iter().chain(OWN_DISCOVERY) {
        let fixture: Value = serde_json::from_str(text).unwrap();
        let replay = Replay::new(&fixture);
        let options = DiscoverOptions {
            allow_issuer_mismatch: fixture["allow_issuer_mismatch"] == true,
            ..Default::default()
        };
        let result = discover(fixture["endpoint"].as_str().unwrap(), &replay, &options).await;
        match (result, fixture["expect_error"].as_str()) {
            (Err(e), Some(code)) if e.code.as_str() == code => {}
            (Err(e), _) => failures.push(format!("{name}: {e}")),
            (Ok(_), Some(code)) => failures.push(format!("{name}: expected {code}")),
            (Ok(r), None) => {
                let r = serde_json::to_value(r).unwrap();
                failures.extend(
                    check_expectations(&fixture, &r)
                        .into_iter()
                        .map(|p| format!("{name}: {p}")),
                );
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[wasm_bindgen_test]
fn every_config_vector_validates_as_expected() {
    for (name, text) in SHARED_CONFIG.iter().chain(OWN_CONFIG) {
        let v: Value = serde_json::from_str(text).unwrap();
        let policy = match v["policy"].as_str() {
            Some("server") => TargetPolicy::SERVER,
            Some("server_dev") => TargetPolicy::SERVER_DEV,
            _ => TargetPolicy::CLIENT,
        };
        let result = validate_server_config(&v["input"], policy);
        if v["expect_ok"] == true {
            assert!(result.is_ok(), "{name}: {result:?}");
            continue;
        }
        let errors = serde_json::to_value(result.expect_err(name)).unwrap();
        for want in v["expect_errors"].as_array().unwrap() {
            let found = errors.as_array().unwrap().iter().any(|e| {
                e["code"] == want["code"]
                    && (want.get("path").is_none() || e["path"] == want["path"])
            });
            assert!(found, "{name}: {want} not in {errors}");
        }
    }
}

#[wasm_bindgen_test]
fn pkce_uses_the_wasm_random_source_and_matches_rfc7636() {
    assert_eq!(
        mcp_authlink::pkce::challenge_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap(),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    let a = mcp_authlink::pkce::generate().unwrap();
    let b = mcp_authlink::pkce::generate().unwrap();
    assert_ne!(a.code_verifier.expose(), b.code_verifier.expose());
    assert_eq!(
        mcp_authlink::pkce::challenge_s256(a.code_verifier.expose()).unwrap(),
        a.code_challenge
    );
    assert_ne!(
        mcp_authlink::pkce::generate_state().unwrap(),
        mcp_authlink::pkce::generate_state().unwrap()
    );
}

#[wasm_bindgen_test]
fn challenges_parse_the_same_in_wasm() {
    let parsed = mcp_authlink::challenge::parse_www_authenticate(
        r#"Basic realm="gw", , bearer realm="mcp", error_description="a \"quoted\", comma", resource_metadata=https://x.example/.well-known/oauth-protected-resource"#,
    );
    assert_eq!(parsed.challenges.len(), 2);
    let bearer = &parsed.challenges[1];
    assert_eq!(bearer.scheme, "bearer");
    assert_eq!(
        bearer.param("error_description"),
        Some(r#"a "quoted", comma"#)
    );
    assert_eq!(
        bearer.param("resource_metadata"),
        Some("https://x.example/.well-known/oauth-protected-resource")
    );
}
