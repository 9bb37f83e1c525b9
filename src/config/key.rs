//! Which key signs the app's JWT: exactly one of a PEM, or a key in AWS KMS, GCP Cloud KMS, Azure Key Vault or Vault transit with its service's settings and credentials, checked before any request.

use std::time::Duration;

use super::{bounded, validate_url, ConfigError, Field};
use crate::env::Env;
use crate::jwt::{self, Signer};
use crate::sign::aws::{self, AwsEnv, CredentialSource, KmsSettings};
use crate::sign::azure::{self, AzureEnv};
use crate::sign::gcp::{self, GcpEnv};
use crate::sign::oidc::{OidcEnv, OidcRequest};
use crate::sign::vault::{self, VaultEnv};
use crate::sign::{self, SecretSink, Service};
use crate::transport::Proxy;

/// The environment variables that give the power to sign as the app, or to obtain
/// credentials that do: the key itself, the cloud credentials a keyless signer uses (and
/// those the next signers will: GCP, Azure, Vault), and the Actions OIDC token that
/// becomes such credentials. A command handed a token (`exec`) gets none of them, so
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

/// What a front end was given for the key: the inputs (or flags) of every key source,
/// and what the environment says.
#[derive(Debug, Clone, Default)]
pub struct KeyGiven {
    /// The PEM text (or its base64).
    pub pem: Option<String>,
    pub aws_kms_key_id: Option<String>,
    pub aws_region: Option<String>,
    pub aws_role_to_assume: Option<String>,
    pub gcp_kms_key: Option<String>,
    pub gcp_workload_identity_provider: Option<String>,
    pub gcp_service_account: Option<String>,
    pub azure_key_vault_key: Option<String>,
    pub azure_client_id: Option<String>,
    pub azure_tenant_id: Option<String>,
    /// A Key Vault domain besides Azure's clouds'.
    pub azure_key_vault_domain: Option<String>,
    pub vault_transit_key: Option<String>,
    pub vault_url: Option<String>,
    pub vault_transit_mount: Option<String>,
    pub vault_role: Option<String>,
    pub vault_auth_path: Option<String>,
    pub vault_audience: Option<String>,
    pub vault_namespace: Option<String>,
    pub aws: AwsEnv,
    pub gcp: GcpEnv,
    pub azure: AzureEnv,
    pub vault: VaultEnv,
    pub oidc: OidcEnv,
}

impl KeyGiven {
    /// Nothing given yet but what the environment says about every key service.
    pub fn environment(env: Env<'_>) -> Self {
        Self {
            aws: AwsEnv::from_env(env),
            gcp: GcpEnv::from_env(env),
            azure: AzureEnv::from_env(env),
            vault: VaultEnv::from_env(env),
            oidc: OidcEnv::from_env(env),
            ..Self::default()
        }
    }

    /// Reads the files the chosen key source needs, and no other:
    /// `GOOGLE_APPLICATION_CREDENTIALS` only for a Cloud KMS key without a workload
    /// identity provider (whatever else is given, that file is never opened).
    pub fn read_files(mut self) -> Self {
        let needs_adc = matches!(one_source(&self), Ok(Field::GcpKmsKey))
            && self.gcp_workload_identity_provider.is_none()
            && self.gcp.application_credentials_text.is_none();
        if needs_adc {
            if let Some(path) = &self.gcp.application_credentials {
                self.gcp.application_credentials_text = Some(gcp::read_credentials_file(path));
            }
        }
        self
    }

