//! What the main step hands to the post step through `GITHUB_STATE`.
//!
//! The tokens to revoke, when they expire, and which are main's own helpers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::env::state_value;
use crate::env::Env;
use crate::github::Credential;

/// The state key under which main hands its tokens to post.
pub const STATE_TOKENS: &str = "tokens";

/// What post needs of one token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    /// When GitHub issued it: a post step moments after main may meet replication lag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<DateTime<Utc>>,
    /// A token main did not hand to the job (a helper, or any token of a failed or
    /// cancelled step) and could not revoke: post revokes it even when
    /// `skip-token-revoke` keeps the step's token alive.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub helper: bool,
}

impl SavedToken {
    pub fn credential(&self) -> Credential {
        Credential {
            token: self.token.clone(),
            issued_at: self.issued_at,
        }
    }

    /// The state value for these tokens.
    pub fn encode(tokens: &[SavedToken]) -> anyhow::Result<String> {
        Ok(serde_json::to_string(tokens)?)
    }

    /// The tokens main saved: `Ok(None)` when it saved none, `Err` when the state is not
    /// what main writes (it never says what it read: that could be a token).
    pub fn load(env: Env<'_>) -> Result<Option<Vec<SavedToken>>, String> {
        let Some(text) = state_value(env, STATE_TOKENS) else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|_| "the saved state is not what the main step writes".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_tokens_round_trip_through_state() {
        let saved = vec![SavedToken {
            token: "ghs_x".into(),
            expires_at: "2030-01-01T00:00:00Z".parse().unwrap(),
            issued_at: Some("2030-01-01T00:00:00Z".parse().unwrap()),
            helper: false,
        }];
        let text = SavedToken::encode(&saved).unwrap();
        assert_eq!(
            text,
            r#"[{"token":"ghs_x","expires_at":"2030-01-01T00:00:00Z","issued_at":"2030-01-01T00:00:00Z"}]"#
        );
        // What an earlier version saved (no issued_at) still reads.
        let old = r#"[{"token":"ghs_y","expires_at":"2030-01-01T00:00:00Z"}]"#;
        let old_env = |k: &str| (k == "STATE_tokens").then(|| old.to_string());
        let loaded = SavedToken::load(&old_env).unwrap().unwrap();
        assert_eq!(loaded[0].issued_at, None);
        let env = |k: &str| (k == "STATE_tokens").then(|| text.clone());
        assert_eq!(SavedToken::load(&env), Ok(Some(saved.clone())));
        let helper = vec![SavedToken {
            helper: true,
            issued_at: None,
            ..saved[0].clone()
        }];
        let text = SavedToken::encode(&helper).unwrap();
        assert_eq!(
            text,
            r#"[{"token":"ghs_x","expires_at":"2030-01-01T00:00:00Z","helper":true}]"#
        );
        let env = |k: &str| (k == "STATE_tokens").then(|| text.clone());
        assert_eq!(SavedToken::load(&env), Ok(Some(helper)));
        let none = |_: &str| None;
        assert_eq!(SavedToken::load(&none), Ok(None));
        let bad = |_: &str| Some("ghs_secret".to_string());
        let e = SavedToken::load(&bad).unwrap_err();
        assert!(!e.contains("ghs_secret"));
    }
}
