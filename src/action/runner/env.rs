//! The step's environment as the runner sets it.
//!
//! `INPUT_*`, `STATE_*`, `RUNNER_DEBUG` and `GITHUB_ACTIONS`.

use crate::env::{given, var, Env};

/// Reads one input the way the runner passes it to a container: `INPUT_` and the name in
/// upper case, hyphens kept (`INPUT_APP-ID`). The underscore form is accepted too, for
/// people who run the image by hand. Blank means unset.
pub fn input(env: Env<'_>, name: &str) -> Option<String> {
    let upper = name.to_ascii_uppercase().replace(' ', "_");
    let value = env(&format!("INPUT_{upper}"))
        .or_else(|| env(&format!("INPUT_{}", upper.replace('-', "_"))));
    given(value.as_deref())
}

/// A boolean input, as the Actions toolkit reads them (YAML 1.2 core schema); unset is false.
pub fn input_bool(env: Env<'_>, name: &str) -> Result<bool, String> {
    match input(env, name).as_deref() {
        None => Ok(false),
        Some("true" | "True" | "TRUE") => Ok(true),
        Some("false" | "False" | "FALSE") => Ok(false),
        Some(_) => Err("must be `true` or `false`".into()),
    }
}

/// What the main step saved under `key`, as the post step reads it (`STATE_<key>`). Blank means unset.
pub fn state_value(env: Env<'_>, key: &str) -> Option<String> {
    var(env, &format!("STATE_{key}"))
}

/// Is step debug logging on (`RUNNER_DEBUG=1`)?
pub fn debug(env: Env<'_>) -> bool {
    env("RUNNER_DEBUG").as_deref() == Some("1")
}

/// Is this process a step of a GitHub Actions job?
pub fn under_actions(env: Env<'_>) -> bool {
    env("GITHUB_ACTIONS").as_deref() == Some("true")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::env_of;

    #[test]
    fn inputs_by_hyphenated_and_underscored_names() {
        let env = env_of(&[
            ("INPUT_APP-ID", " 1 "),
            ("INPUT_SKIP_TOKEN_REVOKE", "true"),
            ("INPUT_OWNER", "  "),
        ]);
        assert_eq!(input(&env, "app-id").as_deref(), Some("1"));
        assert_eq!(input_bool(&env, "skip-token-revoke"), Ok(true));
        assert_eq!(input(&env, "owner"), None, "blank is unset");
        assert_eq!(input(&env, "repositories"), None);
    }

    #[test]
    fn booleans_follow_the_toolkit() {
        for (text, want) in [("True", Ok(true)), ("FALSE", Ok(false)), ("", Ok(false))] {
            let env = env_of(&[("INPUT_FLAG", text)]);
            assert_eq!(input_bool(&env, "flag"), want, "{text}");
        }
        let env = env_of(&[("INPUT_FLAG", "yes")]);
        assert!(input_bool(&env, "flag").is_err());
    }

    #[test]
    fn state_debug_and_actions() {
        let env = env_of(&[
            ("STATE_tokens", "[]"),
            ("STATE_blank", " "),
            ("RUNNER_DEBUG", "1"),
            ("GITHUB_ACTIONS", "true"),
        ]);
        assert_eq!(state_value(&env, "tokens").as_deref(), Some("[]"));
        assert_eq!(state_value(&env, "blank"), None);
        assert!(debug(&env) && under_actions(&env));
        let none = env_of(&[("RUNNER_DEBUG", "0")]);
        assert!(!debug(&none) && !under_actions(&none));
    }
}
