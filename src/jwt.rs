//! The app's private key and its JWT: normalising the PEM, parsing it, and signing RS256 claims on a corrected clock.
//!
//! No error from here ever contains the key or any line of it.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use crate::github::AppJwt;
use crate::transport::Bearer;

/// How far in the past `iat` is set, to absorb small clock differences.
pub const IAT_BACKDATE_SECS: i64 = 60;
/// `exp - iat`: GitHub accepts at most 10 minutes.
pub const LIFETIME_SECS: i64 = 600;

/// The claims GitHub reads from an app JWT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

/// Turns the `private-key` input into PEM text: surrounding whitespace and quotes trimmed,
/// literal `\n` escapes (keys pasted into one-line variables) and CRLF turned into newlines.
pub fn normalize_pem(raw: &str) -> String {
    let trimmed = raw.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    let text = trimmed
        .replace("\\r\\n", "\n")
        .replace("\\n", "\n")
        .replace("\r\n", "\n");
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut pem = lines.join("\n");
    pem.push('\n');
    pem
}

/// The PEM inside a base64-encoded key (as some secret stores and other token actions
/// keep it), if `raw` is one: standard or URL-safe alphabet, padded or not, across lines.
fn decode_base64_pem(raw: &str) -> Option<String> {
    use base64::engine::general_purpose::{GeneralPurpose, STANDARD, URL_SAFE};
    use base64::engine::{DecodePaddingMode, GeneralPurposeConfig};
    use base64::Engine as _;
    let compact: String = raw
        .trim()
        .trim_matches(|c| c == '"' || c == '\'')
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let lenient =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let decoded = [
        GeneralPurpose::new(&base64::alphabet::STANDARD, lenient),
        GeneralPurpose::new(&base64::alphabet::URL_SAFE, lenient),
        STANDARD,
        URL_SAFE,
    ]
    .iter()
    .find_map(|engine| engine.decode(&compact).ok())?;
    let text = String::from_utf8(decoded).ok()?;
    text.trim_start().starts_with("-----BEGIN ").then_some(text)
}

/// Parses the app's private key, PKCS#1 or PKCS#8, as PEM text or as the base64 encoding
/// of the PEM. Some malformed keys parse and only fail when they sign: [`signer`] finds
/// those out too.
pub fn parse_key(raw: &str) -> Result<EncodingKey, String> {
    let mut pem = normalize_pem(raw);
    if !pem.starts_with("-----BEGIN ") {
        if let Some(decoded) = decode_base64_pem(raw) {
            pem = normalize_pem(&decoded);
        }
    }
    let first = pem.lines().next().unwrap_or_default();
    match first {
        "-----BEGIN RSA PRIVATE KEY-----" | "-----BEGIN PRIVATE KEY-----" => {}
        "-----BEGIN OPENSSH PRIVATE KEY-----" => {
            return Err(
                "is an OpenSSH key; use the PEM private key that GitHub generated for the app"
                    .into(),
            )
        }
        "-----BEGIN ENCRYPTED PRIVATE KEY-----" => {
            return Err(
                "is encrypted; use the unencrypted PEM key that GitHub generated for the app"
                    .into(),
            )
        }
        l if l.starts_with("-----BEGIN ") && l.contains("PUBLIC KEY") => {
            return Err("is a public key; the private key is needed".into())
        }
        _ => {
            return Err(
                "is not a PEM private key: it must start with `-----BEGIN RSA PRIVATE KEY-----` \
                 or `-----BEGIN PRIVATE KEY-----` (or be the base64 encoding of such a key)"
                    .into(),
            )
        }
    }
    EncodingKey::from_rsa_pem(pem.as_bytes())
        .map_err(|_| "does not parse as an RSA private key (PKCS#1 or PKCS#8 PEM)".to_string())
}

/// Parses the key and signs a first JWT with it, so that a key that cannot sign fails
/// here, before any request. That JWT is not wasted: the first request reuses it.
pub fn signer(raw: &str, issuer: &str) -> Result<Signer, String> {
    let signer = Signer::new(parse_key(raw)?, issuer);
    signer
        .sign()
        .map_err(|_| "cannot sign with this key: it is not a usable RSA private key".to_string())?;
    Ok(signer)
}

