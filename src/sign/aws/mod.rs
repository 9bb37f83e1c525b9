//! The AWS KMS backend.
//!
//! The app's key in KMS, credentials from the environment or a role assumed with the job's
//! OIDC token, over the key services' client with aws-sigv4.

mod credentials;
mod kms;
pub mod sigv4;
mod sts;

pub use credentials::Credentials;
pub use kms::{CredentialSource, KmsKey, KmsSettings};
pub use sts::STS_AUDIENCE;

use crate::env::{var, Env};

/// What the job's environment says about AWS, read once by a front end.
/// The variables that stand in for a key setting (a region, ids, an address, a namespace)
/// are read with the settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsEnv {
    pub endpoint_url: Option<String>,
    pub endpoint_url_kms: Option<String>,
    pub endpoint_url_sts: Option<String>,
    pub credentials: Option<Credentials>,
}

impl AwsEnv {
    pub fn from_env(env: Env<'_>) -> Self {
        Self {
            endpoint_url: var(env, "AWS_ENDPOINT_URL"),
            endpoint_url_kms: var(env, "AWS_ENDPOINT_URL_KMS"),
            endpoint_url_sts: var(env, "AWS_ENDPOINT_URL_STS"),
            credentials: Credentials::from_env(env),
        }
    }
}

/// A service's endpoint in a region, as the AWS SDKs build it.
pub fn default_endpoint(service: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://{service}.{region}.{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_the_sdks() {
        assert_eq!(
            default_endpoint("kms", "eu-west-1"),
            "https://kms.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            default_endpoint("sts", "cn-north-1"),
            "https://sts.cn-north-1.amazonaws.com.cn"
        );
    }
}
