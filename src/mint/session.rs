//! One session of acting as the app, the same for every front end.
//!
//! A [`Session`] holds the app's signer, GitHub's client that signs with it, the
//! [`Ledger`] of what it minted, and the panic guard armed over both. Its front end
//! mints through it ([`Session::mint`], as often as it needs), races its work against a
//! cancel ([`Session::race`]: on a signal every live token is revoked, within
//! [`CANCEL_REVOKE_LIMIT`]), and ends it ([`Session::end`]): signing ends last, once
//! GitHub's tokens are delivered or revoked, for ending it may wait on a key service
//! while the tokens are what must not outlive a cancel. What is left after the end can
//! use tokens and no longer sign as the app. The session prints nothing: it tells its
//! front end's [`Witness`].

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::panic_guard::{self, Guard, Target};
use super::revoke::{revoke_on_cancel, CANCEL_REVOKE_LIMIT};
use super::witness::Witness;
use super::{Ledger, Outcome, Request, Revocation};
use crate::cancel::Signal;
use crate::github::{AppJwt, Client, Log};
use crate::jwt::Signer;
use crate::sign::{DebugSink, SecretSink};
use crate::transport::Proxy;

/// How long giving back what signing borrowed may take.
pub const END_SIGNING_LIMIT: Duration = Duration::from_secs(5);

/// The app's key, made a signer when a session opens (`config::Key` is one).
pub trait AppKey {
    /// The signer for app JWTs; a key service's client is made with GitHub's proxies and
    /// connect timeout, `on_secret` learns the secrets it comes to hold, and `on_debug`
    /// (with debug logging on) its debug lines.
    fn into_signer(
        self,
        app_id: &str,
        proxy: &Proxy,
        connect_timeout: Duration,
        on_secret: SecretSink,
        on_debug: Option<DebugSink>,
    ) -> anyhow::Result<Signer>;
}

/// The signer for `key`, reaching its key service as `target` reaches GitHub; the
/// secrets it is lent go to `witness` to hide, and its debug lines (what the job's OIDC
/// token shows each exchange) to `witness`'s debug log when it keeps one.
pub fn signer(
    app_id: &str,
    key: impl AppKey,
    target: &Target,
    witness: &Arc<dyn Witness>,
) -> anyhow::Result<Arc<Signer>> {
    let hide = Arc::clone(witness);
    let on_secret: SecretSink = Arc::new(move |secret: &str| hide.hide(secret));
    let on_debug = witness.debugs().then(|| {
        let debug = Arc::clone(witness);
        Arc::new(move |line: &str| debug.debug(line)) as DebugSink
    });
    key.into_signer(
        app_id,
        &target.proxy,
        target.settings.connect_timeout,
        on_secret,
        on_debug,
    )
    .map(Arc::new)
}

/// Gives back what the key's backend borrowed (the Vault token of a login is revoked),
/// within [`END_SIGNING_LIMIT`]; `witness` hears if it did not end cleanly.
pub async fn end_signing(signer: &Signer, witness: &dyn Witness) {
    let why = match tokio::time::timeout(END_SIGNING_LIMIT, signer.finish()).await {
        Ok(Ok(())) => return,
        Ok(Err(e)) => format!("{e:#}"),
        Err(_) => format!(
            "{}: giving back what signing borrowed did not finish within {} s",
            signer.describe_key(),
            END_SIGNING_LIMIT.as_secs()
        ),
    };
    witness.signing_not_ended(&why);
}

/// Why a session did not open.
#[derive(Debug)]
pub enum Unopened {
    /// The key could not be made a signer.
    Key(anyhow::Error),
    /// GitHub's client could not be made.
    Client(anyhow::Error),
}

/// How work raced against a cancel ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Raced<T> {
    /// The work finished first.
    Done(T),
    /// The signal came first: the work stopped, and what was minted has been revoked
    /// (the witness heard how that went).
    Cancelled(Signal),
}

/// What is left of a session once signing has ended.
pub struct Ended {
    /// GitHub's client, without the app: it can use tokens, and not sign as the app.
    pub client: Arc<Client>,
    /// What the session minted and has not revoked.
    pub ledger: Ledger,
    /// Keeps the ledger armed against panics until it is dropped.
    pub guard: Guard,
}