/// Seconds since the epoch on this machine's clock.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Signs app JWTs on a clock that can be corrected by the offset to GitHub's.
pub struct Signer {
    key: EncodingKey,
    issuer: String,
    /// GitHub's clock minus ours, in seconds, learnt from a rejected JWT's `Date`.
    offset: AtomicI64,
    /// The last JWT and its claims. RS256 (PKCS#1 v1.5) signatures are deterministic, so
    /// the same claims give the same JWT: requests made within the same second share one
    /// signature (an RSA private-key operation, milliseconds) instead of each paying for it.
    last: Mutex<Option<(Claims, String)>>,
    /// How many RSA signatures were made (the cache's hits make none).
    signatures: AtomicU64,
}

impl Signer {
    pub fn new(key: EncodingKey, issuer: impl Into<String>) -> Self {
        Self {
            key,
            issuer: issuer.into(),
            offset: AtomicI64::new(0),
            last: Mutex::new(None),
            signatures: AtomicU64::new(0),
        }
    }

    /// How many JWTs were really signed, as opposed to given again from the cache.
    pub fn signatures(&self) -> u64 {
        self.signatures.load(Ordering::Relaxed)
    }

    pub fn offset(&self) -> i64 {
        self.offset.load(Ordering::Relaxed)
    }

    pub fn set_offset(&self, seconds: i64) {
        self.offset.store(seconds, Ordering::Relaxed);
    }

    /// The claims for a JWT signed now.
    pub fn claims(&self, now: i64) -> Claims {
        let iat = now + self.offset() - IAT_BACKDATE_SECS;
        Claims {
            iat,
            exp: iat + LIFETIME_SECS,
            iss: self.issuer.clone(),
        }
    }

    /// A JWT signed now.
    pub fn sign(&self) -> anyhow::Result<String> {
        self.sign_at(unix_now())
    }

    /// A JWT for the claims at `now` (the last one again when the claims are the same).
    fn sign_at(&self, now: i64) -> anyhow::Result<String> {
        let claims = self.claims(now);
        if let Ok(last) = self.last.lock() {
            if let Some((_, jwt)) = last.as_ref().filter(|(c, _)| *c == claims) {
                return Ok(jwt.clone());
            }
        }
        let jwt = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| anyhow::anyhow!("cannot sign the app JWT: {e}"))?;
        self.signatures.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last.lock() {
            *last = Some((claims, jwt.clone()));
        }
        Ok(jwt)
    }
}

impl Bearer for Signer {
    fn bearer(&self) -> BoxFuture<'_, anyhow::Result<String>> {
        Box::pin(async move { self.sign() })
    }
}

