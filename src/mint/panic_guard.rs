//! No token outlives a panic.
//!
//! The ledgers a front end arms, and the panic hook that revokes their live tokens (then
//! has an armed signer give back what it borrowed, a Vault login's token) on a fresh thread
//! and runtime, within a bound, before the panic is reported.
//!
//! A session arms its [`Ledger`] with what a client needs to reach GitHub again (the
//! API URL, the proxies, the [`Settings`]) and its front end's [`Witness`]; the
//! binary calls [`install`] once. At a panic the hook cannot use the step's runtime
//! (it is single-threaded, and its thread is the one panicking), nor its pooled
//! connections: a fresh thread builds a runtime and a client of its own, revokes every
//! live token of every armed ledger, and the panicking thread waits for it at most
//! [`PANIC_REVOKE_LIMIT`] and a little, then lets the previous hook print the panic. In
//! the release binary every panic then aborts; in a debug build a panic that a task's
//! runtime catches still revokes (it is a bug all the same). A token request still on the
//! wire at the panic cannot be settled: its answer would come to the dying runtime.

use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use super::ledger::Ledger;
use super::revoke::{revoke_recorded, Revocation};
use super::witness::Witness;
use crate::github::{Client, Credential, Settings};
use crate::jwt::Signer;
use crate::mint;
use crate::transport::Proxy;

/// How long revoking after a panic may take, from the panic to the revocations' answers.
pub const PANIC_REVOKE_LIMIT: Duration = Duration::from_secs(3);

/// How much longer than [`PANIC_REVOKE_LIMIT`] the panicking thread waits, for the
/// witness to report after a revocation cut short.
const REPORT_MARGIN: Duration = Duration::from_millis(500);

/// Where an armed ledger's tokens are revoked: what a fresh client needs.
#[derive(Debug, Clone)]
pub struct Target {
    pub api_url: String,
    pub proxy: Proxy,
    pub settings: Settings,
}

struct Armed {
    id: u64,
    ledger: Ledger,
    target: Target,
    witness: Arc<dyn Witness>,
    /// Gives back what it borrowed for the step, once the tokens are revoked.
    signer: Option<Arc<Signer>>,
}

/// The armed ledgers, and the next id.
static ARMED: Mutex<(Vec<Armed>, u64)> = Mutex::new((Vec::new(), 0));

fn armed<T>(f: impl FnOnce(&mut (Vec<Armed>, u64)) -> T) -> T {
    let mut armed = ARMED.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut armed)
}

/// A ledger armed against panics; dropping it disarms it (the tokens left in it are
/// then someone else's: delivered, or revoked).
#[must_use = "the ledger is disarmed when this is dropped"]
pub struct Guard(u64);

impl Guard {
    /// At a panic, `signer` also gives back what it borrowed for the step (a Vault
    /// login's token is revoked), after the ledger's tokens, within the same bound.
    pub fn with_signer(self, signer: Arc<Signer>) -> Self {
        armed(|(list, _)| {
            if let Some(a) = list.iter_mut().find(|a| a.id == self.0) {
                a.signer = Some(signer);
            }
        });
        self
    }

    /// Signing has ended: a panic from now on has nothing to give back, and the signer
    /// is no longer kept alive for it.
    pub fn drop_signer(&self) {
        // Dropped once the list is unlocked.
        let _signer = armed(|(list, _)| {
            list.iter_mut()
                .find(|a| a.id == self.0)
                .and_then(|a| a.signer.take())
        });
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        armed(|(list, _)| list.retain(|a| a.id != self.0));
    }
}

/// Arms `ledger`: at a panic, its live tokens are revoked at `target` and `witness` is told.
pub fn arm(ledger: &Ledger, target: Target, witness: Arc<dyn Witness>) -> Guard {
    armed(|(list, next)| {
        *next += 1;
        list.push(Armed {
            id: *next,
            ledger: ledger.clone(),
            target,
            witness,
            signer: None,
        });
        Guard(*next)
    })
}

/// Installs the panic hook, before the one in place (which still prints the panic).
pub fn install() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        revoke_armed();
        previous(info);
    }));
}

/// Disarms every armed ledger and revokes its live tokens on a fresh thread; waits for it
/// at most [`PANIC_REVOKE_LIMIT`] and a little.
fn revoke_armed() {
    let (done, finished) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("app-token-panic-revoke".into())
        .spawn(move || {
            // Taken on this thread, so that a panic while the list is locked cannot stop
            // the panicking thread; taken, so that a panic here finds nothing to do.
            let started = Instant::now();
            let taken = armed(|(list, _)| std::mem::take(list));
            for a in &taken {
                revoke_one(a);
            }
            for a in &taken {
                end_signing(a, PANIC_REVOKE_LIMIT.saturating_sub(started.elapsed()));
            }
            let _ = done.send(());
        });
    if spawned.is_ok() {
        let _ = finished.recv_timeout(PANIC_REVOKE_LIMIT + REPORT_MARGIN);
    }
}

fn revoke_one(a: &Armed) {
    let tokens = a.ledger.live();
    if tokens.is_empty() {
        return;
    }
    for t in &tokens {
        a.witness.hide(&t.token);
    }
    let done = revoke(&a.ledger, &tokens, &a.target);
    a.witness.panicked(tokens.len(), &done);
}

