//! Server updates as a JSON merge patch (RFC 7396): the patch is merged into the stored body
//! (`{name, config}`, secrets included), so fields left out stay, secrets stay unless the
//! patch replaces them, and `null` removes a field. Then the rule for connections: they are
//! dropped only when what they were made with changes (the endpoint, the issuer, the OAuth
//! client, or the token endpoint).

use serde_json::{Map, Value};

use crate::config::{AuthConfig, ServerConfig};

/// RFC 7396 §2 `MergePatch(Target, Patch)`, in place.
pub(crate) fn apply(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in patch {
            if v.is_null() {
                t.remove(k);
            } else {
                apply(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// The read-only members that server reads put in `config` in place of secrets
/// (`has_client_secret`, `has_auth_token`, `header_names`): a patch that copies them back
/// from a read is not refused for them; they are dropped from the patch.
pub(crate) fn strip_read_only(patch: &mut Value) {
    if let Some(config) = patch.get_mut("config").and_then(Value::as_object_mut) {
        config.remove("header_names");
        if let Some(auth) = config.get_mut("auth").and_then(Value::as_object_mut) {
            auth.remove("has_client_secret");
            auth.remove("has_auth_token");
        }
    }
}

/// A patch that changes `config.auth.type` replaces `config.auth` instead of merging into it:
/// the fields of one auth type mean nothing to another (a public client's id is no
/// confidential client). Call before [`apply`].
pub(crate) fn replace_auth_on_type_change(stored: &mut Value, patch: &Value) {
    let new_type = patch
        .get("config")
        .and_then(|c| c.get("auth"))
        .and_then(|a| a.get("type"));
    let old_type = stored
        .get("config")
        .and_then(|c| c.get("auth"))
        .and_then(|a| a.get("type"));
    if new_type.is_some() && new_type != old_type {
        if let Some(config) = stored.get_mut("config").and_then(Value::as_object_mut) {
            config.remove("auth");
        }
    }
}

/// When the patch moves the endpoint, the values discovery filled in for the old one
/// (`auth_url`, `token_url`, `register_url`, `resource`) are dropped unless the patch sets
/// them, so that provisioning discovers them again for the new endpoint; so are the client
/// credentials, unless the patch sets `client_id` (a new endpoint may be another provider,
/// where the old client does not exist).
pub(crate) fn forget_discovered(merged: &mut Value, patch: &Value, old_endpoint: &str) {
    let new_endpoint = merged["config"]["endpoint"].as_str().unwrap_or_default();
    if new_endpoint == old_endpoint {
        return;
    }
    let patch_auth = patch
        .get("config")
        .and_then(|c| c.get("auth"))
        .and_then(Value::as_object);
    let given = |k: &str| patch_auth.is_some_and(|a| a.contains_key(k));
    let keep_client = given("client_id");
    if let Some(auth) = merged
        .get_mut("config")
        .and_then(|c| c.get_mut("auth"))
        .and_then(Value::as_object_mut)
    {
        for k in ["auth_url", "token_url", "register_url", "resource"] {
            if !given(k) {
                auth.remove(k);
            }
        }
        if !keep_client
            && auth.get("type").and_then(Value::as_str) != Some("oauth_client_credentials")
        {
            for k in ["client_id", "client_secret", "token_endpoint_auth_method"] {
                if !given(k) {
                    auth.remove(k);
                }
            }
        }
    }
}

/// The OAuth client a config's connections were made with: type, id and secret.
fn client_of(auth: Option<&AuthConfig>) -> (Option<String>, Option<String>, Option<String>) {
    let Some(auth) = auth else {
        return (None, None, None);
    };
    let tc = auth.token_client();
    let client = tc.as_ref().and_then(|t| t.client.as_ref());
    (
        Some(auth.mode().as_str().to_owned()),
        client.map(|c| c.client_id.clone()),
        client
            .and_then(|c| c.client_secret.as_ref())
            .map(|s| s.expose().to_owned()),
    )
}

/// The token endpoint a config's refresh tokens are sent to.
fn token_url_of(config: &ServerConfig) -> Option<String> {
    config
        .auth
        .as_ref()
        .and_then(AuthConfig::token_client)
        .and_then(|tc| tc.token_url)
}

/// Whether connections made under `old` (with provider issuer `old_issuer`) are void under
/// `new`: the endpoint, the issuer, the auth type, the client (id or secret) or the token
/// endpoint changed (a refresh token is never sent to another token endpoint than the one
/// that issued it).
pub(crate) fn drops_connections(
    old: &ServerConfig,
    old_issuer: Option<&str>,
    new: &ServerConfig,
    new_issuer: Option<&str>,
) -> bool {
    old.endpoint != new.endpoint
        || old_issuer != new_issuer
        || client_of(old.auth.as_ref()) != client_of(new.auth.as_ref())
        || token_url_of(old) != token_url_of(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7396_appendix_a() {
        // A selection of the RFC's own examples.
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (mut target, patch, want) in cases {
            apply(&mut target, &patch);
            assert_eq!(target, want, "patch {patch}");
        }
    }

    #[test]
    fn secrets_stay_unless_replaced() {
        let mut stored = json!({"name":"a","config":{"endpoint":"https://m.example/mcp",
            "auth":{"type":"oauth_authorization_code_confidential_pkce","client_id":"c","client_secret":"s","scopes":["x"]}}});
        let mut patch = json!({"config":{"auth":{"scopes":["y"],"has_client_secret":true}}});
        strip_read_only(&mut patch);
        apply(&mut stored, &patch);
        assert_eq!(stored["config"]["auth"]["client_secret"], "s");
        assert_eq!(stored["config"]["auth"]["scopes"], json!(["y"]));
        assert!(stored["config"]["auth"].get("has_client_secret").is_none());
    }

    #[test]
    fn a_new_endpoint_forgets_what_discovery_filled_in() {
        let stored = json!({"name":"a","config":{"endpoint":"https://old.example/mcp",
            "auth":{"type":"oauth_authorization_code_confidential_pkce","client_id":"c","client_secret":"s",
            "auth_url":"https://old.example/auth","token_url":"https://old.example/token","resource":"https://old.example/mcp"}}});
        let patch = json!({"config":{"endpoint":"https://new.example/mcp","auth":{"token_url":"https://t.example/token"}}});
        let mut merged = stored.clone();
        apply(&mut merged, &patch);
        forget_discovered(&mut merged, &patch, "https://old.example/mcp");
        let auth = &merged["config"]["auth"];
        assert!(auth.get("auth_url").is_none() && auth.get("resource").is_none());
        assert!(auth.get("client_id").is_none() && auth.get("client_secret").is_none());
        assert_eq!(auth["token_url"], "https://t.example/token");

        // The same endpoint: nothing forgotten.
        let mut same = stored.clone();
        let rename = json!({"name":"b"});
        apply(&mut same, &rename);
        forget_discovered(&mut same, &rename, "https://old.example/mcp");
        assert_eq!(same["config"], stored["config"]);
    }

    #[test]
    fn a_new_auth_type_replaces_the_auth_object() {
        let mut stored = json!({"name":"a","config":{"endpoint":"https://m.example/mcp",
            "auth":{"type":"oauth_authorization_code_public_pkce","client_id":"c","auth_url":"https://as/auth"}}});
        let patch =
            json!({"config":{"auth":{"type":"oauth_authorization_code_confidential_pkce"}}});
        replace_auth_on_type_change(&mut stored, &patch);
        apply(&mut stored, &patch);
        assert_eq!(
            stored["config"]["auth"],
            json!({"type":"oauth_authorization_code_confidential_pkce"})
        );
        assert_eq!(stored["config"]["endpoint"], "https://m.example/mcp");

        // The same type: merged as usual.
        let mut same = json!({"config":{"auth":{"type":"token","auth_token":"t"}}});
        let patch = json!({"config":{"auth":{"type":"token"}}});
        replace_auth_on_type_change(&mut same, &patch);
        apply(&mut same, &patch);
        assert_eq!(same["config"]["auth"]["auth_token"], "t");
    }

    fn config(v: Value) -> ServerConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn connections_drop_only_for_endpoint_issuer_client_or_token_endpoint() {
        let base = json!({"endpoint":"https://m.example/mcp","auth":{"type":"oauth_authorization_code_public_pkce","client_id":"c","scopes":["a"]}});
        let old = config(base.clone());
        let mut scopes = base.clone();
        scopes["auth"]["scopes"] = json!(["a", "b"]);
        assert!(!drops_connections(
            &old,
            Some("https://as"),
            &config(scopes),
            Some("https://as")
        ));
        assert!(drops_connections(
            &old,
            Some("https://as"),
            &old,
            Some("https://as2")
        ));
        let mut client = base.clone();
        client["auth"]["client_id"] = json!("d");
        assert!(drops_connections(
            &old,
            Some("https://as"),
            &config(client),
            Some("https://as")
        ));
        let mut endpoint = base.clone();
        endpoint["endpoint"] = json!("https://m.example/mcp2");
        assert!(drops_connections(
            &old,
            Some("https://as"),
            &config(endpoint),
            Some("https://as")
        ));
        // A token endpoint moved (even with the same client and issuer): the refresh tokens
        // were issued by the old one.
        let mut with_token_url = base.clone();
        with_token_url["auth"]["token_url"] = json!("https://as/token");
        let mut moved = with_token_url.clone();
        moved["auth"]["token_url"] = json!("https://other.example/token");
        assert!(drops_connections(
            &config(with_token_url.clone()),
            Some("https://as"),
            &config(moved),
            Some("https://as")
        ));
        assert!(!drops_connections(
            &config(with_token_url.clone()),
            Some("https://as"),
            &config(with_token_url),
            Some("https://as")
        ));
    }
}
