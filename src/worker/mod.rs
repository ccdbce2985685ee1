//! The Cloudflare Worker: the control plane (`/ai/...`, admin key), the runtime plane
//! (`/service/mcp/...`, session tickets) and the consent callback, with state in D1.
//!
//! This module and its children are the adapter: they translate HTTP to calls into the core
//! (provision, discovery, registration, token, consent, ticket, seal) and D1 statements. Built
//! only for wasm32 with the `worker` feature, by worker-build.
//!
//! Three layers, and imports only go down: [`route`] dispatches to the route modules, which
//! parse and answer (`control`, `access`, `challenge`, `check`, `platform`, `runtime`,
//! `flows`); services hold the rules several routes share (`servers`, `callers`, `tokens`,
//! `connections`, `clients`, `step_ups`, `sealed`, `events`, `idempotency`); `store` holds
//! every SQL statement. Every refusal is an [`ApiError`] (`error`), answered in one place.

// No panic reachable from a request (issue 9 item 13): errors are values here.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

mod access;
mod callers;
mod challenge;
mod check;
mod clients;
mod connections;
mod control;
mod error;
mod events;
mod fetch;
mod flows;
mod http;
mod idempotency;
mod platform;
mod runtime;
mod sealed;
mod servers;
mod step_ups;
mod store;
mod tokens;

use worker::{event, Context, Env, MessageBatch, Method, Request, Response};

use crate::seal::SealKey;
use crate::target::TargetPolicy;
use crate::ticket::TicketKey;
use error::{ApiError, ApiResult};
use http::with_cors;

pub const CALLBACK_PATH: &str = "/service/mcp/consent/callback";

/// The shortest `ADMIN_API_KEY` accepted, in characters.
const MIN_ADMIN_KEY_CHARS: usize = 32;

/// The deployment's settings, from Worker variables and secrets.
pub struct Settings {
    pub admin_key: String,
    pub ticket_key: TicketKey,
    pub seal_key: SealKey,
    pub public_origin: String,
    pub allow_private: bool,
    pub allowed_origins: Vec<String>,
    /// A token counts as expired this long before its `expires_at` (`REFRESH_LEEWAY_SECONDS`,
    /// default 30).
    pub refresh_leeway: u64,
    /// `WEBHOOK_URL` and `WEBHOOK_SECRET`: where events are POSTed, signed (events.rs).
    pub webhook: Option<Webhook>,
    /// The queue the webhook deliveries go through (binding `WEBHOOK_QUEUE`).
    pub webhook_queue: Option<worker::Queue>,
    /// `WEBHOOK_RETRY_BASE_SECONDS` (default 30): the first retry's delay, doubled per try.
    pub webhook_retry_base: u32,
    /// `CIMD_URL`: a client ID metadata document served elsewhere, used as the CIMD
    /// `client_id` of every server; `None`: the Worker serves one per server.
    pub cimd_url: Option<String>,
    /// `connect` calls allowed per actor and minute (`CONNECT_RATE_PER_MINUTE`, default 20).
    pub connect_per_minute: u64,
    /// Runtime `discover` calls allowed per actor and minute (`DISCOVER_RATE_PER_MINUTE`,
    /// default 10).
    pub discover_per_minute: u64,
}

/// The webhook's target and signing key.
pub struct Webhook {
    pub url: String,
    pub key: crate::webhook::WebhookKey,
}

