use super::*;
use crate::transport::{SendFuture, TransportError};
use futures_executor::block_on;
use std::cell::RefCell;
use std::collections::VecDeque;

use ClientAuthMethod::{ClientSecretBasic as Basic, ClientSecretPost as Post, None as NoAuth};
const CONF: AuthMode = AuthMode::OauthAuthorizationCodeConfidentialPkce;
const PUBLIC: AuthMode = AuthMode::OauthAuthorizationCodePublicPkce;
const REG: &str = "https://auth.example.com/register";

/// Replays canned replies in order and records every request.
struct Fake {
    replies: RefCell<VecDeque<Result<HttpResponse, TransportError>>>,
    sent: RefCell<Vec<HttpRequest>>,
}

impl Fake {
    fn new(replies: Vec<Result<HttpResponse, TransportError>>) -> Self {
        Fake {
            replies: RefCell::new(replies.into()),
            sent: RefCell::default(),
        }
    }

    fn methods(&self) -> Vec<String> {
        let body =
            |r: &HttpRequest| serde_json::from_str::<Value>(r.body.as_deref().unwrap()).unwrap();
        self.sent
            .borrow()
            .iter()
            .map(|r| {
                body(r)["token_endpoint_auth_method"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
}

impl Transport for Fake {
    fn send(&self, request: HttpRequest) -> SendFuture<'_> {
        self.sent.borrow_mut().push(request);
        let reply = self
            .replies
            .borrow_mut()
            .pop_front()
            .expect("an unexpected request");
        Box::pin(async move { reply })
    }
}

fn ok(status: u16, body: Value) -> Result<HttpResponse, TransportError> {
    Ok(HttpResponse {
        status,
        body: body.to_string(),
        ..HttpResponse::new(status)
    })
}

fn req() -> RegistrationRequest {
    RegistrationRequest {
        client_name: "mcp-authlink".into(),
        redirect_uri: "https://w.example.com/service/mcp/consent/callback".into(),
        scopes: vec!["mcp".into(), "offline_access".into()],
    }
}

fn run(
    fake: &Fake,
    mode: AuthMode,
    advertised: &[&str],
) -> Result<RegisteredClient, RegistrationFailure> {
    let adv: Vec<String> = advertised.iter().map(|s| s.to_string()).collect();
    block_on(register(fake, Some(REG), mode, &adv, &req()))
}

fn judge(method: ClientAuthMethod, status: u16, body: &str) -> Judgement {
    judge_registration(
        method,
        &HttpResponse {
            status,
            body: body.into(),
            ..HttpResponse::new(status)
        },
    )
}

fn try_error(j: Judgement) -> TryError {
    match j {
        Judgement::TryNext(e) => e,
        other => panic!("{other:?}"),
    }
}

#[test]
fn method_order_and_filtering() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(registration_methods(CONF, &[]), [Basic, Post, NoAuth]);
    assert_eq!(
        registration_methods(CONF, &s(&["none", "client_secret_post", "private_key_jwt"])),
        [Post, NoAuth]
    );
    assert_eq!(
        registration_methods(CONF, &s(&["client_secret_basic"])),
        [Basic]
    );
    assert_eq!(registration_methods(CONF, &s(&["private_key_jwt"])), []);
    assert_eq!(
        registration_methods(PUBLIC, &s(&["client_secret_basic"])),
        [NoAuth]
    );
    assert_eq!(
        registration_methods(AuthMode::OauthClientCredentials, &[]),
        []
    );
    assert_eq!(registration_methods(AuthMode::Token, &[]), []);
}

#[test]
fn request_body() {
    let r = registration_http_request(REG, &req(), Post);
    assert_eq!(
        (r.method, r.url.as_str()),
        (crate::transport::Method::Post, REG)
    );
    assert_eq!(
        r.headers,
        [
            ("content-type".to_owned(), "application/json".to_owned()),
            ("accept".into(), "application/json".into())
        ]
    );
    assert_eq!(r.max_body_bytes, 65_536);
    assert_eq!(
        serde_json::from_str::<Value>(r.body.as_deref().unwrap()).unwrap(),
        json!({
            "client_name": "mcp-authlink",
            "redirect_uris": ["https://w.example.com/service/mcp/consent/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_post",
            "application_type": "web",
            "scope": "mcp offline_access",
        })
    );
    let r = registration_http_request(
        REG,
        &RegistrationRequest {
            scopes: vec![],
            ..req()
        },
        NoAuth,
    );
    let body: Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
    assert!(body.get("scope").is_none() && body.get("resource").is_none());
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(body["application_type"], "web");
    // An http loopback callback registers a native client (OpenID-style providers refuse
    // http redirect URIs for web clients).
    let r = registration_http_request(
        REG,
        &RegistrationRequest {
            redirect_uri: "http://127.0.0.1:8787/service/mcp/consent/callback".into(),
            ..req()
        },
        Basic,
    );
    let body: Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["application_type"], "native");
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
}

#[test]
fn application_type_by_callback() {
    for (uri, want) in [
        ("https://w.example.com/cb", "web"),
        ("https://localhost/cb", "web"),
        ("http://localhost:8787/cb", "native"),
        ("http://LOCALHOST:8787/cb", "native"),
        ("http://127.0.0.1:8787/cb", "native"),
        ("http://127.5.0.1/cb", "native"),
        ("http://[::1]:8787/cb", "native"),
        ("http://10.0.0.1/cb", "web"),
        ("http://w.example.com/cb", "web"),
        ("not a url", "web"),
    ] {
        assert_eq!(application_type(uri), want, "{uri}");
    }
}

#[test]
fn registration_order_pre_registered_then_cimd_then_dcr() {
    use ClientSource::{Cimd, Dcr, PreRegistered};
    let cc = AuthMode::OauthClientCredentials;
    // (mode, has client_id, AS supports CIMD, deployment serves a document, has register_url)
    let cases = [
        (PUBLIC, true, true, true, true, Some(PreRegistered)),
        (CONF, true, false, false, false, Some(PreRegistered)),
        (PUBLIC, false, true, true, true, Some(Cimd)),
        (PUBLIC, false, true, true, false, Some(Cimd)),
        (PUBLIC, false, true, false, true, Some(Dcr)),
        (PUBLIC, false, false, true, true, Some(Dcr)),
        (PUBLIC, false, false, true, false, None),
        // A confidential config prefers DCR (a secret) and uses CIMD only without DCR.
        (CONF, false, true, true, true, Some(Dcr)),
        (CONF, false, true, true, false, Some(Cimd)),
        (CONF, false, false, false, false, None),
        (cc, false, true, true, true, None),
    ];
    for (mode, id, cimd, served, dcr, want) in cases {
        assert_eq!(
            choose_client_source(mode, id, cimd, served, dcr),
            want,
            "{mode} id={id} cimd={cimd} served={served} dcr={dcr}"
        );
    }
}

#[test]
fn client_metadata_document_members() {
    let url = "https://authlink.example.com/.well-known/mcp-authlink/client-metadata.json";
    assert_eq!(
        client_metadata_document(
            url,
            "mcp-authlink",
            "https://authlink.example.com/service/mcp/consent/callback"
        ),
        json!({
            "client_id": url,
            "client_name": "mcp-authlink",
            "redirect_uris": ["https://authlink.example.com/service/mcp/consent/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "application_type": "web",
        })
    );
    let doc = client_metadata_document(url, "x", "http://127.0.0.1:8787/cb");
    assert_eq!(doc["application_type"], "native");
}

#[test]
fn one_re_registration_on_invalid_client_never_a_loop() {
    use ClientSource::{Cimd, Dcr, PreRegistered};
    let hour = REREGISTER_AFTER_SECS;
    assert_eq!(hour, 3600);
    let now = 10_000;
    assert!(may_register_again(
        Some(Dcr),
        Some("invalid_client"),
        None,
        now
    ));
    assert!(may_register_again(
        Some(Dcr),
        Some("invalid_client"),
        Some(now - hour),
        now
    ));
    // Just re-registered: the fresh client refused too is reported, not registered again.
    assert!(!may_register_again(
        Some(Dcr),
        Some("invalid_client"),
        Some(now - 10),
        now
    ));
    assert!(!may_register_again(
        Some(Dcr),
        Some("invalid_client"),
        Some(now),
        now
    ));
    // Only dynamically registered clients, only invalid_client.
    for source in [Some(PreRegistered), Some(Cimd), None] {
        assert!(!may_register_again(
            source,
            Some("invalid_client"),
            None,
            now
        ));
    }
    for error in [Some("invalid_grant"), Some("unauthorized_client"), None] {
        assert!(!may_register_again(Some(Dcr), error, None, now));
    }
}

#[test]
fn a_private_key_jwt_registration_is_not_usable() {
    let j = judge(
        Basic,
        201,
        r#"{"client_id":"c","token_endpoint_auth_method":"private_key_jwt"}"#,
    );
    assert_eq!(try_error(j).error, "unsupported_token_endpoint_auth_method");
}

#[test]
fn judges_a_confidential_registration() {
    let body = json!({"client_id": "c1", "client_secret": "S3CRET",
        "token_endpoint_auth_method": "client_secret_basic",
        "client_secret_expires_at": 1_900_000_000u64, "registration_access_token": "RAT",
        "registration_client_uri": "https://a/r/c1"});
    let Judgement::Registered(c) = judge(Basic, 201, &body.to_string()) else {
        panic!()
    };
    assert_eq!(
        c,
        RegisteredClient {
            client_id: "c1".into(),
            client_secret: Some("S3CRET".into()),
            token_endpoint_auth_method: Basic,
            client_secret_expires_at: Some(1_900_000_000),
            registration_access_token: Some("RAT".into()),
            registration_client_uri: Some("https://a/r/c1".into()),
        }
    );
    assert_eq!(c.auth_mode(), CONF);
    assert_eq!(
        c.client_auth(),
        ClientAuth::confidential("c1", "S3CRET".into(), Basic)
    );
    let dbg = format!("{c:?} {:?}", Judgement::Registered(c.clone()));
    assert!(!dbg.contains("S3CRET") && !dbg.contains("RAT"), "{dbg}");
    assert_eq!(serde_json::to_value(&c).unwrap()["client_secret"], "S3CRET");
    // No method in the answer: the one asked for. The provider's own choice wins.
    let Judgement::Registered(c) = judge(
        Post,
        200,
        r#"{"client_id":"c","client_secret":"s","client_secret_expires_at":0}"#,
    ) else {
        panic!()
    };
    assert_eq!(
        (c.token_endpoint_auth_method, c.client_secret_expires_at),
        (Post, None)
    );
    let Judgement::Registered(c) = judge(
        Basic,
        200,
        concat!(
            r#"{"client_id":"c","client_secret":"s","#,
            r#""token_endpoint_auth_method":"client_secret_post"}"#
        ),
    ) else {
        panic!()
    };
    assert_eq!(c.token_endpoint_auth_method, Post);
}

#[test]
fn judges_public_registrations() {
    for (method, body) in [
        (NoAuth, r#"{"client_id":"p"}"#),
        (NoAuth, r#"{"client_id":"p","client_secret":"unused"}"#),
        (
            Basic,
            r#"{"client_id":"p","token_endpoint_auth_method":"none"}"#,
        ),
    ] {
        let Judgement::Registered(c) = judge(method, 201, body) else {
            panic!("{body}")
        };
        assert_eq!(
            (
                c.client_id.as_str(),
                c.client_secret.clone(),
                c.token_endpoint_auth_method
            ),
            ("p", None, NoAuth),
            "{body}"
        );
        assert_eq!(c.auth_mode(), PUBLIC);
    }
}

#[test]
fn judges_failures() {
    let e = try_error(judge(
        Basic,
        400,
        r#"{"error":"invalid_client_metadata","error_description":"bad\nmethod"}"#,
    ));
    assert_eq!(
        e,
        TryError {
            method: Basic,
            status: Some(400),
            error: "invalid_client_metadata".into(),
            error_description: Some("bad method".into())
        }
    );
    assert_eq!(
        e.to_string(),
        "client_secret_basic: 400 invalid_client_metadata (bad method)"
    );
    let cases = [
        (
            Basic,
            201,
            r#"{"client_id":"c"}"#,
            "missing_client_secret",
            "the provider registered client_id \"c\" for client_secret_basic but returned no \
             client_secret",
        ),
        (
            Post,
            201,
            r#"{"client_id":"c","client_secret":""}"#,
            "missing_client_secret",
            "the provider registered client_id \"c\" for client_secret_post but returned no \
             client_secret",
        ),
        (
            Basic,
            201,
            r#"{"client_secret":"x"}"#,
            "missing_client_id",
            "a 2xx response without client_id",
        ),
        (
            Basic,
            201,
            r#"{"client_id":"c","token_endpoint_auth_method":"private_key_jwt"}"#,
            "unsupported_token_endpoint_auth_method",
            "the provider registered client_id \"c\" with \"private_key_jwt\", which this \
             project cannot use",
        ),
        (
            Basic,
            200,
            "<html><title>Sign in</title></html>",
            "invalid_response",
            "an HTML page: Sign in",
        ),
        (
            Basic,
            200,
            "[]",
            "invalid_response",
            "JSON that is not an object",
        ),
        (
            Basic,
            500,
            "oops",
            "http_error",
            "a body that is not JSON: oops",
        ),
        (Basic, 502, "", "http_error", "an empty body"),
        (
            Basic,
            403,
            r#"{"message":"no"}"#,
            "http_error",
            "a JSON body without an OAuth error",
        ),
        (
            Basic,
            200,
            r#"{"error":"access_denied","client_id":"c"}"#,
            "access_denied",
            "",
        ),
    ];
    for (method, status, body, error, desc) in cases {
        let e = try_error(judge(method, status, body));
        assert_eq!(
            (e.method, e.status, e.error.as_str()),
            (method, Some(status), error),
            "{body}"
        );
        assert_eq!(e.error_description.as_deref().unwrap_or(""), desc, "{body}");
    }
    let mut big = HttpResponse::new(201);
    big.body_too_large = true;
    assert_eq!(
        try_error(judge_registration(Post, &big))
            .error_description
            .as_deref(),
        Some("the body is over 64 KiB")
    );
}

#[test]
fn confidential_first_method_succeeds() {
    let fake = Fake::new(vec![ok(
        201,
        json!({"client_id": "c", "client_secret": "s"}),
    )]);
    assert_eq!(
        run(&fake, CONF, &[]).unwrap().token_endpoint_auth_method,
        Basic
    );
    assert_eq!(fake.methods(), ["client_secret_basic"]);
}

#[test]
fn falls_back_basic_post_none_keeping_errors() {
    let fake = Fake::new(vec![
        ok(
            400,
            json!({"error": "invalid_client_metadata", "error_description": "no basic"}),
        ),
        Err(TransportError::new(
            TransportErrorKind::Timeout,
            "timed out after 8000 ms",
        )),
        ok(201, json!({"client_id": "pub"})),
    ]);
    let c = run(&fake, CONF, &[]).unwrap();
    assert_eq!(
        (
            c.client_id.as_str(),
            c.token_endpoint_auth_method,
            c.auth_mode()
        ),
        ("pub", NoAuth, PUBLIC)
    );
    assert_eq!(
        fake.methods(),
        ["client_secret_basic", "client_secret_post", "none"]
    );
}

#[test]
fn provider_choosing_public_stops_the_tries() {
    let fake = Fake::new(vec![ok(
        201,
        json!({"client_id": "p", "token_endpoint_auth_method": "none"}),
    )]);
    let c = run(&fake, CONF, &[]).unwrap();
    assert_eq!(
        (c.token_endpoint_auth_method, c.client_secret),
        (NoAuth, None)
    );
    assert_eq!(fake.methods(), ["client_secret_basic"]);
}

#[test]
fn advertised_methods_and_public_mode() {
    let fake = Fake::new(vec![ok(
        201,
        json!({"client_id": "c", "client_secret": "s"}),
    )]);
    run(&fake, CONF, &["client_secret_post", "none"]).unwrap();
    assert_eq!(fake.methods(), ["client_secret_post"]);
    let fake = Fake::new(vec![ok(201, json!({"client_id": "p"}))]);
    assert_eq!(
        run(&fake, PUBLIC, &[]).unwrap().token_endpoint_auth_method,
        NoAuth
    );
    assert_eq!(fake.methods(), ["none"]);
}

#[test]
fn all_fail() {
    let fake = Fake::new(vec![
        ok(201, json!({"client_id": "c1"})),
        Err(TransportError::new(
            TransportErrorKind::Network,
            "connection reset",
        )),
        ok(400, json!({"error": "invalid_redirect_uri"})),
    ]);
    let f = run(&fake, CONF, &[]).unwrap_err();
    let errors: Vec<(ClientAuthMethod, Option<u16>, &str)> = f
        .tries()
        .iter()
        .map(|t| (t.method, t.status, t.error.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            (Basic, Some(201), "missing_client_secret"),
            (Post, None, "network"),
            (NoAuth, Some(400), "invalid_redirect_uri")
        ]
    );
    let e = Error::from(f);
    assert_eq!(e.code, ErrorCode::RegistrationFailed);
    assert_eq!(
        e.message,
        "dynamic client registration at https://auth.example.com/register failed for every \
         method tried: client_secret_basic: 201 missing_client_secret (the provider registered \
         client_id \"c1\" for client_secret_basic but returned no client_secret); \
         client_secret_post: network (connection reset); none: 400 invalid_redirect_uri; \
         fix the provider's registration policy, or supply client_id (and client_secret) by hand"
    );
}

#[test]
fn aborted_or_blocked_stops_early() {
    for (kind, code) in [
        (TransportErrorKind::Aborted, ErrorCode::Aborted),
        (TransportErrorKind::Blocked, ErrorCode::BlockedTarget),
    ] {
        let fake = Fake::new(vec![ok(500, json!({})), Err(TransportError::new(kind, ""))]);
        let f = run(&fake, CONF, &[]).unwrap_err();
        assert_eq!(f.tries().len(), 2);
        assert_eq!(f.tries()[1].error_description, None);
        assert_eq!(fake.methods().len(), 2);
        assert_eq!(Error::from(f).code, code);
    }
}

#[test]
fn no_endpoint_no_method_or_bad_arguments() {
    let fake = Fake::new(vec![]);
    for url in [None, Some(""), Some("  ")] {
        let f = block_on(register(&fake, url, CONF, &[], &req())).unwrap_err();
        assert_eq!(f, RegistrationFailure::Unavailable);
        let e = Error::from(f);
        assert_eq!(e.code, ErrorCode::RegistrationUnavailable);
        assert_eq!(
            e.message,
            "the provider has no registration endpoint: supply client_id (and client_secret for \
             a confidential client) by hand"
        );
    }
    let e = Error::from(run(&fake, CONF, &["private_key_jwt"]).unwrap_err());
    assert_eq!(e.code, ErrorCode::RegistrationFailed);
    assert!(
        e.message.starts_with(
            "the provider supports only the token endpoint auth methods [\"private_key_jwt\"]"
        ),
        "{e}"
    );
    let e = Error::from(run(&fake, AuthMode::OauthClientCredentials, &[]).unwrap_err());
    assert_eq!(e.code, ErrorCode::InvalidArgument);
    let bad = block_on(register(&fake, Some("/register"), CONF, &[], &req())).unwrap_err();
    assert!(
        matches!(&bad, RegistrationFailure::Invalid(e)
            if e.message.starts_with("register_url \"/register\"")),
        "{bad:?}"
    );
    let r = RegistrationRequest {
        client_name: "".into(),
        ..req()
    };
    let e = Error::from(block_on(register(&fake, Some(REG), CONF, &[], &r)).unwrap_err());
    assert_eq!(e.message, "client_name is empty: supply it");
    assert!(fake.sent.borrow().is_empty());
}
