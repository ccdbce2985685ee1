//! Protected resource metadata (RFC 9728, "PRM") and authorization server metadata
//! (RFC 8414 / OpenID Connect Discovery, "ASM"): where to look for them, and whether a
//! document is valid and usable (discovery.md §3-§4).

use serde_json::{Map, Value};
use url::Url;

use crate::transport::{HttpRequest, HttpResponse};

/// Largest metadata body read (discovery.md §3).
pub const MAX_METADATA_BYTES: usize = 256 * 1024;

const PRM_WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";
const OAUTH_WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";
const OIDC_WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// The GET request for a metadata document. No custom headers, so that a browser sends it
/// without a CORS preflight.
pub fn metadata_request(url: &str, timeout_ms: u32) -> HttpRequest {
    HttpRequest::get(url)
        .header("accept", "application/json")
        .timeout_ms(timeout_ms)
        .max_body_bytes(MAX_METADATA_BYTES)
}

/// The endpoint as the result's `resource` when there is no PRM: scheme and host lower-cased,
/// a scheme's default port dropped, path and query as given, fragment dropped, and no trailing
/// slash added to a bare origin.
pub fn canonical_endpoint(raw: &str, url: &Url) -> String {
    let mut u = url.clone();
    u.set_fragment(None);
    let s = u.to_string();
    let raw_before_query = raw.split(['?', '#']).next().unwrap_or(raw);
    let bare_origin = url.path() == "/" && !raw_before_query.trim_end().ends_with('/');
    if bare_origin {
        let origin = url.origin().ascii_serialization();
        match url.query() {
            Some(q) => format!("{origin}?{q}"),
            None => origin,
        }
    } else {
        s
    }
}

/// The origin's serialisation (`https://host[:port]`), used as the legacy issuer.
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// The most authorization servers of one PRM that are tried (issue 9: a PRM listing thousands
/// must not make discovery fetch thousands of documents).
pub const MAX_AUTHORIZATION_SERVERS: usize = 5;

/// The root PRM URL (`<origin>/.well-known/oauth-protected-resource`), the last candidate:
/// never requested before the challenge's and the path-aware candidates have failed
/// (discovery.md §4, `auth/metadata-default`).
pub fn prm_root(endpoint: &Url) -> String {
    format!("{}{PRM_WELL_KNOWN}", origin(endpoint))
}

/// Whether the answer to `GET <origin>/authorize` shows that the default endpoints exist:
/// anything but 401, 403, 404 and 405 (a login page, a redirect, a 400 for the missing
/// parameters, even a 500 from a handler that expected them).
pub fn shows_default_endpoints(status: u16) -> bool {
    status != 0 && !matches!(status, 401 | 403 | 404 | 405)
}

/// PRM candidates in order (discovery.md §3): the challenge's `resource_metadata`, the
/// path-aware well-known URL (not for an empty or `/` path), the root well-known URL.
/// A URL listed twice is kept once, at its first place.
pub fn prm_candidates(endpoint: &Url, from_challenge: Option<&str>) -> Vec<String> {
    let origin = origin(endpoint);
    let mut out: Vec<String> = Vec::with_capacity(3);
    if let Some(u) = from_challenge {
        out.push(u.to_owned());
    }
    let path = endpoint.path().strip_suffix('/').unwrap_or(endpoint.path());
    if !path.is_empty() {
        out.push(format!("{origin}{PRM_WELL_KNOWN}{path}"));
    }
    out.push(prm_root(endpoint));
    dedup_in_order(out)
}

fn dedup_in_order(v: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(v.len());
    for s in v {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// A usable protected resource metadata document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedResource {
    pub resource: String,
    pub authorization_servers: Vec<String>,
    pub scopes_supported: Vec<String>,
}

/// Why a metadata answer was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not a 200 (including redirects): counts as not found, no warning.
    NotFound,
    /// Body over [`MAX_METADATA_BYTES`].
    TooLarge,
    /// 200 but not a JSON object (an HTML page, garbage).
    NotJsonObject,
    /// A JSON object missing or mistyping required members: the reason.
    Invalid(String),
}

