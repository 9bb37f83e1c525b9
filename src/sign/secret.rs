//! Values a signer comes to hold that no log may show.
//!
//! A `Secret` prints as `***`, and a `SecretSink` is told each one so that the runner masks
//! it at once.

use std::fmt;
use std::sync::Arc;

/// A value never printed: `Debug` shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Told every secret a signer comes to hold (an OIDC token, a cloud's access token or
/// credentials, a signature), so that the runner masks it even if a library printed one.
pub type SecretSink = Arc<dyn Fn(&str) + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let s = Secret::new("t0ken");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(s.expose(), "t0ken");
    }
}
