//! The DiscoveryResult (discovery.md §5): what discovery learned about one endpoint.
//!
//! A module of its own because two concepts read it: the procedure that fills it
//! ([`crate::discovery`]) and the recommendation that judges it ([`crate::recommend`]), which
//! thereby depend on it and not on each other. `crate::discovery` re-exports it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth_mode::AuthMode;
use crate::transport::shape::{self, Fields, Read};
use crate::warning::{Warning, WarningCode};

/// Whether protected resource metadata was found (`evidence.prm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrmEvidence {
    /// A PRM document was accepted.
    Usable,
    /// None was accepted, but some candidate answered 200 with a JSON object.
    Unusable,
    #[default]
    None,
}

/// Whether authorization server metadata was found (`evidence.authorization_server`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AsEvidence {
    /// A document was accepted.
    Usable,
    /// None was, but some candidate answered 200 with a JSON object.
    Rejected,
    /// Neither, but some candidate failed with a network error.
    Unreachable,
    #[default]
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Evidence {
    #[serde(default)]
    pub prm: PrmEvidence,
    #[serde(default)]
    pub authorization_server: AsEvidence,
}

/// How a request of the trace ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The answer decided part of the result.
    Used,
    /// Any other answer (404, invalid, rejected, or not needed).
    Skipped,
    NetworkError,
    Timeout,
}

/// One request discovery sent, in the order sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceEntry {
    pub method: String,
    pub url: String,
    /// `null` when no response arrived (or for a browser's opaque redirect).
    pub status: Option<u16>,
    /// Whole milliseconds from send to answer.
    pub ms: u32,
    pub outcome: Outcome,
}

impl TraceEntry {
    /// The entry as `serde_json::to_string` writes it (fields in declaration order), built
    /// from its `Value`: the npm package then needs no second JSON writer for `onStep`.
    pub fn to_json(&self) -> String {
        let Ok(Value::Object(map)) = serde_json::to_value(self) else {
            return String::new();
        };
        let mut out = String::from("{");
        // The names are plain identifiers: written as they are.
        for k in ["method", "url", "status", "ms", "outcome"] {
            if let Some(v) = map.get(k) {
                if out.len() > 1 {
                    out.push(',');
                }
                out.push('"');
                out.push_str(k);
                out.push_str("\":");
                out.push_str(&v.to_string());
            }
        }
        out.push('}');
        out
    }
}

/// The result of `discover`. Field names are the HTTP API's snake_case.
///
/// Every field has a serde default so that `recommendAuthMode` accepts a result that a
/// person edited or trimmed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DiscoveryResult {
    #[serde(default)]
    pub requires_auth: bool,
    #[serde(default)]
    pub recommended_auth_mode: Option<AuthMode>,
    /// `authorization_endpoint`.
    #[serde(default)]
    pub auth_url: Option<String>,
    /// `token_endpoint`.
    #[serde(default)]
    pub token_url: Option<String>,
    /// `registration_endpoint`.
    #[serde(default)]
    pub register_url: Option<String>,
    /// The PRM URL that was used.
    #[serde(default)]
    pub resource_metadata_url: Option<String>,
    #[serde(default)]
    pub resource: Option<String>,
    /// Challenge scope, else PRM `scopes_supported`, else empty.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// As advertised; empty when absent.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub pkce_s256_supported: Option<bool>,
    #[serde(default)]
    pub client_id_metadata_document_supported: bool,
    #[serde(default)]
    pub grant_types_supported: Vec<String>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// The authorization server's `scopes_supported` lists `offline_access` (discovery.md §8:
    /// the authorization request then asks for it).
    #[serde(default)]
    pub offline_access_supported: bool,
    #[serde(default)]
    pub evidence: Evidence,
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// Not read back by `recommendAuthMode` or hydration: a result handed back in may carry
    /// any trace (or none).
    #[serde(default, skip_deserializing)]
    pub trace: Vec<TraceEntry>,
}

