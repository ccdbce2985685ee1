//! `private_key_jwt` client authentication (RFC 7523 §2.2, discovery.md §7): the signing
//! algorithms a config may name, the shape check of a configured key (everywhere), and, in
//! the Worker and the tests only, the key itself and the signed client assertion.
//!
//! Signing uses RustCrypto's `p256` (ECDSA P-256 with SHA-256, deterministic per RFC 6979, so
//! no random source is needed beyond the caller's `jti`). The npm package never signs: the
//! signer is compiled only with the `worker` feature (and for tests), keeping P-256 out of its
//! wasm.

use serde::{Deserialize, Serialize};

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How long an assertion is valid: short, as RFC 7523 §3 asks.
pub const ASSERTION_LIFETIME_SECS: u64 = 60;

/// The JWS algorithms a config may name (`signing_algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    /// ECDSA with P-256 and SHA-256: what the official scenario `auth/client-credentials-jwt`
    /// uses.
    #[default]
    #[serde(rename = "ES256")]
    Es256,
}

impl SigningAlgorithm {
    pub const ALL: [SigningAlgorithm; 1] = [SigningAlgorithm::Es256];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::Es256 => "ES256",
        }
    }

    pub fn parse(s: &str) -> Option<SigningAlgorithm> {
        SigningAlgorithm::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// What is wrong with the text of a configured private key, judged by its shape only (the npm
/// package has no P-256 code; the Worker also loads the key, see `ClientKey::parse`).
/// Accepted: a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) or a JWK of an EC P-256 private key
/// (`{"kty": "EC", "crv": "P-256", "d": ...}`) as JSON text.
pub fn key_shape_problem(text: &str) -> Option<String> {
    let t = text.trim();
    if t.starts_with('{') {
        let Ok(serde_json::Value::Object(jwk)) = serde_json::from_str::<serde_json::Value>(t)
        else {
            return Some("is not a valid JWK (JSON object): give the key's JWK or its PEM".into());
        };
        let get = |k: &str| jwk.get(k).and_then(serde_json::Value::as_str);
        if get("kty") != Some("EC") || get("crv") != Some("P-256") {
            return Some(
                "is a JWK that is not an EC P-256 key (kty \"EC\", crv \"P-256\"): ES256 needs \
                 a P-256 key"
                    .into(),
            );
        }
        if get("d").is_none_or(str::is_empty) {
            return Some(
                "is a JWK without the private part `d`: give the private key, not the public one"
                    .into(),
            );
        }
        return None;
    }
    if t.starts_with("-----BEGIN EC PRIVATE KEY-----") {
        return Some(
            "is a SEC1 PEM (BEGIN EC PRIVATE KEY): convert it to PKCS#8 with `openssl pkcs8 \
             -topk8 -nocrypt` (BEGIN PRIVATE KEY)"
                .into(),
        );
    }
    if t.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return Some(
            "is an encrypted PEM: give the unencrypted PKCS#8 key (it is sealed at rest here)"
                .into(),
        );
    }
    if !t.starts_with("-----BEGIN PRIVATE KEY-----") || !t.ends_with("-----END PRIVATE KEY-----") {
        return Some(
            "is neither a PKCS#8 PEM (-----BEGIN PRIVATE KEY-----) nor a JWK: give the P-256 \
             private key in one of these forms"
                .into(),
        );
    }
    None
}

#[cfg(any(test, feature = "worker"))]
pub use signer::{client_assertion, ClientKey};

