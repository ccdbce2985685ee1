//! The consent callback (`GET /service/mcp/consent/callback`, api.md runtime plane): the rules
//! that judge the provider's answer and the HTML page the browser gets back. Sans-I/O: the
//! Worker adapter consumes the pending state, exchanges the code
//! ([`token::authorization_code_request`](crate::token::authorization_code_request)) and stores
//! the tokens.
//!
//! The adapter's order:
//! 1. [`parse_callback_query`], then [`state_param`] (fails before anything is consumed);
//! 2. consume the [`PendingConsent`] for that state atomically (none: [`CallbackError::UnknownState`]),
//!    then [`check_binding`] against the browser's cookie (binding.rs: the consent is bound to
//!    the browser that started it);
//! 3. [`check_flow_config`]: the server is still at the flow's config version (else
//!    [`CallbackError::ServerChanged`], nothing sent); [`check_callback`] gives the code, then the token exchange
//!    (a [`TokenFailure`](crate::token::TokenFailure) becomes [`CallbackError::TokenExchange`])
//!    and storage ([`CallbackError::Storage`]);
//! 4. [`render`] a [`ConsentPage`] ([`ConsentPage::connected`] or [`ConsentPage::error`]) with
//!    a fresh [`new_nonce`].

mod binding;
mod callback;
mod page;
mod version;

#[cfg(test)]
mod tests;

pub use binding::{
    check_binding, check_return_to, check_start_origin, clear_cookie, constant_time_eq,
    cookie_name, cookie_values, return_url, secret_hash, set_cookie, FlowOutcome,
    ReturnToNotAllowed, StartError, CONSENT_PATH, FIELD_FLOW_ID, FIELD_START_TOKEN, FRAGMENT_KEY,
    OUTCOME_TTL_SECS, START_PATH, START_TTL_SECS,
};
pub use callback::{
    check_callback, is_format_char, parse_callback_query, provider_words, state_param,
    strip_format_chars, CallbackError, CallbackParams, PendingConsent, MAX_PARAM_BYTES,
    MAX_PROVIDER_TEXT_CHARS, PENDING_TTL_SECS, PROVIDER_LABEL,
};
pub use page::{
    escape_html, json_for_script, new_nonce, render, ConsentPage, PageStatus, Rendered,
    DATA_ELEMENT_ID, MESSAGE_TYPE,
};
pub use version::{check_flow_config, config_match, ConfigMatch};
