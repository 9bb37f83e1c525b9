//! `app-token exec`.
//!
//! A command run with a new installation token in `GH_TOKEN` and `GITHUB_TOKEN`, SIGINT and
//! SIGTERM passed on to it, and the token revoked when it ends; with `--refresh`, served
//! fresh tokens by an agent in this process for as long as it runs.

use std::ffi::{OsStr, OsString};
use std::io;
use std::process::ExitStatus;

use futures::FutureExt as _;
use tokio::process::{Child, Command};

use super::args::ExecArgs;
use super::mint::{mint_all, one_owner, prepare, session, stopped, target};
use super::{usage, Failure};
use crate::agent::endpoint::{address, base_folder, make_folder, Listener};
use crate::agent::git::git_config;
use crate::agent::serve::{finish, revoke_limit, serve, Ending, STOP_REVOKE_LIMIT};
use crate::agent::{First, Keeper, AGENT_VARIABLE};
use crate::cancel::{Signal, Signals};
use crate::config::Config;
use crate::config::SIGNING_VARIABLES;
use crate::env::var;
use crate::env::Env;
use crate::excerpt::excerpt;
use crate::github::{Client, Credential, Settings};
use crate::mint::{self, Raced, Session, CANCEL_REVOKE_LIMIT};

/// The variables the token is handed over in: `gh` reads the first, most other tools the second.
pub const TOKEN_VARIABLES: [&str; 2] = ["GH_TOKEN", "GITHUB_TOKEN"];

/// The exit status for a command that could not be started, as env(1) gives it:
/// 127 when it was not found, 126 otherwise (not executable, say).
fn not_started(e: &io::Error) -> i32 {
    if e.kind() == io::ErrorKind::NotFound {
        127
    } else {
        126
    }
}

/// The status to exit with: the command's own, or 128 + n when signal n ended it.
fn exit_code(status: ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(n) = status.signal() {
            return 128 + n;
        }
    }
    status.code().unwrap_or(1)
}

/// Passes a signal on to the child, unless it has already been reaped.
#[cfg(unix)]
fn forward(child: &Child, signal: Signal) {
    let number = match signal {
        Signal::Interrupt => libc::SIGINT,
        Signal::Terminate => libc::SIGTERM,
    };
    if let Some(pid) = child.id().and_then(|p| libc::pid_t::try_from(p).ok()) {
        // SAFETY: kill(2) touches no memory of ours. The pid is our child's, and tokio
        // gives no id once the child has been reaped, so it names no other process.
        unsafe {
            libc::kill(pid, number);
        }
    }
}

/// Elsewhere (Windows) Ctrl-C reaches every process of the console, the child included.
#[cfg(not(unix))]
fn forward(_child: &Child, _signal: Signal) {}

/// Waits for the child to end, passing every signal on to it. Gives its status, and
/// whether a signal came meanwhile.
async fn run_to_end(child: &mut Child, signals: &mut Signals) -> (io::Result<ExitStatus>, bool) {
    let mut signalled = false;
    loop {
        let signal = tokio::select! {
            status = child.wait() => return (status, signalled),
            signal = signals.recv() => signal,
        };
        signalled = true;
        forward(child, signal);
    }
}

/// Revokes the token; after a signal (when more may follow) within [`CANCEL_REVOKE_LIMIT`].
/// A token that could not be revoked is a warning on stderr, never the token itself.
async fn revoke(client: &Client, token: &Credential, expires_at: &str, hurry: bool) {
    let revoking = mint::revoke_all(client, std::slice::from_ref(token));
    let failures = if hurry {
        tokio::time::timeout(CANCEL_REVOKE_LIMIT, revoking)
            .await
            .unwrap_or_else(|_| {
                vec![format!(
                    "no answer within {} s",
                    CANCEL_REVOKE_LIMIT.as_secs()
                )]
            })
    } else {
        revoking.await
    };
    for f in failures {
        let f = crate::plain::plain_lines(&f);
        eprintln!("warning: the token was not revoked, and stays valid until {expires_at}: {f}");
    }
}

