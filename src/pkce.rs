//! PKCE (RFC 7636) with the S256 method only, and the `state` parameter (discovery.md §8).
//!
//! A verifier is base64url (no padding) of 32 random bytes: 43 characters, 256 bits. The
//! challenge is base64url (no padding) of its SHA-256. `state` is 32 random bytes the same way.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorCode, Result};
use crate::secret::Secret;

/// The only challenge method this crate produces or accepts.
pub const CODE_CHALLENGE_METHOD: &str = "S256";

/// Shortest verifier RFC 7636 §4.1 allows.
pub const MIN_VERIFIER_LEN: usize = 43;
/// Longest verifier RFC 7636 §4.1 allows.
pub const MAX_VERIFIER_LEN: usize = 128;

/// Random bytes behind a verifier and a state (32 bytes = 43 base64url characters).
const RANDOM_BYTES: usize = 32;

/// A PKCE pair. `Debug` redacts the verifier; `Serialize` (for the owner, e.g. the npm
/// `generatePkce()`) gives `{code_verifier, code_challenge, code_challenge_method: "S256"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkce {
    pub code_verifier: Secret,
    pub code_challenge: String,
}

impl Pkce {
    /// The pair for an existing verifier (checked as [`challenge_s256`] does).
    pub fn from_verifier(code_verifier: Secret) -> Result<Pkce> {
        let code_challenge = challenge_s256(code_verifier.expose())?;
        Ok(Pkce {
            code_verifier,
            code_challenge,
        })
    }

    /// Always `"S256"`.
    pub fn code_challenge_method(&self) -> &'static str {
        CODE_CHALLENGE_METHOD
    }
}

impl Serialize for Pkce {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Pkce", 3)?;
        s.serialize_field("code_verifier", &self.code_verifier)?;
        s.serialize_field("code_challenge", &self.code_challenge)?;
        s.serialize_field("code_challenge_method", CODE_CHALLENGE_METHOD)?;
        s.end()
    }
}

/// A fresh verifier (43 characters from 32 random bytes) and its S256 challenge.
pub fn generate() -> Result<Pkce> {
    let verifier = random_base64url()?;
    Pkce::from_verifier(Secret::new(verifier))
}

/// The S256 challenge of `verifier`: base64url (no padding) of its SHA-256.
///
/// Fails with [`ErrorCode::InvalidVerifier`] when the verifier is shorter than 43 or longer
/// than 128 characters, or holds a character outside `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
pub fn challenge_s256(verifier: &str) -> Result<String> {
    let len = verifier.len();
    if !(MIN_VERIFIER_LEN..=MAX_VERIFIER_LEN).contains(&len) {
        return Err(Error::new(
            ErrorCode::InvalidVerifier,
            format!(
                "the code verifier is {len} characters long: use {MIN_VERIFIER_LEN} to \
                 {MAX_VERIFIER_LEN} characters from [A-Za-z0-9-._~] (generatePkce makes one)"
            ),
        ));
    }
    if let Some((pos, c)) = verifier.char_indices().find(|&(_, c)| !is_unreserved(c)) {
        return Err(Error::new(
            ErrorCode::InvalidVerifier,
            format!(
                "the code verifier has the character {c:?} at position {pos}: use only \
                 [A-Za-z0-9-._~] (RFC 7636 §4.1; generatePkce makes one)"
            ),
        ));
    }
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())))
}

/// A fresh `state`: base64url (no padding) of 32 random bytes (256 bits, 43 characters).
pub fn generate_state() -> Result<String> {
    random_base64url()
}

/// RFC 3986 unreserved characters, the alphabet of a code verifier.
fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

fn random_base64url() -> Result<String> {
    let mut buf = [0u8; RANDOM_BYTES];
    getrandom::fill(&mut buf).map_err(|e| {
        Error::new(
            ErrorCode::InvalidArgument,
            format!(
                "the platform's secure random source failed ({e}): run where \
                 crypto.getRandomValues (or the OS random source) is available"
            ),
        )
    })?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn is_b64url(s: &str) -> bool {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(challenge_s256(RFC_VERIFIER).unwrap(), RFC_CHALLENGE);
        let p = Pkce::from_verifier(Secret::new(RFC_VERIFIER)).unwrap();
        assert_eq!(p.code_challenge, RFC_CHALLENGE);
        assert_eq!(p.code_challenge_method(), "S256");
    }

    #[test]
    fn accepts_the_whole_unreserved_alphabet_and_both_length_bounds() {
        let all = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
        assert_eq!(challenge_s256(all).unwrap().len(), 43);
        assert!(challenge_s256(&"a".repeat(43)).is_ok());
        assert!(challenge_s256(&"~".repeat(128)).is_ok());
    }

    #[test]
    fn rejects_lengths_outside_43_to_128() {
        for n in [0, 1, 42, 129, 500] {
            let e = challenge_s256(&"a".repeat(n)).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidVerifier, "{n}");
            assert!(
                e.message.contains(&format!("is {n} characters long")),
                "{e}"
            );
            assert!(e.message.contains("43 to 128"), "{e}");
        }
    }

    #[test]
    fn rejects_characters_outside_the_alphabet() {
        let base = "a".repeat(42);
        for bad in ['+', '/', '=', ' ', '%', '!', '\n', 'é', '\0'] {
            let v = format!("{base}{bad}");
            let e = challenge_s256(&v).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidVerifier, "{bad:?}");
            assert!(e.message.contains(&format!("{bad:?}")), "{e}");
            assert!(e.message.contains("position 42"), "{e}");
        }
        // 43 bytes but a multi-byte character: still refused for the character.
        let e = challenge_s256(&format!("{}é", "a".repeat(41))).unwrap_err();
        assert!(e.message.contains("'é'"), "{e}");
    }

    #[test]
    fn generated_pairs_are_43_chars_consistent_and_unique() {
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let p = generate().unwrap();
            let v = p.code_verifier.expose();
            assert_eq!(v.len(), 43);
            assert!(is_b64url(v), "{v}");
            assert_eq!(p.code_challenge.len(), 43);
            assert!(is_b64url(&p.code_challenge));
            assert_eq!(challenge_s256(v).unwrap(), p.code_challenge);
            assert!(seen.insert(v.to_owned()), "repeated verifier");
        }
    }

    #[test]
    fn generated_states_are_43_chars_base64url_and_unique() {
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let s = generate_state().unwrap();
            assert_eq!(s.len(), 43);
            assert!(is_b64url(&s), "{s}");
            assert!(seen.insert(s), "repeated state");
        }
    }

    #[test]
    fn serializes_with_the_method_and_debug_redacts() {
        let p = Pkce::from_verifier(Secret::new(RFC_VERIFIER)).unwrap();
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({
                "code_verifier": RFC_VERIFIER,
                "code_challenge": RFC_CHALLENGE,
                "code_challenge_method": "S256",
            })
        );
        let dbg = format!("{p:?}");
        assert!(!dbg.contains(RFC_VERIFIER), "{dbg}");
        assert!(dbg.contains(RFC_CHALLENGE), "{dbg}");
    }

    #[test]
    fn from_verifier_checks_the_verifier() {
        let e = Pkce::from_verifier(Secret::new("short")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidVerifier);
    }
}
