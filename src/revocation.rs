//! Token revocation (RFC 7009): where to send it (the authorization server's
//! `revocation_endpoint`, read from its RFC 8414 / OpenID metadata), the request (the token,
//! its type hint, the client authenticated as at the token endpoint) and the judgement of the
//! answer. [`revoke`] is a small driver over a [`Transport`]; the planners and judges are
//! sans-I/O.
//!
//! Revocation is best effort for the caller: a disconnect deletes the local connection
//! whatever the provider says, and the [`Revocation`] outcome only goes to the log (it never
//! quotes a token).

use std::fmt;

use serde_json::Value;
use url::form_urlencoded;

use crate::metadata::{
    compare_issuer, issuer_metadata_urls, json_object, metadata_request, IssuerMatch,
};
use crate::secret::Secret;
use crate::token::{authenticate_client, ClientAuth, FORM_CONTENT_TYPE};
use crate::transport::{HttpRequest, HttpResponse, Transport, DEFAULT_TIMEOUT_MS};

/// Which token is revoked (`token_type_hint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Refresh,
    Access,
}

impl TokenKind {
    pub(crate) fn hint(self) -> &'static str {
        match self {
            TokenKind::Refresh => "refresh_token",
            TokenKind::Access => "access_token",
        }
    }
}

/// What came of a revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Revocation {
    /// The provider answered 200 (RFC 7009 §2.2: also for tokens it no longer knows).
    Revoked,
    /// The provider has no `revocation_endpoint` (or its metadata could not be read).
    Unsupported,
    /// The request could not be built (no client id, a secret method without a secret).
    NotConfigured(String),
    /// The provider refused (`status`, its OAuth `error` when it sent one).
    Refused { status: u16, error: Option<String> },
    /// The endpoint could not be reached.
    Unreachable(String),
}

impl Revocation {
    /// A short code for logs and events.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Revocation::Revoked => "revoked",
            Revocation::Unsupported => "revocation_unsupported",
            Revocation::NotConfigured(_) => "revocation_not_configured",
            Revocation::Refused { .. } => "revocation_refused",
            Revocation::Unreachable(_) => "revocation_unreachable",
        }
    }
}

impl fmt::Display for Revocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Revocation::Revoked => f.write_str("revoked at the provider"),
            Revocation::Unsupported => {
                f.write_str("the provider advertises no revocation_endpoint")
            }
            Revocation::NotConfigured(why) => write!(f, "not sent: {why}"),
            Revocation::Refused { status, error } => write!(
                f,
                "the provider refused: HTTP {status}{}",
                error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ),
            Revocation::Unreachable(why) => write!(f, "the revocation endpoint failed: {why}"),
        }
    }
}

/// The metadata URLs to read the `revocation_endpoint` from, in RFC 8414 / OIDC order.
pub(crate) fn metadata_requests(issuer: &str) -> Vec<HttpRequest> {
    issuer_metadata_urls(issuer)
        .unwrap_or_default()
        .into_iter()
        .map(|u| metadata_request(&u, DEFAULT_TIMEOUT_MS))
        .collect()
}

/// The `revocation_endpoint` of a metadata answer whose `issuer` is `issuer` (one trailing
/// slash tolerated, as in discovery); `None` for any other answer.
pub(crate) fn revocation_endpoint(resp: &HttpResponse, issuer: &str) -> Option<String> {
    let doc = json_object(resp).ok()?;
    let actual = doc.get("issuer")?.as_str()?;
    if matches!(compare_issuer(issuer, actual), IssuerMatch::Mismatch) {
        return None;
    }
    match doc.get("revocation_endpoint") {
        Some(Value::String(s))
            if url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) =>
        {
            Some(s.clone())
        }
        _ => None,
    }
}

/// Whether a metadata answer is a document for `issuer` at all (so later candidates need
/// not be tried, whether or not it names a revocation endpoint).
pub(crate) fn is_issuer_document(resp: &HttpResponse, issuer: &str) -> bool {
    json_object(resp).ok().is_some_and(|doc| {
        doc.get("issuer")
            .and_then(Value::as_str)
            .is_some_and(|a| !matches!(compare_issuer(issuer, a), IssuerMatch::Mismatch))
    })
}

