//! Provisioning a server for the control plane (create and update): validate the config,
//! discover the server, hydrate what the user left out, and obtain an OAuth client when
//! client credentials are omitted, in the order of discovery.md §7 (pre-registered, then the
//! deployment's client ID metadata document, then DCR). The driver awaits a [`Transport`];
//! the Worker stores the outcome; nothing here stores anything, so a failure at any step
//! leaves nothing half-written.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth_mode::{AuthMode, ClientAuthMethod};
use crate::authorize::authorization_scopes;
use crate::config::ServerConfig;
use crate::config::{
    hydrate_server_config, require_hydrated, validate_server_config, AuthConfig, ConfigError,
    PublicPkceAuth, ServerConfigBody,
};
use crate::discovery::{discover, AsEvidence, DiscoverOptions, DiscoveryResult};
use crate::error::Error;
use crate::recommend::effective_auth_methods;
use crate::registration::{
    choose_client_source, register, ClientSource, RegistrationFailure, RegistrationRequest,
};
use crate::target::TargetPolicy;
use crate::transport::{HttpRequest, HttpResponse, SendFuture, Transport};

/// What discovery learned that is not config (the server object's `provider`), and where the
/// server's client came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    pub issuer: Option<String>,
    pub pkce_s256_supported: Option<bool>,
    pub authorization_response_iss_parameter_supported: bool,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// The AS lists `offline_access` (the authorization request asks for it).
    #[serde(default)]
    pub offline_access_supported: bool,
    /// How the client came to exist (`pre_registered`, `cimd`, `dcr`); `None` without OAuth
    /// code flow.
    #[serde(default)]
    pub client_source: Option<ClientSource>,
    /// The issuer the client belongs to (SEP-2352): a discovery naming another one obtains a
    /// new client.
    #[serde(default)]
    pub client_issuer: Option<String>,
    /// Unix seconds of the last re-registration after `invalid_client` (`None`: never).
    #[serde(default)]
    pub reregistered_at: Option<u64>,
}

impl Provider {
    pub fn from_discovery(d: &DiscoveryResult) -> Provider {
        Provider {
            issuer: d.issuer.clone(),
            pkce_s256_supported: d.pkce_s256_supported,
            authorization_response_iss_parameter_supported: d
                .authorization_response_iss_parameter_supported,
            token_endpoint_auth_methods_supported: d.token_endpoint_auth_methods_supported.clone(),
            offline_access_supported: d.offline_access_supported,
            ..Provider::default()
        }
    }
}

/// A provisioned server, ready to store.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub body: ServerConfigBody,
    /// `None` for `token` servers, which are not discovered.
    pub discovery: Option<DiscoveryResult>,
    pub provider: Provider,
}

/// Why provisioning failed; nothing was registered unless `Registration` says so.
#[derive(Debug)]
pub enum ProvisionError {
    /// The body breaks the config contract (every problem listed).
    Invalid(Vec<ConfigError>),
    /// Discovery rejected: `invalid_endpoint`, `blocked_target`, `unreachable`, `aborted`.
    Discovery(Error),
    /// `auth` is absent but the server requires authorization.
    AuthRequired(Box<DiscoveryResult>),
    /// Dynamic client registration failed (every try's error kept) or is unavailable.
    Registration(RegistrationFailure),
    /// After hydration a required endpoint is still unknown.
    NotHydrated(Vec<ConfigError>, Box<DiscoveryResult>),
    /// The config leaves endpoints or client registration to discovery, but discovery found
    /// no usable authorization server (its message says why: rejected, unreachable, ...).
    NoAuthorizationServer(Box<DiscoveryResult>),
}

pub struct ProvisionOptions<'a> {
    /// The policy for every URL in the config and every request made.
    pub policy: TargetPolicy,
    /// The consent callback URL (`PUBLIC_ORIGIN` + `/service/mcp/consent/callback`): the
    /// `redirect_uri` registered by DCR.
    pub callback_url: &'a str,
    /// The URL of the deployment's client ID metadata document (its CIMD `client_id`), when it
    /// serves one.
    pub cimd_url: Option<&'a str>,
    pub timeout_ms: u32,
}

