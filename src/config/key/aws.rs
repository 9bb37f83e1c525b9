//! The checks of an AWS KMS key's settings.
//!
//! The key's id, its region (the setting, else `AWS_REGION`, else `AWS_DEFAULT_REGION`),
//! KMS's and STS's endpoints, and the credentials: the environment's, or a role assumed
//! with the job's OIDC token.

use super::{oidc_request, KeyGiven, Setting};
use crate::config::{validate_url, ConfigError, Field};
use crate::sign::aws::{self, CredentialSource, KmsSettings};

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
pub(super) fn check(given: &KeyGiven) -> Result<KmsSettings, ConfigError> {
    let kms_key_id = given[Setting::AwsKmsKeyId]
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_string();
    if !valid_key_id(&kms_key_id) {
        return Err(ConfigError::new(
            Field::Key(Setting::AwsKmsKeyId),
            "must be a key id, a key ARN, or an alias such as alias/github-app",
        ));
    }
    let aws = &given.aws;
    let (_, region) = given.or_env(Setting::AwsRegion).ok_or_else(|| {
        ConfigError::new(
            Field::Key(Setting::AwsRegion),
            "is not set, and neither is AWS_REGION or AWS_DEFAULT_REGION: give the KMS key's region",
        )
    })?;
    let region = region.to_string();
    if !valid_region(&region) {
        return Err(ConfigError::new(
            Field::Key(Setting::AwsRegion),
            "must be an AWS region such as us-east-1",
        ));
    }
    let kms_endpoint = endpoint(
        ("AWS_ENDPOINT_URL_KMS", &aws.endpoint_url_kms),
        &aws.endpoint_url,
        "kms",
        &region,
    )?;
    let credentials = match &given[Setting::AwsRoleToAssume] {
        Some(role_arn) => {
            if !valid_role_arn(role_arn) {
                return Err(ConfigError::new(
                    Field::Key(Setting::AwsRoleToAssume),
                    "must be a role ARN: arn:aws:iam::123456789012:role/NAME",
                ));
            }
            let oidc = oidc_request(&given.oidc, Field::Key(Setting::AwsRoleToAssume))?;
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
                    &[Field::Key(Setting::AwsRoleToAssume)],
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

#[cfg(test)]
mod tests {
    use super::super::tests::{fault, kms};
    use crate::config::key::Setting as S;
    use crate::config::Field;
    use crate::sign::aws::CredentialSource;
    use crate::sign::Secret;

    #[test]
    fn the_region_comes_from_the_input_then_the_environment() {
        assert_eq!(kms(|_| {}).unwrap().region, "eu-west-1");
        let s = kms(|g| g[S::AwsRegion] = Some("us-east-2".into())).unwrap();
        assert_eq!(
            (s.region.as_str(), s.endpoint.as_str()),
            ("us-east-2", "https://kms.us-east-2.amazonaws.com")
        );
        let s = kms(|g| {
            g.set_variable("AWS_REGION", None);
            g.set_variable("AWS_DEFAULT_REGION", Some("ap-south-1".into()));
        })
        .unwrap();
        assert_eq!(s.region, "ap-south-1");
        assert_eq!(
            fault(|g| g.set_variable("AWS_REGION", None)).0,
            Field::Key(S::AwsRegion)
        );
        assert_eq!(
            fault(|g| g[S::AwsRegion] = Some("Mars".into())).0,
            Field::Key(S::AwsRegion)
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
                vec![Field::Key(S::AwsRoleToAssume)]
            )
        );
        let role = "arn:aws:iam::123456789012:role/github-app-signer";
        let f = fault(|g| g[S::AwsRoleToAssume] = Some(role.into()));
        assert_eq!(
            f.0,
            Field::Key(S::AwsRoleToAssume),
            "no OIDC token to assume it with"
        );
        let s = kms(|g| {
            g.aws.credentials = None;
            g[S::AwsRoleToAssume] = Some(role.into());
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
                fault(|g| g[S::AwsRoleToAssume] = Some(bad.into())).0,
                Field::Key(S::AwsRoleToAssume),
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
                kms(|g| g[S::AwsKmsKeyId] = Some(id.into())).unwrap().key_id,
                id
            );
        }
        assert_eq!(
            fault(|g| g[S::AwsKmsKeyId] = Some("alias/x y".into())).0,
            Field::Key(S::AwsKmsKeyId)
        );
    }
}