/// The RFC 7009 request: `token` and `token_type_hint`, the client authenticated as its
/// [`ClientAuth`] says (Basic, in the body, or `client_id` only for a public client).
pub(crate) fn revocation_request(
    endpoint: &str,
    client: &ClientAuth,
    token: &Secret,
    kind: TokenKind,
) -> Result<HttpRequest, String> {
    if client.client_id.is_empty() {
        return Err("the server's config has no client_id".into());
    }
    if token.is_empty() {
        return Err("the connection holds no token".into());
    }
    let mut params: Vec<(&str, &str)> =
        vec![("token", token.expose()), ("token_type_hint", kind.hint())];
    let authorization = authenticate_client(client, &mut params).map_err(|e| e.message)?;
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let mut req = HttpRequest::post(endpoint, FORM_CONTENT_TYPE, body)
        .timeout_ms(DEFAULT_TIMEOUT_MS)
        .max_body_bytes(16 * 1024);
    if let Some(value) = authorization {
        req = req.header("authorization", value);
    }
    Ok(req)
}

/// Judges the revocation endpoint's answer: 200 is revoked (RFC 7009 §2.2); anything else is
/// a refusal with the OAuth `error` when the body has one.
pub(crate) fn judge(resp: &HttpResponse) -> Revocation {
    if resp.status == 200 {
        return Revocation::Revoked;
    }
    let error = serde_json::from_str::<Value>(&resp.body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .filter(|e| e.len() <= 64 && e.bytes().all(|b| b.is_ascii_graphic()));
    Revocation::Refused {
        status: resp.status,
        error,
    }
}

/// Finds the revocation endpoint (`known` when the caller has it, else from the issuer's
/// metadata) and revokes `token` there.
pub(crate) async fn revoke(
    transport: &dyn Transport,
    issuer: Option<&str>,
    known: Option<&str>,
    client: &ClientAuth,
    token: &Secret,
    kind: TokenKind,
) -> Revocation {
    let endpoint = match known {
        Some(e) => Some(e.to_owned()),
        None => match issuer {
            None => None,
            Some(issuer) => {
                let mut found = None;
                for req in metadata_requests(issuer) {
                    let Ok(resp) = transport.send(req).await else {
                        continue;
                    };
                    if is_issuer_document(&resp, issuer) {
                        found = revocation_endpoint(&resp, issuer);
                        break;
                    }
                }
                found
            }
        },
    };
    let Some(endpoint) = endpoint else {
        return Revocation::Unsupported;
    };
    let req = match revocation_request(&endpoint, client, token, kind) {
        Ok(r) => r,
        Err(why) => return Revocation::NotConfigured(why),
    };
    match transport.send(req).await {
        Ok(resp) => judge(&resp),
        Err(e) => Revocation::Unreachable(e.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth_mode::ClientAuthMethod;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    fn json(status: u16, body: &str) -> HttpResponse {
        let mut r = HttpResponse::new(status);
        r.headers
            .push(("content-type".into(), "application/json".into()));
        r.body = body.into();
        r
    }

    fn body_of(req: &HttpRequest) -> Vec<(String, String)> {
        form_urlencoded::parse(req.body.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .collect()
    }

    #[test]
    fn endpoint_only_from_the_issuers_own_document() {
        let doc =
            r#"{"issuer":"https://as.example","revocation_endpoint":"https://as.example/revoke"}"#;
        assert_eq!(
            revocation_endpoint(&json(200, doc), "https://as.example").as_deref(),
            Some("https://as.example/revoke")
        );
        assert_eq!(
            revocation_endpoint(&json(200, doc), "https://evil.example"),
            None
        );
        assert!(!is_issuer_document(&json(200, doc), "https://evil.example"));
        let none = r#"{"issuer":"https://as.example"}"#;
        assert_eq!(
            revocation_endpoint(&json(200, none), "https://as.example"),
            None
        );
        assert!(is_issuer_document(&json(200, none), "https://as.example"));
        let bad = r#"{"issuer":"https://as.example","revocation_endpoint":"javascript:x"}"#;
        assert_eq!(
            revocation_endpoint(&json(200, bad), "https://as.example"),
            None
        );
        assert_eq!(
            revocation_endpoint(&json(404, doc), "https://as.example"),
            None
        );
    }

    #[test]
    fn metadata_candidates_follow_rfc8414() {
        let urls: Vec<String> = metadata_requests("https://as.example")
            .into_iter()
            .map(|r| r.url)
            .collect();
        assert_eq!(
            urls[0],
            "https://as.example/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            urls[1],
            "https://as.example/.well-known/openid-configuration"
        );
    }

    #[test]
    fn request_authenticates_like_the_token_endpoint() {
        let token = Secret::new("rt-123");
        let basic = ClientAuth::confidential(
            "c 1",
            Secret::new("s:2"),
            ClientAuthMethod::ClientSecretBasic,
        );
        let r = revocation_request(
            "https://as.example/revoke",
            &basic,
            &token,
            TokenKind::Refresh,
        )
        .unwrap();
        assert_eq!(
            body_of(&r),
            vec![
                ("token".into(), "rt-123".into()),
                ("token_type_hint".into(), "refresh_token".into())
            ]
        );
        let auth = r
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .unwrap();
        assert_eq!(auth.1, format!("Basic {}", STANDARD.encode("c+1:s%3A2")));

        let post =
            ClientAuth::confidential("c", Secret::new("s"), ClientAuthMethod::ClientSecretPost);
        let r = revocation_request(
            "https://as.example/revoke",
            &post,
            &token,
            TokenKind::Access,
        )
        .unwrap();
        let b = body_of(&r);
        assert!(b.contains(&("client_secret".into(), "s".into())));
        assert!(b.contains(&("token_type_hint".into(), "access_token".into())));

        let public = ClientAuth::public("pub");
        let r = revocation_request(
            "https://as.example/revoke",
            &public,
            &token,
            TokenKind::Refresh,
        )
        .unwrap();
        assert!(body_of(&r).contains(&("client_id".into(), "pub".into())));
        assert!(!r.headers.iter().any(|(k, _)| k == "authorization"));
        // The request's Debug never shows the token.
        assert!(!format!("{r:?}").contains("rt-123"));

        let no_secret = ClientAuth {
            client_id: "c".into(),
            client_secret: None,
            method: ClientAuthMethod::ClientSecretBasic,
            assertion: None,
        };
        assert!(revocation_request(
            "https://as.example/revoke",
            &no_secret,
            &token,
            TokenKind::Refresh
        )
        .unwrap_err()
        .contains("client_secret"));
    }

    /// Answers by URL from a table and records what was sent.
    struct Table {
        answers: Vec<(&'static str, u16, &'static str)>,
        sent: std::cell::RefCell<Vec<HttpRequest>>,
    }

    impl Transport for Table {
        fn send(&self, request: HttpRequest) -> crate::transport::SendFuture<'_> {
            let answer = self
                .answers
                .iter()
                .find(|(url, _, _)| *url == request.url)
                .map(|(_, status, body)| json(*status, body))
                .unwrap_or_else(|| HttpResponse::new(404));
            self.sent.borrow_mut().push(request);
            Box::pin(async move { Ok(answer) })
        }
    }

    #[test]
    fn revoke_finds_the_endpoint_in_the_metadata_then_revokes() {
        let t = Table {
            answers: vec![
                (
                    "https://as.example/.well-known/openid-configuration",
                    200,
                    r#"{"issuer":"https://as.example","revocation_endpoint":"https://as.example/revoke"}"#,
                ),
                ("https://as.example/revoke", 200, ""),
            ],
            sent: Default::default(),
        };
        let client = ClientAuth::public("pub");
        let outcome = futures_executor::block_on(revoke(
            &t,
            Some("https://as.example"),
            None,
            &client,
            &Secret::new("rt"),
            TokenKind::Refresh,
        ));
        assert_eq!(outcome, Revocation::Revoked);
        let urls: Vec<String> = t.sent.borrow().iter().map(|r| r.url.clone()).collect();
        assert_eq!(
            urls,
            [
                "https://as.example/.well-known/oauth-authorization-server",
                "https://as.example/.well-known/openid-configuration",
                "https://as.example/revoke",
            ]
        );
    }

    #[test]
    fn revoke_without_an_endpoint_sends_nothing_more() {
        let t = Table {
            answers: vec![(
                "https://as.example/.well-known/oauth-authorization-server",
                200,
                r#"{"issuer":"https://as.example"}"#,
            )],
            sent: Default::default(),
        };
        let outcome = futures_executor::block_on(revoke(
            &t,
            Some("https://as.example"),
            None,
            &ClientAuth::public("pub"),
            &Secret::new("rt"),
            TokenKind::Refresh,
        ));
        assert_eq!(outcome, Revocation::Unsupported);
        assert_eq!(
            t.sent.borrow().len(),
            1,
            "the issuer's own document ends the search"
        );
        assert_eq!(
            futures_executor::block_on(revoke(
                &t,
                None,
                None,
                &ClientAuth::public("p"),
                &Secret::new("x"),
                TokenKind::Access
            )),
            Revocation::Unsupported
        );
    }

    #[test]
    fn judging_the_answer() {
        assert_eq!(judge(&HttpResponse::new(200)), Revocation::Revoked);
        assert_eq!(
            judge(&json(400, r#"{"error":"unsupported_token_type"}"#)),
            Revocation::Refused {
                status: 400,
                error: Some("unsupported_token_type".into())
            }
        );
        assert_eq!(
            judge(&HttpResponse::new(503)),
            Revocation::Refused {
                status: 503,
                error: None
            }
        );
        assert_eq!(
            Revocation::Refused {
                status: 401,
                error: Some("invalid_client".into())
            }
            .to_string(),
            "the provider refused: HTTP 401 (invalid_client)"
        );
    }
}
