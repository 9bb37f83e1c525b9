//! The action's inputs.
//!
//! The names action.yml declares, read from the step's environment into the one
//! configuration, and configuration errors named as inputs.

use std::fmt;

use super::runner::{input, input_bool};
use crate::config::{self, Config, ConfigError, Field, Given, KeyGiven, KEY_SETTINGS};
use crate::env::{var, Env};
use crate::permissions::APP_PERMISSIONS;
use crate::transport::Proxy;

/// The inputs action.yml declares besides one per key setting ([`KEY_SETTINGS`]) and one
/// `permission-<name>` per app permission.
pub const CORE_INPUTS: &[&str] = &[
    "app-id",
    "client-id",
    "owner",
    "repositories",
    "permissions",
    "installation-id",
    "enterprise",
    "token-format",
    "github-api-url",
    "skip-token-revoke",
    "refresh",
];

/// The `permission-<name>` input for a permission, as the official action names it.
pub fn permission_input_name(permission: &str) -> String {
    format!("permission-{}", permission.replace('_', "-"))
}

/// Every input the action reads: exactly what action.yml must declare.
pub fn all_inputs() -> Vec<String> {
    CORE_INPUTS
        .iter()
        .chain(KEY_SETTINGS.iter().map(|s| &s.name))
        .map(|n| n.to_string())
        .chain(
            APP_PERMISSIONS
                .iter()
                .map(|p| permission_input_name(p.name)),
        )
        .collect()
}

/// A bad input: which one, and what is wrong with it. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub input: String,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "input `{}` {}", self.input, self.message)
    }
}

impl std::error::Error for InputError {}

/// The input that carries a field. `app_input` is the one the app id came from.
fn input_of(field: Field, app_input: &str) -> String {
    match field {
        Field::AppId => app_input.to_string(),
        Field::ApiUrl => "github-api-url".into(),
        Field::Owner => "owner".into(),
        Field::Repositories => "repositories".into(),
        Field::Permissions => "permissions".into(),
        Field::Permission(name) => permission_input_name(name),
        Field::InstallationId => "installation-id".into(),
        Field::Enterprise => "enterprise".into(),
        Field::TokenFormat => "token-format".into(),
        Field::Key(setting) => setting.name().into(),
        Field::Environment(name) => name.into(),
    }
}

fn named(e: ConfigError, app_input: &str) -> InputError {
    InputError {
        input: input_of(e.field, app_input),
        message: e.message_with(|f| format!("`{}`", input_of(f, app_input))),
    }
}

/// Everything the main step needs, validated.
pub struct Inputs {
    pub config: Config,
    pub skip_token_revoke: bool,
    /// The proxy settings from the environment, checked.
    pub proxy: Proxy,
}

/// `skip-token-revoke`.
pub fn skip_token_revoke(env: Env<'_>) -> Result<bool, InputError> {
    input_bool(env, "skip-token-revoke").map_err(|message| InputError {
        input: "skip-token-revoke".into(),
        message,
    })
}

/// `github-api-url` (or `GITHUB_API_URL`, or github.com's), checked.
pub fn api_url(env: Env<'_>) -> Result<String, InputError> {
    let github = var(env, "GITHUB_API_URL");
    config::api_url(input(env, "github-api-url").as_deref(), github.as_deref())
        .map_err(|e| named(e, "app-id"))
}

/// `refresh`: empty or `false`, no agent; `true`, an agent for
/// [`DEFAULT_LIFETIME`](crate::agent::DEFAULT_LIFETIME); a duration (`8h`, `90m`), an
/// agent for that long.
pub fn refresh(env: Env<'_>) -> Result<Option<std::time::Duration>, InputError> {
    let fault = |message: String| InputError {
        input: "refresh".into(),
        message,
    };
    match input(env, "refresh").as_deref() {
        None => Ok(None),
        Some(word) if word.eq_ignore_ascii_case("false") => Ok(None),
        Some(word) if word.eq_ignore_ascii_case("true") => Ok(Some(crate::agent::DEFAULT_LIFETIME)),
        Some(text) => crate::agent::parse_lifetime(text).map(Some).map_err(|e| {
            fault(format!(
                "is {e}: give `true`, `false`, or how long the agent may serve"
            ))
        }),
    }
}

/// The main step's configuration rebuilt for its agent, from the variables it read
/// (see [`crate::agent::order`]): the same inputs, the same checks.
pub fn agent_plan(env: Env<'_>) -> Result<crate::agent::Plan, String> {
    let inputs = read(env).map_err(|e| e.to_string())?;
    Ok(crate::agent::Plan {
        target: crate::mint::Target {
            api_url: inputs.config.api_url.clone(),
            proxy: inputs.proxy,
            settings: crate::github::Settings::default(),
        },
        config: inputs.config,
    })
}

