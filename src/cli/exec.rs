//! `app-token exec`.
//!
//! A command run with a new installation token in `GH_TOKEN` and `GITHUB_TOKEN`, SIGINT and
//! SIGTERM passed on to it, and the token revoked when it ends.

use std::ffi::OsStr;
use std::io;
use std::process::ExitStatus;

use futures::FutureExt as _;
use tokio::process::{Child, Command};

use super::args::ExecArgs;
use super::mint::{mint_all, one_owner, prepare};
use super::{usage, Failure};
use crate::cancel::{Signal, Signals};
use crate::config::SIGNING_VARIABLES;
use crate::env::Env;
use crate::excerpt::excerpt;
use crate::github::{Client, Credential, Settings};
use crate::mint::{self, CANCEL_REVOKE_LIMIT};

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

/// Mints, runs the command, revokes; gives the command's exit status.
pub(super) async fn command(
    args: &ExecArgs,
    env: Env<'_>,
    settings: Settings,
    signals: &mut Signals,
) -> Result<i32, Failure> {
    let Some((program, program_args)) = args.command.split_first() else {
        return Err(usage("exec needs a command to run after `--`"));
    };
    let config = prepare(&args.mint, env)?;
    one_owner(&config, "run one exec per owner")?;
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
    // The child inherits this process's environment and terminal, less whatever could
    // sign as the app: the key, and the credentials a keyless signer uses. This process
    // keeps none of them while it runs: the signer is gone (see `mint_all`), and so are
    // the values taken out of the environment at start.
    crate::harden::forget_withheld();
    let mut command = Command::new(program);
    command.args(program_args);
    for variable in SIGNING_VARIABLES {
        command.env_remove(variable);
    }
    for variable in TOKEN_VARIABLES {
        command.env(variable, &minted.token);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            revoke(&client, &token, &expires_at, false).await;
            return Err(Failure::NotStarted(
                not_started(&e),
                format!("cannot run {}: {e}", name(program)),
            ));
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
