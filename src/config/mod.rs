//! The server-config contract (api.md, "The server config contract"): the typed config, the
//! validation of a create body that reports every problem at once ([`validate_server_config`]),
//! hydration from a [`DiscoveryResult`] ([`hydrate_server_config`]), the check that a
//! hydrated config is usable ([`require_hydrated`]) and the redacted view that read routes
//! return ([`ServerConfig::redacted`]).
//!
//! Serialising a validated value gives the normalised JSON body: snake_case, `type` inside
//! `auth`, optional fields omitted when absent, `scopes` omitted when empty, and the boolean
//! flags omitted when `false` (written only as `true`). Header names are lower-case.
//! Serialisation writes secrets in clear (see [`Secret`]): it is for the owner of the config
//! (storage, the create call's own answer); anything else uses [`ServerConfig::redacted`].
//!
//! `Deserialize` is lenient (unknown fields ignored, no URL checks): it is for reading back a
//! config this module produced. Untrusted input goes through [`validate_server_config`].

mod fields;
mod suggest;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth_mode::{AuthMode, ClientAuthMethod};
use crate::discovery_result::DiscoveryResult;
use crate::secret::Secret;
use crate::token::assertion::SigningAlgorithm;
use crate::token::ClientAuth;

pub use validate::{validate_hydrated_urls, validate_server_config};

/// A create body: `{name, config}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerConfigBody {
    pub name: String,
    pub config: ServerConfig,
}

/// `config`: where the MCP server is and how to authorize to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerConfig {
    pub endpoint: String,
    /// Sent on every MCP call. Names are lower-case; values may carry credentials
    /// (`x-api-key`), hence [`Secret`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Secret>,
    /// Absent: the server needs no authorization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
}

/// `config.auth`, tagged by `type`: one variant per [`AuthMode`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuthConfig {
    Token(TokenAuth),
    OauthClientCredentials(ClientCredentialsAuth),
    OauthAuthorizationCodePublicPkce(PublicPkceAuth),
    OauthAuthorizationCodeConfidentialPkce(ConfidentialPkceAuth),
}

/// `type: token`: a static bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenAuth {
    pub auth_token: Secret,
}

/// `type: oauth_client_credentials`. The client authenticates with `client_secret`, or with
/// a JWT signed by `private_key` (`token_endpoint_auth_method: "private_key_jwt"`, RFC 7523).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCredentialsAuth {
    pub client_id: String,
    /// Absent only with `private_key_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// A PKCS#8 PEM or an EC P-256 JWK (as JSON text), for `private_key_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<Secret>,
    /// The JWS algorithm of the client assertion (default ES256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_algorithm: Option<SigningAlgorithm>,
    /// Required after hydration ([`require_hydrated`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Never `none` (a validated config refuses it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<ClientAuthMethod>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_issuer_mismatch: bool,
}

/// `type: oauth_authorization_code_public_pkce`. No `client_id`: register by DCR.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PublicPkceAuth {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_issuer_mismatch: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_unadvertised_pkce: bool,
}

/// `type: oauth_authorization_code_confidential_pkce`. `client_id` and `client_secret` are
/// both given (manual) or both absent (register by DCR).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConfidentialPkceAuth {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Set by DCR or by hand; never `none` (a client without a secret is public).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<ClientAuthMethod>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_issuer_mismatch: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_unadvertised_pkce: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What an OAuth config uses at the token endpoint.
#[derive(Debug, Clone)]
pub struct TokenClient {
    pub token_url: Option<String>,
    /// `None` until the client is registered (or when a confidential config lacks its secret).
    pub client: Option<ClientAuth>,
    pub resource: Option<String>,
    pub scopes: Vec<String>,
    /// For `private_key_jwt`: the configured key and algorithm (the caller signs a fresh
    /// assertion into `client` for each request).
    pub private_key: Option<(Secret, SigningAlgorithm)>,
}