fn name(program: &OsStr) -> String {
    excerpt(&program.to_string_lossy())
}

/// Mints, runs the command, revokes; gives the command's exit status. With `--refresh`
/// an agent serves the command for as long as it runs (see [`with_agent`]).
pub(super) async fn command(
    args: &ExecArgs,
    env: Env<'_>,
    settings: Settings,
    signals: &mut Signals,
) -> Result<i32, Failure> {
    let Some((program, _)) = args.command.split_first() else {
        return Err(usage("exec needs a command to run after `--`"));
    };
    let config = prepare(&args.mint, env)?;
    one_owner(&config, "run one exec per owner")?;
    if args.refresh {
        return with_agent(args, config, env, settings, signals).await;
    }
    // Armed until the token is revoked, whatever the command does meanwhile.
    let (client, outcome, _armed) = mint_all(config, env, settings, signals.recv()).await?;
    let Some(minted) = outcome.tokens.first() else {
        return Err(Failure::Api("GitHub answered with no token".into()));
    };
    let token = minted.credential();
    let expires_at = minted.expires_at_text();
    // A signal that came after the token and before the command: it is not started.
    if let Some(signal) = signals.recv().now_or_never() {
        revoke(&client, &token, &expires_at, true).await;
        return Err(Failure::Cancelled(
            signal,
            format!("{} received: {} not started", signal.name(), name(program)),
        ));
    }
    let mut child = match spawn(&args.command, &minted.token, &[]) {
        Ok(child) => child,
        Err(failure) => {
            revoke(&client, &token, &expires_at, false).await;
            return Err(failure);
        }
    };
    #[cfg(debug_assertions)]
    crate::fault::inject("command-running");
    let (status, signalled) = run_to_end(&mut child, signals).await;
    revoke(&client, &token, &expires_at, signalled).await;
    status
        .map(exit_code)
        .map_err(|e| Failure::Api(format!("lost track of {}: {e}", name(program))))
}

/// Starts `command` with `token` in [`TOKEN_VARIABLES`] and `extra` variables set. The
/// child inherits this process's environment and terminal, less whatever could sign as
/// the app: the key, and the credentials a keyless signer uses. This process keeps none
/// of them in its environment store from now on (the values taken out at start are
/// forgotten; a signer, if one is kept, is in memory no other process may read).
fn spawn(command: &[OsString], token: &str, extra: &[(String, String)]) -> Result<Child, Failure> {
    let Some((program, program_args)) = command.split_first() else {
        return Err(usage("exec needs a command to run after `--`"));
    };
    crate::harden::forget_withheld();
    let mut child = Command::new(program);
    child.args(program_args);
    for variable in SIGNING_VARIABLES {
        child.env_remove(variable);
    }
    for variable in TOKEN_VARIABLES {
        child.env(variable, token);
    }
    child.envs(extra.iter().map(|(k, v)| (k, v)));
    child.spawn().map_err(|e| {
        Failure::NotStarted(
            not_started(&e),
            format!("cannot run {}: {e}", name(program)),
        )
    })
}

