//! The server's OAuth client in the Worker (discovery.md §7): the client ID metadata document
//! the Worker serves, client authentication of token requests (a fresh `private_key_jwt`
//! assertion per request, the `client_secret_basic` → `client_secret_post` retry whose method
//! is then remembered in the stored config), and re-registration after `invalid_client`.

use worker::{D1Database, Headers};

use super::error::{ApiError, ApiResult};
use super::http::json_response;
use super::servers::{load, open_config, row_for};
use super::store::{self, ServerRow};
use super::{now, Settings};
use crate::auth_mode::ClientAuthMethod;
use crate::config::{AuthConfig, ServerConfig, ServerConfigBody, TokenClient};
use crate::pkce;
use crate::provision::{register_again, Provider, ProvisionOptions};
use crate::registration::{client_metadata_document, may_register_again};
use crate::secret::Secret;
use crate::token::assertion::{client_assertion, ClientKey};
use crate::token::{ClientAuth, TokenFailure, TokenSet};
use crate::transport::{HttpRequest, HttpResponse, Transport};

/// Where the Worker serves the client ID metadata document of a server (under
/// `PUBLIC_ORIGIN`): one document per server, so that each names its own server's redirect URI
/// (the mix-up defence of [`crate::authorize::server_redirect_uri`]).
pub fn cimd_path(server_id: &str) -> String {
    format!("/.well-known/mcp-authlink/servers/{server_id}/client-metadata.json")
}
/// The `client_name` of the documents.
const CLIENT_NAME: &str = "mcp-authlink";

/// The redirect URI of clients the Worker obtains for a server: `callback?s=<server id>`.
pub fn server_redirect_uri(s: &Settings, server_id: &str) -> String {
    crate::authorize::server_redirect_uri(&s.callback_url(), server_id)
}

/// The redirect URI a server's flows use: the one its client was registered with.
pub fn redirect_uri_for(s: &Settings, provider: &Provider) -> String {
    provider
        .redirect_uri
        .clone()
        .unwrap_or_else(|| s.callback_url())
}

/// The CIMD `client_id` to offer authorization servers for a server, and the redirect URI its
/// document names: `CIMD_URL` when the deployment sets one (a document served elsewhere, which
/// names the documented callback URL), else the Worker's own per-server document; only an
/// https URL (the draft requires it; a development Worker on http loopback uses DCR).
pub fn cimd_for(s: &Settings, server_id: &str) -> Option<(String, String)> {
    let (url, redirect) = match &s.cimd_url {
        Some(url) => (url.clone(), s.callback_url()),
        None => (
            format!("{}{}", s.public_origin, cimd_path(server_id)),
            server_redirect_uri(s, server_id),
        ),
    };
    url.starts_with("https://").then_some((url, redirect))
}

/// What provisioning a server needs from the deployment (its callback, the server's own
/// redirect URI and CIMD document), owned, for [`ProvisionTargets::options`] to lend out.
pub struct ProvisionTargets {
    policy: crate::target::TargetPolicy,
    callback: String,
    redirect: String,
    cimd: Option<(String, String)>,
}

impl ProvisionTargets {
    pub fn for_server(s: &Settings, server_id: &str) -> ProvisionTargets {
        ProvisionTargets {
            policy: s.policy(),
            callback: s.callback_url(),
            redirect: server_redirect_uri(s, server_id),
            cimd: cimd_for(s, server_id),
        }
    }

    pub fn options(&self) -> ProvisionOptions<'_> {
        ProvisionOptions {
            policy: self.policy,
            callback_url: &self.callback,
            server_redirect_uri: Some(&self.redirect),
            cimd: self.cimd.as_ref().map(|(u, r)| (u.as_str(), r.as_str())),
            timeout_ms: crate::transport::DEFAULT_TIMEOUT_MS,
        }
    }
}

