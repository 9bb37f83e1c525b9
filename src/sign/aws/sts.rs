//! AWS STS.
//!
//! Temporary credentials for a role, assumed in-process with the job's OIDC token and never
//! put in the job's environment.

use bytes::Bytes;
use http::Method;
use serde::Deserialize;

use super::credentials::Credentials;
use super::sigv4::DIALECT;
use crate::sign::lease::{at_rfc3339, Leased};
use crate::sign::rest::{Call, RestClient, ServiceError};
use crate::sign::secret::Secret;

/// The audience STS expects in a GitHub OIDC token.
pub const STS_AUDIENCE: &str = "sts.amazonaws.com";
/// The exchange of the job's OIDC token, as messages name it.
pub const ASSUME_ROLE: &str = "STS AssumeRoleWithWebIdentity";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssumeRoleWithWebIdentityResponse {
    assume_role_with_web_identity_result: AssumeRoleResult,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssumeRoleResult {
    credentials: XmlCredentials,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XmlCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    /// When they end (RFC 3339).
    #[serde(default)]
    expiration: Option<String>,
}

/// Temporary credentials for `role_arn`, from STS `AssumeRoleWithWebIdentity` with the
/// job's OIDC token (a call STS takes unsigned), for 15 minutes: until the `Expiration`
/// STS gives them.
pub async fn assume_role_with_web_identity(
    client: &RestClient,
    sts_endpoint: &str,
    role_arn: &str,
    session_name: &str,
    web_identity_token: &Secret,
) -> Result<Leased<Credentials>, ServiceError> {
    let name = ASSUME_ROLE;
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "AssumeRoleWithWebIdentity")
        .append_pair("Version", "2011-06-15")
        .append_pair("RoleArn", role_arn)
        .append_pair("RoleSessionName", session_name)
        .append_pair("DurationSeconds", "900")
        .append_pair("WebIdentityToken", web_identity_token.expose())
        .finish();
    let call = Call {
        name,
        method: Method::POST,
        url: format!("{}/", sts_endpoint.trim_end_matches('/')),
        headers: vec![(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8".into(),
        )],
        body: Bytes::from(body),
        prepare: None,
    };
    let answer = client.send(&call, &DIALECT).await?;
    let text = String::from_utf8_lossy(&answer.body);
    let parsed: AssumeRoleWithWebIdentityResponse =
        quick_xml::de::from_str(&text).map_err(|_| {
            ServiceError::answered(
                name,
                &answer,
                "an answer without credentials".into(),
                "STS's answer is not the XML expected".into(),
            )
        })?;
    let c = parsed.assume_role_with_web_identity_result.credentials;
    Ok(Leased::new(
        Credentials::new(
            &c.access_key_id,
            &c.secret_access_key,
            Some(c.session_token),
        ),
        c.expiration.as_deref().and_then(at_rfc3339),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sts_answers_parse_into_credentials() {
        let xml = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>sk</SecretAccessKey><SessionToken>st</SessionToken><Expiration>2026-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>arn</Arn></AssumedRoleUser></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"#;
        let r: AssumeRoleWithWebIdentityResponse = quick_xml::de::from_str(xml).unwrap();
        let c = r.assume_role_with_web_identity_result.credentials;
        assert_eq!(
            (
                c.access_key_id.as_str(),
                c.secret_access_key.as_str(),
                c.session_token.as_str()
            ),
            ("ASIA1", "sk", "st")
        );
        assert_eq!(
            c.expiration.as_deref().and_then(at_rfc3339),
            Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600))
        );
    }
}
