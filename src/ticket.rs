//! Session tickets for the Worker's runtime plane (`Authorization: Bearer <ticket>`).
//!
//! A ticket is issued by `POST /ai/session-tickets` and names one actor and the agents it may
//! act through. It is stateless: HMAC-SHA256 under the Worker secret `TICKET_KEY`.
//!
//! Format (four parts joined by `.`; every part is URL- and header-safe):
//!
//! ```text
//! v2.<kid>.<payload>.<mac>
//! kid     = the first 8 characters of base64url-nopad(SHA-256("mcp-authlink ticket key id\n" + TICKET_KEY))
//! payload = base64url-nopad(JSON of TicketClaims)
//! mac     = base64url-nopad(HMAC-SHA256(key = TICKET_KEY, message = "v2." + kid + "." + payload))
//! ```
//!
//! The key id names the `TICKET_KEY` that signed the ticket, so that after a rotation a ticket
//! of the previous key is refused as such ([`TicketError::KeyRotated`], "request a new ticket")
//! rather than as a forgery. It is a hash of the key: it reveals nothing usable about it.
//!
//! The MAC covers the version prefix, the key id and the payload exactly as transmitted.
//! [`verify`] bounds the input length first ([`MAX_TICKET_LEN`]), compares the key id, checks
//! the MAC in constant time before it decodes any JSON, and then checks expiry
//! (`now >= expires_at` is expired). Every failure has the code `invalid_ticket` (401); the
//! messages tell the cases apart without echoing anything from the ticket.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The version prefix of tickets this module issues and accepts.
const PREFIX: &str = "v2.";

/// The prefix of the tickets issued before key ids (refused as from a rotated key).
const OLD_PREFIX: &str = "v1.";

/// What the key id hashes before the key.
const KID_CONTEXT: &[u8] = b"mcp-authlink ticket key id\n";

/// The shortest `TICKET_KEY` accepted, in bytes.
pub(crate) const MIN_KEY_LEN: usize = 32;

/// Longer inputs are rejected as malformed before any decoding or MAC work.
pub(crate) const MAX_TICKET_LEN: usize = 16 * 1024;

/// The most agent ids a ticket holds. With ASCII ids of the maximum [`MAX_ID_CHARS`] they
/// all fit within [`MAX_TICKET_LEN`]; ids of many-byte characters may not, and then [`issue`]
/// refuses ([`TooLarge`]).
pub(crate) const MAX_AGENT_IDS: usize = 40;

/// The longest platform id (`actor_id`, `agent_id`), in characters.
pub(crate) const MAX_ID_CHARS: usize = 255;

/// What a ticket asserts. Times are unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TicketClaims {
    pub actor_id: String,
    pub agent_ids: Vec<String>,
    pub issued_at: u64,
    pub expires_at: u64,
}

impl TicketClaims {
    /// Whether the ticket's scope includes `agent_id` (exact match).
    pub(crate) fn allows_agent(&self, agent_id: &str) -> bool {
        self.agent_ids.iter().any(|a| a == agent_id)
    }
}

/// The HMAC key made from `TICKET_KEY`. `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct TicketKey {
    mac: HmacSha256,
    kid: String,
}

impl TicketKey {
    /// Uses the UTF-8 bytes of `secret` as the HMAC key; at least [`MIN_KEY_LEN`] bytes.
    pub(crate) fn new(secret: &str) -> Result<TicketKey, KeyError> {
        if secret.len() < MIN_KEY_LEN {
            return Err(KeyError::TooShort { len: secret.len() });
        }
        let kid = key_id(secret);
        // HMAC takes keys of any length: this never fails.
        let mac = HmacSha256::new_from_slice(secret.as_bytes());
        mac.map(|mac| TicketKey { mac, kid })
            .map_err(|_| KeyError::TooShort { len: secret.len() })
    }

    /// The key id that tickets signed with this key carry (not secret); the tests read it.
    #[cfg(test)]
    pub(crate) fn id(&self) -> &str {
        &self.kid
    }

    fn mac_over(&self, kid: &str, payload_part: &str) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(PREFIX.as_bytes());
        mac.update(kid.as_bytes());
        mac.update(b".");
        mac.update(payload_part.as_bytes());
        mac
    }
}