impl PrmEvidence {
    pub const ALL: [PrmEvidence; 3] = [
        PrmEvidence::Usable,
        PrmEvidence::Unusable,
        PrmEvidence::None,
    ];
    const NAMES: [&str; 3] = ["usable", "unusable", "none"];
}

impl AsEvidence {
    pub const ALL: [AsEvidence; 4] = [
        AsEvidence::Usable,
        AsEvidence::Rejected,
        AsEvidence::Unreachable,
        AsEvidence::None,
    ];
    const NAMES: [&str; 4] = ["usable", "rejected", "unreachable", "none"];
}

/// Every warning code with its name (the test `enum_names_are_serdes` keeps the list whole
/// and the names right).
const WARNING_CODES: [(WarningCode, &str); 18] = [
    (WarningCode::ChallengeOnSuccess, "challenge_on_success"),
    (WarningCode::Redirected, "redirected"),
    (WarningCode::Inconclusive, "inconclusive"),
    (WarningCode::EndpointNotFound, "endpoint_not_found"),
    (WarningCode::MalformedChallenge, "malformed_challenge"),
    (WarningCode::DuplicateParam, "duplicate_param"),
    (WarningCode::NetworkError, "network_error"),
    (WarningCode::MetadataInvalid, "metadata_invalid"),
    (WarningCode::MetadataTooLarge, "metadata_too_large"),
    (WarningCode::ResourceMismatch, "resource_mismatch"),
    (
        WarningCode::AuthorizationServerIsMetadataUrl,
        "authorization_server_is_metadata_url",
    ),
    (WarningCode::IssuerMismatch, "issuer_mismatch"),
    (WarningCode::IssuerTrailingSlash, "issuer_trailing_slash"),
    (WarningCode::PkceNotAdvertised, "pkce_not_advertised"),
    (
        WarningCode::UnsupportedClientAuth,
        "unsupported_client_auth",
    ),
    (WarningCode::LegacyMetadata, "legacy_metadata"),
    (WarningCode::DefaultEndpoints, "default_endpoints"),
    (
        WarningCode::TooManyAuthorizationServers,
        "too_many_authorization_servers",
    ),
];

fn auth_mode(v: &Value) -> Read<AuthMode> {
    let i = shape::variant(v, &AuthMode::ALL.map(AuthMode::as_str))?;
    Ok(AuthMode::ALL[i])
}

fn evidence(v: &Value) -> Read<Evidence> {
    let f = Fields::of(v, &["prm", "authorization_server"])?;
    let mut e = Evidence::default();
    for &(k, v) in &f.entries {
        let under = |err: shape::ReadError| err.under(k);
        match f.index(k) {
            Some(0) => {
                e.prm = PrmEvidence::ALL[shape::variant(v, &PrmEvidence::NAMES).map_err(under)?]
            }
            Some(_) => {
                e.authorization_server =
                    AsEvidence::ALL[shape::variant(v, &AsEvidence::NAMES).map_err(under)?]
            }
            None => {}
        }
    }
    Ok(e)
}

fn warning(v: &Value) -> Read<Warning> {
    let f = Fields::of(v, &["code", "message", "url", "status"])?;
    let (mut code, mut message) = (None, None);
    let mut w = Warning::new(WarningCode::Inconclusive, "");
    for &(k, v) in &f.entries {
        let under = |err: shape::ReadError| err.under(k);
        match f.index(k) {
            Some(0) => {
                let i = shape::variant(v, &WARNING_CODES.map(|(_, name)| name)).map_err(under)?;
                code = Some(WARNING_CODES[i].0)
            }
            Some(1) => message = Some(shape::string(v).map_err(under)?),
            Some(2) => w.url = shape::option(v, shape::string).map_err(under)?,
            Some(_) => {
                w.status = shape::option(v, |v| shape::unsigned(v, u16::MAX.into()))
                    .map_err(under)?
                    .map(|n| n as u16)
            }
            None => {}
        }
    }
    f.require("code", code.is_some())?;
    f.require("message", message.is_some())?;
    w.code = code.unwrap_or(w.code);
    w.message = message.unwrap_or_default();
    Ok(w)
}

