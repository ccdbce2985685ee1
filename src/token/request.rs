//! Token request builders: one [`HttpRequest`] per grant, with the client authenticated as
//! its [`ClientAuth`] says (RFC 6749 §2.3.1, §4.1.3, §4.4.2, §6; RFC 8707 `resource`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use url::form_urlencoded;

use super::assertion::CLIENT_ASSERTION_TYPE;
use super::{ClientAuth, FORM_CONTENT_TYPE, MAX_TOKEN_BODY_BYTES};
use crate::auth_mode::ClientAuthMethod;
use crate::authorize::{check_resource, http_url, non_empty, scope_param};
use crate::error::{Error, ErrorCode, Result};
use crate::secret::Secret;
use crate::transport::{HttpRequest, DEFAULT_TIMEOUT_MS};

/// `grant_type=authorization_code` with `code`, `redirect_uri`, `code_verifier`, `resource`.
pub fn authorization_code_request(
    token_url: &str,
    auth: &ClientAuth,
    code: &str,
    redirect_uri: &str,
    code_verifier: &Secret,
    resource: &str,
) -> Result<HttpRequest> {
    non_empty("code", code)?;
    http_url("redirect_uri", redirect_uri)?;
    crate::pkce::challenge_s256(code_verifier.expose())?;
    check_resource(resource)?;
    token_request(
        token_url,
        auth,
        vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", code_verifier.expose()),
            ("resource", resource),
        ],
    )
}

/// `grant_type=refresh_token` with `refresh_token`, `scope` (when `scopes` is non-empty) and
/// `resource`.
pub fn refresh_request(
    token_url: &str,
    auth: &ClientAuth,
    refresh_token: &Secret,
    resource: &str,
    scopes: &[String],
) -> Result<HttpRequest> {
    non_empty("refresh_token", refresh_token.expose())?;
    check_resource(resource)?;
    let scope = scope_param(scopes)?;
    let mut params = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose()),
    ];
    if let Some(scope) = &scope {
        params.push(("scope", scope));
    }
    params.push(("resource", resource));
    token_request(token_url, auth, params)
}

/// `grant_type=client_credentials` with `scope` (when `scopes` is non-empty) and `resource`
/// (when known). The grant is for confidential clients only: `none` is refused; a secret or a
/// `private_key_jwt` assertion authenticates.
pub fn client_credentials_request(
    token_url: &str,
    auth: &ClientAuth,
    scopes: &[String],
    resource: Option<&str>,
) -> Result<HttpRequest> {
    if auth.method == ClientAuthMethod::None {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            "the client credentials grant needs a client secret or a private key: set \
             token_endpoint_auth_method to client_secret_basic, client_secret_post or \
             private_key_jwt and supply the credential",
        ));
    }
    if let Some(r) = resource {
        check_resource(r)?;
    }
    let scope = scope_param(scopes)?;
    let mut params = vec![("grant_type", "client_credentials")];
    if let Some(scope) = &scope {
        params.push(("scope", scope));
    }
    if let Some(r) = resource {
        params.push(("resource", r));
    }
    token_request(token_url, auth, params)
}

fn token_request<'a>(
    token_url: &str,
    auth: &'a ClientAuth,
    mut params: Vec<(&'a str, &'a str)>,
) -> Result<HttpRequest> {
    let url = http_url("token_url", token_url)?;
    if url.fragment().is_some() {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            format!("token_url {token_url:?} has a #fragment: remove it (RFC 6749 §3.2)"),
        ));
    }
    non_empty("client_id", &auth.client_id)?;
    let mut authorization = None;
    match auth.method {
        ClientAuthMethod::ClientSecretBasic => {
            let secret = require_secret(auth)?;
            let pair = format!(
                "{}:{}",
                form_encode(&auth.client_id),
                form_encode(secret.expose())
            );
            authorization = Some(format!("Basic {}", STANDARD.encode(pair)));
        }
        ClientAuthMethod::ClientSecretPost => {
            let secret = require_secret(auth)?;
            params.push(("client_id", &auth.client_id));
            params.push(("client_secret", secret.expose()));
        }
        ClientAuthMethod::None => params.push(("client_id", &auth.client_id)),
        ClientAuthMethod::PrivateKeyJwt => {
            let assertion = match &auth.assertion {
                Some(a) if !a.is_empty() => a,
                _ => {
                    return Err(Error::new(
                        ErrorCode::InvalidArgument,
                        "client_assertion is missing: private_key_jwt sends a JWT signed with \
                         the configured private key",
                    ))
                }
            };
            params.push(("client_assertion_type", CLIENT_ASSERTION_TYPE));
            params.push(("client_assertion", assertion.expose()));
        }
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let mut req = HttpRequest::post(token_url, FORM_CONTENT_TYPE, body)
        .header("accept", "application/json")
        .timeout_ms(DEFAULT_TIMEOUT_MS)
        .max_body_bytes(MAX_TOKEN_BODY_BYTES);
    if let Some(value) = authorization {
        req = req.header("authorization", value);
    }
    Ok(req)
}

fn require_secret(auth: &ClientAuth) -> Result<&Secret> {
    match &auth.client_secret {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(Error::new(
            ErrorCode::InvalidArgument,
            format!(
                "client_secret is missing: token_endpoint_auth_method {} sends a client secret; \
                 supply client_secret, or use \"none\" for a public client",
                auth.method
            ),
        )),
    }
}

/// RFC 6749 Appendix B encoding, used for the Basic credentials (§2.3.1).
fn form_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