#[cfg(any(test, feature = "worker"))]
mod signer {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey};
    use p256::pkcs8::DecodePrivateKey;
    use serde_json::{json, Value};

    use super::{key_shape_problem, SigningAlgorithm, ASSERTION_LIFETIME_SECS};
    use crate::secret::Secret;

    /// A loaded private key. `Debug` shows nothing of it.
    pub struct ClientKey {
        key: SigningKey,
        kid: Option<String>,
    }

    impl std::fmt::Debug for ClientKey {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("ClientKey([redacted])")
        }
    }

    impl ClientKey {
        /// Loads a PKCS#8 PEM or an EC P-256 JWK for `alg`; the error completes a sentence
        /// that starts with the field's path.
        pub fn parse(text: &str, alg: SigningAlgorithm) -> Result<ClientKey, String> {
            if let Some(problem) = key_shape_problem(text) {
                return Err(problem);
            }
            let SigningAlgorithm::Es256 = alg;
            let t = text.trim();
            if !t.starts_with('{') {
                let key = SigningKey::from_pkcs8_pem(t).map_err(|_| {
                    "is a PEM that is not a P-256 PKCS#8 private key: ES256 needs a P-256 key \
                     (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)"
                        .to_owned()
                })?;
                return Ok(ClientKey { key, kid: None });
            }
            let jwk: Value = serde_json::from_str(t).map_err(|_| "is not JSON".to_owned())?;
            let b64 = |k: &str| {
                jwk.get(k)
                    .and_then(Value::as_str)
                    .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
            };
            let bad = || "is a JWK whose `d` is not a P-256 private key (32 base64url bytes)";
            let d = b64("d").filter(|d| d.len() == 32).ok_or_else(bad)?;
            let key = SigningKey::from_slice(&d).map_err(|_| bad().to_owned())?;
            // A JWK that carries its public part must carry the right one.
            if let (Some(x), Some(y)) = (b64("x"), b64("y")) {
                let point = key.verifying_key().to_sec1_point(false);
                if point.as_bytes().get(1..) != Some([x, y].concat().as_slice()) {
                    return Err("is a JWK whose x and y do not belong to its d: export the \
                                key pair again"
                        .into());
                }
            }
            let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
            Ok(ClientKey { key, kid })
        }

        /// The public key (SEC1, uncompressed), for tests and for publishing a JWKS.
        pub fn public_sec1(&self) -> Vec<u8> {
            self.key
                .verifying_key()
                .to_sec1_point(false)
                .as_bytes()
                .to_vec()
        }
    }

    /// A signed client assertion: header `{alg, typ: "JWT", kid?}`, claims `iss` = `sub` =
    /// `client_id`, `aud`, `jti`, `iat` = `now`, `exp` = `now` + 60 s. Signing never panics
    /// (`try_sign`); its failure is an error.
    pub fn client_assertion(
        key: &ClientKey,
        client_id: &str,
        audience: &str,
        jti: &str,
        now: u64,
    ) -> Result<Secret, String> {
        let mut header = json!({"alg": SigningAlgorithm::Es256.as_str(), "typ": "JWT"});
        if let Some(kid) = &key.kid {
            header["kid"] = Value::String(kid.clone());
        }
        let claims = json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "jti": jti,
            "iat": now,
            "exp": now.saturating_add(ASSERTION_LIFETIME_SECS),
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature: Signature = key
            .key
            .try_sign(signing_input.as_bytes())
            .map_err(|_| "the client assertion could not be signed".to_owned())?;
        Ok(Secret::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )))
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::{Signature, VerifyingKey};
    use serde_json::{json, Value};

    use super::*;

    /// A P-256 key made with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`
    /// for these tests only.
    const PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg9ud1bJvBFUOmf324
