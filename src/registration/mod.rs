//! How a server's OAuth client comes to exist (discovery.md §7, 2026-07-28 order):
//! pre-registered, then a client ID metadata document ("CIMD": [`client_metadata_document`]),
//! then dynamic client registration (RFC 7591): which token endpoint auth methods to try and in
//! what order, the registration request (always with `application_type` and an explicit
//! `token_endpoint_auth_method`), the judgement of each response, and an async driver that
//! tries the methods in turn over a [`Transport`]. Also the one rule of re-registration after
//! `invalid_client` ([`may_register_again`]).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth_mode::{AuthMode, ClientAuthMethod};
use crate::authorize::{http_url, non_empty, scope_param};
use crate::error::{Error, ErrorCode};
use crate::secret::Secret;
use crate::token::{clean, sniff, ClientAuth};
use crate::transport::{HttpRequest, HttpResponse, Transport, TransportErrorKind};

/// Largest registration response body read (64 KiB).
pub const MAX_REGISTRATION_BODY_BYTES: usize = 64 * 1024;

/// The ordered methods to try: confidential tries `client_secret_basic`, `client_secret_post`,
/// `none`, keeping those in `advertised` (`token_endpoint_auth_methods_supported`; all three
/// when it is empty); public tries `none` only; the other modes do not register.
pub fn registration_methods(mode: AuthMode, advertised: &[String]) -> Vec<ClientAuthMethod> {
    match mode {
        AuthMode::OauthAuthorizationCodeConfidentialPkce => ClientAuthMethod::ALL
            .into_iter()
            .filter(|m| advertised.is_empty() || advertised.iter().any(|a| a == m.as_str()))
            .collect(),
        AuthMode::OauthAuthorizationCodePublicPkce => vec![ClientAuthMethod::None],
        AuthMode::OauthClientCredentials | AuthMode::Token => Vec::new(),
    }
}

/// What to register: the client's name, its one redirect URI and the scopes it will ask for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationRequest {
    pub client_name: String,
    pub redirect_uri: String,
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// OpenID Connect Registration's `application_type` for a redirect URI: `"native"` for an
/// `http:` loopback callback (OpenID-style providers refuse `http:` and `localhost` redirect
/// URIs for web clients), `"web"` otherwise.
pub fn application_type(redirect_uri: &str) -> &'static str {
    let loopback = url::Url::parse(redirect_uri).is_ok_and(|u| {
        u.scheme() == "http"
            && match u.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            }
    });
    if loopback {
        "native"
    } else {
        "web"
    }
}

/// The registration request for one method: a JSON body with `client_name`, `redirect_uris`,
/// `grant_types`, `response_types`, `token_endpoint_auth_method` (always explicit),
/// `application_type` (always: see [`application_type`]), and `scope` when there are scopes.
/// No `resource` (RFC 7591 has none).
pub fn registration_http_request(
    register_url: &str,
    req: &RegistrationRequest,
    method: ClientAuthMethod,
) -> HttpRequest {
    let mut body = json!({
        "client_name": req.client_name,
        "redirect_uris": [req.redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method.as_str(),
        "application_type": application_type(&req.redirect_uri),
    });
    if !req.scopes.is_empty() {
        body["scope"] = Value::String(req.scopes.join(" "));
    }
    HttpRequest::post(register_url, "application/json", body.to_string())
        .header("accept", "application/json")
        .max_body_bytes(MAX_REGISTRATION_BODY_BYTES)
}

/// A registered client. `Debug` redacts the secrets; `Serialize` gives them (owner only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredClient {
    pub client_id: String,
    pub client_secret: Option<Secret>,
    /// The method the provider registered (it may differ from the one asked for).
    pub token_endpoint_auth_method: ClientAuthMethod,
    /// Unix seconds; `None` when the secret never expires (0 on the wire) or it is not said.
    pub client_secret_expires_at: Option<u64>,
    pub registration_access_token: Option<Secret>,
    pub registration_client_uri: Option<String>,
}

