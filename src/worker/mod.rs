//! The Cloudflare Worker: the control plane (`/ai/...`, admin key), the runtime plane
//! (`/service/mcp/...`, session tickets) and the consent callback, with state in D1.
//!
//! This module and its children are the adapter: they translate HTTP to calls into the core
//! (provision, discovery, registration, token, consent, ticket, seal) and D1 statements. Built
//! only for wasm32 with the `worker` feature, by worker-build.

mod challenge;
mod clients;
mod control;
mod fetch;
mod flows;
mod http;
mod runtime;
mod store;
mod tokens;

use worker::{event, Context, Env, Method, Request, Response};

use crate::seal::SealKey;
use crate::target::TargetPolicy;
use crate::ticket::TicketKey;
use http::{with_cors, ApiError, ApiResult};

pub const CALLBACK_PATH: &str = "/service/mcp/consent/callback";

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
    /// The CIMD `client_id`: the URL of the client ID metadata document
    /// (`CIMD_URL`, default `PUBLIC_ORIGIN` + [`clients::CIMD_PATH`]).
    pub client_metadata_url: String,
    /// `connect` calls allowed per actor and minute (`CONNECT_RATE_PER_MINUTE`, default 20).
    pub connect_per_minute: u64,
    /// Runtime `discover` calls allowed per actor and minute (`DISCOVER_RATE_PER_MINUTE`,
    /// default 10).
    pub discover_per_minute: u64,
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
        if admin_key.len() < 8 {
            return Err("ADMIN_API_KEY is too short: use a long random value".into());
        }
        let ticket_key = TicketKey::new(&need("TICKET_KEY")?).map_err(|e| e.to_string())?;
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
        let client_metadata_url = match read("CIMD_URL").filter(|v| !v.trim().is_empty()) {
            None => format!("{public_origin}{}", clients::CIMD_PATH),
            Some(v) => match url::Url::parse(v.trim()) {
                Ok(u) if u.scheme() == "https" && u.fragment().is_none() => v.trim().to_owned(),
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
            client_metadata_url,
            admin_key,
            ticket_key,
            seal_key,
            public_origin,
            allow_private,
            allowed_origins,
            refresh_leeway,
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

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let settings = match Settings::from_env(&env) {
        Ok(s) => s,
        Err(problem) => {
            worker::console_error!("configuration: {problem}");
            return ApiError::new(
                500,
                "misconfigured",
                format!("The Worker is misconfigured: {problem}."),
            )
            .into_response();
        }
    };
    let origin = req.headers().get("origin").ok().flatten();
    let path = req.path();
    let runtime_plane = http::is_cors_path(&path);
    let result = route(req, &env, &settings).await;
    let resp = match result {
        Ok(r) => r,
        Err(e) => e.into_response()?,
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
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
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
        (Method::Get, [".well-known", "mcp-authlink", "client-metadata.json"]) => {
            clients::metadata_document(s)
        }
        (m, ["service", "mcp", "agents", agent, "servers", rest @ ..]) => {
            let claims = runtime::authenticate(&req, s, agent)?;
            match (m, rest) {
                (Method::Get, []) => runtime::list(&db()?, &claims, agent).await,
                (Method::Post, [id, "connect"]) => {
                    flows::connect(&mut req, &db()?, s, &claims, agent, id).await
                }
                (Method::Post, [id, "disconnect"]) => {
                    runtime::disconnect(&db()?, &claims, agent, id).await
                }
                _ => Err(not_found()),
            }
        }
        (m, ["ai", ..]) => {
            control::authenticate(&req, s)?;
            control::route(m, &segments[1..], &mut req, &db()?, s).await
        }
        _ => Err(not_found()),
    }
}

pub fn not_found() -> ApiError {
    ApiError::new(404, "not_found", "No such route: see the API in README.md.")
}