/// The key id of a `TICKET_KEY`: 8 base64url characters of a SHA-256 of the key.
pub(crate) fn key_id(secret: &str) -> String {
    use sha2::Digest;
    let digest = Sha256::new()
        .chain_update(KID_CONTEXT)
        .chain_update(secret.as_bytes())
        .finalize();
    let mut kid = URL_SAFE_NO_PAD.encode(digest);
    kid.truncate(8);
    kid
}

impl fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TicketKey([redacted])")
    }
}

/// `TICKET_KEY` is unusable. The message names the fix and never shows the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// Fewer than [`MIN_KEY_LEN`] bytes (`len` is the length given).
    TooShort { len: usize },
}

// As for the seal key: the Worker logs the message; the code is asserted by the tests only.
#[cfg(test)]
impl KeyError {
    /// A stable machine-readable code.
    pub(crate) fn code(&self) -> &'static str {
        "invalid_ticket_key"
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::TooShort { len } => write!(
                f,
                "TICKET_KEY must be at least {MIN_KEY_LEN} bytes; generate one with \
                 `openssl rand -base64 32` (the configured value has {len} bytes)"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// Why a ticket was refused. All cases answer 401 `invalid_ticket`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TicketError {
    /// Not a `v1` ticket of the expected shape (or longer than [`MAX_TICKET_LEN`]).
    Malformed,
    /// The MAC does not verify: forged, altered, or signed with another `TICKET_KEY`.
    BadSignature,
    /// Authentic, but `now >= expires_at`.
    Expired,
    /// Signed with another key id: a `TICKET_KEY` in use before a rotation (or a ticket of
    /// the earlier `v1` format, which had no key id).
    KeyRotated,
}

impl TicketError {
    /// The stable wire code, the same for every case.
    pub(crate) fn code(&self) -> &'static str {
        "invalid_ticket"
    }

    /// A message naming the problem; it contains nothing from the ticket.
    pub(crate) fn message(&self) -> &'static str {
        match self {
            TicketError::Malformed => "the session ticket is malformed",
            TicketError::BadSignature => {
                "the session ticket's signature does not verify; request a new ticket"
            }
            TicketError::Expired => "the session ticket has expired; request a new ticket",
            TicketError::KeyRotated => {
                "the session ticket was signed with a TICKET_KEY that is no longer in use; \
                 request a new ticket"
            }
        }
    }
}

impl fmt::Display for TicketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for TicketError {}

/// The claims do not fit in a ticket of [`MAX_TICKET_LEN`] (too many or too long ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLarge {
    /// The length the ticket would have had.
    pub len: usize,
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the ticket would be {} bytes, over the {MAX_TICKET_LEN}-byte limit: name fewer \
             agents or use shorter ids",
            self.len
        )
    }
}

/// Signs `claims` into a ticket string, unless it would be longer than [`MAX_TICKET_LEN`].
pub(crate) fn issue(key: &TicketKey, claims: &TicketClaims) -> Result<String, TooLarge> {
    // Strings and integers only: serialisation cannot fail (an empty payload would be
    // refused by `verify` as malformed).
    let json = serde_json::to_vec(claims).unwrap_or_default();
    let payload_part = URL_SAFE_NO_PAD.encode(json);
    let tag = key
        .mac_over(&key.kid, &payload_part)
        .finalize()
        .into_bytes();
    let ticket = format!(
        "{PREFIX}{}.{payload_part}.{}",
        key.kid,
        URL_SAFE_NO_PAD.encode(tag)
    );
    if ticket.len() > MAX_TICKET_LEN {
        return Err(TooLarge { len: ticket.len() });
    }
    Ok(ticket)
}

/// Checks a ticket's length, shape, MAC (constant time, before any JSON) and expiry.
pub(crate) fn verify(key: &TicketKey, ticket: &str, now: u64) -> Result<TicketClaims, TicketError> {
    if ticket.len() > MAX_TICKET_LEN {
        return Err(TicketError::Malformed);
    }
    if ticket.starts_with(OLD_PREFIX) {
        return Err(TicketError::KeyRotated);
    }
    let rest = ticket.strip_prefix(PREFIX).ok_or(TicketError::Malformed)?;
    let mut parts = rest.split('.');
    let (Some(kid), Some(payload_part), Some(mac_part), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TicketError::Malformed);
    };
    if kid.is_empty() || payload_part.is_empty() || mac_part.is_empty() {
        return Err(TicketError::Malformed);
    }
    if kid != key.kid {
        return Err(TicketError::KeyRotated);
    }
    let tag = URL_SAFE_NO_PAD
        .decode(mac_part)
        .map_err(|_| TicketError::Malformed)?;
    key.mac_over(kid, payload_part)
        .verify_slice(&tag)
        .map_err(|_| TicketError::BadSignature)?;
    let json = URL_SAFE_NO_PAD
        .decode(payload_part)
        .map_err(|_| TicketError::Malformed)?;
    let claims: TicketClaims = serde_json::from_slice(&json).map_err(|_| TicketError::Malformed)?;
    if now >= claims.expires_at {
        return Err(TicketError::Expired);
    }
    Ok(claims)
}

