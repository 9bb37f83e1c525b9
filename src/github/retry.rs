//! What may be retried against GitHub, and after how long.
//!
//! The bounds, and one pure decision per failed attempt.

use std::time::Duration;

use http::StatusCode;

/// Timeouts and retry bounds. The defaults give up on a failing API in under 60 s.
#[derive(Debug, Clone)]
pub struct Settings {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_attempts: u32,
    /// Time after which no new attempt starts (waits included).
    pub retry_budget: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// The whole step's deadline, from the client's creation: past it no new request
    /// starts, except revocations (so that nothing minted is left alive).
    pub step_deadline: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(15),
            max_attempts: 4,
            retry_budget: Duration::from_secs(40),
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(8),
            step_deadline: Duration::from_secs(120),
        }
    }
}

/// Which failures a request may be retried after.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Retry {
    /// Reads and deletes: any network error, timeout, 5xx or rate limit.
    Idempotent,
    /// Minting a token. Retried only when GitHub cannot have handed a token out:
    /// the connection failed before the request was sent, a rate limit refused it,
    /// or GitHub answered 5xx (an answer arrived, and it was not a token). Not
    /// retried when the request went out and no answer came (timeout, reset):
    /// that is exactly when a token may have been minted and lost, and a second
    /// one would double it. The job fails instead, and says why.
    Create,
}

/// What a failed attempt came to, as far as trying again is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// GitHub answered with an error status; `rate_limit` is the wait a rate limit asks
    /// for; `fresh_credential` when the request carried a token issued moments ago
    /// (see [`super::client::REPLICATION_WINDOW`]).
    Refused {
        status: StatusCode,
        rate_limit: Option<Duration>,
        fresh_credential: bool,
    },
    /// No answer: `sent` when the request may have reached GitHub, `permanent` when
    /// trying again cannot help.
    Failed { sent: bool, permanent: bool },
}

/// Try again after a wait, or stop (with a reason to add to the error, when there is one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    RetryAfter(Duration),
    GiveUp(Option<String>),
}

/// The decision after failed attempt number `attempt` (from 1), `elapsed` into a
/// `budget`. `jitter` in [0, 1] spreads the backoff (0: half of it, 1: all of it).
pub fn decide(
    kind: Retry,
    outcome: Outcome,
    attempt: u32,
    elapsed: Duration,
    budget: Duration,
    settings: &Settings,
    jitter: f64,
) -> Decision {
    let wait = match outcome {
        Outcome::Refused {
            rate_limit: Some(wait),
            ..
        } => wait,
        Outcome::Refused { status, .. } if status.is_server_error() => {
            backoff(settings, attempt, jitter)
        }
        // A new token GitHub has not replicated yet: it will be accepted in a moment.
        Outcome::Refused {
            status: StatusCode::UNAUTHORIZED,
            fresh_credential: true,
            ..
        } => backoff(settings, attempt, jitter),
        Outcome::Refused { .. }
        | Outcome::Failed {
            permanent: true, ..
        } => return Decision::GiveUp(None),
        Outcome::Failed { sent: true, .. } if kind == Retry::Create => {
            return Decision::GiveUp(Some(
                "not retried, because GitHub may have minted a token whose answer was lost".into(),
            ))
        }
        Outcome::Failed { .. } => backoff(settings, attempt, jitter),
    };
    if attempt >= settings.max_attempts {
        return Decision::GiveUp(None);
    }
    // Saturating: a server's `Retry-After` can be as large as a u64 goes.
    if elapsed.saturating_add(wait) >= budget {
        return Decision::GiveUp(Some(format!(
            "the next try would be after {} s, beyond the retry budget of {} s",
            wait.as_secs(),
            budget.as_secs()
        )));
    }
    // Never past the budget, whatever the server asked.
    Decision::RetryAfter(wait.min(budget.saturating_sub(elapsed)))
}