/// The app's signer, GitHub's client, the ledger and the panic guard, for one front end.
pub struct Session {
    signer: Arc<Signer>,
    client: Arc<Client>,
    ledger: Ledger,
    guard: Guard,
    witness: Arc<dyn Witness>,
    log: Log,
    /// How many held the signer besides the session when it opened.
    held_outside: usize,
    /// A cancel came: a token request may still hold the client, and so the signer.
    cancelled: AtomicBool,
}

/// `witness`'s `line` method as a log sink for the client and the minting.
fn sink(witness: &Arc<dyn Witness>, line: fn(&dyn Witness, &str)) -> Log {
    let witness = Arc::clone(witness);
    super::log_sink(move |text: &str| line(&*witness, text))
}

impl Session {
    /// Makes `key` the signer, then the session (see [`Session::with_signer`]).
    pub fn open(
        app_id: &str,
        key: impl AppKey,
        target: Target,
        witness: Arc<dyn Witness>,
    ) -> Result<Self, Unopened> {
        let signer = signer(app_id, key, &target, &witness).map_err(Unopened::Key)?;
        Self::with_signer(signer, target, witness).map_err(Unopened::Client)
    }

    /// A session that signs with `signer` (one a front end keeps, to open another
    /// session later), reaching GitHub at `target`; its ledger armed against panics,
    /// with the signer, from now until the [`Guard`] that [`Session::end`] gives back
    /// is dropped.
    pub fn with_signer(
        signer: Arc<Signer>,
        target: Target,
        witness: Arc<dyn Witness>,
    ) -> anyhow::Result<Self> {
        let held_outside = Arc::strong_count(&signer) - 1;
        let log = sink(&witness, |w, line| w.log(line));
        let app = Arc::clone(&signer) as Arc<dyn AppJwt>;
        let client = Client::new(
            &target.api_url,
            Some(app),
            &target.proxy,
            target.settings.clone(),
            Arc::clone(&log),
        )?;
        let client = if witness.debugs() {
            client.with_debug(sink(&witness, |w, line| w.debug(line)))
        } else {
            client
        };
        let ledger = Ledger::default();
        let guard = panic_guard::arm(&ledger, target, Arc::clone(&witness))
            .with_signer(Arc::clone(&signer));
        Ok(Self {
            signer,
            client: Arc::new(client),
            ledger,
            guard,
            witness,
            log,
            held_outside,
            cancelled: AtomicBool::new(false),
        })
    }

    /// GitHub's client, signing as the app.
    pub fn client(&self) -> &Arc<Client> {
        &self.client
    }

    /// Every token the session minted and has not revoked.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Mints what `requests` ask for (see [`super::mint`]), recorded in the ledger.
    pub async fn mint(&self, requests: &[Request]) -> anyhow::Result<Outcome> {
        super::mint(&self.client, requests, &self.ledger, Arc::clone(&self.log)).await
    }

    /// `work` raced against `cancel`. On a signal the work stops, the witness hears of
    /// it, and every token minted is revoked, those still on their way included (see
    /// [`revoke_on_cancel`]), within [`CANCEL_REVOKE_LIMIT`]; the client then starts no
    /// request but revocations.
    pub async fn race<T>(
        &self,
        work: impl Future<Output = T>,
        cancel: impl Future<Output = Signal>,
    ) -> Raced<T> {
        let signal = tokio::select! {
            done = work => return Raced::Done(done),
            signal = cancel => signal,
        };
        self.cancelled.store(true, Ordering::Relaxed);
        self.witness.cancelled(signal);
        let done = revoke_on_cancel(&self.client, &self.ledger, CANCEL_REVOKE_LIMIT).await;
        self.witness.revoked_after_cancel(&done);
        Raced::Cancelled(signal)
    }

    /// Revokes every token the session minted, those whose requests are still in flight
    /// included, within `limit` (see [`revoke_on_cancel`]); the client then starts no
    /// request but revocations. For a front end that ends on its own terms (an agent told
    /// to stop): what a cancel does, without the cancel's words to the witness.
    pub async fn revoke_everything(&self, limit: Duration) -> Revocation {
        self.cancelled.store(true, Ordering::Relaxed);
        revoke_on_cancel(&self.client, &self.ledger, limit).await
    }

