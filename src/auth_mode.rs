//! The vocabulary shared by recommendation, configuration, registration and token requests:
//! the four auth modes and the client authentication methods at the token endpoint.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a server is authorized (`config.auth.type`, `recommended_auth_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    OauthAuthorizationCodePublicPkce,
    OauthAuthorizationCodeConfidentialPkce,
    OauthClientCredentials,
    Token,
}

impl AuthMode {
    pub const ALL: [AuthMode; 4] = [
        AuthMode::OauthAuthorizationCodePublicPkce,
        AuthMode::OauthAuthorizationCodeConfidentialPkce,
        AuthMode::OauthClientCredentials,
        AuthMode::Token,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::OauthAuthorizationCodePublicPkce => "oauth_authorization_code_public_pkce",
            AuthMode::OauthAuthorizationCodeConfidentialPkce => {
                "oauth_authorization_code_confidential_pkce"
            }
            AuthMode::OauthClientCredentials => "oauth_client_credentials",
            AuthMode::Token => "token",
        }
    }

    pub fn parse(s: &str) -> Option<AuthMode> {
        AuthMode::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// The two modes in which an end user grants consent in a browser.
    pub fn is_authorization_code(self) -> bool {
        matches!(
            self,
            AuthMode::OauthAuthorizationCodePublicPkce
                | AuthMode::OauthAuthorizationCodeConfidentialPkce
        )
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Client authentication at the token endpoint (RFC 7591 `token_endpoint_auth_method`), the
/// four this project can use. `private_key_jwt` (RFC 7523) is for client credentials only: it
/// is configured by hand, never registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    None,
    PrivateKeyJwt,
}

impl ClientAuthMethod {
    /// The methods a registration may ask for or accept (discovery.md §7), in trying order.
    pub const ALL: [ClientAuthMethod; 3] = [
        ClientAuthMethod::ClientSecretBasic,
        ClientAuthMethod::ClientSecretPost,
        ClientAuthMethod::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
            ClientAuthMethod::ClientSecretPost => "client_secret_post",
            ClientAuthMethod::None => "none",
            ClientAuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }

    /// One of the registrable methods ([`ClientAuthMethod::ALL`]); `private_key_jwt` is not.
    pub fn parse(s: &str) -> Option<ClientAuthMethod> {
        ClientAuthMethod::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Any method a config may name, `private_key_jwt` included.
    pub fn parse_configurable(s: &str) -> Option<ClientAuthMethod> {
        Self::parse(s).or((s == "private_key_jwt").then_some(ClientAuthMethod::PrivateKeyJwt))
    }

    /// Whether the method sends a client secret.
    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost
        )
    }
}

impl fmt::Display for ClientAuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
