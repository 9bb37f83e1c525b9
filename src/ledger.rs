//! The ledger of this process's live tokens: every token minted and not yet revoked, and the token requests still in flight, for a cancelled step to settle and revoke.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::github::Credential;

/// Every token this process minted and has not revoked yet, helpers included, and how
/// many token requests are still in flight: what a cancelled step waits for and revokes
/// before it exits. Clones share one ledger.
#[derive(Debug, Clone, Default)]
pub struct Ledger(Arc<LedgerState>);

#[derive(Debug, Default)]
struct LedgerState {
    /// Live tokens, oldest first, and the number of token requests in flight.
    book: Mutex<(Vec<Credential>, usize)>,
    settled: Notify,
}

/// A token request in flight; dropping it (answered or not) settles it.
pub struct InFlight(Ledger);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.with(|(_, pending)| *pending -= 1);
        self.0 .0.settled.notify_waiters();
    }
}

impl Ledger {
    fn with<T>(&self, f: impl FnOnce(&mut (Vec<Credential>, usize)) -> T) -> T {
        let mut book = self.0.book.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut book)
    }

    /// A token request starts; the guard settles it when dropped.
    pub fn begin(&self) -> InFlight {
        self.with(|(_, pending)| *pending += 1);
        InFlight(self.clone())
    }

    pub fn add(&self, token: Credential) {
        self.with(|(live, _)| live.push(token));
    }

    pub fn remove(&self, token: &str) {
        self.with(|(live, _)| live.retain(|t| t.token != token));
    }

    /// The live tokens, oldest first.
    pub fn live(&self) -> Vec<Credential> {
        self.with(|(live, _)| live.clone())
    }

    /// Waits until no token request is in flight: each either minted a token (now in
    /// the ledger) or failed.
    pub async fn settled(&self) {
        loop {
            let notified = self.0.settled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.with(|(_, pending)| *pending == 0) {
                return;
            }
            notified.await;
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
        ledger.add(Credential::new("ghs_a"));
        shared.add(Credential::new("ghs_b"));
        ledger.remove("ghs_a");
        assert_eq!(shared.live(), [Credential::new("ghs_b")]);
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
}
