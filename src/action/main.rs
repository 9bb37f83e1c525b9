//! The action's main step.
//!
//! Validated inputs, minted tokens, then masks, outputs, state and summary through the
//! runner.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::sync::Arc;

use serde_json::json;

use super::refresh::{self, Prepared};
use super::runner::{act_main_note, Runner, SavedToken, STATE_TOKENS};
use super::stage::act_drops_post_state;
use super::{inputs, summary};
use crate::cancel::Signal;
use crate::config::Config;
use crate::env::Env;
use crate::github::{Client, Settings};
use crate::mint::panic_guard;
use crate::mint::{
    self, Ledger, Minted, Outcome, OwnerKind, Raced, Request, Revocation, Selection, Session,
    Target, Unopened, Witness, CANCEL_REVOKE_LIMIT,
};
use crate::permissions;

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
    out.push(("tokens", json!(tokens_by_owner(tokens)).to_string()));
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

/// Owner → token, for the `tokens` output.
fn tokens_by_owner(tokens: &[Minted]) -> BTreeMap<String, String> {
    tokens
        .iter()
        .map(|t| (t.owner.clone(), t.token.clone()))
        .collect()
}

/// What a request asks for, for the log (never secrets).
fn context_note(req: &Request) -> String {
    let repos = match &req.selection {
        Selection::All => "all repositories the installation can access".to_string(),
        Selection::Only(r) => {
            let mut parts: Vec<String> = r.names.clone();
            parts.extend(r.ids.iter().map(|i| format!("id {i}")));
            parts.join(", ")
        }
    };
    let perms = req
        .permissions
        .as_ref()
        .map(permissions::describe)
        .unwrap_or_else(|| "the installation's permissions".into());
    let owner = match req.kind {
        OwnerKind::Account => format!("owner: {}", req.owner),
        OwnerKind::Enterprise => format!("enterprise: {}", req.owner),
    };
    format!("{owner}; repositories: {repos}; permissions: {perms}")
}

/// The repositories a token covers, for the log: `all`, or their names.
fn describe_repositories(m: &Minted) -> String {
    if m.covers_all() && m.repositories.is_empty() {
        return "all".into();
    }
    m.repositories
        .iter()
        .map(|r| r.name.clone())
        .collect::<Vec<_>>()
        .join(", ")
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

/// Presents what the session does as the runner shows it: log lines, debug lines,
/// masks (before anything else is printed about a panic, the panic message included),
/// annotations.
struct RunnerWitness<W: Write>(Arc<Runner<W>>);

impl<W: Write + Send> Witness for RunnerWitness<W> {
    fn log(&self, line: &str) {
        self.0.info(line);
    }

    fn debugs(&self) -> bool {
        self.0.debug_enabled()
    }

    fn debug(&self, line: &str) {
        self.0.debug(line);
    }

    fn hide(&self, secret: &str) {
        self.0.mask(secret);
    }

    fn cancelled(&self, signal: Signal) {
        self.0.error(
            "Cancelled",
            &format!(
                "{} received: the step stops, and revokes any token it minted",
                signal.name()
            ),
        );
    }

    /// Within [`CANCEL_REVOKE_LIMIT`], every live token was revoked at once, and every
    /// token a request still in flight brought later (GitHub may have minted one whose
    /// answer was on its way); no request was retried.
    fn revoked_after_cancel(&self, done: &Revocation) {
        for f in &done.failures {
            self.0.warning("Token not revoked", f);
        }
        if done.revoked > 0 {
            self.0
                .info(&format!("Revoked {} installation token(s).", done.revoked));
        }
        if done.timed_out {
            self.0.warning(
                "Token not revoked",
                &format!(
                    "revocation did not finish within {} s; a token minted after that expires within the hour",
                    CANCEL_REVOKE_LIMIT.as_secs()
                ),
            );
        }
    }

    fn panicked(&self, live: usize, done: &Revocation) {
        self.0
            .warning("Step panicked", &panic_guard::summary(live, done));
    }

    fn signing_not_ended(&self, why: &str) {
        self.0.warning("Signing did not end cleanly", why);
    }
}

/// Says what the step is about to ask for.
fn announce<W: Write>(runner: &Runner<W>, config: &Config) {
    runner.group("Requesting a GitHub App installation token");
    runner.info(&format!("App: {}; API: {}", config.app_id, config.api_url));
    for request in &config.requests {
        runner.info(&context_note(request));
    }
    runner.end_group();
}

/// Runs the main step; gives back the process exit code. When `cancel` resolves first,
/// the work stops, what was minted is revoked (what is still live after that is saved
/// for the post step), and the code says which signal it was.
pub async fn run<W: Write + Send + 'static>(
    runner: Arc<Runner<W>>,
    env: Env<'_>,
    settings: Settings,
    cancel: impl Future<Output = Signal>,
) -> i32 {
    // `refresh` first: a container step refuses it whatever the other inputs are.
    let read = refresh::asked(env).and_then(|lifetime| Ok((lifetime, inputs::read(env)?)));
    let (lifetime, inputs) = match read {
        Ok(read) => read,
        Err(e) => {
            runner.error(&format!("Invalid input: {}", e.input), &e.to_string());
            return 1;
        }
    };
    let config = inputs.config;
    let agent = match lifetime.map(|l| refresh::prepare(env, l, &config.api_url)) {
        None => None,
        Some(Ok(prepared)) => Some(prepared),
        Some(Err(e)) => {
            runner.error("Cannot start the token agent", &e);
            return 1;
        }
    };
    announce(&runner, &config);
    let target = Target {
        api_url: config.api_url.clone(),
        proxy: inputs.proxy,
        settings,
    };
    let witness = Arc::new(RunnerWitness(Arc::clone(&runner)));
    let session = match Session::open(&config.app_id, config.key, target, witness) {
        Ok(session) => session,
        Err(Unopened::Key(e) | Unopened::Client(e)) => {
            runner.error("Cannot reach GitHub", &format!("{e:#}"));
            return 1;
        }
    };
    let work = mint_and_deliver(
        &runner,
        &session,
        &config.requests,
        inputs.skip_token_revoke,
        agent.as_ref(),
        env,
    );
    let code = match session.race(work, cancel).await {
        Raced::Done(code) => code,
        Raced::Cancelled(signal) => {
            keep_for_post(&runner, session.ledger(), &[]);
            signal.exit_code()
        }
    };
    // What signing borrowed is given back on every path, last: a failure is a warning,
    // for the step's tokens are delivered or revoked by then.
    session.end().await;
    code
}

