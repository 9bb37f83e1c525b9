//! AWS signing credentials.
//!
//! An access key pair with an optional session token, from the environment as
//! aws-actions/configure-aws-credentials leaves it, or from STS.

use crate::env::{var, Env};
use crate::sign::secret::Secret;

/// Signing credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

impl Credentials {
    pub fn new(
        access_key_id: &str,
        secret_access_key: &str,
        session_token: Option<String>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.to_string(),
            secret_access_key: Secret::new(secret_access_key),
            session_token: session_token.map(Secret::new),
        }
    }

    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, if the first two are set.
    pub fn from_env(env: Env<'_>) -> Option<Self> {
        Some(Self::new(
            &var(env, "AWS_ACCESS_KEY_ID")?,
            &var(env, "AWS_SECRET_ACCESS_KEY")?,
            var(env, "AWS_SESSION_TOKEN"),
        ))
    }

    /// Every part a log must never show.
    pub fn secrets(&self) -> Vec<&str> {
        let mut out = vec![self.access_key_id.as_str(), self.secret_access_key.expose()];
        out.extend(self.session_token.as_ref().map(Secret::expose));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_from_the_environment_need_a_key_pair() {
        let env = |k: &str| match k {
            "AWS_ACCESS_KEY_ID" => Some("AKID".to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some("s3cret".to_string()),
            _ => None,
        };
        let c = Credentials::from_env(&env).unwrap();
        assert_eq!(c.session_token, None);
        assert_eq!(c.secrets(), ["AKID", "s3cret"]);
        let half = |k: &str| (k == "AWS_ACCESS_KEY_ID").then(|| "AKID".to_string());
        assert_eq!(Credentials::from_env(&half), None);
    }

    #[test]
    fn secrets_never_print() {
        let c = Credentials::new("AKID", "s3cret", Some("t0ken".into()));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("t0ken"),
            "{shown}"
        );
    }
}
