//! Step-up (discovery.md §9, SEP-2350): the rules the challenge route, the connect route and
//! the runtime list share: how many authorization requests a connection may cause, the scopes
//! a connect asks for, and which servers need consent again.

use worker::D1Database;

use super::error::ApiResult;
use super::store;
use crate::authorize::authorization_scopes;
use crate::provision::Provider;

/// At most this many authorization requests per connection per [`STEP_UP_WINDOW_SECS`], the
/// consent that made the connection included: what the official scenario
/// `auth/scope-retry-limit` counts (so two step-ups after a consent in the same hour).
pub const MAX_STEP_UPS: u64 = 3;
pub const STEP_UP_WINDOW_SECS: u64 = 3600;
/// The scopes a connect asks for (discovery.md §8, §9): exactly the step-up's required scopes
/// when a step-up is pending, else the config's scopes (the challenge's or the PRM's, from
/// hydration), each plus `offline_access` when the authorization server lists it.
pub async fn connect_scopes(
    db: &D1Database,
    server_id: &str,
    actor_id: &str,
    config_scopes: &[String],
    provider: &Provider,
) -> ApiResult<Vec<String>> {
    let offline = provider.offline_access_supported;
    Ok(
        match store::protocol::required_scopes(db, server_id, actor_id).await? {
            Some(required) => authorization_scopes(Some(&required), &[], offline),
            None => authorization_scopes(None, config_scopes, offline),
        },
    )
}

/// The runtime list's step-up overlay: `needs_consent` with `required_scopes` for the servers
/// that have a pending step-up for this actor.
pub async fn step_up_statuses(
    db: &D1Database,
    actor_id: &str,
) -> ApiResult<Vec<(String, Vec<String>)>> {
    Ok(store::protocol::actor_step_ups(db, actor_id).await?)
}
