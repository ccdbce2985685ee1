//! The discovery procedure (discovery.md §1-§5): probe the endpoint, read its challenge, find
//! its protected resource metadata and its authorization server metadata, and recommend an
//! auth mode.
//!
//! [`discover`] is a driver, not a sans-I/O state machine: it awaits a [`Transport`] for each
//! request. What it judges (the challenge, the metadata documents, the recommendation) is
//! sans-I/O in [`crate::challenge`], [`crate::metadata`] and [`crate::recommend`].
//!
//! The procedure is written sequentially, exactly as the spec orders it; speed comes from
//! launching requests early through the `fetcher`, never from changing what is judged or
//! in which order. So the winner is always the first valid candidate, and warnings only come
//! from requests the sequential procedure makes.

mod fetcher;

// The result type lives in its own module, which `recommend` reads too; re-exported here so
// `crate::discovery::DiscoveryResult` keeps naming it.
pub use crate::discovery_result::*;

use url::Url;

use crate::challenge::{self, BearerHints};
use crate::error::{Error, ErrorCode, Result};
use crate::metadata::{self, AuthorizationServer, IssuerMatch, ProtectedResource, Rejection};
use crate::recommend;
use crate::target::{Refusal, TargetPolicy};
use crate::transport::{
    HttpRequest, HttpResponse, Transport, TransportError, TransportErrorKind, DEFAULT_TIMEOUT_MS,
};
use crate::warning::{Warning, WarningCode};
use fetcher::{Fetcher, Ticket};

/// The MCP protocol revision the probe speaks.
pub const MCP_PROTOCOL_VERSION: &str = "2025-11-25";

/// Options of [`discover`].
pub struct DiscoverOptions<'a> {
    /// Bound on each request (default 8000 ms).
    pub timeout_ms: u32,
    /// Which URLs may be fetched (the npm package: https, or http to loopback).
    pub policy: TargetPolicy,
    /// Use an authorization server document whose `issuer` differs (still warned).
    pub allow_issuer_mismatch: bool,
    /// Send requests early and concurrently (default true). The result is the same either
    /// way; only the trace differs.
    pub speculate: bool,
    /// Called with each request's trace entry when its answer arrives.
    pub on_step: Option<&'a dyn Fn(&TraceEntry)>,
}

impl Default for DiscoverOptions<'_> {
    fn default() -> Self {
        DiscoverOptions {
            timeout_ms: DEFAULT_TIMEOUT_MS,
            policy: TargetPolicy::CLIENT,
            allow_issuer_mismatch: false,
            speculate: true,
            on_step: None,
        }
    }
}

/// Discovers how the MCP server at `endpoint` wants to be authorized.
///
/// Rejects with `invalid_endpoint` (not an absolute http(s) URL, or `http:` where the policy
/// refuses it), `blocked_target` (a private target under a server policy), `unreachable` (the
/// probe failed) or `aborted`.
pub async fn discover(
    endpoint: &str,
    transport: &dyn Transport,
    options: &DiscoverOptions<'_>,
) -> Result<DiscoveryResult> {
    let url = check_endpoint(endpoint, options.policy)?;
    let mut run = Run {
        fetcher: Fetcher::new(transport, options.on_step),
        options,
        warnings: Vec::new(),
        endpoint: url,
    };
    let mut result = run.procedure(endpoint).await?;
    result.trace = run.fetcher.into_trace();
    Ok(result)
}

fn check_endpoint(endpoint: &str, policy: TargetPolicy) -> Result<Url> {
    let trimmed = endpoint.trim();
    match policy.check_str(trimmed) {
        Ok(url) => Ok(url),
        Err(Refusal::Private) => Err(Error::new(
            ErrorCode::BlockedTarget,
            Refusal::Private.message(trimmed),
        )),
        Err(refusal) => Err(Error::new(
            ErrorCode::InvalidEndpoint,
            refusal.message(trimmed),
        )),
    }
}

