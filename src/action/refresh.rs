//! The `refresh` input: the native action's token agent, started by main, used by the
//! job's later steps, stopped by post.
//!
//! Before its first request, main checks everything the agent needs ([`prepare`]): a
//! native step (a container action cannot leave a process behind its step), the
//! configuration the agent rebuilds, the later steps' file commands, git's settings.
//! After it mints, it starts the agent with the tokens it minted ([`start`]) and hands
//! the later steps its address, git's configuration and the binary's folder
//! ([`hand_over`]); its folder goes to post in the state. Post asks the agent to stop
//! ([`stop`]), or revokes from the ledger it left on disk when it is gone.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::inputs::{self, InputError};
use super::runner::{state_value, under_act, Runner};
use super::stage::launched_natively;
use crate::agent::endpoint::{address, base_folder, is_agent_folder, make_folder};
use crate::agent::order::variables_read;
use crate::agent::spawn::Started;
use crate::agent::watch::{watched_pid, RUNNER_PID_VARIABLE};
use crate::agent::{git, ledger_file, Answer, Ask, First, Front, Order, Unanswered};
use crate::env::{var, Env};
use crate::github::{Client, Credential};
use crate::mint::{self, Minted};

/// The state key under which main hands post its agent's folder.
pub const STATE_AGENT: &str = "agent";

/// `refresh`, as this step may take it: `None` (no agent), or the agent's lifetime. A
/// step the native launcher did not start (the container action's) cannot keep a
/// process past its end: asking for an agent there is an input error.
pub fn asked(env: Env<'_>) -> Result<Option<Duration>, InputError> {
    let lifetime = inputs::refresh(env)?;
    if lifetime.is_some() && !launched_natively(env) {
        return Err(InputError {
            input: "refresh".into(),
            message: "asks for a token agent, but a container action cannot leave a process \
                      behind its step: use `app-token/app-token/native` (the same inputs) for \
                      `refresh`"
                .into(),
        });
    }
    Ok(lifetime)
}

/// The `scheme://host` git asks credentials for: `GITHUB_SERVER_URL`'s when set (a
/// trailing slash or path dropped), else the API's web origin.
pub fn git_origin(server_url: Option<&str>, api_url: &str) -> Option<String> {
    if let Some(server) = server_url {
        let uri: http::Uri = server.trim().parse().ok()?;
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let authority = uri.authority()?.as_str().to_ascii_lowercase();
        return Some(format!("{scheme}://{authority}"));
    }
    let (scheme, host) = crate::cli::git_origin(api_url)?;
    Some(format!("{scheme}://{host}"))
}

