//! Which key signs the app's JWT: a PEM, or a key in AWS KMS with its region, endpoint and credentials, checked before any request.

use std::time::Duration;

use super::{validate_url, ConfigError, Field};
use crate::aws::{self, AwsEnv, CredentialSource, KmsKey, KmsSettings, SecretSink};
use crate::jwt::{self, Signer};
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

/// What a front end was given for the key.
#[derive(Debug, Clone, Default)]
pub struct KeyGiven {
    /// The PEM text (or its base64).
    pub pem: Option<String>,
    pub aws_kms_key_id: Option<String>,
    pub aws_region: Option<String>,
    pub aws_role_to_assume: Option<String>,
    pub aws: AwsEnv,
}

/// The app's key, checked.
pub enum Key {
    /// A PEM, parsed, with its first JWT signed.
    Pem(Signer),
    /// A KMS key: the first signature is a round trip, made with the first request.
    Kms(KmsSettings),
}

impl Key {
    /// The signer for app JWTs. A KMS key's client is made here (its proxies and
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
            Key::Kms(settings) => Ok(Signer::new(
                Box::new(KmsKey::new(settings, proxy, connect_timeout, on_secret)?),
                app_id,
            )),
        }
    }
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

/// Checks the key: exactly one of a PEM and a KMS key; for KMS, its region, endpoints
/// and credentials.
pub fn check(app_id: &str, given: KeyGiven) -> Result<Key, ConfigError> {
    let kms_key_id = match (&given.pem, &given.aws_kms_key_id) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::naming(
                Field::AwsKmsKeyId,
                "and {} are both set: the key is either in KMS or given here, not both",
                &[Field::PrivateKey],
            ))
        }
        (None, None) => {
            return Err(ConfigError::naming(
                Field::PrivateKey,
                "is required, or {}: the app's PEM private key, or the KMS key that holds it",
                &[Field::AwsKmsKeyId],
            ))
        }
        (Some(pem), None) => {
            let signer =
                jwt::signer(pem, app_id).map_err(|m| ConfigError::new(Field::PrivateKey, m))?;
            return Ok(Key::Pem(signer));
        }
        (None, Some(id)) => id.trim().to_string(),
    };
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
            let (Some(url), Some(token)) = (&aws.id_token_request_url, &aws.id_token_request_token)
            else {
                return Err(ConfigError::new(
                    Field::AwsRoleToAssume,
                    "needs the job's OIDC token, and ACTIONS_ID_TOKEN_REQUEST_URL or its token is not set: \
                     give the job `permissions: id-token: write`",
                ));
            };
            let request_url = validate_url_with_query(url).map_err(|m| {
                ConfigError::new(Field::Environment("ACTIONS_ID_TOKEN_REQUEST_URL"), m)
            })?;
            CredentialSource::WebIdentity {
                role_arn: role_arn.clone(),
                sts_endpoint: endpoint(
                    ("AWS_ENDPOINT_URL_STS", &aws.endpoint_url_sts),
                    &aws.endpoint_url,
                    "sts",
                    &region,
                )?,
                request_url,
                request_token: token.clone(),
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
    Ok(Key::Kms(KmsSettings {
        key_id: kms_key_id,
        region,
        endpoint: kms_endpoint,
        credentials,
    }))
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
    use crate::aws::{Credentials, Secret};

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
            Key::Kms(settings) => Ok(settings),
            Key::Pem(_) => panic!("a PEM signer from KMS settings"),
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
        assert_eq!(neither, (Field::PrivateKey, vec![Field::AwsKmsKeyId]));
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
            g.aws.id_token_request_url =
                Some("https://token.actions.example/x?api-version=2.0".into());
            g.aws.id_token_request_token = Some(Secret::new("req"));
        })
        .unwrap();
        match s.credentials {
            CredentialSource::WebIdentity {
                sts_endpoint,
                request_url,
                ..
            } => {
                assert_eq!(sts_endpoint, "https://sts.eu-west-1.amazonaws.com");
                assert_eq!(
                    request_url,
                    "https://token.actions.example/x?api-version=2.0"
                );
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
}
