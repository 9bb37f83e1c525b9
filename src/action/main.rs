//! The action's main step: validated inputs, minted tokens, then masks, outputs, state and summary through the runner.

use std::future::Future;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::runner::{act_main_note, Runner, SavedToken, STATE_TOKENS};
use super::stage::act_drops_post_state;
use super::{inputs, summary};
use crate::cancel::Signal;
use crate::env::Env;
use crate::github::{AppJwt, Client, Credential, Settings};
use crate::mint::panic_guard::{self, Target, Witness};
use crate::mint::{self, Ledger, Minted, Outcome, Revocation};
use crate::sign::SecretSink;

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

/// Revokes what a cancelled step minted, within [`CANCEL_REVOKE_LIMIT`]: every live
/// token at once, and every token a request still in flight brings later (GitHub may
/// have minted one whose answer is on its way); no request is retried. What is still
/// live after that is saved for the post step. Gives back the exit code.
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
    let done = mint::revoke_on_cancel(client, ledger, CANCEL_REVOKE_LIMIT).await;
    for f in &done.failures {
        runner.warning("Token not revoked", f);
    }
    if done.revoked > 0 {
        runner.info(&format!("Revoked {} installation token(s).", done.revoked));
    }
    if done.timed_out {
        runner.warning(
            "Token not revoked",
            &format!(
                "revocation did not finish within {} s; a token minted after that expires within the hour",
                CANCEL_REVOKE_LIMIT.as_secs()
            ),
        );
    }
    keep_for_post(runner, ledger, &[]);
    signal.exit_code()
}

/// The tokens still live in `ledger` that are not among `delivered`: main's own (helpers
/// whose revocation failed, a token whose answer could not be read, one a cancel could
/// not revoke), for post to try again.
fn leftovers(ledger: &Ledger, delivered: &[Minted]) -> Vec<SavedToken> {
    ledger
        .entries()
        .into_iter()
        .filter(|l| !delivered.iter().any(|m| m.token == l.credential.token))
        .map(|l| SavedToken {
            token: l.credential.token,
            // GitHub's installation tokens expire one hour after they are issued.
            expires_at: l.expires_at.unwrap_or_else(|| {
                l.credential.issued_at.unwrap_or_else(chrono::Utc::now) + chrono::Duration::hours(1)
            }),
            issued_at: l.credential.issued_at,
            helper: true,
        })
        .collect()
}

/// Masks and saves for post the tokens main could not revoke (see [`leftovers`]), when
/// the step ends without outputs.
fn keep_for_post<W: Write>(runner: &Runner<W>, ledger: &Ledger, delivered: &[Minted]) {
    let left = leftovers(ledger, delivered);
    if left.is_empty() {
        return;
    }
    for t in &left {
        runner.mask(&t.token);
    }
    let saved =
        SavedToken::encode(&left).and_then(|state| runner.save_state(&[(STATE_TOKENS, &state)]));
    match saved {
        Ok(()) => runner.info(&format!(
            "{} token(s) this step could not revoke are saved for the post step to revoke.",
            left.len()
        )),
        Err(e) => runner.warning(
            "Token not revoked",
            &format!("{e:#}; {} token(s) expire within the hour", left.len()),
        ),
    }
}

/// Tells the runner what a panic came to: masks the live tokens before anything else is
/// printed (the panic message included), then a warning.
struct RunnerWitness<W: Write>(Arc<Runner<W>>);

impl<W: Write + Send> Witness for RunnerWitness<W> {
    fn hide(&self, tokens: &[Credential]) {
        for t in tokens {
            self.0.mask(&t.token);
        }
    }

    fn report(&self, live: usize, done: &Revocation) {
        self.0
            .warning("Step panicked", &panic_guard::summary(live, done));
    }

