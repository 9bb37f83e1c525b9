//! Which key signs the app's JWT, checked before any request.
//!
//! Exactly one of a PEM, or a key in AWS KMS, GCP Cloud KMS, Azure Key Vault or Vault
//! transit with its service's settings and credentials. What both front ends give is a
//! [`KeyGiven`], filled from the one table of key settings ([`settings`]). This module
//! picks the one key source, bounds every setting and refuses another service's; each
//! backend's own file checks its settings and credentials.

mod aws;
mod azure;
mod gcp;
mod settings;
mod vault;

use std::collections::BTreeMap;
use std::ops::{Index, IndexMut};
use std::time::Duration;

use super::{bounded, validate_url, ConfigError, Field};
use crate::env::{var, Env};
use crate::jwt::{self, Signer};
use crate::sign::aws::AwsEnv;
use crate::sign::azure::AzureEnv;
use crate::sign::gcp::GcpEnv;
use crate::sign::oidc::{OidcEnv, OidcRequest};
use crate::sign::vault::VaultEnv;
use crate::sign::{self, DebugSink, SecretSink, Service};
use crate::transport::Proxy;

pub use settings::{Backend, Flag, KeySetting, Setting, KEY_SETTINGS};

/// that it cannot make another, broader one. Files they point to stay readable.
pub const SIGNING_VARIABLES: &[&str] = &[
    // The app's PEM (the command line's `APP_TOKEN_PRIVATE_KEY`).
    "APP_TOKEN_PRIVATE_KEY",
    // AWS: keys, a session, a web identity to assume a role with, a container's endpoint.
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    // GitHub Actions: the OIDC token a role is assumed with.
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    // Google Cloud: a service account key or external account, an access token.
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "CLOUDSDK_AUTH_ACCESS_TOKEN",
    "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE",
    // Azure: a client secret or certificate, a password, a federated token, a managed identity's secret.
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE",
    "IDENTITY_HEADER",
    "MSI_SECRET",
    // HashiCorp Vault.
    "VAULT_TOKEN",
];

/// What a front end was given for the key: every key setting (the inputs, or the flags),
/// and what the environment says.
#[derive(Debug, Clone, Default)]
pub struct KeyGiven {
    /// Each setting's value, at its [`Setting`]'s index; blank is `None`.
    settings: [Option<String>; KEY_SETTINGS.len()],
    /// The variables the table names (settings' fallbacks, backends' own), those set.
    variables: BTreeMap<&'static str, String>,
    pub aws: AwsEnv,
    pub gcp: GcpEnv,
    pub azure: AzureEnv,
    pub vault: VaultEnv,
    pub oidc: OidcEnv,
}

impl Index<Setting> for KeyGiven {
    type Output = Option<String>;

    fn index(&self, setting: Setting) -> &Option<String> {
        &self.settings[setting as usize]
    }
}

impl IndexMut<Setting> for KeyGiven {
    fn index_mut(&mut self, setting: Setting) -> &mut Option<String> {
        &mut self.settings[setting as usize]
    }
}

impl KeyGiven {
    /// No setting given yet, but what the environment says about every key service.
    pub fn environment(env: Env<'_>) -> Self {
        let variables = Backend::ALL
            .iter()
            .flat_map(|b| b.environment())
            .filter_map(|name| Some((name, var(env, name)?)))
            .collect();
        Self {
            variables,
            aws: AwsEnv::from_env(env),
            gcp: GcpEnv::from_env(env),
            azure: AzureEnv::from_env(env),
            vault: VaultEnv::from_env(env),
            oidc: OidcEnv::from_env(env),
            ..Self::default()
        }
    }

    /// Every setting as `read` gives it (by its row in [`KEY_SETTINGS`]): the action's
    /// input, the command line's flag.
    pub fn with_settings(mut self, read: impl Fn(&KeySetting) -> Option<String>) -> Self {
        for row in &KEY_SETTINGS {
            self[row.setting] = read(row);
        }
        self
    }

