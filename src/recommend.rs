//! Auth-mode recommendation (discovery.md §6): which of the four modes to configure, and one
//! sentence a person can act on.

use serde::Serialize;

use crate::auth_mode::AuthMode;
use crate::discovery_result::{AsEvidence, DiscoveryResult, PrmEvidence};
use crate::warning::{Warning, WarningCode};

/// `{mode, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recommendation {
    pub mode: Option<AuthMode>,
    pub message: String,
}

/// A recommendation with the warnings it implies (`unsupported_client_auth`,
/// `pkce_not_advertised`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecommendationWithWarnings {
    pub mode: Option<AuthMode>,
    pub message: String,
    pub warnings: Vec<Warning>,
}

/// Applies §6 to a DiscoveryResult (possibly edited by a person). On an unedited result it
/// returns exactly the result's `recommended_auth_mode` and `message`.
pub fn recommend(result: &DiscoveryResult) -> Recommendation {
    let r = recommend_with_warnings(result);
    Recommendation {
        mode: r.mode,
        message: r.message,
    }
}

/// The token endpoint auth methods in effect: as advertised, or RFC 8414's default
/// `client_secret_basic` when absent or empty.
pub fn effective_auth_methods(result: &DiscoveryResult) -> Vec<String> {
    if result.token_endpoint_auth_methods_supported.is_empty() {
        vec!["client_secret_basic".to_owned()]
    } else {
        result.token_endpoint_auth_methods_supported.clone()
    }
}