/// `GET /.well-known/mcp-authlink/servers/{id}/client-metadata.json`: public and cacheable
/// (an hour); 404 for an unknown server.
pub async fn metadata_document(db: &D1Database, s: &Settings, id: &str) -> ApiResult {
    load(db, id).await?;
    let url = format!("{}{}", s.public_origin, cimd_path(id));
    let doc = client_metadata_document(&url, CLIENT_NAME, &server_redirect_uri(s, id));
    let headers = Headers::new();
    headers.set("cache-control", "public, max-age=3600")?;
    headers.set("access-control-allow-origin", "*")?;
    headers.set("content-type", "application/json")?;
    Ok(json_response(&doc, 200).with_headers(headers))
}

/// Why a token request gave no tokens.
pub enum TokenCallError {
    /// The config cannot make the request (no token URL, an unusable key, ...).
    NotConfigured(String),
    /// No answer (network, timeout, blocked target).
    Transport(String),
    /// The token endpoint's answer, judged.
    Failure(TokenFailure),
}

impl TokenCallError {
    pub fn is_invalid_client(&self) -> bool {
        matches!(self, TokenCallError::Failure(f) if f.error() == Some("invalid_client"))
    }
}

/// Sends one token request for `tc`'s client: signs a fresh client assertion for
/// `private_key_jwt`, and retries once as `client_secret_post` when a `client_secret_basic`
/// request is answered `invalid_client` and the provider lists `client_secret_post`. Returns
/// the tokens and, when the retry worked, the method to remember.
pub async fn send_token_request(
    s: &Settings,
    tc: &TokenClient,
    provider: &Provider,
    build: &dyn Fn(&str, &ClientAuth) -> crate::error::Result<HttpRequest>,
    judge: &dyn Fn(&HttpResponse) -> Result<TokenSet, TokenFailure>,
) -> Result<(TokenSet, Option<ClientAuthMethod>), TokenCallError> {
    let (Some(token_url), Some(client)) = (tc.token_url.as_deref(), tc.client.as_ref()) else {
        return Err(TokenCallError::NotConfigured(
            "the config has no token_url or client_id yet".into(),
        ));
    };
    let mut auth = client.clone();
    if auth.method == ClientAuthMethod::PrivateKeyJwt {
        auth.assertion = Some(sign(tc, &auth.client_id, provider, token_url)?);
    }
    let mut switched = None;
    for attempt in 0..2 {
        let request =
            build(token_url, &auth).map_err(|e| TokenCallError::NotConfigured(e.message))?;
        let response = s
            .transport()
            .send(request)
            .await
            .map_err(|e| TokenCallError::Transport(e.message))?;
        match judge(&response) {
            Ok(t) => return Ok((t, switched)),
            Err(f) => {
                let retry = (attempt == 0)
                    .then(|| auth.retry_method(&f, &provider.token_endpoint_auth_methods_supported))
                    .flatten();
                match retry {
                    Some(next) => {
                        switched = Some(next.method);
                        auth = next;
                    }
                    None => return Err(TokenCallError::Failure(f)),
                }
            }
        }
    }
    Err(TokenCallError::NotConfigured(
        "no token request was made".into(),
    ))
}

/// The one `client_secret_post` retry of a request whose first try (built and judged by the
/// caller, e.g. the consent callback's code exchange) failed with `failure`: `None` when no
/// retry applies or the retry failed too (the caller reports the first failure). The method
/// that worked is remembered.
pub async fn retry_as_post(
    db: &D1Database,
    s: &Settings,
    row: &ServerRow,
    client: &ClientAuth,
    failure: &TokenFailure,
    build: &dyn Fn(&ClientAuth) -> crate::error::Result<HttpRequest>,
) -> Option<TokenSet> {
    let provider: Provider = serde_json::from_str(&row.provider).unwrap_or_default();
    let next = client.retry_method(failure, &provider.token_endpoint_auth_methods_supported)?;
    let response = s.transport().send(build(&next).ok()?).await.ok()?;
    let tokens = crate::token::parse_token_response(&response, now()).ok()?;
    remember_method(db, s, row, next.method).await;
    Some(tokens)
}

