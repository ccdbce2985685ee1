//! The authorization request URL (RFC 6749 §4.1.1 with PKCE and RFC 8707 `resource`,
//! discovery.md §8).
//!
//! The mix-up defences that judge the response (a redirect URI per server, RFC 9207 `iss`) are
//! in `mixup`, re-exported here.

use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

use crate::error::{Error, ErrorCode, Result};
use crate::pkce::CODE_CHALLENGE_METHOD;

mod mixup;

pub use mixup::{check_iss, redirect_matches, server_redirect_uri, IssRefusal, SERVER_PARAM};

/// The parameters of `buildAuthorizationUrl`. Unknown fields are refused so that a typo
/// (`scope` for `scopes`) never drops a value silently; `scopes` may be absent or null.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationRequest {
    pub auth_url: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub state: String,
    pub code_challenge: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub scopes: Vec<String>,
    pub resource: String,
}

/// The fields [`AuthorizationRequest::from_json`] reads, in declaration order.
pub(crate) const READ_FIELDS: &[&str] = &[
    "auth_url",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "scopes",
    "resource",
];

impl AuthorizationRequest {
    /// Reads the parameters exactly as their `Deserialize` does (unknown fields refused,
    /// `scopes` absent or `null` is empty, every other field required), with serde_json's
    /// messages (see [`crate::transport`]'s `shape` for the rules). The npm package uses this
    /// instead of serde's typed deserialization, which would make its wasm much larger.
    pub fn from_json(v: &serde_json::Value) -> crate::transport::shape::Read<Self> {
        use crate::transport::shape::{option, string, strings, Fields};
        let f = Fields::of(v, READ_FIELDS)?;
        let mut got: [Option<String>; 7] = Default::default();
        let mut scopes = Vec::new();
        for &(k, v) in &f.entries {
            let under = |e: crate::transport::shape::ReadError| e.under(k);
            match f.index(k) {
                Some(5) => scopes = option(v, strings).map_err(under)?.unwrap_or_default(),
                Some(i) => got[i] = Some(string(v).map_err(under)?),
                None => return Err(f.unknown(k)),
            }
        }
        for (i, name) in READ_FIELDS.iter().enumerate() {
            f.require(name, i == 5 || got[i].is_some())?;
        }
        let [auth_url, client_id, redirect_uri, state, code_challenge, _, resource] =
            got.map(Option::unwrap_or_default);
        Ok(AuthorizationRequest {
            auth_url,
            client_id,
            redirect_uri,
            state,
            code_challenge,
            scopes,
            resource,
        })
    }
}

/// The query parameters this module sets; an `auth_url` already carrying one is refused.
pub const AUTHORIZATION_PARAMS: [&str; 8] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "scope",
    "resource",
];

/// The authorization URL: `auth_url` with `response_type=code`, `client_id`, `redirect_uri`,
/// `state`, `code_challenge`, `code_challenge_method=S256`, `scope` (space-joined, only when
/// there are scopes) and `resource` appended, in that order. A query `auth_url` already has
/// (`?audience=...`) is kept as it is.
pub fn build_authorization_url(req: &AuthorizationRequest) -> Result<String> {
    let mut url = http_url("auth_url", &req.auth_url)?;
    if url.fragment().is_some() {
        return Err(invalid(
            "auth_url",
            &req.auth_url,
            "has a #fragment: remove it (RFC 6749 §3.1)",
        ));
    }
    if let Some((name, _)) = url
        .query_pairs()
        .find(|(name, _)| AUTHORIZATION_PARAMS.contains(&name.as_ref()))
    {
        return Err(invalid(
            "auth_url",
            &req.auth_url,
            &format!(
                "already has the query parameter {name:?}, which the authorization request \
                 sets: remove it from auth_url (pass it as its own field)"
            ),
        ));
    }
    let redirect = http_url("redirect_uri", &req.redirect_uri)?;
    if redirect.fragment().is_some() {
        return Err(invalid(
            "redirect_uri",
            &req.redirect_uri,
            "has a #fragment: remove it (RFC 6749 §3.1.2)",
        ));
    }
    non_empty("client_id", &req.client_id)?;
    non_empty("state", &req.state)?;
    check_challenge(&req.code_challenge)?;
    check_resource(&req.resource)?;
    let scope = scope_param(&req.scopes)?;

    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &req.client_id)
            .append_pair("redirect_uri", &req.redirect_uri)
            .append_pair("state", &req.state)
            .append_pair("code_challenge", &req.code_challenge)
            .append_pair("code_challenge_method", CODE_CHALLENGE_METHOD);
        if let Some(scope) = &scope {
            q.append_pair("scope", scope);
        }
        q.append_pair("resource", &req.resource);
    }
    Ok(url.into())
}

