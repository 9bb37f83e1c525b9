//! The action's main step: validated inputs, minted tokens, then masks, outputs, state and summary through the runner.

use std::future::Future;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::cancel::Signal;
use crate::github::{AppJwt, Client, Settings};
use crate::jwt::Signer;
use crate::mint::{self, Ledger, Minted, Outcome};
use crate::runner::{Env, Runner, SavedToken, STATE_TOKENS};
use crate::sign::SecretSink;
use crate::transport::Proxy;
use crate::{inputs, summary};

fn outputs(outcome: &Outcome) -> Vec<(&'static str, String)> {
    let tokens = &outcome.tokens;
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let single: Option<&Minted> = if tokens.len() == 1 {
        tokens.first()
    } else {
        None
    };
    if let Some(m) = single {
        out.push(("token", m.token.clone()));
        out.push(("installation-id", m.installation_id.to_string()));
        out.push(("permissions", json!(m.permissions).to_string()));
    }
    out.push(("tokens", json!(mint::tokens_by_owner(tokens)).to_string()));
    if let Some(first) = tokens.first() {
        out.push(("app-slug", first.app_slug.clone()));
    }
    let ids: Vec<u64> = tokens.iter().flat_map(mint::repository_ids).collect();
    out.push(("repository-ids", json!(ids).to_string()));
    if let Some(earliest) = tokens.iter().min_by_key(|t| t.expires_at) {
        out.push(("expires-at", earliest.expires_at_text()));
    }
    if let Some(identity) = &outcome.identity {
        out.push(("git-user-name", identity.name.clone()));
        if let Some(email) = &identity.email {
            out.push(("git-user-email", email.clone()));
        }
    }
    out
}

/// How long a cancelled step spends revoking what it minted. The runner sends SIGTERM
/// 7.5 s after SIGINT; on a live connection a revocation takes a round trip.
pub const CANCEL_REVOKE_LIMIT: Duration = Duration::from_secs(5);

/// Revokes what a cancelled step minted, within [`CANCEL_REVOKE_LIMIT`]: first it lets
/// the token requests in flight settle (GitHub may have minted a token whose answer is
/// on its way), then it revokes every live token. Gives back the exit code.
pub async fn cancelled<W: Write>(
    runner: &Runner<W>,
    client: &Client,
    ledger: &Ledger,
    signal: Signal,
) -> i32 {
    runner.error(
        "Cancelled",
        &format!(
            "{} received: the step stops, and revokes any token it minted",
            signal.name()
        ),
    );
    let revoking = async {
        ledger.settled().await;
        let live = ledger.live();
        let failures = mint::revoke_recorded(client, &live, ledger).await;
        (live.len(), failures)
    };
    match tokio::time::timeout(CANCEL_REVOKE_LIMIT, revoking).await {
        Ok((live, failures)) => {
            for f in &failures {
                runner.warning(
                    "Token not revoked",
                    &format!("{f}; it expires within the hour"),
                );
            }
            let revoked = live - failures.len();
            if revoked > 0 {
                runner.info(&format!("Revoked {revoked} installation token(s)."));
            }
        }
        Err(_) => runner.warning(
            "Token not revoked",
            &format!(
                "revocation did not finish within {} s; any token minted expires within the hour",
                CANCEL_REVOKE_LIMIT.as_secs()
            ),
        ),
    }
    signal.exit_code()
}

