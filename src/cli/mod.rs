//! The command line.
//!
//! The same binary and library as the action, for terminals and scripts; this module
//! dispatches its commands and owns their exit statuses.
//!
//! What is particular to a terminal lives in this folder: where the key comes from (a
//! file or `APP_TOKEN_PRIVATE_KEY`, never a flag value), what is printed (only the
//! answer on stdout; log lines and errors on stderr) and the exit status (2 for bad
//! usage or input, 1 when GitHub refused or could not be reached, 128 + the signal's
//! number when interrupted; `exec` ends with its command's). The CLI never revokes a
//! token it printed: whoever asked for it owns it (`exec` prints none, and revokes its own).

mod agent;
mod args;
mod completions;
mod exec;
mod git_credential;
mod installations;
mod jwt;
mod mint;
mod output;
mod revoke;

use std::ffi::OsString;

use clap::Parser;

use crate::cancel::{Signal, Signals};
use crate::config::{ConfigError, Field, Setting};
use crate::env::Env;
use crate::github::Settings;
use args::{Cli, Command};

pub use agent::agent_plan;
pub use exec::TOKEN_VARIABLES;
pub use git_credential::git_origin;

/// Where the private key comes from when `--private-key-file` is not given.
pub const PRIVATE_KEY_ENV: &str = "APP_TOKEN_PRIVATE_KEY";

/// Exit status for bad usage or input (clap uses it for its own usage errors too).
pub const EXIT_USAGE: i32 = 2;
/// Exit status when GitHub refused, or could not be reached.
pub const EXIT_API: i32 = 1;

/// Why a command failed, and so which exit status it ends with.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad usage or input: exit 2.
    Usage(String),
    /// GitHub refused, or could not be reached: exit 1.
    Api(String),
    /// A signal stopped the command: exit 128 + its number.
    Cancelled(Signal, String),
    /// `exec`'s command could not be started: 127 when it was not found, else 126 (as env(1)).
    NotStarted(i32, String),
}

impl Failure {
    fn code(&self) -> i32 {
        match self {
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Api(_) => EXIT_API,
            Failure::Cancelled(signal, _) => signal.exit_code(),
            Failure::NotStarted(code, _) => *code,
        }
    }

    fn message(&self) -> &str {
        match self {
            Failure::Usage(m)
            | Failure::Api(m)
            | Failure::Cancelled(_, m)
            | Failure::NotStarted(_, m) => m,
        }
    }
}

pub(crate) fn usage(message: impl Into<String>) -> Failure {
    Failure::Usage(message.into())
}

/// The flag that carries a field (a key setting's is `--` and its input's name).
fn flag_of(field: Field) -> String {
    match field {
        Field::AppId => "--app-id".into(),
        Field::Key(Setting::PrivateKey) => "the private key".into(),
        Field::Key(setting) => format!("--{}", setting.name()),
        Field::ApiUrl => "--api-url (or GITHUB_API_URL)".into(),
        Field::Owner => "--owner".into(),
        Field::Repositories => "--repositories".into(),
        Field::Permissions | Field::Permission(_) => "--permissions".into(),
        Field::InstallationId => "--installation-id".into(),
        Field::Enterprise => "--enterprise".into(),
        Field::TokenFormat => "--token-format".into(),
        Field::Environment(name) => name.into(),
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        let message = e.message_with(flag_of);
        usage(format!("{}: {message}", flag_of(e.field)))
    }
}

/// A flag given as an empty string (an unset shell variable) counts as not given.
fn given(value: &Option<String>) -> Option<String> {
    crate::env::given(value.as_deref())
}

/// Runs the command line on `args` (the program name first); gives back the exit status.
pub fn run<I, T>(args: I, env: Env<'_>, settings: Settings) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version on stdout with 0; usage errors on stderr with 2.
            let _ = e.print();
            return e.exit_code();
        }
    };
    let result = match crate::runtime() {
        // The signal handlers are installed inside the runtime, before any request.
        Ok(rt) => {
            rt.block_on(async { dispatch(cli, &argv, env, settings, Signals::install()).await })
        }
        Err(e) => Err(Failure::Api(format!("cannot start: {e}"))),
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            // GitHub's words among them: shown, never obeyed (terminal escapes, workflow commands).
            eprintln!("error: {}", crate::plain::plain_lines(failure.message()));
            failure.code()
        }
    }
}

/// Runs the command; gives the exit status of a success (`exec`'s is its command's).
async fn dispatch(
    cli: Cli,
    argv: &[OsString],
    env: Env<'_>,
    settings: Settings,
    mut signals: Signals,
) -> Result<i32, Failure> {
    let cancel = signals.recv();
    let done = match cli.command {
        None => mint::command(&cli.mint, cli.json, env, settings, cancel).await,
        Some(Command::Revoke(args)) => revoke::command(&args, env, settings).await,
        Some(Command::GitCredential(args)) => {
            git_credential::command(args.operation, &args.mint, env, settings, cancel).await
        }
        Some(Command::Installations(args)) => {
            installations::command(&args, env, settings, cancel).await
        }
        Some(Command::Jwt(args)) => jwt::command(&args, env, settings).await,
        Some(Command::Completions(args)) => completions::command(&args),
        Some(Command::Agent(args)) => agent::command(&args, argv, env).await,
        Some(Command::Token(args)) => agent::token(&args, env).await,
        Some(Command::Exec(args)) => {
            drop(cancel);
            return exec::command(&args, env, settings, &mut signals).await;
        }
    };
    done.map(|()| 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_name_flags() {
        let f: Failure = ConfigError {
            field: Field::ApiUrl,
            message: "has no host".into(),
            refs: vec![],
        }
        .into();
        assert_eq!(f.code(), 2);
        assert_eq!(f.message(), "--api-url (or GITHUB_API_URL): has no host");
        let f: Failure = ConfigError {
            field: Field::Owner,
            message: "give {}, {}, or both".into(),
            refs: vec![Field::Owner, Field::Repositories],
        }
        .into();
        assert_eq!(
            f.message(),
            "--owner: give --owner, --repositories, or both"
        );
        assert_eq!(flag_of(Field::InstallationId), "--installation-id");
        assert_eq!(flag_of(Field::TokenFormat), "--token-format");
    }

    #[test]
    fn blank_flags_count_as_not_given() {
        assert_eq!(given(&Some("  ".into())), None);
        assert_eq!(given(&Some(" acme ".into())).as_deref(), Some("acme"));
        assert_eq!(given(&None), None);
    }
}
