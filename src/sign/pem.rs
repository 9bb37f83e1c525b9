//! The app's private key as text.
//!
//! A PEM (PKCS#1 or PKCS#8), pasted however a secret store keeps it, or its base64
//! encoding; parsed into a signer of RS256.
//!
//! No error from here ever contains the key or any line of it.

use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, EncodingKey};

use crate::sign::Sign;

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

/// An RS256 signer over a private key held in memory.
pub struct PemKey(EncodingKey);

impl PemKey {
    /// Parses `raw` (see [`parse_key`]).
    pub fn parse(raw: &str) -> Result<Self, String> {
        parse_key(raw).map(PemKey)
    }

    /// The RS256 signature of `message`, now.
    pub fn sign_now(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        use base64::Engine as _;
        let signature = jsonwebtoken::crypto::sign(message, &self.0, Algorithm::RS256)
            .map_err(|e| anyhow::anyhow!("cannot sign with the private key: {e}"))?;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|e| anyhow::anyhow!("the signature is not base64url: {e}"))
    }
}

impl Sign for PemKey {
    fn sign<'a>(&'a self, message: &'a [u8]) -> BoxFuture<'a, anyhow::Result<Vec<u8>>> {
        let signed = self.sign_now(message);
        Box::pin(async move { signed })
    }

    fn describe(&self) -> String {
        "the private key".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_KEY_PKCS1: &str = include_str!("../../tests/fixtures/test-key-pkcs1.pem");
    const TEST_KEY_PKCS8: &str = include_str!("../../tests/fixtures/test-key-pkcs8.pem");
    const TEST_PUBLIC: &str = include_str!("../../tests/fixtures/test-key-public.pem");

    /// Parses and signs once, as the configuration does before any request.
    fn signer(raw: &str, _issuer: &str) -> Result<(), String> {
        let key = PemKey::parse(raw)?;
        key.sign_now(b"header.claims")
            .map(|_| ())
            .map_err(|_| "cannot sign with this key".to_string())
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
}
