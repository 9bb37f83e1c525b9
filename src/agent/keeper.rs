//! The tokens the agent holds, one owner at a time.
//!
//! Each owner's token is handed out fresh (see [`super::fresh`]), minted once for any
//! burst of requests (they wait on the one mint in flight), and renewed ahead of time in
//! the background. Every token is minted through the one [`Session`], whose ledger is
//! what the agent revokes when it ends.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::Mutex;

use super::fresh::{self, Choice, Held};
use crate::mint::{Minted, Request, Selection, Session};
use crate::repositories::OwnerRepos;

/// A token the agent was handed when it started (the main step's), and what it covers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct First {
    pub owner: String,
    pub token: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub installation_id: u64,
    /// The repositories it covers, by id; `None`: every one the installation can access.
    pub repository_ids: Option<Vec<u64>>,
}

impl First {
    /// What `minted` is, for an agent to start from.
    pub fn of(minted: &Minted) -> Self {
        Self {
            owner: minted.owner.clone(),
            token: minted.token.clone(),
            issued_at: minted.issued_at,
            expires_at: minted.expires_at,
            installation_id: minted.installation_id,
            repository_ids: (!minted.covers_all() || !minted.repositories.is_empty())
                .then(|| crate::mint::repository_ids(minted)),
        }
    }

    fn held(&self) -> Held {
        Held {
            token: self.token.clone(),
            issued_at: self.issued_at,
            expires_at: self.expires_at,
        }
    }
}

/// `request` with what a token minted for it found out: its installation, and the
/// repositories by id, so that the next token is one request with the same scope (a
/// repository renamed meanwhile stays covered). A selection of all stays all.
pub fn resolved(request: &Request, installation_id: u64, ids: Option<&[u64]>) -> Request {
    let mut next = request.clone();
    next.installation_id = Some(installation_id);
    if let (Selection::Only(_), Some(ids)) = (&request.selection, ids) {
        if !ids.is_empty() {
            next.selection = Selection::Only(OwnerRepos {
                names: Vec::new(),
                ids: ids.to_vec(),
            });
        }
    }
    next
}

/// One owner's request and the tokens held for it.
struct Slot {
    owner: String,
    state: Mutex<SlotState>,
}

struct SlotState {
    request: Request,
    held: Vec<Held>,
    /// The last mint that failed, when, and why: held for [`FAILURE_HOLD`].
    failed: Option<(std::time::Instant, String)>,
}

/// How long a failed mint's answer stands for every request that waited on it (and any
/// that comes meanwhile): a burst during an outage costs GitHub one mint, not one each.
pub const FAILURE_HOLD: StdDuration = StdDuration::from_secs(5);

/// Every owner's tokens, and the session that mints them.
pub struct Keeper {
    session: Session,
    slots: Vec<Slot>,
    api_url: String,
}

/// How long a failed renewal waits before it is tried again: 30 s, less for a token
/// that lives less (a quarter of its renewal margin, at least one second).
fn retry_after(held: &[Held]) -> StdDuration {
    let margin = held
        .iter()
        .map(|h| h.renew_left() / 4)
        .min()
        .unwrap_or(Duration::seconds(30));
    margin
        .clamp(Duration::seconds(1), Duration::seconds(30))
        .to_std()
        .unwrap_or(StdDuration::from_secs(30))
}

/// How long until `at`, from `now` (zero once past).
fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> StdDuration {
    (at - now).to_std().unwrap_or(StdDuration::ZERO)
}