    /// Whether a key service's key was given (so that a front end need not look for a PEM).
    pub fn names_a_service_key(&self) -> bool {
        self.aws_kms_key_id.is_some()
            || self.gcp_kms_key.is_some()
            || self.azure_key_vault_key.is_some()
            || self.vault_transit_key.is_some()
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

impl Key {
    /// The signer for app JWTs. A service's client is made here (its proxies and
    /// timeouts are the GitHub client's); `on_secret` learns the secrets it comes to hold.
    pub fn into_signer(
        self,
        app_id: &str,
        proxy: &Proxy,
        connect_timeout: Duration,
        on_secret: SecretSink,
    ) -> anyhow::Result<Signer> {
        match self {
            Key::Pem(signer) => Ok(signer),
            Key::Service(service) => {
                let context = sign::Context {
                    proxy: proxy.clone(),
                    connect_timeout,
                    on_secret,
                };
                Ok(Signer::new(sign::backend(service, &context)?, app_id))
            }
        }
    }
}

/// The five key sources, in the order messages list them.
const SOURCES: [Field; 5] = [
    Field::PrivateKey,
    Field::AwsKmsKeyId,
    Field::GcpKmsKey,
    Field::AzureKeyVaultKey,
    Field::VaultTransitKey,
];

/// Exactly one key source: its field, or an error naming those given (or all of them).
fn one_source(given: &KeyGiven) -> Result<Field, ConfigError> {
    let set: Vec<Field> = SOURCES
        .iter()
        .copied()
        .filter(|f| match f {
            Field::PrivateKey => given.pem.is_some(),
            Field::AwsKmsKeyId => given.aws_kms_key_id.is_some(),
            Field::GcpKmsKey => given.gcp_kms_key.is_some(),
            Field::AzureKeyVaultKey => given.azure_key_vault_key.is_some(),
            _ => given.vault_transit_key.is_some(),
        })
        .collect();
    match set.as_slice() {
        [one] => Ok(*one),
        [] => Err(ConfigError::naming(
            Field::PrivateKey,
            "is required, or one of {}, {}, {} and {}: the app's PEM private key, or the key service that holds it",
            &SOURCES[1..],
        )),
        // The service's key is the subject: it is what made the PEM (or another) one too many.
        [rest @ .., last] => {
            let names = vec!["{}"; rest.len()].join(" and ");
            let verb = if rest.len() == 1 { "both" } else { "all" };
            Err(ConfigError::naming(
                *last,
                &format!("and {names} are {verb} set: give exactly one key source"),
                rest,
            ))
        }
    }
}

/// The settings of every service but `chosen`'s must be blank: `gcp-service-account`
/// without `gcp-kms-key` is a mistake, not something to ignore.
fn no_stray_settings(given: &KeyGiven, chosen: Field) -> Result<(), ConfigError> {
    let groups: [(Field, Vec<(Field, bool)>); 4] = [
        (
            Field::AwsKmsKeyId,
            vec![
                (Field::AwsRegion, given.aws_region.is_some()),
                (Field::AwsRoleToAssume, given.aws_role_to_assume.is_some()),
            ],
        ),
        (
            Field::GcpKmsKey,
            vec![
                (
                    Field::GcpWorkloadIdentityProvider,
                    given.gcp_workload_identity_provider.is_some(),
                ),
                (
                    Field::GcpServiceAccount,
                    given.gcp_service_account.is_some(),
                ),
            ],
        ),
        (
            Field::AzureKeyVaultKey,
            vec![
                (Field::AzureClientId, given.azure_client_id.is_some()),
                (Field::AzureTenantId, given.azure_tenant_id.is_some()),
                (
                    Field::AzureKeyVaultDomain,
                    given.azure_key_vault_domain.is_some(),
                ),
            ],
        ),
        (
            Field::VaultTransitKey,
            vec![
                (Field::VaultUrl, given.vault_url.is_some()),
                (
                    Field::VaultTransitMount,
                    given.vault_transit_mount.is_some(),
                ),
                (Field::VaultRole, given.vault_role.is_some()),
                (Field::VaultAuthPath, given.vault_auth_path.is_some()),
                (Field::VaultAudience, given.vault_audience.is_some()),
                (Field::VaultNamespace, given.vault_namespace.is_some()),
            ],
        ),
    ];
    for (key, settings) in groups {
        if key == chosen {
            continue;
        }
        if let Some((field, _)) = settings.iter().find(|(_, set)| *set) {
            return Err(ConfigError::naming(*field, "needs {}", &[key]));
        }
    }
    Ok(())
}

/// Every setting of every key source, and what the environment gives in place of the
/// `chosen` service's (its region, ids, address, namespace, credentials' path), at most
/// as long as [`super::max_len`] says: refused before anything else reads, uses or quotes it.
fn bounded_settings(given: &KeyGiven, chosen: Field) -> Result<(), ConfigError> {
    let inputs = [
        (Field::PrivateKey, &given.pem),
        (Field::AwsKmsKeyId, &given.aws_kms_key_id),
        (Field::AwsRegion, &given.aws_region),
        (Field::AwsRoleToAssume, &given.aws_role_to_assume),
        (Field::GcpKmsKey, &given.gcp_kms_key),
        (
            Field::GcpWorkloadIdentityProvider,
            &given.gcp_workload_identity_provider,
        ),
        (Field::GcpServiceAccount, &given.gcp_service_account),
        (Field::AzureKeyVaultKey, &given.azure_key_vault_key),
        (Field::AzureClientId, &given.azure_client_id),
        (Field::AzureTenantId, &given.azure_tenant_id),
        (Field::VaultTransitKey, &given.vault_transit_key),
        (Field::VaultUrl, &given.vault_url),
        (Field::VaultTransitMount, &given.vault_transit_mount),
        (Field::VaultRole, &given.vault_role),
        (Field::VaultAuthPath, &given.vault_auth_path),
        (Field::VaultAudience, &given.vault_audience),
        (Field::VaultNamespace, &given.vault_namespace),
    ];
    let environment: &[(&'static str, &Option<String>)] = match chosen {
        Field::AwsKmsKeyId => &[
            ("AWS_REGION", &given.aws.region),
            ("AWS_DEFAULT_REGION", &given.aws.default_region),
        ],
        Field::GcpKmsKey => &[(
            "GOOGLE_APPLICATION_CREDENTIALS",
            &given.gcp.application_credentials,
        )],
        Field::AzureKeyVaultKey => &[
            ("AZURE_CLIENT_ID", &given.azure.client_id),
            ("AZURE_TENANT_ID", &given.azure.tenant_id),
        ],
        Field::VaultTransitKey => &[
            ("VAULT_ADDR", &given.vault.addr),
            ("VAULT_NAMESPACE", &given.vault.namespace),
        ],
        _ => &[],
    };
    let environment = environment
        .iter()
        .map(|(name, value)| (Field::Environment(name), *value));
    for (field, value) in inputs.into_iter().chain(environment) {
        bounded(field, value.as_deref())?;
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
        Field::PrivateKey => {
            let pem = given.pem.as_deref().unwrap_or_default();
            let signer =
                jwt::signer(pem, app_id).map_err(|m| ConfigError::new(Field::PrivateKey, m))?;
            return Ok(Key::Pem(signer));
        }
        Field::AwsKmsKeyId => Service::Aws(check_aws(&given)?),
        Field::GcpKmsKey => Service::Gcp(check_gcp(&given)?),
        Field::AzureKeyVaultKey => Service::Azure(check_azure(&given)?),
        _ => Service::Vault(check_vault(&given)?),
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

/// What a KMS key id may look like: a key id, key ARN, alias or alias ARN.
fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 2048
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '_' | '-' | '.'))
}

/// `us-east-1`, `eu-central-2`, `cn-north-1`, `us-gov-west-1`.
fn valid_region(region: &str) -> bool {
    region.len() <= 32
        && region.split('-').count() >= 3
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && region.ends_with(|c: char| c.is_ascii_digit())
}

/// `arn:PARTITION:iam::ACCOUNT:role/NAME`.
fn valid_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if partition.starts_with("aws")
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && resource.starts_with("role/")
            && resource.len() > "role/".len())
}

/// An endpoint from the environment (`AWS_ENDPOINT_URL_KMS`, then `AWS_ENDPOINT_URL`), or AWS's.
fn endpoint(
    specific: (&'static str, &Option<String>),
    general: &Option<String>,
    service: &str,
    region: &str,
) -> Result<String, ConfigError> {
    let (name, raw) = match (specific.1, general) {
        (Some(url), _) => (specific.0, url),
        (None, Some(url)) => ("AWS_ENDPOINT_URL", url),
        (None, None) => return Ok(aws::default_endpoint(service, region)),
    };
    validate_url(raw).map_err(|m| ConfigError::new(Field::Environment(name), m))
}

/// An AWS KMS key: its region, endpoints and credentials.
fn check_aws(given: &KeyGiven) -> Result<KmsSettings, ConfigError> {
    let kms_key_id = given
        .aws_kms_key_id
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_string();
    if !valid_key_id(&kms_key_id) {
        return Err(ConfigError::new(
            Field::AwsKmsKeyId,
            "must be a key id, a key ARN, or an alias such as alias/github-app",
        ));
    }
    let aws = &given.aws;
    let region = given
        .aws_region
        .clone()
        .or_else(|| aws.region.clone())
        .or_else(|| aws.default_region.clone())
        .ok_or_else(|| {
            ConfigError::new(
                Field::AwsRegion,
                "is not set, and neither is AWS_REGION or AWS_DEFAULT_REGION: give the KMS key's region",
            )
        })?;
    if !valid_region(&region) {
        return Err(ConfigError::new(
            Field::AwsRegion,
            "must be an AWS region such as us-east-1",
        ));
    }
    let kms_endpoint = endpoint(
        ("AWS_ENDPOINT_URL_KMS", &aws.endpoint_url_kms),
        &aws.endpoint_url,
        "kms",
        &region,
    )?;
    let credentials = match &given.aws_role_to_assume {
        Some(role_arn) => {
            if !valid_role_arn(role_arn) {
                return Err(ConfigError::new(
                    Field::AwsRoleToAssume,
                    "must be a role ARN: arn:aws:iam::123456789012:role/NAME",
                ));
            }
            let oidc = oidc_request(&given.oidc, Field::AwsRoleToAssume)?;
            CredentialSource::WebIdentity {
                role_arn: role_arn.clone(),
                sts_endpoint: endpoint(
                    ("AWS_ENDPOINT_URL_STS", &aws.endpoint_url_sts),
                    &aws.endpoint_url,
                    "sts",
                    &region,
                )?,
                oidc,
                session_name: "app-token".into(),
            }
        }
        None => match &aws.credentials {
            Some(c) => CredentialSource::Environment(c.clone()),
            None => {
                return Err(ConfigError::naming(
                    Field::Environment("AWS_ACCESS_KEY_ID"),
                    "and AWS_SECRET_ACCESS_KEY are not set: sign in to AWS first \
                     (aws-actions/configure-aws-credentials), or set {}",
                    &[Field::AwsRoleToAssume],
                ))
            }
        },
    };
    Ok(KmsSettings {
        key_id: kms_key_id,
        region,
        endpoint: kms_endpoint,
        credentials,
    })
}

/// `projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V`: the labels in
/// place, every name non-empty and plain, the version a number.
fn valid_gcp_key_version(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    let labels = [
        "projects",
        "locations",
        "keyRings",
        "cryptoKeys",
        "cryptoKeyVersions",
    ];
    parts.len() == 10
        && parts.chunks(2).zip(labels).all(|(pair, label)| {
            pair[0] == label
                && !pair[1].is_empty()
                && pair[1]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
        && parts[9].bytes().all(|b| b.is_ascii_digit())
}

/// `projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER`.
fn valid_gcp_provider(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    matches!(parts.as_slice(), ["projects", number, "locations", "global", "workloadIdentityPools", pool, "providers", provider]
        if !number.is_empty()
            && number.bytes().all(|b| b.is_ascii_digit())
            && plain(pool)
            && plain(provider))
}

/// An email such as `signer@PROJECT.iam.gserviceaccount.com`.
fn valid_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            let ok = |s: &str, extra: &[char]| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
            };
            ok(local, &['-', '_', '.', '+']) && ok(domain, &['-', '.']) && domain.contains('.')
        }
        None => false,
    }
}

