//! What a validated config becomes: its normalised serialisation and auth mode, its redacted
//! view, and its hydration from a discovery result.

use super::*;

#[test]
fn serialisation_is_normalised_and_round_trips() {
    let input = body(json!({
        "endpoint": "https://mcp.example.com/mcp",
        "headers": {"X-Extra": "v"},
        "auth": {
            "type": "oauth_authorization_code_public_pkce",
            "scopes": ["read", "write", "read"],
            "allow_issuer_mismatch": true,
            "allow_unadvertised_pkce": false,
            "auth_url": null,
        }
    }));
    let b = ok(input);
    let value = serde_json::to_value(&b).unwrap();
    assert_eq!(
        value,
        json!({"name": "crm-mcp", "config": {
            "endpoint": "https://mcp.example.com/mcp",
            "headers": {"x-extra": "v"},
            "auth": {"type": "oauth_authorization_code_public_pkce",
                     "scopes": ["read", "write"], "allow_issuer_mismatch": true}}})
    );
    assert_eq!(
        b.config.auth.as_ref().unwrap().mode(),
        AuthMode::OauthAuthorizationCodePublicPkce
    );
    assert!(b.config.auth.as_ref().unwrap().allow_issuer_mismatch());
    assert!(!b.config.auth.as_ref().unwrap().allow_unadvertised_pkce());
    // The normalised body validates to itself, and deserialises to itself.
    for b in all_kinds().into_iter().chain([b]) {
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(ok(v.clone()), b);
        assert_eq!(serde_json::from_value::<ServerConfigBody>(v).unwrap(), b);
    }
    let none = ok(body(json!({"endpoint": "https://mcp.example.com/mcp"})));
    assert_eq!(
        serde_json::to_value(&none).unwrap(),
        json!({"name": "crm-mcp", "config": {"endpoint": "https://mcp.example.com/mcp"}})
    );
    assert_eq!(none.config.auth, None);
}

#[test]
fn every_auth_type_maps_to_its_mode() {
    let modes: Vec<AuthMode> = all_kinds()
        .iter()
        .map(|b| b.config.auth.as_ref().unwrap().mode())
        .collect();
    assert_eq!(
        modes,
        [
            AuthMode::Token,
            AuthMode::OauthClientCredentials,
            AuthMode::OauthAuthorizationCodePublicPkce,
            AuthMode::OauthAuthorizationCodeConfidentialPkce
        ]
    );
}

#[test]
fn redaction_and_debug_never_show_a_secret() {
    for b in all_kinds() {
        let red = b.config.redacted();
        let text = red.to_string();
        let debug = format!("{b:?} {:?} {:?}", b.config, b.config.auth);
        for s in SECRETS {
            assert!(!text.contains(s), "{s} in {text}");
            assert!(!debug.contains(s), "{s} in {debug}");
        }
        assert_eq!(red["header_names"], json!(["x-api-key"]));
        assert!(red.get("headers").is_none());
        let auth = &red["auth"];
        match b.config.auth.as_ref().unwrap().mode() {
            AuthMode::Token => assert_eq!(auth["has_auth_token"], json!(true)),
            AuthMode::OauthAuthorizationCodePublicPkce => {
                assert!(auth.get("has_client_secret").is_none());
                assert_eq!(auth["client_id"], json!("pub"));
            }
            _ => assert_eq!(auth["has_client_secret"], json!(true)),
        }
    }
    // DCR confidential: no secret, no flag.
    let dcr = ok(with_auth(
        json!({"type": "oauth_authorization_code_confidential_pkce"}),
    ));
    assert!(dcr.config.redacted()["auth"]
        .get("has_client_secret")
        .is_none());
    // Error messages do not echo secrets either.
    let e = errs(body(json!({"endpoint": "https://mcp.example.com/mcp",
        "headers": {"x-key": "sk-live-123\n"},
        "auth": {"type": "token", "auth_token": "sk-live-123", "x": 1}})));
    assert!(!format!("{e:?}").contains("sk-live"), "{e:#?}");
}

