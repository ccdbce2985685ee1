//! Token response judges: token sets, `expires_in`, OAuth errors, unusable bodies.

use super::*;

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
