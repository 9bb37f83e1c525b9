//! `app-token agent` and `app-token token`: an agent started for later commands, and a
//! token asked of it.
//!
//! `agent` checks every flag, starts the agent detached (see [`crate::agent::spawn`]),
//! asks it for a first token (so that a wrong app or key is said now, not at the first
//! `git push`), and prints the shell lines that point at it, as `ssh-agent` does.

use std::ffi::OsString;

use serde_json::json;

use super::args::{AgentArgs, Cli, Command, TokenArgs};
use super::mint::{prepare, target};
use super::{usage, Failure};
use crate::agent::endpoint::{base_folder, make_folder};
use crate::agent::git::git_config;
use crate::agent::order::variables_read;
use crate::agent::{self, ask, Answer, Ask, Front, Order, Plan, Unanswered, AGENT_VARIABLE};
use crate::env::{var, Env};
use crate::github::Settings;

/// The variable the pid of `app-token agent`'s agent is printed in.
pub const AGENT_PID_VARIABLE: &str = "APP_TOKEN_AGENT_PID";

/// The agent's configuration rebuilt from the command line it was started with.
pub fn agent_plan(env: Env<'_>, args: &[String]) -> Result<Plan, String> {
    let cli = <Cli as clap::Parser>::try_parse_from(args).map_err(|e| e.to_string())?;
    let Some(Command::Agent(agent_args)) = cli.command else {
        return Err("the agent's command line is not `app-token agent`".into());
    };
    let failed = |f: Failure| f.message().to_string();
    let config = prepare(&agent_args.mint, env).map_err(failed)?;
    let target = target(&config.api_url, env, Settings::default()).map_err(failed)?;
    Ok(Plan { config, target })
}

/// The agent's address, from `APP_TOKEN_AGENT`.
fn address(env: Env<'_>) -> Result<String, Failure> {
    var(env, AGENT_VARIABLE).ok_or_else(|| {
        usage(format!(
            "{AGENT_VARIABLE} is not set: no agent to ask (start one with `app-token agent`, \
             the action's `refresh: true`, or `app-token exec --refresh`)"
        ))
    })
}

/// A failure to be answered, as the command line says it (exit 1).
fn unanswered(e: Unanswered) -> Failure {
    Failure::Api(e.to_string())
}

/// A token from the agent at `address` for `owner`: the token, its owner, its expiry and
/// the API it is for.
pub(super) async fn token_from(
    address: &str,
    owner: Option<String>,
) -> Result<(String, String, chrono::DateTime<chrono::Utc>, String), Failure> {
    match ask(address, &Ask::Token { owner })
        .await
        .map_err(unanswered)?
    {
        Answer::Token {
            token,
            owner,
            expires_at,
            api_url,
        } => Ok((token, owner, expires_at, api_url)),
        Answer::Error { message } => Err(Failure::Api(format!("the agent says: {message}"))),
        _ => Err(Failure::Api("the agent answered something else".into())),
    }
}

/// `app-token token`.
pub(super) async fn token(args: &TokenArgs, env: Env<'_>) -> Result<(), Failure> {
    let address = address(env)?;
    let owner = super::given(&args.owner);
    let (token, ..) = token_from(&address, owner).await?;
    super::output::print(&format!("{token}\n"))
}

/// A shell line setting `name` to `value`, for `csh` or a Bourne shell.
fn shell_line(name: &str, value: &str, csh: bool) -> String {
    let quoted = format!("'{}'", value.replace('\'', r"'\''"));
    if csh {
        // csh expands history at `!` even between single quotes.
        format!("setenv {name} {};\n", quoted.replace('!', r"\!"))
    } else {
        format!("{name}={quoted}; export {name};\n")
    }
}

/// The agent's variables: its address and pid, then git's configuration.
fn variables(
    address: &str,
    pid: u32,
    env: Env<'_>,
    api_url: &str,
) -> Result<Vec<(String, String)>, Failure> {
    let mut out = vec![
        (AGENT_VARIABLE.to_string(), address.to_string()),
        (AGENT_PID_VARIABLE.to_string(), pid.to_string()),
    ];
    let program = std::env::current_exe()
        .map_err(|e| Failure::Api(format!("cannot find this program: {e}")))?;
    if let Some((scheme, host)) = super::git_origin(api_url) {
        let git = git_config(
            var(env, "GIT_CONFIG_COUNT").as_deref(),
            &format!("{scheme}://{host}"),
            &program.display().to_string(),
        )
        .map_err(usage)?;
        out.extend(git);
    }
    Ok(out)
}