impl RegisteredClient {
    /// The auth type to store: landing on `none` makes the server a public client.
    pub fn auth_mode(&self) -> AuthMode {
        if self.token_endpoint_auth_method.uses_secret() {
            AuthMode::OauthAuthorizationCodeConfidentialPkce
        } else {
            AuthMode::OauthAuthorizationCodePublicPkce
        }
    }

    /// Client authentication for the token requests.
    pub fn client_auth(&self) -> ClientAuth {
        ClientAuth {
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            method: self.token_endpoint_auth_method,
            assertion: None,
        }
    }
}

/// Why one try failed. `error` is the provider's OAuth error (`invalid_client_metadata`, ...)
/// or one of: `invalid_response`, `http_error`, `missing_client_id`, `missing_client_secret`,
/// `unsupported_token_endpoint_auth_method`, and the transport's `network`, `timeout`,
/// `aborted`, `blocked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TryError {
    pub method: ClientAuthMethod,
    pub status: Option<u16>,
    pub error: String,
    pub error_description: Option<String>,
}

impl fmt::Display for TryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.method)?;
        if let Some(status) = self.status {
            write!(f, "{status} ")?;
        }
        f.write_str(&self.error)?;
        match &self.error_description {
            Some(d) => write!(f, " ({d})"),
            None => Ok(()),
        }
    }
}

/// The verdict on one registration response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// Done: make no further tries.
    Registered(RegisteredClient),
    /// This method failed: try the next one, keeping the error.
    TryNext(TryError),
}

/// Judges the response to a registration with `method`. A 2xx JSON object with `client_id`
/// registers, and for a secret method it must carry `client_secret` too, unless the provider
/// answered `token_endpoint_auth_method: "none"` without a secret (it chose a public client).
pub fn judge_registration(method: ClientAuthMethod, resp: &HttpResponse) -> Judgement {
    let status = resp.status;
    let fail = |error: &str, description: String| {
        Judgement::TryNext(TryError {
            method,
            status: Some(status),
            error: error.to_owned(),
            error_description: Some(description).filter(|d| !d.is_empty()),
        })
    };
    if resp.body_too_large {
        let limit = MAX_REGISTRATION_BODY_BYTES / 1024;
        return fail("invalid_response", format!("the body is over {limit} KiB"));
    }
    let map = match serde_json::from_str::<Value>(resp.body.trim()) {
        Ok(Value::Object(map)) => map,
        parsed => {
            let what = match parsed {
                Ok(_) => "JSON that is not an object".to_owned(),
                Err(_) => match sniff(resp) {
                    (_, e) if e.is_empty() => "an empty body".to_owned(),
                    (true, e) => format!("an HTML page: {e}"),
                    (false, e) => format!("a body that is not JSON: {e}"),
                },
            };
            let error = if resp.is_success() {
                "invalid_response"
            } else {
                "http_error"
            };
            return fail(error, what);
        }
    };
    let text = |k: &str| map.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    if let Some(error) = text("error") {
        let description = text("error_description").map(|d| clean(d, 300));
        return fail(&clean(error, 80), description.unwrap_or_default());
    }
    if !resp.is_success() {
        return fail("http_error", "a JSON body without an OAuth error".into());
    }
    let Some(client_id) = text("client_id") else {
        return fail(
            "missing_client_id",
            "a 2xx response without client_id".into(),
        );
    };
    let registered = match map.get("token_endpoint_auth_method") {
        None | Some(Value::Null) => method,
        // `parse` knows the registrable methods only: a `private_key_jwt` client is unusable.
        Some(v) => match v.as_str().and_then(ClientAuthMethod::parse) {
            Some(m) => m,
            None => {
                let shown = clean(&v.to_string(), 60);
                let desc = format!(
                    "the provider registered client_id {client_id:?} with {shown}, which this \
                     project cannot use"
                );
                return fail("unsupported_token_endpoint_auth_method", desc);
            }
        },
    };
    let client_secret = text("client_secret").map(Secret::new);
    if registered.uses_secret() && client_secret.is_none() {
        let desc = format!(
            "the provider registered client_id {client_id:?} for {registered} but returned no \
             client_secret"
        );
        return fail("missing_client_secret", desc);
    }
    Judgement::Registered(RegisteredClient {
        client_id: client_id.to_owned(),
        // A public client has no use for a secret: never store one.
        client_secret: client_secret.filter(|_| registered.uses_secret()),
        token_endpoint_auth_method: registered,
        client_secret_expires_at: map
            .get("client_secret_expires_at")
            .and_then(Value::as_u64)
            .filter(|&t| t > 0),
        registration_access_token: text("registration_access_token").map(Secret::new),
        registration_client_uri: text("registration_client_uri").map(str::to_owned),
    })
}