/// The fields [`DiscoveryResult::from_json`] reads, in declaration order (`trace` is never
/// read back).
pub(crate) const READ_FIELDS: &[&str] = &[
    "requires_auth",
    "recommended_auth_mode",
    "auth_url",
    "token_url",
    "register_url",
    "resource_metadata_url",
    "resource",
    "scopes",
    "token_endpoint_auth_methods_supported",
    "authorization_servers",
    "message",
    "issuer",
    "pkce_s256_supported",
    "client_id_metadata_document_supported",
    "grant_types_supported",
    "authorization_response_iss_parameter_supported",
    "offline_access_supported",
    "evidence",
    "warnings",
];

impl DiscoveryResult {
    /// Reads a result handed back in (`recommendAuthMode`, hydration, registration methods)
    /// exactly as its `Deserialize` does: every field defaulted, unknown fields and `trace`
    /// ignored, a field of the wrong type refused with serde_json's message (see
    /// [`crate::transport`]'s `shape` for the rules). The npm package uses this instead of
    /// serde's typed deserialization, which would make its wasm much larger.
    pub fn from_json(v: &Value) -> Read<DiscoveryResult> {
        let f = Fields::of(v, READ_FIELDS)?;
        let mut r = DiscoveryResult::default();
        for &(k, v) in &f.entries {
            let Some(i) = f.index(k) else { continue };
            r.read_field(i, v).map_err(|e| e.under(k))?;
        }
        Ok(r)
    }

    /// Reads the field numbered `i` in [`READ_FIELDS`].
    fn read_field(&mut self, i: usize, v: &Value) -> Read<()> {
        let r = self;
        {
            match i {
                2..=6 | 11 => {
                    *match i {
                        2 => &mut r.auth_url,
                        3 => &mut r.token_url,
                        4 => &mut r.register_url,
                        5 => &mut r.resource_metadata_url,
                        6 => &mut r.resource,
                        _ => &mut r.issuer,
                    } = shape::option(v, shape::string)?
                }
                7..=9 | 14 => {
                    *match i {
                        7 => &mut r.scopes,
                        8 => &mut r.token_endpoint_auth_methods_supported,
                        9 => &mut r.authorization_servers,
                        _ => &mut r.grant_types_supported,
                    } = shape::strings(v)?
                }
                0 | 13 | 15 | 16 => {
                    *match i {
                        0 => &mut r.requires_auth,
                        13 => &mut r.client_id_metadata_document_supported,
                        15 => &mut r.authorization_response_iss_parameter_supported,
                        _ => &mut r.offline_access_supported,
                    } = shape::boolean(v)?
                }
                1 => r.recommended_auth_mode = shape::option(v, auth_mode)?,
                10 => r.message = shape::string(v)?,
                12 => r.pkce_s256_supported = shape::option(v, shape::boolean)?,
                17 => r.evidence = evidence(v)?,
                _ => r.warnings = shape::seq(v, warning)?,
            }
        }
        Ok(())
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::transport::shape::testing::{agrees, json, name_of, samples};
    use crate::transport::shape::ReadError;

    /// The reader's fields, then other words the generators may use as keys.
    fn fields() -> &'static [&'static str] {
        static FIELDS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        FIELDS.get_or_init(|| {
            let extra: &[&str] = &[
                "trace",
                "prm",
                "authorization_server",
                "code",
                "url",
                "status",
                "other",
                "token",
                "usable",
                "rejected",
                "none",
                "issuer_mismatch",
                "oauth_client_credentials",
            ];
            [READ_FIELDS, extra].concat()
        })
    }