/// Backoff before attempt `attempt + 1`: exponential, capped, scaled into [50 %, 100 %] by `jitter`.
pub fn backoff(settings: &Settings, attempt: u32, jitter: f64) -> Duration {
    let exp = settings
        .backoff_base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    // A NaN jitter counts as 1: `mul_f64` panics on NaN.
    let jitter = if jitter.is_nan() {
        1.0
    } else {
        jitter.clamp(0.0, 1.0)
    };
    exp.min(settings.backoff_cap).mul_f64(0.5 + jitter / 2.0)
}

/// A random jitter in [0, 1].
pub fn jitter() -> f64 {
    let mut byte = [0u8; 1];
    match getrandom::fill(&mut byte) {
        Ok(()) => f64::from(byte[0]) / 255.0,
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const SECOND: Duration = Duration::from_secs(1);
    const BUDGET: Duration = Duration::from_secs(40);

    fn refused(code: u16) -> Outcome {
        Outcome::Refused {
            status: StatusCode::from_u16(code).unwrap(),
            rate_limit: None,
            fresh_credential: false,
        }
    }

    fn lost(sent: bool) -> Outcome {
        Outcome::Failed {
            sent,
            permanent: false,
        }
    }

    fn first(kind: Retry, outcome: Outcome) -> Decision {
        decide(kind, outcome, 1, SECOND, BUDGET, &Settings::default(), 1.0)
    }

    #[test]
    fn server_errors_and_lost_reads_are_retried_after_a_backoff() {
        let backoff = Decision::RetryAfter(Duration::from_millis(500));
        assert_eq!(first(Retry::Idempotent, refused(502)), backoff);
        assert_eq!(first(Retry::Create, refused(503)), backoff);
        assert_eq!(first(Retry::Idempotent, lost(true)), backoff);
        assert_eq!(first(Retry::Create, lost(false)), backoff);
    }

    #[test]
    fn a_token_request_that_went_out_unanswered_is_never_resent() {
        match first(Retry::Create, lost(true)) {
            Decision::GiveUp(Some(why)) => assert!(why.contains("may have minted"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn client_errors_and_untrusted_certificates_are_final() {
        for code in [400, 401, 403, 404, 422] {
            assert_eq!(
                first(Retry::Idempotent, refused(code)),
                Decision::GiveUp(None)
            );
        }
        let untrusted = Outcome::Failed {
            sent: false,
            permanent: true,
        };
        assert_eq!(first(Retry::Idempotent, untrusted), Decision::GiveUp(None));
    }

    #[test]
    fn a_fresh_token_refused_as_bad_credentials_is_tried_again() {
        let lagging = |status, fresh_credential| Outcome::Refused {
            status,
            rate_limit: None,
            fresh_credential,
        };
        assert!(matches!(
            first(Retry::Idempotent, lagging(StatusCode::UNAUTHORIZED, true)),
            Decision::RetryAfter(_)
        ));
        assert_eq!(
            first(Retry::Idempotent, lagging(StatusCode::UNAUTHORIZED, false)),
            Decision::GiveUp(None),
            "an old token's 401 is final"
        );
        assert_eq!(
            first(Retry::Idempotent, lagging(StatusCode::FORBIDDEN, true)),
            Decision::GiveUp(None),
            "only a 401 is lag"
        );
    }

    #[test]
    fn rate_limits_wait_what_they_ask_within_the_budget() {
        let limited = |secs| Outcome::Refused {
            status: StatusCode::FORBIDDEN,
            rate_limit: Some(Duration::from_secs(secs)),
            fresh_credential: false,
        };
        assert_eq!(
            first(Retry::Create, limited(3)),
            Decision::RetryAfter(Duration::from_secs(3))
        );
        match first(Retry::Idempotent, limited(60)) {
            Decision::GiveUp(Some(why)) => {
                assert!(
                    why.contains("after 60 s, beyond the retry budget of 40 s"),
                    "{why}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn attempts_and_the_budget_bound_the_retries() {
        let s = Settings::default();
        let at = |attempt, elapsed| {
            decide(
                Retry::Idempotent,
                refused(500),
                attempt,
                elapsed,
                BUDGET,
                &s,
                0.0,
            )
        };
        assert!(matches!(at(3, SECOND), Decision::RetryAfter(_)));
        assert_eq!(at(4, SECOND), Decision::GiveUp(None), "4 attempts at most");
        assert!(matches!(
            at(1, BUDGET - Duration::from_millis(100)),
            Decision::GiveUp(Some(_))
        ));
    }

    #[test]
    fn the_default_bounds_give_up_in_under_a_minute() {
        let s = Settings::default();
        // The slowest path: every attempt times out, every backoff is at its longest.
        let mut spent = Duration::ZERO;
        let mut attempt = 1;
        loop {
            spent += s.request_timeout.min(s.retry_budget.saturating_sub(spent));
            match decide(
                Retry::Idempotent,
                lost(true),
                attempt,
                spent,
                s.retry_budget,
                &s,
                1.0,
            ) {
                Decision::RetryAfter(wait) => spent += wait,
                Decision::GiveUp(_) => break,
            }
            attempt += 1;
        }
        assert!(spent < Duration::from_secs(60), "{spent:?}");
        assert!(attempt <= s.max_attempts);
    }

    #[test]
    fn a_huge_retry_after_gives_up_instead_of_overflowing() {
        let limited = Outcome::Refused {
            status: StatusCode::TOO_MANY_REQUESTS,
            rate_limit: Some(Duration::from_secs(u64::MAX)),
            fresh_credential: false,
        };
        match first(Retry::Idempotent, limited) {
            Decision::GiveUp(Some(why)) => {
                assert!(why.contains("beyond the retry budget"), "{why}")
            }
            other => panic!("{other:?}"),
        }
        let at_the_end = decide(
            Retry::Idempotent,
            limited,
            1,
            Duration::MAX,
            BUDGET,
            &Settings::default(),
            f64::NAN,
        );
        assert!(matches!(at_the_end, Decision::GiveUp(Some(_))));
        assert_eq!(
            backoff(&Settings::default(), u32::MAX, f64::NAN),
            Settings::default().backoff_cap
        );
    }

    fn any_outcome() -> impl Strategy<Value = Outcome> {
        prop_oneof![
            (
                prop_oneof![Just(429u16), Just(403), Just(503), 100u16..=599],
                proptest::option::of(prop_oneof![any::<u64>(), 0u64..100]),
                any::<bool>()
            )
                .prop_map(|(code, wait, fresh)| Outcome::Refused {
                    status: StatusCode::from_u16(code).unwrap(),
                    rate_limit: wait.map(Duration::from_secs),
                    fresh_credential: fresh,
                }),
            (any::<bool>(), any::<bool>())
                .prop_map(|(sent, permanent)| Outcome::Failed { sent, permanent }),
        ]
    }

    fn any_duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            (0u64..120_000).prop_map(Duration::from_millis),
            (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever a server answers, and wherever in the budget: no panic, and no wait
        /// that ends past the budget.
        #[test]
        fn no_outcome_panics_or_waits_past_the_budget(
            create in any::<bool>(),
            outcome in any_outcome(),
            attempt in prop_oneof![1u32..=5, any::<u32>()],
            elapsed in any_duration(),
            budget in any_duration(),
            jitter in any::<f64>(),
        ) {
            let kind = if create { Retry::Create } else { Retry::Idempotent };
            let s = Settings::default();
            if let Decision::RetryAfter(wait) = decide(kind, outcome, attempt, elapsed, budget, &s, jitter) {
                prop_assert!(elapsed.saturating_add(wait) < budget, "{wait:?} after {elapsed:?} of {budget:?}");
                prop_assert!(attempt < s.max_attempts);
            }
        }
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let s = Settings {
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_millis(300),
            ..Settings::default()
        };
        assert_eq!(backoff(&s, 1, 0.0), Duration::from_millis(50));
        assert_eq!(backoff(&s, 1, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(&s, 2, 1.0), Duration::from_millis(200));
        assert_eq!(backoff(&s, 10, 1.0), Duration::from_millis(300));
        assert_eq!(backoff(&s, 10, 0.0), Duration::from_millis(150));
        for _ in 0..20 {
            let j = jitter();
            assert!((0.0..=1.0).contains(&j), "{j}");
        }
    }
}
