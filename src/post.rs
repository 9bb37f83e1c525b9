//! The post step: revokes the tokens main created, unless told not to or they have expired. Never fails the job.

use std::future::Future;
use std::io::Write;
use std::sync::Arc;

use crate::action::{Saved, STATE_TOKENS};
use crate::cancel::Signal;
use crate::http::{Client, Proxy, Settings};
use crate::runner::Runner;
use crate::{inputs, mint};

/// Has this RFC 3339 instant passed? Unparseable means "no": better to try revoking.
pub fn expired(expires_at: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
    chrono::DateTime::parse_from_rfc3339(expires_at)
        .map(|t| t <= now)
        .unwrap_or(false)
}

/// Runs the post step; exits 0, with warnings for what went wrong, unless `cancel`
/// resolves first: then it stops at once and the code says which signal it was.
pub async fn run<W: Write + Send + 'static>(
    runner: Arc<Runner<W>>,
    env: &dyn Fn(&str) -> Option<String>,
    settings: Settings,
    cancel: impl Future<Output = Signal>,
) -> i32 {
    let state = env(&format!("STATE_{STATE_TOKENS}")).filter(|s| !s.trim().is_empty());
    let Some(state) = state else {
        runner.info(
            "No token to revoke: the main step did not create one, or skip-token-revoke is set.",
        );
        return 0;
    };
    let saved: Vec<Saved> = match serde_json::from_str(&state) {
        Ok(s) => s,
        Err(_) => {
            runner.warning(
                "Token not revoked",
                "the saved state is not what the main step writes; nothing was revoked",
            );
            return 0;
        }
    };
    for s in &saved {
        runner.mask(&s.token);
    }
    if inputs::get_bool(env, "skip-token-revoke").unwrap_or(false) {
        runner.info("skip-token-revoke is set: the token stays valid until it expires.");
        return 0;
    }
    let now = chrono::Utc::now();
    let (expired, live): (Vec<&Saved>, Vec<&Saved>) =
        saved.iter().partition(|s| expired(&s.expires_at, now));
    if !expired.is_empty() {
        runner.info(&format!(
            "{} token(s) already expired: nothing to revoke for them.",
            expired.len()
        ));
    }
    if live.is_empty() {
        return 0;
    }
    let api_url = match inputs::api_url(env) {
        Ok(u) => u,
        Err(e) => {
            runner.warning("Token not revoked", &e.to_string());
            return 0;
        }
    };
    let log = {
        let r = Arc::clone(&runner);
        mint::log_sink(move |line: &str| r.info(line))
    };
    let client = match Client::new(&api_url, None, &Proxy::from_env(env), settings, log) {
        Ok(c) => c,
        Err(e) => {
            runner.warning("Token not revoked", &format!("{e:#}"));
            return 0;
        }
    };
    let tokens: Vec<String> = live.iter().map(|s| s.token.clone()).collect();
    let failures = tokio::select! {
        failures = mint::revoke_all(&client, &tokens) => failures,
        signal = cancel => {
            runner.warning(
                "Token not revoked",
                &format!("{} received before the revocation finished; the token(s) expire within the hour", signal.name()),
            );
            return signal.exit_code();
        }
    };
    for f in &failures {
        runner.warning(
            "Token not revoked",
            &format!("{f}; it expires on its own within the hour"),
        );
    }
    let revoked = tokens.len() - failures.len();
    if revoked > 0 {
        runner.info(&format!("Revoked {revoked} installation token(s)."));
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z")
            .unwrap()
            .to_utc();
        assert!(expired("2026-01-01T11:59:59Z", now));
        assert!(!expired("2026-01-01T12:00:01Z", now));
        assert!(!expired("garbage", now));
    }
}
