//! Unit tests of `WWW-Authenticate` parsing: every rule of discovery.md §2, exact outputs.

use super::*;

fn ch(scheme: &str, params: &[(&str, &str)]) -> Challenge {
    Challenge {
        scheme: scheme.to_owned(),
        params: params
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        token68: None,
    }
}

fn t68(scheme: &str, token68: &str) -> Challenge {
    Challenge {
        scheme: scheme.to_owned(),
        params: Vec::new(),
        token68: Some(token68.to_owned()),
    }
}

/// Parses and asserts there are no warnings.
fn clean(header: &str) -> Vec<Challenge> {
    let parsed = parse_www_authenticate(header);
    assert_eq!(
        parsed.warnings,
        vec![],
        "unexpected warnings for {header:?}"
    );
    parsed.challenges
}

fn codes(parsed: &Challenges) -> Vec<WarningCode> {
    parsed.warnings.iter().map(|w| w.code).collect()
}

// --- well-formed headers -----------------------------------------------------------------

#[test]
fn empty_and_blank_headers_have_no_challenges() {
    assert_eq!(parse_www_authenticate(""), Challenges::default());
    assert_eq!(parse_www_authenticate("  \t "), Challenges::default());
    assert_eq!(parse_www_authenticate(" , ,, "), Challenges::default());
}

#[test]
fn bare_bearer() {
    assert_eq!(clean("Bearer"), vec![ch("Bearer", &[])]);
    assert_eq!(clean("  Bearer  "), vec![ch("Bearer", &[])]);
    assert_eq!(bearer_hints(&clean("Bearer")), Some(BearerHints::default()));
}