x70ea1CVyzJlk1hWmCboeMQ1hfyhRANCAATddwy6+ui8AnEvKrshD4cGq6CrbeQp
mby0aKzTVhS2xHVsVk0Ui1XpvAXYnNCTlkrx+GcmssaIl9WhQjCGhAR9
-----END PRIVATE KEY-----";

    /// The same key as a JWK (d, x, y taken from the PEM's DER).
    fn jwk() -> Value {
        let key = ClientKey::parse(PEM, SigningAlgorithm::Es256).unwrap();
        let public = key.public_sec1();
        let der = pem_der(PEM);
        // PKCS#8 wrapping a SEC1 ECPrivateKey: the 32-byte private scalar follows `04 20`.
        let at = der.windows(2).position(|w| w == [0x04, 0x20]).unwrap() + 2;
        json!({
            "kty": "EC", "crv": "P-256", "kid": "k1",
            "d": URL_SAFE_NO_PAD.encode(&der[at..at + 32]),
            "x": URL_SAFE_NO_PAD.encode(&public[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&public[33..65]),
        })
    }

    fn pem_der(pem: &str) -> Vec<u8> {
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    }

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    /// Verifies the JWS with the public key (the same crate, its verifying half) and returns
    /// the header and the claims.
    fn verify(jwt: &str, public: &[u8]) -> (Value, Value) {
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3, "{jwt}");
        let key = VerifyingKey::from_sec1_bytes(public).unwrap();
        let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        key.verify(input.as_bytes(), &sig)
            .expect("the signature verifies with the public key");
        assert!(
            key.verify(format!("{input}x").as_bytes(), &sig).is_err(),
            "a changed input does not verify"
        );
        (decode(parts[0]), decode(parts[1]))
    }

    #[test]
    fn assertion_claims_and_signature() {
        let key = ClientKey::parse(PEM, SigningAlgorithm::Es256).unwrap();
        let jwt =
            client_assertion(&key, "cc-client", "https://as.example.com", "j-1", 1_000).unwrap();
        let (header, claims) = verify(jwt.expose(), &key.public_sec1());
        assert_eq!(header, json!({"alg": "ES256", "typ": "JWT"}));
        assert_eq!(
            claims,
            json!({"iss": "cc-client", "sub": "cc-client", "aud": "https://as.example.com",
                   "jti": "j-1", "iat": 1_000, "exp": 1_060})
        );
        assert_eq!(format!("{jwt:?}"), "Secret([redacted])");
        assert_eq!(format!("{key:?}"), "ClientKey([redacted])");
    }

    #[test]
    fn a_jwk_signs_the_same_as_its_pem_and_carries_its_kid() {
        let pem = ClientKey::parse(PEM, SigningAlgorithm::Es256).unwrap();
        let jwk = ClientKey::parse(&jwk().to_string(), SigningAlgorithm::Es256).unwrap();
        assert_eq!(pem.public_sec1(), jwk.public_sec1());
        let jwt = client_assertion(&jwk, "c", "https://as.example.com/token", "j", 5).unwrap();
        let (header, claims) = verify(jwt.expose(), &pem.public_sec1());
        assert_eq!(header["kid"], "k1");
        assert_eq!(claims["aud"], "https://as.example.com/token");
        assert_eq!(claims["exp"], 5 + ASSERTION_LIFETIME_SECS);
    }

    #[test]
    fn unusable_keys_say_what_to_give() {
        let mut wrong_y = jwk();
        wrong_y["y"] = wrong_y["x"].clone();
        let mut public_only = jwk();
        public_only.as_object_mut().unwrap().remove("d");
        let mut rsa = jwk();
        rsa["kty"] = json!("RSA");
        // An Ed25519 key (openssl genpkey -algorithm ed25519): PKCS#8, but not P-256.
        let ed25519 = "-----BEGIN PRIVATE KEY-----\n\
                       MC4CAQAwBQYDK2VwBCIEIMD44e+ti6iTkTLozfGv/1QFkQveHII1m685iErwMUbJ\n\
                       -----END PRIVATE KEY-----"
            .to_owned();
        let cases: Vec<(String, &str)> =
            vec![
            ("secret".into(), "is neither a PKCS#8 PEM"),
            (
                "-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----".into(),
                "is a SEC1 PEM",
            ),
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n-----END ENCRYPTED PRIVATE KEY-----"
                    .into(),
                "is an encrypted PEM",
            ),
            (ed25519, "is a PEM that is not a P-256 PKCS#8 private key"),
            ("{not json".into(), "is not a valid JWK"),
            (rsa.to_string(), "is a JWK that is not an EC P-256 key"),
            (public_only.to_string(), "is a JWK without the private part"),
            (wrong_y.to_string(), "is a JWK whose x and y do not belong to its d"),
        ];
        for (text, want) in cases {
            let e = ClientKey::parse(&text, SigningAlgorithm::Es256).unwrap_err();
            assert!(e.starts_with(want), "{text}: {e}");
        }
    }

    #[test]
    fn algorithms() {
        assert_eq!(
            SigningAlgorithm::parse("ES256"),
            Some(SigningAlgorithm::Es256)
        );
        assert_eq!(SigningAlgorithm::parse("RS256"), None);
        assert_eq!(SigningAlgorithm::parse("es256"), None);
        assert_eq!(
            serde_json::to_value(SigningAlgorithm::Es256).unwrap(),
            json!("ES256")
        );
    }
}