/// Mints, starts the token agent when `agent` is asked for, then delivers what was
/// minted (see [`deliver`]); on a failure, saves for post what main could not revoke.
async fn mint_and_deliver<W: Write>(
    runner: &Runner<W>,
    session: &Session,
    requests: &[Request],
    skip_token_revoke: bool,
    agent: Option<&Prepared>,
    env: Env<'_>,
) -> i32 {
    let outcome = match session.mint(requests).await {
        Ok(outcome) => outcome,
        Err(e) => {
            runner.error("Could not create an installation token", &format!("{e:#}"));
            keep_for_post(runner, session.ledger(), &[]);
            return 1;
        }
    };
    let left = leftovers(session.ledger(), &outcome.tokens);
    let started = match agent {
        None => None,
        Some(prepared) => match refresh::start(prepared, &outcome.tokens).await {
            Ok(started) => Some((prepared, started)),
            Err(e) => {
                runner.error("The token agent did not start", &e);
                revoke_undelivered(runner, session.client(), &outcome, &left).await;
                return 1;
            }
        },
    };
    let code = deliver(
        runner,
        session.client(),
        &outcome,
        &left,
        skip_token_revoke,
        started.as_ref(),
    )
    .await;
    let latest = outcome.tokens.iter().max_by_key(|t| t.expires_at);
    if let Some(t) = latest.filter(|_| code == 0 && !skip_token_revoke && act_drops_post_state(env))
    {
        runner.warning(
            "Not revoked under act",
            &act_main_note(&t.expires_at_text()),
        );
    }
    code
}

/// Revokes what main minted and `left`, for a step that fails after minting; warns of
/// what it could not revoke.
async fn revoke_undelivered<W: Write>(
    runner: &Runner<W>,
    client: &Client,
    outcome: &Outcome,
    left: &[SavedToken],
) {
    let mut minted: Vec<_> = outcome.tokens.iter().map(Minted::credential).collect();
    minted.extend(left.iter().map(SavedToken::credential));
    let failures = mint::revoke_all(client, &minted).await;
    for f in failures {
        runner.warning("Token not revoked", &f);
    }
}

/// Masks, then outputs, state and summary, and the `agent` handed to the later steps;
/// revokes everything (and stops the agent) if they cannot be written. `left` are main's
/// own tokens it could not revoke: they go to post too.
async fn deliver<W: Write>(
    runner: &Runner<W>,
    client: &Client,
    outcome: &Outcome,
    left: &[SavedToken],
    skip_token_revoke: bool,
    agent: Option<&(&Prepared, refresh::Agent)>,
) -> i32 {
    // Masks first: nothing below may print a token before the runner knows to hide it.
    for t in &outcome.tokens {
        runner.mask(&t.token);
    }
    for t in left {
        runner.mask(&t.token);
    }
    let handed = finish(runner, outcome, left, skip_token_revoke).and_then(|()| match agent {
        Some((prepared, agent)) => {
            let owners: Vec<&str> = outcome.tokens.iter().map(|t| t.owner.as_str()).collect();
            refresh::hand_over(runner, prepared, agent, &owners)
        }
        None => Ok(()),
    });
    if let Err(e) = handed {
        runner.error("Could not write the step's outputs", &format!("{e:#}"));
        if let Some((_, agent)) = agent {
            refresh::stop_quietly(runner, &agent.folder).await;
        }
        revoke_undelivered(runner, client, outcome, left).await;
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
            summary::account_label(t),
            t.installation_id,
            describe_repositories(t),
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
            kind: OwnerKind::Account,
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
