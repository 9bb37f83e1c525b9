//! The action's main step: validated inputs, minted tokens, then masks, outputs, state and summary through the runner.

use std::io::Write;
use std::sync::Arc;

use serde_json::json;

use crate::http::{Client, Proxy, Settings};
use crate::mint::{self, Minted, Outcome};
use crate::runner::Runner;
use crate::{inputs, summary};

/// The state key under which main hands its tokens to post.
pub const STATE_TOKENS: &str = "tokens";

/// What post needs of one token.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Saved {
    pub token: String,
    pub expires_at: String,
}

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
    if let Some(earliest) = tokens.iter().map(|t| t.expires_at.clone()).min() {
        out.push(("expires-at", earliest));
    }
    if let Some(identity) = &outcome.identity {
        out.push(("git-user-name", identity.name.clone()));
        out.push(("git-user-email", identity.email.clone()));
    }
    out
}

/// Runs the main step; gives back the process exit code.
pub async fn run<W: Write + Send + 'static>(
    runner: Arc<Runner<W>>,
    env: &dyn Fn(&str) -> Option<String>,
    settings: Settings,
) -> i32 {
    let inputs = match inputs::read(env) {
        Ok(i) => i,
        Err(e) => {
            runner.error(&format!("Invalid input: {}", e.input), &e.to_string());
            return 1;
        }
    };
    runner.group("Requesting a GitHub App installation token");
    runner.info(&format!("App: {}; API: {}", inputs.app_id, inputs.api_url));
    for request in &inputs.requests {
        runner.info(&mint::context_note(request));
    }
    runner.end_group();

    let log = {
        let r = Arc::clone(&runner);
        mint::log_sink(move |line: &str| r.info(line))
    };
    let signer = Arc::new(inputs.signer);
    let client = match Client::new(
        &inputs.api_url,
        Some(signer),
        &Proxy::from_env(env),
        settings,
        log.clone(),
    ) {
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
    let outcome = match mint::mint(&client, &inputs.requests, log).await {
        Ok(o) => o,
        Err(e) => {
            runner.error("Could not create an installation token", &format!("{e:#}"));
            return 1;
        }
    };
    // Masks first: nothing below may print a token before the runner knows to hide it.
    for t in &outcome.tokens {
        runner.mask(&t.token);
    }
    if let Err(e) = finish(&runner, &outcome, inputs.skip_token_revoke) {
        runner.error("Could not write the step's outputs", &format!("{e:#}"));
        let failures = mint::revoke_all(
            &client,
            &outcome
                .tokens
                .iter()
                .map(|t| t.token.clone())
                .collect::<Vec<_>>(),
        )
        .await;
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
        let saved: Vec<Saved> = outcome
            .tokens
            .iter()
            .map(|t| Saved {
                token: t.token.clone(),
                expires_at: t.expires_at.clone(),
            })
            .collect();
        runner.save_state(&[(STATE_TOKENS, &serde_json::to_string(&saved)?)])?;
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
            t.owner,
            t.installation_id,
            t.describe_repositories(),
            t.expires_at
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
