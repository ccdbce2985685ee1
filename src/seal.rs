//! Secrets sealed at rest (client secrets, auth tokens, access and refresh tokens in D1):
//! AES-256-GCM under the Worker secret `SEAL_KEY`.
//!
//! `SEAL_KEY` is 32 random bytes in base64 (standard or URL-safe alphabet, padded or not;
//! surrounding whitespace is ignored), e.g. from `openssl rand -base64 32`.
//!
//! Format of a sealed value:
//!
//! ```text
//! v1.<base64url-nopad(nonce (12 bytes) || ciphertext || tag (16 bytes))>
//! ```
//!
//! Every [`seal`] draws a fresh random 96-bit nonce from the platform's secure random source
//! (`crypto.getRandomValues` in Workers), so sealing the same plaintext twice gives different
//! strings. With random nonces one key should seal at most about 2^32 values (NIST SP 800-38D).
//!
//! **Associated data binds a sealed value to its place.** The `aad` argument is authenticated
//! but not stored: [`open`] succeeds only with the same bytes given to [`seal`]. Callers pass
//! the row and field the value belongs to, for example
//! `b"connection:<server_id>:<actor_id>:access_token"` or `b"server:<id>:client_secret"`, so a
//! sealed value copied into another row or field (by a bug or by someone with write access to
//! the database) fails to open instead of handing one actor's token to another. Identifiers
//! may themselves contain `:`, so keep the layout unambiguous: Worker-generated ids (no `:`)
//! first, at most one caller-chosen id (the actor id), and a fixed field name last.
//!
//! The `v1.` prefix leaves room for key rotation or another algorithm later.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;

#[cfg(test)]
use crate::secret::Secret;

const PREFIX: &str = "v1.";
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// The AES-256-GCM key made from `SEAL_KEY`. `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct SealKey {
    cipher: Aes256Gcm,
}

impl SealKey {
    /// Parses `SEAL_KEY`: base64 (standard or URL-safe, padded or not) of exactly 32 bytes.
    pub(crate) fn from_base64(s: &str) -> Result<SealKey, KeyError> {
        let s = s.trim();
        let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(s).ok())
            .ok_or(KeyError::NotBase64)?;
        if bytes.len() != KEY_LEN {
            return Err(KeyError::WrongLength { len: bytes.len() });
        }
        let cipher = Aes256Gcm::new_from_slice(&bytes)
            .map_err(|_| KeyError::WrongLength { len: bytes.len() })?;
        Ok(SealKey { cipher })
    }
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealKey([redacted])")
    }
}

/// `SEAL_KEY` is unusable. The message names the fix and never shows the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// Not base64 in either alphabet.
    NotBase64,
    /// Base64 of `len` bytes instead of 32.
    WrongLength { len: usize },
}

// The Worker reports a bad key by its message (a generic 500 to callers, the detail in the
// log); the code is asserted by the tests only.
#[cfg(test)]
impl KeyError {
    /// A stable machine-readable code.
    pub(crate) fn code(&self) -> &'static str {
        "invalid_seal_key"
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "SEAL_KEY must be 32 random bytes in base64; generate one with \
             `openssl rand -base64 32`",
        )?;
        match self {
            KeyError::NotBase64 => f.write_str(" (the configured value is not base64)"),
            KeyError::WrongLength { len } => {
                write!(f, " (the configured value decodes to {len} bytes)")
            }
        }
    }
}

impl std::error::Error for KeyError {}

/// Why sealing or opening failed. Messages contain nothing from the value or the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SealError {
    /// Not `v1.` + base64url of at least nonce and tag; from [`open_secret`], plaintext that
    /// is not UTF-8; from [`seal`], a plaintext beyond AES-GCM's 64 GiB limit.
    Malformed,
    /// The tag does not verify: another key, altered bytes, or other associated data.
    Unauthentic,
    /// The platform's secure random source failed while making a nonce.
    Random,
}

impl SealError {
    /// A stable machine-readable code (for logs; these are server-side failures).
    pub(crate) fn code(&self) -> &'static str {
        match self {
            SealError::Malformed => "sealed_value_malformed",
            SealError::Unauthentic => "sealed_value_unauthentic",
            SealError::Random => "random_unavailable",
        }
    }

    /// A message naming the problem; nothing from the value or the key.
    pub(crate) fn message(&self) -> &'static str {
        match self {
            SealError::Malformed => "the sealed value is malformed",
            SealError::Unauthentic => {
                "the sealed value does not authenticate: sealed under another SEAL_KEY, \
                 altered, or moved from another row or field"
            }
            SealError::Random => {
                "the platform's secure random source failed; run where crypto.getRandomValues \
                 (or the OS random source) is available"
            }
        }
    }
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for SealError {}