impl Keeper {
    /// A keeper minting `requests` (one per owner) through `session`, starting from the
    /// `first` tokens (which it hands out and never revokes: they are their minter's).
    pub fn new(session: Session, requests: &[Request], first: &[First], api_url: &str) -> Self {
        let slots = requests
            .iter()
            .map(|request| {
                let given = first
                    .iter()
                    .find(|f| f.owner.eq_ignore_ascii_case(&request.owner));
                let (request, held) = match given {
                    Some(f) => (
                        resolved(request, f.installation_id, f.repository_ids.as_deref()),
                        vec![f.held()],
                    ),
                    None => (request.clone(), Vec::new()),
                };
                Slot {
                    owner: given.map_or_else(|| request.owner.clone(), |f| f.owner.clone()),
                    state: Mutex::new(SlotState {
                        request,
                        held,
                        failed: None,
                    }),
                }
            })
            .collect();
        Self {
            session,
            slots,
            api_url: api_url.to_string(),
        }
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The session, once the keeper is done.
    pub fn into_session(self) -> Session {
        self.session
    }

    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The owners served, the first being the default.
    pub fn owners(&self) -> Vec<String> {
        self.slots.iter().map(|s| s.owner.clone()).collect()
    }

    fn slot(&self, owner: Option<&str>) -> Result<&Slot, String> {
        match owner {
            None => self
                .slots
                .first()
                .ok_or_else(|| "the agent serves no owner".into()),
            Some(owner) => self
                .slots
                .iter()
                .find(|s| s.owner.eq_ignore_ascii_case(owner))
                .ok_or_else(|| {
                    format!(
                        "the agent holds tokens for {}, not for {}",
                        self.owners().join(", "),
                        crate::excerpt::excerpt(owner)
                    )
                }),
        }
    }

    /// Mints the next token for `state`'s request, and resolves the request by it; within
    /// [`FAILURE_HOLD`] of a failed mint, gives its failure again without asking GitHub.
    async fn mint(&self, state: &mut SlotState) -> Result<(), String> {
        if let Some((at, why)) = &state.failed {
            if at.elapsed() < FAILURE_HOLD {
                return Err(why.clone());
            }
        }
        let minted = self.mint_anew(state).await;
        state.failed = minted
            .as_ref()
            .err()
            .map(|why| (std::time::Instant::now(), why.clone()));
        minted
    }

    async fn mint_anew(&self, state: &mut SlotState) -> Result<(), String> {
        let outcome = self
            .session
            .mint(std::slice::from_ref(&state.request))
            .await
            .map_err(|e| format!("could not create an installation token: {e:#}"))?;
        let minted = outcome
            .tokens
            .into_iter()
            .next()
            .ok_or("GitHub answered with no token")?;
        let first = First::of(&minted);
        state.request = resolved(
            &state.request,
            first.installation_id,
            first.repository_ids.as_deref(),
        );
        state.held.push(first.held());
        Ok(())
    }

    /// A token for `owner` (none: the first owner) with time left, settled. Requests for
    /// one owner are answered in turn: a burst waits on the one mint in flight.
    pub async fn token(&self, owner: Option<&str>) -> Result<(String, Held), String> {
        let slot = self.slot(owner)?;
        let mut state = slot.state.lock().await;
        loop {
            let now = Utc::now();
            fresh::prune(&mut state.held, now);
            self.session.ledger().drop_expired(now);
            match fresh::choose(&state.held, now) {
                Choice::Hand(i) => return Ok((slot.owner.clone(), state.held[i].clone())),
                Choice::Wait(at) => tokio::time::sleep(until(at, now)).await,
                Choice::Mint => self.mint(&mut state).await?,
            }
        }
    }

    /// Mints each owner's next token when it is due, for ever; a failure is logged with
    /// `log` and tried again shortly.
    pub async fn renew(&self, log: &(dyn Fn(&str) + Sync)) {
        futures::future::join_all(self.slots.iter().map(|slot| async move {
            loop {
                let due = {
                    let state = slot.state.lock().await;
                    fresh::renew_at(&state.held, Utc::now())
                };
                tokio::time::sleep(until(due, Utc::now())).await;
                let mut state = slot.state.lock().await;
                let now = Utc::now();
                if fresh::renew_at(&state.held, now) > now {
                    continue; // a request minted meanwhile
                }
                if let Err(e) = self.mint(&mut state).await {
                    log(&format!("renewing {}'s token: {e}", slot.owner));
                    let wait = retry_after(&state.held);
                    drop(state);
                    tokio::time::sleep(wait).await;
                }
            }
        }))
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mint::OwnerKind;

    fn request(selection: Selection) -> Request {
        Request {
            owner: "acme".into(),
            kind: OwnerKind::Account,
            selection,
            permissions: None,
            installation_id: None,
            token_format: None,
        }
    }

    #[test]
    fn a_resolved_request_names_the_installation_and_the_repositories_by_id() {
        let by_name = request(Selection::Only(OwnerRepos {
            names: vec!["site".into()],
            ids: vec![],
        }));
        let next = resolved(&by_name, 7, Some(&[101, 102]));
        assert_eq!(next.installation_id, Some(7));
        assert_eq!(
            next.selection,
            Selection::Only(OwnerRepos {
                names: vec![],
                ids: vec![101, 102]
            })
        );
        let all = resolved(&request(Selection::All), 7, None);
        assert_eq!(
            (all.installation_id, all.selection),
            (Some(7), Selection::All)
        );
        let unknown = resolved(&by_name, 7, Some(&[]));
        assert_eq!(
            unknown.selection, by_name.selection,
            "no ids: the names stay"
        );
    }

    #[test]
    fn a_failed_renewal_is_retried_within_its_margin() {
        let at = |s: i64| {
            "2030-01-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::seconds(s)
        };
        let hour = Held {
            token: "a".into(),
            issued_at: at(0),
            expires_at: at(3600),
        };
        assert_eq!(retry_after(&[hour]), StdDuration::from_secs(30));
        let minute = Held {
            token: "b".into(),
            issued_at: at(0),
            expires_at: at(60),
        };
        assert_eq!(retry_after(&[minute]), StdDuration::from_secs(5));
        assert_eq!(retry_after(&[]), StdDuration::from_secs(30));
    }
}