    fn signing_not_ended(&self, why: &str) {
        self.0.warning("Signing did not end cleanly", why);
    }
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
    let proxy = inputs.proxy;
    let mask: SecretSink = {
        let r = Arc::clone(&runner);
        Arc::new(move |secret: &str| r.mask(secret))
    };
    let target = Target {
        api_url: config.api_url.clone(),
        proxy: proxy.clone(),
        settings: settings.clone(),
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
    // Until the step ends, a panic revokes every live token (see `panic_guard`).
    let armed = panic_guard::arm(
        &ledger,
        target,
        Arc::new(RunnerWitness(Arc::clone(&runner))),
    );
    let _armed = match &signer {
        Ok(signer) => armed.with_signer(Arc::clone(signer)),
        Err(_) => armed,
    };
    let work = async {
        match mint::mint(&client, &config.requests, &ledger, log).await {
            Ok(outcome) => {
                let left = leftovers(&ledger, &outcome.tokens);
                let code =
                    deliver(&runner, &client, &outcome, &left, inputs.skip_token_revoke).await;
                let latest = outcome.tokens.iter().max_by_key(|t| t.expires_at);
                if let Some(t) = latest
                    .filter(|_| code == 0 && !inputs.skip_token_revoke && act_drops_post_state(env))
                {
                    runner.warning(
                        "Not revoked under act",
                        &act_main_note(&t.expires_at_text()),
                    );
                }
                code
            }
            Err(e) => {
                runner.error("Could not create an installation token", &format!("{e:#}"));
                keep_for_post(&runner, &ledger, &[]);
                1
            }
        }
    };
    // What signing borrowed is given back on every path, last: a failure is a warning,
    // for the step's tokens are delivered or revoked by then.
    mint::run_then_end_signing(
        work,
        cancel,
        |signal| cancelled(&runner, &client, &ledger, signal),
        signer.as_deref().ok(),
        |why| runner.warning("Signing did not end cleanly", why),
    )
    .await
}

/// Masks, then outputs, state and summary; revokes everything if they cannot be written.
/// `left` are main's own tokens it could not revoke: they go to post too.
async fn deliver<W: Write>(
    runner: &Runner<W>,
    client: &Client,
    outcome: &Outcome,
    left: &[SavedToken],
    skip_token_revoke: bool,
) -> i32 {
    // Masks first: nothing below may print a token before the runner knows to hide it.
    for t in &outcome.tokens {
        runner.mask(&t.token);
    }
    for t in left {
        runner.mask(&t.token);
    }
    if let Err(e) = finish(runner, outcome, left, skip_token_revoke) {
        runner.error("Could not write the step's outputs", &format!("{e:#}"));
        let mut minted: Vec<_> = outcome.tokens.iter().map(Minted::credential).collect();
        minted.extend(left.iter().map(SavedToken::credential));
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
    left: &[SavedToken],
    skip_token_revoke: bool,
) -> anyhow::Result<()> {
    let mut saved: Vec<SavedToken> = Vec::new();
    if !skip_token_revoke {
        saved.extend(outcome.tokens.iter().map(|t| SavedToken {
            token: t.token.clone(),
            expires_at: t.expires_at,
            issued_at: Some(t.issued_at),
            helper: false,
        }));
    }
    saved.extend(left.iter().cloned());
    if !saved.is_empty() {
        runner.save_state(&[(STATE_TOKENS, &SavedToken::encode(&saved)?)])?;
    }
    if !left.is_empty() {
        runner.info(&format!(
            "{} helper token(s) this step could not revoke are saved for the post step to revoke.",
            left.len()
        ));
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

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::github::Credential;

    #[test]
    fn leftovers_are_the_live_tokens_not_delivered_flagged_for_post() {
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        let ledger = Ledger::default();
        ledger.add(
            Credential::issued("ghs_final", at("2030-01-01T10:00:00Z")),
            Some(at("2030-01-01T11:00:00Z")),
        );
        ledger.add(
            Credential::issued("ghs_helper", at("2030-01-01T10:00:00Z")),
            Some(at("2030-01-01T10:59:00Z")),
        );
        ledger.add(
            Credential::issued("ghs_unreadable", at("2030-01-01T10:00:01Z")),
            None,
        );
        let delivered = Minted {
            owner: "acme".into(),
            kind: mint::OwnerKind::Account,
            installation_id: 1,
            app_slug: "bot".into(),
            token: "ghs_final".into(),
            issued_at: at("2030-01-01T10:00:00Z"),
            expires_at: at("2030-01-01T11:00:00Z"),
            permissions: Default::default(),
            repositories: vec![],
            repository_selection: None,
        };
        let left = leftovers(&ledger, &[delivered]);
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(left.iter().all(|t| t.helper));
        assert_eq!(left[0].token, "ghs_helper");
        assert_eq!(left[0].expires_at, at("2030-01-01T10:59:00Z"));
        assert_eq!(
            left[1].expires_at,
            at("2030-01-01T11:00:01Z"),
            "an unknown expiry is an hour after issue"
        );
        assert_eq!(leftovers(&ledger, &[]).len(), 3);
    }
}