/// Why registration gave no client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationFailure {
    /// The provider has no registration endpoint.
    Unavailable,
    /// A malformed argument (`register_url`, `redirect_uri`, `client_name`, `scopes`).
    Invalid(Error),
    /// No method to try: a mode that does not register, or a provider advertising none of the
    /// three methods.
    NoUsableMethod {
        mode: AuthMode,
        advertised: Vec<String>,
    },
    /// Every method tried failed (a transport abort or block stops the tries early).
    AllFailed {
        register_url: String,
        tries: Vec<TryError>,
    },
}

impl RegistrationFailure {
    /// Every try's error, in order.
    pub fn tries(&self) -> &[TryError] {
        match self {
            RegistrationFailure::AllFailed { tries, .. } => tries,
            _ => &[],
        }
    }
}

impl From<RegistrationFailure> for Error {
    fn from(f: RegistrationFailure) -> Error {
        match f {
            RegistrationFailure::Unavailable => Error::new(
                ErrorCode::RegistrationUnavailable,
                "the provider has no registration endpoint: supply client_id (and client_secret \
                 for a confidential client) by hand",
            ),
            RegistrationFailure::Invalid(e) => e,
            RegistrationFailure::NoUsableMethod { mode, .. } if !mode.is_authorization_code() => {
                Error::new(
                    ErrorCode::InvalidArgument,
                    format!(
                        "dynamic client registration applies to the authorization code auth \
                         types only, not {mode}: supply the credentials by hand"
                    ),
                )
            }
            RegistrationFailure::NoUsableMethod { advertised, .. } => Error::new(
                ErrorCode::RegistrationFailed,
                format!(
                    "the provider supports only the token endpoint auth methods {advertised:?}, \
                     none of client_secret_basic, client_secret_post, none: register a client by \
                     hand and supply client_id and client_secret"
                ),
            ),
            RegistrationFailure::AllFailed {
                register_url,
                tries,
            } => {
                let code = match tries.last().map(|t| t.error.as_str()) {
                    Some("aborted") => ErrorCode::Aborted,
                    Some("blocked") => ErrorCode::BlockedTarget,
                    _ => ErrorCode::RegistrationFailed,
                };
                let list: Vec<String> = tries.iter().map(ToString::to_string).collect();
                Error::new(
                    code,
                    format!(
                        "dynamic client registration at {register_url} failed for every method \
                         tried: {}; fix the provider's registration policy, or supply client_id \
                         (and client_secret) by hand",
                        list.join("; ")
                    ),
                )
            }
        }
    }
}