pub fn recommend_with_warnings(r: &DiscoveryResult) -> RecommendationWithWarnings {
    let done = |mode: Option<AuthMode>, message: String| RecommendationWithWarnings {
        mode,
        message,
        warnings: Vec::new(),
    };

    // 1. No auth.
    if !r.requires_auth {
        let inconclusive = r
            .warnings
            .iter()
            .find(|w| w.code == WarningCode::Inconclusive);
        let message = match inconclusive {
            Some(w) => format!(
                "No authorization could be detected: the endpoint answered{} without a challenge and publishes no protected resource metadata; check that the URL is the MCP endpoint and that the server is healthy.",
                w.status.map(|s| format!(" HTTP {s}")).unwrap_or_default()
            ),
            None => "The server answered initialize without credentials: no authorization is needed.".to_owned(),
        };
        return done(None, message);
    }

    let issuer = r
        .issuer
        .as_deref()
        .or(r.authorization_servers.first().map(String::as_str))
        .unwrap_or("the authorization server");

    // 2. No usable authorization server metadata.
    if r.auth_url.is_none() && r.token_url.is_none() {
        let (prm, asv) = (r.evidence.prm, r.evidence.authorization_server);
        if prm == PrmEvidence::None && asv == AsEvidence::None {
            return done(
                Some(AuthMode::Token),
                "The server requires credentials but publishes no OAuth metadata: configure auth type \"token\" with the API key or token its provider issues.".to_owned(),
            );
        }
        let message = match asv {
            AsEvidence::Rejected => format!(
                "The metadata of {issuer} was rejected (its issuer does not match, or it lists no endpoints): ask the provider to fix it, set allow_issuer_mismatch if you trust it, or configure auth_url and token_url by hand."
            ),
            AsEvidence::Unreachable => format!(
                "The metadata of {issuer} could not be fetched (network error, timeout or missing CORS): retry, discover from the server side, or configure auth_url and token_url by hand."
            ),
            _ if prm == PrmEvidence::Unusable => "The protected resource metadata found is unusable (invalid, or for another resource) and no authorization server was found: ask the provider to fix it, or configure auth by hand.".to_owned(),
            _ if prm == PrmEvidence::Usable => format!(
                "The protected resource metadata names {issuer}, but no authorization server metadata was found there: configure auth_url and token_url by hand."
            ),
            _ => "No usable authorization server metadata was found: configure auth by hand.".to_owned(),
        };
        return done(None, message);
    }

    let has_grant = |g: &str| r.grant_types_supported.iter().any(|x| x == g);
    let client_credentials_message = format!(
        "Use oauth_client_credentials: {issuer} issues tokens to the client itself; supply client_id and client_secret."
    );
    // 3. Client credentials only.
    if has_grant("client_credentials") && !has_grant("authorization_code") {
        return done(
            Some(AuthMode::OauthClientCredentials),
            client_credentials_message,
        );
    }
    // 4. No authorization endpoint.
    if r.auth_url.is_none() {
        return done(
            Some(AuthMode::OauthClientCredentials),
            client_credentials_message,
        );
    }

    let methods = effective_auth_methods(r);
    let has_method = |m: &str| methods.iter().any(|x| x == m);
    let mode = if has_method("client_secret_basic") || has_method("client_secret_post") {
        AuthMode::OauthAuthorizationCodeConfidentialPkce
    } else if has_method("none") {
        AuthMode::OauthAuthorizationCodePublicPkce
    } else {
        let message = format!(
            "{issuer} accepts only client authentication methods this project cannot use ({}): no mode can be recommended.",
            methods.join(", ")
        );
        return RecommendationWithWarnings {
            mode: None,
            warnings: vec![Warning::new(
                WarningCode::UnsupportedClientAuth,
                message.clone(),
            )],
            message,
        };
    };

    // How the client comes to exist (discovery.md §7): CIMD for a public client, or for a
    // confidential one when there is no DCR; else DCR; else by hand.
    let public = mode == AuthMode::OauthAuthorizationCodePublicPkce;
    let cimd = r.client_id_metadata_document_supported;
    let client = if cimd && (public || r.register_url.is_none()) {
        "the client is identified by its client ID metadata document (CIMD)"
    } else if r.register_url.is_some() {
        "the client is registered automatically (dynamic client registration)"
    } else if public {
        "it offers neither CIMD nor dynamic registration: supply the client_id registered with the provider"
    } else {
        "it offers neither CIMD nor dynamic registration: supply the client_id and client_secret registered with the provider"
    };
    let mut message = format!("Use {mode} with {issuer}: {client}.");
    let mut warnings = Vec::new();
    if r.pkce_s256_supported == Some(false) {
        message.pop();
        message.push_str(
            "; PKCE S256 is not advertised, so connecting needs allow_unadvertised_pkce.",
        );
        warnings.push(Warning::new(
            WarningCode::PkceNotAdvertised,
            format!("{issuer} does not advertise PKCE S256 (code_challenge_methods_supported): connecting is refused unless the server config sets allow_unadvertised_pkce."),
        ));
    }
    RecommendationWithWarnings {
        mode: Some(mode),
        message,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery_result::Evidence;

    fn oauth(methods: &[&str], register: bool, cimd: bool) -> DiscoveryResult {
        DiscoveryResult {
            requires_auth: true,
            auth_url: Some("https://as.example/authorize".into()),
            token_url: Some("https://as.example/token".into()),
            register_url: register.then(|| "https://as.example/register".into()),
            issuer: Some("https://as.example".into()),
            pkce_s256_supported: Some(true),
            token_endpoint_auth_methods_supported: methods.iter().map(|m| m.to_string()).collect(),
            client_id_metadata_document_supported: cimd,
            evidence: Evidence {
                prm: PrmEvidence::Usable,
                authorization_server: AsEvidence::Usable,
            },
            ..Default::default()
        }
    }

    /// discovery.md §6: the message names how the client comes to exist (§7 order).
    #[test]
    fn the_message_names_how_the_client_comes_to_exist() {
        let cases = [
            // (methods, DCR, CIMD, expected words)
            (
                &["none"][..],
                true,
                true,
                "client ID metadata document (CIMD)",
            ),
            (
                &["none"][..],
                false,
                true,
                "client ID metadata document (CIMD)",
            ),
            (
                &["client_secret_basic"][..],
                false,
                true,
                "client ID metadata document (CIMD)",
            ),
            (
                &["client_secret_basic"][..],
                true,
                true,
                "dynamic client registration",
            ),
            (&["none"][..], true, false, "dynamic client registration"),
            (
                &["none"][..],
                false,
                false,
                "supply the client_id registered",
            ),
            (
                &["client_secret_post"][..],
                false,
                false,
                "supply the client_id and client_secret",
            ),
        ];
        for (methods, dcr, cimd, words) in cases {
            let r = recommend(&oauth(methods, dcr, cimd));
            assert!(
                r.message.contains(words),
                "{methods:?} dcr={dcr} cimd={cimd}: {}",
                r.message
            );
        }
    }
}