/// A Cloud KMS key version: its credentials (workload identity federation with the job's
/// OIDC token, or Application Default Credentials) and Google's endpoints.
fn check_gcp(given: &KeyGiven) -> Result<gcp::Settings, ConfigError> {
    let key_version = given.gcp_kms_key.as_deref().unwrap_or_default().trim();
    if !valid_gcp_key_version(key_version) {
        let message = if key_version.split('/').count() == 8 {
            "names a key, not a key version: add /cryptoKeyVersions/N (the version that holds the app's key)"
        } else {
            "must be a key version: projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V"
        };
        return Err(ConfigError::new(Field::GcpKmsKey, message));
    }
    let service_account = given
        .gcp_service_account
        .as_deref()
        .map(str::trim)
        .map(|email| {
            if valid_email(email) {
                Ok(email.to_string())
            } else {
                Err(ConfigError::new(
                    Field::GcpServiceAccount,
                    "must be a service account's email, such as signer@PROJECT.iam.gserviceaccount.com",
                ))
            }
        })
        .transpose()?;
    let env = &given.gcp;
    let defaults = gcp::Endpoints::default();
    let endpoint = |name, raw: &Option<String>, default: String| match raw {
        Some(url) => base_url(name, url),
        None => Ok(default),
    };
    let endpoints = gcp::Endpoints {
        sts: endpoint(
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_STS",
            &env.sts_override,
            defaults.sts,
        )?,
        iamcredentials: endpoint(
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS",
            &env.iamcredentials_override,
            defaults.iamcredentials,
        )?,
        cloudkms: endpoint(
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS",
            &env.cloudkms_override,
            defaults.cloudkms,
        )?,
    };
    let credentials = match &given.gcp_workload_identity_provider {
        Some(provider) => {
            let provider = provider.trim();
            if !valid_gcp_provider(provider) {
                return Err(ConfigError::new(
                    Field::GcpWorkloadIdentityProvider,
                    "must be a provider's full name: \
                     projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER",
                ));
            }
            gcp::Credentials::WorkloadIdentity {
                provider: provider.to_string(),
                service_account,
                oidc: oidc_request(&given.oidc, Field::GcpWorkloadIdentityProvider)?,
            }
        }
        None => match &env.application_credentials {
            Some(path) => {
                let adc = Field::Environment("GOOGLE_APPLICATION_CREDENTIALS");
                let text = match &env.application_credentials_text {
                    Some(Ok(text)) => text,
                    Some(Err(why)) => {
                        return Err(ConfigError::new(
                            adc,
                            format!(
                                "names a file that cannot be read ({why}): {}",
                                crate::excerpt::excerpt_name(path)
                            ),
                        ))
                    }
                    None => return Err(ConfigError::new(adc, "names a file that was not read")),
                };
                let host = |url: &str| {
                    url.split('?')
                        .next()
                        .and_then(|u| u.parse::<http::Uri>().ok())
                        .and_then(|u| u.host().map(str::to_ascii_lowercase))
                };
                let hosts = gcp::external::Hosts {
                    sts: env.sts_override.as_ref().and(host(&endpoints.sts)),
                    iamcredentials: env
                        .iamcredentials_override
                        .as_ref()
                        .and(host(&endpoints.iamcredentials)),
                    oidc: given.oidc.request_url.as_deref().and_then(host),
                };
                let account = gcp::external::parse(text, validate_url, &hosts)
                    .map_err(|m| ConfigError::new(adc, format!("names a file that {m}")))?;
                gcp::Credentials::ExternalAccount {
                    path: path.clone(),
                    account,
                    impersonation_url: service_account
                        .map(|email| gcp::impersonation_url(&endpoints.iamcredentials, &email)),
                }
            }
            None => {
                return Err(ConfigError::naming(
                    Field::GcpKmsKey,
                    "needs credentials: set {} (workload identity federation with the job's OIDC token), \
                     or GOOGLE_APPLICATION_CREDENTIALS (as google-github-actions/auth leaves it)",
                    &[Field::GcpWorkloadIdentityProvider],
                ))
            }
        },
    };
    Ok(gcp::Settings {
        key_version: key_version.to_string(),
        credentials,
        endpoints,
    })
}

/// A GUID, as Entra writes client and tenant ids.
fn valid_guid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A domain name (`vault.local.azurestack.external`), in lower case: two labels or more,
/// of letters, digits and `-`; a leading or trailing dot dropped.
fn valid_domain(raw: &str) -> Option<String> {
    let domain = raw.trim().trim_start_matches('.').trim_end_matches('.');
    let labels: Vec<&str> = domain.split('.').collect();
    let ok = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    ok.then(|| domain.to_ascii_lowercase())
}

