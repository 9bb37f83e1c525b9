//! The HashiCorp Vault transit backend: the app's key in a transit mount, reached with a Vault token from JWT auth with the job's OIDC token, or `VAULT_TOKEN` from the environment.

use std::time::Duration;

use futures::future::BoxFuture;

use crate::runner::Env;
use crate::sign::oidc::OidcRequest;
use crate::sign::secret::{Secret, SecretSink};
use crate::sign::Sign;
use crate::transport::Proxy;

/// What the job's environment says about Vault, as the Vault CLI and hashicorp/vault-action leave it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VaultEnv {
    pub addr: Option<String>,
    pub namespace: Option<String>,
    pub token: Option<Secret>,
}

impl VaultEnv {
    pub fn from_env(env: Env<'_>) -> Self {
        let get = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Self {
            addr: get("VAULT_ADDR"),
            namespace: get("VAULT_NAMESPACE"),
            token: get("VAULT_TOKEN").map(Secret::new),
        }
    }
}

/// How the Vault token is had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `vault-role`: a login at `auth/{path}/login` with the job's OIDC token; the token
    /// is revoked at the end of the step.
    Jwt {
        role: String,
        /// `vault-auth-path`, default `jwt`.
        path: String,
        /// `vault-audience`; without it GitHub's default (`https://github.com/OWNER`).
        audience: Option<String>,
        oidc: OidcRequest,
    },
    /// `VAULT_TOKEN` from the environment, left as it is.
    Token(Secret),
}

/// A transit key, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Vault's address, without a trailing slash.
    pub url: String,
    /// `vault-transit-mount`, default `transit`.
    pub mount: String,
    pub key: String,
    /// Sent as `X-Vault-Namespace`.
    pub namespace: Option<String>,
    pub auth: Auth,
}

/// Signs with a transit key. (Slot: the transit flow is not built yet.)
pub struct TransitKey {
    settings: Settings,
}

impl TransitKey {
    pub fn new(
        settings: Settings,
        _proxy: &Proxy,
        _connect_timeout: Duration,
        _on_secret: SecretSink,
    ) -> anyhow::Result<Self> {
        Ok(Self { settings })
    }
}

impl Sign for TransitKey {
    fn sign<'a>(&'a self, _message: &'a [u8]) -> BoxFuture<'a, anyhow::Result<Vec<u8>>> {
        Box::pin(async move {
            Err(anyhow::anyhow!(
                "{}: signing with Vault transit is not built yet",
                self.describe()
            ))
        })
    }

    fn describe(&self) -> String {
        format!(
            "Vault transit key {}/{}",
            self.settings.mount, self.settings.key
        )
    }
}