/// A client assertion for `private_key_jwt`: `aud` is the issuer when known, else the token
/// endpoint (RFC 7523 §3 allows either).
fn sign(
    tc: &TokenClient,
    client_id: &str,
    provider: &Provider,
    token_url: &str,
) -> Result<Secret, TokenCallError> {
    let Some((key, alg)) = &tc.private_key else {
        return Err(TokenCallError::NotConfigured(
            "private_key_jwt needs config.auth.private_key".into(),
        ));
    };
    let key = ClientKey::parse(key.expose(), *alg)
        .map_err(|p| TokenCallError::NotConfigured(format!("config.auth.private_key {p}")))?;
    let jti = pkce::generate_state()
        .map_err(|_| TokenCallError::NotConfigured("no random source".into()))?;
    let audience = provider.issuer.as_deref().unwrap_or(token_url);
    client_assertion(&key, client_id, audience, &jti, now()).map_err(TokenCallError::NotConfigured)
}

/// Remembers the method that worked after the basic → post retry, in the stored config (so
/// every later request starts with it). A failure to store is logged, not fatal.
pub async fn remember_method(
    db: &D1Database,
    s: &Settings,
    row: &ServerRow,
    method: ClientAuthMethod,
) {
    let result = async {
        let mut config: ServerConfig = open_config(row, s)?;
        match &mut config.auth {
            Some(AuthConfig::OauthClientCredentials(a)) => {
                a.token_endpoint_auth_method = Some(method)
            }
            Some(AuthConfig::OauthAuthorizationCodeConfidentialPkce(a)) => {
                a.token_endpoint_auth_method = Some(method)
            }
            _ => return Ok(()),
        }
        let provider: Provider = serde_json::from_str(&row.provider).unwrap_or_default();
        let body = ServerConfigBody {
            name: row.name.clone(),
            config,
        };
        let mut new_row = row_for(&row.id, &body, &provider, s, &row.created_at)?;
        // Written at the version it was read at (update_server moves it on).
        new_row.config_version = row.config_version;
        store::record_client_method(db, &new_row).await?;
        Ok::<(), ApiError>(())
    }
    .await;
    if result.is_err() {
        worker::console_warn!(
            "could not remember the token endpoint auth method of {}",
            row.id
        );
    }
}

/// After `invalid_client` for a dynamically registered client: registers it once more (at
/// most once an hour per server, so a refused new client never loops), stores the new client
/// and drops the server's connections and step-ups (everyone consents again). True when a new
/// client was registered.
pub async fn register_again_after_invalid_client(
    db: &D1Database,
    s: &Settings,
    row: &ServerRow,
) -> ApiResult<bool> {
    let mut provider: Provider = serde_json::from_str(&row.provider).unwrap_or_default();
    let t = now();
    if !may_register_again(
        provider.client_source,
        Some("invalid_client"),
        provider.reregistered_at,
        t,
    ) {
        return Ok(false);
    }
    let mut body = ServerConfigBody {
        name: row.name.clone(),
        config: open_config(row, s)?,
    };
    let callback = server_redirect_uri(s, &row.id);
    if let Err(e) = register_again(&mut body, &provider, &s.transport(), &callback).await {
        worker::console_warn!("re-registration of {} failed: {:?}", row.id, e);
        return Ok(false);
    }
    provider.reregistered_at = Some(t);
    let mut new_row = row_for(&row.id, &body, &provider, s, &row.created_at)?;
    // Written at the version it was read at (update_server moves it on).
    new_row.config_version = row.config_version;
    store::update_server(db, &new_row, true).await?;
    store::protocol::clear_server_step_ups(db, &row.id).await?;
    Ok(true)
}
