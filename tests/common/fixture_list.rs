//! The fixture files, listed for the wasm tests (which cannot read directories at run time).
//! `tests/discovery_fixtures.rs` checks natively that these lists name every file there is.

#![allow(dead_code)]

macro_rules! files {
    ($dir:literal: $($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/", $name, ".json")))),*]
    };
}

pub const SHARED_DISCOVERY: &[(&str, &str)] = files!("../shared/fixtures/discovery":
    "api-key-bare-bearer",
    "deepwiki-no-auth",
    "entra-tenant-oidc-only-no-pkce-advertised",
    "gateway-reserves-idp-metadata-issuer-mismatch",
    "github-copilot-trailing-slash-default-auth-method",
    "google-as-cors-failure-then-openid-configuration",
    "insufficient-scope-403-keycloak-rfc8414",
    "legacy-sse-405-get-retry-own-as",
    "linear-prm-via-challenge",
    "multi-challenge-lowercase-bearer-client-credentials",
    "prm-candidate-chain-relative-html-oversize",
    "prm-metadata-url-entry-token-only-as",
    "probe-network-failure-unreachable",
    "sentry-duplicate-resource-metadata",
    "stripe-public-client-path-issuer",
    "upstream-502-inconclusive",
);

pub const OWN_DISCOVERY: &[(&str, &str)] = files!("tests/fixtures/discovery":
    "as-unreachable-and-timeouts",
    "challenge-on-success-ignored",
    "issuer-mismatch-allowed-by-operator",
    "legacy-authorize-refused-api-key",
    "legacy-default-endpoints",
    "legacy-openid-configuration-other-issuer",
    "legacy-origin-metadata-other-issuer",
    "metadata-default-root-prm-never-early",
    "not-found-after-both-probes",
    "private-key-jwt-only-unsupported",
    "prm-thousands-of-authorization-servers",
    "redirect-is-final-status",
);

pub const SHARED_CONFIG: &[(&str, &str)] = files!("../shared/fixtures/config":
    "auth-fields-not-nested",
    "client-credentials-missing-secret",
    "confidential-id-without-secret",
    "http-endpoint-refused",
    "http-loopback-allowed",
    "missing-name",
    "public-pkce-dcr-minimal",
    "scopes-wrong-type",
    "server-url-instead-of-endpoint",
    "token-valid",
    "typo-field-and-missing-endpoint",
    "unknown-auth-type",
);

pub const OWN_CONFIG: &[(&str, &str)] = files!("tests/fixtures/config":
    "authorization-header-refused",
    "client-credentials-method-none",
    "confidential-secret-without-id",
    "every-problem-at-once",
    "field-of-another-auth-type",
    "full-client-credentials-ok",
    "name-100-multibyte-ok",
    "name-too-long",
    "private-key-jwt-bad-key",
    "private-key-jwt-ok",
    "private-key-jwt-problems",
    "private-target-server-policy",
    "unknown-field-inside-auth",
);