impl Settings {
    fn from_env(env: &Env) -> Result<Settings, String> {
        let read = |name: &str| -> Option<String> {
            env.secret(name)
                .map(|v| v.to_string())
                .or_else(|_| env.var(name).map(|v| v.to_string()))
                .ok()
        };
        let need = |name: &str| {
            read(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("{name} is not set"))
        };
        let admin_key = need("ADMIN_API_KEY")?;
        if admin_key.chars().count() < MIN_ADMIN_KEY_CHARS {
            return Err(format!(
                "ADMIN_API_KEY must be at least {MIN_ADMIN_KEY_CHARS} characters; generate one \
                 with `openssl rand -base64 32`"
            ));
        }
        let ticket_secret = need("TICKET_KEY")?;
        if ticket_secret == admin_key {
            return Err(
                "TICKET_KEY and ADMIN_API_KEY must be different values: generate a second key"
                    .into(),
            );
        }
        let ticket_key = TicketKey::new(&ticket_secret).map_err(|e| e.to_string())?;
        let seal_key = SealKey::from_base64(&need("SEAL_KEY")?).map_err(|e| e.to_string())?;
        let allow_private = read("ALLOW_PRIVATE_TARGETS").is_some_and(|v| v.trim() == "true");
        let public_origin = need("PUBLIC_ORIGIN")?
            .trim()
            .trim_end_matches('/')
            .to_owned();
        let policy = if allow_private {
            TargetPolicy::SERVER_DEV
        } else {
            TargetPolicy::SERVER
        };
        match url::Url::parse(&public_origin) {
            Ok(u) if u.path() == "/" && u.query().is_none() && policy.check(&u).is_ok() => {}
            _ => {
                return Err(
                    "PUBLIC_ORIGIN must be the Worker's https origin, without a path".into(),
                )
            }
        }
        let allowed_origins = read("ALLOWED_RETURN_ORIGINS")
            .unwrap_or_default()
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        let refresh_leeway = match read("REFRESH_LEEWAY_SECONDS") {
            None => 30,
            Some(v) => v.trim().parse().map_err(|_| {
                "REFRESH_LEEWAY_SECONDS must be a whole number of seconds".to_owned()
            })?,
        };
        let webhook = match (
            read("WEBHOOK_URL").filter(|v| !v.trim().is_empty()),
            read("WEBHOOK_SECRET"),
        ) {
            (None, _) => None,
            (Some(url), secret) => {
                let key = secret
                    .map(crate::secret::Secret::new)
                    .and_then(|s| crate::webhook::WebhookKey::new(&s))
                    .ok_or("WEBHOOK_URL is set without WEBHOOK_SECRET: set both (or neither)")?;
                let url = url.trim().to_owned();
                if policy.check_str(&url).is_err() {
                    return Err("WEBHOOK_URL must be an https URL the Worker may reach".into());
                }
                Some(Webhook { url, key })
            }
        };
        let webhook_retry_base = match read("WEBHOOK_RETRY_BASE_SECONDS") {
            None => 30,
            Some(v) => v.trim().parse().map_err(|_| {
                "WEBHOOK_RETRY_BASE_SECONDS must be a whole number of seconds".to_owned()
            })?,
        };
        let cimd_url = match read("CIMD_URL").filter(|v| !v.trim().is_empty()) {
            None => None,
            Some(v) => match url::Url::parse(v.trim()) {
                Ok(u) if u.scheme() == "https" && u.fragment().is_none() => {
                    Some(v.trim().to_owned())
                }
                _ => return Err("CIMD_URL must be an https URL without a fragment".into()),
            },
        };
        let per_minute = |name: &str, default: u64| -> Result<u64, String> {
            match read(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse()
                    .map_err(|_| format!("{name} must be a whole number of calls")),
            }
        };
        let connect_per_minute = per_minute("CONNECT_RATE_PER_MINUTE", 20)?;
        let discover_per_minute = per_minute("DISCOVER_RATE_PER_MINUTE", 10)?;
        Ok(Settings {
            cimd_url,
            admin_key,
            ticket_key,
            seal_key,
            public_origin,
            allow_private,
            allowed_origins,
            refresh_leeway,
            webhook,
            webhook_queue: env.queue(events::QUEUE_BINDING).ok(),
            webhook_retry_base,
            connect_per_minute,
            discover_per_minute,
        })
    }

    pub fn policy(&self) -> TargetPolicy {
        if self.allow_private {
            TargetPolicy::SERVER_DEV
        } else {
            TargetPolicy::SERVER
        }
    }

    /// The binding cookie is `__Host-` prefixed and `Secure` when the Worker is served over
    /// https (plain http only on loopback in development).
    pub fn secure_cookies(&self) -> bool {
        self.public_origin.starts_with("https://")
    }

    pub fn callback_url(&self) -> String {
        format!("{}{CALLBACK_PATH}", self.public_origin)
    }

    pub fn transport(&self) -> fetch::WorkerTransport {
        fetch::WorkerTransport {
            policy: self.policy(),
        }
    }
}

/// Unix seconds now.
pub fn now() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

/// RFC 3339 (UTC) of unix seconds.
pub fn rfc3339(secs: u64) -> String {
    let iso: String = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(secs as f64 * 1000.0))
        .to_iso_string()
        .into();
    // "2026-11-26T12:00:00.000Z" -> "2026-11-26T12:00:00Z"
    match iso.split_once('.') {
        Some((head, _)) => format!("{head}Z"),
        None => iso,
    }
}

/// A fresh request id (`x-request-id` on every answer, and in the request's log line).
fn request_id() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    format!(
        "req-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let id = request_id();
    let (method, path) = (req.method(), req.path());
    let mut resp = handle(req, env, &id).await?;
    let headers = resp.headers_mut();
    let _ = headers.set("x-request-id", &id);
    if headers.has("access-control-allow-origin").unwrap_or(false) {
        // Browsers may read the id too (to quote it in a support request).
        let _ = headers.set("access-control-expose-headers", "x-request-id");
    }
    worker::console_log!("{id} {method} {path} {}", resp.status_code());
    Ok(resp)
}