fn discovery() -> DiscoveryResult {
    DiscoveryResult {
        auth_url: Some("https://as.example.com/authorize".into()),
        token_url: Some("https://as.example.com/token".into()),
        register_url: Some("https://as.example.com/register".into()),
        resource: Some("https://mcp.example.com/mcp".into()),
        scopes: vec!["d1".into(), "d2".into(), "d1".into()],
        ..DiscoveryResult::default()
    }
}

#[test]
fn hydration_fills_only_what_is_missing() {
    let d = discovery();
    let public = ok(with_auth(
        json!({"type": "oauth_authorization_code_public_pkce"}),
    ));
    let h = hydrate_server_config(&public.config, &d);
    assert_eq!(
        serde_json::to_value(h.auth.unwrap()).unwrap(),
        json!({"type": "oauth_authorization_code_public_pkce",
               "auth_url": "https://as.example.com/authorize",
               "token_url": "https://as.example.com/token",
               "register_url": "https://as.example.com/register",
               "resource": "https://mcp.example.com/mcp",
               "scopes": ["d1", "d2"]})
    );
    // Values the user gave are kept, scopes included.
    let given = ok(with_auth(
        json!({"type": "oauth_authorization_code_confidential_pkce",
        "auth_url": "https://mine.example.com/a", "scopes": ["mine"],
        "resource": "https://mine.example.com/r"}),
    ));
    match hydrate_server_config(&given.config, &d).auth.unwrap() {
        AuthConfig::OauthAuthorizationCodeConfidentialPkce(a) => {
            assert_eq!(a.auth_url.as_deref(), Some("https://mine.example.com/a"));
            assert_eq!(a.token_url.as_deref(), Some("https://as.example.com/token"));
            assert_eq!(
                a.register_url.as_deref(),
                Some("https://as.example.com/register")
            );
            assert_eq!(a.resource.as_deref(), Some("https://mine.example.com/r"));
            assert_eq!(a.scopes, ["mine"]);
        }
        other => panic!("{other:?}"),
    }
    let cc = ok(with_auth(
        json!({"type": "oauth_client_credentials", "client_id": "a", "client_secret": "b"}),
    ));
    match hydrate_server_config(&cc.config, &d).auth.unwrap() {
        AuthConfig::OauthClientCredentials(a) => {
            assert_eq!(a.token_url.as_deref(), Some("https://as.example.com/token"));
            assert_eq!(a.scopes, ["d1", "d2"]);
        }
        other => panic!("{other:?}"),
    }
    // Nothing discovered: nothing changes.
    assert_eq!(
        hydrate_server_config(&public.config, &DiscoveryResult::default()),
        public.config
    );
    for b in [
        ok(with_auth(json!({"type": "token", "auth_token": "t"}))),
        ok(body(json!({"endpoint": "https://a.example.com"}))),
    ] {
        assert_eq!(hydrate_server_config(&b.config, &d), b.config);
    }
}

#[test]
fn require_hydrated_names_what_is_missing() {
    let public = ok(with_auth(
        json!({"type": "oauth_authorization_code_public_pkce"}),
    ));
    let e = require_hydrated(&public).unwrap_err();
    assert!(has(&e, "config.auth.auth_url", ConfigErrorCode::Required));
    assert!(has(&e, "config.auth.token_url", ConfigErrorCode::Required));
    let hydrated = ServerConfigBody {
        config: hydrate_server_config(&public.config, &discovery()),
        ..public
    };
    assert_eq!(require_hydrated(&hydrated), Ok(()));
    let cc = ok(with_auth(
        json!({"type": "oauth_client_credentials", "client_id": "a", "client_secret": "b"}),
    ));
    assert_eq!(require_hydrated(&cc).unwrap_err().len(), 1);
    assert_eq!(
        require_hydrated(&ok(with_auth(json!({"type": "token", "auth_token": "t"})))),
        Ok(())
    );
}