/// The initialize request an MCP client opens a session with (discovery.md §1).
pub fn probe_request(endpoint: &str, timeout_ms: u32) -> HttpRequest {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": MCP_PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "mcp-authlink", "version": crate::VERSION}
        }
    });
    HttpRequest::post(endpoint, "application/json", body.to_string())
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", MCP_PROTOCOL_VERSION)
        .timeout_ms(timeout_ms)
}

/// The legacy SSE retry: a GET of which only status and headers are read.
pub fn legacy_probe_request(endpoint: &str, timeout_ms: u32) -> HttpRequest {
    HttpRequest::get(endpoint)
        .header("accept", "text/event-stream")
        .timeout_ms(timeout_ms)
}

/// A metadata candidate's fate.
enum Fetched {
    Answer(Ticket, fetcher::Answer),
    /// Network error or timeout (already warned).
    Failed,
    /// Refused by policy before sending (already warned).
    Refused,
}

struct Run<'a, 't> {
    fetcher: Fetcher<'t>,
    options: &'a DiscoverOptions<'t>,
    warnings: Vec<Warning>,
    endpoint: Url,
}

/// What the authorization server search found.
#[derive(Default)]
struct AsSearch {
    found: Option<AuthorizationServer>,
    saw_json_object: bool,
    saw_network_error: bool,
}