impl AuthConfig {
    /// The token endpoint, client authentication, resource and scopes of an OAuth config;
    /// `None` for `token`. A secret method defaults to `client_secret_basic` (RFC 8414).
    pub fn token_client(&self) -> Option<TokenClient> {
        let secret_method =
            |m: Option<ClientAuthMethod>| m.unwrap_or(ClientAuthMethod::ClientSecretBasic);
        Some(match self {
            AuthConfig::Token(_) => return None,
            AuthConfig::OauthClientCredentials(a) => {
                let method = match (a.token_endpoint_auth_method, &a.private_key) {
                    (Some(m), _) => m,
                    (None, Some(_)) => ClientAuthMethod::PrivateKeyJwt,
                    (None, None) => ClientAuthMethod::ClientSecretBasic,
                };
                TokenClient {
                    token_url: a.token_url.clone(),
                    client: Some(ClientAuth {
                        client_id: a.client_id.clone(),
                        client_secret: a.client_secret.clone(),
                        method,
                        assertion: None,
                    }),
                    resource: a.resource.clone(),
                    scopes: a.scopes.clone(),
                    private_key: a
                        .private_key
                        .clone()
                        .map(|k| (k, a.signing_algorithm.unwrap_or_default())),
                }
            }
            AuthConfig::OauthAuthorizationCodePublicPkce(a) => TokenClient {
                token_url: a.token_url.clone(),
                client: a.client_id.clone().map(ClientAuth::public),
                resource: a.resource.clone(),
                scopes: a.scopes.clone(),
                private_key: None,
            },
            AuthConfig::OauthAuthorizationCodeConfidentialPkce(a) => TokenClient {
                token_url: a.token_url.clone(),
                client: a
                    .client_id
                    .clone()
                    .zip(a.client_secret.clone())
                    .map(|(id, secret)| {
                        ClientAuth::confidential(
                            id,
                            secret,
                            secret_method(a.token_endpoint_auth_method),
                        )
                    }),
                resource: a.resource.clone(),
                scopes: a.scopes.clone(),
                private_key: None,
            },
        })
    }

    pub fn mode(&self) -> AuthMode {
        match self {
            AuthConfig::Token(_) => AuthMode::Token,
            AuthConfig::OauthClientCredentials(_) => AuthMode::OauthClientCredentials,
            AuthConfig::OauthAuthorizationCodePublicPkce(_) => {
                AuthMode::OauthAuthorizationCodePublicPkce
            }
            AuthConfig::OauthAuthorizationCodeConfidentialPkce(_) => {
                AuthMode::OauthAuthorizationCodeConfidentialPkce
            }
        }
    }

    /// `allow_issuer_mismatch` (discovery.md §4); `false` for `token`.
    pub fn allow_issuer_mismatch(&self) -> bool {
        match self {
            AuthConfig::Token(_) => false,
            AuthConfig::OauthClientCredentials(a) => a.allow_issuer_mismatch,
            AuthConfig::OauthAuthorizationCodePublicPkce(a) => a.allow_issuer_mismatch,
            AuthConfig::OauthAuthorizationCodeConfidentialPkce(a) => a.allow_issuer_mismatch,
        }
    }

    /// `allow_unadvertised_pkce` (discovery.md §4); `false` outside the code modes.
    pub fn allow_unadvertised_pkce(&self) -> bool {
        match self {
            AuthConfig::OauthAuthorizationCodePublicPkce(a) => a.allow_unadvertised_pkce,
            AuthConfig::OauthAuthorizationCodeConfidentialPkce(a) => a.allow_unadvertised_pkce,
            _ => false,
        }
    }
}

impl ServerConfig {
    /// The config for read routes: no secret and no header value. In `auth`, `client_secret`
    /// becomes `has_client_secret: true` and `auth_token` becomes `has_auth_token: true`
    /// (the flags appear only when the secret exists). `headers` (whose values may be
    /// credentials) becomes `header_names`: the sorted names, values kept out.
    pub fn redacted(&self) -> Value {
        let mut out = Map::new();
        out.insert("endpoint".into(), Value::String(self.endpoint.clone()));
        if !self.headers.is_empty() {
            let names = self.headers.keys().cloned().map(Value::String).collect();
            out.insert("header_names".into(), Value::Array(names));
        }
        if let Some(auth) = &self.auth {
            let mut a = match serde_json::to_value(auth) {
                Ok(Value::Object(map)) => map,
                _ => Map::new(),
            };
            for (secret, flag) in [
                ("client_secret", "has_client_secret"),
                ("auth_token", "has_auth_token"),
                ("private_key", "has_private_key"),
            ] {
                if a.remove(secret).is_some() {
                    a.insert(flag.into(), Value::Bool(true));
                }
            }
            out.insert("auth".into(), Value::Object(a));
        }
        Value::Object(out)
    }
}