/// Registers a client, trying [`registration_methods`] in order and stopping at the first
/// success. Each try registers a client at the provider, so a provider choosing a public client
/// ends the tries too. A transport error is kept as that try's error; `aborted` and `blocked`
/// stop the tries (the next would fail the same way).
pub async fn register(
    transport: &dyn Transport,
    register_url: Option<&str>,
    mode: AuthMode,
    advertised: &[String],
    req: &RegistrationRequest,
) -> Result<RegisteredClient, RegistrationFailure> {
    let Some(url) = register_url.filter(|u| !u.trim().is_empty()) else {
        return Err(RegistrationFailure::Unavailable);
    };
    http_url("register_url", url)
        .and_then(|_| http_url("redirect_uri", &req.redirect_uri))
        .and_then(|_| non_empty("client_name", &req.client_name))
        .and_then(|_| scope_param(&req.scopes))
        .map_err(RegistrationFailure::Invalid)?;
    let methods = registration_methods(mode, advertised);
    if methods.is_empty() {
        let advertised = advertised.to_vec();
        return Err(RegistrationFailure::NoUsableMethod { mode, advertised });
    }
    let mut tries = Vec::new();
    for method in methods {
        match transport
            .send(registration_http_request(url, req, method))
            .await
        {
            Ok(resp) => match judge_registration(method, &resp) {
                Judgement::Registered(client) => return Ok(client),
                Judgement::TryNext(e) => tries.push(e),
            },
            Err(e) => {
                let (error, stop) = match e.kind {
                    TransportErrorKind::Network => ("network", false),
                    TransportErrorKind::Timeout => ("timeout", false),
                    TransportErrorKind::Aborted => ("aborted", true),
                    TransportErrorKind::Blocked => ("blocked", true),
                };
                tries.push(TryError {
                    method,
                    status: None,
                    error: error.to_owned(),
                    error_description: Some(clean(&e.message, 300)).filter(|m| !m.is_empty()),
                });
                if stop {
                    break;
                }
            }
        }
    }
    let register_url = url.to_owned();
    Err(RegistrationFailure::AllFailed {
        register_url,
        tries,
    })
}

/// How a server's client comes to exist (discovery.md §7), decided from the config and the
/// authorization server's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientSource {
    /// The config carries `client_id` (and `client_secret`): the operator registered it.
    PreRegistered,
    /// The client id is the URL of the deployment's client ID metadata document: a public
    /// client with PKCE; nothing is registered and nothing expires.
    Cimd,
    /// Dynamic client registration (RFC 7591).
    Dcr,
}

/// The registration order of discovery.md §7 for an authorization code config without
/// `client_id` (a config with one is [`ClientSource::PreRegistered`]): CIMD when the
/// authorization server supports it and the deployment serves a document, and either the
/// config asks for a public client or the provider offers no DCR; else DCR when there is a
/// registration endpoint; else `None` (the person must supply the client by hand).
pub fn choose_client_source(
    mode: AuthMode,
    has_client_id: bool,
    cimd_supported: bool,
    cimd_available: bool,
    has_register_url: bool,
) -> Option<ClientSource> {
    if has_client_id {
        return Some(ClientSource::PreRegistered);
    }
    if !mode.is_authorization_code() {
        return None;
    }
    let public = mode == AuthMode::OauthAuthorizationCodePublicPkce;
    if cimd_supported && cimd_available && (public || !has_register_url) {
        Some(ClientSource::Cimd)
    } else if has_register_url {
        Some(ClientSource::Dcr)
    } else {
        None
    }
}

/// The client ID metadata document a deployment serves at `client_id` (the draft's
/// required members, discovery.md §7): a public client (`token_endpoint_auth_method: "none"`)
/// for the authorization code grant with refresh tokens, whose one redirect URI is the
/// deployment's callback.
pub fn client_metadata_document(client_id: &str, client_name: &str, redirect_uri: &str) -> Value {
    json!({
        "client_id": client_id,
        "client_name": client_name,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "application_type": application_type(redirect_uri),
    })
}

/// The shortest time between two re-registrations of one server's client after
/// `invalid_client` (one hour): a provider that refuses the fresh client too is reported, not
/// registered against in a loop.
pub const REREGISTER_AFTER_SECS: u64 = 3600;

/// Whether a token or refresh request answered `invalid_client` may register the client once
/// more (discovery.md §7: providers expire DCR clients). Only a dynamically registered client,
/// and only when the last re-registration (`None`: never) was at least
/// [`REREGISTER_AFTER_SECS`] ago, so a new client that the provider refuses as well never
/// starts a loop. The person consents again afterwards.
pub fn may_register_again(
    source: Option<ClientSource>,
    error: Option<&str>,
    last_reregistered_at: Option<u64>,
    now: u64,
) -> bool {
    source == Some(ClientSource::Dcr)
        && error == Some("invalid_client")
        && last_reregistered_at.is_none_or(|t| now >= t.saturating_add(REREGISTER_AFTER_SECS))
}

#[cfg(test)]
mod tests;