/// A lifetime as the log says it: `6h`, `90m`, `75s`.
pub fn describe_lifetime(lifetime: Duration) -> String {
    let secs = lifetime.as_secs();
    if secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// Everything an agent needs that main can check before its first request.
pub struct Prepared {
    lifetime: Duration,
    /// The variables the agent's configuration reads, and their values (the key's among them).
    values: BTreeMap<String, String>,
    /// This binary: the agent, and git's helper.
    program: PathBuf,
    /// The later steps' variables: git's configuration (the agent's address is added).
    git: Vec<(String, String)>,
    /// Where the agent's folder goes.
    base: PathBuf,
    /// Under nektos/act, which does not end what a job leaves behind.
    under_act: bool,
    /// The runner's worker, as the native launcher names it: the agent ends with it.
    runner_pid: Option<u32>,
}

/// Checks, before any request, what an agent of `lifetime` for the API at `api_url`
/// needs: its configuration rebuilt from the step's environment, `GITHUB_ENV` and
/// `GITHUB_PATH`, this binary's path, git's settings. Gives why not, for the log.
pub fn prepare(env: Env<'_>, lifetime: Duration, api_url: &str) -> Result<Prepared, String> {
    for file in ["GITHUB_ENV", "GITHUB_PATH"] {
        if var(env, file).is_none() {
            return Err(format!(
                "{file} is not set: the later steps cannot be pointed at the agent \
                 (runner 2.297 or later)"
            ));
        }
    }
    let values = variables_read(env, &[], Front::Action, |_, env, _| inputs::agent_plan(env))?;
    let program = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let program_text = program
        .to_str()
        .ok_or("this program's path is not UTF-8")?
        .to_string();
    let server = var(env, "GITHUB_SERVER_URL");
    let origin = git_origin(server.as_deref(), api_url).ok_or_else(|| {
        format!(
            "no web origin for git in GITHUB_SERVER_URL or {:?}",
            crate::excerpt::excerpt(api_url)
        )
    })?;
    let git = git::git_config(
        var(env, "GIT_CONFIG_COUNT").as_deref(),
        &origin,
        &program_text,
    )?;
    Ok(Prepared {
        lifetime,
        values,
        program,
        git,
        base: base_folder(env),
        under_act: under_act(env),
        runner_pid: watched_pid(var(env, RUNNER_PID_VARIABLE).as_deref()),
    })
}

/// A started agent, and where it keeps its files.
pub struct Agent {
    pub started: Started,
    pub folder: PathBuf,
}

/// Starts the agent of `prepared`, with `tokens` (main's) to hand out first, and waits
/// until it listens. Its folder is removed when it does not start.
pub async fn start(prepared: &Prepared, tokens: &[Minted]) -> Result<Agent, String> {
    let folder =
        make_folder(&prepared.base).map_err(|e| format!("cannot make the agent's folder: {e}"))?;
    let order = Order {
        front: Front::Action,
        env: prepared.values.clone(),
        args: Vec::new(),
        first: tokens.iter().map(First::of).collect(),
        lifetime_secs: prepared.lifetime.as_secs(),
        watch_pid: prepared.runner_pid,
        folder: folder.clone(),
    };
    match crate::agent::spawn::start(&prepared.program, &order).await {
        Ok(started) => Ok(Agent { started, folder }),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&folder);
            Err(e)
        }
    }
}

/// Hands the later steps the agent: its folder in the state (for post), its address and
/// git's configuration in `GITHUB_ENV`, this binary's folder on `GITHUB_PATH`; then says
/// whom it serves, and until when (never a token).
pub fn hand_over<W: Write>(
    runner: &Runner<W>,
    prepared: &Prepared,
    agent: &Agent,
    owners: &[&str],
) -> anyhow::Result<()> {
    let folder = agent
        .folder
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("the agent's folder's path is not UTF-8"))?;
    runner.save_state(&[(STATE_AGENT, folder)])?;
    let mut vars: Vec<(&str, &str)> =
        vec![(crate::agent::AGENT_VARIABLE, agent.started.address.as_str())];
    vars.extend(prepared.git.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    runner.set_env(&vars)?;
    let dir = prepared
        .program
        .parent()
        .ok_or_else(|| anyhow::anyhow!("this program's path has no folder"))?;
    runner.add_path(&dir.display().to_string())?;
    runner.info(&format!(
        "A token agent (pid {}) serves fresh tokens for {} to the later steps of this job \
         (`app-token token`, and git through `app-token git-credential`) until the post step \
         stops it, or for at most {}.",
        agent.started.pid,
        owners.join(", "),
        describe_lifetime(prepared.lifetime)
    ));
    if prepared.under_act {
        runner.info(&act_note(
            prepared.runner_pid,
            prepared.lifetime,
            &agent.started.address,
        ));
    }
    Ok(())
}

/// What act does with the agent at `address`, which watches `watched` (the launcher's
/// parent: under act's host executor, act itself) or nothing, and lives at most
/// `lifetime`: act runs post, which stops it; if act is killed before post, the agent
/// ends with the watched process, or else only when its lifetime ends.
pub fn act_note(watched: Option<u32>, lifetime: Duration, address: &str) -> String {
    let post = "Under act: act runs the post step (after a failure or Ctrl-C too), which stops \
                the agent";
    match watched {
        Some(pid) => format!(
            "{post}; if act itself is killed before post, the agent sees within {} s that \
             the process that started this step (pid {pid}: act, under its host executor) is \
             gone, revokes every token it minted, and ends. This step's own token is post's \
             to revoke: without post it stays valid until it expires.",
            crate::agent::watch::WATCH_EVERY.as_secs()
        ),
        None => format!(
            "{post}; but act does not end what a job leaves behind, so if act itself is \
             killed before post, the agent serves on until its lifetime ends ({}). Stop it \
             then with `APP_TOKEN_AGENT='{address}' app-token agent --stop`.",
            describe_lifetime(lifetime)
        ),
    }
}