/// Fills what the user left out from a discovery result: `token_url`, `resource` and `scopes`
/// for the OAuth types, plus `auth_url` and `register_url` for the two code modes. A value the
/// user gave is never replaced; `scopes` are filled only when the user gave none. `token` and
/// no auth come back unchanged.
pub fn hydrate_server_config(config: &ServerConfig, discovery: &DiscoveryResult) -> ServerConfig {
    fn fill(slot: &mut Option<String>, found: &Option<String>) {
        if slot.is_none() {
            slot.clone_from(found);
        }
    }
    fn fill_scopes(slot: &mut Vec<String>, found: &[String]) {
        if slot.is_empty() {
            for s in found {
                if !s.trim().is_empty() && !slot.contains(s) {
                    slot.push(s.clone());
                }
            }
        }
    }
    let d = discovery;
    let mut out = config.clone();
    match &mut out.auth {
        Some(AuthConfig::OauthClientCredentials(a)) => {
            fill(&mut a.token_url, &d.token_url);
            fill(&mut a.resource, &d.resource);
            fill_scopes(&mut a.scopes, &d.scopes);
        }
        Some(AuthConfig::OauthAuthorizationCodePublicPkce(a)) => {
            fill(&mut a.auth_url, &d.auth_url);
            fill(&mut a.token_url, &d.token_url);
            fill(&mut a.register_url, &d.register_url);
            fill(&mut a.resource, &d.resource);
            fill_scopes(&mut a.scopes, &d.scopes);
        }
        Some(AuthConfig::OauthAuthorizationCodeConfidentialPkce(a)) => {
            fill(&mut a.auth_url, &d.auth_url);
            fill(&mut a.token_url, &d.token_url);
            fill(&mut a.register_url, &d.register_url);
            fill(&mut a.resource, &d.resource);
            fill_scopes(&mut a.scopes, &d.scopes);
        }
        Some(AuthConfig::Token(_)) | None => {}
    }
    out
}

/// What must be known before a (hydrated) config can be used: `token_url` for client
/// credentials, `auth_url` and `token_url` for the code modes. Errors are `required`.
pub fn require_hydrated(body: &ServerConfigBody) -> Result<(), Vec<ConfigError>> {
    let (auth_url, token_url) = match &body.config.auth {
        Some(AuthConfig::OauthClientCredentials(a)) => (None, &a.token_url),
        Some(AuthConfig::OauthAuthorizationCodePublicPkce(a)) => (Some(&a.auth_url), &a.token_url),
        Some(AuthConfig::OauthAuthorizationCodeConfidentialPkce(a)) => {
            (Some(&a.auth_url), &a.token_url)
        }
        Some(AuthConfig::Token(_)) | None => return Ok(()),
    };
    let mut errors = Vec::new();
    for (field, value, what) in [
        ("auth_url", auth_url, "authorization endpoint"),
        ("token_url", Some(token_url), "token endpoint"),
    ] {
        if let Some(None) = value {
            errors.push(ConfigError::new(
                format!("config.auth.{field}"),
                ConfigErrorCode::Required,
                format!(
                    "config.auth.{field} is required and discovery found no {what}: \
                     set config.auth.{field} to the provider's https:// {what} URL"
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// One validation problem: `{path, code, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigError {
    /// Dotted, with `[n]` for array items (`config.auth.scopes[1]`); `""` for the body itself.
    pub path: String,
    pub code: ConfigErrorCode,
    /// Names the fix.
    pub message: String,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, code: ConfigErrorCode, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.into(),
            code,
            message: message.into(),
        }
    }
}

/// Stable validation codes (api.md). Their `snake_case` spelling is public API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigErrorCode {
    UseEndpoint,
    AuthNotNested,
    UnknownAuthType,
    Required,
    UnknownField,
    InvalidType,
    InvalidValue,
    InvalidUrl,
    InsecureUrl,
}

impl ConfigErrorCode {
    pub const ALL: [ConfigErrorCode; 9] = [
        ConfigErrorCode::UseEndpoint,
        ConfigErrorCode::AuthNotNested,
        ConfigErrorCode::UnknownAuthType,
        ConfigErrorCode::Required,
        ConfigErrorCode::UnknownField,
        ConfigErrorCode::InvalidType,
        ConfigErrorCode::InvalidValue,
        ConfigErrorCode::InvalidUrl,
        ConfigErrorCode::InsecureUrl,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConfigErrorCode::UseEndpoint => "use_endpoint",
            ConfigErrorCode::AuthNotNested => "auth_not_nested",
            ConfigErrorCode::UnknownAuthType => "unknown_auth_type",
            ConfigErrorCode::Required => "required",
            ConfigErrorCode::UnknownField => "unknown_field",
            ConfigErrorCode::InvalidType => "invalid_type",
            ConfigErrorCode::InvalidValue => "invalid_value",
            ConfigErrorCode::InvalidUrl => "invalid_url",
            ConfigErrorCode::InsecureUrl => "insecure_url",
        }
    }
}

impl fmt::Display for ConfigErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.path, self.code, self.message)
    }
}
