//! Google's three REST calls for a signature, and its errors.
//!
//! Over the key services' client: STS's token exchange, IAM credentials'
//! `generateAccessToken`, Cloud KMS's `asymmetricSign`. Google's errors come in OAuth's
//! form (`error`, `error_description`) and in Google's (`error.code`, `message`, `status`),
//! and are quoted as they come.

use serde::Deserialize;
use serde_json::json;

use crate::sign::lease::{at_rfc3339, in_seconds, Leased};
use crate::sign::rest::{self, Call, Dialect, RestClient, ServiceError};
use crate::sign::secret::Secret;
use crate::transport::Answer;

/// The scope every access token here is asked for.
pub const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";
/// What STS is asked for: a token exchange that gives an access token.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The subject token's type for GitHub's OIDC token.
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: String,
}

#[derive(Deserialize)]
struct GoogleErrorBody {
    error: GoogleError,
}

#[derive(Deserialize)]
struct GoogleError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
}

/// The code and message of a Google error answer, in either of its forms; the HTTP
/// status's reason when the body is neither.
pub fn error_of(call: &str, answer: &Answer) -> ServiceError {
    let (code, message) = if let Ok(e) = serde_json::from_slice::<GoogleErrorBody>(&answer.body) {
        (e.error.status, e.error.message)
    } else if let Ok(e) = serde_json::from_slice::<OAuthError>(&answer.body) {
        (e.error, e.error_description)
    } else {
        (String::new(), String::new())
    };
    let code = if code.is_empty() {
        rest::status_reason(answer)
    } else {
        code
    };
    ServiceError::answered(call, answer, code, message)
}

/// Google's errors: 5xx, 429, and `UNAVAILABLE` are worth another try.
pub const DIALECT: Dialect = Dialect {
    error_of,
    transient: |status, code| rest::transient_status(status) || code == "UNAVAILABLE",
};

#[derive(Deserialize)]
struct StsAnswer {
    access_token: String,
    /// How many seconds the token lives.
    #[serde(default)]
    expires_in: Option<u64>,
}

/// The exchange of a subject token, as messages name it.
pub const EXCHANGE: &str = "STS token exchange";

/// STS's token exchange (RFC 8693) of `subject_token` for a federated access token, until
/// its `expires_in`.
pub async fn exchange(
    client: &RestClient,
    token_url: &str,
    audience: &str,
    subject_token_type: &str,
    subject_token: &Secret,
) -> Result<Leased<Secret>, ServiceError> {
    let name = EXCHANGE;
    let call = Call::post_form(
        name,
        token_url.to_string(),
        &[
            ("grant_type", TOKEN_EXCHANGE),
            ("audience", audience),
            ("scope", CLOUD_PLATFORM),
            ("requested_token_type", ACCESS_TOKEN_TYPE),
            ("subject_token_type", subject_token_type),
            ("subject_token", subject_token.expose()),
        ],
    );
    let answer = client.send(&call, &DIALECT).await?;
    let token: StsAnswer = rest::json(name, &answer, "STS's answer has no `access_token`")?;
    Ok(Leased::new(
        Secret::new(token.access_token),
        in_seconds(token.expires_in),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateAccessTokenAnswer {
    access_token: String,
    /// When the token ends (RFC 3339).
    #[serde(default)]
    expire_time: Option<String>,
}

/// A service account's access token for 5 minutes, from IAM credentials, asked with
/// `bearer` (the federated token), until its `expireTime`.
pub async fn generate_access_token(
    client: &RestClient,
    url: &str,
    bearer: &Secret,
) -> Result<Leased<Secret>, ServiceError> {
    let name = "IAM generateAccessToken";
    let call = Call::post_json(
        name,
        url.to_string(),
        &json!({"scope": [CLOUD_PLATFORM], "lifetime": "300s"}),
    )
    .bearer(bearer.expose());
    let answer = client.send(&call, &DIALECT).await?;
    let token: GenerateAccessTokenAnswer =
        rest::json(name, &answer, "IAM's answer has no `accessToken`")?;
    Ok(Leased::new(
        Secret::new(token.access_token),
        token.expire_time.as_deref().and_then(at_rfc3339),
    ))
}

/// `…/v1/projects/-/serviceAccounts/EMAIL:generateAccessToken` at `iamcredentials`.
pub fn impersonation_url(iamcredentials: &str, email: &str) -> String {
    format!("{iamcredentials}v1/projects/-/serviceAccounts/{email}:generateAccessToken")
}

#[derive(Deserialize)]
struct SignAnswer {
    signature: String,
}

/// Cloud KMS's signature of a SHA-256 `digest` with `key_version`, in base64 as it comes.
pub async fn asymmetric_sign(
    client: &RestClient,
    cloudkms: &str,
    key_version: &str,
    digest: &[u8],
    bearer: &Secret,
) -> Result<String, ServiceError> {
    use base64::Engine as _;
    let name = "Cloud KMS asymmetricSign";
    let call = Call::post_json(
        name,
        format!("{cloudkms}v1/{key_version}:asymmetricSign"),
        &json!({"digest": {"sha256": base64::engine::general_purpose::STANDARD.encode(digest)}}),
    )
    .bearer(bearer.expose());
    let answer = client.send(&call, &DIALECT).await?;
    let signed: SignAnswer = rest::json(name, &answer, "Cloud KMS's answer has no `signature`")?;
    Ok(signed.signature)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::{HeaderMap, StatusCode};

    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn oauth_and_google_errors_are_quoted_as_they_come() {
        let e = error_of(
            "STS token exchange",
            &answer(
                400,
                r#"{"error":"invalid_grant","error_description":"The audience in ID Token [x] does not match the expected audience."}"#,
            ),
        );
        assert_eq!(
            e.to_string(),
            "STS token exchange failed: invalid_grant: The audience in ID Token [x] does not match the expected audience. (HTTP 400)"
        );
        let e = error_of(
            "Cloud KMS asymmetricSign",
            &answer(
                404,
                r#"{"error":{"code":404,"message":"CryptoKeyVersion projects/p/.../cryptoKeyVersions/9 not found.","status":"NOT_FOUND"}}"#,
            ),
        );
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            (
                "NOT_FOUND",
                "CryptoKeyVersion projects/p/.../cryptoKeyVersions/9 not found."
            )
        );
        let e = error_of("x", &answer(502, "<html>"));
        assert_eq!(e.code, "Bad Gateway");
    }

    #[test]
    fn unavailable_and_server_errors_are_transient_and_refusals_final() {
        let t = |status, body: &str| {
            let a = answer(status, body);
            (DIALECT.transient)(a.status, &error_of("x", &a).code)
        };
        assert!(t(503, ""));
        assert!(t(
            429,
            r#"{"error":{"code":429,"message":"q","status":"RESOURCE_EXHAUSTED"}}"#
        ));
        assert!(!t(
            403,
            r#"{"error":{"code":403,"message":"d","status":"PERMISSION_DENIED"}}"#
        ));
        assert!(!t(400, r#"{"error":"invalid_grant"}"#));
    }

    #[test]
    fn the_impersonation_url_follows_iam_credentials() {
        assert_eq!(
            impersonation_url("https://iamcredentials.googleapis.com/", "s@p.iam.gserviceaccount.com"),
            "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/s@p.iam.gserviceaccount.com:generateAccessToken"
        );
    }
}