impl Rejection {
    /// Whether the answer was a 200 with a JSON object (it counts as evidence).
    pub fn was_json_object(&self) -> bool {
        matches!(self, Rejection::Invalid(_))
    }
}

/// The JSON object of a 200 answer within the size limit.
pub fn json_object(resp: &HttpResponse) -> Result<Map<String, Value>, Rejection> {
    if resp.status != 200 {
        return Err(Rejection::NotFound);
    }
    if resp.body_too_large || resp.body.len() > MAX_METADATA_BYTES {
        return Err(Rejection::TooLarge);
    }
    match serde_json::from_str::<Value>(resp.body.trim_start_matches('\u{feff}')) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Rejection::NotJsonObject),
    }
}

/// Judges a PRM answer: 200, a JSON object, `resource` a string, `authorization_servers` a
/// non-empty array of strings.
pub fn parse_protected_resource(resp: &HttpResponse) -> Result<ProtectedResource, Rejection> {
    let doc = json_object(resp)?;
    let resource = match doc.get("resource") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return Err(Rejection::Invalid(
                "`resource` is missing or not a string".into(),
            ))
        }
    };
    let authorization_servers = match string_array(doc.get("authorization_servers")) {
        Some(v) if !v.is_empty() => v,
        _ => {
            return Err(Rejection::Invalid(
                "`authorization_servers` is missing, empty or not an array of strings".into(),
            ))
        }
    };
    let scopes_supported = string_array(doc.get("scopes_supported")).unwrap_or_default();
    Ok(ProtectedResource {
        resource,
        authorization_servers,
        scopes_supported,
    })
}

fn string_array(v: Option<&Value>) -> Option<Vec<String>> {
    let Value::Array(items) = v? else { return None };
    items
        .iter()
        .map(|i| i.as_str().map(str::to_owned))
        .collect()
}

/// The resource check (discovery.md §3): the PRM `resource` equals the endpoint or is a prefix
/// of it ending on a path-segment boundary, comparing scheme, host, port (default dropped) and
/// path, after removing one trailing slash from each path.
pub fn resource_matches(resource: &str, endpoint: &Url) -> bool {
    let Ok(r) = Url::parse(resource) else {
        return false;
    };
    if r.scheme() != endpoint.scheme()
        || r.host_str().map(str::to_ascii_lowercase)
            != endpoint.host_str().map(str::to_ascii_lowercase)
        || r.port_or_known_default() != endpoint.port_or_known_default()
    {
        return false;
    }
    let rp = r.path().strip_suffix('/').unwrap_or(r.path());
    let ep = endpoint.path().strip_suffix('/').unwrap_or(endpoint.path());
    ep == rp || (ep.starts_with(rp) && ep[rp.len()..].starts_with('/'))
}

/// Where to look for one authorization server's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerCandidates {
    /// The issuer string as listed (what a document's `issuer` must equal).
    pub issuer: String,
    /// Candidate URLs in order.
    pub urls: Vec<String>,
    /// The listed entry was itself a metadata URL (a mistake seen in the wild).
    pub is_metadata_url: bool,
}

/// The RFC 8414 / OIDC candidate URLs for an issuer, in the order of discovery.md §4.
/// One terminating slash of the path is removed first. `None` for a string that is not an
/// absolute http(s) URL.
pub fn issuer_metadata_urls(issuer: &str) -> Option<Vec<String>> {
    let url = Url::parse(issuer).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    let origin = origin(&url);
    let path = url.path().strip_suffix('/').unwrap_or(url.path());
    Some(if path.is_empty() {
        vec![
            format!("{origin}{OAUTH_WELL_KNOWN}"),
            format!("{origin}{OIDC_WELL_KNOWN}"),
        ]
    } else {
        vec![
            format!("{origin}{OAUTH_WELL_KNOWN}{path}"),
            format!("{origin}{OIDC_WELL_KNOWN}{path}"),
            format!("{origin}{path}{OIDC_WELL_KNOWN}"),
            format!("{origin}{path}{OAUTH_WELL_KNOWN}"),
        ]
    })
}

