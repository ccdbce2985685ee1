//! The parts of an error answer, and the answers to a failed create or update of a server
//! (`ProvisionError`: validation, discovery, registration), which carry more than one entry
//! and the discovery result.

use serde_json::{json, Value};

use crate::config::ConfigError;
use crate::error::{Error, ErrorCode};
use crate::provision::ProvisionError;
use crate::registration::RegistrationFailure;

pub(super) fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// One entry of the `errors` list.
pub(super) fn entry(code: &str, message: impl Into<String>) -> Value {
    json!({ "code": code, "message": message.into() })
}

pub(super) fn entry_at(code: &str, message: impl Into<String>, path: &str) -> Value {
    json!({ "code": code, "message": message.into(), "path": path })
}

/// The answer's parts: status, the `errors` list, and extra top-level members.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) errors: Vec<Value>,
    pub(super) extra: Option<(&'static str, Value)>,
}

impl Answer {
    pub(super) fn one(status: u16, error: Value) -> Answer {
        Answer {
            status,
            errors: vec![error],
            extra: None,
        }
    }

    pub(super) fn with(mut self, key: &'static str, value: Value) -> Answer {
        self.extra = Some((key, value));
        self
    }
}

pub(super) fn invalid(errors: &[ConfigError]) -> Vec<Value> {
    let mut list = vec![entry(
        "invalid_request",
        format!(
            "The request body has {} problem(s); each is listed with its path.",
            errors.len()
        ),
    )];
    list.extend(errors.iter().map(to_value));
    list
}

pub(super) fn discovery_status(e: &Error) -> u16 {
    match e.code {
        ErrorCode::Unreachable => 502,
        _ => 400,
    }
}

pub(super) fn provision_answer(e: &ProvisionError) -> Answer {
    match e {
        ProvisionError::Invalid(errors) => Answer {
            status: 400,
            errors: invalid(errors),
            extra: None,
        },
        ProvisionError::NotHydrated(errors, d) => Answer {
            status: 400,
            errors: invalid(errors),
            extra: Some(("discovery_result", to_value(d))),
        },
        ProvisionError::Discovery(e) => Answer::one(
            discovery_status(e),
            entry(e.code.as_str(), e.message.clone()),
        ),
        ProvisionError::NoAuthorizationServer(d) => Answer::one(
            502,
            entry_at(
                "authorization_server_unusable",
                format!(
                    "Discovery found no usable authorization server for this config: {} Supply \
                     auth_url, token_url and client credentials by hand, or fix the provider's \
                     metadata.",
                    d.message
                ),
                "config.auth",
            ),
        )
        .with("discovery_result", to_value(d)),
        ProvisionError::AuthRequired(d) => Answer::one(
            400,
            entry_at(
                "auth_required",
                format!(
                    "The server requires authorization: add config.auth ({}).",
                    d.message
                ),
                "config.auth",
            ),
        )
        .with("discovery_result", to_value(d)),
        ProvisionError::Registration(RegistrationFailure::Unavailable) => Answer::one(
            400,
            entry_at(
                "registration_unavailable",
                "The provider has no registration endpoint: supply client_id (and \
                 client_secret for a confidential client) by hand.",
                "config.auth.client_id",
            ),
        ),
        ProvisionError::Registration(failure) => {
            let tries: Vec<Value> = failure.tries().iter().map(to_value).collect();
            let message = Error::from(failure.clone()).message;
            let mut errors = vec![entry("registration_failed", message)];
            errors.extend(tries.iter().map(|t| {
                let what = t["error_description"]
                    .as_str()
                    .or(t["error"].as_str())
                    .unwrap_or("failed");
                json!({
                    "code": "registration_failed",
                    "message": format!("{}: {what}", t["method"].as_str().unwrap_or("?")),
                    "try": t,
                })
            }));
            Answer {
                status: 502,
                errors,
                extra: None,
            }
        }
    }
}
