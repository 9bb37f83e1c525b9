//! The app's JWT.
//!
//! Its claims on a clock GitHub may correct, signed once and reused while valid, by
//! whichever signer holds the key (see `sign`).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use futures::future::BoxFuture;
use futures::FutureExt as _;
use jsonwebtoken::{Algorithm, Header};
use serde::{Deserialize, Serialize};

use crate::github::{unix_now, AppJwt};
use crate::sign::pem::PemKey;
use crate::sign::Sign;
use crate::transport::Bearer;

/// How far in the past `iat` is set, to absorb small clock differences.
pub const IAT_BACKDATE_SECS: i64 = 60;
/// `exp - iat`: GitHub accepts at most 10 minutes.
pub const LIFETIME_SECS: i64 = 600;
/// A JWT is signed again when less than this is left of its life.
pub const RENEW_BEFORE_SECS: i64 = 60;

/// The claims GitHub reads from an app JWT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

/// Parses a PEM key and signs a first JWT with it, so that a key that cannot sign fails
/// here, before any request. That JWT is not wasted: the first request reuses it.
pub fn signer(raw: &str, issuer: &str) -> Result<Signer, String> {
    let signer = Signer::new(Box::new(PemKey::parse(raw)?), issuer);
    // A key in memory signs at once: the future is ready when first polled.
    match signer.sign().now_or_never() {
        Some(Ok(_)) => Ok(signer),
        _ => Err("cannot sign with this key: it is not a usable RSA private key".to_string()),
    }
}

/// `base64url(header).base64url(claims)`, the JWS signing input (RFC 7515, 5.1), with
/// jsonwebtoken's header for RS256.
pub fn signing_input(claims: &Claims) -> anyhow::Result<String> {
    let header = serde_json::to_vec(&Header::new(Algorithm::RS256))?;
    let claims = serde_json::to_vec(claims)?;
    Ok(format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    ))
}

/// A signed JWT and what it was signed for.
struct Signed {
    jwt: String,
    exp: i64,
    offset: i64,
}

/// Signs app JWTs on a clock that can be corrected by the offset to GitHub's. A JWT is
/// reused while it is valid for more than [`RENEW_BEFORE_SECS`] on that clock, so a step
/// signs once, and again only after a clock correction: each signature may be an RSA
/// operation or a round trip to a KMS.
pub struct Signer {
    key: Box<dyn Sign>,
    issuer: String,
    /// GitHub's clock minus ours, in seconds, learnt from a rejected JWT's `Date`.
    offset: AtomicI64,
    last: tokio::sync::Mutex<Option<Signed>>,
    /// How many signatures were made (reuses make none).
    signatures: AtomicU64,
}

impl Signer {
    pub fn new(key: Box<dyn Sign>, issuer: impl Into<String>) -> Self {
        Self {
            key,
            issuer: issuer.into(),
            offset: AtomicI64::new(0),
            last: tokio::sync::Mutex::new(None),
            signatures: AtomicU64::new(0),
        }
    }

    /// The key, for messages.
    pub fn describe_key(&self) -> String {
        self.key.describe()
    }

    /// Gives back what the key's backend borrowed for the step (see [`Sign::finish`]).
    pub async fn finish(&self) -> anyhow::Result<()> {
        self.key.finish().await
    }

    /// The same at a panic (see [`Sign::finish_afresh`]).
    pub async fn finish_afresh(&self) -> anyhow::Result<()> {
        self.key.finish_afresh().await
    }

    /// How many JWTs were really signed, as opposed to reused.
    pub fn signatures(&self) -> u64 {
        self.signatures.load(Ordering::Relaxed)
    }

    pub fn offset(&self) -> i64 {
        self.offset.load(Ordering::Relaxed)
    }

    pub fn set_offset(&self, seconds: i64) {
        self.offset.store(seconds, Ordering::Relaxed);
    }