    /// A variable the table names, if set (blank is unset).
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.variables.get(name).map(String::as_str)
    }

    #[cfg(test)]
    fn set_variable(&mut self, name: &'static str, value: Option<String>) {
        match value {
            Some(v) => self.variables.insert(name, v),
            None => self.variables.remove(name),
        };
    }

    /// `setting` as given, else the first of its environment fallbacks that is set, with
    /// the field it came from (for a message about the value).
    pub fn or_env(&self, setting: Setting) -> Option<(Field, &str)> {
        match &self[setting] {
            Some(value) => Some((Field::Key(setting), value)),
            None => setting
                .spec()
                .env
                .iter()
                .find_map(|name| Some((Field::Environment(name), self.variable(name)?))),
        }
    }

    /// Reads the files the chosen key source needs, and no other:
    /// `GOOGLE_APPLICATION_CREDENTIALS` only for a Cloud KMS key without a workload
    /// identity provider (whatever else is given, that file is never opened).
    pub fn read_files(mut self) -> Self {
        if matches!(one_source(&self), Ok(Backend::Gcp)) {
            gcp::read_credentials_file(&mut self);
        }
        self
    }

    /// Whether a key service's key was given (so that a front end need not look for a PEM).
    pub fn names_a_service_key(&self) -> bool {
        KEY_SETTINGS
            .iter()
            .any(|s| s.is_key() && s.backend != Backend::Pem && self[s.setting].is_some())
    }
}

/// The app's key, checked.
pub enum Key {
    /// A PEM, parsed, with its first JWT signed.
    Pem(Signer),
    /// A key held by a service: the first signature is a round trip, made with the first
    /// request. One variant per backend, each with its checked settings.
    Service(Service),
}

/// A session opens with the configuration's key: a PEM's signer as it is, a service's
/// made here, its client with GitHub's proxies and connect timeout.
impl crate::mint::session::AppKey for Key {
    fn into_signer(
        self,
        app_id: &str,
        proxy: &Proxy,
        connect_timeout: Duration,
        on_secret: SecretSink,
        on_debug: Option<DebugSink>,
    ) -> anyhow::Result<Signer> {
        match self {
            Key::Pem(signer) => Ok(signer),
            Key::Service(service) => {
                let context = sign::Context {
                    proxy: proxy.clone(),
                    connect_timeout,
                    on_secret,
                    on_debug,
                };
                Ok(Signer::new(sign::backend(service, &context)?, app_id))
            }
        }
    }
}

/// Exactly one key source: its backend, or an error naming those given (or all of them).
fn one_source(given: &KeyGiven) -> Result<Backend, ConfigError> {
    let set: Vec<Backend> = Backend::ALL
        .into_iter()
        .filter(|b| given[b.key()].is_some())
        .collect();
    let key = |b: &Backend| Field::Key(b.key());
    match set.as_slice() {
        [one] => Ok(*one),
        [] => Err(ConfigError::naming(
            Field::Key(Setting::PrivateKey),
            "is required, or one of {}, {}, {} and {}: the app's PEM private key, or the key service that holds it",
            &Backend::ALL[1..].iter().map(key).collect::<Vec<_>>(),
        )),
        // The service's key is the subject: it is what made the PEM (or another) one too many.
        [rest @ .., last] => {
            let names = vec!["{}"; rest.len()].join(" and ");
            let verb = if rest.len() == 1 { "both" } else { "all" };
            Err(ConfigError::naming(
                key(last),
                &format!("and {names} are {verb} set: give exactly one key source"),
                &rest.iter().map(key).collect::<Vec<_>>(),
            ))
        }
    }
}

/// The settings of every service but `chosen`'s must be blank: `gcp-service-account`
/// without `gcp-kms-key` is a mistake, not something to ignore.
fn no_stray_settings(given: &KeyGiven, chosen: Backend) -> Result<(), ConfigError> {
    let stray = KEY_SETTINGS
        .iter()
        .filter(|s| s.backend != chosen && !s.is_key())
        .find(|s| given[s.setting].is_some());
    match stray {
        Some(s) => Err(ConfigError::naming(
            Field::Key(s.setting),
            "needs {}",
            &[Field::Key(s.backend.key())],
        )),
        None => Ok(()),
    }
}

