//! mcp-authlink: connect AI agents to MCP servers that sit behind authorization.
//!
//! The core is sans-I/O: it plans HTTP requests and judges responses. Network access goes
//! through the [`transport::Transport`] trait, implemented by thin adapters (the npm package's
//! fetch, the Worker's fetch, the tests' replay).
//!
//! | module | concept |
//! |---|---|
//! | [`challenge`] | `WWW-Authenticate` parsing (RFC 9110 §11.6.1) |
//! | [`target`] | which URLs may be fetched (https, loopback, private addresses) |
//! | [`metadata`] | protected resource (RFC 9728) and authorization server (RFC 8414 / OIDC) metadata |
//! | `discovery_result` | the `DiscoveryResult` (discovery.md §5), read by `discovery` and `recommend` |
//! | [`discovery`] | the discovery procedure, re-exporting its result |
//! | [`recommend`] | auth-mode recommendation |
//! | [`pkce`] | PKCE verifier, S256 challenge, `state` |
//! | [`authorize`] | the authorization request URL |
//! | [`registration`] | dynamic client registration (RFC 7591) |
//! | [`token`] | token requests and responses |
//! | [`config`] | the server-config contract: validation and hydration |
//! | [`diagnose`] | diagnostics of a stored server: findings with a code, a message and a fix |
//! | [`merge_patch`] | server updates as JSON merge patches (RFC 7396) and when they void connections |
//! | [`revocation`] | token revocation (RFC 7009) |
//! | [`webhook`] | signed event webhooks: signature, delivery request, backoff |

pub mod auth_mode;
pub mod authorize;
pub mod challenge;
pub mod config;
pub mod consent;
pub mod diagnose;
pub mod discovery;
mod discovery_result;
pub mod error;
pub mod merge_patch;
pub mod metadata;
pub mod pkce;
pub mod provision;
pub mod recommend;
pub mod registration;
pub mod revocation;
pub mod seal;
pub mod secret;
pub mod target;
pub mod ticket;
pub mod token;
pub mod transport;
pub mod warning;
pub mod webhook;

#[cfg(all(target_arch = "wasm32", not(feature = "worker")))]
mod wasm;
#[cfg(all(target_arch = "wasm32", feature = "worker"))]
mod worker;

pub use auth_mode::{AuthMode, ClientAuthMethod};
pub use discovery::{discover, DiscoverOptions, DiscoveryResult};
pub use error::{Error, ErrorCode};
pub use secret::Secret;
pub use warning::{Warning, WarningCode};

/// The crate version, sent as `clientInfo.version` in the probe.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
