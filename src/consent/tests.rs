use super::*;
use crate::secret::Secret;
use crate::token::TokenFailure;

const ISSUER: &str = "https://auth.example.com";
const ORIGIN: &str = "https://app.example.com";
const NONCE: &str = "AAAAAAAAAAAAAAAAAAAAAAAA";
const XSS: &str = "<script>alert(1)</script>";
const ATTR_XSS: &str = "\"><img src=x onerror=alert(1)>";

fn pending() -> PendingConsent {
    PendingConsent {
        state: "st4te".into(),
        actor_id: "actor-1".into(),
        agent_id: "agent-1".into(),
        server_id: "srv_1".into(),
        redirect_uri: "https://w.example.com/service/mcp/consent/callback".into(),
        code_verifier: Secret::new("verifier-must-not-show-0123456789abcdefghijk"),
        issuer: Some(ISSUER.into()),
        iss_required: false,
        resource: "https://mcp.example.com/mcp".into(),
        return_origin: Some(ORIGIN.into()),
        flow_id: "flow_1".into(),
        return_to: None,
        authorization_url: "https://auth.example.com/authorize?state=st4te".into(),
        created_at: 1_000,
        expires_at: 1_000 + PENDING_TTL_SECS,
        config_version: Some(3),
    }
}

fn check(query: &str, p: &PendingConsent, now: u64) -> Result<String, CallbackError> {
    check_callback(&parse_callback_query(query), p, now)
}

fn err(query: &str, p: &PendingConsent, now: u64) -> &'static str {
    check(query, p, now).unwrap_err().code()
}

fn header<'a>(r: &'a Rendered, name: &str) -> &'a str {
    r.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no header {name}"))
}

/// The text of the JSON island, parsed.
fn island(body: &str) -> serde_json::Value {
    let open = format!("<script type=\"application/json\" id=\"{DATA_ELEMENT_ID}\">");
    let start = body.find(&open).expect("island") + open.len();
    let end = start + body[start..].find("</script>").unwrap();
    serde_json::from_str(&body[start..end]).unwrap()
}

fn error_page(err: &CallbackError, name: Option<&str>) -> Rendered {
    render(
        &ConsentPage::error(err, Some(&pending()), name.map(str::to_owned)),
        NONCE,
    )
}

#[test]
fn parses_percent_and_plus_encoding_and_ignores_other_params() {
    let p = parse_callback_query(
        "?code=a%2Bb%20c&state=s%3D1&iss=https%3A%2F%2Fauth.example.com&scope=x&scope=y\
         &error_description=not+now%21",
    );
    assert_eq!(p.code.as_deref(), Some("a+b c"));
    assert_eq!(p.state.as_deref(), Some("s=1"));
    assert_eq!(p.iss.as_deref(), Some(ISSUER));
    assert_eq!(p.error_description.as_deref(), Some("not now!"));
    assert_eq!(p.error, None);
    assert!(!p.duplicated && !p.too_long && p.invalid_param.is_none());
    assert_eq!(parse_callback_query(""), CallbackParams::default());
}

#[test]
fn a_parameter_given_twice_is_invalid_request() {
    let p = parse_callback_query("code=a&state=s&code=b");
    assert!(p.duplicated);
    assert_eq!(p.invalid_param, Some("code"));
    assert_eq!(p.code.as_deref(), Some("a"));
    assert_eq!(state_param(&p), Ok("s"));
    let e = check_callback(&p, &pending(), 1_000).unwrap_err();
    assert_eq!(e, CallbackError::Duplicated { param: "code" });
    assert_eq!(e.code(), "invalid_request");
    assert!(e.message().contains("code more than once"), "{e}");
    // Twice, even with an empty second value.
    assert!(parse_callback_query("state=s&iss=x&iss=").duplicated);
}

#[test]
fn a_duplicated_or_overlong_state_fails_before_lookup() {
    let p = parse_callback_query("state=a&state=b&code=c");
    assert_eq!(
        state_param(&p),
        Err(CallbackError::Duplicated { param: "state" })
    );
    let long = "s".repeat(MAX_PARAM_BYTES + 1);
    let p = parse_callback_query(&format!("state={long}&code=c"));
    assert!(p.too_long && p.state.is_none());
    assert_eq!(
        state_param(&p),
        Err(CallbackError::TooLong { param: "state" })
    );
    assert_eq!(state_param(&p).unwrap_err().code(), "invalid_request");
    let ok = "s".repeat(MAX_PARAM_BYTES);
    assert!(state_param(&parse_callback_query(&format!("state={ok}"))).is_ok());
}