/// Every setting of every key source, and what the environment gives in place of the
/// `chosen` service's (its region, ids, address, namespace, credentials' path), at most
/// as long as [`super::max_len`] says: refused before anything else reads, uses or quotes it.
fn bounded_settings(given: &KeyGiven, chosen: Backend) -> Result<(), ConfigError> {
    for s in &KEY_SETTINGS {
        bounded(Field::Key(s.setting), given[s.setting].as_deref())?;
    }
    for name in chosen.environment() {
        bounded(Field::Environment(name), given.variable(name))?;
    }
    Ok(())
}

/// Checks the key: exactly one source, nothing of another's, and the chosen service's
/// settings and credentials.
pub fn check(app_id: &str, given: KeyGiven) -> Result<Key, ConfigError> {
    let chosen = one_source(&given)?;
    bounded_settings(&given, chosen)?;
    no_stray_settings(&given, chosen)?;
    let service = match chosen {
        Backend::Pem => {
            let pem = given[Setting::PrivateKey].as_deref().unwrap_or_default();
            let signer = jwt::signer(pem, app_id)
                .map_err(|m| ConfigError::new(Field::Key(Setting::PrivateKey), m))?;
            return Ok(Key::Pem(signer));
        }
        Backend::Aws => Service::Aws(aws::check(&given)?),
        Backend::Gcp => Service::Gcp(gcp::check(&given)?),
        Backend::Azure => Service::Azure(azure::check(&given)?),
        Backend::Vault => Service::Vault(vault::check(&given)?),
    };
    Ok(Key::Service(service))
}

/// The runner's OIDC endpoint, which `field` needs: absent outside a job with
/// `permissions: id-token: write`.
fn oidc_request(oidc: &OidcEnv, field: Field) -> Result<OidcRequest, ConfigError> {
    let (Some(url), Some(token)) = (&oidc.request_url, &oidc.request_token) else {
        return Err(ConfigError::new(
            field,
            "needs the job's OIDC token, and ACTIONS_ID_TOKEN_REQUEST_URL or its token is not set: \
             give the job `permissions: id-token: write`",
        ));
    };
    let url = validate_url_with_query(url)
        .map_err(|m| ConfigError::new(Field::Environment("ACTIONS_ID_TOKEN_REQUEST_URL"), m))?;
    Ok(OidcRequest {
        url,
        token: token.clone(),
    })
}

/// A base URL from the environment, checked, ending in `/`.
fn base_url(name: &'static str, raw: &str) -> Result<String, ConfigError> {
    validate_url(raw)
        .map(|u| format!("{u}/"))
        .map_err(|m| ConfigError::new(Field::Environment(name), m))
}