/// Scopes joined by spaces, `None` when there are none. Each scope must be a non-empty
/// The `offline_access` scope (OpenID Connect Core §11): asks for a refresh token.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// The scopes of an authorization request (discovery.md §8, 2026-07-28): the challenge's
/// `scope` when there is one (authoritative), else the PRM's `scopes_supported`, else none;
/// plus `offline_access` when the authorization server lists it and it is not there yet
/// (SEP-2207: never assume a refresh token, ask for one only where it exists). Duplicates
/// are dropped, order kept.
pub fn authorization_scopes(
    challenge_scopes: Option<&[String]>,
    prm_scopes: &[String],
    offline_access_supported: bool,
) -> Vec<String> {
    let base = match challenge_scopes {
        Some(c) if !c.is_empty() => c,
        _ => prm_scopes,
    };
    let mut out: Vec<String> = Vec::new();
    for s in base {
        if !s.is_empty() && !out.contains(s) {
            out.push(s.clone());
        }
    }
    if offline_access_supported && !out.iter().any(|s| s == OFFLINE_ACCESS) {
        out.push(OFFLINE_ACCESS.to_owned());
    }
    out
}

/// The union of two scope lists, `first`'s order then the new ones of `second` (SEP-2350: a
/// step-up asks for what was granted plus what was challenged, never a subset).
pub fn scope_union(first: &[String], second: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in first.iter().chain(second) {
        if !s.is_empty() && !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

/// RFC 6749 §3.3 scope-token (printable ASCII without space, `"` or `\`).
pub(crate) fn scope_param(scopes: &[String]) -> Result<Option<String>> {
    for (i, s) in scopes.iter().enumerate() {
        let ok = !s.is_empty()
            && s.bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\');
        if !ok {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                format!(
                    "scopes[{i}] = {s:?} is not a single OAuth scope: give one non-empty scope \
                     per array item, without spaces, quotes or backslashes"
                ),
            ));
        }
    }
    Ok((!scopes.is_empty()).then(|| scopes.join(" ")))
}

/// Parses an absolute `http:`/`https:` URL, or fails with `InvalidArgument` naming `field`.
pub(crate) fn http_url(field: &str, value: &str) -> Result<Url> {
    let url = Url::parse(value).map_err(|_| {
        invalid(
            field,
            value,
            "is not an absolute URL: give the full https:// URL",
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(
            field,
            value,
            "is not an http(s) URL with a host: give the full https:// URL",
        ));
    }
    Ok(url)
}

fn invalid(field: &str, value: &str, problem: &str) -> Error {
    Error::new(
        ErrorCode::InvalidArgument,
        format!("{field} {value:?} {problem}"),
    )
}

pub(crate) fn non_empty(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            format!("{field} is empty: supply it"),
        ));
    }
    Ok(())
}

fn check_challenge(challenge: &str) -> Result<()> {
    let ok = challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            format!(
                "code_challenge {challenge:?} is not an S256 challenge (43 base64url \
                 characters): pass the code_challenge of generatePkce() or pkceChallenge(verifier)"
            ),
        ));
    }
    Ok(())
}