/// Runs the main step; gives back the process exit code. When `cancel` resolves first,
/// the work stops, what was minted is revoked, and the code says which signal it was.
pub async fn run<W: Write + Send + 'static>(
    runner: Arc<Runner<W>>,
    env: Env<'_>,
    settings: Settings,
    cancel: impl Future<Output = Signal>,
) -> i32 {
    let inputs = match inputs::read(env) {
        Ok(i) => i,
        Err(e) => {
            runner.error(&format!("Invalid input: {}", e.input), &e.to_string());
            return 1;
        }
    };
    let config = inputs.config;
    runner.group("Requesting a GitHub App installation token");
    runner.info(&format!("App: {}; API: {}", config.app_id, config.api_url));
    for request in &config.requests {
        runner.info(&mint::context_note(request));
    }
    runner.end_group();

    let log = {
        let r = Arc::clone(&runner);
        mint::log_sink(move |line: &str| r.info(line))
    };
    let proxy = Proxy::from_env(env);
    let mask: SecretSink = {
        let r = Arc::clone(&runner);
        Arc::new(move |secret: &str| r.mask(secret))
    };
    let signer = config
        .key
        .into_signer(&config.app_id, &proxy, settings.connect_timeout, mask)
        .map(Arc::new);
    let client = match signer
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .and_then(|signer| {
            Client::new(
                &config.api_url,
                Some(Arc::clone(signer) as Arc<dyn AppJwt>),
                &proxy,
                settings,
                log.clone(),
            )
        }) {
        Ok(c) if runner.debug_enabled() => {
            let r = Arc::clone(&runner);
            c.with_debug(mint::log_sink(move |line: &str| r.debug(line)))
        }
        Ok(c) => c,
        Err(e) => {
            runner.error("Cannot reach GitHub", &format!("{e:#}"));
            return 1;
        }
    };
    let client = Arc::new(client);
    let ledger = Ledger::default();
    let work = async {
        match mint::mint(&client, &config.requests, &ledger, log).await {
            Ok(outcome) => deliver(&runner, &client, &outcome, inputs.skip_token_revoke).await,
            Err(e) => {
                runner.error("Could not create an installation token", &format!("{e:#}"));
                1
            }
        }
    };
    let finished = tokio::select! {
        code = work => Ok(code),
        signal = cancel => Err(signal),
    };
    let code = match finished {
        Ok(code) => code,
        Err(signal) => cancelled(&runner, &client, &ledger, signal).await,
    };
    if let Ok(signer) = &signer {
        end_signing(&runner, signer).await;
    }
    code
}

/// How long giving back what signing borrowed may take.
const END_SIGNING_LIMIT: Duration = Duration::from_secs(5);

/// Gives back what the key's backend borrowed for the step (the Vault token of a login
/// is revoked), on every path; a failure is a warning, for the step's tokens are
/// delivered or revoked by then.
async fn end_signing<W: Write>(runner: &Runner<W>, signer: &Signer) {
    let message = match tokio::time::timeout(END_SIGNING_LIMIT, signer.finish()).await {
        Ok(Ok(())) => return,
        Ok(Err(e)) => format!("{e:#}"),
        Err(_) => format!(
            "{}: giving back what signing borrowed did not finish within {} s",
            signer.describe_key(),
            END_SIGNING_LIMIT.as_secs()
        ),
    };
    runner.warning("Signing did not end cleanly", &message);
}

/// Masks, then outputs, state and summary; revokes everything if they cannot be written.
async fn deliver<W: Write>(
    runner: &Runner<W>,
    client: &Client,
    outcome: &Outcome,
    skip_token_revoke: bool,
) -> i32 {
    // Masks first: nothing below may print a token before the runner knows to hide it.
    for t in &outcome.tokens {
        runner.mask(&t.token);
    }
    if let Err(e) = finish(runner, outcome, skip_token_revoke) {
        runner.error("Could not write the step's outputs", &format!("{e:#}"));
        let minted: Vec<_> = outcome.tokens.iter().map(Minted::credential).collect();
        let failures = mint::revoke_all(client, &minted).await;
        for f in failures {
            runner.warning("Token not revoked", &f);
        }
        return 1;
    }
    0
}

fn finish<W: Write>(
    runner: &Runner<W>,
    outcome: &Outcome,
    skip_token_revoke: bool,
) -> anyhow::Result<()> {
    if !skip_token_revoke {
        let saved: Vec<SavedToken> = outcome
            .tokens
            .iter()
            .map(|t| SavedToken {
                token: t.token.clone(),
                expires_at: t.expires_at,
                issued_at: Some(t.issued_at),
            })
            .collect();
        runner.save_state(&[(STATE_TOKENS, &SavedToken::encode(&saved)?)])?;
    }
    let outputs = outputs(outcome);
    let pairs: Vec<(&str, &str)> = outputs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    runner.set_outputs(&pairs)?;
    runner.append_summary(&summary::markdown(&outcome.tokens))?;
    for warning in &outcome.warnings {
        runner.warning("app-token", warning);
    }
    for t in &outcome.tokens {
        runner.info(&format!(
            "Created a token for {} (installation {}), repositories: {}; expires at {}",
            t.account_label(),
            t.installation_id,
            t.describe_repositories(),
            t.expires_at_text()
        ));
    }
    if outcome.tokens.len() > 1 {
        let owners: Vec<&str> = outcome.tokens.iter().map(|t| t.owner.as_str()).collect();
        runner.notice(
            "One token per owner",
            &format!(
                "The repositories span {} owners ({}); one token cannot cross accounts, so there is one each. \
                 The `token` output is not set: use `fromJSON(steps.<id>.outputs.tokens)['<owner>']`.",
                owners.len(),
                owners.join(", ")
            ),
        );
    }
    if skip_token_revoke {
        runner.info("skip-token-revoke is set: the token stays valid until it expires.");
    }
    Ok(())
}
