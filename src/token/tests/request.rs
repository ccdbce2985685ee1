//! Token request builders: grants, client authentication, argument checks.

use super::*;

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
