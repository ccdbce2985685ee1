//! Validation of a create body: every field's checks, every error code, and the report of
//! every problem at once.

use super::*;
use crate::config::suggest::edit_distance;

#[test]
fn validates_a_full_confidential_body() {
    let auth = json!({
        "type": "oauth_authorization_code_confidential_pkce",
        "client_id": "abc", "client_secret": "shh",
        "auth_url": "https://auth.example.com/authorize",
        "token_url": "https://auth.example.com/token",
        "register_url": "https://auth.example.com/register",
        "scopes": ["read", "write"],
        "resource": "https://mcp.example.com/mcp",
        "token_endpoint_auth_method": "client_secret_basic",
        "allow_issuer_mismatch": true,
        "allow_unadvertised_pkce": true,
    });
    let b = ok(with_auth(auth.clone()));
    assert_eq!(serde_json::to_value(&b.config.auth).unwrap(), auth);
    match b.config.auth.unwrap() {
        AuthConfig::OauthAuthorizationCodeConfidentialPkce(a) => {
            assert_eq!(a.client_secret.unwrap().expose(), "shh");
            assert_eq!(
                a.token_endpoint_auth_method,
                Some(ClientAuthMethod::ClientSecretBasic)
            );
            assert!(a.allow_unadvertised_pkce);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn each_error_code_has_a_trigger() {
    use ConfigErrorCode::*;
    let cases: [(Value, &str, ConfigErrorCode); 9] = [
        (
            body(json!({"server_url": "https://a.example.com"})),
            "config.server_url",
            UseEndpoint,
        ),
        (
            body(json!({"endpoint": "https://a.example.com", "client_id": "x"})),
            "config.client_id",
            AuthNotNested,
        ),
        (
            with_auth(json!({"type": "oauth2"})),
            "config.auth.type",
            UnknownAuthType,
        ),
        (body(json!({})), "config.endpoint", Required),
        (
            body(json!({"endpoint": "https://a.example.com", "extra": 1})),
            "config.extra",
            UnknownField,
        ),
        (
            with_auth(json!({"type": "token", "auth_token": 5})),
            "config.auth.auth_token",
            InvalidType,
        ),
        (
            json!({"name": "x".repeat(101), "config": {"endpoint": "https://a.example.com"}}),
            "name",
            InvalidValue,
        ),
        (
            body(json!({"endpoint": "mcp.example.com/mcp"})),
            "config.endpoint",
            InvalidUrl,
        ),
        (
            body(json!({"endpoint": "http://mcp.example.com/mcp"})),
            "config.endpoint",
            InsecureUrl,
        ),
    ];
    for (input, path, code) in cases {
        let e = errs(input);
        assert_has(&e, path, code);
        assert!(e.iter().all(|e| !e.message.is_empty()));
    }
    let all: Vec<String> = ConfigErrorCode::ALL
        .iter()
        .map(|c| {
            serde_json::to_value(c)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        all,
        [
            "use_endpoint",
            "auth_not_nested",
            "unknown_auth_type",
            "required",
            "unknown_field",
            "invalid_type",
            "invalid_value",
            "invalid_url",
            "insecure_url"
        ]
    );
    for c in ConfigErrorCode::ALL {
        assert_eq!(serde_json::to_value(c).unwrap(), json!(c.as_str()));
    }
    let e = ConfigError::new("config.endpoint", Required, "fix it");
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({"path": "config.endpoint", "code": "required", "message": "fix it"})
    );
}

#[test]
fn reports_every_problem_at_once() {
    let e = errs(json!({
        "name": "   ",
        "extra": true,
        "config": {
            "server_url": "https://a.example.com",
            "client_secret": "s",
            "headers": {"Authorization": "Bearer x", "bad header": "v", "x-n": 3},
            "auth": {
                "type": "oauth_client_credentials",
                "client_id": "",
                "auth_url": "https://a.example.com/authorize",
                "scopes": ["a", 7, "b c", ""],
                "token_url": "http://auth.example.com/token",
                "resource": "not a url",
                "token_endpoint_auth_method": "none",
                "allow_issuer_mismatch": "true",
                "scpoes": []
            }
        }
    }));
    use ConfigErrorCode::*;
    let expected = [
        ("extra", UnknownField),
        ("name", Required),
        ("config.server_url", UseEndpoint),
        ("config.client_secret", AuthNotNested),
        ("config.endpoint", Required),
        ("config.headers.Authorization", InvalidValue),
        ("config.headers.bad header", InvalidValue),
        ("config.headers.x-n", InvalidType),
        ("config.auth.client_id", Required),
        ("config.auth.client_secret", Required),
        ("config.auth.auth_url", UnknownField),
        ("config.auth.scopes[1]", InvalidType),
        ("config.auth.scopes[2]", InvalidValue),
        ("config.auth.scopes[3]", InvalidValue),
        ("config.auth.token_url", InsecureUrl),
        ("config.auth.resource", InvalidUrl),
        ("config.auth.token_endpoint_auth_method", InvalidValue),
        ("config.auth.allow_issuer_mismatch", InvalidType),
        ("config.auth.scpoes", UnknownField),
    ];
    for (path, code) in expected {
        assert_has(&e, path, code);
    }
    assert_eq!(e.len(), expected.len(), "{e:#?}");
}

#[test]
fn server_url_is_use_endpoint_only() {
    let e = errs(body(json!({"server_url": "https://mcp.example.com/mcp"})));
    assert!(
        !e.iter().any(|e| e.code == ConfigErrorCode::UnknownField),
        "{e:#?}"
    );
    let m = &e
        .iter()
        .find(|e| e.path == "config.server_url")
        .unwrap()
        .message;
    assert_eq!(m, "use config.endpoint (not server_url)");
    assert_has(
        &errs(body(json!({"serverUrl": "https://a.example"}))),
        "config.serverUrl",
        ConfigErrorCode::UseEndpoint,
    );
}

#[test]
fn unknown_fields_name_the_fix() {
    let msg =
        |e: &[ConfigError], path: &str| e.iter().find(|e| e.path == path).unwrap().message.clone();
    let e = errs(body(json!({"endpont": "https://mcp.example.com/mcp"})));
    assert!(msg(&e, "config.endpont").contains("did you mean `endpoint`?"));
    let e = errs(with_auth(json!({"type": "token", "authToken": "x"})));
    assert!(msg(&e, "config.auth.authToken").contains("did you mean `auth_token`?"));
    let e = errs(with_auth(
        json!({"type": "oauth_client_credentials", "client_id": "a",
                                  "client_secret": "b", "register_url": "https://a.example.com/r"}),
    ));
    let m = msg(&e, "config.auth.register_url");
    assert!(m.contains("oauth_authorization_code_public_pkce"), "{m}");
    let e = errs(with_auth(json!({"type": "oauth2"})));
    let m = msg(&e, "config.auth.type");
    for t in AuthMode::ALL {
        assert!(m.contains(t.as_str()), "{m}");
    }
    let e = errs(with_auth(json!({"type": "client_credentials"})));
    assert!(msg(&e, "config.auth.type").contains("did you mean `oauth_client_credentials`?"));
    let e = errs(body(
        json!({"endpoint": "https://a.example.com", "clientSecret": "x"}),
    ));
    assert!(msg(&e, "config.clientSecret").contains("config.auth.client_secret"));
    let e = errs(json!({"name": "n", "config": {}, "endpoint": "https://a.example.com"}));
    assert!(msg(&e, "endpoint").contains("under config"));
}

#[test]
fn an_unknown_null_field_still_fails() {
    let e = errs(with_auth(
        json!({"type": "oauth_authorization_code_public_pkce", "client_id_unused": null}),
    ));
    assert_has(
        &e,
        "config.auth.client_id_unused",
        ConfigErrorCode::UnknownField,
    );
}

#[test]
fn name_counts_characters_and_refuses_blank() {
    let named = |n: &str| json!({"name": n, "config": {"endpoint": "https://a.example.com"}});
    assert_eq!(ok(named(&"é".repeat(100))).name.chars().count(), 100);
    assert_has(
        &errs(named(&"é".repeat(101))),
        "name",
        ConfigErrorCode::InvalidValue,
    );
    assert_has(&errs(named(" \t ")), "name", ConfigErrorCode::Required);
    assert_has(&errs(named("a\nb")), "name", ConfigErrorCode::InvalidValue);
    assert_has(
        &errs(json!({"name": 7, "config": {"endpoint": "https://a.example.com"}})),
        "name",
        ConfigErrorCode::InvalidType,
    );
    assert_has(
        &errs(json!({"name": "n"})),
        "config",
        ConfigErrorCode::Required,
    );
    assert_has(
        &errs(json!({"name": "n", "config": []})),
        "config",
        ConfigErrorCode::InvalidType,
    );
    assert_has(&errs(json!([1])), "", ConfigErrorCode::InvalidType);
}

#[test]
fn per_type_required_fields() {
    use ConfigErrorCode::Required;
    assert_has(
        &errs(with_auth(json!({"type": "token"}))),
        "config.auth.auth_token",
        Required,
    );
    assert_has(
        &errs(with_auth(json!({"type": "token", "auth_token": "  "}))),
        "config.auth.auth_token",
        Required,
    );
    let e = errs(with_auth(json!({"type": "oauth_client_credentials"})));
    assert_has(&e, "config.auth.client_id", Required);
    assert_has(&e, "config.auth.client_secret", Required);
    assert_has(&errs(with_auth(json!({}))), "config.auth.type", Required);
    let conf = "oauth_authorization_code_confidential_pkce";
    assert_has(
        &errs(with_auth(json!({"type": conf, "client_secret": "s"}))),
        "config.auth.client_id",
        Required,
    );
    ok(with_auth(
        json!({"type": conf, "client_id": "i", "client_secret": "s"}),
    ));
    ok(with_auth(
        json!({"type": conf, "token_endpoint_auth_method": "client_secret_post"}),
    ));
    let e = errs(with_auth(
        json!({"type": conf, "token_endpoint_auth_method": "none"}),
    ));
    assert_has(
        &e,
        "config.auth.token_endpoint_auth_method",
        ConfigErrorCode::InvalidValue,
    );
    let e = errs(with_auth(
        json!({"type": conf, "token_endpoint_auth_method": "private_key_jwt"}),
    ));
    assert_has(
        &e,
        "config.auth.token_endpoint_auth_method",
        ConfigErrorCode::InvalidValue,
    );
}

#[test]
fn headers_are_checked_and_lower_cased() {
    let h = |headers: Value| body(json!({"endpoint": "https://a.example.com", "headers": headers}));
    let b = ok(h(json!({"X-Extra": "1", "x-other": "2"})));
    assert_eq!(
        b.config.headers.keys().collect::<Vec<_>>(),
        ["x-extra", "x-other"]
    );
    assert_eq!(b.config.headers["x-extra"].expose(), "1");
    use ConfigErrorCode::*;
    assert_has(
        &errs(h(json!({"authorization": "Bearer x"}))),
        "config.headers.authorization",
        InvalidValue,
    );
    assert_has(
        &errs(h(json!({"X-A": "1", "x-a": "2"}))),
        "config.headers.x-a",
        InvalidValue,
    );
    assert_has(
        &errs(h(json!({"x-a": "1\r\nx-b: 2"}))),
        "config.headers.x-a",
        InvalidValue,
    );
    assert_has(&errs(h(json!({"x-a": ""}))), "config.headers.x-a", Required);
    assert_has(
        &errs(h(json!({"x-a": ["1"]}))),
        "config.headers.x-a",
        InvalidType,
    );
    assert_has(
        &errs(h(json!({"x:a": "1"}))),
        "config.headers.x:a",
        InvalidValue,
    );
    assert_has(&errs(h(json!(["x-a"]))), "config.headers", InvalidType);
}

#[test]
fn urls_follow_the_target_policy() {
    use ConfigErrorCode::*;
    let ep = |u: &str| body(json!({"endpoint": u}));
    ok(ep("http://localhost:8787/mcp"));
    ok(ep("http://[::1]:8787/mcp"));
    assert_has(
        &errs(ep("ftp://a.example.com/")),
        "config.endpoint",
        InvalidUrl,
    );
    assert_has(
        &errs(ep("https://user:pw@a.example.com/")),
        "config.endpoint",
        InvalidValue,
    );
    assert_has(
        &errs(ep("https://a.example.com/#x")),
        "config.endpoint",
        InvalidValue,
    );
    assert_has(&errs(ep("")), "config.endpoint", Required);
    assert_has(&errs(ep("   ")), "config.endpoint", Required);
    let server = TargetPolicy::SERVER;
    assert_has(
        &errs_with(ep("https://10.0.0.5/mcp"), server),
        "config.endpoint",
        InvalidValue,
    );
    assert_has(
        &errs_with(ep("http://127.0.0.1/mcp"), server),
        "config.endpoint",
        InsecureUrl,
    );
    assert!(validate_server_config(&ep("https://mcp.example.com/mcp"), server).is_ok());
    assert!(
        validate_server_config(&ep("http://127.0.0.1:3000/mcp"), TargetPolicy::SERVER_DEV).is_ok()
    );
    let e = errs(with_auth(
        json!({"type": "oauth_authorization_code_public_pkce", "register_url": "/register"}),
    ));
    assert_has(&e, "config.auth.register_url", InvalidUrl);
}

#[test]
fn scopes_are_strings_without_spaces_deduplicated() {
    let s = |scopes: Value| {
        with_auth(json!({"type": "oauth_authorization_code_public_pkce", "scopes": scopes}))
    };
    let b = ok(s(json!(["b", "a", "b", "c:read"])));
    match b.config.auth.unwrap() {
        AuthConfig::OauthAuthorizationCodePublicPkce(a) => {
            assert_eq!(a.scopes, ["b", "a", "c:read"])
        }
        other => panic!("{other:?}"),
    }
    use ConfigErrorCode::*;
    assert_has(
        &errs(s(json!("read write"))),
        "config.auth.scopes",
        InvalidType,
    );
    assert_has(
        &errs(s(json!(["read write"]))),
        "config.auth.scopes[0]",
        InvalidValue,
    );
    assert_has(
        &errs(s(json!(["a", "q\"x"]))),
        "config.auth.scopes[1]",
        InvalidValue,
    );
    assert_has(
        &errs(s(json!([null]))),
        "config.auth.scopes[0]",
        InvalidType,
    );
}

#[test]
fn edit_distance_counts_chars() {
    assert_eq!(edit_distance("endpont", "endpoint"), 1);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(edit_distance("é", "e"), 1);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
}

#[cfg(not(target_arch = "wasm32"))]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn names_pass_exactly_when_valid(name in "\\PC{0,120}|[ \t]{1,3}") {
            let input = json!({"name": name, "config": {"endpoint": "https://a.example.com"}});
            let valid = !name.trim().is_empty() && name.chars().count() <= 100;
            prop_assert_eq!(validate_server_config(&input, TargetPolicy::CLIENT).is_ok(), valid);
        }

        #[test]
        fn any_config_keys_never_panic(keys in proptest::collection::vec("[a-zA-Z_]{0,12}", 0..6)) {
            let mut config = serde_json::Map::new();
            for k in keys { config.insert(k, json!("x")); }
            let input = json!({"name": "n", "config": config});
            let _ = validate_server_config(&input, TargetPolicy::CLIENT);
        }
    }
}