impl Run<'_, '_> {
    async fn procedure(&mut self, raw_endpoint: &str) -> Result<DiscoveryResult> {
        let endpoint = self.endpoint.as_str().to_owned();
        let timeout = self.options.timeout_ms;
        let probe = self.fetcher.launch(probe_request(&endpoint, timeout));
        if self.options.speculate {
            self.prefetch_prm(None);
            for u in metadata::issuer_metadata_urls(&metadata::origin(&self.endpoint))
                .unwrap_or_default()
            {
                self.prefetch(&u);
            }
        }

        // §1 the probe, and the legacy GET retry.
        let mut ticket = probe;
        let mut answer = self.probe_answer(probe).await?;
        if matches!(answer.status, 404 | 405) {
            self.fetcher.mark_used(probe);
            ticket = self
                .fetcher
                .launch(legacy_probe_request(&endpoint, timeout));
            answer = self.probe_answer(ticket).await?;
        }
        self.fetcher.mark_used(ticket);
        let status = answer.status;
        let challenge_headers: Vec<&str> = answer.headers_all("www-authenticate").collect();
        let parsed = challenge::parse_headers(challenge_headers.iter().copied());

        if answer.is_success() {
            if !challenge_headers.is_empty() {
                self.warn(Warning::new(
                    WarningCode::ChallengeOnSuccess,
                    format!("The server answered initialize with HTTP {status} and also sent WWW-Authenticate: the challenge was ignored, since the server works without credentials."),
                ));
            }
            return Ok(self.finish(DiscoveryResult::default()));
        }
        let challenged = status == 401 || (status == 403 && !parsed.challenges.is_empty());
        let hints = if challenged {
            self.warnings.extend(parsed.warnings);
            challenge::bearer_hints(&parsed.challenges).unwrap_or_default()
        } else {
            if answer.is_redirect() {
                let mut w = Warning::new(
                    WarningCode::Redirected,
                    match answer.header("location") {
                        Some(loc) => format!("The endpoint redirected (HTTP {status}) to {loc}: use the final URL as the endpoint."),
                        None => "The endpoint answered with a redirect, which is not followed: use the final URL as the endpoint.".to_owned(),
                    },
                );
                if let Some(loc) = answer.header("location") {
                    w = w.with_url(loc);
                }
                self.warn(w);
            }
            BearerHints::default()
        };

        // §3 protected resource metadata.
        let resource_metadata = self.resource_metadata_url(hints.resource_metadata.as_deref());
        let (prm_evidence, prm) = self
            .find_protected_resource(resource_metadata.as_deref())
            .await?;

        if prm.is_none() && !challenged {
            let mut w = Warning::new(
                WarningCode::Inconclusive,
                format!("The endpoint answered HTTP {status} without a challenge and no protected resource metadata was found: authorization could not be detected."),
            );
            w.status = (status != 0).then_some(status);
            self.warn(w);
            if status == 404 {
                self.warn(Warning::new(
                    WarningCode::EndpointNotFound,
                    "The endpoint answered 404 to both POST and GET: the URL is probably not the MCP endpoint; check its path.",
                ));
            }
            return Ok(self.finish(DiscoveryResult::default()));
        }

        // §4 authorization server metadata (or legacy mode: the origin, §3).
        let mut defaults = false;
        let (authorization_servers, search) = match &prm {
            Some((url, p)) => {
                let listed = self.at_most_tried(url, &p.authorization_servers);
                let search = self.find_authorization_server(&listed, false).await?;
                (listed, search)
            }
            None => {
                let origin = vec![metadata::origin(&self.endpoint)];
                let search = self.find_authorization_server(&origin, true).await?;
                if search.found.is_none() {
                    defaults = self.default_endpoints(&origin[0]).await?;
                }
                let known = search.found.is_some() || defaults;
                (if known { origin } else { Vec::new() }, search)
            }
        };
        // The default endpoints count as usable: the server showed that it has them (and
        // provisioning relies on this evidence to hydrate and register).
        let as_evidence = if search.found.is_some() || defaults {
            AsEvidence::Usable
        } else if search.saw_json_object {
            AsEvidence::Rejected
        } else if search.saw_network_error {
            AsEvidence::Unreachable
        } else {
            AsEvidence::None
        };

        let scopes = if !hints.scopes.is_empty() {
            hints.scopes.clone()
        } else {
            prm.as_ref()
                .map(|(_, p)| p.scopes_supported.clone())
                .unwrap_or_default()
        };
        // A document (not the default endpoints) says what PKCE and issuer are.
        let found = search.found.is_some();
        let mut asm = search.found.unwrap_or_default();
        if let (true, Some(origin)) = (defaults, authorization_servers.first()) {
            asm.authorization_endpoint = Some(format!("{origin}/authorize"));
            asm.token_endpoint = Some(format!("{origin}/token"));
            asm.registration_endpoint = Some(format!("{origin}/register"));
        }
        let result = DiscoveryResult {
            requires_auth: true,
            resource: Some(match &prm {
                Some((_, p)) => p.resource.clone(),
                None => metadata::canonical_endpoint(raw_endpoint.trim(), &self.endpoint),
            }),
            resource_metadata_url: prm.as_ref().map(|(u, _)| u.clone()),
            scopes,
            authorization_servers,
            evidence: Evidence {
                prm: prm_evidence,
                authorization_server: as_evidence,
            },
            pkce_s256_supported: found.then(|| asm.pkce_s256_supported()),
            issuer: found.then(|| asm.issuer.clone()),
            auth_url: asm.authorization_endpoint,
            token_url: asm.token_endpoint,
            register_url: asm.registration_endpoint,
            token_endpoint_auth_methods_supported: asm.token_endpoint_auth_methods_supported,
            grant_types_supported: asm.grant_types_supported,
            client_id_metadata_document_supported: asm.client_id_metadata_document_supported,
            authorization_response_iss_parameter_supported: asm
                .authorization_response_iss_parameter_supported,
            offline_access_supported: asm.offline_access_supported,
            ..Default::default()
        };
        Ok(self.finish(result))
    }

    /// Adds the recommendation, its message and warnings.
    fn finish(&mut self, mut result: DiscoveryResult) -> DiscoveryResult {
        result.warnings = std::mem::take(&mut self.warnings);
        let rec = recommend::recommend_with_warnings(&result);
        result.recommended_auth_mode = rec.mode;
        result.message = rec.message;
        result.warnings.extend(rec.warnings);
        result
    }