/// Encrypts `plaintext` bound to `aad` under a fresh random nonce.
pub(crate) fn seal(key: &SealKey, plaintext: &[u8], aad: &[u8]) -> Result<String, SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| SealError::Random)?;
    let payload = Payload {
        msg: plaintext,
        aad,
    };
    let ciphertext = key.cipher.encrypt(&Nonce::from(nonce), payload);
    let ciphertext = ciphertext.map_err(|_| SealError::Malformed)?;
    let mut raw = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    raw.extend_from_slice(&nonce);
    raw.extend_from_slice(&ciphertext);
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw)))
}

/// Decrypts a value from [`seal`]; `aad` must be the bytes it was sealed with.
pub(crate) fn open(key: &SealKey, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, SealError> {
    let body = sealed.strip_prefix(PREFIX).ok_or(SealError::Malformed)?;
    let raw = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| SealError::Malformed)?;
    if raw.len() < NONCE_LEN + TAG_LEN {
        return Err(SealError::Malformed);
    }
    let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError::Malformed)?;
    let payload = Payload {
        msg: ciphertext,
        aad,
    };
    let plaintext = key.cipher.decrypt(&Nonce::from(nonce), payload);
    plaintext.map_err(|_| SealError::Unauthentic)
}

/// [`seal`] for a [`Secret`] (the tests' round trip; the Worker seals bytes).
#[cfg(test)]
pub(crate) fn seal_str(key: &SealKey, secret: &Secret, aad: &[u8]) -> Result<String, SealError> {
    seal(key, secret.expose().as_bytes(), aad)
}

