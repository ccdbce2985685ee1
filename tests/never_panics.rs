#![cfg(not(target_arch = "wasm32"))]
//! Properties of `WWW-Authenticate` parsing (discovery.md §2): it never panics, a header sent
//! several times parses like its ", "-join, and rendered challenges parse back to their data.
//!
//! 512 cases per property by default; `PROPTEST_CASES=<n>` overrides it.

use mcp_authlink::challenge::{parse_headers, parse_www_authenticate, Challenge, Challenges};
use mcp_authlink::WarningCode;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    // `ProptestConfig::with_cases` would ignore the variable, so only set the default here.
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 512;
    }
    config
}

/// What holds for every parse, whatever the input.
fn check_invariants(input: &str, parsed: &Challenges) -> Result<(), TestCaseError> {
    for c in &parsed.challenges {
        prop_assert!(!c.scheme.is_empty(), "empty scheme from {:?}", input);
        prop_assert!(input.contains(c.scheme.as_str()));
        for (i, (name, _)) in c.params.iter().enumerate() {
            prop_assert!(!name.is_empty());
            prop_assert_eq!(name, &name.to_ascii_lowercase());
            prop_assert!(
                c.params[..i].iter().all(|(other, _)| other != name),
                "duplicate {:?} kept from {:?}",
                name,
                input
            );
        }
    }
    for w in &parsed.warnings {
        prop_assert!(matches!(
            w.code,
            WarningCode::MalformedChallenge | WarningCode::DuplicateParam
        ));
        prop_assert!(w.message.ends_with('.'), "{}", w.message);
        prop_assert!(!w.message.contains('\n'), "{}", w.message);
    }
    Ok(())
}

/// Strings built from the pieces that matter to the grammar, plus some non-ASCII text.
fn grammarish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("Bearer"),
        Just("basic"),
        Just("realm"),
        Just("x"),
        Just("abc"),
        Just("="),
        Just("=="),
        Just(","),
        Just("\""),
        Just("\\"),
        Just(" "),
        Just("\t"),
        Just("/"),
        Just("é"),
        Just("☕"),
        Just("\u{1F600}"),
        Just("\r\n"),
    ];
    prop::collection::vec(piece, 0..48).prop_map(|pieces| pieces.concat())
}

// --- well-formed challenges ------------------------------------------------------------------

/// RFC 9110 tokens: a scheme, a param name, a token value.
const TOKEN: &str = "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}";

/// A value as rendered in a header, and what it must parse to.
#[derive(Debug, Clone)]
struct Value {
    rendered: String,
    expected: String,
}

fn quote(s: &str, escape_everything: bool) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if escape_everything || c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        // Any text as a quoted-string, escaping what must be escaped, or everything.
        (any::<String>(), any::<bool>()).prop_map(|(s, all)| Value {
            rendered: quote(&s, all),
            expected: s,
        }),
        // A token.
        TOKEN.prop_map(|t| Value {
            rendered: t.clone(),
            expected: t,
        }),
        // A URL written unquoted, as seen in the wild.
        "https://[a-z]{1,8}(\\.[a-z]{2,4})?(/[a-z0-9._~-]{0,8}){0,3}(\\?[a-z]{1,4}=[a-z0-9]{0,4}(&[a-z]=[0-9])?)?"
            .prop_map(|u| Value {
                rendered: u.clone(),
                expected: u,
            }),
    ]
}

#[derive(Debug, Clone)]
enum Body {
    Bare,
    Token68(String),
    /// (name as written, separator before `=`, separator after `=`, value).
    Params(Vec<(String, String, String, Value)>),
}

#[derive(Debug, Clone)]
struct Spec {
    scheme: String,
    gap: String,
    body: Body,
}

fn ows() -> impl Strategy<Value = String> {
    "[ \t]{0,2}"
}

/// A list separator: a comma with optional whitespace and optional empty elements.
fn separator() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(", ".to_owned()),
        1 => "[ \t]{0,2},[ \t]{0,2}",
        1 => "[ \t]{0,1}(,[ \t]{0,1}){2,3}",
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    let param = (TOKEN, ows(), ows(), value());
    let body = prop_oneof![
        1 => Just(Body::Bare),
        1 => "[A-Za-z0-9._~+/-]{1,24}={0,2}".prop_map(Body::Token68),
        4 => prop::collection::vec(param, 1..5).prop_map(Body::Params),
    ];
    (TOKEN, "[ ]{1,3}", body).prop_map(|(scheme, gap, body)| Spec { scheme, gap, body })
}

