//! The fields of a server config as data: which keys `config` and `config.auth` accept, of
//! what kind, for which auth types (`AUTH_FIELDS`), the character classes their values use,
//! and the typed [`AuthConfig`] built from the fields once the walker in `validate` has
//! checked them. Adding a field is a row here and a match arm there.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{AuthConfig, ClientCredentialsAuth, ConfidentialPkceAuth, PublicPkceAuth, TokenAuth};
use crate::auth_mode::{AuthMode, ClientAuthMethod};
use crate::secret::Secret;
use crate::token::assertion::SigningAlgorithm;

const TOKEN: AuthMode = AuthMode::Token;
pub(super) const CC: AuthMode = AuthMode::OauthClientCredentials;
const PUBLIC: AuthMode = AuthMode::OauthAuthorizationCodePublicPkce;
pub(super) const CONF: AuthMode = AuthMode::OauthAuthorizationCodeConfidentialPkce;
const OAUTH: &[AuthMode] = &[CC, PUBLIC, CONF];
const CODE: &[AuthMode] = &[PUBLIC, CONF];
const WITH_SECRET: &[AuthMode] = &[CC, CONF];

pub(super) const NAME_MAX: usize = 100;
pub(super) const CONFIG_FIELDS: [&str; 3] = ["endpoint", "headers", "auth"];
/// Config keys people use for the endpoint that are not `server_url` (`use_endpoint`).
pub(super) const ENDPOINT_LOOKALIKES: [&str; 6] = [
    "url",
    "uri",
    "mcp_url",
    "endpoint_url",
    "server",
    "base_url",
];
/// Headers the config may not set: credentials (they go in `auth`) and framing.
pub(super) const REFUSED_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
];

#[derive(Clone, Copy)]
pub(super) enum Kind {
    Text,
    Url,
    Scopes,
    Method,
    Flag,
    /// A private key: a PEM string, or a JWK as an object or as JSON text.
    Key,
    /// A JWS algorithm name (`signing_algorithm`).
    Algorithm,
}

pub(super) struct Field {
    pub(super) name: &'static str,
    pub(super) kind: Kind,
    pub(super) modes: &'static [AuthMode],
}

const fn field(name: &'static str, kind: Kind, modes: &'static [AuthMode]) -> Field {
    Field { name, kind, modes }
}

/// Every field `config.auth` may hold besides `type`, with the types that accept it.
pub(super) const AUTH_FIELDS: [Field; 13] = [
    field("auth_token", Kind::Text, &[TOKEN]),
    field("client_id", Kind::Text, OAUTH),
    field("client_secret", Kind::Text, WITH_SECRET),
    field("auth_url", Kind::Url, CODE),
    field("token_url", Kind::Url, OAUTH),
    field("register_url", Kind::Url, CODE),
    field("scopes", Kind::Scopes, OAUTH),
    field("resource", Kind::Url, OAUTH),
    field("token_endpoint_auth_method", Kind::Method, WITH_SECRET),
    field("allow_issuer_mismatch", Kind::Flag, OAUTH),
    field("allow_unadvertised_pkce", Kind::Flag, CODE),
    field("private_key", Kind::Key, &[CC]),
    field("signing_algorithm", Kind::Algorithm, &[CC]),
];

pub(super) fn types_list() -> String {
    AuthMode::ALL.map(AuthMode::as_str).join(", ")
}

/// What `config.auth` held, field by field, once each value was checked.
#[derive(Default)]
pub(super) struct Raw {
    pub(super) text: BTreeMap<&'static str, String>,
    pub(super) scopes: Vec<String>,
    pub(super) method: Option<ClientAuthMethod>,
    pub(super) flags: BTreeSet<&'static str>,
    pub(super) algorithm: Option<SigningAlgorithm>,
}

pub(super) fn auth_field(name: &str) -> Option<&'static Field> {
    AUTH_FIELDS.iter().find(|f| f.name == name)
}

pub(super) fn build(mode: AuthMode, mut raw: Raw) -> AuthConfig {
    let scopes = std::mem::take(&mut raw.scopes);
    let t = |k: &str| raw.text.get(k).cloned();
    let flag = |k: &str| raw.flags.contains(k);
    match mode {
        AuthMode::Token => AuthConfig::Token(TokenAuth {
            auth_token: Secret::new(t("auth_token").unwrap_or_default()),
        }),
        AuthMode::OauthClientCredentials => {
            let private_key = t("private_key").map(Secret::new);
            AuthConfig::OauthClientCredentials(ClientCredentialsAuth {
                client_id: t("client_id").unwrap_or_default(),
                client_secret: t("client_secret").map(Secret::new),
                token_url: t("token_url"),
                scopes,
                resource: t("resource"),
                token_endpoint_auth_method: match (raw.method, &private_key) {
                    (None, Some(_)) => Some(ClientAuthMethod::PrivateKeyJwt),
                    (m, _) => m,
                },
                signing_algorithm: private_key
                    .as_ref()
                    .map(|_| raw.algorithm.unwrap_or_default()),
                private_key,
                allow_issuer_mismatch: flag("allow_issuer_mismatch"),
            })
        }
        AuthMode::OauthAuthorizationCodePublicPkce => {
            AuthConfig::OauthAuthorizationCodePublicPkce(PublicPkceAuth {
                client_id: t("client_id"),
                auth_url: t("auth_url"),
                token_url: t("token_url"),
                register_url: t("register_url"),
                scopes,
                resource: t("resource"),
                allow_issuer_mismatch: flag("allow_issuer_mismatch"),
                allow_unadvertised_pkce: flag("allow_unadvertised_pkce"),
            })
        }
        AuthMode::OauthAuthorizationCodeConfidentialPkce => {
            AuthConfig::OauthAuthorizationCodeConfidentialPkce(ConfidentialPkceAuth {
                client_id: t("client_id"),
                client_secret: t("client_secret").map(Secret::new),
                auth_url: t("auth_url"),
                token_url: t("token_url"),
                register_url: t("register_url"),
                scopes,
                resource: t("resource"),
                token_endpoint_auth_method: raw.method,
                allow_issuer_mismatch: flag("allow_issuer_mismatch"),
                allow_unadvertised_pkce: flag("allow_unadvertised_pkce"),
            })
        }
    }
}

pub(super) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// RFC 9110 `tchar`.
pub(super) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 6749 `NQCHAR`.
pub(super) fn is_scope_char(c: char) -> bool {
    matches!(c, '\u{21}' | '\u{23}'..='\u{5B}' | '\u{5D}'..='\u{7E}')
}
