//! Minting from the command line.
//!
//! Flags to the one configuration, the key from a file or the environment, the tokens
//! minted with Ctrl-C handled, and the default command that prints them.

use std::future::Future;
use std::io::Read as _;
use std::sync::Arc;

use super::args::{ApiArgs, AppArgs, MintArgs};
use super::output::{deliver, json_answer, StderrWitness};
use super::{given, usage, Failure, PRIVATE_KEY_ENV};
use crate::cancel::Signal;
use crate::config::{self, Config, Field, Given, Key, KeyGiven, Plan, Setting};
use crate::env::{var, Env};
use crate::excerpt::excerpt_name;
use crate::github::{Client, Settings};
use crate::mint::panic_guard::Guard;
use crate::mint::{Outcome, Raced, Session, Target, Unopened};
use crate::plain::plain_json;

/// The private key's PEM text and where it came from: `--private-key-file`, else `APP_TOKEN_PRIVATE_KEY`.
/// At most [`config::MAX_KEY_BYTES`] of it are read (more is refused: no PEM is that
/// long), and its path is quoted as an excerpt.
fn private_key(args: &AppArgs, env: Env<'_>) -> Result<(String, String), Failure> {
    match &args.private_key_file {
        Some(path) => {
            let length = path.as_os_str().len();
            if length > config::MAX_PATH_BYTES {
                return Err(usage(format!(
                    "--private-key-file: is {length} bytes long; at most {} bytes are read",
                    config::MAX_PATH_BYTES
                )));
            }
            let shown = excerpt_name(&path.display().to_string());
            let mut text = String::new();
            std::fs::File::open(path)
                .and_then(|f| f.take(config::MAX_KEY_BYTES as u64 + 1).read_to_string(&mut text))
                .map_err(|e| usage(format!("--private-key-file: cannot read {shown}: {e}")))?;
            if text.len() > config::MAX_KEY_BYTES {
                return Err(usage(format!(
                    "--private-key-file: {shown} is more than {} bytes long: not a PEM private key",
                    config::MAX_KEY_BYTES
                )));
            }
            Ok((text, format!("in {shown}")))
        }
        None => match var(env, PRIVATE_KEY_ENV) {
            Some(text) => Ok((text, format!("in {PRIVATE_KEY_ENV}"))),
            None => Err(usage(format!(
                "the app's private key is required: --private-key-file PATH, or the PEM text in {PRIVATE_KEY_ENV}"
            ))),
        },
    }
}

/// The app and the API as given; `api` is `None` for a command that calls no API.
fn app_given(app: &AppArgs, api: Option<&ApiArgs>, env: Env<'_>) -> Given {
    Given {
        app_id: given(&app.app_id),
        api_url: api.and_then(|a| given(&a.api_url)),
        github_api_url: api.and_then(|_| var(env, "GITHUB_API_URL")),
        ..Given::default()
    }
}

/// Adds the app's key to a checked plan: a PEM, or a key held by a key service.
fn with_key(plan: Plan, app: &AppArgs, env: Env<'_>) -> Result<Config, Failure> {
    let mut key = KeyGiven::environment(env).with_settings(|s| given(app.keys.get(s.setting)));
    // The key last: the cheaper mistakes are reported without touching the file. With a
    // service's key, a PEM is looked for only to say that both were given.
    let pem_given = app.private_key_file.is_some() || var(env, PRIVATE_KEY_ENV).is_some();
    let mut from = String::new();
    if pem_given || !key.names_a_service_key() {
        let (text, found) = private_key(app, env)?;
        key[Setting::PrivateKey] = Some(text);
        from = found;
    }
    plan.with_key(key).map_err(|e| match e.field {
        // The key's messages never quote the key.
        Field::Key(Setting::PrivateKey) => usage(format!("the private key {from} {}", e.message)),
        _ => e.into(),
    })
}

/// Checks every flag and plans the tokens; makes no request.
pub(super) fn prepare(args: &MintArgs, env: Env<'_>) -> Result<Config, Failure> {
    let plan = config::plan(&Given {
        owner: given(&args.owner),
        repositories: args.repositories.join("\n"),
        permissions: given(&args.permissions),
        permission_levels: Vec::new(),
        installation_id: given(&args.installation_id),
        enterprise: given(&args.enterprise),
        token_format: given(&args.token_format),
        current_repository: var(env, "GITHUB_REPOSITORY"),
        ..app_given(&args.app, Some(&args.api), env)
    })?;
    with_key(plan, &args.app, env)
}