/// Reads and validates every input of the main step. `client-id` wins over `app-id`.
pub fn read(env: Env<'_>) -> Result<Inputs, InputError> {
    let (app_input, app_id) = match (input(env, "client-id"), input(env, "app-id")) {
        (Some(c), _) => ("client-id", Some(c)),
        (None, a) => ("app-id", a),
    };
    let given = Given {
        app_id,
        api_url: input(env, "github-api-url"),
        github_api_url: var(env, "GITHUB_API_URL"),
        owner: input(env, "owner"),
        repositories: input(env, "repositories").unwrap_or_default(),
        permissions: input(env, "permissions"),
        permission_levels: APP_PERMISSIONS
            .iter()
            .filter_map(|p| Some((p.name, input(env, &permission_input_name(p.name))?)))
            .collect(),
        installation_id: input(env, "installation-id"),
        enterprise: input(env, "enterprise"),
        token_format: input(env, "token-format"),
        current_repository: var(env, "GITHUB_REPOSITORY"),
    };
    let plan = config::plan(&given).map_err(|e| named(e, app_input))?;
    let skip_token_revoke = skip_token_revoke(env)?;
    let proxy = config::proxy(env).map_err(|e| named(e, app_input))?;
    let config = plan
        .with_key(KeyGiven::environment(env).with_settings(|s| input(env, s.name)))
        .map_err(|e| named(e, app_input))?;
    Ok(Inputs {
        config,
        skip_token_revoke,
        proxy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::env_of;

    const KEY: &str = include_str!("../../tests/fixtures/test-key-pkcs1.pem");

    fn read_with(extra: &[(&str, &str)]) -> Result<Inputs, InputError> {
        let mut pairs = vec![
            ("INPUT_APP-ID", "123"),
            ("INPUT_PRIVATE-KEY", KEY),
            ("GITHUB_REPOSITORY", "acme/site"),
        ];
        pairs.extend_from_slice(extra);
        read(&env_of(&pairs))
    }

    fn input_at_fault(extra: &[(&str, &str)]) -> String {
        read_with(extra).err().expect("an input error").input
    }

    #[test]
    fn client_id_wins_over_app_id_and_is_named_when_wrong() {
        let i = read_with(&[("INPUT_CLIENT-ID", "Iv23liABC")]).unwrap();
        assert_eq!(i.config.app_id, "Iv23liABC");
        assert_eq!(
            input_at_fault(&[("INPUT_CLIENT-ID", "nope nope")]),
            "client-id"
        );
        assert_eq!(input_at_fault(&[("INPUT_APP-ID", "")]), "app-id");
    }

    #[test]
    fn every_field_is_named_as_its_input() {
        let e = read(&env_of(&[
            ("INPUT_APP-ID", "1"),
            ("GITHUB_REPOSITORY", "a/b"),
        ]))
        .err()
        .unwrap();
        assert_eq!(e.input, "private-key");
        assert_eq!(
            input_at_fault(&[("INPUT_PERMISSIONS", "contens: read")]),
            "permissions"
        );
        assert_eq!(
            input_at_fault(&[("INPUT_REPOSITORIES", "a/b/c")]),
            "repositories"
        );
        assert_eq!(
            input_at_fault(&[("INPUT_SKIP-TOKEN-REVOKE", "yes")]),
            "skip-token-revoke"
        );
        assert_eq!(input_at_fault(&[("INPUT_OWNER", "bad/owner")]), "owner");
        assert_eq!(
            input_at_fault(&[("INPUT_INSTALLATION-ID", "abc")]),
            "installation-id"
        );
        assert_eq!(
            input_at_fault(&[("INPUT_GITHUB-API-URL", "http://example.com")]),
            "github-api-url"
        );
        assert_eq!(
            input_at_fault(&[("INPUT_PERMISSION-WORKFLOWS", "read")]),
            "permission-workflows"
        );
        let e = read_with(&[("INPUT_TOKEN-FORMAT", "jwt")]).err().unwrap();
        assert_eq!(
            e.to_string(),
            "input `token-format` is `jwt`; it must be `stateless` or `classic` (or empty, to let GitHub choose)"
        );
    }

    #[test]
    fn conflicts_name_both_inputs() {
        let e = read_with(&[
            ("INPUT_PERMISSIONS", "contents: write"),
            ("INPUT_PERMISSION-CONTENTS", "read"),
        ])
        .err()
        .unwrap();
        assert_eq!(
            e.to_string(),
            "input `permissions` `contents` is `write` in `permissions` but `read` in `permission-contents`"
        );
    }

    #[test]
    fn refresh_is_a_switch_or_how_long() {
        let refresh_of = |v: &str| refresh(&env_of(&[("INPUT_REFRESH", v)]));
        assert_eq!(refresh_of(""), Ok(None));
        assert_eq!(refresh_of("false"), Ok(None));
        assert_eq!(refresh_of("True"), Ok(Some(crate::agent::DEFAULT_LIFETIME)));
        assert_eq!(
            refresh_of("8h"),
            Ok(Some(std::time::Duration::from_secs(8 * 3600)))
        );
        let e = refresh_of("yes").unwrap_err();
        assert_eq!(e.input, "refresh");
        assert!(e.message.contains("give `true`, `false`"), "{e}");
    }

    #[test]
    fn the_input_list_has_one_input_per_permission() {
        let all = all_inputs();
        assert_eq!(
            all.len(),
            CORE_INPUTS.len() + KEY_SETTINGS.len() + APP_PERMISSIONS.len()
        );
        assert!(all.contains(&"permission-pull-requests".to_string()));
    }
}
