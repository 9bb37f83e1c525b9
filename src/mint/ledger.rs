//! The ledger of this process's live tokens.
//!
//! Every token minted and not yet revoked, and the token requests still in flight, for a
//! cancelled step to settle and revoke.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::github::Credential;

/// A live token, and when it expires when GitHub said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub credential: Credential,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Every token this process minted and has not revoked yet, helpers included, and how
/// many token requests are still in flight: what a cancelled step waits for and revokes
/// before it exits. Clones share one ledger.
#[derive(Debug, Clone)]
pub struct Ledger(Arc<LedgerState>);

impl Default for Ledger {
    fn default() -> Self {
        Self(Arc::new(LedgerState {
            book: Mutex::default(),
            changes: watch::Sender::new(0),
        }))
    }
}

#[derive(Debug)]
struct LedgerState {
    /// Live tokens, oldest first, and the number of token requests in flight.
    book: Mutex<(Vec<Live>, usize)>,
    /// Bumped at every change of the book, for [`Ledger::changes`].
    changes: watch::Sender<u64>,
}

/// A token request in flight; dropping it (answered or not) settles it.
pub struct InFlight(Ledger);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.with(|(_, pending)| *pending -= 1);
    }
}

/// Wakes a waiter at each change of the ledger after it subscribed (see [`Ledger::changes`]).
pub struct Changes(watch::Receiver<u64>);

impl Changes {
    /// Resolves at the next change not seen yet (at once if one happened since the last call).
    pub async fn next(&mut self) {
        if self.0.changed().await.is_err() {
            // The ledger cannot go away while a clone of it is borrowed: never in practice.
            std::future::pending::<()>().await;
        }
    }
}

impl Ledger {
    fn with<T>(&self, f: impl FnOnce(&mut (Vec<Live>, usize)) -> T) -> T {
        let out = {
            let mut book = self.0.book.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut book)
        };
        self.0.changes.send_modify(|n| *n = n.wrapping_add(1));
        out
    }

    fn read<T>(&self, f: impl FnOnce(&(Vec<Live>, usize)) -> T) -> T {
        let book = self.0.book.lock().unwrap_or_else(|p| p.into_inner());
        f(&book)
    }

    /// A token request starts; the guard settles it when dropped.
    pub fn begin(&self) -> InFlight {
        self.with(|(_, pending)| *pending += 1);
        InFlight(self.clone())
    }

    /// A token is live from now until [`Ledger::remove`].
    pub fn add(&self, token: Credential, expires_at: Option<DateTime<Utc>>) {
        self.with(|(live, _)| {
            live.push(Live {
                credential: token,
                expires_at,
            })
        });
    }

    pub fn remove(&self, token: &str) {
        self.with(|(live, _)| live.retain(|t| t.credential.token != token));
    }

    /// Crosses off the tokens that expired by `now` (nothing is left to revoke of them);
    /// gives how many.
    pub fn drop_expired(&self, now: DateTime<Utc>) -> usize {
        self.with(|(live, _)| {
            let before = live.len();
            live.retain(|t| t.expires_at.is_none_or(|at| at > now));
            before - live.len()
        })
    }

    /// The live tokens, oldest first.
    pub fn live(&self) -> Vec<Credential> {
        self.read(|(live, _)| live.iter().map(|t| t.credential.clone()).collect())
    }

    /// The live tokens with their expiry, oldest first.
    pub fn entries(&self) -> Vec<Live> {
        self.read(|(live, _)| live.clone())
    }

    /// How many token requests are in flight.
    pub fn in_flight(&self) -> usize {
        self.read(|(_, pending)| *pending)
    }

    /// Every change from now on: read the ledger after subscribing, then wait for the
    /// next change, and no change is missed.
    pub fn changes(&self) -> Changes {
        let mut rx = self.0.changes.subscribe();
        rx.mark_unchanged();
        Changes(rx)
    }

    /// Waits until no token request is in flight: each either minted a token (now in
    /// the ledger) or failed.
    pub async fn settled(&self) {
        let mut changes = self.changes();
        while self.in_flight() > 0 {
            changes.next().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn tokens_are_live_until_removed() {
        let ledger = Ledger::default();
        let shared = ledger.clone();
        ledger.add(Credential::new("ghs_a"), None);
        shared.add(Credential::new("ghs_b"), None);
        ledger.remove("ghs_a");
        assert_eq!(shared.live(), [Credential::new("ghs_b")]);
    }

    #[test]
    fn expired_tokens_are_crossed_off_and_those_of_unknown_expiry_kept() {
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        let ledger = Ledger::default();
        ledger.add(Credential::new("ghs_old"), Some(at("2030-01-01T10:00:00Z")));
        ledger.add(Credential::new("ghs_new"), Some(at("2030-01-01T11:00:00Z")));
        ledger.add(Credential::new("ghs_unknown"), None);
        assert_eq!(ledger.drop_expired(at("2030-01-01T10:00:00Z")), 1);
        assert_eq!(
            ledger.live(),
            [Credential::new("ghs_new"), Credential::new("ghs_unknown")]
        );
    }

    #[test]
    fn settled_waits_for_every_request_in_flight() {
        let rt = crate::runtime().unwrap();
        rt.block_on(async {
            let ledger = Ledger::default();
            let first = ledger.begin();
            let second = ledger.begin();
            let waiting = tokio::time::timeout(Duration::from_millis(50), ledger.settled());
            assert!(waiting.await.is_err(), "settled with requests in flight");
            drop(first);
            let waiting = tokio::time::timeout(Duration::from_millis(50), ledger.settled());
            assert!(waiting.await.is_err(), "settled with one request in flight");
            let answered = async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                drop(second);
            };
            let (settled, ()) = tokio::join!(
                tokio::time::timeout(Duration::from_secs(5), ledger.settled()),
                answered
            );
            assert!(settled.is_ok(), "the last answer settles the ledger");
        });
    }

    #[test]
    fn a_change_after_subscribing_is_never_missed() {
        let rt = crate::runtime().unwrap();
        rt.block_on(async {
            let ledger = Ledger::default();
            let mut changes = ledger.changes();
            let idle = tokio::time::timeout(Duration::from_millis(30), changes.next());
            assert!(idle.await.is_err(), "no change yet");
            // A change made before the wait starts still wakes it.
            ledger.add(Credential::new("ghs_a"), None);
            let woke = tokio::time::timeout(Duration::from_secs(5), changes.next());
            assert!(woke.await.is_ok());
        });
    }
}