/// A Key Vault key: its identifier (on a host in a Key Vault domain, or loopback), the
/// app registration, the authority and the credential.
fn check_azure(given: &KeyGiven) -> Result<azure::Settings, ConfigError> {
    const SHAPE: &str =
        "must be a key identifier: https://VAULT.vault.azure.net/keys/NAME or …/keys/NAME/VERSION";
    let raw = given.azure_key_vault_key.as_deref().unwrap_or_default();
    let key_id = validate_url(raw).map_err(|m| ConfigError::new(Field::AzureKeyVaultKey, m))?;
    let uri: http::Uri = key_id
        .parse()
        .map_err(|_| ConfigError::new(Field::AzureKeyVaultKey, SHAPE))?;
    let name_ok = |s: &str| {
        !s.is_empty() && s.len() <= 127 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let segments: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    let (name, version) = match segments.as_slice() {
        ["keys", name] if name_ok(name) => (name.to_string(), None),
        ["keys", name, version] if name_ok(name) && name_ok(version) => {
            (name.to_string(), Some(version.to_string()))
        }
        _ => return Err(ConfigError::new(Field::AzureKeyVaultKey, SHAPE)),
    };
    let vault_url = format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("https"),
        uri.authority().map(|a| a.as_str()).unwrap_or_default()
    );
    let named = given
        .azure_key_vault_domain
        .as_deref()
        .map(|raw| {
            valid_domain(raw).ok_or_else(|| {
                ConfigError::new(
                    Field::AzureKeyVaultDomain,
                    "must be a domain name such as vault.local.azurestack.external (a vault's host is NAME.DOMAIN)",
                )
            })
        })
        .transpose()?;
    let host = uri.host().unwrap_or_default();
    let domain = azure::vault_domain(host, named.as_deref()).ok_or_else(|| {
        let domains: Vec<String> = azure::KEY_VAULT_DOMAINS
            .iter()
            .map(|d| format!(".{d}"))
            .collect();
        ConfigError::naming(
            Field::AzureKeyVaultKey,
            &format!(
                "names the host {host}, which is in none of Key Vault's and Managed HSM's domains ({}): \
                 the vault's access token is sent nowhere else; for another Key Vault domain, name it in {{}}",
                domains.join(", ")
            ),
            &[Field::AzureKeyVaultDomain],
        )
    })?;
    let env = &given.azure;
    let client_id = given
        .azure_client_id
        .clone()
        .or_else(|| env.client_id.clone())
        .ok_or_else(|| {
            ConfigError::new(
                Field::AzureClientId,
                "is not set, and neither is AZURE_CLIENT_ID: give the app registration's (or managed identity's) client id",
            )
        })?;
    if !valid_guid(client_id.trim()) {
        return Err(ConfigError::new(
            Field::AzureClientId,
            "must be a client id, a GUID such as 00000000-0000-0000-0000-000000000000",
        ));
    }
    let tenant_id = given
        .azure_tenant_id
        .clone()
        .or_else(|| env.tenant_id.clone())
        .ok_or_else(|| {
            ConfigError::new(
                Field::AzureTenantId,
                "is not set, and neither is AZURE_TENANT_ID: give the directory (tenant) id",
            )
        })?;
    let tenant_ok = !tenant_id.trim().is_empty()
        && tenant_id
            .trim()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'));
    if !tenant_ok {
        return Err(ConfigError::new(
            Field::AzureTenantId,
            "must be a tenant id (a GUID) or a tenant's domain name",
        ));
    }
    let authority = match &env.authority_host {
        Some(url) => base_url("AZURE_AUTHORITY_HOST", url)?,
        None => azure::DEFAULT_AUTHORITY.to_string(),
    };
    let credential = match &env.client_secret {
        Some(secret) => azure::Credential::ClientSecret(secret.clone()),
        None => azure::Credential::Oidc(oidc_request(&given.oidc, Field::AzureKeyVaultKey)?),
    };
    Ok(azure::Settings {
        key_id,
        vault_url,
        domain,
        name,
        version,
        client_id: client_id.trim().to_string(),
        tenant_id: tenant_id.trim().to_string(),
        authority,
        credential,
    })
}

