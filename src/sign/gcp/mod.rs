//! The GCP Cloud KMS backend.
//!
//! The app's key as a Cloud KMS key version, reached with an access token from STS (the
//! job's OIDC token through workload identity federation, or an `external_account` file as
//! Application Default Credentials), optionally impersonating a service account.

pub mod external;
mod google;

use anyhow::Context as _;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use futures::future::BoxFuture;
use http::Method;
use sha2::{Digest as _, Sha256};

use self::external::{ExternalAccount, Source};
use crate::env::{var, Env};
use crate::sign::claims::Trust;
use crate::sign::lease::{Lease, Leased};
use crate::sign::oidc::{self, IdToken, OidcRequest};
use crate::sign::rest::{Call, RestClient, ServiceError};
use crate::sign::secret::{Secret, SecretSink};
use crate::sign::{described, Context, DebugSink, Sign};

pub use google::{impersonation_url, JWT_TOKEN_TYPE};

/// The job's OIDC token's audience for a provider, as google-github-actions/auth asks it.
pub fn oidc_audience(provider: &str) -> String {
    format!("https://iam.googleapis.com/{provider}")
}

/// STS's audience for a provider: the provider's resource name.
pub fn sts_audience(provider: &str) -> String {
    format!("//iam.googleapis.com/{provider}")
}

/// The provider an STS audience names (`projects/…/providers/P`), if it names one.
fn provider_of(audience: &str) -> Option<String> {
    audience
        .strip_prefix("//iam.googleapis.com/")
        .map(str::to_string)
}

/// What the job's environment says about Google Cloud, read once by a front end (the
/// variables that stand in for a key setting are read with the settings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcpEnv {
    /// The text of the file `GOOGLE_APPLICATION_CREDENTIALS` names (Application Default
    /// Credentials), or why it could not be read: read only when Cloud KMS is the key
    /// source and needs it ([`read_credentials_file`]).
    pub application_credentials_text: Option<Result<String, String>>,
    /// `CLOUDSDK_API_ENDPOINT_OVERRIDES_STS`, `_IAMCREDENTIALS`, `_CLOUDKMS`: base URLs
    /// that replace `https://SERVICE.googleapis.com/`.
    pub sts_override: Option<String>,
    pub iamcredentials_override: Option<String>,
    pub cloudkms_override: Option<String>,
}

impl GcpEnv {
    pub fn from_env(env: Env<'_>) -> Self {
        Self {
            application_credentials_text: None,
            sts_override: var(env, "CLOUDSDK_API_ENDPOINT_OVERRIDES_STS"),
            iamcredentials_override: var(env, "CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS"),
            cloudkms_override: var(env, "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS"),
        }
    }
}

/// The most of a credentials file that is read: far more than an `external_account`
/// file (under 2 KiB), far less than what could exhaust memory.
pub const MAX_CREDENTIALS_FILE: u64 = 64 * 1024;

/// Reads the credentials file at `path`: a regular file of at most
/// [`MAX_CREDENTIALS_FILE`] bytes of UTF-8, or why not. A FIFO, a device or a directory
/// is refused without blocking on it: its type is checked before it is opened, the
/// opening does not wait for a writer (`O_NONBLOCK`), and the file opened is checked
/// again.
pub fn read_credentials_file(path: &str) -> Result<String, String> {
    use std::io::Read as _;
    let regular = |meta: std::fs::Metadata| {
        if meta.is_file() {
            Ok(())
        } else if meta.is_dir() {
            Err("a directory".to_string())
        } else {
            Err("not a regular file, but a FIFO, a socket or a device".to_string())
        }
    };
    regular(std::fs::metadata(path).map_err(|e| e.kind().to_string())?)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| e.kind().to_string())?;
    regular(file.metadata().map_err(|e| e.kind().to_string())?)?;
    let mut bytes = Vec::new();
    file.take(MAX_CREDENTIALS_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.kind().to_string())?;
    if bytes.len() as u64 > MAX_CREDENTIALS_FILE {
        return Err(format!(
            "larger than {} KiB, the most read",
            MAX_CREDENTIALS_FILE / 1024
        ));
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())
}

/// Google's base URLs, each ending in `/`: `https://sts.googleapis.com/` or an override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub sts: String,
    pub iamcredentials: String,
    pub cloudkms: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            sts: "https://sts.googleapis.com/".into(),
            iamcredentials: "https://iamcredentials.googleapis.com/".into(),
            cloudkms: "https://cloudkms.googleapis.com/".into(),
        }
    }
}

/// How the access token for Cloud KMS is had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `gcp-workload-identity-provider`: the job's OIDC token, exchanged at STS, then
    /// (with `gcp-service-account`) a service account's token from IAM credentials.
    WorkloadIdentity {
        /// `projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER`.
        provider: String,
        service_account: Option<String>,
        oidc: OidcRequest,
    },
    /// Application Default Credentials: the `external_account` file in
    /// `GOOGLE_APPLICATION_CREDENTIALS`, as google-github-actions/auth writes it.
    ExternalAccount {
        /// The file, for messages.
        path: String,
        account: ExternalAccount,
        /// `gcp-service-account`'s URL, which wins over the file's.
        impersonation_url: Option<String>,
    },
}

/// A Cloud KMS key version, checked: everything needed to sign, before any request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V`.
    pub key_version: String,
    pub credentials: Credentials,
    pub endpoints: Endpoints,
}

/// Signs with a Cloud KMS key version. The access token is had on first use, and again
/// near its end.
pub struct CloudKmsKey {
    settings: Settings,
    client: RestClient,
    access_token: Lease<Secret>,
    on_secret: SecretSink,
    on_debug: Option<DebugSink>,
}

