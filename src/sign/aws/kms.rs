//! The app's key in AWS KMS.
//!
//! RS256 signatures from KMS `Sign` (RSASSA_PKCS1_V1_5_SHA_256 over the raw signing input),
//! with credentials fetched when first needed, and again near the end of a role's session.

use anyhow::Context as _;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use futures::future::BoxFuture;
use http::Method;
use serde::Deserialize;
use serde_json::json;

use super::credentials::Credentials;
use super::sigv4::{sign_v4, DIALECT};
use super::sts::{assume_role_with_web_identity, ASSUME_ROLE, STS_AUDIENCE};
use crate::sign::claims::Trust;
use crate::sign::lease::{Lease, Leased};
use crate::sign::oidc::{self, OidcRequest};
use crate::sign::rest::{Call, RestClient, ServiceError};
use crate::sign::secret::SecretSink;
use crate::sign::{described, Context, DebugSink, Sign};

/// Where the signing credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// The job's environment (`AWS_ACCESS_KEY_ID`, …).
    Environment(Credentials),
    /// A role assumed with the job's OIDC token: the runner's token endpoint, then STS.
    WebIdentity {
        role_arn: String,
        sts_endpoint: String,
        oidc: OidcRequest,
        session_name: String,
    },
}

/// A KMS key, checked: everything needed to sign, before any request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsSettings {
    /// A key id, key ARN, alias (`alias/github-app`) or alias ARN.
    pub key_id: String,
    pub region: String,
    /// KMS's endpoint: `https://kms.REGION.amazonaws.com`, or `AWS_ENDPOINT_URL(_KMS)`.
    pub endpoint: String,
    pub credentials: CredentialSource,
}

/// Signs with a KMS key.
pub struct KmsKey {
    settings: KmsSettings,
    client: RestClient,
    credentials: Lease<Credentials>,
    on_secret: SecretSink,
    on_debug: Option<DebugSink>,
}

#[derive(Deserialize)]
struct SignAnswer {
    #[serde(rename = "Signature")]
    signature: String,
}

impl KmsKey {
    pub fn new(settings: KmsSettings, context: &Context) -> anyhow::Result<Self> {
        Ok(Self {
            settings,
            client: context.client()?,
            credentials: Lease::new(),
            on_secret: context.on_secret.clone(),
            on_debug: context.on_debug.clone(),
        })
    }

    /// The credentials, fetched on first use, and a role's again near the end of its
    /// session (a role costs two round trips: a new OIDC token, STS).
    async fn credentials(&self) -> Result<std::sync::Arc<Credentials>, ServiceError> {
        self.credentials
            .get(|| async {
                let credentials = match &self.settings.credentials {
                    CredentialSource::Environment(c) => Leased::kept(c.clone()),
                    CredentialSource::WebIdentity {
                        role_arn,
                        sts_endpoint,
                        oidc,
                        session_name,
                    } => {
                        let token =
                            oidc::token(&self.client, oidc, Some(STS_AUDIENCE), &self.on_secret)
                                .await?;
                        token.tell(ASSUME_ROLE, self.on_debug.as_ref());
                        assume_role_with_web_identity(
                            &self.client,
                            sts_endpoint,
                            role_arn,
                            session_name,
                            &token.token,
                        )
                        .await
                        .map_err(|e| token.explain(e, &Trust::AwsRole))?
                    }
                };
                for secret in credentials.value.secrets() {
                    (self.on_secret)(secret);
                }
                Ok(credentials)
            })
            .await
    }

    async fn sign_with_kms(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let credentials = self.credentials().await?;
        let body = json!({
            "KeyId": self.settings.key_id,
            "Message": STANDARD.encode(message),
            "MessageType": "RAW",
            "SigningAlgorithm": "RSASSA_PKCS1_V1_5_SHA_256",
        });
        let region = self.settings.region.as_str();
        let sigv4 =
            move |request: &mut http::Request<Bytes>| sign_v4(request, &credentials, region, "kms");
        let call = Call {
            name: "KMS Sign",
            method: Method::POST,
            url: format!("{}/", self.settings.endpoint.trim_end_matches('/')),
            headers: vec![
                ("content-type", "application/x-amz-json-1.1".into()),
                ("x-amz-target", "TrentService.Sign".into()),
            ],
            body: Bytes::from(body.to_string()),
            prepare: Some(&sigv4),
        };
        let answer = self.client.send(&call, &DIALECT).await?;
        let signed: SignAnswer =
            serde_json::from_slice(&answer.body).context("KMS's answer has no signature")?;
        STANDARD
            .decode(signed.signature)
            .context("KMS's signature is not base64")
    }
}

impl Sign for KmsKey {
    fn sign<'a>(&'a self, message: &'a [u8]) -> BoxFuture<'a, anyhow::Result<Vec<u8>>> {
        described(self, self.sign_with_kms(message))
    }

    fn describe(&self) -> String {
        format!(
            "KMS key {}",
            crate::excerpt::excerpt_name(&self.settings.key_id)
        )
    }
}