/// Asks the agent at `folder` to stop, for a step that failed after starting it; what it
/// says is a warning.
pub async fn stop_quietly<W: Write>(runner: &Runner<W>, folder: &Path) {
    match crate::agent::ask(&address(folder), &Ask::Stop).await {
        Ok(Answer::Stopped { failures, .. }) => {
            for f in failures {
                runner.warning("Token not revoked", &f);
            }
        }
        Ok(_) => runner.warning("Agent not stopped", "it answered something else"),
        Err(e) => runner.warning("Agent not stopped", &e.to_string()),
    }
}

/// The agent folder main saved for post: `None` when it saved none, or saved something
/// that is not an agent's folder (said as a warning: post leaves it alone).
pub fn saved_folder<W: Write>(runner: &Runner<W>, env: Env<'_>) -> Option<PathBuf> {
    let saved = PathBuf::from(state_value(env, STATE_AGENT)?);
    if !is_agent_folder(&saved) {
        runner.warning(
            "Agent not stopped",
            &format!(
                "the saved state names {:?}, not a folder of app-token's agent: left alone",
                crate::excerpt::excerpt(&saved.display().to_string())
            ),
        );
        return None;
    }
    Some(saved)
}

/// Post's stop: asks the agent in `folder` to revoke what it minted and end. When no
/// agent answers (killed, crashed), revokes with `client` every token in the ledger it
/// left, and removes its folder. Nothing here fails the step: what is not done is a
/// warning.
pub async fn stop<W: Write>(runner: &Runner<W>, folder: &Path, client: Option<&Client>) {
    let why = match crate::agent::ask(&address(folder), &Ask::Stop).await {
        Ok(Answer::Stopped { revoked, failures }) => {
            for f in &failures {
                runner.warning(
                    "Token not revoked",
                    &format!("{f}; it expires on its own within the hour"),
                );
            }
            runner.info(&format!(
                "The token agent revoked {revoked} token(s) it minted, and ended."
            ));
            return;
        }
        Ok(Answer::Error { message }) => format!("the agent says: {message}"),
        Ok(_) => "the agent answered something else".to_string(),
        Err(Unanswered::NoAgent(e)) => format!("the agent is gone ({e})"),
        Err(Unanswered::Broken(e)) => e,
    };
    revoke_ledger(runner, folder, client, &why).await;
}