/// The test key of `token::assertion` (P-256, PKCS#8).
const TEST_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg9ud1bJvBFUOmf324
x70ea1CVyzJlk1hWmCboeMQ1hfyhRANCAATddwy6+ui8AnEvKrshD4cGq6CrbeQp
mby0aKzTVhS2xHVsVk0Ui1XpvAXYnNCTlkrx+GcmssaIl9WhQjCGhAR9
-----END PRIVATE KEY-----";

#[test]
fn private_key_jwt_for_client_credentials() {
    use crate::token::assertion::SigningAlgorithm;
    let cc = "oauth_client_credentials";
    // A key alone implies private_key_jwt and ES256; no client_secret needed.
    let b = ok(with_auth(
        json!({"type": cc, "client_id": "c", "private_key": TEST_PEM}),
    ));
    let AuthConfig::OauthClientCredentials(a) = b.config.auth.clone().unwrap() else {
        panic!()
    };
    assert_eq!(
        a.token_endpoint_auth_method,
        Some(ClientAuthMethod::PrivateKeyJwt)
    );
    assert_eq!(a.signing_algorithm, Some(SigningAlgorithm::Es256));
    assert!(a.client_secret.is_none());
    assert_eq!(a.private_key.as_ref().unwrap().expose(), TEST_PEM);
    // Read routes never show the key.
    let redacted = b.config.redacted();
    assert_eq!(redacted["auth"]["has_private_key"], json!(true));
    assert!(redacted["auth"].get("private_key").is_none());
    assert!(!redacted.to_string().contains("PRIVATE KEY"));
    let tc = b.config.auth.unwrap().token_client().unwrap();
    assert_eq!(tc.client.unwrap().method, ClientAuthMethod::PrivateKeyJwt);
    assert!(tc.private_key.is_some());
    // Explicit, with the algorithm named.
    ok(with_auth(
        json!({"type": cc, "client_id": "c", "private_key": TEST_PEM,
        "token_endpoint_auth_method": "private_key_jwt", "signing_algorithm": "ES256"}),
    ));

    let cases: Vec<(Value, &str, ConfigErrorCode, &str)> = vec![
        (
            json!({"type": cc, "client_id": "c", "token_endpoint_auth_method": "private_key_jwt"}),
            "config.auth.private_key",
            ConfigErrorCode::Required,
            "config.auth.private_key is required for private_key_jwt",
        ),
        (
            json!({"type": cc, "client_id": "c", "private_key": "hunter2"}),
            "config.auth.private_key",
            ConfigErrorCode::InvalidValue,
            "config.auth.private_key is neither a PKCS#8 PEM",
        ),
        (
            json!({"type": cc, "client_id": "c", "private_key": {"kty": "RSA", "d": "x"}}),
            "config.auth.private_key",
            ConfigErrorCode::InvalidValue,
            "config.auth.private_key is a JWK that is not an EC P-256 key",
        ),
        (
            json!({"type": cc, "client_id": "c", "private_key": TEST_PEM, "signing_algorithm": "RS256"}),
            "config.auth.signing_algorithm",
            ConfigErrorCode::InvalidValue,
            "`RS256` is not supported: use ES256",
        ),
        (
            json!({"type": cc, "client_id": "c", "private_key": TEST_PEM, "client_secret": "s"}),
            "config.auth.client_secret",
            ConfigErrorCode::InvalidValue,
            "private_key_jwt signs with private_key and sends no secret: remove client_secret",
        ),
        (
            json!({"type": cc, "client_id": "c", "private_key": TEST_PEM,
                   "token_endpoint_auth_method": "client_secret_basic", "client_secret": "s"}),
            "config.auth.token_endpoint_auth_method",
            ConfigErrorCode::InvalidValue,
            "a private_key is used by token_endpoint_auth_method private_key_jwt only",
        ),
        (
            json!({"type": cc, "client_id": "c", "client_secret": "s", "signing_algorithm": "ES256"}),
            "config.auth.signing_algorithm",
            ConfigErrorCode::InvalidValue,
            "signing_algorithm applies to private_key_jwt only",
        ),
        (
            json!({"type": cc, "client_id": "c"}),
            "config.auth.client_secret",
            ConfigErrorCode::Required,
            "config.auth.client_secret is required for type oauth_client_credentials",
        ),
        (
            json!({"type": "oauth_authorization_code_confidential_pkce",
                   "token_endpoint_auth_method": "private_key_jwt"}),
            "config.auth.token_endpoint_auth_method",
            ConfigErrorCode::InvalidValue,
            "private_key_jwt is supported for oauth_client_credentials only",
        ),
        (
            json!({"type": "oauth_authorization_code_public_pkce", "private_key": TEST_PEM}),
            "config.auth.private_key",
            ConfigErrorCode::UnknownField,
            "`private_key` is not used by type oauth_authorization_code_public_pkce",
        ),
    ];
    for (auth, path, code, start) in cases {
        let e = errs(with_auth(auth.clone()));
        let found = e.iter().find(|x| x.path == path && x.code == code);
        let Some(found) = found else {
            panic!("{auth}: no {code} at {path} in {e:?}")
        };
        assert!(
            found.message.starts_with(start),
            "{auth}: {}",
            found.message
        );
        assert!(!found.message.contains("MIGH"), "the key is never quoted");
    }
}