impl AppJwt for Signer {
    fn correct_clock(&self, github_minus_ours: i64) {
        self.set_offset(github_minus_ours);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A 2048-bit test key, PKCS#1. Generated for these tests only.
    pub const TEST_KEY_PKCS1: &str = include_str!("../tests/fixtures/test-key-pkcs1.pem");
    pub const TEST_KEY_PKCS8: &str = include_str!("../tests/fixtures/test-key-pkcs8.pem");
    pub const TEST_PUBLIC: &str = include_str!("../tests/fixtures/test-key-public.pem");

    fn decode(jwt: &str) -> Claims {
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(TEST_PUBLIC.as_bytes()).unwrap();
        let mut v = jsonwebtoken::Validation::new(Algorithm::RS256);
        v.validate_exp = false;
        v.required_spec_claims.clear();
        jsonwebtoken::decode::<Claims>(jwt, &key, &v)
            .unwrap()
            .claims
    }

    #[test]
    fn both_pem_formats_parse() {
        assert!(signer(TEST_KEY_PKCS1, "1").is_ok());
        assert!(signer(TEST_KEY_PKCS8, "1").is_ok());
    }

    #[test]
    fn escaped_newlines_and_whitespace_are_accepted() {
        let one_line = TEST_KEY_PKCS1.trim().replace('\n', "\\n");
        assert!(parse_key(&format!("  \"{one_line}\"  \n")).is_ok());
        let crlf = TEST_KEY_PKCS8.replace('\n', "\r\n");
        assert!(parse_key(&format!("\n\n{crlf}\n")).is_ok());
        let indented: String = TEST_KEY_PKCS1
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect();
        assert!(parse_key(&indented).is_ok());
    }

    #[test]
    fn base64_encoded_keys_are_decoded() {
        use base64::Engine as _;
        let engines = [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        for key in [TEST_KEY_PKCS1, TEST_KEY_PKCS8] {
            for engine in &engines {
                let encoded = engine.encode(key);
                assert!(parse_key(&encoded).is_ok());
                // Wrapped at 76 columns, as `base64` prints it, and quoted.
                let wrapped: Vec<String> = encoded
                    .as_bytes()
                    .chunks(76)
                    .map(|c| String::from_utf8_lossy(c).to_string())
                    .collect();
                assert!(parse_key(&format!("\"{}\"\n", wrapped.join("\n"))).is_ok());
            }
        }
        // Base64 of something that is not a key is refused, without echoing either form.
        let not_a_key = base64::engine::general_purpose::STANDARD.encode("hello, world, a secret");
        let e = signer(&not_a_key, "1").err().unwrap();
        assert!(
            !e.contains(&not_a_key[..12]) && !e.contains("secret"),
            "{e}"
        );
        let public = base64::engine::general_purpose::STANDARD.encode(TEST_PUBLIC);
        assert!(parse_key(&public).unwrap_err().contains("public key"));
    }

    #[test]
    fn errors_never_echo_the_key() {
        let body_line = TEST_KEY_PKCS1.lines().nth(3).unwrap();
        let broken = TEST_KEY_PKCS1.replace(body_line, &body_line[..body_line.len() / 2]);
        for bad in [
            broken.as_str(),
            body_line,
            "",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n",
        ] {
            let e = signer(bad, "1").err().unwrap();
            assert!(!e.contains(&body_line[..20]), "{e}");
            assert!(!e.contains("AAAA"), "{e}");
        }
        assert!(parse_key("-----BEGIN PUBLIC KEY-----\nx\n")
            .unwrap_err()
            .contains("public key"));
        assert!(parse_key(TEST_PUBLIC).unwrap_err().contains("public key"));
    }

    #[test]
    fn claims_backdate_iat_and_live_ten_minutes() {
        let signer = Signer::new(parse_key(TEST_KEY_PKCS1).unwrap(), "123");
        let c = signer.claims(1_000_000);
        assert_eq!(
            c,
            Claims {
                iat: 1_000_000 - 60,
                exp: 1_000_000 - 60 + 600,
                iss: "123".into()
            }
        );
        signer.set_offset(-300);
        assert_eq!(signer.claims(1_000_000).iat, 1_000_000 - 300 - 60);
    }

    #[test]
    fn the_same_claims_give_the_same_jwt_signed_once() {
        let signer = Signer::new(parse_key(TEST_KEY_PKCS1).unwrap(), "123");
        let first = signer.sign_at(1_000_000).unwrap();
        assert_eq!(signer.signatures(), 1);
        // The same second: the same JWT, and no second signature.
        assert_eq!(signer.sign_at(1_000_000).unwrap(), first);
        assert_eq!(signer.signatures(), 1, "the cache was not used");
        let later = signer.sign_at(1_000_001).unwrap();
        assert_ne!(later, first);
        assert_eq!(signer.signatures(), 2);
        assert_eq!(decode(&later).iat, 1_000_001 - 60);
        // A corrected clock changes the claims, so the JWT is signed anew.
        signer.set_offset(-300);
        let corrected = signer.sign_at(1_000_001).unwrap();
        assert_eq!(signer.signatures(), 3);
        assert_eq!(decode(&corrected).iat, 1_000_001 - 300 - 60);
    }

    #[test]
    fn signed_jwts_verify_with_the_public_key() {
        let signer = Signer::new(parse_key(TEST_KEY_PKCS8).unwrap(), "Iv1.abc");
        let before = unix_now();
        let claims = decode(&signer.sign().unwrap());
        assert_eq!(claims.iss, "Iv1.abc");
        assert!(claims.iat >= before - 60 && claims.iat <= unix_now() - 60);
        assert_eq!(claims.exp - claims.iat, 600);
    }
}