    fn full() -> DiscoveryResult {
        DiscoveryResult {
            requires_auth: true,
            recommended_auth_mode: Some(AuthMode::OauthAuthorizationCodeConfidentialPkce),
            auth_url: Some("https://as.example/authorize".into()),
            token_url: Some("https://as.example/token".into()),
            register_url: Some("https://as.example/register".into()),
            resource_metadata_url: Some(
                "https://mcp.example/.well-known/oauth-protected-resource".into(),
            ),
            resource: Some("https://mcp.example/mcp".into()),
            scopes: vec!["mcp:read".into()],
            token_endpoint_auth_methods_supported: vec!["client_secret_basic".into()],
            authorization_servers: vec!["https://as.example".into()],
            message: "m".into(),
            issuer: Some("https://as.example".into()),
            pkce_s256_supported: Some(true),
            client_id_metadata_document_supported: true,
            grant_types_supported: vec!["authorization_code".into()],
            authorization_response_iss_parameter_supported: true,
            offline_access_supported: true,
            evidence: Evidence {
                prm: PrmEvidence::Usable,
                authorization_server: AsEvidence::Rejected,
            },
            warnings: vec![Warning::new(WarningCode::IssuerMismatch, "w")
                .with_url("https://as.example")
                .with_status(200)],
            trace: vec![TraceEntry {
                method: "GET".into(),
                url: "https://mcp.example/mcp".into(),
                status: Some(401),
                ms: 3,
                outcome: Outcome::Used,
            }],
        }
    }

    fn same(v: &Value) {
        agrees(v, DiscoveryResult::from_json);
    }

    fn refused(v: Value) -> String {
        DiscoveryResult::from_json(&v).unwrap_err().to_string()
    }

    #[test]
    fn reads_a_result_back() {
        let mut want = full();
        let v = serde_json::to_value(&want).unwrap();
        want.trace.clear();
        assert_eq!(DiscoveryResult::from_json(&v), Ok(want));
        assert_eq!(
            DiscoveryResult::from_json(&json!({})),
            Ok(DiscoveryResult::default())
        );
        assert_eq!(
            DiscoveryResult::from_json(&json!({"requires_auth": "yes"})),
            Err(ReadError {
                path: "requires_auth".into(),
                problem: "must be true or false, not a string".into()
            })
        );
        assert_eq!(refused(json!(null)), "must be an object, not null");
        assert_eq!(
            refused(json!({"recommended_auth_mode": "magic"})),
            "recommended_auth_mode: must be one of \
             `oauth_authorization_code_public_pkce`, \
             `oauth_authorization_code_confidential_pkce`, `oauth_client_credentials`, `token`, \
             not \"magic\""
        );
    }

    #[test]
    fn objects_only_and_problems_by_path() {
        // serde's quirks are not the API: a struct as an array, a variant as an object.
        let base = serde_json::to_value(full()).unwrap();
        let as_array: Vec<Value> = READ_FIELDS.iter().map(|f| base[*f].clone()).collect();
        assert_eq!(
            refused(Value::Array(as_array)),
            "must be an object, not an array"
        );
        assert_eq!(
            refused(json!({"recommended_auth_mode": {"token": null}})),
            "recommended_auth_mode: must be one of `oauth_authorization_code_public_pkce`, \
             `oauth_authorization_code_confidential_pkce`, `oauth_client_credentials`, `token`, \
             not an object"
        );
        assert_eq!(
            refused(json!({"evidence": ["usable", "usable"]})),
            "evidence: must be an object, not an array"
        );
        let prm = refused(json!({"evidence": {"prm": "maybe"}}));
        assert!(prm.starts_with("evidence.prm: must be "), "{prm}");
        assert!(prm.ends_with(", not \"maybe\""), "{prm}");
        assert_eq!(
            refused(json!({"scopes": ["a", 2]})),
            "scopes[1]: must be a string, not a number"
        );
        assert_eq!(
            refused(
                json!({"warnings": [{"code": "redirected", "message": "m"}, {"code": "redirected", "message": "m", "status": 70000}]})
            ),
            "warnings[1].status: must be a whole number from 0 to 65535, not a number"
        );
        assert_eq!(
            refused(json!({"warnings": [{"message": "m"}]})),
            "warnings[0].code: is required"
        );
        assert_eq!(
            refused(json!({"warnings": [["redirected", "m"]]})),
            "warnings[0]: must be an object, not an array"
        );
    }

