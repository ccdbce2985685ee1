//! The mix-up defences of the authorization response (RFC 9700 §4.4.2): a redirect URI per
//! authorization server, checked against the callback's query, and the RFC 9207 `iss` table
//! (discovery.md §8). Both are sans-I/O judges; the Worker's callback applies them.

use url::Url;

/// The query parameter that tells servers apart in the redirect URI.
pub const SERVER_PARAM: &str = "s";

/// The redirect URI of one server's client (RFC 9700 §4.4.2.2, the mix-up defence when `iss`
/// is missing: a distinct redirect URI per authorization server): the deployment's callback
/// URL with `s=<server id>`, which providers echo exactly. Clients registered by hand keep the
/// documented callback URL (that is what was registered).
pub fn server_redirect_uri(callback_url: &str, server_id: &str) -> String {
    match Url::parse(callback_url) {
        Ok(mut u) => {
            u.query_pairs_mut().append_pair(SERVER_PARAM, server_id);
            u.into()
        }
        Err(_) => callback_url.to_owned(),
    }
}

/// Whether a callback request's query belongs to the flow's registered `redirect_uri`: every
/// query parameter of the redirect URI appears in the callback's query exactly once with the
/// same value (RFC 6749 §3.1.2 keeps the redirect URI's query). A response that a malicious
/// authorization server bounced through another server's client arrives at that server's
/// redirect URI and fails this check.
pub fn redirect_matches(redirect_uri: &str, callback_query: &str) -> bool {
    let Ok(u) = Url::parse(redirect_uri) else {
        return false;
    };
    let got: Vec<(String, String)> =
        url::form_urlencoded::parse(callback_query.trim_start_matches('?').as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    u.query_pairs().all(|(k, v)| {
        let mut same = got.iter().filter(|(gk, _)| *gk == k);
        matches!((same.next(), same.next()), (Some((_, gv)), None) if *gv == v)
    })
}

/// Why an authorization response's `iss` was refused (RFC 9207).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssRefusal {
    /// `iss` differs from the issuer the request was sent to.
    Mismatch,
    /// No `iss`, though the metadata said `authorization_response_iss_parameter_supported`.
    Missing,
}

/// The RFC 9207 table (discovery.md §8, SEP-2468), applied before anything else of the
/// response is looked at (a refused response shows none of its error parameters):
/// - `iss` present: it must equal `expected` exactly (no normalisation); with no expected
///   issuer (a config without authorization server metadata) it must not be required either;
/// - `iss` absent: refused when the metadata said `iss_supported`, accepted otherwise.
pub fn check_iss(
    iss: Option<&str>,
    expected: Option<&str>,
    iss_supported: bool,
) -> std::result::Result<(), IssRefusal> {
    match (iss, expected) {
        (Some(iss), Some(expected)) if iss == expected => Ok(()),
        (Some(_), Some(_)) => Err(IssRefusal::Mismatch),
        (Some(_), None) if iss_supported => Err(IssRefusal::Mismatch),
        (Some(_), None) => Ok(()),
        (None, _) if iss_supported => Err(IssRefusal::Missing),
        (None, _) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_uri_per_server_and_its_check() {
        let cb = "https://w.example.com/service/mcp/consent/callback";
        let r = server_redirect_uri(cb, "srv-1a");
        assert_eq!(
            r,
            "https://w.example.com/service/mcp/consent/callback?s=srv-1a"
        );
        assert!(redirect_matches(&r, "code=c&state=x&s=srv-1a"));
        assert!(redirect_matches(
            &r,
            "?s=srv-1a&code=c&iss=https%3A%2F%2Fas"
        ));
        // Another server's redirect URI, none, or a repeated one: refused.
        assert!(!redirect_matches(&r, "code=c&state=x&s=srv-2b"));
        assert!(!redirect_matches(&r, "code=c&state=x"));
        assert!(!redirect_matches(&r, "s=srv-1a&s=srv-2b&code=c"));
        // The documented callback (a hand-registered client) carries no parameter to check.
        assert!(redirect_matches(cb, "code=c&state=x"));
        assert!(redirect_matches(cb, "code=c&state=x&s=anything"));
        assert!(!redirect_matches("not a url", "code=c"));
    }

    #[test]
    fn rfc9207_iss_table() {
        use IssRefusal::{Mismatch, Missing};
        let e = Some("https://as.example.com");
        // (iss, expected issuer, metadata says supported) -> verdict
        type Row<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            bool,
            std::result::Result<(), IssRefusal>,
        );
        let table: [Row; 11] = [
            (e, e, false, Ok(())),
            (e, e, true, Ok(())),
            (Some("https://as.example.com/"), e, false, Err(Mismatch)),
            (Some("https://AS.example.com"), e, true, Err(Mismatch)),
            (Some("https://evil.example.com"), e, false, Err(Mismatch)),
            (Some(""), e, false, Err(Mismatch)),
            (None, e, false, Ok(())),
            (None, e, true, Err(Missing)),
            (None, None, true, Err(Missing)),
            (e, None, true, Err(Mismatch)),
            (e, None, false, Ok(())),
        ];
        for (iss, expected, supported, want) in table {
            assert_eq!(
                check_iss(iss, expected, supported),
                want,
                "{iss:?} {expected:?} {supported}"
            );
        }
    }
}