/// `app-token agent --stop`: the agent revokes what it minted and ends.
async fn stop(env: Env<'_>, csh: bool) -> Result<(), Failure> {
    let address = address(env)?;
    match ask(&address, &Ask::Stop).await.map_err(unanswered)? {
        Answer::Stopped { revoked, failures } => {
            eprintln!("The agent revoked {revoked} token(s) and ended.");
            for f in &failures {
                eprintln!("warning: not revoked: {}", crate::plain::plain_lines(f));
            }
            let unset = |name: &str| {
                if csh {
                    format!("unsetenv {name};\n")
                } else {
                    format!("unset {name};\n")
                }
            };
            super::output::print(&(unset(AGENT_VARIABLE) + &unset(AGENT_PID_VARIABLE)))?;
            if failures.is_empty() {
                Ok(())
            } else {
                Err(Failure::Api(format!(
                    "{} token(s) were not revoked",
                    failures.len()
                )))
            }
        }
        Answer::Error { message } => Err(Failure::Api(format!("the agent says: {message}"))),
        _ => Err(Failure::Api("the agent answered something else".into())),
    }
}

/// `app-token agent`.
pub(super) async fn command(
    args: &AgentArgs,
    argv: &[OsString],
    env: Env<'_>,
) -> Result<(), Failure> {
    if args.stop {
        return stop(env, args.csh).await;
    }
    let lifetime = match super::given(&args.lifetime) {
        Some(text) => {
            agent::parse_lifetime(&text).map_err(|e| usage(format!("--lifetime: {e}")))?
        }
        None => agent::DEFAULT_LIFETIME,
    };
    let argv: Vec<String> = argv
        .iter()
        .map(|a| a.to_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or_else(|| usage("an argument is not UTF-8"))?;
    // Every flag checked here, with the agent's own code, before anything starts.
    let values = variables_read(env, &argv, Front::CommandLine, |_, env, args| {
        agent_plan(env, args)
    })
    .map_err(usage)?;
    let api_url = prepare(&args.mint, env)?.api_url;
    let folder = make_folder(&base_folder(env))
        .map_err(|e| Failure::Api(format!("cannot make the agent's folder: {e}")))?;
    let order = Order {
        front: Front::CommandLine,
        env: values,
        args: argv,
        first: Vec::new(),
        lifetime_secs: lifetime.as_secs(),
        watch_pid: None,
        folder: folder.clone(),
    };
    let program = std::env::current_exe()
        .map_err(|e| Failure::Api(format!("cannot find this program: {e}")))?;
    let started = match agent::spawn::start(&program, &order).await {
        Ok(started) => started,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&folder);
            return Err(Failure::Api(format!("the agent did not start: {e}")));
        }
    };
    // A first token now: a wrong app, key or scope is said here, not at the first push.
    if let Err(e) = token_from(&started.address, None).await {
        let _ = ask(&started.address, &Ask::Stop).await;
        return Err(e);
    }
    let vars = variables(&started.address, started.pid, env, &api_url)?;
    let text = if args.json {
        let map: serde_json::Map<String, serde_json::Value> =
            vars.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        format!(
            "{}\n",
            json!({"agent": started.address, "pid": started.pid, "env": map})
        )
    } else {
        let mut text: String = vars
            .iter()
            .map(|(name, value)| shell_line(name, value, args.csh))
            .collect();
        text.push_str(&format!("echo Agent pid {};\n", started.pid));
        text
    };
    super::output::print(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_lines_quote_their_values_for_sh_and_csh() {
        assert_eq!(
            shell_line("APP_TOKEN_AGENT", "/tmp/a b/agent.sock", false),
            "APP_TOKEN_AGENT='/tmp/a b/agent.sock'; export APP_TOKEN_AGENT;\n"
        );
        assert_eq!(
            shell_line("GIT_CONFIG_VALUE_1", "!'/x' git-credential", false),
            "GIT_CONFIG_VALUE_1='!'\\''/x'\\'' git-credential'; export GIT_CONFIG_VALUE_1;\n"
        );
        assert_eq!(
            shell_line("APP_TOKEN_AGENT", "/tmp/s", true),
            "setenv APP_TOKEN_AGENT '/tmp/s';\n"
        );
        assert_eq!(
            shell_line("V", "!'/x' git-credential", true),
            "setenv V '\\!'\\''/x'\\'' git-credential';\n"
        );
    }
}
