//! Provisioning (the control plane's create/update) over the replay adapter: validation
//! before any request, discovery, hydration, DCR and its outcomes.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::replay::Replay;
use futures_executor::block_on;
use mcp_authlink::config::AuthConfig;
use mcp_authlink::provision::{provision, ProvisionError, ProvisionOptions, Provisioned};
use mcp_authlink::registration::RegistrationFailure;
use mcp_authlink::ClientAuthMethod;
use mcp_authlink::TargetPolicy;
use serde_json::{json, Value};

const CALLBACK: &str = "https://authlink.example/service/mcp/consent/callback";

/// The Linear fixture (PRM via challenge, AS with DCR), plus a programmable registration answer.
fn linear(registration: Option<Value>) -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/discovery/linear-prm-via-challenge.json"
    );
    let mut fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    if let Some(answer) = registration {
        let routes = fixture["routes"].as_array_mut().unwrap();
        routes.insert(0, json!({"method": "POST", "url": "https://mcp.linear.app/register", "status": 201, "json": answer}));
    }
    fixture
}

fn run(fixture: &Value, body: Value) -> (Result<Provisioned, ProvisionError>, Replay) {
    let replay = Replay::new(fixture);
    let options = ProvisionOptions {
        policy: TargetPolicy::SERVER,
        callback_url: CALLBACK,
        server_redirect_uri: None,
        cimd: None,
        timeout_ms: 1000,
    };
    let result = block_on(provision(&body, &replay, &options));
    (result, replay)
}

fn body(auth: Value) -> Value {
    json!({"name": "linear", "config": {"endpoint": "https://mcp.linear.app/mcp", "auth": auth}})
}

#[test]
fn an_invalid_body_is_refused_before_any_request() {
    let (result, replay) = run(
        &linear(None),
        json!({"name": "", "config": {"server_url": "http://x"}}),
    );
    let Err(ProvisionError::Invalid(errors)) = result else {
        panic!("expected Invalid")
    };
    assert!(errors.iter().any(|e| e.code.as_str() == "use_endpoint"));
    assert!(replay.sent.borrow().is_empty());
}

#[test]
fn a_private_endpoint_is_refused_under_the_server_policy() {
    let (result, replay) = run(
        &linear(None),
        json!({"name": "x", "config": {"endpoint": "https://169.254.169.254/latest"}}),
    );
    assert!(
        matches!(result, Err(ProvisionError::Invalid(_))),
        "{result:?}"
    );
    assert!(replay.sent.borrow().is_empty());
}

#[test]
fn token_servers_are_not_discovered() {
    let (result, replay) = run(
        &linear(None),
        body(json!({"type": "token", "auth_token": "sk-1"})),
    );
    let p = result.unwrap();
    assert!(p.discovery.is_none());
    assert!(replay.sent.borrow().is_empty());
}

#[test]
fn missing_auth_on_a_protected_server_is_auth_required() {
    let (result, _) = run(
        &linear(None),
        json!({"name": "x", "config": {"endpoint": "https://mcp.linear.app/mcp"}}),
    );
    let Err(ProvisionError::AuthRequired(d)) = result else {
        panic!("expected AuthRequired")
    };
    assert_eq!(
        d.recommended_auth_mode.unwrap().as_str(),
        "oauth_authorization_code_confidential_pkce"
    );
}