/// Has the armed signer give back what it borrowed, with a fresh runtime and client,
/// within `limit`; tells the witness when it could not.
fn end_signing(a: &Armed, limit: Duration) {
    let Some(signer) = &a.signer else {
        return;
    };
    let ended = crate::runtime()
        .map_err(|e| anyhow::anyhow!("cannot start: {e}"))
        .and_then(|rt| {
            // The timer is made inside the runtime: it needs its clock.
            rt.block_on(async { tokio::time::timeout(limit, signer.finish_afresh()).await })
                .map_err(|_| {
                    anyhow::anyhow!(
                        "{}: giving back what signing borrowed did not finish within {} s",
                        signer.describe_key(),
                        PANIC_REVOKE_LIMIT.as_secs()
                    )
                })?
        });
    if let Err(e) = ended {
        a.witness.signing_not_ended(&format!("{e:#}"));
    }
}

/// Revokes `tokens` with a fresh runtime and client, within [`PANIC_REVOKE_LIMIT`],
/// crossing each revoked one off `ledger`.
fn revoke(ledger: &Ledger, tokens: &[Credential], target: &Target) -> Revocation {
    let failed = |why: String| Revocation {
        revoked: 0,
        failures: vec![why],
        timed_out: false,
    };
    let rt = match crate::runtime() {
        Ok(rt) => rt,
        Err(e) => return failed(format!("cannot start: {e}")),
    };
    // The client is made inside the runtime: its connection pool needs a reactor.
    let answered = rt.block_on(async {
        let quiet = mint::log_sink(|_: &str| {});
        let client = Client::new(
            &target.api_url,
            None,
            &target.proxy,
            target.settings.clone(),
            quiet,
        )?;
        let revoking = revoke_recorded(&client, tokens, ledger);
        Ok::<_, anyhow::Error>(tokio::time::timeout(PANIC_REVOKE_LIMIT, revoking).await)
    });
    let answered = match answered {
        Ok(a) => a,
        Err(e) => return failed(format!("{e:#}")),
    };
    let left = |ledger: &Ledger| {
        let live = ledger.live();
        tokens
            .iter()
            .filter(|t| live.iter().any(|l| l.token == t.token))
            .count()
    };
    match answered {
        Ok(failures) => Revocation {
            revoked: tokens.len() - left(ledger),
            failures,
            timed_out: false,
        },
        Err(_) => Revocation {
            revoked: tokens.len() - left(ledger),
            failures: Vec::new(),
            timed_out: true,
        },
    }
}

/// What a panic came to, in one sentence that names no token.
pub fn summary(live: usize, done: &Revocation) -> String {
    let mut text = format!(
        "app-token panicked (a bug: please report it); revoked {} of its {live} live installation token(s)",
        done.revoked
    );
    for f in &done.failures {
        text.push_str(&format!("; not revoked: {f}"));
    }
    if done.timed_out {
        text.push_str(&format!(
            "; revocation did not finish within {} s",
            PANIC_REVOKE_LIMIT.as_secs()
        ));
    }
    if done.revoked < live {
        text.push_str("; what is left expires within the hour");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Silent;

    impl Witness for Silent {
        fn log(&self, _: &str) {}
        fn panicked(&self, _: usize, _: &Revocation) {}
    }

    fn target() -> Target {
        Target {
            api_url: "http://127.0.0.1:1".into(),
            proxy: Proxy::default(),
            settings: Settings::default(),
        }
    }

    #[test]
    fn a_guard_disarms_its_ledger_when_dropped() {
        let ledger = Ledger::default();
        let count = |id: u64| armed(|(list, _)| list.iter().filter(|a| a.id == id).count());
        let first = arm(&ledger, target(), Arc::new(Silent));
        let second = arm(&ledger, target(), Arc::new(Silent));
        assert_ne!(first.0, second.0);
        assert_eq!((count(first.0), count(second.0)), (1, 1));
        drop(first);
        assert_eq!(count(second.0), 1, "the other guard stays armed");
        let id = second.0;
        drop(second);
        assert_eq!(count(id), 0);
    }

    #[test]
    fn a_guard_lets_its_signer_go_once_signing_has_ended() {
        let signer = Arc::new(Signer::new(
            Box::new(crate::sign::pem::PemKey::parse(crate::jwt::tests::TEST_KEY_PKCS1).unwrap()),
            "1",
        ));
        let ledger = Ledger::default();
        let guard = arm(&ledger, target(), Arc::new(Silent)).with_signer(Arc::clone(&signer));
        assert_eq!(Arc::strong_count(&signer), 2);
        guard.drop_signer();
        assert_eq!(Arc::strong_count(&signer), 1);
        let still_armed = armed(|(list, _)| list.iter().any(|a| a.id == guard.0));
        assert!(still_armed, "the ledger stays armed");
    }

    #[test]
    fn the_summary_counts_and_never_needs_a_token() {
        let all = Revocation {
            revoked: 2,
            failures: vec![],
            timed_out: false,
        };
        assert_eq!(
            summary(2, &all),
            "app-token panicked (a bug: please report it); revoked 2 of its 2 live installation token(s)"
        );
        let cut = Revocation {
            revoked: 1,
            failures: vec!["GitHub answered 404".into()],
            timed_out: true,
        };
        let text = summary(3, &cut);
        assert!(text.contains("revoked 1 of its 3"), "{text}");
        assert!(text.contains("not revoked: GitHub answered 404"), "{text}");
        assert!(text.contains("did not finish within 3 s"), "{text}");
        assert!(
            text.ends_with("what is left expires within the hour"),
            "{text}"
        );
    }
}
