//! The walk behind [`validate_server_config`]: the JSON is read by hand, not deserialised, so
//! that every problem is reported with its path instead of serde's first error.
//!
//! Conventions: a `null` optional field counts as omitted (a `null` required field as
//! missing); a blank (empty or whitespace-only) string field is `required`; a blank item of
//! `scopes` is `invalid_value`. Strings are kept as given (not trimmed). A private target
//! under a policy that blocks them (`TargetPolicy::SERVER`) is `invalid_value`; `http:` where
//! https is required is `insecure_url`.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use serde_json::{Map, Value};
use url::Url;

use super::{AuthConfig, ConfigError, ConfigErrorCode, ServerConfig, ServerConfigBody};
use crate::auth_mode::{AuthMode, ClientAuthMethod};
use crate::secret::Secret;
use crate::target::{Refusal, TargetPolicy};
use crate::token::assertion::{key_shape_problem, SigningAlgorithm};

use super::fields::{
    auth_field, build, is_scope_char, is_tchar, kind_of, types_list, Field, Kind, Raw, AUTH_FIELDS,
    CC, CONF, CONFIG_FIELDS, ENDPOINT_LOOKALIKES, NAME_MAX, REFUSED_HEADERS,
};
use super::suggest::{fix_for_unknown, normalise, suggest};

use ConfigErrorCode::{
    AuthNotNested, InsecureUrl, InvalidType, InvalidUrl, InvalidValue, Required, UnknownAuthType,
    UnknownField, UseEndpoint,
};

/// Validates a create body `{name, config}` and returns it normalised (header names
/// lower-cased, scopes deduplicated in order), or every problem found.
pub fn validate_server_config(
    input: &Value,
    policy: TargetPolicy,
) -> Result<ServerConfigBody, Vec<ConfigError>> {
    let mut w = Walker {
        policy,
        errors: Vec::new(),
    };
    let Some(root) = input.as_object() else {
        w.err(
            "",
            InvalidType,
            format!(
                "the body is {}: send a JSON object {{\"name\": ..., \"config\": {{\"endpoint\": ...}}}}",
                kind_of(input)
            ),
        );
        return Err(w.errors);
    };
    for key in root.keys().filter(|k| *k != "name" && *k != "config") {
        w.top_level_key(key);
    }
    let name = w.name(root.get("name"));
    let config = w.config(root.get("config"));
    if w.errors.is_empty() {
        Ok(ServerConfigBody { name, config })
    } else {
        Err(w.errors)
    }
}