#[test]
fn an_overlong_value_is_invalid_request() {
    let long = "d".repeat(MAX_PARAM_BYTES + 1);
    let p = parse_callback_query(&format!("state=s&error=x&error_description={long}"));
    assert!(p.too_long && p.error_description.is_none());
    assert_eq!(
        check_callback(&p, &pending(), 1_000),
        Err(CallbackError::TooLong {
            param: "error_description"
        })
    );
}

#[test]
fn missing_or_empty_state() {
    for q in ["code=c", "state=&code=c", ""] {
        let e = state_param(&parse_callback_query(q)).unwrap_err();
        assert_eq!(e, CallbackError::MissingState, "{q}");
        assert_eq!(e.code(), "missing_state");
    }
}

#[test]
fn success_gives_the_code() {
    let q = "code=the-code&state=st4te&iss=https%3A%2F%2Fauth.example.com";
    assert_eq!(check(q, &pending(), 1_000).unwrap(), "the-code");
    assert_eq!(check("code=c&state=st4te", &pending(), 1_899).unwrap(), "c");
}

#[test]
fn expiry_is_inclusive_and_beats_everything_but_invalid_params() {
    let p = pending();
    assert_eq!(err("code=c", &p, 1_900), "state_expired");
    assert_eq!(
        err("error=access_denied&iss=https://evil", &p, 5_000),
        "state_expired"
    );
    assert_eq!(err("code=c&code=d", &p, 5_000), "invalid_request");
}

#[test]
fn iss_is_compared_exactly_even_for_error_responses() {
    let p = pending();
    for iss in [
        "https://auth.example.com/",
        "https%3A%2F%2FAUTH.example.com",
        "",
        "x",
    ] {
        let q = format!("code=c&iss={iss}");
        assert_eq!(err(&q, &p, 1_000), "issuer_mismatch", "{iss:?}");
    }
    let e = check("error=access_denied&iss=https://evil.example", &p, 1_000).unwrap_err();
    assert_eq!(e, CallbackError::IssuerMismatch);
}

#[test]
fn iss_absent_is_refused_only_when_required() {
    let mut p = pending();
    assert!(check("code=c", &p, 1_000).is_ok());
    p.iss_required = true;
    assert_eq!(err("code=c", &p, 1_000), "issuer_missing");
    // Required beats the provider's error.
    assert_eq!(err("error=access_denied", &p, 1_000), "issuer_missing");
    assert!(check("code=c&iss=https://auth.example.com", &p, 1_000).is_ok());
}

#[test]
fn iss_with_unknown_issuer_is_ignored_unless_required() {
    let mut p = pending();
    p.issuer = None;
    assert_eq!(check("code=c&iss=https://any", &p, 1_000).unwrap(), "c");
    p.iss_required = true;
    assert_eq!(err("code=c&iss=https://any", &p, 1_000), "issuer_mismatch");
}

#[test]
fn provider_errors_keep_rfc6749_codes_and_beat_a_code() {
    let p = pending();
    let rfc = "access_denied invalid_request unauthorized_client unsupported_response_type \
               invalid_scope server_error temporarily_unavailable";
    for c in rfc.split(' ') {
        assert_eq!(err(&format!("error={c}&code=x"), &p, 1_000), c);
    }
    for c in ["invalid_grant", "login_required", "", "<b>"] {
        assert_eq!(err(&format!("error={c}"), &p, 1_000), "provider_error");
    }
    let e = check(
        "error=access_denied&error_description=User+said+no",
        &p,
        1_000,
    )
    .unwrap_err();
    assert_eq!(
        e,
        CallbackError::ProviderError {
            error: "access_denied".into(),
            description: Some("User said no".into())
        }
    );
    assert!(e.message().contains("User said no"), "{e}");
}

#[test]
fn missing_or_empty_code() {
    for q in ["state=st4te", "code=&state=st4te"] {
        assert_eq!(err(q, &pending(), 1_000), "missing_code", "{q}");
    }
}