#[test]
fn single_param_challenge() {
    assert_eq!(
        clean(r#"Bearer realm="example""#),
        vec![ch("Bearer", &[("realm", "example")])]
    );
}

#[test]
fn scheme_keeps_its_case_and_param_names_are_lower_cased() {
    assert_eq!(
        clean(r#"bEaReR Realm="a", RESOURCE_METADATA="https://x/y""#),
        vec![ch(
            "bEaReR",
            &[("realm", "a"), ("resource_metadata", "https://x/y")]
        )]
    );
    let c = &clean(r#"Bearer Scope="a b""#)[0];
    assert_eq!(c.param("SCOPE"), Some("a b"));
    assert_eq!(c.param("scope"), Some("a b"));
    assert_eq!(c.param("realm"), None);
}

#[test]
fn keycloak_insufficient_scope_fixture() {
    let header = r#"Bearer error="insufficient_scope", error_description="Scope \"files:write\" is required", scope="files:read files:write", resource_metadata="https://files-mcp.example.com/.well-known/oauth-protected-resource/mcp""#;
    let challenges = clean(header);
    assert_eq!(
        challenges,
        vec![ch(
            "Bearer",
            &[
                ("error", "insufficient_scope"),
                ("error_description", r#"Scope "files:write" is required"#),
                ("scope", "files:read files:write"),
                (
                    "resource_metadata",
                    "https://files-mcp.example.com/.well-known/oauth-protected-resource/mcp"
                ),
            ]
        )]
    );
    assert_eq!(
        bearer_hints(&challenges),
        Some(BearerHints {
            resource_metadata: Some(
                "https://files-mcp.example.com/.well-known/oauth-protected-resource/mcp".to_owned()
            ),
            scopes: vec!["files:read".to_owned(), "files:write".to_owned()],
            error: Some("insufficient_scope".to_owned()),
            error_description: Some(r#"Scope "files:write" is required"#.to_owned()),
        })
    );
}

#[test]
fn quoted_escapes_and_commas_inside_quotes() {
    assert_eq!(
        clean(r#"Bearer a="x\\y", b="say \"hi\", then go", c="\q\,", d="""#),
        vec![ch(
            "Bearer",
            &[
                ("a", r"x\y"),
                ("b", r#"say "hi", then go"#),
                ("c", "q,"),
                ("d", ""),
            ]
        )]
    );
}

#[test]
fn non_ascii_values() {
    assert_eq!(
        clean("Bearer realm=\"café ☕, ok\", x=naïve/ü"),
        vec![ch("Bearer", &[("realm", "café ☕, ok"), ("x", "naïve/ü")])]
    );
    assert_eq!(
        clean(r#"Bearer realm="\é""#),
        vec![ch("Bearer", &[("realm", "é")])]
    );
}

#[test]
fn several_challenges_in_one_header() {
    assert_eq!(
        clean(r#"Basic realm="gateway", Bearer realm="mcp", scope="a b", Negotiate"#),
        vec![
            ch("Basic", &[("realm", "gateway")]),
            ch("Bearer", &[("realm", "mcp"), ("scope", "a b")]),
            ch("Negotiate", &[]),
        ]
    );
    assert_eq!(
        clean("Negotiate, NTLM, Bearer"),
        vec![ch("Negotiate", &[]), ch("NTLM", &[]), ch("Bearer", &[])]
    );
}

#[test]
fn multi_challenge_lowercase_bearer_fixture() {
    let header = r#"Basic realm="gateway", , bearer realm="mcp", resource_metadata="https://mcp.gateway.example.com/tools/mcp/.well-known/oauth-protected-resource""#;
    let challenges = clean(header);
    assert_eq!(
        challenges,
        vec![
            ch("Basic", &[("realm", "gateway")]),
            ch(
                "bearer",
                &[
                    ("realm", "mcp"),
                    (
                        "resource_metadata",
                        "https://mcp.gateway.example.com/tools/mcp/.well-known/oauth-protected-resource"
                    )
                ]
            ),
        ]
    );
    let hints = bearer_hints(&challenges).unwrap();
    assert_eq!(
        hints.resource_metadata.as_deref(),
        Some("https://mcp.gateway.example.com/tools/mcp/.well-known/oauth-protected-resource")
    );
    assert_eq!(hints.scopes, Vec::<String>::new());
}

#[test]
fn empty_list_elements_are_skipped() {
    assert_eq!(
        clean(r#"Bearer ,, realm="x""#),
        vec![ch("Bearer", &[("realm", "x")])]
    );
    assert_eq!(
        clean(r#", Bearer realm="x" , ,scope="y",, "#),
        vec![ch("Bearer", &[("realm", "x"), ("scope", "y")])]
    );
}

#[test]
fn token68_with_and_without_padding() {
    assert_eq!(
        clean("Basic dXNlcjpwYXNz"),
        vec![t68("Basic", "dXNlcjpwYXNz")]
    );
    assert_eq!(clean("Negotiate abc=="), vec![t68("Negotiate", "abc==")]);
    assert_eq!(
        clean("Negotiate a-b.c_d~e+f/g= , Basic"),
        vec![t68("Negotiate", "a-b.c_d~e+f/g="), ch("Basic", &[])]
    );
    assert_eq!(
        clean(r#"Negotiate abc==, Bearer realm="x""#),
        vec![t68("Negotiate", "abc=="), ch("Bearer", &[("realm", "x")])]
    );
}

#[test]
fn first_param_is_not_a_token68() {
    assert_eq!(
        clean("Bearer realm=x"),
        vec![ch("Bearer", &[("realm", "x")])]
    );
    assert_eq!(
        clean("Bearer realm = x"),
        vec![ch("Bearer", &[("realm", "x")])]
    );
    assert_eq!(clean("Bearer a=b=c"), vec![ch("Bearer", &[("a", "b=c")])]);
}

#[test]
fn unquoted_url_values() {
    assert_eq!(
        clean("Bearer resource_metadata=https://x/y?a=b, scope=read"),
        vec![ch(
            "Bearer",
            &[("resource_metadata", "https://x/y?a=b"), ("scope", "read")]
        )]
    );
    assert_eq!(
        clean("Bearer realm=OAuth, resource_metadata=https://x/.well-known/oauth-protected-resource/mcp"),
        vec![ch(
            "Bearer",
            &[
                ("realm", "OAuth"),
                ("resource_metadata", "https://x/.well-known/oauth-protected-resource/mcp")
            ]
        )]
    );
}

#[test]
fn whitespace_around_equals() {
    assert_eq!(
        clean("Bearer realm = \"x\" ,\tscope\t=\tread , error= invalid_token, e =f"),
        vec![ch(
            "Bearer",
            &[
                ("realm", "x"),
                ("scope", "read"),
                ("error", "invalid_token"),
                ("e", "f")
            ]
        )]
    );
}

#[test]
fn new_challenge_after_comma_rules() {
    // `token SP not-=` starts a challenge, `token =` continues, a lone token is a bare scheme.
    assert_eq!(
        clean(r#"Bearer realm="a", error="x", Basic realm="b", DPoP algs="ES256", Foo"#),
        vec![
            ch("Bearer", &[("realm", "a"), ("error", "x")]),
            ch("Basic", &[("realm", "b")]),
            ch("DPoP", &[("algs", "ES256")]),
            ch("Foo", &[]),
        ]
    );
    assert_eq!(
        clean(r#"Bearer realm="a", Negotiate YII="#),
        vec![ch("Bearer", &[("realm", "a")]), t68("Negotiate", "YII=")]
    );
}

#[test]
fn sentry_duplicate_resource_metadata_keeps_the_first() {
    let header = r#"Bearer realm="OAuth", resource_metadata="https://mcp.sentry.dev/.well-known/oauth-protected-resource", error="invalid_token", error_description="Missing or invalid access token", resource_metadata="https://mcp.sentry.dev/.well-known/oauth-protected-resource/mcp""#;
    let parsed = parse_www_authenticate(header);
    assert_eq!(
        parsed.challenges,
        vec![ch(
            "Bearer",
            &[
                ("realm", "OAuth"),
                (
                    "resource_metadata",
                    "https://mcp.sentry.dev/.well-known/oauth-protected-resource"
                ),
                ("error", "invalid_token"),
                ("error_description", "Missing or invalid access token"),
            ]
        )]
    );
    assert_eq!(codes(&parsed), vec![WarningCode::DuplicateParam]);
    let message = &parsed.warnings[0].message;
    assert!(message.contains("\"resource_metadata\""), "{message}");
    assert!(message.contains("Bearer"), "{message}");
    assert!(
        message.contains("oauth-protected-resource/mcp"),
        "names the ignored value: {message}"
    );
    assert_eq!(
        bearer_hints(&parsed.challenges)
            .unwrap()
            .resource_metadata
            .as_deref(),
        Some("https://mcp.sentry.dev/.well-known/oauth-protected-resource")
    );
}

#[test]
fn warning_messages_exact() {
    let parsed = parse_www_authenticate(
        r#"Bearer resource_metadata="https://a/1", resource_metadata="https://a/2""#,
    );
    assert_eq!(
        parsed.warnings,
        vec![Warning::new(
            WarningCode::DuplicateParam,
            "The Bearer challenge in WWW-Authenticate repeats the parameter \
             \"resource_metadata\"; the first value \"https://a/1\" was kept and the later \
             value \"https://a/2\" ignored, so check which one the server means."
        )]
    );
    let parsed = parse_www_authenticate(r#"Bearer realm="a" scope="b""#);
    assert_eq!(
        parsed.warnings,
        vec![Warning::new(
            WarningCode::MalformedChallenge,
            r#"The Bearer challenge in WWW-Authenticate has unexpected text after the value of "realm" ("scope=\"b\""); it was ignored, so check for a missing comma."#
        )]
    );
}

#[test]
fn duplicates_are_case_insensitive_and_per_challenge() {
    let parsed = parse_www_authenticate(r#"Bearer realm="a", REALM="b", Basic realm="c""#);
    assert_eq!(
        parsed.challenges,
        vec![
            ch("Bearer", &[("realm", "a")]),
            ch("Basic", &[("realm", "c")])
        ]
    );
    assert_eq!(codes(&parsed), vec![WarningCode::DuplicateParam]);
}

#[test]
fn several_headers_equal_their_join() {
    let a = r#"Basic realm="gateway""#;
    let b = r#"Bearer resource_metadata="https://x/y", scope="s""#;
    let c = "Negotiate abc==";
    let separate = parse_headers([a, b, c]);
    let joined = parse_www_authenticate(&format!("{a}, {b}, {c}"));
    assert_eq!(separate, joined);
    assert_eq!(
        separate.challenges,
        vec![
            ch("Basic", &[("realm", "gateway")]),
            ch(
                "Bearer",
                &[("resource_metadata", "https://x/y"), ("scope", "s")]
            ),
            t68("Negotiate", "abc=="),
        ]
    );
    assert_eq!(parse_headers([]), Challenges::default());
}

#[test]
fn bearer_hints_take_the_first_bearer_and_split_scopes() {
    let challenges = clean(
        r#"Basic realm="x", bearer scope="  read   write  files:read ", error=invalid_token, Bearer scope="other""#,
    );
    assert_eq!(
        bearer_hints(&challenges),
        Some(BearerHints {
            resource_metadata: None,
            scopes: vec![
                "read".to_owned(),
                "write".to_owned(),
                "files:read".to_owned()
            ],
            error: Some("invalid_token".to_owned()),
            error_description: None,
        })
    );
    assert_eq!(bearer_hints(&clean(r#"Basic realm="x""#)), None);
    assert_eq!(bearer_hints(&[]), None);
    assert_eq!(
        bearer_hints(&clean(r#"Bearer scope="""#)).unwrap().scopes,
        Vec::<String>::new()
    );
}

#[test]
fn serializes_params_as_an_ordered_map() {
    let parsed = parse_www_authenticate(r#"Bearer scope="a", realm="b", Basic abc=="#);
    assert_eq!(
        serde_json::to_string(&parsed).unwrap(),
        r#"{"challenges":[{"scheme":"Bearer","params":{"scope":"a","realm":"b"},"token68":null},{"scheme":"Basic","params":{},"token68":"abc=="}],"warnings":[]}"#
    );
}

// --- malformed headers -------------------------------------------------------------------

/// Parses and checks the codes of the warnings; every message must be one sentence.
fn malformed(header: &str, expected: &[WarningCode]) -> Vec<Challenge> {
    let parsed = parse_www_authenticate(header);
    assert_eq!(
        codes(&parsed),
        expected,
        "warnings for {header:?}: {parsed:?}"
    );
    for w in &parsed.warnings {
        assert!(w.message.ends_with('.'), "{}", w.message);
        assert!(!w.message.contains('\n'), "{}", w.message);
        assert!(w.message.len() < 400, "{}", w.message);
    }
    parsed.challenges
}

const MALFORMED: WarningCode = WarningCode::MalformedChallenge;

#[test]
fn unterminated_quote_keeps_what_was_read() {
    // The quote swallows the rest of the header, commas included.
    assert_eq!(
        malformed(r#"Bearer realm="abc, scope=x"#, &[MALFORMED]),
        vec![ch("Bearer", &[("realm", "abc, scope=x")])]
    );
    // Here the next param's opening quote closes the value; what follows is reported.
    assert_eq!(
        malformed(r#"Bearer realm="abc, scope="x"#, &[MALFORMED]),
        vec![ch("Bearer", &[("realm", "abc, scope=")])]
    );
    assert_eq!(
        malformed(
            r#"Bearer error="x", resource_metadata="https://x/y"#,
            &[MALFORMED]
        ),
        vec![ch(
            "Bearer",
            &[("error", "x"), ("resource_metadata", "https://x/y")]
        )]
    );
    assert_eq!(
        malformed(r#"Bearer realm="a\"#, &[MALFORMED]),
        vec![ch("Bearer", &[("realm", "a")])]
    );
    let parsed = parse_www_authenticate(r#"Bearer realm=""#);
    assert!(parsed.warnings[0].message.contains("unclosed"));
}

#[test]
fn stray_equals() {
    assert_eq!(
        malformed(r#"Bearer = "x", realm="a""#, &[MALFORMED]),
        Vec::<Challenge>::new(),
        // `Bearer = "x"` reads as a param named Bearer with no scheme before it; the rest
        // of the header belongs to it.
    );
    assert_eq!(
        malformed(r#"Bearer realm="a", ="x", scope="s""#, &[MALFORMED]),
        vec![ch("Bearer", &[("realm", "a"), ("scope", "s")])]
    );
    assert_eq!(
        malformed(r#"Bearer realm==x, scope="s""#, &[MALFORMED]),
        vec![ch("Bearer", &[("scope", "s")])]
    );
    assert_eq!(
        malformed(r#"=, Bearer realm="a""#, &[MALFORMED]),
        vec![ch("Bearer", &[("realm", "a")])]
    );
}

#[test]
fn missing_value_is_dropped() {
    assert_eq!(
        malformed(r#"Bearer realm="a", scope=, error="e""#, &[MALFORMED]),
        vec![ch("Bearer", &[("realm", "a"), ("error", "e")])]
    );
    assert_eq!(
        malformed(r#"Bearer realm="a", scope ="#, &[MALFORMED]),
        vec![ch("Bearer", &[("realm", "a")])]
    );
}

#[test]
fn garbage_is_skipped_and_reported() {
    assert_eq!(
        malformed(r#";;; "x", Bearer realm="a""#, &[MALFORMED]),
        vec![ch("Bearer", &[("realm", "a")])]
    );
    assert_eq!(
        malformed(r#"Bearer "quoted", realm="a""#, &[MALFORMED]),
        vec![ch("Bearer", &[("realm", "a")])]
    );
    assert_eq!(
        malformed(r#"Bearer realm="a", @@@, scope="b""#, &[MALFORMED]),
        vec![ch("Bearer", &[("realm", "a"), ("scope", "b")])]
    );
    // A non-token scheme; the quote-aware skip does not split at the quoted comma.
    assert_eq!(
        malformed(r#"Bé realm="a, b", Basic realm="c""#, &[MALFORMED]),
        vec![ch("Basic", &[("realm", "c")])]
    );
    let parsed = parse_www_authenticate(";;;");
    assert!(parsed.warnings[0].message.contains(r#"";;;""#));
}

#[test]
fn text_after_a_value_is_reported() {
    assert_eq!(
        malformed(r#"Bearer realm="a" scope="b", error="e""#, &[MALFORMED]),
        vec![ch("Bearer", &[("realm", "a"), ("error", "e")])]
    );
    let parsed = parse_www_authenticate(r#"Bearer realm="a"x"#);
    assert_eq!(parsed.challenges, vec![ch("Bearer", &[("realm", "a")])]);
    assert!(parsed.warnings[0].message.contains("missing comma"));
}

#[test]
fn params_without_a_scheme() {
    assert_eq!(
        malformed(r#"realm="a", scope="b", Bearer error="e""#, &[MALFORMED]),
        vec![ch("Bearer", &[("error", "e")])]
    );
    let parsed = parse_www_authenticate(r#"realm="a""#);
    assert!(parsed.warnings[0].message.contains("no auth scheme"));
}

#[test]
fn token68_followed_by_more_text() {
    // Not a token68 (text follows) and not a param: ignored.
    assert_eq!(
        malformed("Basic abc def, Bearer", &[MALFORMED]),
        vec![ch("Basic", &[]), ch("Bearer", &[])]
    );
    // A token68 and then params: both kept, reported once.
    assert_eq!(
        malformed(r#"Basic abc==, realm="x", charset="UTF-8""#, &[MALFORMED]),
        vec![Challenge {
            scheme: "Basic".to_owned(),
            params: vec![
                ("realm".to_owned(), "x".to_owned()),
                ("charset".to_owned(), "UTF-8".to_owned())
            ],
            token68: Some("abc==".to_owned()),
        }]
    );
}

#[test]
fn malformed_and_duplicate_together() {
    let parsed = parse_www_authenticate(r#"Bearer realm="a", realm="b", =, x="#);
    assert_eq!(parsed.challenges, vec![ch("Bearer", &[("realm", "a")])]);
    assert_eq!(
        codes(&parsed),
        vec![WarningCode::DuplicateParam, MALFORMED, MALFORMED]
    );
}

#[test]
fn long_snippets_are_truncated_on_char_boundaries() {
    let header = format!("Bearer {}, Basic", "é\"".repeat(200));
    let parsed = parse_www_authenticate(&header);
    assert_eq!(parsed.challenges, vec![ch("Bearer", &[]), ch("Basic", &[])]);
    assert_eq!(codes(&parsed), vec![MALFORMED]);
    assert!(parsed.warnings[0].message.contains('…'));
    assert!(parsed.warnings[0].message.chars().count() < 300);
}