/// The candidates for one `authorization_servers` entry.
pub fn issuer_candidates(entry: &str) -> Option<IssuerCandidates> {
    let url = Url::parse(entry).ok()?;
    let path = url.path();
    if path.ends_with(OAUTH_WELL_KNOWN) || path.ends_with(OIDC_WELL_KNOWN) {
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        return Some(IssuerCandidates {
            issuer: entry.to_owned(),
            urls: vec![entry.to_owned()],
            is_metadata_url: true,
        });
    }
    Some(IssuerCandidates {
        issuer: entry.to_owned(),
        urls: issuer_metadata_urls(entry)?,
        is_metadata_url: false,
    })
}

/// How a document's `issuer` compares with the expected one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuerMatch {
    Exact,
    /// Differs by one trailing slash only: tolerated with a warning.
    TrailingSlash,
    Mismatch,
}

/// Compares a document's `issuer` with the issuer its URL was built from (no normalisation).
pub fn compare_issuer(expected: &str, actual: &str) -> IssuerMatch {
    if expected == actual {
        IssuerMatch::Exact
    } else if expected.strip_suffix('/') == Some(actual)
        || actual.strip_suffix('/') == Some(expected)
    {
        IssuerMatch::TrailingSlash
    } else {
        IssuerMatch::Mismatch
    }
}

/// For an entry that was a metadata URL: the document is acceptable when that URL is one of
/// the candidates its own `issuer` builds.
pub fn metadata_url_belongs_to(metadata_url: &str, issuer: &str) -> bool {
    issuer_metadata_urls(issuer).is_some_and(|urls| urls.iter().any(|u| u == metadata_url))
}

/// The members of an authorization server metadata document that this project uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationServer {
    pub issuer: String,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub registration_endpoint: Option<String>,
    pub code_challenge_methods_supported: Option<Vec<String>>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub grant_types_supported: Vec<String>,
    pub client_id_metadata_document_supported: bool,
    pub authorization_response_iss_parameter_supported: bool,
    /// `scopes_supported` lists `offline_access` (discovery.md §8).
    pub offline_access_supported: bool,
}

impl AuthorizationServer {
    /// `code_challenge_methods_supported` lists `S256`.
    pub fn pkce_s256_supported(&self) -> bool {
        self.code_challenge_methods_supported
            .as_ref()
            .is_some_and(|m| m.iter().any(|x| x == "S256"))
    }
}