/// [`open`] into a [`Secret`]; plaintext that is not UTF-8 is [`SealError::Malformed`]
/// (the tests' round trip; the Worker opens bytes).
#[cfg(test)]
pub(crate) fn open_secret(key: &SealKey, sealed: &str, aad: &[u8]) -> Result<Secret, SealError> {
    let bytes = open(key, sealed, aad)?;
    String::from_utf8(bytes)
        .map(Secret::new)
        .map_err(|_| SealError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AAD: &[u8] = b"connection:srv_1:user:42:access_token";

    fn key_bytes(fill: u8) -> [u8; 32] {
        std::array::from_fn(|i| fill.wrapping_add(i as u8).wrapping_mul(31))
    }

    fn key() -> SealKey {
        SealKey::from_base64(&STANDARD.encode(key_bytes(7))).unwrap()
    }

    #[test]
    fn round_trip() {
        let sealed = seal(&key(), b"refresh-token-value", AAD).unwrap();
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("refresh"));
        let body = URL_SAFE_NO_PAD.decode(&sealed[3..]).unwrap();
        assert_eq!(
            body.len(),
            NONCE_LEN + "refresh-token-value".len() + TAG_LEN
        );
        assert_eq!(open(&key(), &sealed, AAD).unwrap(), b"refresh-token-value");
    }

    #[test]
    fn secrets_round_trip_and_utf8_is_checked() {
        let secret = Secret::new("sk-live-ünïcode");
        let sealed = seal_str(&key(), &secret, AAD).unwrap();
        assert_eq!(open_secret(&key(), &sealed, AAD).unwrap(), secret);
        let not_utf8 = seal(&key(), &[0xff, 0xfe], AAD).unwrap();
        assert_eq!(open(&key(), &not_utf8, AAD).unwrap(), [0xff, 0xfe]);
        assert_eq!(
            open_secret(&key(), &not_utf8, AAD),
            Err(SealError::Malformed)
        );
    }

    #[test]
    fn empty_plaintext() {
        let sealed = seal(&key(), b"", AAD).unwrap();
        assert_eq!(open(&key(), &sealed, AAD).unwrap(), b"");
        let sealed = seal(&key(), b"", b"").unwrap();
        assert_eq!(open(&key(), &sealed, b"").unwrap(), b"");
        assert_eq!(open(&key(), &sealed, AAD), Err(SealError::Unauthentic));
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let a = seal(&key(), b"same", AAD).unwrap();
        let b = seal(&key(), b"same", AAD).unwrap();
        assert_ne!(a, b);
        assert_ne!(a[3..19], b[3..19], "nonces differ");
        assert_eq!(
            open(&key(), &a, AAD).unwrap(),
            open(&key(), &b, AAD).unwrap()
        );
    }

    #[test]
    fn wrong_aad_fails() {
        let sealed = seal(&key(), b"token", AAD).unwrap();
        for other in [
            &b"connection:srv_1:user:43:access_token"[..],
            b"connection:srv_1:user:42:refresh_token",
            b"",
            &AAD[..AAD.len() - 1],
        ] {
            assert_eq!(open(&key(), &sealed, other), Err(SealError::Unauthentic));
        }
    }

    #[test]
    fn wrong_key_fails() {
        let sealed = seal(&key(), b"token", AAD).unwrap();
        let other = SealKey::from_base64(&STANDARD.encode(key_bytes(8))).unwrap();
        assert_eq!(open(&other, &sealed, AAD), Err(SealError::Unauthentic));
    }

    #[test]
    fn every_single_bit_flip_fails() {
        // Plaintext lengths covering each base64 tail shape (0, 1 and 2 spare bytes).
        for plaintext in [&b"tok"[..], b"toke", b"token"] {
            let sealed = seal(&key(), plaintext, AAD).unwrap();
            let mut tried = 0;
            for pos in 0..sealed.len() {
                for bit in 0..8 {
                    let mut bytes = sealed.clone().into_bytes();
                    bytes[pos] ^= 1 << bit;
                    // A flip that breaks UTF-8 cannot even be passed as a &str.
                    let Ok(altered) = String::from_utf8(bytes) else {
                        continue;
                    };
                    tried += 1;
                    let err = open(&key(), &altered, AAD).unwrap_err();
                    assert!(
                        matches!(err, SealError::Malformed | SealError::Unauthentic),
                        "pos {pos} bit {bit}"
                    );
                }
            }
            assert!(tried >= sealed.len() * 7, "{tried}");
        }
    }

    #[test]
    fn truncation_fails() {
        let sealed = seal(&key(), b"token", AAD).unwrap();
        for cut in 0..sealed.len() {
            assert!(open(&key(), &sealed[..cut], AAD).is_err(), "cut at {cut}");
        }
        // Shorter than nonce + tag, even as valid base64.
        let short = format!("v1.{}", URL_SAFE_NO_PAD.encode([0u8; 27]));
        assert_eq!(open(&key(), &short, AAD), Err(SealError::Malformed));
        let extended = format!("{sealed}A");
        assert!(open(&key(), &extended, AAD).is_err());
    }

    #[test]
    fn bad_prefix_fails() {
        // 12 + 4 + 16 = 32 bytes: the padded encoding ends with "=".
        let sealed = seal(&key(), b"toke", AAD).unwrap();
        let body = &sealed[3..];
        for prefix in ["", "v2.", "V1.", "v1", " v1.", "v1.."] {
            let other = format!("{prefix}{body}");
            assert_eq!(
                open(&key(), &other, AAD),
                Err(SealError::Malformed),
                "{prefix}"
            );
        }
        // A padded body is not the format either.
        let padded = format!(
            "v1.{}",
            URL_SAFE.encode(URL_SAFE_NO_PAD.decode(body).unwrap())
        );
        assert!(padded.ends_with('='));
        assert_eq!(open(&key(), &padded, AAD), Err(SealError::Malformed));
    }

    #[test]
    fn key_parsing_accepts_both_alphabets_with_or_without_padding() {
        // 0xfb 0xff ... gives '+' and '/' (or '-' and '_') in the encoding.
        let mut bytes = key_bytes(1);
        bytes[..3].copy_from_slice(&[0xfb, 0xff, 0xbf]);
        let std = STANDARD.encode(bytes);
        let sealed = seal(&SealKey::from_base64(&std).unwrap(), b"x", AAD).unwrap();
        assert!(std.contains('+') && std.contains('/') && std.ends_with('='));
        let forms = [
            std.clone(),
            STANDARD_NO_PAD.encode(bytes),
            URL_SAFE.encode(bytes),
            URL_SAFE_NO_PAD.encode(bytes),
            format!("{std}\n"),
            format!("  {std} "),
        ];
        for form in forms {
            let key = SealKey::from_base64(&form).unwrap_or_else(|e| panic!("{form:?}: {e}"));
            assert_eq!(open(&key, &sealed, AAD).unwrap(), b"x", "{form:?}");
        }
    }

    #[test]
    fn key_parsing_rejects_wrong_lengths_and_non_base64() {
        for len in [0usize, 16, 31, 33, 64] {
            let s = STANDARD.encode(vec![7u8; len]);
            let err = SealKey::from_base64(&s).unwrap_err();
            assert_eq!(err, KeyError::WrongLength { len }, "{len}");
        }
        for bad in ["not base64!", "%%%%", "AAAA=AAA", "é"] {
            assert_eq!(SealKey::from_base64(bad).unwrap_err(), KeyError::NotBase64);
        }
        let err = SealKey::from_base64(&STANDARD.encode([7u8; 31])).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with(
            "SEAL_KEY must be 32 random bytes in base64; generate one with \
             `openssl rand -base64 32`"
        ));
        assert!(msg.contains("31 bytes"), "{msg}");
        assert_eq!(err.code(), "invalid_seal_key");
    }

    #[test]
    fn debug_hides_the_key() {
        let b64 = STANDARD.encode(key_bytes(7));
        let key = SealKey::from_base64(&b64).unwrap();
        assert_eq!(format!("{key:?}"), "SealKey([redacted])");
        assert!(!format!("{:#?}", Some(&key)).contains(&b64[..8]));
        let err = SealKey::from_base64(&STANDARD.encode([9u8; 31])).unwrap_err();
        assert!(!format!("{err:?} {err}").contains("CQkJ"));
    }
}
