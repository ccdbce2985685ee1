//! The Worker's errors: one enum, and one conversion to the API's error answer
//! (`{"errors": [{code, message, path?, …}], …}` with a status, api.md "Errors"). Every code,
//! status and message the Worker answers with is written here; routes return
//! `Result<Response, ApiError>` and never build a status and a code by hand.

use serde_json::json;
use worker::Response;

use super::http::json_response;
use crate::config::ConfigError;
use crate::discovery::DiscoveryResult;
use crate::error::Error;
use crate::provision::ProvisionError;
use crate::ticket;

mod answer;
use answer::{discovery_status, entry, entry_at, invalid, provision_answer, to_value, Answer};

/// Why a connection can no longer give tokens (409 `connection_expired`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiredBecause {
    /// The provider refused the refresh token (`invalid_grant`).
    RefreshRefused,
    /// The access token expired and the provider issued no refresh token.
    NoRefreshToken,
    /// The provider forgot the server's client; a new one was registered.
    ClientRegisteredAgain,
}

/// Everything a Worker route can answer instead of a success.
#[derive(Debug)]
#[non_exhaustive]
pub enum ApiError {
    // ---- the request's shape (400, 413) ----
    /// 400 `invalid_value`: a field's value breaks its rule (`message` states the rule).
    InvalidValue { path: String, message: String },
    /// 400 `invalid_type`: a field of the wrong JSON type.
    InvalidType { path: String, message: String },
    /// 400 `required`: a field the operation needs is absent.
    Required { path: String, message: String },
    /// 400 `unknown_field`: a body member the operation does not take.
    UnknownField { path: String, message: String },
    /// 400 `unknown_parameter`: a query parameter the route does not take.
    UnknownParameter { name: String, known: &'static str },
    /// 400 `invalid_value`: a server id outside `[A-Za-z0-9._:-]{1,128}`.
    BadServerId { field: String },
    /// 400 `invalid_value`: a platform id (`actor_id`, `agent_id`) that is empty, too long or
    /// holds control characters.
    BadPlatformId { field: String },
    /// 400 `invalid_value`: a path segment that is not UTF-8 once percent-decoded.
    BadPathSegment,
    /// 400 `invalid_json`: the body is not JSON (serde_json's reason).
    NotJson { reason: String },
    /// 400 `invalid_json`: the body is JSON but not an object.
    NotAnObject,
    /// 400 `invalid_json`: the body could not be read.
    BodyUnreadable,
    /// 413 `body_too_large`.
    BodyTooLarge { max_bytes: usize },
    /// 400 `invalid_request` followed by every field error (and the discovery result when
    /// discovery left the config incomplete).
    Invalid {
        errors: Vec<ConfigError>,
        discovery: Option<Box<DiscoveryResult>>,
    },
    /// 400 `return_to_not_allowed`.
    ReturnToNotAllowed,

    // ---- who is calling (401, 403) ----
    /// 401 `unauthorized`: the control plane without the admin key.
    Unauthorized,
    /// 401 `invalid_ticket` with its `reason` (see [`ticket_reason`]).
    InvalidTicket { reason: &'static str },
    /// 403 `agent_not_in_scope`: the ticket does not cover `agent`.
    AgentNotInScope { agent: String, covered: usize },

    // ---- what the request names (404) ----
    /// 404 `not_found`: no such route.
    NoRoute,
    /// 404 `not_found`: no `what` (server, connection) with that id.
    NotFound { what: &'static str },
    /// 404 `not_found`: the server exists but is not attached to the agent (the npm client
    /// reads this answer on agent routes as `not_attached`).
    NotAttached,
    /// 404 `flow_not_found`: no consent flow with that id for this actor.
    FlowNotFound,

    // ---- the server's state (409) ----
    /// 409 `not_configured`: the stored config lacks `what`.
    NotConfigured { lacks: &'static str },
    /// 409 `not_configured`: the config cannot make the request (the core's reason).
    Unconfigurable { reason: String },
    /// 409 `no_auth_required`: the server needs no token.
    NoAuthRequired,
    /// 409 `pkce_not_advertised`.
    PkceNotAdvertised,
    /// 409 `token_rejected`: the MCP server refused the configured static token.
    TokenRejected,
    /// 409 `forbidden`: a 403 without `insufficient_scope`.
    Forbidden,
    /// 409 `insufficient_scope`: scopes that client credentials cannot gain by consent.
    ScopesNotByConsent { scopes: Vec<String> },
    /// 409 `issuer_changed`: a pre-registered client of `old`, and the server now names `new`.
    IssuerChanged { old: String, new: String },
    /// 409 `not_connectable`: the server challenged but cannot be connected by consent.
    NotConnectable(Box<DiscoveryResult>),
    /// 409 `not_connected`: the actor has no connection to the server.
    NotConnected,
    /// 409 `connection_expired`.
    ConnectionExpired(ExpiredBecause),
    /// 409 `connection_changed`: disconnected or reconnected during a refresh.
    ConnectionChanged,
    /// 409 `connection_changed`: the server's config changed while the request ran.
    ConfigChangedDuringRequest,
    /// 409 `server_changed`: another update of the server was written while this one ran.
    ServerChanged,
    /// 409 `idempotency_conflict`: the key was used with another body.
    IdempotencyConflict,
    /// 409 `idempotency_in_progress`: the first request with the key still runs.
    IdempotencyInProgress,

    // ---- limits (429, 503) ----
    /// 429 `rate_limited` with `retry_after_seconds`.
    RateLimited {
        what: &'static str,
        limit: u64,
        retry_after: u64,
    },
    /// 429 `step_up_limit`.
    StepUpLimit { max: u64 },
    /// 503 `refresh_in_progress`.
    RefreshInProgress,

    // ---- peers (400, 502) ----
    /// Discovery refused the endpoint or failed (the core's code; 502 when unreachable).
    Discovery(Error),
    /// Provisioning a config failed (config, discovery or registration).
    Provision(ProvisionError),
    /// 502 `token_request_failed`: the token endpoint refused or failed.
    TokenRequestFailed { detail: String },
    /// 400 `blocked_target` at `config.auth.token_url`: the deployment refuses to call the
    /// token endpoint (`detail`: the target policy's reason).
    BlockedTokenUrl { detail: String },

    // ---- the Worker itself (500) ----
    /// 500 `internal_error`: `what_failed` says what, in words.
    Internal { what_failed: &'static str },
    /// 500 `unsealable`: `what` (a stored config, tokens, an answer) could not be opened.
    Unsealable { what: &'static str },
    /// 500 `misconfigured`: the Worker's settings are wrong (the detail is in the log).
    Misconfigured,
}

/// A platform call failed (D1, a request or response object): the detail goes to the log only,
/// since it may name internals.
impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> ApiError {
        worker::console_error!("internal error: {e}");
        ApiError::Internal {
            what_failed: "A platform call (D1, or reading the request) failed",
        }
    }
}

impl From<ProvisionError> for ApiError {
    fn from(e: ProvisionError) -> ApiError {
        ApiError::Provision(e)
    }
}

/// The `reason` of a refused ticket.
pub fn ticket_reason(e: &ticket::TicketError) -> &'static str {
    match e {
        ticket::TicketError::Malformed => "malformed",
        ticket::TicketError::BadSignature => "bad_signature",
        ticket::TicketError::Expired => "expired",
        ticket::TicketError::KeyRotated => "key_rotated",
    }
}

impl ApiError {
    /// The HTTP status of the answer.
    pub fn status(&self) -> u16 {
        self.answer().status
    }

    /// The first error's code (for logs).
    pub fn code(&self) -> String {
        self.first("code")
    }

    /// The first error's message (a finding may quote it).
    pub fn message(&self) -> String {
        self.first("message")
    }

    fn first(&self, member: &str) -> String {
        self.answer()
            .errors
            .first()
            .and_then(|e| e[member].as_str())
            .unwrap_or_default()
            .to_owned()
    }

    /// The one place that says what each error answers.
    fn answer(&self) -> Answer {
        use ApiError as E;
        let one = Answer::one;
        match self {
            E::InvalidValue { path, message } => {
                one(400, entry_at("invalid_value", message.as_str(), path))
            }
            E::InvalidType { path, message } => {
                one(400, entry_at("invalid_type", message.as_str(), path))
            }
            E::Required { path, message } => one(400, entry_at("required", message.as_str(), path)),
            E::UnknownField { path, message } => {
                one(400, entry_at("unknown_field", message.as_str(), path))
            }
            E::UnknownParameter { name, known } => {
                let shown: String = name.chars().take(64).collect();
                one(
                    400,
                    entry_at(
                        "unknown_parameter",
                        format!("{shown:?} is not a query parameter of this route: use {known}."),
                        &shown,
                    ),
                )
            }
            E::BadServerId { field } => one(
                400,
                entry_at(
                    "invalid_value",
                    format!("{field} must be 1 to 128 characters from [A-Za-z0-9._:-]"),
                    field,
                ),
            ),
            E::BadPlatformId { field } => one(
                400,
                entry_at(
                    "invalid_value",
                    format!(
                        "{field} must be 1 to {} characters with no control characters",
                        ticket::MAX_ID_CHARS
                    ),
                    field,
                ),
            ),
            E::BadPathSegment => one(
                400,
                entry(
                    "invalid_value",
                    "A path segment is not UTF-8 once percent-decoded: encode ids as UTF-8 \
                     (encodeURIComponent).",
                ),
            ),
            E::NotJson { reason } => one(
                400,
                entry(
                    "invalid_json",
                    format!("The body is not JSON ({reason}): send a JSON object."),
                ),
            ),
            E::NotAnObject => one(
                400,
                entry("invalid_json", "The body must be a JSON object."),
            ),
            E::BodyUnreadable => one(400, entry("invalid_json", "The body could not be read.")),
            E::BodyTooLarge { max_bytes } => one(
                413,
                entry(
                    "body_too_large",
                    format!(
                        "The body is over {} KiB: send a smaller one.",
                        max_bytes / 1024
                    ),
                ),
            ),
            E::Invalid { errors, discovery } => Answer {
                status: 400,
                errors: invalid(errors),
                extra: discovery
                    .as_ref()
                    .map(|d| ("discovery_result", to_value(d))),
            },
            E::ReturnToNotAllowed => one(
                400,
                entry_at(
                    "return_to_not_allowed",
                    "return_to must be an absolute http(s) URL on one of ALLOWED_RETURN_ORIGINS \
                     (exact origin match).",
                    "return_to",
                ),
            ),
            E::Unauthorized => one(
                401,
                entry(
                    "unauthorized",
                    "Send Authorization: Bearer <ADMIN_API_KEY>.",
                ),
            ),
            E::InvalidTicket { reason } => {
                let why = match *reason {
                    "missing" => "No session ticket was sent: send Authorization: Bearer <session ticket>, from POST /ai/session-tickets.",
                    "admin_key_sent" => "This is the ADMIN_API_KEY, not a session ticket: the backend gets a ticket from POST /ai/session-tickets and hands that to the frontend (never the admin key).",
                    "expired" => "The session ticket has expired: get a fresh one from POST /ai/session-tickets.",
                    "bad_signature" => "The session ticket's signature does not verify (altered, or signed with another TICKET_KEY): get a fresh one from POST /ai/session-tickets.",
                    _ => "The session ticket is malformed: send the ticket string exactly as POST /ai/session-tickets returned it.",
                };
                let mut e = entry("invalid_ticket", why);
                e["reason"] = json!(reason);
                one(401, e)
            }
            E::AgentNotInScope { agent, covered } => {
                let shown: String = agent.chars().take(255).collect();
                let mut e = entry(
                    "agent_not_in_scope",
                    format!(
                        "The session ticket does not cover this agent: it covers {covered} \
                         agent(s), not {shown:?}; issue a ticket whose agent_ids include it."
                    ),
                );
                e["agent_id"] = json!(shown);
                e["ticket_agent_count"] = json!(covered);
                one(403, e)
            }
            E::NoRoute => one(
                404,
                entry("not_found", "No such route: see the API in README.md."),
            ),
            E::NotFound { what } => {
                one(404, entry("not_found", format!("No {what} with that id.")))
            }
            E::NotAttached => one(
                404,
                entry("not_found", "This server is not attached to the agent."),
            ),
            E::FlowNotFound => one(
                404,
                entry(
                    "flow_not_found",
                    "No consent flow with that id for this actor (flows are kept 1 hour after \
                     they end).",
                ),
            ),
            E::NotConfigured { lacks } => one(
                409,
                entry(
                    "not_configured",
                    format!("The server's config lacks {lacks}: update it."),
                ),
            ),
            E::Unconfigurable { reason } => one(409, entry("not_configured", reason.as_str())),
            E::NoAuthRequired => one(
                409,
                entry(
                    "no_auth_required",
                    "This server needs no authorization: call it without a token.",
                ),
            ),
            E::PkceNotAdvertised => one(
                409,
                entry(
                    "pkce_not_advertised",
                    "The authorization server does not advertise PKCE S256; set \
                     config.auth.allow_unadvertised_pkce to connect anyway.",
                ),
            ),
            E::TokenRejected => one(
                409,
                entry(
                    "token_rejected",
                    "The MCP server refused the configured static token: update \
                     config.auth.auth_token with PATCH.",
                ),
            ),
            E::Forbidden => one(
                409,
                entry(
                    "forbidden",
                    "The MCP server refused the call (403) without asking for more scopes (no \
                     insufficient_scope with scope): a new token or consent would not change \
                     that.",
                ),
            ),
            E::ScopesNotByConsent { scopes } => one(
                409,
                entry(
                    "insufficient_scope",
                    format!(
                        "The MCP server asks for the scopes {scopes:?}, which client credentials \
                         cannot gain by consent: add them to config.auth.scopes with PATCH."
                    ),
                ),
            ),
            E::IssuerChanged { old, new } => one(
                409,
                entry(
                    "issuer_changed",
                    format!(
                        "The MCP server now names the authorization server {new}, but this \
                         server's pre-registered client belongs to {old}: register a client at \
                         {new} and PATCH config.auth with it."
                    ),
                ),
            ),
            E::NotConnectable(d) => one(
                409,
                entry(
                    "not_connectable",
                    format!(
                        "The MCP server challenged, but it cannot be connected by consent: {} \
                         Configure config.auth with PATCH.",
                        d.message
                    ),
                ),
            )
            .with("discovery_result", to_value(d)),
            E::NotConnected => one(
                409,
                entry(
                    "not_connected",
                    "The actor has not connected this server: start a consent with the runtime \
                     plane's connect.",
                ),
            ),
            E::ConnectionExpired(why) => one(
                409,
                entry(
                    "connection_expired",
                    match why {
                        ExpiredBecause::RefreshRefused => {
                            "The connection expired (the provider refused the refresh token): \
                             the actor must connect again."
                        }
                        ExpiredBecause::NoRefreshToken => {
                            "The access token expired and the provider issued no refresh token, \
                             so it cannot be renewed: the actor must connect again."
                        }
                        ExpiredBecause::ClientRegisteredAgain => {
                            "The provider no longer knows this server's client (invalid_client); \
                             a new client was registered: the actor must connect again."
                        }
                    },
                ),
            ),
            E::ConnectionChanged => one(
                409,
                entry(
                    "connection_changed",
                    "The connection changed during the refresh (disconnected or reconnected): \
                     retry.",
                ),
            ),
            E::ConfigChangedDuringRequest => one(
                409,
                entry(
                    "connection_changed",
                    "The server's config changed while this request ran: retry.",
                ),
            ),
            E::ServerChanged => one(
                409,
                entry(
                    "server_changed",
                    "Another update of this server was written while this one ran, so this patch \
                     was not applied: read the server again and send the patch again.",
                ),
            ),
            E::IdempotencyConflict => one(
                409,
                entry_at(
                    "idempotency_conflict",
                    "This Idempotency-Key was used with another body in the last 24 hours: use \
                     a new key for a new request.",
                    "Idempotency-Key",
                ),
            ),
            E::IdempotencyInProgress => one(
                409,
                entry_at(
                    "idempotency_in_progress",
                    "A request with this Idempotency-Key is still running: retry in a few \
                     seconds.",
                    "Idempotency-Key",
                ),
            ),
            E::RateLimited {
                what,
                limit,
                retry_after,
            } => one(
                429,
                entry(
                    "rate_limited",
                    format!(
                        "Too many {what} calls for this actor: at most {limit} a minute. Retry in \
                         {retry_after} s."
                    ),
                ),
            )
            .with("retry_after_seconds", json!(retry_after)),
            E::StepUpLimit { max } => one(
                429,
                entry(
                    "step_up_limit",
                    format!(
                        "The MCP server keeps refusing with insufficient_scope: {max} \
                         authorization requests for this connection in the last hour did not \
                         satisfy it. Check the scopes it asks for and what the provider grants, \
                         then retry later."
                    ),
                ),
            ),
            E::RefreshInProgress => one(
                503,
                entry(
                    "refresh_in_progress",
                    "Another refresh of this connection is taking too long: retry shortly.",
                ),
            ),
            E::Discovery(e) => one(
                discovery_status(e),
                entry(e.code.as_str(), e.message.clone()),
            ),
            E::Provision(e) => provision_answer(e),
            E::TokenRequestFailed { detail } => one(
                502,
                entry(
                    "token_request_failed",
                    format!(
                        "The authorization server refused or failed the token request: {detail}"
                    ),
                ),
            ),
            E::BlockedTokenUrl { detail } => one(
                400,
                entry_at(
                    "blocked_target",
                    format!(
                        "The server's token endpoint is a target this deployment refuses to call \
                         ({detail}). Fix config.auth.token_url (PATCH the server); private and \
                         loopback targets are for local development only \
                         (ALLOW_PRIVATE_TARGETS=true)."
                    ),
                    "config.auth.token_url",
                ),
            ),
            E::Internal { what_failed } => one(
                500,
                entry(
                    "internal_error",
                    format!(
                        "{what_failed}, so the request was not completed: retry, and if it \
                         happens again check the Worker's logs."
                    ),
                ),
            ),
            E::Unsealable { what } => one(
                500,
                entry(
                    "unsealable",
                    format!("{what} could not be opened: was SEAL_KEY changed?"),
                ),
            ),
            E::Misconfigured => one(
                500,
                entry(
                    "misconfigured",
                    "The Worker is misconfigured: its operator should check the Worker's logs.",
                ),
            ),
        }
    }

    /// The answer: `{"errors": [...]}` plus any extra member, with the status.
    pub fn into_response(self) -> Response {
        let Answer {
            status,
            errors,
            extra,
        } = self.answer();
        let mut body = json!({ "errors": errors });
        if let Some((k, v)) = extra {
            body[k] = v;
        }
        json_response(&body, status)
    }
}

/// A route's outcome.
pub type ApiResult<T = Response> = Result<T, ApiError>;