/// Renders a header from specs with the given separators (cycled), and returns it with the
/// expected parse: names lower-cased, a repeated name keeping its first value and adding one
/// `duplicate_param` warning.
fn render(specs: &[Spec], seps: &[String]) -> (String, Vec<Challenge>, usize) {
    let mut header = String::new();
    let mut expected = Vec::new();
    let mut duplicates = 0;
    let mut sep = seps.iter().cycle();
    for (i, spec) in specs.iter().enumerate() {
        if i > 0 {
            header.push_str(sep.next().map_or(", ", String::as_str));
        }
        header.push_str(&spec.scheme);
        let mut challenge = Challenge {
            scheme: spec.scheme.clone(),
            params: Vec::new(),
            token68: None,
        };
        match &spec.body {
            Body::Bare => {}
            Body::Token68(t) => {
                header.push_str(&spec.gap);
                header.push_str(t);
                challenge.token68 = Some(t.clone());
            }
            Body::Params(params) => {
                header.push_str(&spec.gap);
                for (j, (name, before, after, value)) in params.iter().enumerate() {
                    if j > 0 {
                        header.push_str(sep.next().map_or(", ", String::as_str));
                    }
                    header.push_str(&format!("{name}{before}={after}{}", value.rendered));
                    let name = name.to_ascii_lowercase();
                    if challenge.params.iter().any(|(n, _)| *n == name) {
                        duplicates += 1;
                    } else {
                        challenge.params.push((name, value.expected.clone()));
                    }
                }
            }
        }
        expected.push(challenge);
    }
    (header, expected, duplicates)
}

fn header() -> impl Strategy<Value = (String, Vec<Challenge>, usize)> {
    (
        prop::collection::vec(spec(), 1..4),
        prop::collection::vec(separator(), 1..4),
    )
        .prop_map(|(specs, seps)| render(&specs, &seps))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn never_panics_on_arbitrary_strings(input in any::<String>()) {
        let parsed = parse_www_authenticate(&input);
        check_invariants(&input, &parsed)?;
    }

    #[test]
    fn never_panics_on_grammarish_strings(input in grammarish()) {
        let parsed = parse_www_authenticate(&input);
        check_invariants(&input, &parsed)?;
    }

    #[test]
    fn never_panics_on_mutated_headers(
        (input, _, _) in header(),
        cut in any::<prop::sample::Index>(),
        insert in prop_oneof![Just("\""), Just("="), Just(","), Just("\\"), Just(" é ")],
    ) {
        // Break a well-formed header at a char boundary: truncate it, or insert a piece.
        let boundaries: Vec<usize> =
            input.char_indices().map(|(i, _)| i).chain([input.len()]).collect();
        let at = boundaries[cut.index(boundaries.len())];
        let truncated = &input[..at];
        let inserted = format!("{}{insert}{}", &input[..at], &input[at..]);
        for broken in [truncated, inserted.as_str()] {
            let parsed = parse_www_authenticate(broken);
            check_invariants(broken, &parsed)?;
        }
    }

    #[test]
    fn rendered_challenges_parse_back((input, expected, duplicates) in header()) {
        let parsed = parse_www_authenticate(&input);
        prop_assert_eq!(&parsed.challenges, &expected, "header {:?}", input);
        prop_assert_eq!(parsed.warnings.len(), duplicates, "header {:?}: {:?}", input, parsed.warnings);
        prop_assert!(parsed
            .warnings
            .iter()
            .all(|w| w.code == WarningCode::DuplicateParam));
    }

    #[test]
    fn joined_headers_parse_like_separate_ones(
        (a, _, _) in header(),
        (b, _, _) in header(),
    ) {
        let joined = parse_www_authenticate(&format!("{a}, {b}"));
        let mut concatenated = parse_www_authenticate(&a);
        let second = parse_www_authenticate(&b);
        concatenated.challenges.extend(second.challenges);
        concatenated.warnings.extend(second.warnings);
        prop_assert_eq!(&joined, &concatenated, "a = {:?}, b = {:?}", a, b);
        prop_assert_eq!(&parse_headers([a.as_str(), b.as_str()]), &joined);
    }
}