/// `exec --refresh`: the session stays open while the command runs, serving it (and
/// anything it starts) fresh tokens through an agent in this process: `APP_TOKEN_AGENT`
/// names it, and git is configured to ask it. When the command ends, every token the
/// session minted is revoked, the first included.
async fn with_agent(
    args: &ExecArgs,
    config: Config,
    env: Env<'_>,
    settings: Settings,
    signals: &mut Signals,
) -> Result<i32, Failure> {
    let program = &args.command[0];
    let target = target(&config.api_url, env, settings)?;
    let session = session(&config.app_id, config.key, target)?;
    let minted = match session
        .race(session.mint(&config.requests), signals.recv())
        .await
    {
        Raced::Done(Ok(outcome)) => outcome.tokens.into_iter().next(),
        Raced::Done(Err(e)) => {
            session.end().await;
            return Err(Failure::Api(format!(
                "could not create an installation token: {e:#}"
            )));
        }
        Raced::Cancelled(signal) => {
            let left = session.ledger().live().len();
            session.end().await;
            return Err(stopped(signal, left));
        }
    };
    let Some(minted) = minted else {
        session.end().await;
        return Err(Failure::Api("GitHub answered with no token".into()));
    };
    let folder = make_folder(&base_folder(env));
    let listening = folder.and_then(|f| Listener::bind(&address(&f)).map(|l| (f, l)));
    let (folder, listener) = match listening {
        Ok(both) => both,
        Err(e) => {
            revoke_all_and_end(session).await;
            return Err(Failure::Api(format!("cannot start the agent: {e}")));
        }
    };
    let keeper = Keeper::new(
        session,
        &config.requests,
        &[First::of(&minted)],
        &config.api_url,
    );
    let extra = agent_variables(&address(&folder), &config.api_url, env);
    let mut child = match extra.and_then(|extra| spawn(&args.command, &minted.token, &extra)) {
        Ok(child) => child,
        Err(failure) => {
            finish(keeper, &folder, Ending::Done, STOP_REVOKE_LIMIT).await;
            return Err(failure);
        }
    };
    let mut ran = None;
    let until = async {
        ran = Some(run_to_end(&mut child, signals).await);
        Ending::Done
    };
    let ending = serve(&keeper, &listener, &folder, until).await;
    let hurry = matches!(ran, Some((_, true)));
    let limit = if hurry {
        CANCEL_REVOKE_LIMIT
    } else {
        revoke_limit(&ending)
    };
    let done = finish(keeper, &folder, ending, limit).await;
    for f in &done.failures {
        let f = crate::plain::plain_lines(f);
        eprintln!("warning: a token was not revoked, and stays valid until it expires: {f}");
    }
    // Stopped from outside (`app-token agent --stop`): the command runs on, unserved.
    let (status, _) = match ran {
        Some(ran) => ran,
        None => run_to_end(&mut child, signals).await,
    };
    status
        .map(exit_code)
        .map_err(|e| Failure::Api(format!("lost track of {}: {e}", name(program))))
}

/// Revokes what `session` minted, then ends it.
async fn revoke_all_and_end(session: Session) {
    session.revoke_everything(STOP_REVOKE_LIMIT).await;
    session.end().await;
}

/// `APP_TOKEN_AGENT` and git's configuration, for the command.
fn agent_variables(
    address: &str,
    api_url: &str,
    env: Env<'_>,
) -> Result<Vec<(String, String)>, Failure> {
    let mut out = vec![(AGENT_VARIABLE.to_string(), address.to_string())];
    let program = std::env::current_exe()
        .map_err(|e| Failure::Api(format!("cannot find this program: {e}")))?;
    if let Some((scheme, host)) = super::git_origin(api_url) {
        out.extend(
            git_config(
                var(env, "GIT_CONFIG_COUNT").as_deref(),
                &format!("{scheme}://{host}"),
                &program.display().to_string(),
            )
            .map_err(usage)?,
        );
    }
    Ok(out)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::process::ExitStatusExt as _;

    use super::*;

    #[test]
    fn the_commands_status_or_128_plus_its_signal() {
        assert_eq!(exit_code(ExitStatus::from_raw(0)), 0);
        assert_eq!(exit_code(ExitStatus::from_raw(7 << 8)), 7);
        assert_eq!(exit_code(ExitStatus::from_raw(libc::SIGTERM)), 143);
        assert_eq!(exit_code(ExitStatus::from_raw(libc::SIGKILL)), 137);
    }

    #[test]
    fn the_key_variable_is_among_those_withheld() {
        assert!(SIGNING_VARIABLES.contains(&super::super::PRIVATE_KEY_ENV));
        for tokens in TOKEN_VARIABLES {
            assert!(!SIGNING_VARIABLES.contains(&tokens));
        }
    }

    #[test]
    fn a_command_not_started_exits_as_env_does() {
        assert_eq!(not_started(&io::Error::from(io::ErrorKind::NotFound)), 127);
        assert_eq!(
            not_started(&io::Error::from(io::ErrorKind::PermissionDenied)),
            126
        );
    }
}
