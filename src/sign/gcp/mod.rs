//! The GCP Cloud KMS backend: the app's key as a Cloud KMS key version, reached with an access token from STS (the job's OIDC token through workload identity federation, or an `external_account` file as Application Default Credentials), optionally impersonating a service account.

use std::time::Duration;

use futures::future::BoxFuture;

use crate::runner::Env;
use crate::sign::oidc::OidcRequest;
use crate::sign::secret::SecretSink;
use crate::sign::Sign;
use crate::transport::Proxy;

/// What the job's environment says about Google Cloud, read once by a front end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcpEnv {
    /// `GOOGLE_APPLICATION_CREDENTIALS`: the path of Application Default Credentials.
    pub application_credentials: Option<String>,
    /// `CLOUDSDK_API_ENDPOINT_OVERRIDES_STS`, `_IAMCREDENTIALS`, `_CLOUDKMS`: base URLs
    /// that replace `https://SERVICE.googleapis.com/`.
    pub sts_override: Option<String>,
    pub iamcredentials_override: Option<String>,
    pub cloudkms_override: Option<String>,
}

impl GcpEnv {
    pub fn from_env(env: Env<'_>) -> Self {
        let get = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Self {
            application_credentials: get("GOOGLE_APPLICATION_CREDENTIALS"),
            sts_override: get("CLOUDSDK_API_ENDPOINT_OVERRIDES_STS"),
            iamcredentials_override: get("CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS"),
            cloudkms_override: get("CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS"),
        }
    }
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
        /// `gcp-service-account`, which wins over the file's impersonation URL.
        service_account: Option<String>,
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

/// Signs with a Cloud KMS key version.
pub struct CloudKmsKey {
    settings: Settings,
}

impl CloudKmsKey {
    pub fn new(
        settings: Settings,
        _proxy: &Proxy,
        _connect_timeout: Duration,
        _on_secret: SecretSink,
    ) -> anyhow::Result<Self> {
        Ok(Self { settings })
    }
}

impl Sign for CloudKmsKey {
    fn sign<'a>(&'a self, _message: &'a [u8]) -> BoxFuture<'a, anyhow::Result<Vec<u8>>> {
        Box::pin(async move {
            Err(anyhow::anyhow!(
                "{}: signing with Cloud KMS is not built yet",
                self.describe()
            ))
        })
    }

    fn describe(&self) -> String {
        format!("Cloud KMS key {}", self.settings.key_version)
    }
}