/// Checks the app's flags for a command that acts as the app and mints nothing; plans no token.
pub(super) fn prepare_app(
    app: &AppArgs,
    api: Option<&ApiArgs>,
    env: Env<'_>,
) -> Result<Config, Failure> {
    let plan = config::app_plan(&app_given(app, api, env))?;
    with_key(plan, app, env)
}

/// One token cannot cross accounts: a usage error, saying `remedy`, when `config` plans several.
pub(super) fn one_owner(config: &Config, remedy: &str) -> Result<(), Failure> {
    if config.requests.len() <= 1 {
        return Ok(());
    }
    let owners: Vec<&str> = config.requests.iter().map(|r| r.owner.as_str()).collect();
    Err(usage(format!(
        "the repositories span {} owners ({}), and one token cannot cross accounts: {remedy}",
        owners.len(),
        owners.join(", ")
    )))
}

/// Where GitHub is for a command: `api_url`, through the proxies the environment names
/// (read here, once), with `settings`.
pub(super) fn target(api_url: &str, env: Env<'_>, settings: Settings) -> Result<Target, Failure> {
    Ok(Target {
        api_url: api_url.to_string(),
        proxy: config::proxy(env)?,
        settings,
    })
}

/// A session that signs as the app with `key` and reaches GitHub at `target`; what it
/// does is said on stderr.
pub(super) fn session(app_id: &str, key: Key, target: Target) -> Result<Session, Failure> {
    Session::open(app_id, key, target, Arc::new(StderrWitness)).map_err(|e| match e {
        Unopened::Key(e) => Failure::Api(format!("{e:#}")),
        Unopened::Client(e) => Failure::Api(format!("cannot reach GitHub: {e:#}")),
    })
}

/// A signal stopped the command; `left` tokens it minted could not be revoked.
pub(super) fn stopped(signal: Signal, left: usize) -> Failure {
    let mut message = format!("{} received: stopped", signal.name());
    if left > 0 {
        message.push_str(&format!(
            "; {left} token(s) could not be revoked and expire within the hour"
        ));
    }
    Failure::Cancelled(signal, message)
}

/// Mints what `config` plans. A signal first revokes every token minted so far, then
/// signing ends (in that order, as in the action). Until the [`Guard`] given back is
/// dropped (once the tokens are delivered, or revoked), a panic revokes them. Nothing
/// given back can sign as the app: the client can only use tokens, and the signer, with
/// whatever credentials its key service lent it, is gone (see [`Session::end`]).
pub(super) async fn mint_all(
    config: Config,
    env: Env<'_>,
    settings: Settings,
    cancel: impl Future<Output = Signal>,
) -> Result<(Arc<Client>, Outcome, Guard), Failure> {
    let target = target(&config.api_url, env, settings)?;
    let session = session(&config.app_id, config.key, target)?;
    let raced = session.race(session.mint(&config.requests), cancel).await;
    let left = session.ledger().live().len();
    let ended = session.end().await;
    match raced {
        Raced::Done(Ok(outcome)) => Ok((ended.client, outcome, ended.guard)),
        Raced::Done(Err(e)) => Err(Failure::Api(format!(
            "could not create an installation token: {e:#}"
        ))),
        Raced::Cancelled(signal) => Err(stopped(signal, left)),
    }
}

/// The default command: mint, then print the token (or, with `--json`, everything).
pub(super) async fn command(
    args: &MintArgs,
    json: bool,
    env: Env<'_>,
    settings: Settings,
    cancel: impl Future<Output = Signal>,
) -> Result<(), Failure> {
    let config = prepare(args, env)?;
    if !json {
        one_owner(&config, "add --json to get one token per owner")?;
    }
    let (client, outcome, _armed) = mint_all(config, env, settings, cancel).await?;
    let text = if json {
        format!("{}\n", plain_json(&json_answer(&outcome).to_string()))
    } else {
        match outcome.tokens.as_slice() {
            [only] => format!("{}\n", only.token),
            _ => return Err(Failure::Api("GitHub answered with no token".into())),
        }
    };
    deliver(&client, &outcome, &text).await
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::args::Cli;
    use crate::repositories;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("app-token").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn repositories_repeat_and_join() {
        let cli = parse(&[
            "--app-id",
            "1",
            "--repositories",
            "a,b",
            "--repositories",
            "c",
        ]);
        let entries = repositories::parse(&cli.mint.repositories.join("\n")).unwrap();
        assert_eq!(entries.len(), 3);
    }
}
