//! nektos/act, a runner that is not GitHub's.
//!
//! How a step knows it runs under act, and what it says of the state act does not hand to a
//! container action's post step.

use crate::env::Env;

/// Does the step run under nektos/act? act sets `ACT=true` in every step's environment.
pub fn under_act(env: Env<'_>) -> bool {
    env("ACT").as_deref() == Some("true")
}

/// Main's note under act: post will not revoke, and when the token(s) die on their own
/// (`expires_at`: the latest expiry of what main minted).
pub fn main_note(expires_at: &str) -> String {
    format!(
        "act does not pass state to a container action's post step, so the post step \
         cannot revoke the token(s) created here: they stay valid until they expire, at {expires_at}"
    )
}

/// Post's line under act when it finds no state: what happened, rather than "no token".
pub const POST_NO_STATE: &str = "No state from the main step: act does not pass state to a \
     container action's post step, so a token the main step created was not revoked; \
     it expires on its own within the hour (main's log says when).";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::env_of;

    #[test]
    fn act_is_told_by_act_true_only() {
        assert!(under_act(&env_of(&[("ACT", "true")])));
        assert!(!under_act(&env_of(&[("ACT", "1")])));
        assert!(!under_act(&env_of(&[("GITHUB_ACTIONS", "true")])));
    }

    #[test]
    fn the_notes_say_why_and_when() {
        let note = main_note("2030-01-01T00:00:00Z");
        assert!(note.contains("act does not pass state to a container action's post step"));
        assert!(note.ends_with("until they expire, at 2030-01-01T00:00:00Z"));
        assert!(!POST_NO_STATE.contains("No token to revoke"));
    }
}