    fn warn(&mut self, w: Warning) {
        self.warnings.push(w);
    }

    async fn probe_answer(&mut self, ticket: Ticket) -> Result<HttpResponse> {
        match self.fetcher.answer(ticket).await.as_ref() {
            Ok(resp) => Ok(resp.clone()),
            Err(e) => Err(probe_error(&self.endpoint, e, self.options.timeout_ms)),
        }
    }

    /// The challenge's `resource_metadata`, resolved against the endpoint.
    fn resource_metadata_url(&mut self, raw: Option<&str>) -> Option<String> {
        let raw = raw?;
        match self.endpoint.join(raw) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u.to_string()),
            _ => {
                self.warn(Warning::new(
                    WarningCode::MalformedChallenge,
                    format!("The challenge's resource_metadata {raw:?} is not a URL: the well-known locations were tried instead."),
                ));
                None
            }
        }
    }

    /// Launches the PRM candidates early, all but the last one unless the challenge named it:
    /// the last is the root URL (or, when the challenge named the root, the path-aware one),
    /// and `auth/metadata-default` treats a root PRM request sent before the path-aware one
    /// failed as a fault (discovery.md §4).
    fn prefetch_prm(&self, from_challenge: Option<&str>) {
        let candidates = metadata::prm_candidates(&self.endpoint, from_challenge);
        let last = candidates.len().saturating_sub(1);
        for (i, u) in candidates.iter().enumerate() {
            if i < last || from_challenge == Some(u.as_str()) {
                self.prefetch(u);
            }
        }
    }

    /// The PRM's authorization servers that are tried: the first
    /// [`metadata::MAX_AUTHORIZATION_SERVERS`], with a warning when there were more.
    fn at_most_tried(&mut self, prm_url: &str, listed: &[String]) -> Vec<String> {
        let max = metadata::MAX_AUTHORIZATION_SERVERS;
        if listed.len() > max {
            self.warn(
                Warning::new(
                    WarningCode::TooManyAuthorizationServers,
                    format!(
                        "The protected resource metadata lists {} authorization servers: only the first {max} were tried.",
                        listed.len()
                    ),
                )
                .with_url(prm_url),
            );
        }
        listed[..listed.len().min(max)].to_vec()
    }

    /// Legacy mode without metadata (discovery.md §3): whether one `GET <origin>/authorize`
    /// shows that the 2025-03-26 default endpoints exist.
    async fn default_endpoints(&mut self, origin: &str) -> Result<bool> {
        let authorize = format!("{origin}/authorize");
        if self.options.policy.check_str(&authorize).is_err() {
            return Ok(false);
        }
        let ticket = self
            .fetcher
            .launch(HttpRequest::get(&authorize).timeout_ms(self.options.timeout_ms));
        let answer = self.fetcher.answer(ticket).await;
        let status = match answer.as_ref() {
            Ok(resp) => resp.status,
            Err(e) if e.kind == TransportErrorKind::Aborted => return Err(aborted()),
            Err(_) => return Ok(false),
        };
        if !metadata::shows_default_endpoints(status) {
            return Ok(false);
        }
        self.fetcher.mark_used(ticket);
        self.warn(
            Warning::new(
                WarningCode::DefaultEndpoints,
                format!(
                    "No metadata, but {authorize} answered HTTP {status}: the 2025-03-26 default endpoints /authorize, /token and /register are used."
                ),
            )
            .with_url(authorize),
        );
        Ok(true)
    }

    fn prefetch(&self, url: &str) {
        if self.options.policy.check_str(url).is_ok() {
            self.fetcher
                .launch(metadata::metadata_request(url, self.options.timeout_ms));
        }
    }

    async fn candidate(&mut self, url: &str) -> Result<Fetched> {
        if let Err(refusal) = self.options.policy.check_str(url) {
            self.warn(
                Warning::new(
                    WarningCode::NetworkError,
                    format!("Not fetched: {}", refusal.message(url)),
                )
                .with_url(url),
            );
            return Ok(Fetched::Refused);
        }
        let ticket = self
            .fetcher
            .launch(metadata::metadata_request(url, self.options.timeout_ms));
        let answer = self.fetcher.answer(ticket).await;
        match answer.as_ref() {
            Ok(_) => Ok(Fetched::Answer(ticket, answer)),
            Err(e) if e.kind == TransportErrorKind::Aborted => Err(aborted()),
            Err(e) => {
                let message = match e.kind {
                    TransportErrorKind::Timeout => {
                        format!("{url} did not answer within {} ms (timeout).", self.options.timeout_ms)
                    }
                    _ => format!(
                        "{url} could not be fetched (network error{}); in a browser this is also how a missing CORS header shows.",
                        detail(&e.message)
                    ),
                };
                self.warn(Warning::new(WarningCode::NetworkError, message).with_url(url));
                Ok(Fetched::Failed)
            }
        }
    }

    fn warn_rejection(&mut self, url: &str, what: &str, rejection: &Rejection) {
        let w = match rejection {
            Rejection::NotFound => return,
            Rejection::TooLarge => Warning::new(
                WarningCode::MetadataTooLarge,
                format!("The {what} at {url} is larger than {} KiB and was ignored.", metadata::MAX_METADATA_BYTES / 1024),
            ),
            Rejection::NotJsonObject => Warning::new(
                WarningCode::MetadataInvalid,
                format!("The {what} at {url} answered 200 but is not a JSON object (an HTML page?) and was ignored."),
            ),
            Rejection::Invalid(reason) => {
                Warning::new(WarningCode::MetadataInvalid, format!("The {what} at {url} is invalid: {reason}."))
            }
        };
        self.warn(w.with_url(url));
    }

    async fn find_protected_resource(
        &mut self,
        from_challenge: Option<&str>,
    ) -> Result<(PrmEvidence, Option<(String, ProtectedResource)>)> {
        let candidates = metadata::prm_candidates(&self.endpoint, from_challenge);
        if self.options.speculate {
            self.prefetch_prm(from_challenge);
        }
        let mut saw_json_object = false;
        for url in candidates {
            let Fetched::Answer(ticket, answer) = self.candidate(&url).await? else {
                continue;
            };
            let Ok(resp) = answer.as_ref() else { continue };
            match metadata::parse_protected_resource(resp) {
                Ok(prm) if metadata::resource_matches(&prm.resource, &self.endpoint) => {
                    self.fetcher.mark_used(ticket);
                    return Ok((PrmEvidence::Usable, Some((url, prm))));
                }
                Ok(prm) => {
                    saw_json_object = true;
                    self.warn(
                        Warning::new(
                            WarningCode::ResourceMismatch,
                            format!(
                                "The protected resource metadata at {url} is for {}, not for {}: it was ignored.",
                                prm.resource, self.endpoint
                            ),
                        )
                        .with_url(url.as_str()),
                    );
                }
                Err(rejection) => {
                    saw_json_object |= rejection.was_json_object();
                    self.warn_rejection(&url, "protected resource metadata", &rejection);
                }
            }
        }
        Ok((
            if saw_json_object {
                PrmEvidence::Unusable
            } else {
                PrmEvidence::None
            },
            None,
        ))
    }

    /// `legacy`: the entry is the endpoint's origin (discovery.md §3, legacy mode), whose
    /// document is used whatever its issuer says, with warning `legacy_metadata`.
    async fn find_authorization_server(
        &mut self,
        entries: &[String],
        legacy: bool,
    ) -> Result<AsSearch> {
        let mut search = AsSearch::default();
        for entry in entries {
            let Some(cands) = metadata::issuer_candidates(entry) else {
                self.warn(
                    Warning::new(
                        WarningCode::MetadataInvalid,
                        format!("The authorization server {entry:?} is not an absolute http(s) URL and was skipped."),
                    )
                    .with_url(entry.as_str()),
                );
                continue;
            };
            if cands.is_metadata_url {
                self.warn(
                    Warning::new(
                        WarningCode::AuthorizationServerIsMetadataUrl,
                        format!("The authorization server is listed by its metadata URL {entry}; it should be the issuer. The URL was fetched directly."),
                    )
                    .with_url(entry.as_str()),
                );
            }
            if self.options.speculate {
                for u in &cands.urls {
                    self.prefetch(u);
                }
            }
            for url in &cands.urls {
                let (ticket, answer) = match self.candidate(url).await? {
                    Fetched::Answer(t, a) => (t, a),
                    Fetched::Failed => {
                        search.saw_network_error = true;
                        continue;
                    }
                    Fetched::Refused => continue,
                };
                let Ok(resp) = answer.as_ref() else { continue };
                let asm = match metadata::parse_authorization_server(resp) {
                    Ok(asm) => asm,
                    Err(rejection) => {
                        search.saw_json_object |= rejection.was_json_object();
                        self.warn_rejection(url, "authorization server metadata", &rejection);
                        continue;
                    }
                };
                search.saw_json_object = true;
                let verdict = if cands.is_metadata_url {
                    if metadata::metadata_url_belongs_to(url, &asm.issuer) {
                        IssuerMatch::Exact
                    } else {
                        IssuerMatch::Mismatch
                    }
                } else {
                    metadata::compare_issuer(&cands.issuer, &asm.issuer)
                };
                match verdict {
                    IssuerMatch::Exact => {}
                    IssuerMatch::TrailingSlash => self.warn(
                        Warning::new(
                            WarningCode::IssuerTrailingSlash,
                            format!("The metadata at {url} names issuer {:?}, which differs from {:?} by a trailing slash only: accepted.", asm.issuer, cands.issuer),
                        )
                        .with_url(url.as_str()),
                    ),
                    IssuerMatch::Mismatch => {
                        let accepted = legacy || self.options.allow_issuer_mismatch;
                        let (code, why) = if legacy {
                            (WarningCode::LegacyMetadata, "used anyway (no protected resource metadata: the server's own origin is its authorization server, as in the 2025-03-26 revision).")
                        } else if accepted {
                            (WarningCode::IssuerMismatch, "used anyway because allow_issuer_mismatch is set.")
                        } else {
                            (WarningCode::IssuerMismatch, "rejected (set allow_issuer_mismatch only if you trust this provider to re-serve another issuer's metadata).")
                        };
                        self.warn(
                            Warning::new(
                                code,
                                format!(
                                    "The metadata at {url} names issuer {:?}, not {:?}: {why}",
                                    asm.issuer, cands.issuer
                                ),
                            )
                            .with_url(url.as_str()),
                        );
                        if !accepted {
                            continue;
                        }
                    }
                }
                self.fetcher.mark_used(ticket);
                search.found = Some(asm);
                return Ok(search);
            }
        }
        Ok(search)
    }
}

fn aborted() -> Error {
    Error::new(
        ErrorCode::Aborted,
        "Discovery was aborted by the caller's signal.",
    )
}

fn detail(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

fn probe_error(endpoint: &Url, e: &TransportError, timeout_ms: u32) -> Error {
    match e.kind {
        TransportErrorKind::Aborted => aborted(),
        TransportErrorKind::Timeout => Error::new(
            ErrorCode::Unreachable,
            format!("{endpoint} did not answer within {timeout_ms} ms: check that the server is up, or raise timeoutMs."),
        ),
        TransportErrorKind::Blocked => Error::new(ErrorCode::BlockedTarget, format!("{endpoint} was refused{}", detail(&e.message))),
        TransportErrorKind::Network => Error::new(
            ErrorCode::Unreachable,
            format!(
                "{endpoint} could not be reached (network error{}): check the URL, DNS and TLS; from a browser the server must also allow CORS.",
                detail(&e.message)
            ),
        ),
    }
}
