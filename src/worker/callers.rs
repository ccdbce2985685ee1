//! Who is calling: the control plane's admin key and the runtime plane's session tickets
//! (api.md "Authentication"). Refusals are 401 `unauthorized`, 401 `invalid_ticket` with its
//! `reason`, or 403 `agent_not_in_scope`.

use worker::Request;

use super::error::{ticket_reason, ApiError, ApiResult};
use super::http::{bearer, secrets_equal};
use super::{now, Settings};
use crate::ticket::{self, TicketClaims};

/// The control plane: `Authorization: Bearer <ADMIN_API_KEY>`.
pub fn authenticate_admin(req: &Request, s: &Settings) -> ApiResult<()> {
    match bearer(req) {
        Some(token) if secrets_equal(&token, &s.admin_key) => Ok(()),
        _ => Err(ApiError::Unauthorized),
    }
}

/// The ticket's claims after checking it (any agent scope).
pub fn authenticate_ticket(req: &Request, s: &Settings) -> ApiResult<TicketClaims> {
    let token = bearer(req).ok_or(ApiError::InvalidTicket { reason: "missing" })?;
    if secrets_equal(&token, &s.admin_key) {
        return Err(ApiError::InvalidTicket {
            reason: "admin_key_sent",
        });
    }
    ticket::verify(&s.ticket_key, &token, now()).map_err(|e| ApiError::InvalidTicket {
        reason: ticket_reason(&e),
    })
}

/// The ticket's claims, after checking it and that it covers `agent`.
pub fn authenticate_agent(req: &Request, s: &Settings, agent: &str) -> ApiResult<TicketClaims> {
    let claims = authenticate_ticket(req, s)?;
    if !claims.allows_agent(agent) {
        return Err(ApiError::AgentNotInScope {
            agent: agent.to_owned(),
            covered: claims.agent_ids.len(),
        });
    }
    Ok(claims)
}
