//! The Azure Key Vault backend: the app's key in Key Vault, reached with a Microsoft Entra token for the job's OIDC token (a federated credential) or the environment's client secret.

use std::time::Duration;

use futures::future::BoxFuture;

use crate::runner::Env;
use crate::sign::oidc::OidcRequest;
use crate::sign::secret::{Secret, SecretSink};
use crate::sign::Sign;
use crate::transport::Proxy;

/// The audience Entra expects in a federated OIDC token.
pub const AUDIENCE: &str = "api://AzureADTokenExchange";
/// The authority when `AZURE_AUTHORITY_HOST` is not set.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com/";

/// What the job's environment says about Azure, as azure-identity reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AzureEnv {
    pub client_id: Option<String>,
    pub tenant_id: Option<String>,
    pub authority_host: Option<String>,
    pub client_secret: Option<Secret>,
}

impl AzureEnv {
    pub fn from_env(env: Env<'_>) -> Self {
        let get = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Self {
            client_id: get("AZURE_CLIENT_ID"),
            tenant_id: get("AZURE_TENANT_ID"),
            authority_host: get("AZURE_AUTHORITY_HOST"),
            client_secret: get("AZURE_CLIENT_SECRET").map(Secret::new),
        }
    }
}

/// How the token for Key Vault is had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The job's OIDC token as a client assertion.
    Oidc(OidcRequest),
    /// `AZURE_CLIENT_SECRET`, as azure-identity's EnvironmentCredential uses it.
    ClientSecret(Secret),
}

/// A Key Vault key, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The key identifier as given, without a trailing slash.
    pub key_id: String,
    /// `https://VAULT.vault.azure.net` (scheme and authority of the key id).
    pub vault_url: String,
    pub name: String,
    /// Without one, the key's current version signs.
    pub version: Option<String>,
    pub client_id: String,
    pub tenant_id: String,
    /// Ends in `/`.
    pub authority: String,
    pub credential: Credential,
}

/// Signs with a Key Vault key. (Slot: the Key Vault flow is not built yet.)
pub struct KeyVaultKey {
    settings: Settings,
}

impl KeyVaultKey {
    pub fn new(
        settings: Settings,
        _proxy: &Proxy,
        _connect_timeout: Duration,
        _on_secret: SecretSink,
    ) -> anyhow::Result<Self> {
        Ok(Self { settings })
    }
}

impl Sign for KeyVaultKey {
    fn sign<'a>(&'a self, _message: &'a [u8]) -> BoxFuture<'a, anyhow::Result<Vec<u8>>> {
        Box::pin(async move {
            Err(anyhow::anyhow!(
                "{}: signing with Azure Key Vault is not built yet",
                self.describe()
            ))
        })
    }

    fn describe(&self) -> String {
        format!("Key Vault key {}", self.settings.key_id)
    }
}
