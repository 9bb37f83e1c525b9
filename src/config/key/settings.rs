//! The key settings, in one table.
//!
//! Each setting's action input and command-line flag, its backend, where the environment
//! gives it when it is not given, and how long it may be. Both front ends read the table:
//! the action takes input `NAME`, the command line `--NAME` (with the flag's value name
//! and help from here), and the checks take the environment's fallback and the length
//! limit from here. A new setting is a variant of [`Setting`] and its row in
//! [`KEY_SETTINGS`], then its check in its backend's file.

use super::super::{MAX_AWS_ID_BYTES, MAX_KEY_BYTES, MAX_NAME_BYTES};

/// Where the app's key is: in memory (a PEM), or in a key service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Pem,
    Aws,
    Gcp,
    Azure,
    Vault,
}

impl Backend {
    /// Every backend, in the order messages list their keys.
    pub const ALL: [Backend; 5] = [
        Backend::Pem,
        Backend::Aws,
        Backend::Gcp,
        Backend::Azure,
        Backend::Vault,
    ];

    /// The setting that names the backend's key: giving it chooses the backend.
    pub const fn key(self) -> Setting {
        match self {
            Backend::Pem => Setting::PrivateKey,
            Backend::Aws => Setting::AwsKmsKeyId,
            Backend::Gcp => Setting::GcpKmsKey,
            Backend::Azure => Setting::AzureKeyVaultKey,
            Backend::Vault => Setting::VaultTransitKey,
        }
    }

    /// The variables the backend reads besides its settings' fallbacks, bounded like them
    /// when it is chosen.
    const fn variables(self) -> &'static [&'static str] {
        match self {
            Backend::Gcp => &["GOOGLE_APPLICATION_CREDENTIALS"],
            _ => &[],
        }
    }

    /// Every variable the backend reads in place of a setting when it is chosen: its
    /// settings' fallbacks, then its own variables.
    pub fn environment(self) -> impl Iterator<Item = &'static str> {
        KEY_SETTINGS
            .iter()
            .filter(move |s| s.backend == self)
            .flat_map(|s| s.env.iter().copied())
            .chain(self.variables().iter().copied())
    }
}

/// A key setting. Its row in [`KEY_SETTINGS`] is at its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    PrivateKey,
    AwsKmsKeyId,
    AwsRegion,
    AwsRoleToAssume,
    GcpKmsKey,
    GcpWorkloadIdentityProvider,
    GcpServiceAccount,
    AzureKeyVaultKey,
    AzureClientId,
    AzureTenantId,
    AzureKeyVaultDomain,
    VaultTransitKey,
    VaultUrl,
    VaultTransitMount,
    VaultRole,
    VaultAuthPath,
    VaultAudience,
    VaultNamespace,
}

impl Setting {
    /// Everything the table says of it.
    pub const fn spec(self) -> &'static KeySetting {
        &KEY_SETTINGS[self as usize]
    }

    /// The action's input; the command line's flag is `--` and this.
    pub const fn name(self) -> &'static str {
        self.spec().name
    }
}

/// The command line's flag for a setting: what its help shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    pub value_name: &'static str,
    pub help: &'static str,
}

/// A key setting, as both front ends and the checks know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySetting {
    pub setting: Setting,
    /// The action's input; the command line's flag is `--` and this.
    pub name: &'static str,
    pub backend: Backend,
    /// The environment variables that give it when it is not given, the first set first.
    pub env: &'static [&'static str],
    /// The most bytes it may hold: a longer value is refused before it is read.
    pub max_len: usize,
    /// The command line's flag; `None` where the command line reads it otherwise (the
    /// PEM, from a file or `APP_TOKEN_PRIVATE_KEY`).
    pub flag: Option<Flag>,
}

impl KeySetting {
    const fn new(setting: Setting, name: &'static str, backend: Backend) -> Self {
        Self {
            setting,
            name,
            backend,
            env: &[],
            max_len: MAX_NAME_BYTES,
            flag: None,
        }
    }

    const fn env(self, env: &'static [&'static str]) -> Self {
        Self { env, ..self }
    }

    const fn max_len(self, max_len: usize) -> Self {
        Self { max_len, ..self }
    }

    const fn flag(self, value_name: &'static str, help: &'static str) -> Self {
        Self {
            flag: Some(Flag { value_name, help }),
            ..self
        }
    }

    /// Is it its backend's key?
    pub const fn is_key(&self) -> bool {
        self.backend.key() as usize == self.setting as usize
    }
}

