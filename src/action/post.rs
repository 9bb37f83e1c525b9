//! The post step.
//!
//! Stops main's token agent when it started one (see [`super::refresh`]), then revokes
//! the tokens main created, unless told not to or they have expired. Never fails the
//! job, unless it is cancelled.

use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};

use super::runner::{Runner, SavedToken, ACT_POST_NO_STATE};
use super::stage::act_drops_post_state;
use super::{inputs, refresh};
use crate::cancel::Signal;
use crate::env::Env;
use crate::github::{Client, Credential, Settings};
use crate::mint::{self, CANCEL_REVOKE_LIMIT};
use crate::transport::Proxy;

/// Splits saved tokens into those already expired at `now` and those still live.
pub fn by_expiry(saved: &[SavedToken], now: DateTime<Utc>) -> (Vec<&SavedToken>, Vec<&SavedToken>) {
    saved.iter().partition(|s| s.expires_at <= now)
}

/// Runs the post step; exits 0, with warnings for what went wrong, unless a signal
/// comes from `signals` first: then it goes on revoking (retries included) for up to
/// [`CANCEL_REVOKE_LIMIT`], or until a SIGTERM after it, and the exit code says which
/// signal came first.
pub async fn run<W: Write + Send + 'static>(
    runner: Arc<Runner<W>>,
    env: Env<'_>,
    settings: Settings,
    signals: impl Stream<Item = Signal> + Unpin,
) -> i32 {
    let agent = refresh::saved_folder(&runner, env);
    let live = to_revoke(&runner, env);
    if agent.is_none() && live.is_none() {
        return 0;
    }
    let client = client(&runner, env, settings);
    if let Some(folder) = agent {
        refresh::stop(&runner, &folder, client.as_ref()).await;
    }
    let (Some(live), Some(client)) = (live, client) else {
        return 0;
    };
    let tokens: Vec<Credential> = live.iter().map(SavedToken::credential).collect();
    revoke(&runner, &client, &tokens, signals).await
}

/// The client post revokes with; `None` after a warning when it cannot be made.
fn client<W: Write + Send + 'static>(
    runner: &Arc<Runner<W>>,
    env: Env<'_>,
    settings: Settings,
) -> Option<Client> {
    let api_url = match inputs::api_url(env) {
        Ok(u) => u,
        Err(e) => {
            runner.warning("Token not revoked", &e.to_string());
            return None;
        }
    };
    let log = {
        let r = Arc::clone(runner);
        mint::log_sink(move |line: &str| r.info(line))
    };
    match Client::new(&api_url, None, &Proxy::from_env(env), settings, log) {
        Ok(c) => Some(c),
        Err(e) => {
            runner.warning("Token not revoked", &format!("{e:#}"));
            None
        }
    }
}

/// The tokens main saved that post is to revoke, masked; `None` when there are none
/// (main saved none, skip-token-revoke keeps them, they have expired), said why.
fn to_revoke<W: Write>(runner: &Runner<W>, env: Env<'_>) -> Option<Vec<SavedToken>> {
    let mut saved = match SavedToken::load(env) {
        Ok(Some(saved)) => saved,
        Ok(None)
            if act_drops_post_state(env) && !inputs::skip_token_revoke(env).unwrap_or(false) =>
        {
            runner.info(ACT_POST_NO_STATE);
            return None;
        }
        Ok(None) => {
            runner.info(
                "No token to revoke: the main step did not create one, or skip-token-revoke is set.",
            );
            return None;
        }
        Err(e) => {
            runner.warning("Token not revoked", &format!("{e}; nothing was revoked"));
            return None;
        }
    };
    for s in &saved {
        runner.mask(&s.token);
    }
    if inputs::skip_token_revoke(env).unwrap_or(false) {
        runner.info("skip-token-revoke is set: the token stays valid until it expires.");
        // Main's own tokens that it could not revoke are revoked all the same.
        saved.retain(|s| s.helper);
        if saved.is_empty() {
            return None;
        }
    }
    let (expired, live) = by_expiry(&saved, Utc::now());
    if !expired.is_empty() {
        runner.info(&format!(
            "{} token(s) already expired: nothing to revoke for them.",
            expired.len()
        ));
    }
    if live.is_empty() {
        return None;
    }
    Some(live.into_iter().cloned().collect())
}

/// Revokes `tokens` and says how that went; gives back the exit code. A signal from
/// `signals` before the end lets the revocation go on for up to [`CANCEL_REVOKE_LIMIT`],
/// or until a SIGTERM after it.
async fn revoke<W: Write>(
    runner: &Runner<W>,
    client: &Client,
    tokens: &[Credential],
    mut signals: impl Stream<Item = Signal> + Unpin,
) -> i32 {
    let revoking = mint::revoke_all(client, tokens);
    tokio::pin!(revoking);
    let first = tokio::select! {
        failures = &mut revoking => {
            report(runner, tokens.len(), &failures);
            return 0;
        }
        Some(signal) = signals.next() => signal,
    };
    runner.warning(
        "Cancelled",
        &format!(
            "{} received: revoking goes on for up to {} s",
            first.name(),
            CANCEL_REVOKE_LIMIT.as_secs()
        ),
    );
    let terminated = async {
        while let Some(signal) = signals.next().await {
            if signal == Signal::Terminate {
                return;
            }
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        done = tokio::time::timeout(CANCEL_REVOKE_LIMIT, &mut revoking) => match done {
            Ok(failures) => report(runner, tokens.len(), &failures),
            Err(_) => runner.warning(
                "Token not revoked",
                &format!(
                    "revocation did not finish within {} s of {}; the token(s) expire within the hour",
                    CANCEL_REVOKE_LIMIT.as_secs(),
                    first.name()
                ),
            ),
        },
        () = terminated => runner.warning(
            "Token not revoked",
            "SIGTERM received before the revocation finished; the token(s) expire within the hour",
        ),
    }
    first.exit_code()
}

/// Says what revoking `count` tokens came to.
fn report<W: Write>(runner: &Runner<W>, count: usize, failures: &[String]) {
    for f in failures {
        runner.warning(
            "Token not revoked",
            &format!("{f}; it expires on its own within the hour"),
        );
    }
    let revoked = count - failures.len();
    if revoked > 0 {
        runner.info(&format!("Revoked {revoked} installation token(s)."));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry() {
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        let saved = [
            SavedToken {
                token: "old".into(),
                expires_at: at("2026-01-01T11:59:59Z"),
                issued_at: None,
                helper: false,
            },
            SavedToken {
                token: "new".into(),
                expires_at: at("2026-01-01T12:00:01Z"),
                issued_at: None,
                helper: false,
            },
        ];
        let (expired, live) = by_expiry(&saved, at("2026-01-01T12:00:00Z"));
        assert_eq!(expired[0].token, "old");
        assert_eq!(live[0].token, "new");
        assert_eq!((expired.len(), live.len()), (1, 1));
    }
}
