//! Revoking what was minted.
//!
//! A list of tokens at once ([`revoke_all`], [`revoke_recorded`]), and after a cancel
//! every live token of a ledger, those still on their way included, within a bound
//! ([`revoke_on_cancel`]).

use std::collections::HashSet;
use std::time::Duration;

use futures::future::join_all;
use futures::stream::{FuturesUnordered, StreamExt};

use super::Ledger;
use crate::github::{self, Client, Credential};

/// How long revoking after a cancel may take. The runner sends SIGTERM 7.5 s after
/// SIGINT; on a live connection a revocation takes a round trip.
pub const CANCEL_REVOKE_LIMIT: Duration = Duration::from_secs(5);

/// Revokes tokens, concurrently; gives back one message per failure.
pub async fn revoke_all(client: &Client, tokens: &[Credential]) -> Vec<String> {
    revoke_recorded(client, tokens, &Ledger::default()).await
}

/// [`revoke_all`], crossing each revoked token off `ledger`.
pub async fn revoke_recorded(
    client: &Client,
    tokens: &[Credential],
    ledger: &Ledger,
) -> Vec<String> {
    let results = join_all(tokens.iter().map(|t| async move {
        let result = github::revoke_token(client, t).await;
        if result.is_ok() {
            ledger.remove(&t.token);
        }
        result
    }))
    .await;
    results
        .into_iter()
        .filter_map(Result::err)
        .map(|e| format!("{e:#}"))
        .collect()
}

/// What revoking after a cancel came to.
#[derive(Debug, Default)]
pub struct Revocation {
    pub revoked: usize,
    /// One message per token GitHub would not revoke (it stays in the ledger).
    pub failures: Vec<String>,
    /// The limit passed with requests or revocations unfinished.
    pub timed_out: bool,
}

/// After a cancel, within `limit`: stops every request but revocations (see
/// [`Client::cancel`]), revokes every live token at once, and each token that a request
/// still in flight brings later, until no request is in flight and every revocation
/// has come back. A request waiting to retry gives up at once, so what was minted is
/// revoked within a round trip whatever the other requests are doing.
pub async fn revoke_on_cancel(client: &Client, ledger: &Ledger, limit: Duration) -> Revocation {
    client.cancel();
    let deadline = tokio::time::Instant::now() + limit;
    let mut out = Revocation::default();
    let mut tried = HashSet::new();
    let mut revoking = FuturesUnordered::new();
    let mut changes = ledger.changes();
    loop {
        for token in ledger.live() {
            if tried.insert(token.token.clone()) {
                revoking.push(async move {
                    let result = github::revoke_token(client, &token).await;
                    if result.is_ok() {
                        ledger.remove(&token.token);
                    }
                    result
                });
            }
        }
        if revoking.is_empty() && ledger.in_flight() == 0 {
            return out;
        }
        tokio::select! {
            () = changes.next() => {}
            Some(result) = revoking.next(), if !revoking.is_empty() => match result {
                Ok(()) => out.revoked += 1,
                Err(e) => out.failures.push(format!("{e:#}")),
            },
            () = tokio::time::sleep_until(deadline) => {
                out.timed_out = true;
                return out;
            }
        }
    }
}
