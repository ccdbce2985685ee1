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

#[test]
fn authorization_code_with_basic_auth() {
    let r = code_req(&basic()).unwrap();
    assert_eq!(r.method, crate::transport::Method::Post);
    assert_eq!(r.url, URL);
    assert_eq!(
        r.body.as_deref().unwrap(),
        "grant_type=authorization_code&code=c0de\
         &redirect_uri=https%3A%2F%2Fw.example.com%2Fservice%2Fmcp%2Fconsent%2Fcallback\
         &code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\
         &resource=https%3A%2F%2Fmcp.example.com%2Fmcp"
    );
    // RFC 6749 §2.3.1's example credentials.
    assert_eq!(
        header(&r, "authorization"),
        Some("Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3")
    );
    assert_eq!(
        header(&r, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(header(&r, "accept"), Some("application/json"));
    assert_eq!(r.timeout_ms, DEFAULT_TIMEOUT_MS);
    assert_eq!(r.max_body_bytes, 65_536);
}

#[test]
fn basic_credentials_are_form_urlencoded_first() {
    let auth = ClientAuth::confidential(
        "my client",
        "p:ss&+/é".into(),
        ClientAuthMethod::ClientSecretBasic,
    );
    let r = code_req(&auth).unwrap();
    let want = format!(
        "Basic {}",
        STANDARD.encode("my+client:p%3Ass%26%2B%2F%C3%A9")
    );
    assert_eq!(header(&r, "authorization"), Some(want.as_str()));
    assert!(!r.body.unwrap().contains("client_"));
}

#[test]
fn post_and_none_put_the_client_in_the_body() {
    let r = code_req(&with(ClientAuthMethod::ClientSecretPost)).unwrap();
    assert!(r
        .body
        .as_deref()
        .unwrap()
        .ends_with("&client_id=s6BhdRkqt3&client_secret=7Fjfp0ZBr1KtDRbnfVdmIw"));
    assert_eq!(header(&r, "authorization"), None);
    // none never sends a secret, even when one is at hand.
    let r = code_req(&with(ClientAuthMethod::None)).unwrap();
    assert!(r
        .body
        .as_deref()
        .unwrap()
        .ends_with("&resource=https%3A%2F%2Fmcp.example.com%2Fmcp&client_id=s6BhdRkqt3"));
    assert_eq!(header(&r, "authorization"), None);
    assert!(code_req(&ClientAuth::public("pub"))
        .unwrap()
        .body
        .unwrap()
        .ends_with("&client_id=pub"));
}

#[test]
fn secret_methods_need_a_secret() {
    for method in [
        ClientAuthMethod::ClientSecretBasic,
        ClientAuthMethod::ClientSecretPost,
    ] {
        for secret in [None, Some(Secret::new(""))] {
            let auth = ClientAuth {
                client_id: "c".into(),
                client_secret: secret,
                method,
                assertion: None,
            };
            let e = code_req(&auth).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArgument);
            assert_eq!(
                e.message,
                format!(
                    "client_secret is missing: token_endpoint_auth_method {method} sends a \
                     client secret; supply client_secret, or use \"none\" for a public client"
                )
            );
        }
    }
}

#[test]
fn request_arguments_are_checked() {
    let a = basic();
    let v = Secret::new(VERIFIER);
    let e = |r: Result<HttpRequest>| r.unwrap_err();
    assert!(
        e(authorization_code_request("/token", &a, "c", CB, &v, RES))
            .message
            .starts_with("token_url \"/token\" is not an absolute URL")
    );
    assert!(e(authorization_code_request(
        "https://a.example/t#f",
        &a,
        "c",
        CB,
        &v,
        RES
    ))
    .message
    .contains("#fragment"));
    assert_eq!(
        e(authorization_code_request(URL, &a, "", CB, &v, RES)).message,
        "code is empty: supply it"
    );
    assert!(e(authorization_code_request(URL, &a, "c", "cb", &v, RES))
        .message
        .starts_with("redirect_uri \"cb\""));
    assert_eq!(
        e(authorization_code_request(
            URL,
            &a,
            "c",
            CB,
            &Secret::new("short"),
            RES
        ))
        .code,
        ErrorCode::InvalidVerifier
    );
    assert_eq!(
        e(authorization_code_request(URL, &a, "c", CB, &v, "")).message,
        "resource is empty: supply it"
    );
    assert_eq!(
        e(code_req(&ClientAuth::public(""))).message,
        "client_id is empty: supply it"
    );
    assert_eq!(
        e(refresh_request(URL, &a, &Secret::new(""), RES, &[])).message,
        "refresh_token is empty: supply it"
    );
    assert!(e(refresh_request(
        URL,
        &a,
        &Secret::new("r"),
        RES,
        &["a b".into()]
    ))
    .message
    .starts_with("scopes[0]"));
    let e = e(client_credentials_request(
        URL,
        &ClientAuth::public("c"),
        &[],
        None,
    ));
    assert_eq!(e.code, ErrorCode::InvalidArgument);
    assert!(e
        .message
        .starts_with("the client credentials grant needs a client secret"));
}

#[test]
fn refresh_and_client_credentials_bodies() {
    let post = with(ClientAuthMethod::ClientSecretPost);
    let rt = Secret::new("rt/1+2");
    let r = refresh_request(URL, &post, &rt, RES, &["a".into(), "b:c".into()]).unwrap();
    assert_eq!(
        r.body.unwrap(),
        "grant_type=refresh_token&refresh_token=rt%2F1%2B2&scope=a+b%3Ac\
         &resource=https%3A%2F%2Fmcp.example.com%2Fmcp\
         &client_id=s6BhdRkqt3&client_secret=7Fjfp0ZBr1KtDRbnfVdmIw"
    );
    let r = refresh_request(URL, &ClientAuth::public("p"), &rt, RES, &[]).unwrap();
    assert_eq!(
        r.body.unwrap(),
        "grant_type=refresh_token&refresh_token=rt%2F1%2B2\
         &resource=https%3A%2F%2Fmcp.example.com%2Fmcp&client_id=p"
    );
    let r = client_credentials_request(URL, &basic(), &["x".into()], Some(RES)).unwrap();
    assert_eq!(
        r.body.unwrap(),
        "grant_type=client_credentials&scope=x&resource=https%3A%2F%2Fmcp.example.com%2Fmcp"
    );
    assert!(header(&r_cc(), "authorization")
        .unwrap()
        .starts_with("Basic "));
    let r = client_credentials_request(URL, &post, &[], None).unwrap();
    assert_eq!(
        r.body.unwrap(),
        "grant_type=client_credentials&client_id=s6BhdRkqt3&client_secret=7Fjfp0ZBr1KtDRbnfVdmIw"
    );
    assert_eq!(r.max_body_bytes, MAX_TOKEN_BODY_BYTES);
}

fn r_cc() -> HttpRequest {
    client_credentials_request(URL, &basic(), &[], None).unwrap()
}

#[test]
fn debug_output_never_shows_secrets() {
    let a = basic();
    assert!(!format!("{a:?}").contains("7Fjfp0ZBr1KtDRbnfVdmIw"));
    let set = parse(
        200,
        json!({"access_token": "AT-123", "token_type": "Bearer", "refresh_token": "RT-456"}),
    )
    .unwrap();
    let dbg = format!("{set:?}");
    assert!(!dbg.contains("AT-123") && !dbg.contains("RT-456"), "{dbg}");
    let f =
        parse_token_response(&resp(200, "access_token=AT-123&token_type=bearer"), 0).unwrap_err();
    assert!(!format!("{f:?}").contains("AT-123") && !Error::from(f).message.contains("AT-123"));
}

#[test]
fn parses_a_full_response() {
    let set = parse(
        200,
        json!({"access_token": "AT", "token_type": "bearer", "refresh_token": "RT",
               "expires_in": 3600, "scope": "a b"}),
    )
    .unwrap();
    assert_eq!(set.access_token.expose(), "AT");
    assert_eq!(set.token_type, "bearer");
    assert_eq!(set.refresh_token.as_ref().map(Secret::expose), Some("RT"));
    assert_eq!(set.expires_at, Some(4_600));
    assert_eq!(set.scope.as_deref(), Some("a b"));
    assert!(!set.is_expired(4_539, 60) && set.is_expired(4_540, 60));
    assert_eq!(
        serde_json::to_value(&set).unwrap(),
        json!({"access_token": "AT", "token_type": "bearer", "refresh_token": "RT",
               "expires_at": 4600, "scope": "a b"})
    );
    let back: TokenSet = serde_json::from_value(serde_json::to_value(&set).unwrap()).unwrap();
    assert_eq!(back, set);
}

#[test]
fn minimal_response_and_lenient_fields() {
    let set = parse(200, json!({"access_token": "AT", "token_type": "BEARER"})).unwrap();
    assert_eq!(
        (
            set.token_type.as_str(),
            set.refresh_token,
            set.expires_at,
            set.scope
        ),
        ("BEARER", None, None, None)
    );
    assert!(!TokenSet {
        expires_at: None,
        ..parse(200, json!({"access_token": "A"})).unwrap()
    }
    .is_expired(u64::MAX, 0));
    let set = parse(200, json!({"access_token": "AT"})).unwrap();
    assert_eq!(set.token_type, "Bearer");
    let set = parse(
        200,
        json!({"access_token": "AT", "scope": ["a", "b"], "refresh_token": ""}),
    )
    .unwrap();
    assert_eq!(
        (set.scope.as_deref(), set.refresh_token),
        (Some("a b"), None)
    );
}

#[test]
fn expires_in_forms() {
    let at = |v: serde_json::Value| parse(200, json!({"access_token": "A", "expires_in": v}));
    assert_eq!(at(json!(3600)).unwrap().expires_at, Some(4_600));
    assert_eq!(at(json!(59.9)).unwrap().expires_at, Some(1_059));
    assert_eq!(at(json!(0)).unwrap().expires_at, Some(1_000));
    assert_eq!(at(json!(null)).unwrap().expires_at, None);
    assert!(parse(200, json!({"access_token": "A"}))
        .unwrap()
        .expires_at
        .is_none());
    for bad in [
        json!(-1),
        json!(-0.5),
        json!("3600"),
        json!(" 60 "),
        json!("-5"),
        json!("NaN"),
        json!("soon"),
        json!(true),
        json!([1]),
        json!({}),
    ] {
        match at(bad.clone()).unwrap_err() {
            TokenFailure::Malformed {
                status: 200,
                field: "expires_in",
                ..
            } => {}
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert_eq!(
        Error::from(at(json!(-1)).unwrap_err()).message,
        "the token endpoint answered 200 with an unusable expires_in: -1 is not a non-negative \
         number of seconds"
    );
    assert_eq!(
        Error::from(at(json!("3600")).unwrap_err()).message,
        "the token endpoint answered 200 with an unusable expires_in: \"3600\" is a string, not \
         a number of seconds"
    );
}

#[test]
fn expires_in_is_capped_at_one_year() {
    // The live bug: `"expires_in": 1e300` gave an expiry no date formatter can write.
    let year = 365 * 24 * 3600;
    assert_eq!(MAX_EXPIRES_IN_SECS, year);
    let body = r#"{"access_token":"A","expires_in":1e300}"#;
    let t = parse_token_response(&resp(200, body), 1_000).unwrap();
    assert_eq!(t.expires_at, Some(1_000 + year));
    for v in [json!(u64::MAX), json!(year + 1), json!(10.0 * year as f64)] {
        let t = parse(200, json!({"access_token": "A", "expires_in": v})).unwrap();
        assert_eq!(t.expires_at, Some(1_000 + year), "{v}");
    }
    let t = parse(200, json!({"access_token": "A", "expires_in": year - 1})).unwrap();
    assert_eq!(t.expires_at, Some(1_000 + year - 1));
    // Near the end of time the sum saturates instead of overflowing.
    let t = parse_token_response(&resp(200, body), u64::MAX - 5).unwrap();
    assert_eq!(t.expires_at, Some(u64::MAX));
}

#[test]
fn access_token_must_be_b64token() {
    for good in ["A", "abc.DEF-_~+/xyz", "eyJ0.eyJ1.sig", "abc==", "a="] {
        assert!(
            parse(200, json!({"access_token": good})).is_ok(),
            "{good:?}"
        );
    }
    for bad in [
        "SECRET a b",
        "SECRET\ttab",
        "SECRET\nbreak",
        "=SECRET",
        "===",
        "SECRET=b",
        "SECRET\u{e9}",
        "SECRET\"quote",
        "SECRET;semi",
        "SECRET,comma",
    ] {
        let e = parse(200, json!({"access_token": bad})).unwrap_err();
        match &e {
            TokenFailure::Malformed {
                field: "access_token",
                ..
            } => {}
            other => panic!("{bad:?}: {other:?}"),
        }
        let m = Error::from(e).message;
        assert!(m.contains("RFC 6750 b64token"), "{m}");
        assert!(!m.contains(bad), "the token is never quoted: {m}");
    }
}

#[test]
fn token_state_without_refresh_token_stays_usable_until_it_expires() {
    let set = |expires_at: Option<u64>, refresh: Option<&str>| TokenSet {
        access_token: Secret::new("A"),
        token_type: "Bearer".into(),
        refresh_token: refresh.map(Secret::new),
        expires_at,
        scope: None,
    };
    // (expires_at, refresh token, now, leeway 30) -> state
    let cases = [
        (Some(1_100), None, 1_000, TokenState::Fresh),
        (Some(1_100), Some("R"), 1_000, TokenState::Fresh),
        (None, None, 1_000, TokenState::Fresh),
        (Some(1_020), Some("R"), 1_000, TokenState::Refresh),
        (Some(900), Some("R"), 1_000, TokenState::Refresh),
        (Some(1_020), None, 1_000, TokenState::UsableUntilExpiry),
        (Some(1_001), None, 1_000, TokenState::UsableUntilExpiry),
        (Some(1_000), None, 1_000, TokenState::ExpiredWithoutRefresh),
        (Some(900), None, 1_000, TokenState::ExpiredWithoutRefresh),
        (
            Some(900),
            Some(""),
            1_000,
            TokenState::ExpiredWithoutRefresh,
        ),
    ];
    for (at, refresh, now, want) in cases {
        assert_eq!(set(at, refresh).state(now, 30), want, "{at:?} {refresh:?}");
    }
}

#[test]
fn basic_refused_as_invalid_client_is_retried_once_as_post_when_listed() {
    let invalid_client = TokenFailure::OAuth {
        status: 401,
        error: "invalid_client".into(),
        error_description: None,
        error_uri: None,
    };
    let listed: Vec<String> = vec!["client_secret_basic".into(), "client_secret_post".into()];
    let next = basic().retry_method(&invalid_client, &listed).unwrap();
    assert_eq!(next.method, ClientAuthMethod::ClientSecretPost);
    assert_eq!(next.client_id, basic().client_id);
    assert_eq!(next.client_secret, basic().client_secret);
    let r = code_req(&next).unwrap();
    assert_eq!(header(&r, "authorization"), None);
    assert!(r
        .body
        .unwrap()
        .ends_with("&client_id=s6BhdRkqt3&client_secret=7Fjfp0ZBr1KtDRbnfVdmIw"));
    // Never a second retry: post refused is final.
    assert_eq!(next.retry_method(&invalid_client, &listed), None);
    // Not listed (or nothing advertised: RFC 8414's default is basic only): no retry.
    assert_eq!(
        basic().retry_method(&invalid_client, &["client_secret_basic".to_owned()]),
        None
    );
    assert_eq!(basic().retry_method(&invalid_client, &[]), None);
    // Another error: no retry.
    let grant = TokenFailure::OAuth {
        status: 400,
        error: "invalid_grant".into(),
        error_description: None,
        error_uri: None,
    };
    assert_eq!(basic().retry_method(&grant, &listed), None);
    assert_eq!(
        basic().retry_method(&TokenFailure::BadStatus { status: 401 }, &listed),
        None
    );
}

#[test]
fn private_key_jwt_sends_the_assertion_and_no_secret() {
    let auth = ClientAuth {
        client_id: "cc-client".into(),
        client_secret: None,
        method: ClientAuthMethod::PrivateKeyJwt,
        assertion: Some(Secret::new("h.p.s")),
    };
    let r = client_credentials_request(URL, &auth, &["a".into()], Some(RES)).unwrap();
    assert_eq!(header(&r, "authorization"), None);
    assert_eq!(
        r.body.as_deref().unwrap(),
        "grant_type=client_credentials&scope=a&resource=https%3A%2F%2Fmcp.example.com%2Fmcp\
         &client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer\
         &client_assertion=h.p.s"
    );
    let e = client_credentials_request(
        URL,
        &ClientAuth {
            assertion: None,
            ..auth
        },
        &[],
        None,
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArgument);
    assert!(e.message.starts_with("client_assertion is missing"), "{e}");
}

#[test]
fn refresh_keeps_the_old_refresh_token_only_when_none_is_sent() {
    let old = Secret::new("RT-old");
    let r = resp(200, r#"{"access_token":"AT2","token_type":"Bearer"}"#);
    assert_eq!(
        parse_refresh_response(&r, 0, &old).unwrap().refresh_token,
        Some(old.clone())
    );
    let r = resp(
        200,
        r#"{"access_token":"AT2","token_type":"Bearer","refresh_token":"RT-new"}"#,
    );
    assert_eq!(
        parse_refresh_response(&r, 0, &old).unwrap().refresh_token,
        Some(Secret::new("RT-new"))
    );
    let r = resp(400, r#"{"error":"invalid_grant"}"#);
    assert!(parse_refresh_response(&r, 0, &old)
        .unwrap_err()
        .is_invalid_grant());
}

#[test]
fn oauth_errors_at_any_status() {
    let f = parse(
        400,
        json!({"error": "invalid_grant", "error_description": "Code\nexpired",
               "error_uri": "https://d/x"}),
    )
    .unwrap_err();
    assert_eq!(
        f,
        TokenFailure::OAuth {
            status: 400,
            error: "invalid_grant".into(),
            error_description: Some("Code\nexpired".into()),
            error_uri: Some("https://d/x".into())
        }
    );
    assert_eq!(
        (f.error(), f.is_invalid_grant(), f.status(), f.code()),
        (Some("invalid_grant"), true, 400, ErrorCode::OauthError)
    );
    let e = Error::from(f);
    assert_eq!(e.code, ErrorCode::OauthError);
    assert_eq!(
        e.message,
        "the token endpoint answered 400 with the OAuth error invalid_grant (Code expired): \
         the code or refresh token is invalid, expired, used or revoked: connect again"
    );
    let f = parse(200, json!({"error": "invalid_client", "access_token": "x"})).unwrap_err();
    assert_eq!(
        (f.error(), f.is_invalid_grant()),
        (Some("invalid_client"), false)
    );
    assert!(f.to_string().starts_with(
        "oauth_error: the token endpoint answered 200 with the OAuth error invalid_client: \
         the provider refused the client authentication"
    ));
    assert_eq!(
        parse(503, json!({"error": "temporarily_unavailable"}))
            .unwrap_err()
            .error(),
        Some("temporarily_unavailable")
    );
}

#[test]
fn non_json_bodies_are_reported_briefly() {
    let page = format!(
        "<!DOCTYPE html><html><head><title>502 Bad\nGateway</title></head><body>{}</body></html>",
        "x".repeat(5_000)
    );
    let f = parse_token_response(&resp(502, &page), 0).unwrap_err();
    let TokenFailure::NotJson {
        status: 502,
        looks_like_html: true,
        excerpt,
    } = &f
    else {
        panic!("{f:?}")
    };
    assert!(
        excerpt.starts_with("502 Bad Gateway xxx") && excerpt.ends_with('…'),
        "{excerpt}"
    );
    assert_eq!(excerpt.chars().count(), EXCERPT_CHARS + 1);
    let e = Error::from(f.clone());
    assert_eq!(e.code, ErrorCode::InvalidResponse);
    assert!(
        e.message
            .starts_with("the token endpoint answered 502 with an HTML page (502 Bad Gateway"),
        "{e}"
    );
    assert!(
        e.message
            .ends_with("not JSON: check that token_url is the provider's OAuth token endpoint")
            && e.message.len() < 300
    );
    let mut r = resp(200, "hello\u{7}  world");
    r.headers.push(("content-type".into(), "text/plain".into()));
    assert_eq!(
        parse_token_response(&r, 0).unwrap_err(),
        TokenFailure::NotJson {
            status: 200,
            looks_like_html: false,
            excerpt: "hello world".into()
        }
    );
    r.headers[0].1 = "text/HTML; charset=utf-8".into();
    assert!(matches!(
        parse_token_response(&r, 0).unwrap_err(),
        TokenFailure::NotJson {
            looks_like_html: true,
            ..
        }
    ));
    let f = parse_token_response(
        &resp(200, "access_token=SECRET&token_type=bearer&scope=a"),
        0,
    )
    .unwrap_err();
    assert_eq!(
        f,
        TokenFailure::NotJson {
            status: 200,
            looks_like_html: false,
            excerpt: "form-encoded fields: access_token, token_type, scope".into()
        }
    );
    let f = parse_token_response(&resp(200, "  "), 0).unwrap_err();
    assert!(Error::from(f)
        .message
        .starts_with("the token endpoint answered 200 with an empty body, not JSON"));
}

#[test]
fn unusable_json_bodies() {
    let f = parse(200, json!({"id_token": "x", "token_type": "Bearer"})).unwrap_err();
    assert_eq!(
        f,
        TokenFailure::MissingAccessToken {
            status: 200,
            keys: vec!["id_token".into(), "token_type".into()]
        }
    );
    assert!(Error::from(f).message.starts_with(
        "the token endpoint answered 200 with JSON that has no access_token \
         (fields: id_token, token_type)"
    ));
    let malformed =
        |body: serde_json::Value, field: &str| match parse(200, body.clone()).unwrap_err() {
            TokenFailure::Malformed {
                field: f, problem, ..
            } => {
                assert_eq!(f, field, "{body}");
                assert!(!problem.contains("SECRET"), "{problem}");
                problem
            }
            other => panic!("{body}: {other:?}"),
        };
    malformed(json!([1]), "body");
    malformed(json!({"access_token": ""}), "access_token");
    malformed(json!({"access_token": 5}), "access_token");
    assert!(malformed(
        json!({"access_token": "SECRET", "token_type": "DPoP"}),
        "token_type"
    )
    .starts_with("\"DPoP\" is not Bearer"));
    malformed(
        json!({"access_token": "SECRET", "token_type": 1}),
        "token_type",
    );
    malformed(
        json!({"access_token": "SECRET", "refresh_token": 1}),
        "refresh_token",
    );
    malformed(json!({"access_token": "SECRET", "scope": 1}), "scope");
}

#[test]
fn bad_statuses_too_large_and_redirects() {
    let mut big = resp(200, "{\"access_token\":");
    big.body_too_large = true;
    let f = parse_token_response(&big, 0).unwrap_err();
    assert_eq!(f, TokenFailure::BodyTooLarge { status: 200 });
    assert_eq!(
        Error::from(f).message,
        "the token endpoint answered 200 with a body over 64 KiB: check that token_url is the \
         provider's OAuth token endpoint"
    );
    for (status, body) in [
        (500, ""),
        (404, "{\"message\":\"nope\"}"),
        (401, "[]"),
        (403, "{\"access_token\":\"A\"}"),
    ] {
        assert_eq!(
            parse_token_response(&resp(status, body), 0).unwrap_err(),
            TokenFailure::BadStatus { status },
            "{status} {body}"
        );
    }
    let e = Error::from(parse_token_response(&resp(500, ""), 0).unwrap_err());
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ErrorCode::InvalidResponse,
            "the token endpoint answered 500 without an OAuth error: check that token_url is the \
             provider's OAuth token endpoint, and that the provider is up"
        )
    );
    for status in [0, 302] {
        let e = Error::from(parse_token_response(&resp(status, ""), 0).unwrap_err());
        assert!(
            e.message.starts_with(&format!(
                "the token endpoint answered with a redirect ({status})"
            )),
            "{e}"
        );
    }
}
