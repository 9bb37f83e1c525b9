//! The environment, read one way.
//!
//! Every front end and every key service's settings read variables through an [`Env`]:
//! the process's (`harden::env`) in the binary, a map in tests. A value is read one way
//! wherever it comes from (a variable, an input, a flag): [`given`], trimmed, blank
//! meaning unset.

/// A view of the environment: the process's, or a test's map.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A value as given, trimmed; blank means unset (an unset shell variable passed on is
/// an empty string).
pub fn given(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// One variable's value, trimmed; blank means unset.
pub fn var(env: Env<'_>, name: &str) -> Option<String> {
    given(env(name).as_deref())
}

/// An environment of these pairs only, for unit tests.
#[cfg(test)]
pub(crate) fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_trimmed_and_blank_is_unset() {
        let env = env_of(&[
            ("GITHUB_REPOSITORY", " acme/site\n"),
            ("BLANK", " \t\n"),
            ("EMPTY", ""),
        ]);
        assert_eq!(var(&env, "GITHUB_REPOSITORY").as_deref(), Some("acme/site"));
        assert_eq!(var(&env, "BLANK"), None);
        assert_eq!(var(&env, "EMPTY"), None);
        assert_eq!(var(&env, "UNSET"), None);
        assert_eq!(given(Some(" acme ")).as_deref(), Some("acme"));
        assert_eq!(given(Some("  ")), None);
        assert_eq!(given(None), None);
    }
}