/// RFC 8707 §2: an absolute URI without a fragment.
pub(crate) fn check_resource(resource: &str) -> Result<()> {
    non_empty("resource", resource)?;
    match Url::parse(resource) {
        Ok(u) if u.fragment().is_none() => Ok(()),
        Ok(_) => Err(invalid(
            "resource",
            resource,
            "has a #fragment: remove it (RFC 8707 §2)",
        )),
        Err(_) => Err(invalid(
            "resource",
            resource,
            "is not an absolute URI: give the MCP server's canonical URL (RFC 8707 §2)",
        )),
    }
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn req() -> AuthorizationRequest {
        AuthorizationRequest {
            auth_url: "https://auth.example.com/authorize".into(),
            client_id: "client 1".into(),
            redirect_uri: "https://w.example.com/service/mcp/consent/callback".into(),
            state: "st4te_-".into(),
            code_challenge: CHALLENGE.into(),
            scopes: vec!["mcp:read".into(), "offline_access".into()],
            resource: "https://mcp.example.com/mcp".into(),
        }
    }

    fn pairs(url: &str) -> Vec<(String, String)> {
        Url::parse(url)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn err(r: &AuthorizationRequest) -> Error {
        build_authorization_url(r).unwrap_err()
    }

    #[test]
    fn exact_url_with_every_parameter_in_order() {
        assert_eq!(
            build_authorization_url(&req()).unwrap(),
            "https://auth.example.com/authorize?response_type=code&client_id=client+1\
             &redirect_uri=https%3A%2F%2Fw.example.com%2Fservice%2Fmcp%2Fconsent%2Fcallback\
             &state=st4te_-&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
             &code_challenge_method=S256&scope=mcp%3Aread+offline_access\
             &resource=https%3A%2F%2Fmcp.example.com%2Fmcp"
        );
    }

    #[test]
    fn decoded_parameters_round_trip() {
        let url = build_authorization_url(&req()).unwrap();
        let p = pairs(&url);
        let want: Vec<(String, String)> = [
            ("response_type", "code"),
            ("client_id", "client 1"),
            (
                "redirect_uri",
                "https://w.example.com/service/mcp/consent/callback",
            ),
            ("state", "st4te_-"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("scope", "mcp:read offline_access"),
            ("resource", "https://mcp.example.com/mcp"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(p, want);
    }

    #[test]
    fn scope_is_omitted_without_scopes_and_resource_is_always_sent() {
        let mut r = req();
        r.scopes.clear();
        let url = build_authorization_url(&r).unwrap();
        let names: Vec<String> = pairs(&url).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            names,
            [
                "response_type",
                "client_id",
                "redirect_uri",
                "state",
                "code_challenge",
                "code_challenge_method",
                "resource"
            ]
        );
    }

    #[test]
    fn keeps_an_existing_query_verbatim() {
        let mut r = req();
        r.auth_url = "https://tenant.auth0.com/authorize?audience=https%3A%2F%2Fapi&x=1".into();
        r.scopes.clear();
        let url = build_authorization_url(&r).unwrap();
        assert!(
            url.starts_with(
                "https://tenant.auth0.com/authorize?audience=https%3A%2F%2Fapi&x=1&response_type=code&"
            ),
            "{url}"
        );
        let p = pairs(&url);
        assert_eq!(p[0], ("audience".into(), "https://api".into()));
        assert_eq!(p[1], ("x".into(), "1".into()));
        assert_eq!(p.len(), 9);
    }

    #[test]
    fn refuses_an_auth_url_that_already_sets_one_of_our_parameters() {
        for name in AUTHORIZATION_PARAMS {
            let mut r = req();
            r.auth_url = format!("https://auth.example.com/authorize?a=1&{name}=x");
            let e = err(&r);
            assert_eq!(e.code, ErrorCode::InvalidArgument);
            assert!(e.message.starts_with("auth_url "), "{e}");
            assert!(e.message.contains(&format!("{name:?}")), "{e}");
        }
        // Percent-encoded names are the same parameter.
        let mut r = req();
        r.auth_url = "https://auth.example.com/authorize?sc%6Fpe=x".into();
        assert!(err(&r).message.contains("\"scope\""));
    }

    #[test]
    fn validates_urls_naming_the_field() {
        for (field, bad) in [
            ("auth_url", "/authorize"),
            ("auth_url", "ftp://auth.example.com/a"),
            ("auth_url", "not a url"),
            ("auth_url", "https://auth.example.com/authorize#frag"),
            ("redirect_uri", "callback"),
            ("redirect_uri", "javascript:alert(1)"),
            ("redirect_uri", "https://w.example.com/cb#x"),
        ] {
            let mut r = req();
            match field {
                "auth_url" => r.auth_url = bad.into(),
                _ => r.redirect_uri = bad.into(),
            }
            let e = err(&r);
            assert_eq!(e.code, ErrorCode::InvalidArgument, "{bad}");
            assert!(e.message.starts_with(&format!("{field} {bad:?}")), "{e}");
        }
        let mut r = req();
        r.auth_url = "http://127.0.0.1:9000/authorize".into();
        r.redirect_uri = "http://localhost:8787/service/mcp/consent/callback".into();
        assert!(build_authorization_url(&r).is_ok());
    }

    #[test]
    fn validates_the_other_fields() {
        let mut r = req();
        r.client_id = " ".into();
        assert_eq!(err(&r).message, "client_id is empty: supply it");
        let mut r = req();
        r.state = String::new();
        assert_eq!(err(&r).message, "state is empty: supply it");
        let mut r = req();
        r.code_challenge = "plain-verifier".into();
        assert!(err(&r)
            .message
            .starts_with("code_challenge \"plain-verifier\" is not an S256"));
        let mut r = req();
        r.resource = String::new();
        assert_eq!(err(&r).message, "resource is empty: supply it");
        let mut r = req();
        r.resource = "mcp.example.com".into();
        assert!(err(&r).message.contains("is not an absolute URI"));
        let mut r = req();
        r.resource = "https://mcp.example.com/mcp#x".into();
        assert!(err(&r).message.contains("#fragment"));
        for bad in ["", "a b", "quo\"te", "tab\t"] {
            let mut r = req();
            r.scopes = vec!["ok".into(), bad.into()];
            let e = err(&r);
            assert_eq!(e.code, ErrorCode::InvalidArgument);
            assert!(e.message.starts_with("scopes[1] = "), "{e}");
        }
    }

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scopes_challenge_first_then_prm_plus_offline_access_when_listed() {
        let prm = v(&["mcp:read", "mcp:write"]);
        let challenge = v(&["mcp:admin"]);
        assert_eq!(
            authorization_scopes(Some(&challenge), &prm, false),
            ["mcp:admin"]
        );
        assert_eq!(
            authorization_scopes(Some(&challenge), &prm, true),
            ["mcp:admin", "offline_access"]
        );
        assert_eq!(
            authorization_scopes(None, &prm, false),
            ["mcp:read", "mcp:write"]
        );
        assert_eq!(
            authorization_scopes(Some(&[]), &prm, true),
            ["mcp:read", "mcp:write", "offline_access"]
        );
        assert_eq!(authorization_scopes(None, &[], true), ["offline_access"]);
        assert!(authorization_scopes(None, &[], false).is_empty());
        // Never twice, order kept.
        assert_eq!(
            authorization_scopes(None, &v(&["offline_access", "a", "a"]), true),
            ["offline_access", "a"]
        );
    }

    #[test]
    fn step_up_asks_for_the_union_never_a_subset() {
        assert_eq!(
            scope_union(&v(&["a", "b"]), &v(&["b", "c"])),
            ["a", "b", "c"]
        );
        assert_eq!(scope_union(&[], &v(&["c"])), ["c"]);
        assert_eq!(scope_union(&v(&["a"]), &[]), ["a"]);
    }

    #[test]
    fn deserializes_the_api_shape() {
        let r: AuthorizationRequest = serde_json::from_value(serde_json::json!({
            "auth_url": "https://auth.example.com/authorize",
            "client_id": "c",
            "redirect_uri": "https://w.example.com/cb",
            "state": "s",
            "code_challenge": CHALLENGE,
            "resource": "https://mcp.example.com/mcp",
        }))
        .unwrap();
        assert!(r.scopes.is_empty());
        let mut v = serde_json::to_value(&r).unwrap();
        v["scopes"] = serde_json::Value::Null;
        let r2: AuthorizationRequest = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(r, r2);
        v["scope"] = "typo".into();
        let e = serde_json::from_value::<AuthorizationRequest>(v).unwrap_err();
        assert!(e.to_string().contains("unknown field `scope`"), "{e}");
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod reader_tests {
    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::*;
    use crate::transport::shape::testing::{agrees, json, samples};

    /// The reader's fields, then `scope` (a likely typo of `scopes`) as a key to generate.
    fn fields() -> &'static [&'static str] {
        static FIELDS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        FIELDS.get_or_init(|| [READ_FIELDS, &["scope"]].concat())
    }

    fn base() -> Value {
        json!({
            "auth_url": "https://auth.example.com/authorize",
            "client_id": "c",
            "redirect_uri": "https://w.example.com/cb",
            "state": "s",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "scopes": ["a", "b"],
            "resource": "https://mcp.example.com/mcp",
        })
    }

    fn same(v: &Value) {
        agrees(v, AuthorizationRequest::from_json);
    }

    fn refused(v: &Value) -> String {
        AuthorizationRequest::from_json(v).unwrap_err().to_string()
    }

    #[test]
    fn reads_the_api_shape_objects_only_with_problems_by_path() {
        let r = AuthorizationRequest::from_json(&base()).unwrap();
        assert_eq!(r.scopes, ["a", "b"]);
        let mut v = base();
        v["scopes"] = Value::Null;
        assert!(AuthorizationRequest::from_json(&v)
            .unwrap()
            .scopes
            .is_empty());
        v.as_object_mut().unwrap().remove("scopes");
        assert!(AuthorizationRequest::from_json(&v)
            .unwrap()
            .scopes
            .is_empty());
        v["scope"] = "typo".into();
        assert_eq!(
            refused(&v),
            "scope: is not a field here: use one of `auth_url`, `client_id`, \
             `redirect_uri`, `state`, `code_challenge`, `scopes`, `resource`"
        );
        assert_eq!(
            refused(&json!({"auth_url": "nope"})),
            "client_id: is required"
        );
        assert_eq!(refused(&Value::Null), "must be an object, not null");
        let as_array: Vec<Value> = READ_FIELDS.iter().map(|f| base()[*f].clone()).collect();
        assert_eq!(
            refused(&Value::Array(as_array)),
            "must be an object, not an array"
        );
        let mut v = base();
        v["scopes"] = json!(["a", {"b": 1}]);
        assert_eq!(refused(&v), "scopes[1]: must be a string, not an object");
    }

    #[test]
    fn every_field_with_every_kind_of_value_reads_as_serde_does_or_names_the_quirk() {
        same(&base());
        for sample in samples(fields()) {
            same(&sample);
            for field in fields() {
                let mut v = base();
                v[*field] = sample.clone();
                same(&v);
                v.as_object_mut().unwrap().remove(*field);
                same(&v);
            }
        }
        let fields: Vec<Value> = READ_FIELDS.iter().map(|f| base()[*f].clone()).collect();
        for n in 0..=8 {
            let mut items: Vec<Value> = fields.iter().take(n).cloned().collect();
            if n == 8 {
                items.push(json!(1));
            }
            same(&Value::Array(items.clone()));
            if n > 5 {
                items[5] = Value::Null;
                same(&Value::Array(items));
            }
        }
    }

    proptest! {
        #[test]
        fn random_values_read_as_serde_does_or_name_the_quirk(v in json(fields())) {
            same(&v);
            if let Value::Object(m) = &v {
                let mut b = base();
                b.as_object_mut().unwrap().extend(m.clone());
                same(&b);
            }
        }
    }
}