/// Validates, discovers, hydrates and (when client credentials are omitted) registers.
pub async fn provision(
    input: &Value,
    transport: &dyn Transport,
    options: &ProvisionOptions<'_>,
) -> Result<Provisioned, ProvisionError> {
    let mut body =
        validate_server_config(input, options.policy).map_err(ProvisionError::Invalid)?;
    if matches!(body.config.auth, Some(AuthConfig::Token(_))) {
        return Ok(Provisioned {
            body,
            discovery: None,
            provider: Provider::default(),
        });
    }
    let allow_issuer_mismatch = body
        .config
        .auth
        .as_ref()
        .is_some_and(AuthConfig::allow_issuer_mismatch);
    let discover_options = DiscoverOptions {
        timeout_ms: options.timeout_ms,
        policy: options.policy,
        allow_issuer_mismatch,
        ..Default::default()
    };
    let discovery = discover(&body.config.endpoint, transport, &discover_options)
        .await
        .map_err(ProvisionError::Discovery)?;
    if body.config.auth.is_none() {
        if discovery.requires_auth {
            return Err(ProvisionError::AuthRequired(Box::new(discovery)));
        }
        let provider = Provider::from_discovery(&discovery);
        return Ok(Provisioned {
            body,
            discovery: Some(discovery),
            provider,
        });
    }

    if discovery.evidence.authorization_server != AsEvidence::Usable
        && leaves_endpoints_to_discovery(&body)
    {
        return Err(ProvisionError::NoAuthorizationServer(Box::new(discovery)));
    }
    body.config = hydrate_server_config(&body.config, &discovery);
    let advertised = effective_auth_methods(&discovery);
    let needs_registration = match &mut body.config.auth {
        Some(AuthConfig::OauthAuthorizationCodePublicPkce(a)) => a.client_id.is_none(),
        Some(AuthConfig::OauthAuthorizationCodeConfidentialPkce(a)) => {
            if a.client_id.is_some() && a.token_endpoint_auth_method.is_none() {
                // Hand-supplied credentials: authenticate the way the provider prefers.
                a.token_endpoint_auth_method = Some(preferred_secret_method(&advertised));
            }
            a.client_id.is_none()
        }
        Some(AuthConfig::OauthClientCredentials(a)) => {
            if a.token_endpoint_auth_method.is_none() {
                a.token_endpoint_auth_method = Some(preferred_secret_method(&advertised));
            }
            false
        }
        _ => false,
    };
    let mut provider = Provider::from_discovery(&discovery);
    if let Some(auth) = body
        .config
        .auth
        .as_ref()
        .filter(|a| a.mode().is_authorization_code())
    {
        let has_register_url = match auth {
            AuthConfig::OauthAuthorizationCodePublicPkce(a) => a.register_url.is_some(),
            AuthConfig::OauthAuthorizationCodeConfidentialPkce(a) => a.register_url.is_some(),
            _ => false,
        };
        let source = choose_client_source(
            auth.mode(),
            !needs_registration,
            discovery.client_id_metadata_document_supported,
            options.cimd_url.is_some(),
            has_register_url,
        );
        match (source, options.cimd_url) {
            (Some(ClientSource::Cimd), Some(url)) => use_cimd(&mut body, url),
            (Some(ClientSource::Dcr), _) => {
                register_client(&mut body, &discovery, transport, options).await?
            }
            (Some(_), _) => {}
            // Neither CIMD nor DCR: the error that says what to supply by hand.
            (None, _) => {
                return Err(ProvisionError::Registration(
                    RegistrationFailure::Unavailable,
                ))
            }
        }
        provider.client_source = source;
        provider.client_issuer = discovery.issuer.clone();
    }
    require_hydrated(&body)
        .map_err(|e| ProvisionError::NotHydrated(e, Box::new(discovery.clone())))?;
    Ok(Provisioned {
        body,
        discovery: Some(discovery),
        provider,
    })
}

/// Whether the config needs discovery to supply an endpoint or a registration endpoint.
fn leaves_endpoints_to_discovery(body: &ServerConfigBody) -> bool {
    match &body.config.auth {
        Some(AuthConfig::OauthClientCredentials(a)) => a.token_url.is_none(),
        Some(AuthConfig::OauthAuthorizationCodePublicPkce(a)) => {
            a.token_url.is_none()
                || a.auth_url.is_none()
                || (a.client_id.is_none() && a.register_url.is_none())
        }
        Some(AuthConfig::OauthAuthorizationCodeConfidentialPkce(a)) => {
            a.token_url.is_none()
                || a.auth_url.is_none()
                || (a.client_id.is_none() && a.register_url.is_none())
        }
        _ => false,
    }
}

