//! What a front end hands the agent it starts, and how the agent is rebuilt from it.
//!
//! The order travels through the agent's stdin, never its arguments or environment. It
//! carries the values of exactly the variables the front end's configuration reads (the
//! key's among them), the command line's arguments, the tokens already minted, and the
//! agent's lifetime and folder. The agent rebuilds the same checked configuration from
//! them, with the same front end's code, that the binary wires in ([`Rebuild`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::keeper::First;
use crate::config::Config;
use crate::env::Env;
use crate::mint::Target;

/// The most bytes of an order the agent reads.
pub const MAX_ORDER_BYTES: u64 = 1024 * 1024;

/// Which front end started the agent, and so rebuilds its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Front {
    /// The action's main step, from its inputs.
    Action,
    /// `app-token agent`, from its flags.
    CommandLine,
}

/// Everything an agent needs, from the front end that starts it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    pub front: Front,
    /// The variables the front end's configuration read, and their values.
    pub env: BTreeMap<String, String>,
    /// The command line's arguments (the program's name first); none for the action.
    pub args: Vec<String>,
    /// Tokens already minted, to hand out first (their minter revokes them).
    pub first: Vec<First>,
    /// How long the agent serves at most, in seconds.
    pub lifetime_secs: u64,
    /// A process whose end is the job's end, and so the agent's (see [`super::watch`]).
    #[serde(default)]
    pub watch_pid: Option<u32>,
    /// The agent's own folder (see [`super::endpoint::make_folder`]).
    pub folder: PathBuf,
}

/// What an agent is rebuilt into: the configuration, and where GitHub is.
pub struct Plan {
    pub config: Config,
    pub target: Target,
}

/// A front end's configuration, rebuilt from an order's environment and arguments.
pub type Rebuild = fn(Front, Env<'_>, &[String]) -> Result<Plan, String>;

impl Order {
    /// The order's environment, read as the process's would be.
    pub fn env(&self) -> impl Fn(&str) -> Option<String> + '_ {
        move |name: &str| self.env.get(name).cloned()
    }
}

/// What `read` gives, and the variables it read from `env` with their values (those set).
pub fn recorded<T>(env: Env<'_>, read: impl FnOnce(Env<'_>) -> T) -> (T, BTreeMap<String, String>) {
    let names = Mutex::new(BTreeSet::new());
    let recording = |name: &str| {
        if let Ok(mut names) = names.lock() {
            names.insert(name.to_string());
        }
        env(name)
    };
    let out = read(&recording);
    let names = names.into_inner().unwrap_or_else(|p| p.into_inner());
    let values = names
        .into_iter()
        .filter_map(|name| env(&name).map(|value| (name, value)))
        .collect();
    (out, values)
}

/// The variables `rebuild` reads from `env`, with their values: what an agent needs to
/// rebuild the same configuration. A rebuild that fails is the front end's error.
pub fn variables_read(
    env: Env<'_>,
    args: &[String],
    front: Front,
    rebuild: Rebuild,
) -> Result<BTreeMap<String, String>, String> {
    let (plan, values) = recorded(env, |env| rebuild(front, env, args));
    plan.map(|_| values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_variables_read_are_kept_with_their_values() {
        let env = |name: &str| match name {
            "APP" => Some("1".to_string()),
            "KEY" => Some("pem".to_string()),
            "OTHER" => Some("not read".to_string()),
            _ => None,
        };
        let (out, values) = recorded(&env, |env| {
            let _ = env("APP");
            let _ = env("KEY");
            env("UNSET").is_none()
        });
        assert!(out);
        assert_eq!(
            values,
            BTreeMap::from([
                ("APP".to_string(), "1".to_string()),
                ("KEY".to_string(), "pem".to_string())
            ])
        );
        let order = Order {
            front: Front::Action,
            env: values,
            args: vec![],
            first: vec![],
            lifetime_secs: 1,
            watch_pid: None,
            folder: PathBuf::new(),
        };
        assert_eq!(order.env()("KEY").as_deref(), Some("pem"));
        assert_eq!(order.env()("OTHER"), None);
    }
}