    /// Ends signing (the witness hears if it did not end cleanly), then lets the signer
    /// go: the panic guard no longer holds it, and the client given back cannot sign.
    pub async fn end(self) -> Ended {
        let Session {
            signer,
            client,
            ledger,
            guard,
            witness,
            held_outside,
            cancelled,
            ..
        } = self;
        end_signing(&signer, &*witness).await;
        guard.drop_signer();
        let tokens_only = Arc::new(client.without_app());
        drop(client);
        debug_assert!(
            cancelled.into_inner() || Arc::strong_count(&signer) == held_outside + 1,
            "the session holds the signer nowhere but here once its work is done"
        );
        drop(signer);
        Ended {
            client: tokens_only,
            ledger,
            guard,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use anyhow::anyhow;
    use futures::future::BoxFuture;

    use super::*;
    use crate::github::Settings;
    use crate::mint::Revocation;
    use crate::sign::Sign;

    /// What happened, in order.
    type Events = Arc<Mutex<Vec<&'static str>>>;

    fn record(events: &Events, what: &'static str) {
        events.lock().unwrap().push(what);
    }

    /// A key whose clean-up records that it ran, and fails.
    struct Recorded(Events);

    impl Sign for Recorded {
        fn sign<'a>(&'a self, _: &'a [u8]) -> BoxFuture<'a, anyhow::Result<Vec<u8>>> {
            Box::pin(async { Ok(Vec::new()) })
        }
        fn describe(&self) -> String {
            "a recorded key".into()
        }
        fn finish(&self) -> BoxFuture<'_, anyhow::Result<()>> {
            Box::pin(async {
                record(&self.0, "signing ended");
                Err(anyhow!("the key service said no"))
            })
        }
    }

    /// A witness that records what it heard.
    struct Heard(Events);

    impl Witness for Heard {
        fn log(&self, _: &str) {}
        fn cancelled(&self, signal: Signal) {
            assert_eq!(signal, Signal::Interrupt);
            record(&self.0, "cancelled");
        }
        fn revoked_after_cancel(&self, done: &Revocation) {
            assert_eq!((done.revoked, done.failures.len()), (0, 0));
            record(&self.0, "revoked");
        }
        fn panicked(&self, _: usize, _: &Revocation) {}
        fn signing_not_ended(&self, why: &str) {
            assert_eq!(why, "the key service said no");
            record(&self.0, "warned");
        }
    }

    /// Opens a session with a [`Recorded`] key, races work that never ends unless
    /// `cancelled` is false, and ends it; gives how the race ended, what happened in
    /// order, and whether the session let every hold on its signer go.
    fn run(cancelled: bool) -> (Raced<&'static str>, Vec<&'static str>, bool) {
        let events = Events::default();
        let signer = Arc::new(Signer::new(Box::new(Recorded(Arc::clone(&events))), "1"));
        let target = Target {
            api_url: "http://127.0.0.1:1".into(),
            proxy: Proxy::default(),
            settings: Settings::default(),
        };
        let witness = Arc::new(Heard(Arc::clone(&events)));
        let (raced, ended) = crate::runtime().unwrap().block_on(async {
            let session = Session::with_signer(Arc::clone(&signer), target, witness).unwrap();
            let raced = session
                .race(
                    async {
                        if cancelled {
                            std::future::pending::<()>().await;
                        }
                        "worked"
                    },
                    async {
                        if !cancelled {
                            std::future::pending::<()>().await;
                        }
                        Signal::Interrupt
                    },
                )
                .await;
            (raced, session.end().await)
        });
        assert!(ended.ledger.live().is_empty());
        let let_go = Arc::strong_count(&signer) == 1;
        drop(ended);
        let events = events.lock().unwrap().clone();
        (raced, events, let_go)
    }

    #[test]
    fn a_cancel_revokes_before_signing_ends_and_signing_ends_on_every_path() {
        assert_eq!(
            run(true),
            (
                Raced::Cancelled(Signal::Interrupt),
                vec!["cancelled", "revoked", "signing ended", "warned"],
                true
            )
        );
        assert_eq!(
            run(false),
            (Raced::Done("worked"), vec!["signing ended", "warned"], true)
        );
    }
}