/// The first secret-bearing method the provider advertises (`client_secret_basic` when it
/// advertises none: RFC 8414's default).
fn preferred_secret_method(advertised: &[String]) -> ClientAuthMethod {
    advertised
        .iter()
        .filter_map(|m| ClientAuthMethod::parse(m))
        .find(|m| m.uses_secret())
        .unwrap_or(ClientAuthMethod::ClientSecretBasic)
}

async fn register_client(
    body: &mut ServerConfigBody,
    discovery: &DiscoveryResult,
    transport: &dyn Transport,
    options: &ProvisionOptions<'_>,
) -> Result<(), ProvisionError> {
    register_with(
        body,
        &discovery.token_endpoint_auth_methods_supported,
        discovery.offline_access_supported,
        transport,
        options.callback_url,
    )
    .await
}

/// Registers the client of a stored config once more (discovery.md §7: after
/// `invalid_client` for a dynamically registered client): the old client id and secret are
/// dropped and DCR runs with what the provider advertised at provisioning. The caller checks
/// [`crate::registration::may_register_again`] first and asks the person to consent again.
pub async fn register_again(
    body: &mut ServerConfigBody,
    provider: &Provider,
    transport: &dyn Transport,
    callback_url: &str,
) -> Result<(), ProvisionError> {
    match &mut body.config.auth {
        Some(AuthConfig::OauthAuthorizationCodePublicPkce(a)) => a.client_id = None,
        Some(AuthConfig::OauthAuthorizationCodeConfidentialPkce(a)) => {
            a.client_id = None;
            a.client_secret = None;
            a.token_endpoint_auth_method = None;
        }
        other => return Err(ProvisionError::Invalid(vec![unexpected(other.clone())])),
    }
    register_with(
        body,
        &provider.token_endpoint_auth_methods_supported,
        provider.offline_access_supported,
        transport,
        callback_url,
    )
    .await
}

async fn register_with(
    body: &mut ServerConfigBody,
    advertised: &[String],
    offline_access_supported: bool,
    transport: &dyn Transport,
    callback_url: &str,
) -> Result<(), ProvisionError> {
    let Some(auth) = body.config.auth.as_ref() else {
        return Ok(());
    };
    let (register_url, scopes) = match auth {
        AuthConfig::OauthAuthorizationCodePublicPkce(a) => {
            (a.register_url.clone(), a.scopes.clone())
        }
        AuthConfig::OauthAuthorizationCodeConfidentialPkce(a) => {
            (a.register_url.clone(), a.scopes.clone())
        }
        _ => return Ok(()),
    };
    let request = RegistrationRequest {
        client_name: body.name.clone(),
        redirect_uri: callback_url.to_owned(),
        scopes: authorization_scopes(None, &scopes, offline_access_supported),
    };
    let client = register(
        transport,
        register_url.as_deref(),
        auth.mode(),
        advertised,
        &request,
    )
    .await
    .map_err(ProvisionError::Registration)?;
    let new_auth = match body.config.auth.take() {
        Some(AuthConfig::OauthAuthorizationCodePublicPkce(mut a)) => {
            a.client_id = Some(client.client_id);
            AuthConfig::OauthAuthorizationCodePublicPkce(a)
        }
        Some(AuthConfig::OauthAuthorizationCodeConfidentialPkce(a))
            if client.auth_mode() == AuthMode::OauthAuthorizationCodePublicPkce =>
        {
            // The provider would not issue a secret: the server becomes a public client.
            AuthConfig::OauthAuthorizationCodePublicPkce(PublicPkceAuth {
                client_id: Some(client.client_id),
                auth_url: a.auth_url,
                token_url: a.token_url,
                register_url: a.register_url,
                scopes: a.scopes,
                resource: a.resource,
                allow_issuer_mismatch: a.allow_issuer_mismatch,
                allow_unadvertised_pkce: a.allow_unadvertised_pkce,
            })
        }
        Some(AuthConfig::OauthAuthorizationCodeConfidentialPkce(mut a)) => {
            a.client_id = Some(client.client_id);
            a.client_secret = client.client_secret;
            a.token_endpoint_auth_method = Some(client.token_endpoint_auth_method);
            AuthConfig::OauthAuthorizationCodeConfidentialPkce(a)
        }
        other => return Err(ProvisionError::Invalid(vec![unexpected(other)])),
    };
    body.config.auth = Some(new_auth);
    Ok(())
}