/// Revokes the tokens in the ledger the agent in `folder` left on disk, then removes the
/// folder; `why` says why post does it itself. Without a client (said already), the
/// folder is left for the runner's clean-up of its temporary folder.
async fn revoke_ledger<W: Write>(
    runner: &Runner<W>,
    folder: &Path,
    client: Option<&Client>,
    why: &str,
) {
    if !folder.exists() {
        runner.warning(
            "Agent not stopped",
            &format!(
                "{why}, and left no ledger: it revoked its tokens as it ended (its lifetime \
                 ran out, or a signal came), or they expire on their own within the hour"
            ),
        );
        return;
    }
    let entries = match ledger_file::read(folder) {
        Ok(entries) => entries,
        Err(e) => {
            runner.warning("Agent not stopped", &format!("{why}; {e}"));
            return;
        }
    };
    for e in &entries {
        runner.mask(&e.token);
    }
    let now = chrono::Utc::now();
    let live: Vec<Credential> = entries
        .iter()
        .filter(|e| e.expires_at.is_none_or(|at| at > now))
        .map(|e| Credential::new(&e.token))
        .collect();
    if live.is_empty() {
        runner.warning(
            "Agent not stopped",
            &format!("{why}; its ledger holds no live token"),
        );
    } else {
        let Some(client) = client else {
            return;
        };
        runner.info(&format!(
            "{why}: revoking the {} live token(s) of its ledger.",
            live.len()
        ));
        let failures = mint::revoke_all(client, &live).await;
        for f in &failures {
            runner.warning(
                "Token not revoked",
                &format!("{f}; it expires on its own within the hour"),
            );
        }
        runner.info(&format!(
            "Revoked {} installation token(s) the agent minted.",
            live.len() - failures.len()
        ));
    }
    if let Err(e) = std::fs::remove_dir_all(folder) {
        runner.warning(
            "Agent folder left",
            &format!("cannot remove {}: {e}", folder.display()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::stage::{LAUNCHER, LAUNCHER_VARIABLE};
    use crate::env::env_of;

    #[test]
    fn the_container_action_refuses_an_agent_and_names_the_native_one() {
        let e = asked(&env_of(&[("INPUT_REFRESH", "true")])).unwrap_err();
        assert_eq!(e.input, "refresh");
        let text = e.to_string();
        assert!(
            text.contains("cannot leave a process behind its step"),
            "{text}"
        );
        assert!(text.contains("app-token/app-token/native"), "{text}");
        assert!(asked(&env_of(&[("INPUT_REFRESH", "8h")])).is_err());
        assert_eq!(asked(&env_of(&[("INPUT_REFRESH", "false")])), Ok(None));
        assert_eq!(asked(&env_of(&[])), Ok(None));
        let native = [("INPUT_REFRESH", "90m"), (LAUNCHER_VARIABLE, LAUNCHER)];
        assert_eq!(asked(&env_of(&native)), Ok(Some(Duration::from_secs(5400))));
        // A bad value is that value's error, natively or not.
        let bad = asked(&env_of(&[("INPUT_REFRESH", "yes")])).unwrap_err();
        assert!(bad.message.contains("give `true`, `false`"), "{bad}");
    }

    #[test]
    fn under_act_the_note_says_the_agent_ends_with_act_when_it_watches_it() {
        let hour = Duration::from_secs(3600);
        let watched = act_note(Some(4242), hour, "/tmp/a/agent.sock");
        assert!(
            watched
                .starts_with("Under act: act runs the post step (after a failure or Ctrl-C too)"),
            "{watched}"
        );
        assert!(
            watched.contains("if act itself is killed before post, the agent sees within 2 s"),
            "{watched}"
        );
        assert!(
            watched.contains("(pid 4242: act, under its host executor)"),
            "{watched}"
        );
        assert!(
            watched.contains("revokes every token it minted, and ends"),
            "{watched}"
        );
        assert!(!watched.contains("serves on"), "{watched}");
        let unwatched = act_note(None, hour, "/tmp/a/agent.sock");
        assert!(
            unwatched.contains("the agent serves on until its lifetime ends (1h)"),
            "{unwatched}"
        );
        assert!(
            unwatched.contains("`APP_TOKEN_AGENT='/tmp/a/agent.sock' app-token agent --stop`"),
            "{unwatched}"
        );
    }

    #[test]
    fn git_asks_for_the_servers_origin_else_the_apis() {
        assert_eq!(
            git_origin(Some("https://github.com"), "https://api.github.com").as_deref(),
            Some("https://github.com")
        );
        assert_eq!(
            git_origin(
                Some("https://GHE.example.com/"),
                "https://ghe.example.com/api/v3"
            )
            .as_deref(),
            Some("https://ghe.example.com")
        );
        assert_eq!(
            git_origin(None, "https://ghe.example.com/api/v3").as_deref(),
            Some("https://ghe.example.com")
        );
        assert_eq!(
            git_origin(None, "http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            git_origin(Some("not a url"), "https://api.github.com"),
            None
        );
    }

    #[test]
    fn lifetimes_are_said_in_their_largest_whole_unit() {
        assert_eq!(describe_lifetime(crate::agent::DEFAULT_LIFETIME), "6h");
        assert_eq!(describe_lifetime(Duration::from_secs(5400)), "90m");
        assert_eq!(describe_lifetime(Duration::from_secs(75)), "75s");
    }
}