/// The queue consumer: webhook deliveries of events (events.rs).
#[event(queue)]
async fn queue(
    batch: MessageBatch<events::Delivery>,
    env: Env,
    _ctx: Context,
) -> worker::Result<()> {
    let settings = match Settings::from_env(&env) {
        Ok(s) => s,
        Err(problem) => {
            worker::console_error!("configuration: {problem}; webhook deliveries retried later");
            batch.retry_all();
            return Ok(());
        }
    };
    events::deliver_batch(batch, &env.d1("DB")?, &settings).await
}

async fn handle(req: Request, env: Env, request_id: &str) -> worker::Result<Response> {
    let settings = match Settings::from_env(&env) {
        Ok(s) => s,
        Err(problem) => {
            // The detail is for the operator (the log); callers learn only that the Worker
            // is misconfigured. Nothing in it is a secret's value.
            worker::console_error!("{request_id} configuration: {problem}");
            return Ok(ApiError::Misconfigured.into_response());
        }
    };
    let origin = req.headers().get("origin").ok().flatten();
    let path = req.path();
    let runtime_plane = http::is_cors_path(&path);
    let result = route(req, &env, &settings).await;
    let resp = match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    Ok(if runtime_plane {
        with_cors(resp, origin.as_deref(), &settings.allowed_origins)
    } else {
        resp
    })
}

async fn route(mut req: Request, env: &Env, s: &Settings) -> ApiResult {
    let method = req.method();
    let path = req.path();
    let decoded = decode_segments(&path)?;
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let db = || env.d1("DB").map_err(ApiError::from);
    match (method, segments.as_slice()) {
        (Method::Get, ["service", "mcp", "consent", "callback"]) => match db() {
            Ok(db) => flows::callback(&req, &db, s).await,
            Err(e) => Err(e),
        }
        .or_else(flows::navigation_failure),
        (Method::Post, ["service", "mcp", "consent", "start"]) => match db() {
            Ok(db) => flows::start(&mut req, &db, s).await,
            Err(e) => Err(e),
        }
        .or_else(flows::navigation_failure),
        (Method::Options, ["service", "mcp", "agents", ..])
        | (Method::Options, ["service", "mcp", "consent", "flows", _])
        | (Method::Options, ["service", "mcp", "discover"]) => Ok(http::no_content()),
        (Method::Get, ["service", "mcp", "consent", "flows", flow_id]) => {
            flows::status(&req, &db()?, s, flow_id).await
        }
        (Method::Post, ["service", "mcp", "discover"]) => {
            flows::discover_route(&mut req, &db()?, s).await
        }
        (Method::Get, [".well-known", "mcp-authlink", "servers", id, "client-metadata.json"]) => {
            clients::metadata_document(&db()?, s, id).await
        }
        (m, ["service", "mcp", "agents", agent, "servers", rest @ ..]) => {
            let claims = callers::authenticate_agent(&req, s, agent)?;
            match (m, rest) {
                (Method::Get, []) => runtime::list(&db()?, &claims, agent).await,
                (Method::Post, [id, "connect"]) => {
                    flows::connect(&mut req, &db()?, s, &claims, agent, id).await
                }
                (Method::Post, [id, "disconnect"]) => {
                    runtime::disconnect(&db()?, s, &claims, agent, id).await
                }
                _ => Err(ApiError::NoRoute),
            }
        }
        (m, ["ai", rest @ ..]) => {
            callers::authenticate_admin(&req, s)?;
            let db = db()?;
            match (m, rest) {
                (Method::Get, ["connections"]) => platform::list_connections(&req, &db, s).await,
                (Method::Delete, ["connections"]) => {
                    platform::delete_connections_of_actor(&req, &db, s).await
                }
                (Method::Delete, ["connections", id]) => {
                    platform::delete_connection(&db, s, id).await
                }
                (Method::Get, ["events"]) => platform::list_events(&req, &db).await,
                (Method::Post, ["agents", agent, "mcp-servers", id, "check"]) => {
                    check::run(&mut req, &db, s, agent, id).await
                }
                (Method::Post, ["agents", agent, "mcp-servers", id, "access-token"]) => {
                    access::access_token(&mut req, &db, s, agent, id).await
                }
                (Method::Post, ["agents", agent, "mcp-servers", id, "challenge"]) => {
                    challenge::challenge(&mut req, &db, s, agent, id).await
                }
                (m, rest) => control::route(m, rest, &mut req, &db, s).await,
            }
        }
        _ => Err(ApiError::NoRoute),
    }
}

/// The path's segments, percent-decoded (ids such as `alice@example.com` or `auth0|65f0c1`
/// arrive encoded); 400 when one is not UTF-8 once decoded.
fn decode_segments(path: &str) -> ApiResult<Vec<String>> {
    path.trim_matches('/')
        .split('/')
        .map(|seg| {
            percent_encoding::percent_decode_str(seg)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| ApiError::BadPathSegment)
        })
        .collect()
}