    #[test]
    fn every_field_with_every_kind_of_value_reads_as_serde_does_or_names_the_quirk() {
        let base = serde_json::to_value(full()).unwrap();
        same(&base);
        for sample in samples(fields()) {
            same(&sample);
            for field in fields() {
                let mut v = base.clone();
                v[field] = sample.clone();
                same(&v);
                let mut v = base.clone();
                v["evidence"][field] = sample.clone();
                same(&v);
                let mut v = base.clone();
                v["warnings"][0][field] = sample.clone();
                same(&v);
            }
        }
        // As arrays of fields in order, short and long.
        let fields: Vec<Value> = READ_FIELDS.iter().map(|f| base[*f].clone()).collect();
        for n in 0..=fields.len() + 1 {
            let mut items: Vec<Value> = fields.iter().take(n).cloned().collect();
            if n > fields.len() {
                items.push(json!(1));
            }
            same(&Value::Array(items));
        }
        for n in 0..6 {
            let warning = [
                json!("redirected"),
                json!("m"),
                json!(null),
                json!(3),
                json!(1),
            ];
            let v =
                json!({ "warnings": [warning[..n].to_vec()], "evidence": warning[..n].to_vec() });
            same(&v);
        }
    }

    #[test]
    fn trace_entry_json_is_serdes() {
        for (method, url, status, outcome) in [
            ("GET", "https://mcp.example/mcp", Some(401), Outcome::Used),
            (
                "POST",
                "https://x.example/\"q\"\\é\u{1}",
                None,
                Outcome::NetworkError,
            ),
            ("", "", Some(0), Outcome::Timeout),
        ] {
            let e = TraceEntry {
                method: method.into(),
                url: url.into(),
                status,
                ms: 4_000_000_000,
                outcome,
            };
            assert_eq!(e.to_json(), serde_json::to_string(&e).unwrap());
        }
    }

    #[test]
    fn enum_names_are_serdes() {
        // Adding a warning code breaks this match: add it to WARNING_CODES as well.
        let index = |c: WarningCode| match c {
            WarningCode::ChallengeOnSuccess => 0,
            WarningCode::Redirected => 1,
            WarningCode::Inconclusive => 2,
            WarningCode::EndpointNotFound => 3,
            WarningCode::MalformedChallenge => 4,
            WarningCode::DuplicateParam => 5,
            WarningCode::NetworkError => 6,
            WarningCode::MetadataInvalid => 7,
            WarningCode::MetadataTooLarge => 8,
            WarningCode::ResourceMismatch => 9,
            WarningCode::AuthorizationServerIsMetadataUrl => 10,
            WarningCode::IssuerMismatch => 11,
            WarningCode::IssuerTrailingSlash => 12,
            WarningCode::PkceNotAdvertised => 13,
            WarningCode::UnsupportedClientAuth => 14,
            WarningCode::LegacyMetadata => 15,
            WarningCode::DefaultEndpoints => 16,
            WarningCode::TooManyAuthorizationServers => 17,
        };
        for (i, (c, name)) in WARNING_CODES.into_iter().enumerate() {
            assert_eq!(index(c), i);
            assert_eq!(name_of(&c), name);
        }
        for (e, name) in PrmEvidence::ALL.iter().zip(PrmEvidence::NAMES) {
            assert_eq!(name_of(e), name);
        }
        for (e, name) in AsEvidence::ALL.iter().zip(AsEvidence::NAMES) {
            assert_eq!(name_of(e), name);
        }
        for m in AuthMode::ALL {
            assert_eq!(name_of(&m), m.as_str());
            assert_eq!(auth_mode(&json!(m.as_str())), Ok(m));
        }
    }

    proptest! {
        #[test]
        fn random_values_read_as_serde_does_or_name_the_quirk(v in json(fields())) {
            same(&v);
            same(&json!({ "warnings": [v.clone()], "evidence": v.clone() }));
            same(&json!({ "evidence": v.clone() }));
            same(&json!({ "warnings": [v] }));
        }
    }
}