/// Like [`validate_url`], but a query is allowed (the runner's token URL carries one).
fn validate_url_with_query(raw: &str) -> Result<String, String> {
    let (base, query) = match raw.trim().split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (raw.trim(), None),
    };
    let base = validate_url(base)?;
    Ok(match query {
        Some(q) => format!("{base}?{q}"),
        None => base,
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::sign::aws::{Credentials, KmsSettings};
    use crate::sign::Secret;
    use Setting as S;

    pub(super) const KEY: &str = include_str!("../../../tests/fixtures/test-key-pkcs1.pem");

    /// A PEM and nothing else.
    fn pem_given(pem: &str) -> KeyGiven {
        let mut given = KeyGiven::default();
        given[S::PrivateKey] = Some(pem.into());
        given
    }

    pub(super) fn kms(f: impl FnOnce(&mut KeyGiven)) -> Result<KmsSettings, ConfigError> {
        let mut given = KeyGiven {
            aws: AwsEnv {
                credentials: Some(Credentials::new("AKID", "secret", None)),
                ..AwsEnv::default()
            },
            ..KeyGiven::default()
        };
        given[S::AwsKmsKeyId] = Some("alias/github-app".into());
        given.set_variable("AWS_REGION", Some("eu-west-1".into()));
        f(&mut given);
        match check("1", given)? {
            Key::Service(Service::Aws(settings)) => Ok(settings),
            _ => panic!("another signer from KMS settings"),
        }
    }

    pub(super) fn fault(f: impl FnOnce(&mut KeyGiven)) -> (Field, Vec<Field>) {
        let e = kms(f).expect_err("an error");
        (e.field, e.refs)
    }

    #[test]
    fn a_pem_or_a_kms_key_but_not_both_and_not_neither() {
        let both = fault(|g| g[S::PrivateKey] = Some(KEY.into()));
        assert_eq!(
            both,
            (Field::Key(S::AwsKmsKeyId), vec![Field::Key(S::PrivateKey)])
        );
        let neither = fault(|g| g[S::AwsKmsKeyId] = None);
        assert_eq!(
            neither,
            (
                Field::Key(S::PrivateKey),
                vec![
                    Field::Key(S::AwsKmsKeyId),
                    Field::Key(S::GcpKmsKey),
                    Field::Key(S::AzureKeyVaultKey),
                    Field::Key(S::VaultTransitKey),
                ]
            )
        );
        let pem = check("1", pem_given(KEY));
        assert!(matches!(pem, Ok(Key::Pem(_))));
        let e = check(
            "1",
            pem_given(
                "-----BEGIN RSA PRIVATE KEY-----\nMIIsecretline\n-----END RSA PRIVATE KEY-----",
            ),
        )
        .err()
        .unwrap();
        assert_eq!(e.field, Field::Key(S::PrivateKey));
        assert!(!e.message.contains("MIIsecretline"));
    }

    #[test]
    fn every_setting_is_bounded_and_so_is_the_environment_in_its_place() {
        let long = |n: usize| "a".repeat(n);
        let s = kms(|g| g[S::AwsKmsKeyId] = Some(format!("alias/{}", long(2042)))).unwrap();
        assert_eq!(s.key_id.len(), 2048, "AWS takes 2048 bytes");
        let e = kms(|g| g[S::AwsKmsKeyId] = Some(long(2049))).unwrap_err();
        assert_eq!(e.field, Field::Key(S::AwsKmsKeyId));
        assert_eq!(e.message, "is 2049 bytes long; at most 2048 bytes are read");
        let e = kms(|g| g[S::VaultAudience] = Some(long(20_000))).unwrap_err();
        assert_eq!(
            (e.field, e.message.as_str()),
            (
                Field::Key(S::VaultAudience),
                "is 20000 bytes long; at most 1024 bytes are read"
            )
        );
        let e = kms(|g| g.set_variable("AWS_REGION", Some(long(1025)))).unwrap_err();
        assert_eq!(e.field, Field::Environment("AWS_REGION"));
        // Another service's variables are not this step's business.
        assert!(kms(|g| g.set_variable("AZURE_TENANT_ID", Some(long(5000)))).is_ok());
        let e = check("1", pem_given(&long(64 * 1024 + 1)))
            .err()
            .expect("refused");
        assert_eq!(e.field, Field::Key(S::PrivateKey));
        assert!(!e.message.contains("aaa"), "{}", e.message);
    }

    pub(super) const KEY_VERSION: &str =
        "projects/p/locations/global/keyRings/r/cryptoKeys/app/cryptoKeyVersions/1";

    pub(super) const PROVIDER: &str =
        "projects/123456789/locations/global/workloadIdentityPools/github/providers/acme";

    pub(super) fn oidc() -> OidcEnv {
        OidcEnv {
            request_url: Some("https://token.actions.example/x?api-version=2.0".into()),
            request_token: Some(Secret::new("req")),
        }
    }

    pub(super) fn with(f: impl FnOnce(&mut KeyGiven)) -> Result<Service, ConfigError> {
        let mut given = KeyGiven {
            oidc: oidc(),
            ..KeyGiven::default()
        };
        f(&mut given);
        match check("1", given)? {
            Key::Service(service) => Ok(service),
            Key::Pem(_) => panic!("a PEM signer"),
        }
    }

    pub(super) fn at_fault(f: impl FnOnce(&mut KeyGiven)) -> (Field, Vec<Field>) {
        let e = with(f).expect_err("an error");
        (e.field, e.refs)
    }

    #[test]
    fn every_setting_in_the_table_is_bounded_by_its_own_limit() {
        for row in &KEY_SETTINGS {
            // A key alone (one source); any other setting beside a PEM, as bounds come first.
            let mut given = match row.is_key() {
                true => KeyGiven::default(),
                false => pem_given(KEY),
            };
            given[row.setting] = Some("a".repeat(row.max_len + 1));
            let e = check("1", given).err().expect("refused");
            assert_eq!(e.field, Field::Key(row.setting), "{}", row.name);
            assert_eq!(
                e.message,
                format!(
                    "is {} bytes long; at most {} bytes are read",
                    row.max_len + 1,
                    row.max_len
                ),
                "{}",
                row.name
            );
        }
    }

    #[test]
    fn exactly_one_key_source_and_every_extra_one_is_named() {
        let two = at_fault(|g| {
            g[S::GcpKmsKey] = Some(KEY_VERSION.into());
            g[S::VaultTransitKey] = Some("app".into());
        });
        assert_eq!(
            two,
            (
                Field::Key(S::VaultTransitKey),
                vec![Field::Key(S::GcpKmsKey)]
            )
        );
        let e = with(|g| {
            g[S::PrivateKey] = Some(KEY.into());
            g[S::AzureKeyVaultKey] = Some("https://v.vault.azure.net/keys/app".into());
            g[S::VaultTransitKey] = Some("app".into());
        })
        .err()
        .unwrap();
        assert_eq!(e.field, Field::Key(S::VaultTransitKey));
        assert_eq!(
            e.refs,
            vec![Field::Key(S::PrivateKey), Field::Key(S::AzureKeyVaultKey)]
        );
        assert_eq!(
            e.message,
            "and {} and {} are all set: give exactly one key source"
        );
        let none = check("1", KeyGiven::default()).err().unwrap();
        assert_eq!(none.refs.len(), 4);
    }

    #[test]
    fn a_services_setting_without_its_key_is_an_error_naming_the_key() {
        type Case = (fn(&mut KeyGiven), Field, Field);
        let cases: [Case; 5] = [
            (
                |g| g[S::GcpWorkloadIdentityProvider] = Some(PROVIDER.into()),
                Field::Key(S::GcpWorkloadIdentityProvider),
                Field::Key(S::GcpKmsKey),
            ),
            (
                |g| g[S::GcpServiceAccount] = Some("a@b.iam.gserviceaccount.com".into()),
                Field::Key(S::GcpServiceAccount),
                Field::Key(S::GcpKmsKey),
            ),
            (
                |g| g[S::AzureTenantId] = Some("contoso.onmicrosoft.com".into()),
                Field::Key(S::AzureTenantId),
                Field::Key(S::AzureKeyVaultKey),
            ),
            (
                |g| g[S::VaultRole] = Some("app".into()),
                Field::Key(S::VaultRole),
                Field::Key(S::VaultTransitKey),
            ),
            (
                |g| g[S::AwsRegion] = Some("eu-west-1".into()),
                Field::Key(S::AwsRegion),
                Field::Key(S::AwsKmsKeyId),
            ),
        ];
        for (set, field, key) in cases {
            let fault = at_fault(|g| {
                g[S::PrivateKey] = Some(KEY.into());
                set(g);
            });
            assert_eq!(fault, (field, vec![key]));
        }
        // Another service's settings alongside a service's key are refused too.
        let fault = at_fault(|g| {
            g[S::VaultTransitKey] = Some("app".into());
            g.vault.token = Some(Secret::new("t"));
            g.set_variable("VAULT_ADDR", Some("https://vault.example".into()));
            g[S::GcpServiceAccount] = Some("a@b.iam.gserviceaccount.com".into());
        });
        assert_eq!(
            fault,
            (
                Field::Key(S::GcpServiceAccount),
                vec![Field::Key(S::GcpKmsKey)]
            )
        );
    }
}