/// The client is the deployment's client ID metadata document: a public client whose id is
/// the document's URL (a confidential config becomes public: CIMD clients have no secret).
fn use_cimd(body: &mut ServerConfigBody, cimd_url: &str) {
    let auth = match body.config.auth.take() {
        Some(AuthConfig::OauthAuthorizationCodePublicPkce(mut a)) => {
            a.client_id = Some(cimd_url.to_owned());
            AuthConfig::OauthAuthorizationCodePublicPkce(a)
        }
        Some(AuthConfig::OauthAuthorizationCodeConfidentialPkce(a)) => {
            AuthConfig::OauthAuthorizationCodePublicPkce(PublicPkceAuth {
                client_id: Some(cimd_url.to_owned()),
                auth_url: a.auth_url,
                token_url: a.token_url,
                register_url: a.register_url,
                scopes: a.scopes,
                resource: a.resource,
                allow_issuer_mismatch: a.allow_issuer_mismatch,
                allow_unadvertised_pkce: a.allow_unadvertised_pkce,
            })
        }
        Some(other) => other,
        None => return,
    };
    body.config.auth = Some(auth);
}

fn unexpected(auth: Option<AuthConfig>) -> ConfigError {
    ConfigError::new(
        "config.auth.type",
        crate::config::ConfigErrorCode::InvalidValue,
        format!(
            "{} servers are not registered by DCR",
            auth.map(|a| a.mode().as_str()).unwrap_or("unauthenticated")
        ),
    )
}

/// A [`Transport`] that answers the discovery probe of `endpoint` (the `initialize` POST and
/// the legacy GET) with the challenge an agent runtime received from the MCP server, and sends
/// every other request on (discovery.md §9: discovery runs from that challenge, for servers
/// that answer an anonymous `initialize` and challenge only later calls).
pub struct ChallengeReplay<'a> {
    pub inner: &'a dyn Transport,
    pub endpoint: String,
    pub status: u16,
    pub www_authenticate: Vec<String>,
}

impl Transport for ChallengeReplay<'_> {
    fn send(&self, request: HttpRequest) -> SendFuture<'_> {
        let same = url::Url::parse(&request.url).ok() == url::Url::parse(&self.endpoint).ok();
        if !same {
            return self.inner.send(request);
        }
        let mut resp = HttpResponse::new(self.status);
        resp.headers = self
            .www_authenticate
            .iter()
            .map(|v| ("www-authenticate".to_owned(), v.clone()))
            .collect();
        Box::pin(async move { Ok(resp) })
    }

    fn now_ms(&self) -> f64 {
        self.inner.now_ms()
    }
}

/// Provisions a server that was saved as needing no auth (or whose authorization server
/// changed) from a runtime challenge: discovery runs from the challenge, and the recommended
/// authorization code mode becomes its `auth` (hydrated, its client obtained by §7's order).
/// `config` is the stored config (its `auth` is replaced). Any other recommendation is
/// [`ProvisionError::AuthRequired`] with the discovery result (a person must configure it).
pub async fn provision_from_challenge(
    name: &str,
    config: &ServerConfig,
    status: u16,
    www_authenticate: &[String],
    transport: &dyn Transport,
    options: &ProvisionOptions<'_>,
) -> Result<Provisioned, ProvisionError> {
    let replay = ChallengeReplay {
        inner: transport,
        endpoint: config.endpoint.clone(),
        status,
        www_authenticate: www_authenticate.to_vec(),
    };
    let discover_options = DiscoverOptions {
        timeout_ms: options.timeout_ms,
        policy: options.policy,
        ..Default::default()
    };
    let discovery = discover(&config.endpoint, &replay, &discover_options)
        .await
        .map_err(ProvisionError::Discovery)?;
    let mode = discovery
        .recommended_auth_mode
        .filter(|m| m.is_authorization_code());
    let Some(mode) = mode.filter(|_| discovery.requires_auth) else {
        return Err(ProvisionError::AuthRequired(Box::new(discovery)));
    };
    let mut config = serde_json::to_value(ServerConfig {
        auth: None,
        ..config.clone()
    })
    .unwrap_or_default();
    config["auth"] = serde_json::json!({ "type": mode.as_str() });
    let input = serde_json::json!({ "name": name, "config": config });
    provision(&input, &replay, options).await
}