#[test]
fn confidential_dcr_hydrates_and_registers_with_the_callback_url() {
    let answer = json!({"client_id": "c-1", "client_secret": "s-1", "token_endpoint_auth_method": "client_secret_basic"});
    let (result, replay) = run(
        &linear(Some(answer)),
        body(json!({"type": "oauth_authorization_code_confidential_pkce"})),
    );
    let p = result.unwrap();
    let Some(AuthConfig::OauthAuthorizationCodeConfidentialPkce(a)) = &p.body.config.auth else {
        panic!()
    };
    assert_eq!(a.client_id.as_deref(), Some("c-1"));
    assert_eq!(a.client_secret.as_ref().unwrap().expose(), "s-1");
    assert_eq!(
        a.token_endpoint_auth_method,
        Some(ClientAuthMethod::ClientSecretBasic)
    );
    assert_eq!(
        a.auth_url.as_deref(),
        Some("https://mcp.linear.app/authorize")
    );
    assert_eq!(a.token_url.as_deref(), Some("https://mcp.linear.app/token"));
    assert_eq!(a.resource.as_deref(), Some("https://mcp.linear.app/mcp"));
    assert_eq!(p.provider.issuer.as_deref(), Some("https://mcp.linear.app"));
    let sent = replay.sent.borrow();
    let reg = sent
        .iter()
        .find(|r| r.url == "https://mcp.linear.app/register")
        .unwrap();
    let sent_body: Value = serde_json::from_str(reg.body.as_deref().unwrap()).unwrap();
    assert_eq!(sent_body["redirect_uris"], json!([CALLBACK]));
    assert_eq!(
        sent_body["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    assert!(sent_body.get("resource").is_none());
}

#[test]
fn a_provider_that_issues_no_secret_turns_the_server_public() {
    let answer = json!({"client_id": "c-pub", "token_endpoint_auth_method": "none"});
    let (result, _) = run(
        &linear(Some(answer)),
        body(json!({"type": "oauth_authorization_code_confidential_pkce"})),
    );
    let p = result.unwrap();
    let Some(AuthConfig::OauthAuthorizationCodePublicPkce(a)) = &p.body.config.auth else {
        panic!("expected a public client: {:?}", p.body.config.auth)
    };
    assert_eq!(a.client_id.as_deref(), Some("c-pub"));
}

#[test]
fn no_registration_endpoint_means_credentials_by_hand() {
    let mut fixture = linear(None);
    for r in fixture["routes"].as_array_mut().unwrap() {
        if let Some(j) = r.get_mut("json").and_then(Value::as_object_mut) {
            j.remove("registration_endpoint");
        }
    }
    let (result, _) = run(
        &fixture,
        body(json!({"type": "oauth_authorization_code_public_pkce"})),
    );
    assert!(
        matches!(
            result,
            Err(ProvisionError::Registration(
                RegistrationFailure::Unavailable
            ))
        ),
        "{result:?}"
    );
}

#[test]
fn hand_supplied_credentials_get_the_providers_preferred_method() {
    let mut fixture = linear(None);
    for r in fixture["routes"].as_array_mut().unwrap() {
        if let Some(j) = r.get_mut("json").and_then(Value::as_object_mut) {
            if j.contains_key("token_endpoint_auth_methods_supported") {
                j.insert(
                    "token_endpoint_auth_methods_supported".into(),
                    json!(["none", "client_secret_post"]),
                );
            }
        }
    }
    let auth = json!({"type": "oauth_authorization_code_confidential_pkce", "client_id": "mine", "client_secret": "s"});
    let (result, replay) = run(&fixture, body(auth));
    let p = result.unwrap();
    let Some(AuthConfig::OauthAuthorizationCodeConfidentialPkce(a)) = &p.body.config.auth else {
        panic!()
    };
    assert_eq!(
        a.token_endpoint_auth_method,
        Some(ClientAuthMethod::ClientSecretPost)
    );
    assert!(
        !replay
            .sent
            .borrow()
            .iter()
            .any(|r| r.url.ends_with("/register")),
        "no DCR with credentials given"
    );
}

#[test]
fn an_unusable_authorization_server_is_named_not_mistaken_for_missing_dcr() {
    let mut fixture = linear(None);
    for r in fixture["routes"].as_array_mut().unwrap() {
        if r["url"] == "https://mcp.linear.app/.well-known/oauth-authorization-server" {
            r["json"]["issuer"] = json!("https://someone-else.example");
        }
    }
    let (result, _) = run(
        &fixture,
        body(json!({"type": "oauth_authorization_code_public_pkce"})),
    );
    let Err(ProvisionError::NoAuthorizationServer(d)) = result else {
        panic!("{result:?}")
    };
    assert_eq!(
        d.evidence.authorization_server,
        mcp_authlink::discovery::AsEvidence::Rejected
    );
    // With everything given by hand, the same provider is fine.
    let auth = json!({"type": "oauth_authorization_code_public_pkce", "client_id": "c",
        "auth_url": "https://mcp.linear.app/authorize", "token_url": "https://mcp.linear.app/token"});
    let (result, _) = run(&fixture, body(auth));
    assert!(result.is_ok(), "{result:?}");
}

/// The Linear fixture with members of its authorization server metadata replaced.
fn linear_as(changes: Value) -> Value {
    let mut fixture = linear(None);
    let routes = fixture["routes"].as_array_mut().unwrap();
    let asm = routes
        .iter_mut()
        .find(|r| r["url"] == "https://mcp.linear.app/.well-known/oauth-authorization-server")
        .unwrap();
    for (k, v) in changes.as_object().unwrap() {
        asm["json"][k] = v.clone();
    }
    fixture
}

#[test]
fn urls_found_by_discovery_pass_the_typed_urls_checks_at_create() {
    let cases = [
        (
            json!({"authorization_endpoint": "http://mcp.linear.app/authorize"}),
            "config.auth.auth_url",
            "insecure_url",
        ),
        (
            json!({"token_endpoint": "https://user:pass@mcp.linear.app/token"}),
            "config.auth.token_url",
            "invalid_value",
        ),
        (
            json!({"registration_endpoint": "https://169.254.169.254/register"}),
            "config.auth.register_url",
            "invalid_value",
        ),
    ];
    for (changes, path, code) in cases {
        let (result, replay) = run(
            &linear_as(changes.clone()),
            body(json!({"type": "oauth_authorization_code_confidential_pkce"})),
        );
        let Err(ProvisionError::NotHydrated(errors, _)) = result else {
            panic!("{changes}: expected NotHydrated, got {result:?}")
        };
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, path);
        assert_eq!(errors[0].code.as_str(), code);
        assert!(
            errors[0].message.contains("discovery found this URL"),
            "{}",
            errors[0].message
        );
        // Nothing was registered: the registration endpoint was never called.
        let sent = replay.sent.borrow();
        assert!(
            !sent
                .iter()
                .any(|r| r.method.as_str() == "POST" && r.url.contains("register")),
            "{changes}: {sent:?}"
        );
    }
}

#[test]
fn typed_urls_are_kept_even_when_discovery_would_have_refused_its_own() {
    // The user typed a good auth_url; discovery's http one is not used, so not judged.
    let (result, _) = run(
        &linear_as(json!({"authorization_endpoint": "http://mcp.linear.app/authorize"})),
        body(json!({
            "type": "oauth_authorization_code_confidential_pkce",
            "client_id": "c-1",
            "client_secret": "s-1",
            "auth_url": "https://mcp.linear.app/authorize",
        })),
    );
    let p = result.unwrap();
    let Some(AuthConfig::OauthAuthorizationCodeConfidentialPkce(a)) = &p.body.config.auth else {
        panic!()
    };
    assert_eq!(
        a.auth_url.as_deref(),
        Some("https://mcp.linear.app/authorize")
    );
}

const CIMD: &str = "https://authlink.example/.well-known/mcp-authlink/client-metadata.json";

/// The Linear fixture whose authorization server also supports client ID metadata documents.
fn linear_with_cimd() -> Value {
    let mut f = linear(None);
    for r in f["routes"].as_array_mut().unwrap() {
        if r["url"] == "https://mcp.linear.app/.well-known/oauth-authorization-server" {
            r["json"]["client_id_metadata_document_supported"] = json!(true);
        }
    }
    f
}

fn run_with_cimd(fixture: &Value, body: Value) -> (Result<Provisioned, ProvisionError>, Replay) {
    let replay = Replay::new(fixture);
    let options = ProvisionOptions {
        policy: TargetPolicy::SERVER,
        callback_url: CALLBACK,
        server_redirect_uri: None,
        cimd: Some((CIMD, CALLBACK)),
        timeout_ms: 1000,
    };
    let result = block_on(provision(&body, &replay, &options));
    (result, replay)
}

#[test]
fn cimd_is_the_client_of_a_public_config_and_nothing_is_registered() {
    use mcp_authlink::registration::ClientSource;
    let (result, replay) = run_with_cimd(
        &linear_with_cimd(),
        body(json!({"type": "oauth_authorization_code_public_pkce"})),
    );
    let p = result.unwrap();
    let Some(AuthConfig::OauthAuthorizationCodePublicPkce(a)) = &p.body.config.auth else {
        panic!()
    };
    assert_eq!(a.client_id.as_deref(), Some(CIMD));
    assert_eq!(p.provider.client_source, Some(ClientSource::Cimd));
    assert_eq!(
        p.provider.client_issuer.as_deref(),
        Some("https://mcp.linear.app")
    );
    assert!(!replay
        .sent
        .borrow()
        .iter()
        .any(|r| r.url.ends_with("/register")));
    // Without a document to offer (an http development Worker), DCR as before.
    let answer = json!({"client_id": "c-9", "token_endpoint_auth_method": "none"});
    let (result, _) = run(
        &linear(Some(answer)),
        body(json!({"type": "oauth_authorization_code_public_pkce"})),
    );
    let p = result.unwrap();
    assert_eq!(p.provider.client_source, Some(ClientSource::Dcr));
}

#[test]
fn a_confidential_config_registers_by_dcr_even_when_cimd_is_offered() {
    use mcp_authlink::registration::ClientSource;
    let mut f = linear_with_cimd();
    let answer = json!({"client_id": "c-1", "client_secret": "s-1", "token_endpoint_auth_method": "client_secret_basic"});
    f["routes"].as_array_mut().unwrap().insert(
        0,
        json!({"method": "POST", "url": "https://mcp.linear.app/register", "status": 201, "json": answer}),
    );
    let (result, replay) = run_with_cimd(
        &f,
        body(json!({"type": "oauth_authorization_code_confidential_pkce"})),
    );
    let p = result.unwrap();
    assert_eq!(p.provider.client_source, Some(ClientSource::Dcr));
    let sent = replay.sent.borrow();
    let reg = sent.iter().find(|r| r.url.ends_with("/register")).unwrap();
    let sent_body: Value = serde_json::from_str(reg.body.as_deref().unwrap()).unwrap();
    assert_eq!(sent_body["application_type"], "web");
    // The AS lists no offline_access: the scope is the PRM's.
    assert_eq!(sent_body["scope"], "read write");
}

#[test]
fn a_server_saved_without_auth_is_provisioned_from_a_runtime_challenge() {
    use mcp_authlink::config::ServerConfig;
    use mcp_authlink::provision::provision_from_challenge;
    use std::collections::BTreeMap;
    let mut f = linear(Some(
        json!({"client_id": "c-2", "client_secret": "s-2", "token_endpoint_auth_method": "client_secret_post"}),
    ));
    // The endpoint itself now answers initialize anonymously: only the runtime saw a challenge.
    let challenge = f["routes"][1]["headers"]["www-authenticate"]
        .as_str()
        .unwrap()
        .to_owned();
    f["routes"][1] =
        json!({"method": "POST", "url": "https://mcp.linear.app/mcp", "status": 200, "json": {}});
    let replay = Replay::new(&f);
    let options = ProvisionOptions {
        policy: TargetPolicy::SERVER,
        callback_url: CALLBACK,
        server_redirect_uri: None,
        cimd: None,
        timeout_ms: 1000,
    };
    let stored = ServerConfig {
        endpoint: "https://mcp.linear.app/mcp".into(),
        headers: BTreeMap::new(),
        auth: None,
    };
    let p = block_on(provision_from_challenge(
        "linear",
        &stored,
        401,
        &[challenge],
        &replay,
        &options,
    ))
    .unwrap();
    let Some(AuthConfig::OauthAuthorizationCodeConfidentialPkce(a)) = &p.body.config.auth else {
        panic!("{:?}", p.body.config.auth)
    };
    assert_eq!(a.client_id.as_deref(), Some("c-2"));
    assert_eq!(a.scopes, ["read", "write"]);
    assert_eq!(p.provider.issuer.as_deref(), Some("https://mcp.linear.app"));
    // The endpoint was never asked: the challenge stood in for the probe.
    assert!(!replay
        .sent
        .borrow()
        .iter()
        .any(|r| r.url == "https://mcp.linear.app/mcp"));
}

#[test]
fn dcr_registers_the_servers_own_redirect_uri() {
    let answer = json!({"client_id": "c-1", "client_secret": "s-1", "token_endpoint_auth_method": "client_secret_basic"});
    let replay = Replay::new(&linear(Some(answer)));
    let own = format!("{CALLBACK}?s=srv-1");
    let options = ProvisionOptions {
        policy: TargetPolicy::SERVER,
        callback_url: CALLBACK,
        server_redirect_uri: Some(&own),
        cimd: None,
        timeout_ms: 1000,
    };
    let p = block_on(provision(
        &body(json!({"type": "oauth_authorization_code_confidential_pkce"})),
        &replay,
        &options,
    ))
    .unwrap();
    assert_eq!(p.provider.redirect_uri.as_deref(), Some(own.as_str()));
    let sent = replay.sent.borrow();
    let reg = sent.iter().find(|r| r.url.ends_with("/register")).unwrap();
    let sent_body: Value = serde_json::from_str(reg.body.as_deref().unwrap()).unwrap();
    assert_eq!(sent_body["redirect_uris"], json!([own]));
    // A hand-registered client keeps the documented callback.
    let (result, _) = run(
        &linear(None),
        body(
            json!({"type": "oauth_authorization_code_confidential_pkce", "client_id": "mine", "client_secret": "s"}),
        ),
    );
    assert_eq!(result.unwrap().provider.redirect_uri, None);
}