/// Every key setting, each at its [`Setting`]'s index, grouped by backend in the order of
/// [`Backend::ALL`], each backend's key first.
pub const KEY_SETTINGS: [KeySetting; 18] = {
    use Backend::{Aws, Azure, Gcp, Pem, Vault};
    use Setting::*;
    [
        KeySetting::new(PrivateKey, "private-key", Pem).max_len(MAX_KEY_BYTES),
        KeySetting::new(AwsKmsKeyId, "aws-kms-key-id", Aws)
            .max_len(MAX_AWS_ID_BYTES)
            .flag("KEY", "The KMS key that holds the app's private key (key id, ARN or alias/NAME), instead of a PEM; AWS credentials from the environment"),
        KeySetting::new(AwsRegion, "aws-region", Aws)
            .env(&["AWS_REGION", "AWS_DEFAULT_REGION"])
            .flag("REGION", "The KMS key's region [default: AWS_REGION, then AWS_DEFAULT_REGION]"),
        KeySetting::new(AwsRoleToAssume, "aws-role-to-assume", Aws)
            .max_len(MAX_AWS_ID_BYTES)
            .flag("ARN", "A role to assume with the job's OIDC token (inside a GitHub Actions job with `id-token: write`)"),
        KeySetting::new(GcpKmsKey, "gcp-kms-key", Gcp)
            .flag("KEY_VERSION", "The Cloud KMS key version that holds the app's key (projects/…/cryptoKeyVersions/N), instead of a PEM; credentials from GOOGLE_APPLICATION_CREDENTIALS"),
        KeySetting::new(GcpWorkloadIdentityProvider, "gcp-workload-identity-provider", Gcp)
            .flag("PROVIDER", "A workload identity provider (projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER) to federate the job's OIDC token with"),
        KeySetting::new(GcpServiceAccount, "gcp-service-account", Gcp)
            .flag("EMAIL", "A service account to impersonate (its email)"),
        KeySetting::new(AzureKeyVaultKey, "azure-key-vault-key", Azure)
            .flag("KEY_ID", "The Key Vault key that holds the app's key (https://VAULT.vault.azure.net/keys/NAME[/VERSION]), instead of a PEM"),
        KeySetting::new(AzureClientId, "azure-client-id", Azure)
            .env(&["AZURE_CLIENT_ID"])
            .flag("GUID", "The app registration's client id [default: AZURE_CLIENT_ID]"),
        KeySetting::new(AzureTenantId, "azure-tenant-id", Azure)
            .env(&["AZURE_TENANT_ID"])
            .flag("TENANT", "The directory (tenant) id [default: AZURE_TENANT_ID]"),
        KeySetting::new(AzureKeyVaultDomain, "azure-key-vault-domain", Azure)
            .flag("DOMAIN", "A Key Vault domain besides Azure's clouds' (vault.azure.net and the others), such as Azure Stack Hub's: the key's host may end in it, and its token is for https://DOMAIN"),
        KeySetting::new(VaultTransitKey, "vault-transit-key", Vault)
            .flag("NAME", "The transit key that holds the app's key (its name), instead of a PEM"),
        KeySetting::new(VaultUrl, "vault-url", Vault)
            .env(&["VAULT_ADDR"])
            .flag("URL", "Vault's address [default: VAULT_ADDR]"),
        KeySetting::new(VaultTransitMount, "vault-transit-mount", Vault)
            .flag("PATH", "The transit engine's mount [default: transit]"),
        KeySetting::new(VaultRole, "vault-role", Vault)
            .flag("ROLE", "A JWT auth role to log in with the job's OIDC token [default: VAULT_TOKEN is used]"),
        KeySetting::new(VaultAuthPath, "vault-auth-path", Vault)
            .flag("PATH", "The JWT auth method's mount [default: jwt]"),
        KeySetting::new(VaultAudience, "vault-audience", Vault)
            .flag("AUDIENCE", "The OIDC token's audience for the role [default: GitHub's, https://github.com/OWNER]"),
        KeySetting::new(VaultNamespace, "vault-namespace", Vault)
            .env(&["VAULT_NAMESPACE"])
            .flag("NAMESPACE", "The Vault namespace (Enterprise), sent as X-Vault-Namespace [default: VAULT_NAMESPACE]"),
    ]
};

// Each row at its setting's index, each backend's rows together and its key first: checked
// as the crate compiles.
const _: () = {
    let mut i = 0;
    while i < KEY_SETTINGS.len() {
        let row = &KEY_SETTINGS[i];
        assert!(row.setting as usize == i);
        let first_of_backend =
            i == 0 || KEY_SETTINGS[i - 1].backend as usize != row.backend as usize;
        assert!(first_of_backend == row.is_key());
        i += 1;
    }
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_each_setting_once_in_the_backends_order() {
        let keys: Vec<Setting> = KEY_SETTINGS
            .iter()
            .filter(|s| s.is_key())
            .map(|s| s.setting)
            .collect();
        assert_eq!(keys, Backend::ALL.map(Backend::key));
        let mut names: Vec<&str> = KEY_SETTINGS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KEY_SETTINGS.len());
        for s in &KEY_SETTINGS {
            assert!(s.name.starts_with(match s.backend {
                Backend::Pem => "private-key",
                Backend::Aws => "aws-",
                Backend::Gcp => "gcp-",
                Backend::Azure => "azure-",
                Backend::Vault => "vault-",
            }));
            // Only the PEM has no flag: the command line reads it from a file or the environment.
            assert_eq!(s.flag.is_none(), s.backend == Backend::Pem, "{}", s.name);
        }
    }

    #[test]
    fn a_backends_environment_is_its_fallbacks_then_its_own_variables() {
        let env = |b: Backend| b.environment().collect::<Vec<_>>();
        assert_eq!(env(Backend::Aws), ["AWS_REGION", "AWS_DEFAULT_REGION"]);
        assert_eq!(env(Backend::Gcp), ["GOOGLE_APPLICATION_CREDENTIALS"]);
        assert_eq!(env(Backend::Azure), ["AZURE_CLIENT_ID", "AZURE_TENANT_ID"]);
        assert_eq!(env(Backend::Vault), ["VAULT_ADDR", "VAULT_NAMESPACE"]);
        assert!(env(Backend::Pem).is_empty());
    }
}