/// Judges an ASM answer's shape: 200, a JSON object, `issuer` a string, endpoints absolute
/// URLs, at least one of `authorization_endpoint` and `token_endpoint`. The issuer comparison
/// is the caller's (it knows what was expected).
pub fn parse_authorization_server(resp: &HttpResponse) -> Result<AuthorizationServer, Rejection> {
    let doc = json_object(resp)?;
    let issuer = match doc.get("issuer") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return Err(Rejection::Invalid(
                "`issuer` is missing or not a string".into(),
            ))
        }
    };
    let endpoint = |name: &str| -> Result<Option<String>, Rejection> {
        match doc.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => match Url::parse(s) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(Some(s.clone())),
                _ => Err(Rejection::Invalid(format!(
                    "`{name}` is not an absolute http(s) URL"
                ))),
            },
            Some(_) => Err(Rejection::Invalid(format!("`{name}` is not a string"))),
        }
    };
    let list = |name: &str| -> Result<Option<Vec<String>>, Rejection> {
        match doc.get(name) {
            None | Some(Value::Null) => Ok(None),
            v => string_array(v)
                .map(Some)
                .ok_or_else(|| Rejection::Invalid(format!("`{name}` is not an array of strings"))),
        }
    };
    let flag = |name: &str| doc.get(name).and_then(Value::as_bool).unwrap_or(false);
    let asm = AuthorizationServer {
        authorization_endpoint: endpoint("authorization_endpoint")?,
        token_endpoint: endpoint("token_endpoint")?,
        registration_endpoint: endpoint("registration_endpoint")?,
        code_challenge_methods_supported: list("code_challenge_methods_supported")?,
        token_endpoint_auth_methods_supported: list("token_endpoint_auth_methods_supported")?
            .unwrap_or_default(),
        grant_types_supported: list("grant_types_supported")?.unwrap_or_default(),
        client_id_metadata_document_supported: flag("client_id_metadata_document_supported"),
        authorization_response_iss_parameter_supported: flag(
            "authorization_response_iss_parameter_supported",
        ),
        // A malformed `scopes_supported` only means offline_access is not known to be there.
        offline_access_supported: string_array(doc.get("scopes_supported"))
            .is_some_and(|s| s.iter().any(|x| x == "offline_access")),
        issuer,
    };
    if asm.authorization_endpoint.is_none() && asm.token_endpoint.is_none() {
        return Err(Rejection::Invalid(
            "neither `authorization_endpoint` nor `token_endpoint` is present".into(),
        ));
    }
    Ok(asm)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn ok_json(body: &str) -> HttpResponse {
        HttpResponse {
            status: 200,
            body: body.into(),
            ..Default::default()
        }
    }

    #[test]
    fn canonical_endpoint_never_adds_a_slash_to_a_bare_origin() {
        assert_eq!(
            canonical_endpoint("https://MCP.Stripe.com", &url("https://MCP.Stripe.com")),
            "https://mcp.stripe.com"
        );
        assert_eq!(
            canonical_endpoint(
                "https://mcp.example.com:443",
                &url("https://mcp.example.com:443")
            ),
            "https://mcp.example.com"
        );
        assert_eq!(
            canonical_endpoint("https://h.example/", &url("https://h.example/")),
            "https://h.example/"
        );
        assert_eq!(
            canonical_endpoint(
                "https://h.example/Mcp?x=1#f",
                &url("https://h.example/Mcp?x=1#f")
            ),
            "https://h.example/Mcp?x=1"
        );
        assert_eq!(
            canonical_endpoint("https://h.example?x=1", &url("https://h.example?x=1")),
            "https://h.example?x=1"
        );
    }

    #[test]
    fn legacy_defaults() {
        for s in [200, 302, 400, 500] {
            assert!(shows_default_endpoints(s), "{s}");
        }
        for s in [0, 401, 403, 404, 405] {
            assert!(!shows_default_endpoints(s), "{s}");
        }
        assert_eq!(
            prm_root(&url("https://a.example:8443/x/y")),
            "https://a.example:8443/.well-known/oauth-protected-resource"
        );
    }

    #[test]
    fn prm_candidates_follow_the_spec_order() {
        assert_eq!(
            prm_candidates(&url("https://a.example/mcp/?q=1"), None),
            [
                "https://a.example/.well-known/oauth-protected-resource/mcp",
                "https://a.example/.well-known/oauth-protected-resource"
            ]
        );
        assert_eq!(
            prm_candidates(&url("https://a.example"), None),
            ["https://a.example/.well-known/oauth-protected-resource"]
        );
        assert_eq!(
            prm_candidates(
                &url("https://a.example/x"),
                Some("https://a.example/.well-known/oauth-protected-resource")
            ),
            [
                "https://a.example/.well-known/oauth-protected-resource",
                "https://a.example/.well-known/oauth-protected-resource/x"
            ]
        );
    }

    #[test]
    fn resource_check_is_segment_aware() {
        let ep = url("https://API.example.com:443/mcp/");
        assert!(resource_matches("https://api.example.com/mcp", &ep));
        assert!(resource_matches("https://api.example.com", &ep));
        assert!(resource_matches("https://api.example.com/", &ep));
        assert!(resource_matches("https://api.example.com/mcp/?x#y", &ep));
        assert!(!resource_matches("https://api.example.com/mc", &ep));
        assert!(!resource_matches("https://api.example.com/mcp/sub", &ep));
        assert!(!resource_matches("http://api.example.com/mcp", &ep));
        assert!(!resource_matches("https://api.example.com:8443/mcp", &ep));
        assert!(!resource_matches("https://other.example.com/mcp", &ep));
        assert!(!resource_matches("not a url", &ep));
        assert!(resource_matches(
            "https://h.example/a",
            &url("https://h.example/a/b/c")
        ));
    }

    #[test]
    fn issuer_candidates_follow_rfc8414_then_oidc() {
        assert_eq!(
            issuer_metadata_urls("https://auth.example.com/tenant1/").unwrap(),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/.well-known/openid-configuration/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration",
                "https://auth.example.com/tenant1/.well-known/oauth-authorization-server",
            ]
        );
        assert_eq!(
            issuer_metadata_urls("https://calendly.com/").unwrap(),
            [
                "https://calendly.com/.well-known/oauth-authorization-server",
                "https://calendly.com/.well-known/openid-configuration"
            ]
        );
        assert_eq!(issuer_metadata_urls("urn:x"), None);
        let c = issuer_candidates("https://idp.example/.well-known/openid-configuration").unwrap();
        assert!(c.is_metadata_url);
        assert!(metadata_url_belongs_to(
            "https://idp.example/.well-known/openid-configuration",
            "https://idp.example"
        ));
        assert!(!metadata_url_belongs_to(
            "https://idp.example/.well-known/openid-configuration",
            "https://other.example"
        ));
    }

    #[test]
    fn issuer_comparison_tolerates_one_trailing_slash_only() {
        assert_eq!(
            compare_issuer("https://a.example", "https://a.example"),
            IssuerMatch::Exact
        );
        assert_eq!(
            compare_issuer("https://a.example", "https://a.example/"),
            IssuerMatch::TrailingSlash
        );
        assert_eq!(
            compare_issuer("https://a.example/", "https://a.example"),
            IssuerMatch::TrailingSlash
        );
        assert_eq!(
            compare_issuer("https://a.example", "https://a.example//"),
            IssuerMatch::Mismatch
        );
        assert_eq!(
            compare_issuer("https://a.example", "https://A.example"),
            IssuerMatch::Mismatch
        );
    }

    #[test]
    fn prm_validation() {
        assert!(parse_protected_resource(&ok_json(
            r#"{"resource":"https://a","authorization_servers":["https://b"]}"#
        ))
        .is_ok());
        assert_eq!(
            parse_protected_resource(&ok_json("<!DOCTYPE html><html></html>")),
            Err(Rejection::NotJsonObject)
        );
        assert_eq!(
            parse_protected_resource(&ok_json("[1]")),
            Err(Rejection::NotJsonObject)
        );
        assert!(matches!(
            parse_protected_resource(&ok_json(
                r#"{"resource":"https://a","authorization_servers":[]}"#
            )),
            Err(Rejection::Invalid(_))
        ));
        assert!(matches!(
            parse_protected_resource(&ok_json(
                r#"{"resource":"https://a","authorization_servers":[1]}"#
            )),
            Err(Rejection::Invalid(_))
        ));
        let big = HttpResponse {
            status: 200,
            body_too_large: true,
            ..Default::default()
        };
        assert_eq!(parse_protected_resource(&big), Err(Rejection::TooLarge));
        assert_eq!(
            parse_protected_resource(&HttpResponse::new(404)),
            Err(Rejection::NotFound)
        );
        assert_eq!(
            parse_protected_resource(&HttpResponse::new(301)),
            Err(Rejection::NotFound)
        );
    }

    #[test]
    fn asm_validation() {
        let a = parse_authorization_server(&ok_json(
            r#"{"issuer":"https://i","token_endpoint":"https://i/t","code_challenge_methods_supported":["plain","S256"]}"#,
        ))
        .unwrap();
        assert!(a.pkce_s256_supported());
        assert!(a.token_endpoint_auth_methods_supported.is_empty());
        assert!(matches!(
            parse_authorization_server(&ok_json(r#"{"issuer":"https://i"}"#)),
            Err(Rejection::Invalid(_))
        ));
        assert!(matches!(
            parse_authorization_server(&ok_json(
                r#"{"issuer":"https://i","token_endpoint":"/relative"}"#
            )),
            Err(Rejection::Invalid(_))
        ));
        assert!(matches!(
            parse_authorization_server(&ok_json(
                r#"{"issuer":"https://i","token_endpoint":"https://i/t","grant_types_supported":"x"}"#
            )),
            Err(Rejection::Invalid(_))
        ));
    }
}