    /// The claims for a JWT signed at `now` (this machine's clock).
    pub fn claims(&self, now: i64) -> Claims {
        let iat = now + self.offset() - IAT_BACKDATE_SECS;
        Claims {
            iat,
            exp: iat + LIFETIME_SECS,
            iss: self.issuer.clone(),
        }
    }

    /// A JWT valid now.
    pub async fn sign(&self) -> anyhow::Result<String> {
        self.sign_at(unix_now()).await
    }

    /// A JWT valid at `now`: the last one while it stays valid on the same clock, else a
    /// new one. Concurrent callers wait for one signature rather than each making one.
    pub async fn sign_at(&self, now: i64) -> anyhow::Result<String> {
        let offset = self.offset();
        let mut last = self.last.lock().await;
        if let Some(signed) = last
            .as_ref()
            .filter(|s| s.offset == offset && now + offset + RENEW_BEFORE_SECS < s.exp)
        {
            return Ok(signed.jwt.clone());
        }
        let claims = self.claims(now);
        let input = signing_input(&claims)?;
        let signature = self.key.sign(input.as_bytes()).await?;
        self.signatures.fetch_add(1, Ordering::Relaxed);
        let jwt = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
        *last = Some(Signed {
            jwt: jwt.clone(),
            exp: claims.exp,
            offset,
        });
        Ok(jwt)
    }
}

impl Bearer for Signer {
    fn bearer(&self) -> BoxFuture<'_, anyhow::Result<String>> {
        Box::pin(self.sign())
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

    fn pem_signer(issuer: &str) -> Signer {
        Signer::new(Box::new(PemKey::parse(TEST_KEY_PKCS1).unwrap()), issuer)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        crate::runtime().unwrap().block_on(f)
    }

    #[test]
    fn claims_backdate_iat_and_live_ten_minutes() {
        let signer = pem_signer("123");
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
    fn the_jwt_is_exactly_what_jsonwebtoken_makes() {
        // Our signing input and jsonwebtoken's are the same bytes: the JWTs are equal
        // (RS256 with PKCS#1 v1.5 is deterministic).
        let signer = pem_signer("123");
        let ours = block_on(signer.sign_at(1_000_000)).unwrap();
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(TEST_KEY_PKCS1.as_bytes()).unwrap();
        let theirs = jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &signer.claims(1_000_000),
            &key,
        )
        .unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn a_jwt_is_signed_once_and_reused_while_valid() {
        let signer = pem_signer("123");
        let first = block_on(signer.sign_at(1_000_000)).unwrap();
        assert_eq!(signer.signatures(), 1);
        // Minutes later, still valid: the same JWT, and no second signature.
        assert_eq!(block_on(signer.sign_at(1_000_400)).unwrap(), first);
        assert_eq!(signer.signatures(), 1, "the JWT was signed again");
        // Too close to its expiry: signed anew.
        let renewed = block_on(signer.sign_at(1_000_000 + 600 - 60)).unwrap();
        assert_ne!(renewed, first);
        assert_eq!(signer.signatures(), 2);
        // A corrected clock: signed anew, on GitHub's clock.
        signer.set_offset(-300);
        let corrected = block_on(signer.sign_at(1_000_540)).unwrap();
        assert_eq!(signer.signatures(), 3);
        assert_eq!(decode(&corrected).iat, 1_000_540 - 300 - 60);
    }

    #[test]
    fn signed_jwts_verify_with_the_public_key() {
        let signer = Signer::new(Box::new(PemKey::parse(TEST_KEY_PKCS8).unwrap()), "Iv1.abc");
        let before = unix_now();
        let claims = decode(&block_on(signer.sign()).unwrap());
        assert_eq!(claims.iss, "Iv1.abc");
        assert!(claims.iat >= before - 60 && claims.iat <= unix_now() - 60);
        assert_eq!(claims.exp - claims.iat, 600);
    }

    #[test]
    fn a_key_that_cannot_sign_is_refused_before_any_request() {
        assert!(signer(TEST_KEY_PKCS1, "1").is_ok());
        assert!(signer(TEST_PUBLIC, "1").is_err());
    }
}