/// The URL fields of `config.auth` that discovery may fill in, with their values.
fn url_fields(config: &ServerConfig) -> [(&'static str, Option<&str>); 4] {
    let (auth_url, token_url, register_url, resource) = match &config.auth {
        Some(AuthConfig::OauthClientCredentials(a)) => (None, &a.token_url, &None, &a.resource),
        Some(AuthConfig::OauthAuthorizationCodePublicPkce(a)) => (
            a.auth_url.as_ref(),
            &a.token_url,
            &a.register_url,
            &a.resource,
        ),
        Some(AuthConfig::OauthAuthorizationCodeConfidentialPkce(a)) => (
            a.auth_url.as_ref(),
            &a.token_url,
            &a.register_url,
            &a.resource,
        ),
        Some(AuthConfig::Token(_)) | None => (None, &None, &None, &None),
    };
    [
        ("auth_url", auth_url.map(String::as_str)),
        ("token_url", token_url.as_deref()),
        ("register_url", register_url.as_deref()),
        ("resource", resource.as_deref()),
    ]
}

/// Checks the URLs that hydration filled in (present in `hydrated`, absent from `given`)
/// exactly as [`validate_server_config`] checks typed URLs: scheme, `http:` only where the
/// policy allows it, private targets, no `user:password@`, no fragment. A discovered URL
/// that fails is reported at its config path, saying that discovery found it.
pub fn validate_hydrated_urls(
    given: &ServerConfig,
    hydrated: &ServerConfig,
    policy: TargetPolicy,
) -> Result<(), Vec<ConfigError>> {
    let mut w = Walker {
        policy,
        errors: Vec::new(),
    };
    for ((name, before), (_, after)) in url_fields(given).into_iter().zip(url_fields(hydrated)) {
        let (None, Some(found)) = (before, after) else {
            continue;
        };
        let path = format!("config.auth.{name}");
        let seen = w.errors.len();
        w.url(&path, Some(&Value::String(found.to_owned())), None);
        for e in &mut w.errors[seen..] {
            e.message = format!(
                "{} (discovery found this URL in the provider's metadata: set {path} by hand, \
                 or fix the metadata)",
                e.message
            );
        }
    }
    if w.errors.is_empty() {
        Ok(())
    } else {
        Err(w.errors)
    }
}

struct Walker {
    policy: TargetPolicy,
    errors: Vec<ConfigError>,
}

impl Walker {
    fn err(&mut self, path: &str, code: ConfigErrorCode, message: String) {
        self.errors.push(ConfigError::new(path, code, message));
    }

    fn top_level_key(&mut self, key: &str) {
        let norm = normalise(key);
        let fix = if CONFIG_FIELDS.contains(&norm.as_str()) || norm == "server_url" {
            "move it under config: {\"name\": ..., \"config\": {\"endpoint\": ...}}".to_owned()
        } else if norm == "type" || auth_field(&norm).is_some() {
            "auth fields go under config.auth".to_owned()
        } else {
            fix_for_unknown(key, ["name", "config"], "the body accepts name and config")
        };
        self.err(key, UnknownField, format!("unknown field `{key}`: {fix}"));
    }

    fn name(&mut self, value: Option<&Value>) -> String {
        let fix = "give the server a name of 1 to 100 characters";
        let Some(name) = self.text("name", value, Some(fix)) else {
            return String::new();
        };
        let n = name.chars().count();
        if n > NAME_MAX {
            let m = format!("name has {n} characters: shorten it to {NAME_MAX} at most");
            self.err("name", InvalidValue, m);
        }
        if name.chars().any(char::is_control) {
            let m = "name holds a control character (line break, tab, ...): remove it".to_owned();
            self.err("name", InvalidValue, m);
        }
        name
    }

    fn config(&mut self, value: Option<&Value>) -> ServerConfig {
        let mut out = ServerConfig {
            endpoint: String::new(),
            headers: BTreeMap::new(),
            auth: None,
        };
        let obj = match value {
            None | Some(Value::Null) => {
                let m = "config is required: give {\"endpoint\": \"https://...\"}, with \"auth\" \
                         when the server needs authorization";
                self.err("config", Required, m.to_owned());
                return out;
            }
            Some(Value::Object(obj)) => obj,
            Some(other) => {
                let m = format!(
                    "config must be an object, not {}: give {{\"endpoint\": \"https://...\"}}",
                    kind_of(other)
                );
                self.err("config", InvalidType, m);
                return out;
            }
        };
        for key in obj.keys().filter(|k| !CONFIG_FIELDS.contains(&k.as_str())) {
            self.config_key(key);
        }
        let fix = "give the MCP server's https:// URL";
        out.endpoint = self
            .url("config.endpoint", obj.get("endpoint"), Some(fix))
            .unwrap_or_default();
        out.headers = self.headers(obj.get("headers"));
        out.auth = self.auth(obj.get("auth"));
        out
    }

    /// A key of `config` that is not endpoint, headers or auth.
    fn config_key(&mut self, key: &str) {
        let path = format!("config.{key}");
        let norm = normalise(key);
        if norm == "server_url" {
            self.err(
                &path,
                UseEndpoint,
                format!("use config.endpoint (not {key})"),
            );
        } else if norm == "type" || auth_field(&norm).is_some() {
            let m =
                format!("keep auth nested under config.auth: move `{key}` to config.auth.{norm}");
            self.err(&path, AuthNotNested, m);
        } else {
            let fix = if ENDPOINT_LOOKALIKES.contains(&norm.as_str()) {
                "use config.endpoint for the MCP server's URL".to_owned()
            } else if let Some(s) = suggest(key, AUTH_FIELDS.iter().map(|f| f.name)) {
                format!("did you mean `{s}`? It goes under config.auth")
            } else {
                fix_for_unknown(
                    key,
                    CONFIG_FIELDS,
                    "config accepts endpoint, headers and auth",
                )
            };
            self.err(
                &path,
                UnknownField,
                format!("unknown field `{key}` in config: {fix}"),
            );
        }
    }

    fn headers(&mut self, value: Option<&Value>) -> BTreeMap<String, Secret> {
        let mut out = BTreeMap::new();
        let obj = match value {
            None | Some(Value::Null) => return out,
            Some(Value::Object(obj)) => obj,
            Some(other) => {
                let m = format!(
                    "config.headers must be an object of header names to string values, not {}: \
                     give {{\"x-extra\": \"...\"}}",
                    kind_of(other)
                );
                self.err("config.headers", InvalidType, m);
                return out;
            }
        };
        for (name, value) in obj {
            let path = format!("config.headers.{name}");
            let lower = name.to_ascii_lowercase();
            if name.is_empty() || !name.bytes().all(is_tchar) {
                let m = format!(
                    "`{name}` is not a valid HTTP header name: use letters, digits and `-` (e.g. x-api-key)"
                );
                self.err(&path, InvalidValue, m);
                continue;
            }
            if REFUSED_HEADERS.contains(&lower.as_str()) {
                let m = if lower.ends_with("authorization") {
                    format!(
                        "the {name} header is not allowed: credentials go in config.auth \
                         (a static bearer token: {{\"type\": \"token\", \"auth_token\": \"...\"}})"
                    )
                } else {
                    format!("the {name} header is set by the client: remove it")
                };
                self.err(&path, InvalidValue, m);
                continue;
            }
            let Some(text) = self.text(&path, Some(value), None) else {
                continue;
            };
            if text.chars().any(|c| c.is_control() && c != '\t') {
                let m = format!(
                    "the value of {name} holds a line break or control character: remove it"
                );
                self.err(&path, InvalidValue, m);
                continue;
            }
            match out.entry(lower) {
                Entry::Vacant(slot) => {
                    slot.insert(Secret::new(text));
                }
                Entry::Occupied(slot) => {
                    let m = format!(
                        "{name} repeats header {} (names ignore case): keep one",
                        slot.key()
                    );
                    self.err(&path, InvalidValue, m);
                }
            }
        }
        out
    }

    fn auth(&mut self, value: Option<&Value>) -> Option<AuthConfig> {
        let obj: &Map<String, Value> = match value {
            None | Some(Value::Null) => return None,
            Some(Value::Object(obj)) => obj,
            Some(other) => {
                let m = format!(
                    "config.auth must be an object, not {}: give {{\"type\": \"...\", ...}} (types: {})",
                    kind_of(other),
                    types_list()
                );
                self.err("config.auth", InvalidType, m);
                return None;
            }
        };
        let mode = self.auth_type(obj.get("type"));
        let mut raw = Raw::default();
        for (key, value) in obj.iter().filter(|(k, _)| *k != "type") {
            let path = format!("config.auth.{key}");
            let Some(field) = auth_field(key) else {
                let names = AUTH_FIELDS
                    .iter()
                    .filter(|f| mode.is_none_or(|m| f.modes.contains(&m)));
                let accepted: Vec<&str> = names.map(|f| f.name).collect();
                let place = match mode {
                    Some(m) => format!("{m} accepts type, {}", accepted.join(", ")),
                    None => format!("config.auth accepts type, {}", accepted.join(", ")),
                };
                let fix = fix_for_unknown(key, accepted.iter().copied(), &place);
                self.err(
                    &path,
                    UnknownField,
                    format!("unknown field `{key}` in config.auth: {fix}"),
                );
                continue;
            };
            if let Some(m) = mode.filter(|m| !field.modes.contains(m)) {
                let by: Vec<&str> = field.modes.iter().map(|m| m.as_str()).collect();
                let m = format!(
                    "`{key}` is not used by type {m}: remove it (it belongs to {})",
                    by.join(", ")
                );
                self.err(&path, UnknownField, m);
                continue;
            }
            self.auth_value(&mut raw, field, &path, value);
        }
        let mode = mode?;
        let present = |k: &str| obj.get(k).is_some_and(|v| !v.is_null());
        let required: &[(&str, &str)] = match mode {
            AuthMode::Token => &[("auth_token", "give the bearer token the MCP server expects")],
            AuthMode::OauthClientCredentials if key_mode(&raw, &present) => {
                &[("client_id", "give the client id the provider issued")]
            }
            AuthMode::OauthClientCredentials => &[
                ("client_id", "give the client id the provider issued"),
                (
                    "client_secret",
                    "give the client secret the provider issued (or private_key with \
                     token_endpoint_auth_method private_key_jwt)",
                ),
            ],
            _ => &[],
        };
        if mode == CC {
            self.private_key_rules(&raw, &present);
        }
        for (k, fix) in required {
            if !present(k) {
                let m = format!("config.auth.{k} is required for type {mode}: {fix}");
                self.err(&format!("config.auth.{k}"), Required, m);
            }
        }
        if mode == CONF && present("client_id") != present("client_secret") {
            let (missing, given) = if present("client_id") {
                ("client_secret", "client_id")
            } else {
                ("client_id", "client_secret")
            };
            let m = format!(
                "config.auth.{missing} is required when {given} is given: give both, \
                 or omit both to register a client by DCR"
            );
            self.err(&format!("config.auth.{missing}"), Required, m);
        }
        if raw.method == Some(ClientAuthMethod::PrivateKeyJwt) && mode != CC {
            let m = "private_key_jwt is supported for oauth_client_credentials only: use \
                     client_secret_basic or client_secret_post"
                .to_owned();
            self.err("config.auth.token_endpoint_auth_method", InvalidValue, m);
        }
        if raw.method == Some(ClientAuthMethod::None) {
            let m = if mode == CC {
                "`none` sends no client secret, and the client credentials grant needs one: \
                 use client_secret_basic or client_secret_post, or leave it out"
            } else {
                "a confidential client authenticates with its secret: use client_secret_basic or \
                 client_secret_post, or type oauth_authorization_code_public_pkce for a client without one"
            };
            self.err(
                "config.auth.token_endpoint_auth_method",
                InvalidValue,
                m.to_owned(),
            );
        }
        Some(build(mode, raw))
    }

    fn auth_type(&mut self, value: Option<&Value>) -> Option<AuthMode> {
        let path = "config.auth.type";
        let given = match value {
            None | Some(Value::Null) => {
                let m = format!("config.auth.type is required: use one of {}", types_list());
                self.err(path, Required, m);
                return None;
            }
            Some(Value::String(s)) => s,
            Some(other) => {
                let m = format!(
                    "config.auth.type must be a string, not {}: use one of {}",
                    kind_of(other),
                    types_list()
                );
                self.err(path, InvalidType, m);
                return None;
            }
        };
        if let Some(mode) = AuthMode::parse(given) {
            return Some(mode);
        }
        let norm = normalise(given);
        let close = AuthMode::ALL.map(AuthMode::as_str);
        let guess = suggest(given, close).or_else(|| {
            close
                .into_iter()
                .find(|t| norm.len() >= 5 && t.ends_with(&norm))
        });
        let hint = guess
            .map(|g| format!(" (did you mean `{g}`?)"))
            .unwrap_or_default();
        let m = format!(
            "`{given}` is not an auth type: use one of {}{hint}",
            types_list()
        );
        self.err(path, UnknownAuthType, m);
        None
    }

    fn auth_value(&mut self, raw: &mut Raw, field: &Field, path: &str, value: &Value) {
        match field.kind {
            Kind::Text => {
                if let Some(s) = self.text(path, Some(value), None) {
                    raw.text.insert(field.name, s);
                }
            }
            Kind::Url => {
                if let Some(s) = self.url(path, Some(value), None) {
                    raw.text.insert(field.name, s);
                }
            }
            Kind::Scopes => raw.scopes = self.scopes(path, value),
            Kind::Method => raw.method = self.method(path, value),
            Kind::Flag => {
                if self.flag(path, value) {
                    raw.flags.insert(field.name);
                }
            }
            Kind::Key => {
                if let Some(k) = self.private_key(path, value) {
                    raw.text.insert(field.name, k);
                }
            }
            Kind::Algorithm => raw.algorithm = self.algorithm(path, value),
        }
    }

    /// The rules that tie `private_key`, `client_secret` and `token_endpoint_auth_method`
    /// together for client credentials.
    fn private_key_rules(&mut self, raw: &Raw, present: &dyn Fn(&str) -> bool) {
        let method = raw.method;
        if present("private_key") {
            if method.is_some_and(|m| m != ClientAuthMethod::PrivateKeyJwt) {
                let m = "a private_key is used by token_endpoint_auth_method private_key_jwt \
                         only: set it to private_key_jwt (or leave it out), or remove private_key"
                    .to_owned();
                self.err("config.auth.token_endpoint_auth_method", InvalidValue, m);
            } else if present("client_secret") {
                let m = "private_key_jwt signs with private_key and sends no secret: remove \
                         client_secret"
                    .to_owned();
                self.err("config.auth.client_secret", InvalidValue, m);
            }
        } else if method == Some(ClientAuthMethod::PrivateKeyJwt) {
            let m = "config.auth.private_key is required for private_key_jwt: give the P-256 \
                     private key as a PKCS#8 PEM or a JWK"
                .to_owned();
            self.err("config.auth.private_key", Required, m);
        } else if present("signing_algorithm") {
            let m = "signing_algorithm applies to private_key_jwt only: remove it, or give \
                     private_key"
                .to_owned();
            self.err("config.auth.signing_algorithm", InvalidValue, m);
        }
    }

    /// A private key: a PEM string, or a JWK (object, or JSON text); kept as text.
    fn private_key(&mut self, path: &str, value: &Value) -> Option<String> {
        let text = match value {
            Value::Object(_) => value.to_string(),
            _ => self.text(path, Some(value), None)?,
        };
        let problem = key_shape_problem(&text).or_else(|| key_load_problem(&text));
        match problem {
            None => Some(text),
            Some(problem) => {
                self.err(path, InvalidValue, format!("{path} {problem}"));
                None
            }
        }
    }

    fn algorithm(&mut self, path: &str, value: &Value) -> Option<SigningAlgorithm> {
        let s = self.text(path, Some(value), None)?;
        let alg = SigningAlgorithm::parse(&s);
        if alg.is_none() {
            let m = format!("`{s}` is not supported: use ES256 (with a P-256 key)");
            self.err(path, InvalidValue, m);
        }
        alg
    }

    /// A string field. `None` when absent, null, blank or not a string; each of these is
    /// reported except absence (and null) of an optional field. `required` names the fix.
    fn text(
        &mut self,
        path: &str,
        value: Option<&Value>,
        required: Option<&str>,
    ) -> Option<String> {
        match value {
            None | Some(Value::Null) => {
                if let Some(fix) = required {
                    self.err(path, Required, format!("{path} is required: {fix}"));
                }
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                let fix = required.unwrap_or("give a value or leave the field out");
                self.err(path, Required, format!("{path} is empty: {fix}"));
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                let m = format!(
                    "{path} must be a string, not {}: write it in quotes",
                    kind_of(other)
                );
                self.err(path, InvalidType, m);
                None
            }
        }
    }

    fn url(&mut self, path: &str, value: Option<&Value>, required: Option<&str>) -> Option<String> {
        let s = self.text(path, value, required)?;
        let (code, message) = match self.policy.check_str(&s) {
            Ok(url) => match url_extra_problem(&url) {
                None => return Some(s),
                Some(problem) => (InvalidValue, problem.to_owned()),
            },
            Err(r @ (Refusal::NotUrl | Refusal::NotHttp)) => (InvalidUrl, r.message(&s)),
            Err(r @ Refusal::Insecure) => (InsecureUrl, r.message(&s)),
            Err(r @ Refusal::Private) => (InvalidValue, r.message(&s)),
        };
        self.err(path, code, format!("{path}: {message}"));
        None
    }

    fn scopes(&mut self, path: &str, value: &Value) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let items = match value {
            Value::Null => return out,
            Value::Array(items) => items,
            other => {
                let m = format!(
                    "{path} must be an array of strings, not {}: write [\"read\", \"write\"]",
                    kind_of(other)
                );
                self.err(path, InvalidType, m);
                return out;
            }
        };
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let Value::String(s) = item else {
                let m = format!(
                    "{p} must be a string, not {}: write it in quotes",
                    kind_of(item)
                );
                self.err(&p, InvalidType, m);
                continue;
            };
            let problem = if s.trim().is_empty() {
                Some("is empty: remove it".to_owned())
            } else if s.chars().any(char::is_whitespace) {
                Some(format!(
                    "`{s}` holds a space: give each scope as its own array item"
                ))
            } else if !s.chars().all(is_scope_char) {
                Some(format!(
                    "`{s}` holds a character a scope may not (`\"`, `\\`, non-ASCII): remove it"
                ))
            } else {
                None
            };
            match problem {
                Some(problem) => self.err(&p, InvalidValue, format!("{p} {problem}")),
                None if !out.contains(s) => out.push(s.clone()),
                None => {}
            }
        }
        out
    }

    fn method(&mut self, path: &str, value: &Value) -> Option<ClientAuthMethod> {
        let s = self.text(path, Some(value), None)?;
        let method = ClientAuthMethod::parse_configurable(&s);
        if method.is_none() {
            let m = format!(
                "`{s}` is not a supported method: use client_secret_basic, client_secret_post, \
                 none, or private_key_jwt (client credentials)"
            );
            self.err(path, InvalidValue, m);
        }
        method
    }

    fn flag(&mut self, path: &str, value: &Value) -> bool {
        match value {
            Value::Null => false,
            Value::Bool(b) => *b,
            other => {
                let m = format!(
                    "{path} must be true or false (without quotes), not {}",
                    kind_of(other)
                );
                self.err(path, InvalidType, m);
                false
            }
        }
    }
}

/// Loads the key where the signer is compiled (the Worker, the tests); the npm package judges
/// its shape only.
#[cfg(any(test, feature = "worker"))]
fn key_load_problem(text: &str) -> Option<String> {
    crate::token::assertion::ClientKey::parse(text, SigningAlgorithm::Es256).err()
}

#[cfg(not(any(test, feature = "worker")))]
fn key_load_problem(_text: &str) -> Option<String> {
    None
}

/// A client-credentials config that authenticates with a private key (`private_key` given,
/// or `private_key_jwt` named): it needs no `client_secret`.
fn key_mode(raw: &Raw, present: &dyn Fn(&str) -> bool) -> bool {
    present("private_key") || raw.method == Some(ClientAuthMethod::PrivateKeyJwt)
}

/// Problems `TargetPolicy` does not judge: credentials in the URL (they would show in read
/// routes) and a fragment (OAuth endpoints and resource indicators must not carry one).
fn url_extra_problem(url: &Url) -> Option<&'static str> {
    if !url.username().is_empty() || url.password().is_some() {
        Some("remove the user:password@ part: credentials go in config.auth or config.headers")
    } else if url.fragment().is_some() {
        Some("remove the #fragment")
    } else {
        None
    }
}