impl CloudKmsKey {
    pub fn new(settings: Settings, context: &Context) -> anyhow::Result<Self> {
        Ok(Self {
            settings,
            client: context.client()?,
            access_token: Lease::new(),
            on_secret: context.on_secret.clone(),
            on_debug: context.on_debug.clone(),
        })
    }

    fn secret(&self, value: String) -> Secret {
        (self.on_secret)(&value);
        Secret::new(value)
    }

    /// The subject token of an `external_account` file: from its URL (with its headers)
    /// or its file.
    async fn subject_token(&self, account: &ExternalAccount) -> anyhow::Result<IdToken> {
        let (body, format) = match &account.source {
            Source::Url {
                url,
                headers,
                format,
            } => {
                let mut call = Call {
                    name: "the credential source's token request",
                    method: Method::GET,
                    url: url.clone(),
                    headers: vec![("accept", "application/json".into())],
                    body: Bytes::new(),
                    prepare: None,
                };
                for (name, value) in headers {
                    (self.on_secret)(value);
                    if let Some((_, bearer)) = value.split_once(' ') {
                        (self.on_secret)(bearer.trim());
                    }
                    if name.eq_ignore_ascii_case("authorization") {
                        call.headers.push(("authorization", value.clone()));
                    } else {
                        anyhow::bail!(
                            "the credential source asks for a header other than Authorization, which is not supported"
                        );
                    }
                }
                let answer = self.client.send(&call, &google::DIALECT).await?;
                (String::from_utf8_lossy(&answer.body).into_owned(), format)
            }
            Source::File { path, format } => (
                std::fs::read_to_string(path).with_context(|| {
                    format!(
                        "cannot read the credential source's file {}",
                        crate::excerpt::excerpt_name(path)
                    )
                })?,
                format,
            ),
        };
        let token = external::subject_token(&body, format).map_err(anyhow::Error::msg)?;
        Ok(IdToken::new(self.secret(token)))
    }

    /// STS's exchange of `token` (the job's OIDC token, or a file's subject token) for a
    /// federated access token; its claims told to the debug log first, and shown in the
    /// error when the provider refuses them.
    async fn exchange(
        &self,
        token_url: &str,
        audience: &str,
        token_type: &str,
        token: &IdToken,
    ) -> Result<Leased<Secret>, ServiceError> {
        token.tell(google::EXCHANGE, self.on_debug.as_ref());
        google::exchange(&self.client, token_url, audience, token_type, &token.token)
            .await
            .map_err(|e| token.explain(e, &Trust::GcpProvider(provider_of(audience))))
    }

    /// The access token Cloud KMS is called with: federated by STS, then a service
    /// account's when one is impersonated, with the end the last one has. Every token is
    /// masked the moment it arrives; the job's OIDC token is asked anew each time.
    async fn fetch_access_token(&self) -> anyhow::Result<Leased<Secret>> {
        let endpoints = &self.settings.endpoints;
        let (federated, impersonation) = match &self.settings.credentials {
            Credentials::WorkloadIdentity {
                provider,
                service_account,
                oidc,
            } => {
                let audience = oidc_audience(provider);
                let token =
                    oidc::token(&self.client, oidc, Some(&audience), &self.on_secret).await?;
                let federated = self
                    .exchange(
                        &format!("{}v1/token", endpoints.sts),
                        &sts_audience(provider),
                        JWT_TOKEN_TYPE,
                        &token,
                    )
                    .await?;
                let url = service_account
                    .as_ref()
                    .map(|email| impersonation_url(&endpoints.iamcredentials, email));
                (federated, url)
            }
            Credentials::ExternalAccount {
                account,
                impersonation_url,
                ..
            } => {
                let token = self.subject_token(account).await?;
                let federated = self
                    .exchange(
                        &account.token_url,
                        &account.audience,
                        &account.subject_token_type,
                        &token,
                    )
                    .await?;
                let url = impersonation_url
                    .clone()
                    .or_else(|| account.service_account_impersonation_url.clone());
                (federated, url)
            }
        };
        (self.on_secret)(federated.value.expose());
        let Some(url) = impersonation else {
            return Ok(federated);
        };
        let token = google::generate_access_token(&self.client, &url, &federated.value).await?;
        (self.on_secret)(token.value.expose());
        Ok(token)
    }

    async fn sign_with_kms(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let token = self.access_token.get(|| self.fetch_access_token()).await?;
        let digest = Sha256::digest(message);
        let signature = google::asymmetric_sign(
            &self.client,
            &self.settings.endpoints.cloudkms,
            &self.settings.key_version,
            &digest,
            &token,
        )
        .await?;
        let bytes = STANDARD.decode(signature.trim()).map_err(|_| {
            ServiceError::local(
                "Cloud KMS asymmetricSign",
                "an answer that cannot be read",
                "its `signature` is not base64",
            )
        })?;
        Ok(bytes)
    }
}

impl Sign for CloudKmsKey {
    fn sign<'a>(&'a self, message: &'a [u8]) -> BoxFuture<'a, anyhow::Result<Vec<u8>>> {
        described(self, self.sign_with_kms(message))
    }

    fn describe(&self) -> String {
        format!(
            "Cloud KMS key {}",
            crate::excerpt::excerpt_name(&self.settings.key_version)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences_follow_google_github_actions_auth() {
        let p = "projects/1/locations/global/workloadIdentityPools/github/providers/acme";
        assert_eq!(
            oidc_audience(p),
            "https://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/github/providers/acme"
        );
        assert_eq!(
            sts_audience(p),
            "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/github/providers/acme"
        );
        assert_eq!(provider_of(&sts_audience(p)).as_deref(), Some(p));
        assert_eq!(provider_of("https://sts.example/x"), None);
    }
}
