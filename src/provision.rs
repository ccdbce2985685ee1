//! Provisioning a server for the control plane (create and update), sans-I/O: validate the
//! config, discover the server, hydrate what the user left out, and register an OAuth client
//! by DCR when client credentials are omitted. The Worker stores the outcome; nothing here
//! stores anything, so a failure at any step leaves nothing half-written.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth_mode::{AuthMode, ClientAuthMethod};
use crate::config::{
    hydrate_server_config, require_hydrated, validate_hydrated_urls, validate_server_config,
    AuthConfig, ConfigError, PublicPkceAuth, ServerConfigBody,
};
use crate::discovery::{discover, AsEvidence, DiscoverOptions, DiscoveryResult};
use crate::error::Error;
use crate::recommend::effective_auth_methods;
use crate::registration::{register, RegistrationFailure, RegistrationRequest};
use crate::target::TargetPolicy;
use crate::transport::Transport;

/// What discovery learned that is not config (the server object's `provider`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    pub issuer: Option<String>,
    pub pkce_s256_supported: Option<bool>,
    pub authorization_response_iss_parameter_supported: bool,
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

impl Provider {
    pub fn from_discovery(d: &DiscoveryResult) -> Provider {
        Provider {
            issuer: d.issuer.clone(),
            pkce_s256_supported: d.pkce_s256_supported,
            authorization_response_iss_parameter_supported: d
                .authorization_response_iss_parameter_supported,
            token_endpoint_auth_methods_supported: d.token_endpoint_auth_methods_supported.clone(),
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
    /// After hydration a required endpoint is still unknown, or a URL discovery filled in
    /// fails the checks a typed URL passes (nothing was registered).
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
    let hydrated = hydrate_server_config(&body.config, &discovery);
    // Discovered URLs pass the typed URLs' checks before anything is sent to them (the
    // registration endpoint) or stored (a config that a later PATCH would refuse).
    validate_hydrated_urls(&body.config, &hydrated, options.policy)
        .map_err(|e| ProvisionError::NotHydrated(e, Box::new(discovery.clone())))?;
    body.config = hydrated;
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
    if needs_registration {
        register_client(&mut body, &discovery, transport, options).await?;
    }
    require_hydrated(&body)
        .map_err(|e| ProvisionError::NotHydrated(e, Box::new(discovery.clone())))?;
    let provider = Provider::from_discovery(&discovery);
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
        redirect_uri: options.callback_url.to_owned(),
        scopes,
    };
    let client = register(
        transport,
        register_url.as_deref(),
        auth.mode(),
        &discovery.token_endpoint_auth_methods_supported,
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