/// A server id (generated by the Worker): 1 to 128 characters from `[A-Za-z0-9._:-]`.
pub(crate) fn is_valid_server_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// A platform's id (`actor_id`, `agent_id`): what the platform already has (an e-mail
/// address, `auth0|65f0c1`, a UUID, a name in any script): 1 to [`MAX_ID_CHARS`] characters,
/// none of them a control character. Used as given (no normalisation).
pub(crate) fn is_valid_platform_id(s: &str) -> bool {
    let mut n = 0;
    for c in s.chars() {
        n += 1;
        if n > MAX_ID_CHARS || c.is_control() {
            return false;
        }
    }
    n > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use TicketError::{BadSignature, Expired, KeyRotated, Malformed};

    const SECRET: &str = "0123456789abcdef0123456789abcdef-test";
    const OTHER: &str = "another-key-another-key-another-key";

    fn key() -> TicketKey {
        TicketKey::new(SECRET).unwrap()
    }

    fn claims() -> TicketClaims {
        TicketClaims {
            actor_id: "user:42".into(),
            agent_ids: vec!["support-bot".into(), "sales.bot_2".into()],
            issued_at: 1_700_000_000,
            expires_at: 1_700_003_600,
        }
    }

    /// The error for a ticket checked at time 0 under [`SECRET`].
    fn err(ticket: &str) -> TicketError {
        verify(&key(), ticket, 0).unwrap_err()
    }

    /// The payload and MAC parts of a ticket.
    fn parts(ticket: &str) -> (&str, &str) {
        let rest = &ticket[PREFIX.len() + key().id().len() + 1..];
        rest.split_once('.').unwrap()
    }

    /// `v2.<kid>.` of [`SECRET`].
    fn head() -> String {
        format!("{PREFIX}{}.", key().id())
    }

    #[test]
    fn round_trip() {
        let t = issue(&key(), &claims()).unwrap();
        assert!(t.starts_with(&head()), "{t}");
        assert_eq!(t.matches('.').count(), 3);
        let url_safe = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_');
        assert!(t.bytes().all(url_safe));
        assert_eq!(verify(&key(), &t, 1_700_000_000), Ok(claims()));
        // Deterministic: the same claims give the same ticket.
        assert_eq!(t, issue(&key(), &claims()).unwrap());
    }

    #[test]
    fn tampered_payload_fails_the_mac() {
        let t = issue(&key(), &claims()).unwrap();
        let (_, mac) = parts(&t);
        let mut forged = claims();
        forged.agent_ids.push("admin-bot".into());
        forged.expires_at = u64::MAX;
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(err(&format!("{}{payload}.{mac}", head())), BadSignature);
        // Not even JSON inside: the MAC is still checked first.
        let junk = URL_SAFE_NO_PAD.encode(b"not json");
        assert_eq!(err(&format!("{}{junk}.{mac}", head())), BadSignature);
    }

    #[test]
    fn tampered_mac_fails() {
        let t = issue(&key(), &claims()).unwrap();
        let (payload, mac) = parts(&t);
        let first = if mac.starts_with('A') { "B" } else { "A" };
        let h = head();
        assert_eq!(
            err(&format!("{h}{payload}.{first}{}", &mac[1..])),
            BadSignature
        );
        // A MAC of the wrong length (valid base64 of 33 bytes).
        let long = URL_SAFE_NO_PAD.encode([0u8; 33]);
        assert_eq!(err(&format!("{h}{payload}.{long}")), BadSignature);
        // Not base64 at all.
        assert_eq!(err(&format!("{h}{payload}.{}*", &mac[1..])), Malformed);
    }

    #[test]
    fn truncated_tickets_fail() {
        let t = issue(&key(), &claims()).unwrap();
        for cut in 0..t.len() {
            let e = err(&t[..cut]);
            // A cut inside the key id leaves another key id.
            assert!(
                matches!(e, Malformed | BadSignature | KeyRotated),
                "cut at {cut}: {e:?}"
            );
        }
        let (payload, _) = parts(&t);
        let h = head();
        let (bare, dot) = (format!("{h}{payload}"), format!("{h}{payload}."));
        for bad in [
            "",
            "v2.",
            "v2..",
            "v2...",
            &h,
            &bare,
            &dot,
            &format!("{t}.AAAA"),
        ] {
            assert_eq!(err(bad), Malformed, "{bad}");
        }
    }

    #[test]
    fn a_rotated_key_is_named_and_a_forged_key_id_fails_the_mac() {
        let t = issue(&key(), &claims()).unwrap();
        let other = TicketKey::new(OTHER).unwrap();
        assert_ne!(other.id(), key().id());
        // After a rotation the old tickets are refused, and the message says why.
        assert_eq!(verify(&other, &t, 0), Err(KeyRotated));
        assert!(KeyRotated.message().contains("no longer in use"));
        // A ticket of another key relabelled with the current key id: the MAC catches it.
        let relabelled = t.replacen(key().id(), other.id(), 1);
        assert_eq!(verify(&other, &relabelled, 0), Err(BadSignature));
        // Tickets of the v1 format (no key id) are from before key ids.
        let (payload, mac) = parts(&t);
        assert_eq!(err(&format!("v1.{payload}.{mac}")), KeyRotated);
    }

    #[test]
    fn the_key_id_is_a_short_hash_of_the_key() {
        let k = key();
        assert_eq!(k.id().len(), 8);
        assert_eq!(k.id(), key_id(SECRET));
        assert!(!SECRET.contains(k.id()));
        assert!(k
            .id()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }

    #[test]
    fn other_version_prefixes_are_malformed() {
        let t = issue(&key(), &claims()).unwrap();
        let rest = &t[PREFIX.len()..];
        for prefix in ["v3.", "V2.", "v0.", "2.", " v2.", "v2.."] {
            assert_eq!(err(&format!("{prefix}{rest}")), Malformed, "{prefix}");
        }
    }

    #[test]
    fn huge_input_is_rejected_before_work() {
        let t = issue(&key(), &claims()).unwrap();
        assert_eq!(
            err(&format!("{t}{}", "A".repeat(MAX_TICKET_LEN))),
            Malformed
        );
        assert_eq!(err(&format!("v2.{}", "A".repeat(10 << 20))), Malformed);
    }

    #[test]
    fn max_agent_ids_of_max_length_fit() {
        let id = |c: char| c.to_string().repeat(MAX_ID_CHARS);
        let big = TicketClaims {
            actor_id: id('a'),
            agent_ids: (0..MAX_AGENT_IDS).map(|_| id('b')).collect(),
            issued_at: u64::MAX - 1,
            expires_at: u64::MAX,
        };
        let t = issue(&key(), &big).unwrap();
        assert!(t.len() <= MAX_TICKET_LEN, "{}", t.len());
        assert_eq!(verify(&key(), &t, 0), Ok(big));
    }

    #[test]
    fn claims_too_large_for_a_ticket_are_refused_at_issue() {
        let wide = "é".repeat(MAX_ID_CHARS);
        let big = TicketClaims {
            actor_id: wide.clone(),
            agent_ids: vec![wide; MAX_AGENT_IDS],
            ..claims()
        };
        let e = issue(&key(), &big).unwrap_err();
        assert!(e.len > MAX_TICKET_LEN, "{e:?}");
        assert!(e
            .to_string()
            .contains("name fewer agents or use shorter ids"));
    }

    #[test]
    fn platform_ids_round_trip_as_given() {
        let c = TicketClaims {
            actor_id: "alice@example.com".into(),
            agent_ids: vec!["auth0|65f0c1".into(), "агент \"q\" / 1".into()],
            ..claims()
        };
        let t = issue(&key(), &c).unwrap();
        assert_eq!(verify(&key(), &t, 0), Ok(c));
    }

    #[test]
    fn expiry_boundary() {
        let c = claims();
        let t = issue(&key(), &c).unwrap();
        assert!(verify(&key(), &t, c.expires_at - 1).is_ok());
        assert_eq!(verify(&key(), &t, c.expires_at), Err(Expired));
        assert_eq!(verify(&key(), &t, u64::MAX), Err(Expired));
        // A ticket of another key is told apart by its key id, before anything else.
        let foreign = issue(&TicketKey::new(OTHER).unwrap(), &c).unwrap();
        assert_eq!(verify(&key(), &foreign, u64::MAX), Err(KeyRotated));
        // An expired forgery under this key id is reported as forged: the MAC comes first.
        let other = issue(
            &key(),
            &TicketClaims {
                expires_at: c.expires_at + 1,
                ..claims()
            },
        )
        .unwrap();
        let (p, o): (Vec<&str>, Vec<&str>) = (t.split('.').collect(), other.split('.').collect());
        let forged = format!("{}.{}.{}.{}", p[0], p[1], o[2], p[3]);
        assert_eq!(verify(&key(), &forged, u64::MAX), Err(BadSignature));
    }

    #[test]
    fn errors_share_a_code_and_differ_in_message() {
        for e in [Malformed, BadSignature, Expired, KeyRotated] {
            assert_eq!(e.code(), "invalid_ticket");
            assert!(e.to_string().starts_with("invalid_ticket: "));
        }
        assert_ne!(Malformed.message(), BadSignature.message());
        assert_ne!(BadSignature.message(), Expired.message());
        assert_ne!(Malformed.message(), Expired.message());
    }

    #[test]
    fn short_keys_are_rejected_with_the_fix() {
        let e = TicketKey::new(&"k".repeat(31)).unwrap_err();
        assert_eq!(e, KeyError::TooShort { len: 31 });
        let (msg, fix) = (e.to_string(), "generate one with `openssl rand -base64 32`");
        assert!(msg.starts_with(&format!("TICKET_KEY must be at least 32 bytes; {fix}")));
        assert!(!msg.contains("kkkk"), "{msg}");
        assert!(TicketKey::new("").is_err());
        assert!(TicketKey::new(&"k".repeat(32)).is_ok());
        // Bytes, not characters: 11 three-byte characters are 33 bytes.
        assert!(TicketKey::new(&"€".repeat(11)).is_ok());
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(format!("{:?}", key()), "TicketKey([redacted])");
        assert!(!format!("{:#?}", Some(key())).contains("0123456789"));
    }

    #[test]
    fn allows_agent_is_exact() {
        let c = claims();
        assert!(c.allows_agent("support-bot") && c.allows_agent("sales.bot_2"));
        for no in ["support", "Support-bot", "support-bot ", ""] {
            assert!(!c.allows_agent(no), "{no:?}");
        }
        let none = TicketClaims {
            agent_ids: vec![],
            ..claims()
        };
        assert!(!none.allows_agent("support-bot"));
    }

    #[test]
    fn valid_server_ids() {
        let max = "x".repeat(128);
        for ok in ["a", "Z", "0", "user:42", "a.b_c-d:e", "...", "-", &max] {
            assert!(is_valid_server_id(ok), "{ok:?}");
        }
        let too_long = "x".repeat(129);
        let bad = "a b| a|a\n|a/b|../x|é|агент|a\0|a%2F|a+b|a@b|a\\b|a#b|a?b|\u{ff21}|a\t";
        for b in bad.split('|').chain(["", &too_long]) {
            assert!(!is_valid_server_id(b), "{b:?}");
        }
    }

    #[test]
    fn valid_platform_ids() {
        let max = "x".repeat(MAX_ID_CHARS);
        let max_wide = "€".repeat(MAX_ID_CHARS); // 765 bytes, 255 characters
        for ok in [
            "a",
            "alice@example.com",
            "auth0|65f0c1",
            "a b",
            "../x",
            "a/b",
            "a%2F",
            "агент",
            "用户-7",
            "\u{1F600}",
            "'; DROP TABLE connections; --",
            &max,
            &max_wide,
        ] {
            assert!(is_valid_platform_id(ok), "{ok:?}");
        }
        let too_long = "x".repeat(MAX_ID_CHARS + 1);
        for bad in [
            "",
            "a\n",
            "a\0",
            "\t",
            "a\u{7f}",
            "a\u{85}",
            "\u{1b}[31m",
            &too_long,
        ] {
            assert!(!is_valid_platform_id(bad), "{bad:?}");
        }
    }
}
