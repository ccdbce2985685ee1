//! Unit tests of the server-config contract, and the helpers they share. `validate`: the
//! validation of create bodies; `hydrate_redact`: serialisation, redaction and hydration.

use serde_json::{json, Value};

use super::*;
use crate::target::TargetPolicy;

mod hydrate_redact;
mod validate;

const SECRETS: [&str; 4] = [
    "sk-live-123",
    "cs-secret-456",
    "conf-secret-789",
    "hdr-key-000",
];

fn ok(input: Value) -> ServerConfigBody {
    match validate_server_config(&input, TargetPolicy::CLIENT) {
        Ok(body) => body,
        Err(errors) => panic!("expected ok, got {errors:#?}"),
    }
}

fn errs_with(input: Value, policy: TargetPolicy) -> Vec<ConfigError> {
    match validate_server_config(&input, policy) {
        Ok(body) => panic!("expected errors, got {body:#?}"),
        Err(errors) => {
            assert!(!errors.is_empty());
            errors
        }
    }
}

fn errs(input: Value) -> Vec<ConfigError> {
    errs_with(input, TargetPolicy::CLIENT)
}

fn has(errors: &[ConfigError], path: &str, code: ConfigErrorCode) -> bool {
    errors.iter().any(|e| e.path == path && e.code == code)
}

#[track_caller]
fn assert_has(errors: &[ConfigError], path: &str, code: ConfigErrorCode) {
    assert!(
        has(errors, path, code),
        "no {code} at {path:?} in {errors:#?}"
    );
}

fn body(config: Value) -> Value {
    json!({"name": "crm-mcp", "config": config})
}

fn with_auth(auth: Value) -> Value {
    body(json!({"endpoint": "https://mcp.example.com/mcp", "auth": auth}))
}

/// One config of each auth type, every secret field filled, plus a header.
fn all_kinds() -> Vec<ServerConfigBody> {
    let auths = [
        json!({"type": "token", "auth_token": SECRETS[0]}),
        json!({"type": "oauth_client_credentials", "client_id": "cid", "client_secret": SECRETS[1],
               "token_url": "https://auth.example.com/token",
               "token_endpoint_auth_method": "client_secret_post"}),
        json!({"type": "oauth_authorization_code_public_pkce", "client_id": "pub"}),
        json!({"type": "oauth_authorization_code_confidential_pkce", "client_id": "conf",
               "client_secret": SECRETS[2]}),
    ];
    auths
        .into_iter()
        .map(|auth| {
            ok(body(json!({"endpoint": "https://mcp.example.com/mcp",
                           "headers": {"X-Api-Key": SECRETS[3]}, "auth": auth})))
        })
        .collect()
}
