//! The token agent: one process that holds the app's signer for the rest of a job and
//! hands any later step, or `exec`'s command, a valid token of exactly the job's scope.
//!
//! Like ssh-agent: the key (or its key service's access) stays in the agent's memory,
//! never on disk or in another process's environment; clients on this machine, of this
//! user only, ask it over a local socket ([`endpoint`]) in one line of JSON each way
//! ([`protocol`], [`client`]). It hands out tokens with time left and renews them ahead
//! of time ([`fresh`], [`keeper`]), keeps what it minted in a ledger on disk for its
//! stopper ([`ledger_file`]), and revokes everything when it ends ([`serve`]). A front
//! end starts one detached ([`spawn`], with an [`order`] on its stdin), or serves one
//! in-process (`exec --refresh`); [`git`] points git at it.

pub mod client;
pub mod endpoint;
pub mod fresh;
pub mod git;
pub mod keeper;
pub mod ledger_file;
pub mod order;
pub mod protocol;
pub mod serve;
pub mod spawn;
pub mod watch;

pub use client::{ask, Unanswered, AGENT_VARIABLE};
pub use keeper::{First, Keeper};
pub use order::{Front, Order, Plan, Rebuild};
pub use protocol::{Answer, Ask};
pub use spawn::SERVE_ARG;

/// How long an agent serves at most unless told otherwise: six hours, the longest a job
/// may run by default (`timeout-minutes` is 360).
pub const DEFAULT_LIFETIME: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// A lifetime as written: `true`-like words are the default; else a number of hours,
/// minutes or seconds (`8h`, `90m`, `3600s`), at least 10 seconds and at most 35 days.
pub fn parse_lifetime(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let seconds: u64 = match unit {
        "h" => 3600,
        "m" => 60,
        "s" => 1,
        _ => {
            return Err(format!(
                "{:?} is not a duration such as 8h, 90m or 3600s",
                crate::excerpt::excerpt(text)
            ))
        }
    };
    let n: u64 = number.parse().map_err(|_| {
        format!(
            "{:?} is not a duration such as 8h, 90m or 3600s",
            crate::excerpt::excerpt(text)
        )
    })?;
    let total = n.saturating_mul(seconds);
    if !(10..=35 * 24 * 3600).contains(&total) {
        return Err(format!(
            "{:?} is outside 10 seconds to 35 days",
            crate::excerpt::excerpt(text)
        ));
    }
    Ok(std::time::Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_hours_minutes_or_seconds_within_bounds() {
        assert_eq!(
            parse_lifetime("8h"),
            Ok(std::time::Duration::from_secs(8 * 3600))
        );
        assert_eq!(
            parse_lifetime(" 90m "),
            Ok(std::time::Duration::from_secs(5400))
        );
        assert_eq!(
            parse_lifetime("10s"),
            Ok(std::time::Duration::from_secs(10))
        );
        for bad in ["", "h", "8", "8d", "-1h", "9s", "841h", "1.5h"] {
            assert!(parse_lifetime(bad).is_err(), "{bad}");
        }
    }
}