#[test]
fn token_failures_become_token_exchange_failed() {
    let oauth = TokenFailure::OAuth {
        status: 400,
        error: "invalid_grant".into(),
        error_description: Some("code reused".into()),
        error_uri: None,
    };
    let e = CallbackError::from(&oauth);
    assert_eq!(e.code(), "token_exchange_failed");
    assert!(
        e.message().contains(
            "invalid_grant (The provider's own words (not checked by this service): \u{201c}code reused\u{201d})"
        ),
        "{e}"
    );
    let html = TokenFailure::NotJson {
        status: 200,
        looks_like_html: true,
        excerpt: "Login page secret-excerpt".into(),
    };
    let e = CallbackError::from(html);
    assert!(e.message().contains("200 with an HTML page"), "{e}");
    assert!(
        !e.message().contains("secret-excerpt"),
        "excerpt quoted: {e}"
    );
    let redirect = CallbackError::from(&TokenFailure::BadStatus { status: 302 });
    assert!(redirect.message().contains("a redirect"), "{redirect}");
}

#[test]
fn codes_are_stable_and_unknown_state_is_one_message() {
    assert_eq!(CallbackError::UnknownState.code(), "invalid_state");
    assert_eq!(CallbackError::Storage.code(), "storage_error");
    let m = CallbackError::UnknownState.message();
    assert!(
        m.contains("unknown, was already used, or belongs to another"),
        "{m}"
    );
}

#[test]
fn debug_of_pending_hides_the_verifier_and_serde_round_trips() {
    let p = pending();
    let dbg = format!("{p:?}");
    assert!(!dbg.contains("verifier-must-not-show"), "{dbg}");
    assert!(dbg.contains("Secret([redacted])"));
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(serde_json::from_str::<PendingConsent>(&json).unwrap(), p);
}

#[test]
fn headers_and_exact_csp_with_the_nonce() {
    let r = render(
        &ConsentPage::connected(&pending(), Some("CRM".into())),
        NONCE,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        header(&r, "content-security-policy"),
        format!(
            "default-src 'none'; script-src 'nonce-{NONCE}'; style-src 'nonce-{NONCE}'; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
    );
    assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&r, "cache-control"), "no-store");
    assert_eq!(header(&r, "pragma"), "no-cache");
    assert_eq!(header(&r, "referrer-policy"), "no-referrer");
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    assert_eq!(header(&r, "x-frame-options"), "DENY");
    assert!(!header(&r, "content-security-policy").contains("unsafe"));
    assert!(r.body.contains("<h1>Connected</h1>"));
    assert!(r.body.contains(&format!("<script nonce=\"{NONCE}\">")));
}

