//! mcp-authlink: connect AI agents to MCP servers that sit behind authorization.
//!
//! The core has two shapes, and each module says which one it has:
//! - **planners and judges** are sans-I/O: they build [`transport::HttpRequest`]s and judge
//!   [`transport::HttpResponse`]s (with the current time passed in), and never touch the
//!   network: the challenge parser, metadata validation, the recommendation, PKCE, the
//!   authorization URL, the registration and token requests and their judges, the config
//!   contract, the consent callback's rules;
//! - **drivers** run a procedure over those steps and await a [`transport::Transport`] for
//!   each request: [`discover`], [`registration::register`], [`provision::provision`] (with
//!   its siblings for re-registration and for a server's runtime challenge) and the Worker's token revocation. They are
//!   `async` functions, not sans-I/O state machines: a caller cannot feed them responses
//!   step by step. The transport is their only way out to the network, implemented by thin
//!   adapters (the npm package's fetch, the Worker's fetch, the tests' replay), so they run
//!   the same natively, in the npm package and in the Worker.
//!
//! | module | concept |
//! |---|---|
//! | [`challenge`] | `WWW-Authenticate` parsing (RFC 9110 §11.6.1) |
//! | `target` | which URLs may be fetched (https, loopback, private addresses): [`TargetPolicy`] |
//! | [`metadata`] | protected resource (RFC 9728) and authorization server (RFC 8414 / OIDC) metadata |
//! | `discovery_result` | the [`DiscoveryResult`] (discovery.md §5), read by `discovery` and `recommend` |
//! | [`discovery`] | the discovery procedure (a driver), re-exporting its result |
//! | [`recommend`] | auth-mode recommendation (discovery.md §6) |
//! | [`pkce`] | PKCE verifier, S256 challenge, `state` |
//! | [`authorize`] | the authorization request URL; the mix-up defences (per-server redirect URI, RFC 9207 `iss`) |
//! | [`registration`] | how a client comes to exist: CIMD, dynamic client registration (RFC 7591) and its driver |
//! | [`token`] | token requests and responses, client assertions (RFC 7523) |
//! | [`config`] | the server-config contract: validation and hydration |
//! | [`provision`] | create/update of a server: validate, discover, hydrate, register (a driver) |
//! | [`consent`] | the consent callback's rules, the browser binding and the callback page |
//! | [`transport`] | the `Transport` trait, `HttpRequest`, `HttpResponse` |
//! | `auth_mode`, `error`, `warning`, `secret` | [`AuthMode`], [`Error`], [`Warning`], [`Secret`] |
//! | `diagnose` | diagnostics of a stored server: findings with a code, a message and a fix |
//! | `merge_patch` | server updates as JSON merge patches (RFC 7396) and when they void connections |
//! | `revocation` | token revocation (RFC 7009) |
//! | `ticket` | session tickets: HMAC over key id and claims; the id rules |
//! | `seal` | AES-256-GCM sealing of secrets at rest |
//! | `webhook` | signed event webhooks: signature, delivery request, backoff |
//!
//! # Public surface
//!
//! The modules of the protocol steps are public on purpose: each holds a step's planner and
//! judge (or its driver), and the integration tests (`tests/*.rs`) and Rust callers reach them
//! by module path, as `mcp_authlink::token::parse_token_response`. The vocabulary every step
//! shares (modes, errors, warnings, secrets, the target policy, the discovery result) is
//! re-exported at the root from private modules. What only the Worker needs (diagnostics,
//! merge patches, revocation, tickets, sealing, webhooks) is crate-private and compiled only
//! for the Worker and the unit tests; the wasm-bindgen adapter (`wasm`) and the Worker
//! (`worker`) are private adapters.

// Every `pub` item is reachable from outside the crate; what is shared inside it says
// `pub(crate)`. (`missing_docs` is not enforced yet: about 270 public items lack a doc
// comment, mostly fields and variants of the wire types that the spec documents.)
#![warn(unreachable_pub)]

pub mod authorize;
pub mod challenge;
pub mod config;
pub mod consent;
pub mod discovery;
pub mod metadata;
pub mod pkce;
pub mod provision;
pub mod recommend;
pub mod registration;
pub mod token;
pub mod transport;

mod auth_mode;
mod discovery_result;
mod error;
mod secret;
mod target;
mod warning;

// The Worker's own concepts: compiled for the Worker and for their unit tests. In the unit
// tests the Worker that calls them is absent, so unused items are reported by the Worker
// build (`make lint`), not there.
#[cfg(any(test, all(target_arch = "wasm32", feature = "worker")))]
#[cfg_attr(test, allow(dead_code))]
mod diagnose;
#[cfg(any(test, all(target_arch = "wasm32", feature = "worker")))]
#[cfg_attr(test, allow(dead_code))]
mod merge_patch;
#[cfg(any(test, all(target_arch = "wasm32", feature = "worker")))]
#[cfg_attr(test, allow(dead_code))]
mod revocation;
#[cfg(any(test, all(target_arch = "wasm32", feature = "worker")))]
#[cfg_attr(test, allow(dead_code))]
mod seal;
#[cfg(any(test, all(target_arch = "wasm32", feature = "worker")))]
#[cfg_attr(test, allow(dead_code))]
mod ticket;
#[cfg(any(test, all(target_arch = "wasm32", feature = "worker")))]
#[cfg_attr(test, allow(dead_code))]
mod webhook;

// The adapters keep `pub` on their items: the wasm-bindgen exports by convention, the Worker
// for its own module tree.
#[cfg(all(target_arch = "wasm32", not(feature = "worker")))]
#[allow(unreachable_pub)]
mod wasm;
#[cfg(all(target_arch = "wasm32", feature = "worker"))]
#[allow(unreachable_pub)]
mod worker;

pub use auth_mode::{AuthMode, ClientAuthMethod};
pub use discovery::{discover, DiscoverOptions};
pub use discovery_result::{
    AsEvidence, DiscoveryResult, Evidence, Outcome, PrmEvidence, TraceEntry,
};
pub use error::{Error, ErrorCode};
pub use secret::Secret;
pub use target::{HttpRule, Refusal, TargetPolicy};
pub use warning::{Warning, WarningCode};

/// The crate version, sent as `clientInfo.version` in the probe.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
