//! When a held token may be handed out, and when its successor is minted.
//!
//! Pure decisions over a token's issue and expiry times. For GitHub's one-hour tokens: a
//! token is handed out while more than 10 minutes are left; its successor is minted
//! when 20 minutes are left; and a new token is handed out only once it is 5 seconds
//! old, for GitHub may refuse a token in its first moments. A token that lives less than
//! an hour (a test's, or GitHub's some day) gets the same fractions of its lifetime:
//! a sixth, a third and a fortieth.

use chrono::{DateTime, Duration, Utc};

/// A token the agent holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub token: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Held {
    fn lifetime(&self) -> Duration {
        (self.expires_at - self.issued_at).max(Duration::zero())
    }

    /// Less than this left, and it is no longer handed out.
    pub fn min_left(&self) -> Duration {
        Duration::minutes(10).min(self.lifetime() / 6)
    }

    /// Less than this left, and its successor is due.
    pub fn renew_left(&self) -> Duration {
        Duration::minutes(20).min(self.lifetime() / 3)
    }

    /// Younger than this, and it is not handed out yet.
    pub fn settle(&self) -> Duration {
        Duration::seconds(5).min(self.lifetime() / 40)
    }

    fn usable(&self, now: DateTime<Utc>) -> bool {
        self.expires_at - now > self.min_left()
    }

    fn settled_at(&self) -> DateTime<Utc> {
        self.issued_at + self.settle()
    }

    /// When its successor is due.
    pub fn renew_at(&self) -> DateTime<Utc> {
        self.expires_at - self.renew_left()
    }
}

/// What to do for a request, given the tokens held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Hand out this one (an index into the tokens held).
    Hand(usize),
    /// The best token is too new: wait until then, and choose again.
    Wait(DateTime<Utc>),
    /// None will do: mint one.
    Mint,
}

/// The token to hand out: of those with enough time left, the settled one that expires
/// last; if none has settled, wait for the newest; if none has time left, mint.
pub fn choose(held: &[Held], now: DateTime<Utc>) -> Choice {
    let usable = || held.iter().enumerate().filter(|(_, h)| h.usable(now));
    let settled = usable()
        .filter(|(_, h)| h.settled_at() <= now)
        .max_by_key(|(_, h)| h.expires_at);
    if let Some((i, _)) = settled {
        return Choice::Hand(i);
    }
    match usable().map(|(_, h)| h.settled_at()).min() {
        Some(at) => Choice::Wait(at),
        None => Choice::Mint,
    }
}

/// When the next token is due: when the newest held reaches its renewal time (now when
/// none is held).
pub fn renew_at(held: &[Held], now: DateTime<Utc>) -> DateTime<Utc> {
    held.iter().map(Held::renew_at).max().unwrap_or(now)
}

/// The tokens worth keeping: those not yet expired.
pub fn prune(held: &mut Vec<Held>, now: DateTime<Utc>) {
    held.retain(|h| h.expires_at > now);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64, second: i64) -> DateTime<Utc> {
        "2030-01-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
            + Duration::minutes(minute)
            + Duration::seconds(second)
    }

    fn hour_token(name: &str, issued_minute: i64) -> Held {
        Held {
            token: name.into(),
            issued_at: at(issued_minute, 0),
            expires_at: at(issued_minute + 60, 0),
        }
    }

    #[test]
    fn an_hour_token_is_handed_out_until_ten_minutes_are_left_and_renewed_at_twenty() {
        let first = hour_token("a", 0);
        assert_eq!(first.min_left(), Duration::minutes(10));
        assert_eq!(first.renew_left(), Duration::minutes(20));
        assert_eq!(first.settle(), Duration::seconds(5));
        assert_eq!(renew_at(std::slice::from_ref(&first), at(0, 0)), at(40, 0));
        let held = vec![first];
        assert_eq!(choose(&held, at(0, 5)), Choice::Hand(0));
        assert_eq!(choose(&held, at(49, 59)), Choice::Hand(0));
        assert_eq!(choose(&held, at(50, 0)), Choice::Mint, "ten minutes left");
        assert_eq!(choose(&[], at(0, 0)), Choice::Mint);
        assert_eq!(renew_at(&[], at(3, 0)), at(3, 0));
    }

    #[test]
    fn a_new_token_is_handed_out_only_once_settled_and_then_before_the_old_one() {
        let held = vec![hour_token("old", 0), hour_token("new", 40)];
        assert_eq!(
            choose(&held, at(40, 1)),
            Choice::Hand(0),
            "the old still has 19 min"
        );
        assert_eq!(choose(&held, at(40, 5)), Choice::Hand(1));
        // Only a token too new to hand out: wait for it, do not mint another.
        let fresh = vec![hour_token("new", 40)];
        assert_eq!(choose(&fresh, at(40, 2)), Choice::Wait(at(40, 5)));
        // The old one has run out and the new one is not settled: wait for the new one.
        assert_eq!(choose(&held, at(50, 0)), Choice::Hand(1));
        let late = vec![hour_token("old", 0), hour_token("new", 50)];
        assert_eq!(choose(&late, at(50, 1)), Choice::Wait(at(50, 5)));
    }

    #[test]
    fn short_lived_tokens_get_the_same_fractions() {
        let short = Held {
            token: "t".into(),
            issued_at: at(0, 0),
            expires_at: at(1, 0),
        };
        assert_eq!(short.min_left(), Duration::seconds(10));
        assert_eq!(short.renew_left(), Duration::seconds(20));
        assert_eq!(short.settle(), Duration::milliseconds(1500));
        assert_eq!(short.renew_at(), at(0, 40));
        let broken = Held {
            token: "t".into(),
            issued_at: at(1, 0),
            expires_at: at(0, 0),
        };
        assert_eq!(
            choose(&[broken], at(0, 0)),
            Choice::Mint,
            "expiry before issue"
        );
    }

    #[test]
    fn expired_tokens_are_pruned() {
        let mut held = vec![hour_token("a", 0), hour_token("b", 30)];
        prune(&mut held, at(60, 0));
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].token, "b");
    }
}