#[test]
fn provider_text_and_server_name_are_rendered_inert() {
    let err = CallbackError::ProviderError {
        error: ATTR_XSS.into(),
        description: Some(format!("{XSS} {ATTR_XSS}")),
    };
    let r = error_page(&err, Some(XSS));
    assert_eq!(r.status, 400);
    assert!(r.body.contains("<h1>Could not connect</h1>"));
    for raw in [XSS, ATTR_XSS, "<img", "alert(1)</script>"] {
        assert!(!r.body.contains(raw), "raw {raw:?} in page:\n{}", r.body);
    }
    assert!(r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(r
        .body
        .contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    assert_eq!(r.body.matches("<script").count(), 2);
    assert_eq!(escape_html("&<>\"'"), "&amp;&lt;&gt;&quot;&#39;");
}

#[test]
fn the_json_island_cannot_be_broken_out_of() {
    let mut p = pending();
    p.server_id = "a</script><script>alert(1)</script>\u{2028}b\u{2029}&<!--".to_owned();
    let r = render(
        &ConsentPage::error(&CallbackError::Storage, Some(&p), None),
        NONCE,
    );
    assert_eq!(r.body.matches("</script>").count(), 2);
    assert!(!r.body.contains('\u{2028}') && !r.body.contains('\u{2029}'));
    assert!(!r.body.contains("<!--"));
    let data = island(&r.body);
    assert_eq!(data["message"]["server_id"], p.server_id.as_str());
    assert_eq!(data["message"]["error"], "storage_error");
    assert_eq!(data["message"]["type"], MESSAGE_TYPE);
    assert_eq!(data["message"]["status"], "error");
    assert_eq!(
        json_for_script(&serde_json::json!("</script>\u{2028}")),
        "\"\\u003c/script\\u003e\\u2028\""
    );
}

#[test]
fn posts_to_exactly_the_return_origin_never_star() {
    let r = render(&ConsentPage::connected(&pending(), None), NONCE);
    let data = island(&r.body);
    assert_eq!(data["target_origin"], ORIGIN);
    assert_eq!(
        data["message"],
        serde_json::json!({"type": MESSAGE_TYPE, "flow_id": "flow_1", "status": "connected", "server_id": "srv_1"})
    );
    assert!(r
        .body
        .contains("postMessage(data.message, data.target_origin)"));
    assert!(r.body.contains("window.close()"));
    assert!(!r.body.contains("\"*\"") && !r.body.contains("'*'"));
}

#[test]
fn no_script_at_all_without_a_usable_return_origin_or_nonce() {
    let mut p = pending();
    for origin in [
        None,
        Some("*"),
        Some("https://app.example.com/"),
        Some("https://app.example.com/path"),
        Some("javascript:alert(1)"),
        Some("null"),
    ] {
        p.return_origin = origin.map(str::to_owned);
        let r = render(&ConsentPage::connected(&p, Some("CRM".into())), NONCE);
        assert!(!r.body.contains("<script"), "{origin:?}");
        assert!(r.body.contains("You can close this window"));
    }
    // Without a trusted pending consent there is nowhere to post.
    let r = render(
        &ConsentPage::error(&CallbackError::UnknownState, None, None),
        NONCE,
    );
    assert!(!r.body.contains("<script"));
    assert_eq!(r.status, 400);
    // A nonce that could inject into the header or attribute is not used.
    let r = render(
        &ConsentPage::connected(&pending(), None),
        "x'; script-src *",
    );
    assert!(!r.body.contains("<script") && !r.body.contains("<style"));
    assert!(header(&r, "content-security-policy").contains("script-src 'none'"));
}

#[test]
fn nonces_are_fresh_base64url() {
    let a = new_nonce();
    assert_eq!(a.len(), 24);
    assert!(a
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_ne!(a, new_nonce());
    let r = render(&ConsentPage::connected(&pending(), None), &a);
    assert!(header(&r, "content-security-policy").contains(&format!("'nonce-{a}'")));
}

// --- the browser binding (binding.rs) ----------------------------------------------------

#[test]
fn binding_cookie_names_and_attributes() {
    let secure = set_cookie("f1", "b1nd", true, 900);
    assert_eq!(
        secure,
        "__Host-mcp-authlink-consent-f1=b1nd; Max-Age=900; Path=/; Secure; HttpOnly; SameSite=Lax"
    );
    let dev = set_cookie("f1", "b1nd", false, 900);
    assert_eq!(
        dev,
        "mcp-authlink-consent-f1=b1nd; Max-Age=900; Path=/service/mcp/consent; HttpOnly; SameSite=Lax"
    );
    assert!(clear_cookie("f1", true)
        .starts_with("__Host-mcp-authlink-consent-f1=; Max-Age=0; Path=/; Secure"));
}

#[test]
fn the_binding_must_match_its_stored_hash() {
    let stored = secret_hash("the-binding");
    let name = cookie_name("f1", false);
    let header = format!("other=1; {name}=the-binding; x=y");
    let values = cookie_values(Some(&header), &name);
    assert_eq!(values, vec!["the-binding".to_owned()]);
    assert_eq!(check_binding(&values, Some(&stored)), Ok(()));
    assert_eq!(
        check_binding(&[], Some(&stored)),
        Err(CallbackError::BindingMissing)
    );
    assert_eq!(
        check_binding(&values, None),
        Err(CallbackError::BindingMissing),
        "a flow that was never started cannot complete"
    );
    assert_eq!(
        check_binding(&["wrong".to_owned()], Some(&stored)),
        Err(CallbackError::BindingMismatch)
    );
    // The cookie of another flow does not count.
    assert!(cookie_values(Some(&header), &cookie_name("f2", false)).is_empty());
    // The stored hash itself is not a binding.
    assert_eq!(
        check_binding(std::slice::from_ref(&stored), Some(&stored)),
        Err(CallbackError::BindingMismatch)
    );
    assert_eq!(CallbackError::BindingMissing.code(), "binding_missing");
    assert_eq!(CallbackError::BindingMismatch.code(), "binding_mismatch");
}

#[test]
fn start_origin_must_be_exactly_allowed() {
    let allowed = vec![ORIGIN.to_owned()];
    assert_eq!(
        check_start_origin(Some(ORIGIN), &allowed),
        Ok(ORIGIN.to_owned())
    );
    for o in [
        None,
        Some("null"),
        Some("https://evil.example"),
        Some("https://app.example.com/"),
    ] {
        assert_eq!(
            check_start_origin(o, &allowed),
            Err(StartError::OriginNotAllowed),
            "{o:?}"
        );
    }
}

#[test]
fn return_to_on_an_allowed_origin_only() {
    let allowed = vec![ORIGIN.to_owned()];
    assert_eq!(
        check_return_to("https://app.example.com/s?x=1#frag", &allowed),
        Ok("https://app.example.com/s?x=1".to_owned())
    );
    for bad in [
        "https://evil.example/",
        "/relative",
        "https://user:pw@app.example.com/",
        "javascript:alert(1)",
        "http://app.example.com/",
        "https://app.example.com:444/",
    ] {
        assert!(check_return_to(bad, &allowed).is_err(), "{bad}");
    }
}

#[test]
fn the_fragment_carries_the_outcome_as_json() {
    let outcome = FlowOutcome {
        flow_id: "f1".into(),
        server_id: "srv 1".into(),
        error_code: Some("access_denied".into()),
    };
    let url = return_url("https://app.example.com/s?x=1#old", &outcome);
    let (base, fragment) = url.split_once('#').unwrap();
    assert_eq!(base, "https://app.example.com/s?x=1");
    let value: String = url::form_urlencoded::parse(fragment.as_bytes())
        .find(|(k, _)| k == FRAGMENT_KEY)
        .map(|(_, v)| v.into_owned())
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&value).unwrap(),
        serde_json::json!({"flow_id": "f1", "status": "error", "server_id": "srv 1", "error": "access_denied"})
    );
}

#[test]
fn provider_text_loses_format_characters_and_is_capped_and_labelled() {
    let e = CallbackError::ProviderError {
        error: "access_denied".into(),
        description: Some(format!(
            "a\u{202e}b\u{200b}c\u{2066}d\u{feff}e\u{e0041} {}",
            "z".repeat(400)
        )),
    };
    let m = e.message();
    assert!(
        m.contains(&format!("{PROVIDER_LABEL} \u{201c}abcde ")),
        "{m}"
    );
    assert!(!m.chars().any(is_format_char), "{m:?}");
    let quoted = m
        .split('\u{201c}')
        .nth(1)
        .unwrap()
        .split('\u{201d}')
        .next()
        .unwrap();
    assert_eq!(quoted.chars().count(), MAX_PROVIDER_TEXT_CHARS + 1);
    assert!(quoted.ends_with('\u{2026}'));
    assert_eq!(strip_format_chars("x\u{202a}y\u{2069}"), "xy");
    assert_eq!(CallbackError::BlockedTarget.code(), "blocked_target");
}

#[test]
fn config_versions_decide_where_a_secret_may_go() {
    assert_eq!(config_match(Some(3), 3), ConfigMatch::Same);
    assert_eq!(config_match(Some(2), 3), ConfigMatch::Stale);
    assert_eq!(config_match(None, 1), ConfigMatch::Stale);
    assert_eq!(config_match(Some(4), 3), ConfigMatch::Ahead);
    let p = pending();
    assert_eq!(check_flow_config(&p, 3), Ok(()));
    for current in [1, 2, 4, u64::MAX] {
        assert_eq!(
            check_flow_config(&p, current),
            Err(CallbackError::ServerChanged)
        );
    }
    let old = PendingConsent {
        config_version: None,
        ..pending()
    };
    assert_eq!(
        check_flow_config(&old, 1),
        Err(CallbackError::ServerChanged)
    );
    // A record sealed before versions existed reads as None (serde default).
    let mut v = serde_json::to_value(pending()).unwrap();
    v.as_object_mut().unwrap().remove("config_version");
    let read: PendingConsent = serde_json::from_value(v).unwrap();
    assert_eq!(read.config_version, None);
    let e = CallbackError::ServerChanged;
    assert_eq!(e.code(), "server_changed");
    assert!(
        e.message().contains("configuration was changed"),
        "{}",
        e.message()
    );
    assert!(
        e.message().contains("Start connecting again"),
        "{}",
        e.message()
    );
}