/// A Vault path (a mount, an auth path, a namespace): plain segments, no `..`.
fn vault_path(field: Field, raw: &str) -> Result<String, ConfigError> {
    let path = raw.trim().trim_matches('/');
    let ok = !path.is_empty()
        && path.split('/').all(|seg| {
            !seg.is_empty()
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
    if ok {
        Ok(path.to_string())
    } else {
        Err(ConfigError::new(
            field,
            "must be a Vault path: names of letters, digits, `-`, `_` and `.`, separated by `/`",
        ))
    }
}

/// A Vault transit key: Vault's address, the mount, the namespace and the token's source.
fn check_vault(given: &KeyGiven) -> Result<vault::Settings, ConfigError> {
    let key = given
        .vault_transit_key
        .as_deref()
        .unwrap_or_default()
        .trim();
    let key_ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && key != ".."
        && key != ".";
    if !key_ok {
        return Err(ConfigError::new(
            Field::VaultTransitKey,
            "must be a transit key's name: letters, digits, `-`, `_` and `.`",
        ));
    }
    let env = &given.vault;
    let url = match (&given.vault_url, &env.addr) {
        (Some(url), _) => validate_url(url).map_err(|m| ConfigError::new(Field::VaultUrl, m))?,
        (None, Some(addr)) => {
            validate_url(addr).map_err(|m| ConfigError::new(Field::Environment("VAULT_ADDR"), m))?
        }
        (None, None) => {
            return Err(ConfigError::new(
                Field::VaultUrl,
                "is not set, and neither is VAULT_ADDR: give Vault's address",
            ))
        }
    };
    let mount = vault_path(
        Field::VaultTransitMount,
        given.vault_transit_mount.as_deref().unwrap_or("transit"),
    )?;
    let namespace = match (&given.vault_namespace, &env.namespace) {
        (Some(ns), _) => Some(vault_path(Field::VaultNamespace, ns)?),
        (None, Some(ns)) => Some(vault_path(Field::Environment("VAULT_NAMESPACE"), ns)?),
        (None, None) => None,
    };
    let auth = match &given.vault_role {
        Some(role) => {
            let role = role.trim();
            if !role
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
            {
                return Err(ConfigError::new(
                    Field::VaultRole,
                    "must be a JWT auth role's name",
                ));
            }
            vault::Auth::Jwt {
                role: role.to_string(),
                path: vault_path(
                    Field::VaultAuthPath,
                    given.vault_auth_path.as_deref().unwrap_or("jwt"),
                )?,
                audience: given
                    .vault_audience
                    .as_deref()
                    .map(|a| a.trim().to_string()),
                oidc: oidc_request(&given.oidc, Field::VaultRole)?,
            }
        }
        None => {
            if given.vault_auth_path.is_some() {
                return Err(ConfigError::naming(
                    Field::VaultAuthPath,
                    "needs {}",
                    &[Field::VaultRole],
                ));
            }
            if given.vault_audience.is_some() {
                return Err(ConfigError::naming(
                    Field::VaultAudience,
                    "needs {}",
                    &[Field::VaultRole],
                ));
            }
            match &env.token {
                Some(token) => vault::Auth::Token(token.clone()),
                None => {
                    return Err(ConfigError::naming(
                        Field::VaultTransitKey,
                        "needs a Vault token: set {} (JWT auth with the job's OIDC token), \
                         or VAULT_TOKEN (as hashicorp/vault-action leaves it)",
                        &[Field::VaultRole],
                    ))
                }
            }
        }
    };
    Ok(vault::Settings {
        url,
        mount,
        key: key.to_string(),
        namespace,
        auth,
    })
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
mod tests {
    use super::*;
    use crate::sign::aws::Credentials;
    use crate::sign::Secret;

    const KEY: &str = include_str!("../../tests/fixtures/test-key-pkcs1.pem");

    fn kms(f: impl FnOnce(&mut KeyGiven)) -> Result<KmsSettings, ConfigError> {
        let mut given = KeyGiven {
            aws_kms_key_id: Some("alias/github-app".into()),
            aws: AwsEnv {
                region: Some("eu-west-1".into()),
                credentials: Some(Credentials::new("AKID", "secret", None)),
                ..AwsEnv::default()
            },
            ..KeyGiven::default()
        };
        f(&mut given);
        match check("1", given)? {
            Key::Service(Service::Aws(settings)) => Ok(settings),
            _ => panic!("another signer from KMS settings"),
        }
    }

    fn fault(f: impl FnOnce(&mut KeyGiven)) -> (Field, Vec<Field>) {
        let e = kms(f).expect_err("an error");
        (e.field, e.refs)
    }

    #[test]
    fn a_pem_or_a_kms_key_but_not_both_and_not_neither() {
        let both = fault(|g| g.pem = Some(KEY.into()));
        assert_eq!(both, (Field::AwsKmsKeyId, vec![Field::PrivateKey]));
        let neither = fault(|g| g.aws_kms_key_id = None);
        assert_eq!(neither, (Field::PrivateKey, SOURCES[1..].to_vec()));
        let pem = check(
            "1",
            KeyGiven {
                pem: Some(KEY.into()),
                ..KeyGiven::default()
            },
        );
        assert!(matches!(pem, Ok(Key::Pem(_))));
        let e = check(
            "1",
            KeyGiven {
                pem: Some(
                    "-----BEGIN RSA PRIVATE KEY-----\nMIIsecretline\n-----END RSA PRIVATE KEY-----"
                        .into(),
                ),
                ..KeyGiven::default()
            },
        )
        .err()
        .unwrap();
        assert_eq!(e.field, Field::PrivateKey);
        assert!(!e.message.contains("MIIsecretline"));
    }

    #[test]
    fn every_setting_is_bounded_and_so_is_the_environment_in_its_place() {
        let long = |n: usize| "a".repeat(n);
        let s = kms(|g| g.aws_kms_key_id = Some(format!("alias/{}", long(2042)))).unwrap();
        assert_eq!(s.key_id.len(), 2048, "AWS takes 2048 bytes");
        let e = kms(|g| g.aws_kms_key_id = Some(long(2049))).unwrap_err();
        assert_eq!(e.field, Field::AwsKmsKeyId);
        assert_eq!(e.message, "is 2049 bytes long; at most 2048 bytes are read");
        let e = kms(|g| g.vault_audience = Some(long(20_000))).unwrap_err();
        assert_eq!(
            (e.field, e.message.as_str()),
            (
                Field::VaultAudience,
                "is 20000 bytes long; at most 1024 bytes are read"
            )
        );
        let e = kms(|g| g.aws.region = Some(long(1025))).unwrap_err();
        assert_eq!(e.field, Field::Environment("AWS_REGION"));
        // Another service's variables are not this step's business.
        assert!(kms(|g| g.azure.tenant_id = Some(long(5000))).is_ok());
        let pem = KeyGiven {
            pem: Some(long(64 * 1024 + 1)),
            ..KeyGiven::default()
        };
        let e = check("1", pem).err().expect("refused");
        assert_eq!(e.field, Field::PrivateKey);
        assert!(!e.message.contains("aaa"), "{}", e.message);
    }

    #[test]
    fn the_region_comes_from_the_input_then_the_environment() {
        assert_eq!(kms(|_| {}).unwrap().region, "eu-west-1");
        let s = kms(|g| g.aws_region = Some("us-east-2".into())).unwrap();
        assert_eq!(
            (s.region.as_str(), s.endpoint.as_str()),
            ("us-east-2", "https://kms.us-east-2.amazonaws.com")
        );
        let s = kms(|g| {
            g.aws.region = None;
            g.aws.default_region = Some("ap-south-1".into());
        })
        .unwrap();
        assert_eq!(s.region, "ap-south-1");
        assert_eq!(fault(|g| g.aws.region = None).0, Field::AwsRegion);
        assert_eq!(
            fault(|g| g.aws_region = Some("Mars".into())).0,
            Field::AwsRegion
        );
    }

    #[test]
    fn endpoints_from_the_environment_must_be_https_or_loopback() {
        let s = kms(|g| g.aws.endpoint_url = Some("http://127.0.0.1:5000/".into())).unwrap();
        assert_eq!(s.endpoint, "http://127.0.0.1:5000");
        let s = kms(|g| {
            g.aws.endpoint_url = Some("http://127.0.0.1:5000".into());
            g.aws.endpoint_url_kms = Some("https://kms.internal.example".into());
        })
        .unwrap();
        assert_eq!(s.endpoint, "https://kms.internal.example");
        let f = fault(|g| g.aws.endpoint_url_kms = Some("http://kms.example.com".into()));
        assert_eq!(f.0, Field::Environment("AWS_ENDPOINT_URL_KMS"));
    }

    #[test]
    fn credentials_come_from_the_environment_or_a_role() {
        let s = kms(|_| {}).unwrap();
        assert!(matches!(s.credentials, CredentialSource::Environment(_)));
        let f = fault(|g| g.aws.credentials = None);
        assert_eq!(
            f,
            (
                Field::Environment("AWS_ACCESS_KEY_ID"),
                vec![Field::AwsRoleToAssume]
            )
        );
        let role = "arn:aws:iam::123456789012:role/github-app-signer";
        let f = fault(|g| g.aws_role_to_assume = Some(role.into()));
        assert_eq!(
            f.0,
            Field::AwsRoleToAssume,
            "no OIDC token to assume it with"
        );
        let s = kms(|g| {
            g.aws.credentials = None;
            g.aws_role_to_assume = Some(role.into());
            g.oidc.request_url = Some("https://token.actions.example/x?api-version=2.0".into());
            g.oidc.request_token = Some(Secret::new("req"));
        })
        .unwrap();
        match s.credentials {
            CredentialSource::WebIdentity {
                sts_endpoint, oidc, ..
            } => {
                assert_eq!(sts_endpoint, "https://sts.eu-west-1.amazonaws.com");
                assert_eq!(oidc.url, "https://token.actions.example/x?api-version=2.0");
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            "arn:aws:iam::123:role/x",
            "arn:aws:s3:::bucket",
            "role/x",
            "arn:aws:iam::123456789012:user/x",
        ] {
            assert_eq!(
                fault(|g| g.aws_role_to_assume = Some(bad.into())).0,
                Field::AwsRoleToAssume,
                "{bad}"
            );
        }
    }

    #[test]
    fn key_ids_take_every_form_kms_does() {
        for id in [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "alias/github-app",
            "arn:aws:kms:us-east-2:111122223333:alias/github-app",
        ] {
            assert_eq!(
                kms(|g| g.aws_kms_key_id = Some(id.into())).unwrap().key_id,
                id
            );
        }
        assert_eq!(
            fault(|g| g.aws_kms_key_id = Some("alias/x y".into())).0,
            Field::AwsKmsKeyId
        );
    }

    const KEY_VERSION: &str =
        "projects/p/locations/global/keyRings/r/cryptoKeys/app/cryptoKeyVersions/1";
    const PROVIDER: &str =
        "projects/123456789/locations/global/workloadIdentityPools/github/providers/acme";

    fn oidc() -> OidcEnv {
        OidcEnv {
            request_url: Some("https://token.actions.example/x?api-version=2.0".into()),
            request_token: Some(Secret::new("req")),
        }
    }

    fn with(f: impl FnOnce(&mut KeyGiven)) -> Result<Service, ConfigError> {
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

    fn at_fault(f: impl FnOnce(&mut KeyGiven)) -> (Field, Vec<Field>) {
        let e = with(f).expect_err("an error");
        (e.field, e.refs)
    }

    #[test]
    fn exactly_one_key_source_and_every_extra_one_is_named() {
        let two = at_fault(|g| {
            g.gcp_kms_key = Some(KEY_VERSION.into());
            g.vault_transit_key = Some("app".into());
        });
        assert_eq!(two, (Field::VaultTransitKey, vec![Field::GcpKmsKey]));
        let e = with(|g| {
            g.pem = Some(KEY.into());
            g.azure_key_vault_key = Some("https://v.vault.azure.net/keys/app".into());
            g.vault_transit_key = Some("app".into());
        })
        .err()
        .unwrap();
        assert_eq!(e.field, Field::VaultTransitKey);
        assert_eq!(e.refs, vec![Field::PrivateKey, Field::AzureKeyVaultKey]);
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
                |g| g.gcp_workload_identity_provider = Some(PROVIDER.into()),
                Field::GcpWorkloadIdentityProvider,
                Field::GcpKmsKey,
            ),
            (
                |g| g.gcp_service_account = Some("a@b.iam.gserviceaccount.com".into()),
                Field::GcpServiceAccount,
                Field::GcpKmsKey,
            ),
            (
                |g| g.azure_tenant_id = Some("contoso.onmicrosoft.com".into()),
                Field::AzureTenantId,
                Field::AzureKeyVaultKey,
            ),
            (
                |g| g.vault_role = Some("app".into()),
                Field::VaultRole,
                Field::VaultTransitKey,
            ),
            (
                |g| g.aws_region = Some("eu-west-1".into()),
                Field::AwsRegion,
                Field::AwsKmsKeyId,
            ),
        ];
        for (set, field, key) in cases {
            let fault = at_fault(|g| {
                g.pem = Some(KEY.into());
                set(g);
            });
            assert_eq!(fault, (field, vec![key]));
        }
        // Another service's settings alongside a service's key are refused too.
        let fault = at_fault(|g| {
            g.vault_transit_key = Some("app".into());
            g.vault.token = Some(Secret::new("t"));
            g.vault.addr = Some("https://vault.example".into());
            g.gcp_service_account = Some("a@b.iam.gserviceaccount.com".into());
        });
        assert_eq!(fault, (Field::GcpServiceAccount, vec![Field::GcpKmsKey]));
    }

    fn gcp(f: impl FnOnce(&mut KeyGiven)) -> Result<gcp::Settings, ConfigError> {
        match with(|g| {
            g.gcp_kms_key = Some(KEY_VERSION.into());
            g.gcp_workload_identity_provider = Some(PROVIDER.into());
            f(g);
        })? {
            Service::Gcp(settings) => Ok(settings),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn gcp_key_versions_providers_and_accounts_are_checked() {
        let s = gcp(|_| {}).unwrap();
        assert_eq!(s.key_version, KEY_VERSION);
        assert_eq!(s.endpoints, gcp::Endpoints::default());
        assert!(matches!(
            s.credentials,
            gcp::Credentials::WorkloadIdentity {
                service_account: None,
                ..
            }
        ));
        let key_without_version = "projects/p/locations/global/keyRings/r/cryptoKeys/app";
        let e = gcp(|g| g.gcp_kms_key = Some(key_without_version.into()))
            .err()
            .unwrap();
        assert_eq!(e.field, Field::GcpKmsKey);
        assert!(e.message.contains("not a key version"), "{}", e.message);
        for bad in [
            "projects/p/locations/global/keyRings/r/cryptoKeys/app/cryptoKeyVersions/latest",
            "projects//locations/global/keyRings/r/cryptoKeys/app/cryptoKeyVersions/1",
            "projects/p/locations/global/keyrings/r/cryptoKeys/app/cryptoKeyVersions/1",
        ] {
            assert_eq!(
                gcp(|g| g.gcp_kms_key = Some(bad.into()))
                    .err()
                    .unwrap()
                    .field,
                Field::GcpKmsKey,
                "{bad}"
            );
        }
        for bad in [
            "projects/my-project/locations/global/workloadIdentityPools/github/providers/acme",
            "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/a",
            "projects/1/locations/europe-west1/workloadIdentityPools/p/providers/a",
        ] {
            let e = gcp(|g| g.gcp_workload_identity_provider = Some(bad.into()))
                .err()
                .unwrap();
            assert_eq!(e.field, Field::GcpWorkloadIdentityProvider, "{bad}");
        }
        let e = gcp(|g| g.gcp_service_account = Some("not an email".into()))
            .err()
            .unwrap();
        assert_eq!(e.field, Field::GcpServiceAccount);
        let s = gcp(|g| g.gcp_service_account = Some("signer@p.iam.gserviceaccount.com".into()))
            .unwrap();
        assert!(matches!(
            s.credentials,
            gcp::Credentials::WorkloadIdentity { service_account: Some(ref a), .. } if a == "signer@p.iam.gserviceaccount.com"
        ));
        // Workload identity needs the job's OIDC token.
        let e = gcp(|g| g.oidc = OidcEnv::default()).err().unwrap();
        assert_eq!(e.field, Field::GcpWorkloadIdentityProvider);
        assert!(e.message.contains("id-token: write"), "{}", e.message);
    }

    #[test]
    fn gcp_credentials_fall_back_on_application_default_credentials() {
        let e = gcp(|g| g.gcp_workload_identity_provider = None)
            .err()
            .unwrap();
        assert_eq!(
            (e.field, e.refs),
            (Field::GcpKmsKey, vec![Field::GcpWorkloadIdentityProvider])
        );
        assert!(e.message.contains("GOOGLE_APPLICATION_CREDENTIALS"));
        let file = r#"{"type":"external_account","audience":"//iam.googleapis.com/x","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","token_url":"https://sts.googleapis.com/v1/token","credential_source":{"file":"/tmp/t"}}"#;
        let adc = |g: &mut KeyGiven, text: Result<&str, &str>| {
            g.gcp_workload_identity_provider = None;
            g.gcp.application_credentials = Some("/tmp/gha-creds.json".into());
            g.gcp.application_credentials_text =
                Some(text.map(str::to_string).map_err(str::to_string));
        };
        let s = gcp(|g| adc(g, Ok(file))).unwrap();
        assert!(matches!(
            s.credentials,
            gcp::Credentials::ExternalAccount {
                impersonation_url: None,
                ..
            }
        ));
        let s = gcp(|g| {
            adc(g, Ok(file));
            g.gcp_service_account = Some("s@p.iam.gserviceaccount.com".into());
        })
        .unwrap();
        assert!(matches!(
            s.credentials,
            gcp::Credentials::ExternalAccount { impersonation_url: Some(ref u), .. }
                if u == "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/s@p.iam.gserviceaccount.com:generateAccessToken"
        ));
        let adc_field = Field::Environment("GOOGLE_APPLICATION_CREDENTIALS");
        let e = gcp(|g| adc(g, Err("entity not found"))).err().unwrap();
        assert_eq!(e.field, adc_field);
        assert!(e.message.contains("entity not found"), "{}", e.message);
        let e = gcp(|g| adc(g, Ok(r#"{"type":"authorized_user"}"#)))
            .err()
            .unwrap();
        assert_eq!(e.field, adc_field);
        assert!(e.message.contains("`authorized_user`"), "{}", e.message);
    }

    #[test]
    fn gcp_endpoint_overrides_are_base_urls_https_or_loopback() {
        let s = gcp(|g| {
            g.gcp.sts_override = Some("http://127.0.0.1:8080".into());
            g.gcp.cloudkms_override = Some("https://kms.private.example/".into());
        })
        .unwrap();
        assert_eq!(s.endpoints.sts, "http://127.0.0.1:8080/");
        assert_eq!(s.endpoints.cloudkms, "https://kms.private.example/");
        assert_eq!(
            s.endpoints.iamcredentials,
            "https://iamcredentials.googleapis.com/"
        );
        let e = gcp(|g| g.gcp.iamcredentials_override = Some("http://iam.example.com".into()))
            .err()
            .unwrap();
        assert_eq!(
            e.field,
            Field::Environment("CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS")
        );
    }

    const CLIENT: &str = "00000000-1111-2222-3333-444444444444";

    fn azure(f: impl FnOnce(&mut KeyGiven)) -> Result<azure::Settings, ConfigError> {
        match with(|g| {
            g.azure_key_vault_key = Some("https://acme.vault.azure.net/keys/github-app".into());
            g.azure.client_id = Some(CLIENT.into());
            g.azure.tenant_id = Some("contoso.onmicrosoft.com".into());
            f(g);
        })? {
            Service::Azure(settings) => Ok(settings),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn azure_key_ids_ids_and_credentials_are_checked() {
        let s = azure(|_| {}).unwrap();
        assert_eq!(
            (s.vault_url.as_str(), s.name.as_str(), s.version.as_deref()),
            ("https://acme.vault.azure.net", "github-app", None)
        );
        assert_eq!(s.authority, azure::DEFAULT_AUTHORITY);
        assert!(matches!(s.credential, azure::Credential::Oidc(_)));
        let s = azure(|g| {
            g.azure_key_vault_key =
                Some("http://127.0.0.1:9/keys/app/0123456789abcdef0123456789abcdef".into());
            g.azure_client_id = Some("99999999-1111-2222-3333-444444444444".into());
            g.azure.authority_host = Some("http://127.0.0.1:7".into());
            g.azure.client_secret = Some(Secret::new("s"));
        })
        .unwrap();
        assert_eq!(
            s.version.as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(s.client_id, "99999999-1111-2222-3333-444444444444");
        assert_eq!(s.authority, "http://127.0.0.1:7/");
        assert!(matches!(s.credential, azure::Credential::ClientSecret(_)));
        for bad in [
            "http://acme.vault.azure.net/keys/app",
            "https://acme.vault.azure.net/secrets/app",
            "https://acme.vault.azure.net/keys/app/v/extra",
            "https://acme.vault.azure.net/keys/app?x=1",
        ] {
            let e = azure(|g| g.azure_key_vault_key = Some(bad.into()))
                .err()
                .unwrap();
            assert_eq!(e.field, Field::AzureKeyVaultKey, "{bad}");
        }
        assert_eq!(
            azure(|g| g.azure.client_id = None).err().unwrap().field,
            Field::AzureClientId
        );
        assert_eq!(
            azure(|g| g.azure_client_id = Some("app".into()))
                .err()
                .unwrap()
                .field,
            Field::AzureClientId
        );
        assert_eq!(
            azure(|g| g.azure.tenant_id = None).err().unwrap().field,
            Field::AzureTenantId
        );
        assert_eq!(
            azure(|g| g.azure.authority_host = Some("http://login.example.com".into()))
                .err()
                .unwrap()
                .field,
            Field::Environment("AZURE_AUTHORITY_HOST")
        );
        assert_eq!(
            azure(|g| g.oidc = OidcEnv::default()).err().unwrap().field,
            Field::AzureKeyVaultKey
        );
    }

    #[test]
    fn a_key_vault_key_is_on_a_key_vault_host_or_in_the_domain_named() {
        let s = azure(|_| {}).unwrap();
        assert_eq!(s.domain, "vault.azure.net");
        let s = azure(|g| {
            g.azure_key_vault_key = Some("https://acme.managedhsm.azure.cn/keys/app".into())
        })
        .unwrap();
        assert_eq!(s.domain, "managedhsm.azure.cn");
        // Any other host is refused before any request, naming the input, the host, the
        // domains, and the input that would name another.
        for host in ["attacker.example", "acme.vault.azure.net.attacker.example"] {
            let e = azure(|g| g.azure_key_vault_key = Some(format!("https://{host}/keys/app")))
                .err()
                .unwrap();
            assert_eq!(
                (e.field, e.refs.as_slice()),
                (Field::AzureKeyVaultKey, &[Field::AzureKeyVaultDomain][..])
            );
            assert!(
                e.message.contains(&format!("names the host {host},")),
                "{}",
                e.message
            );
            for domain in azure::KEY_VAULT_DOMAINS {
                assert!(e.message.contains(&format!(".{domain}")), "{}", e.message);
            }
        }
        // The domain named: accepted, and the token's resource; Azure's still are.
        let stack = "https://acme.vault.local.azurestack.external/keys/app";
        let s = azure(|g| {
            g.azure_key_vault_key = Some(stack.into());
            g.azure_key_vault_domain = Some(" .Vault.Local.AzureStack.External. ".into());
        })
        .unwrap();
        assert_eq!(s.domain, "vault.local.azurestack.external");
        let s =
            azure(|g| g.azure_key_vault_domain = Some("vault.local.azurestack.external".into()))
                .unwrap();
        assert_eq!(s.domain, "vault.azure.net");
        for bad in [
            "com",
            "vault..example",
            "https://vault.example",
            "-x.example",
        ] {
            let e = azure(|g| g.azure_key_vault_domain = Some(bad.into()))
                .err()
                .unwrap();
            assert_eq!(e.field, Field::AzureKeyVaultDomain, "{bad}");
        }
        // Named without a Key Vault key: a mistake, said.
        let e = with(|g| {
            g.pem = Some(KEY.into());
            g.azure_key_vault_domain = Some("vault.example".into());
        })
        .err()
        .unwrap();
        assert_eq!(
            (e.field, e.refs),
            (Field::AzureKeyVaultDomain, vec![Field::AzureKeyVaultKey])
        );
    }

    #[test]
    fn googles_credentials_file_is_read_only_for_a_cloud_kms_key_that_needs_it() {
        let path = Some("/nonexistent/gha-creds.json".to_string());
        let read = |f: fn(&mut KeyGiven)| {
            let mut given = KeyGiven::default();
            given.gcp.application_credentials = path.clone();
            f(&mut given);
            given.read_files().gcp.application_credentials_text
        };
        // Another key source, or workload identity: the file is not opened.
        assert_eq!(read(|g| g.pem = Some(KEY.into())), None);
        assert_eq!(read(|g| g.vault_transit_key = Some("app".into())), None);
        assert_eq!(
            read(|g| {
                g.gcp_kms_key = Some(KEY_VERSION.into());
                g.pem = Some(KEY.into());
            }),
            None
        );
        assert_eq!(
            read(|g| {
                g.gcp_kms_key = Some(KEY_VERSION.into());
                g.gcp_workload_identity_provider = Some(PROVIDER.into());
            }),
            None
        );
        // Cloud KMS with Application Default Credentials: read (here, not found).
        assert!(matches!(
            read(|g| g.gcp_kms_key = Some(KEY_VERSION.into())),
            Some(Err(_))
        ));
    }

    #[test]
    fn a_credentials_files_urls_name_googles_hosts_the_overrides_or_the_runners() {
        let file = |token_url: &str, source: &str| {
            format!(
                r#"{{"type":"external_account","audience":"//iam.googleapis.com/x","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","token_url":"{token_url}","credential_source":{{"url":"{source}?api-version=2.0","headers":{{"Authorization":"Bearer r"}}}}}}"#
            )
        };
        let adc = |g: &mut KeyGiven, text: String| {
            g.gcp_workload_identity_provider = None;
            g.gcp.application_credentials = Some("/tmp/gha-creds.json".into());
            g.gcp.application_credentials_text = Some(Ok(text));
        };
        // The runner's OIDC host (token.actions.example, from oidc()) and Google's STS.
        let written = file(
            "https://sts.googleapis.com/v1/token",
            "https://token.actions.example/x",
        );
        assert!(gcp(|g| adc(g, written.clone())).is_ok());
        let adc_field = Field::Environment("GOOGLE_APPLICATION_CREDENTIALS");
        for (token_url, source, named) in [
            (
                "https://attacker.example/v1/token",
                "https://token.actions.example/x",
                "`token_url` that names the host attacker.example",
            ),
            (
                "https://sts.googleapis.com/v1/token",
                "https://attacker.example/x",
                "`credential_source.url` that names the host attacker.example",
            ),
        ] {
            let e = gcp(|g| adc(g, file(token_url, source))).err().unwrap();
            assert_eq!(e.field, adc_field);
            assert!(e.message.contains(named), "{}", e.message);
        }
        // An override's host is accepted for its own field.
        let private = file(
            "https://sts.private.example/v1/token",
            "https://token.actions.example/x",
        );
        assert!(gcp(|g| adc(g, private.clone())).is_err());
        assert!(gcp(|g| {
            adc(g, private.clone());
            g.gcp.sts_override = Some("https://sts.private.example/".into());
        })
        .is_ok());
    }

    fn vault(f: impl FnOnce(&mut KeyGiven)) -> Result<vault::Settings, ConfigError> {
        match with(|g| {
            g.vault_transit_key = Some("github-app".into());
            g.vault.addr = Some("https://vault.example:8200/".into());
            g.vault.token = Some(Secret::new("hvs.x"));
            f(g);
        })? {
            Service::Vault(settings) => Ok(settings),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn vault_addresses_paths_and_tokens_are_checked() {
        let s = vault(|_| {}).unwrap();
        assert_eq!(
            (s.url.as_str(), s.mount.as_str(), s.namespace.as_deref()),
            ("https://vault.example:8200", "transit", None)
        );
        assert!(matches!(s.auth, vault::Auth::Token(_)));
        let s = vault(|g| {
            g.vault_url = Some("http://127.0.0.1:8200".into());
            g.vault_transit_mount = Some("/keys/transit/".into());
            g.vault_role = Some("github-app".into());
            g.vault.namespace = Some("admin/team".into());
        })
        .unwrap();
        assert_eq!(s.url, "http://127.0.0.1:8200");
        assert_eq!(s.mount, "keys/transit");
        assert_eq!(s.namespace.as_deref(), Some("admin/team"));
        assert!(
            matches!(s.auth, vault::Auth::Jwt { ref path, audience: None, .. } if path == "jwt")
        );
        assert_eq!(
            vault(|g| g.vault_transit_key = Some("a/b".into()))
                .err()
                .unwrap()
                .field,
            Field::VaultTransitKey
        );
        assert_eq!(
            vault(|g| g.vault.addr = None).err().unwrap().field,
            Field::VaultUrl
        );
        assert_eq!(
            vault(|g| g.vault.addr = Some("http://vault.example".into()))
                .err()
                .unwrap()
                .field,
            Field::Environment("VAULT_ADDR")
        );
        assert_eq!(
            vault(|g| g.vault_transit_mount = Some("../sys".into()))
                .err()
                .unwrap()
                .field,
            Field::VaultTransitMount
        );
        let e = vault(|g| g.vault.token = None).err().unwrap();
        assert_eq!(
            (e.field, e.refs),
            (Field::VaultTransitKey, vec![Field::VaultRole])
        );
        let e = vault(|g| g.vault_audience = Some("x".into()))
            .err()
            .unwrap();
        assert_eq!(
            (e.field, e.refs),
            (Field::VaultAudience, vec![Field::VaultRole])
        );
        assert_eq!(
            vault(|g| {
                g.vault_role = Some("r".into());
                g.oidc = OidcEnv::default();
            })
            .err()
            .unwrap()
            .field,
            Field::VaultRole
        );
    }
}
