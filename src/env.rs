//! The environment as the code reads it: a view that tests replace, and one way to read a value.
//!
//! Every front end and every key service's settings read variables through an [`Env`]:
//! the process's (`harden::env`) in the binary, a map in tests.

/// A view of the environment: the process's, or a test's map.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// One variable's value, trimmed; blank means unset.
pub fn var(env: Env<'_>, name: &str) -> Option<String> {
    env(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
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
