//! AWS credentials: the environment's (as aws-actions/configure-aws-credentials leaves them), or a role assumed in-process with the job's OIDC token, never put in the job's environment.

use std::fmt;

use bytes::Bytes;
use http::Method;
use serde::Deserialize;

use super::request::{AwsClient, AwsError, Call};
use crate::runner::Env;

/// A value never printed: `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Signing credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

impl Credentials {
    pub fn new(
        access_key_id: &str,
        secret_access_key: &str,
        session_token: Option<String>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.to_string(),
            secret_access_key: Secret::new(secret_access_key),
            session_token: session_token.map(Secret::new),
        }
    }

    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, if the first two are set.
    pub fn from_env(env: Env<'_>) -> Option<Self> {
        let get = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Some(Self::new(
            &get("AWS_ACCESS_KEY_ID")?,
            &get("AWS_SECRET_ACCESS_KEY")?,
            get("AWS_SESSION_TOKEN"),
        ))
    }

    /// Every part a log must never show.
    pub fn secrets(&self) -> Vec<&str> {
        let mut out = vec![self.access_key_id.as_str(), self.secret_access_key.expose()];
        out.extend(self.session_token.as_ref().map(Secret::expose));
        out
    }
}

/// The audience STS expects in a GitHub OIDC token.
pub const STS_AUDIENCE: &str = "sts.amazonaws.com";

#[derive(Deserialize)]
struct IdToken {
    value: String,
}

/// The job's OIDC token for `audience`, from the runner's `ACTIONS_ID_TOKEN_REQUEST_URL`
/// with `ACTIONS_ID_TOKEN_REQUEST_TOKEN` as the bearer.
pub async fn oidc_token(
    client: &AwsClient,
    request_url: &str,
    request_token: &Secret,
    audience: &str,
) -> Result<Secret, AwsError> {
    let separator = if request_url.contains('?') { '&' } else { '?' };
    let call = Call {
        name: "GitHub's OIDC token request",
        method: Method::GET,
        url: format!("{request_url}{separator}audience={audience}"),
        headers: vec![
            (
                "authorization",
                format!("bearer {}", request_token.expose()),
            ),
            ("accept", "application/json".into()),
        ],
        body: Bytes::new(),
        signing: None,
    };
    let answer = client.send(&call).await?;
    serde_json::from_slice::<IdToken>(&answer.body)
        .map(|t| Secret::new(t.value))
        .map_err(|_| AwsError {
            call: call.name.to_string(),
            code: "an answer without a token".into(),
            message: "the runner's answer has no `value`".into(),
            status: None,
            request_id: None,
        })
}

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
}

/// Temporary credentials for `role_arn`, from STS `AssumeRoleWithWebIdentity` with the
/// job's OIDC token (a call STS takes unsigned), for 15 minutes.
pub async fn assume_role_with_web_identity(
    client: &AwsClient,
    sts_endpoint: &str,
    role_arn: &str,
    session_name: &str,
    web_identity_token: &Secret,
) -> Result<Credentials, AwsError> {
    let name = "STS AssumeRoleWithWebIdentity";
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
        signing: None,
    };
    let answer = client.send(&call).await?;
    let text = String::from_utf8_lossy(&answer.body);
    let parsed: AssumeRoleWithWebIdentityResponse =
        quick_xml::de::from_str(&text).map_err(|_| AwsError {
            call: name.to_string(),
            code: "an answer without credentials".into(),
            message: "STS's answer is not the XML expected".into(),
            status: Some(answer.status.as_u16()),
            request_id: None,
        })?;
    let c = parsed.assume_role_with_web_identity_result.credentials;
    Ok(Credentials::new(
        &c.access_key_id,
        &c.secret_access_key,
        Some(c.session_token),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_from_the_environment_need_a_key_pair() {
        let env = |k: &str| match k {
            "AWS_ACCESS_KEY_ID" => Some("AKID".to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some("s3cret".to_string()),
            _ => None,
        };
        let c = Credentials::from_env(&env).unwrap();
        assert_eq!(c.session_token, None);
        assert_eq!(c.secrets(), ["AKID", "s3cret"]);
        let half = |k: &str| (k == "AWS_ACCESS_KEY_ID").then(|| "AKID".to_string());
        assert_eq!(Credentials::from_env(&half), None);
    }

    #[test]
    fn secrets_never_print() {
        let c = Credentials::new("AKID", "s3cret", Some("t0ken".into()));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("t0ken"),
            "{shown}"
        );
    }

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
    }
}
