//! A key service's short-lived access (credentials, an access token, a Vault token), held while it has time left and fetched anew, by one caller for all, when it is missing or near its end.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// An access is fetched anew when less than this is left of it (or less than a quarter of
/// its lifetime, for one that lives less than 20 minutes).
pub const MARGIN: Duration = Duration::from_secs(5 * 60);

/// Whether an access fetched at `fetched_at` that ends at `expires_at` (never: `None`)
/// must be fetched anew at `now`: when less than `min(MARGIN, lifetime / 4)` is left.
pub fn needs_renewal(
    now: SystemTime,
    fetched_at: SystemTime,
    expires_at: Option<SystemTime>,
) -> bool {
    let Some(expires_at) = expires_at else {
        return false;
    };
    let lifetime = expires_at
        .duration_since(fetched_at)
        .unwrap_or(Duration::ZERO);
    let margin = MARGIN.min(lifetime / 4);
    now.checked_add(margin).is_none_or(|t| t >= expires_at)
}

/// The time `seconds` from now, for a service that says how long its access lives
/// (`expires_in`, `lease_duration`); `None` for none.
pub fn in_seconds(seconds: Option<u64>) -> Option<SystemTime> {
    SystemTime::now().checked_add(Duration::from_secs(seconds?))
}

/// The time an RFC 3339 timestamp names (STS's `Expiration`, IAM's `expireTime`); `None`
/// for a text that is none.
pub fn at_rfc3339(text: &str) -> Option<SystemTime> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(SystemTime::from)
}

/// An access as fetched: its value and when it ends (`None`: it does not, as static
/// credentials or a token given by the environment).
pub struct Leased<T> {
    pub value: T,
    pub expires_at: Option<SystemTime>,
}

impl<T> Leased<T> {
    pub fn new(value: T, expires_at: Option<SystemTime>) -> Self {
        Self { value, expires_at }
    }

    /// An access that does not end.
    pub fn kept(value: T) -> Self {
        Self::new(value, None)
    }
}

struct Held<T> {
    value: Arc<T>,
    fetched_at: SystemTime,
    expires_at: Option<SystemTime>,
}

/// An access held while it has time left ([`needs_renewal`]). Concurrent callers wait
/// for one fetch rather than each making one; a failed fetch leaves what was held.
pub struct Lease<T> {
    held: tokio::sync::Mutex<Option<Held<T>>>,
}

impl<T> Default for Lease<T> {
    fn default() -> Self {
        Self {
            held: tokio::sync::Mutex::new(None),
        }
    }
}

impl<T> Lease<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The access: the one held while it has time left, else `fetch`'s.
    pub async fn get<E, Fut>(&self, fetch: impl FnOnce() -> Fut) -> Result<Arc<T>, E>
    where
        Fut: Future<Output = Result<Leased<T>, E>>,
    {
        self.get_replacing(fetch).await.map(|(value, _)| value)
    }

    /// [`Lease::get`], with the access a new fetch replaced, if it did.
    pub async fn get_replacing<E, Fut>(
        &self,
        fetch: impl FnOnce() -> Fut,
    ) -> Result<(Arc<T>, Option<Arc<T>>), E>
    where
        Fut: Future<Output = Result<Leased<T>, E>>,
    {
        let mut held = self.held.lock().await;
        if let Some(h) = held
            .as_ref()
            .filter(|h| !needs_renewal(SystemTime::now(), h.fetched_at, h.expires_at))
        {
            return Ok((Arc::clone(&h.value), None));
        }
        let fetched_at = SystemTime::now();
        let leased = fetch().await?;
        let value = Arc::new(leased.value);
        let replaced = held.replace(Held {
            value: Arc::clone(&value),
            fetched_at,
            expires_at: leased.expires_at,
        });
        Ok((value, replaced.map(|h| h.value)))
    }

    /// The access held, whatever time it has left.
    pub async fn current(&self) -> Option<Arc<T>> {
        self.held
            .lock()
            .await
            .as_ref()
            .map(|h| Arc::clone(&h.value))
    }

    /// [`Lease::current`] without waiting: `None` while a fetch holds it (at a panic, a
    /// fetch on a runtime that is gone would never let go).
    pub fn peek(&self) -> Option<Arc<T>> {
        self.held
            .try_lock()
            .ok()
            .and_then(|h| h.as_ref().map(|h| Arc::clone(&h.value)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::FutureExt as _;

    use super::*;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn an_access_without_an_end_is_never_renewed() {
        assert!(!needs_renewal(at(1_000_000), at(0), None));
    }

    #[test]
    fn an_hours_access_is_renewed_five_minutes_before_its_end() {
        let (fetched, ends) = (at(1000), Some(at(1000 + 3600)));
        assert!(!needs_renewal(at(1000), fetched, ends));
        assert!(!needs_renewal(at(1000 + 3600 - 301), fetched, ends));
        assert!(needs_renewal(at(1000 + 3600 - 300), fetched, ends));
        assert!(needs_renewal(at(1000 + 3600), fetched, ends));
        assert!(needs_renewal(at(1000 + 7200), fetched, ends));
    }

    #[test]
    fn a_short_access_is_renewed_with_a_quarter_of_its_life_left() {
        // Vault's 5-minute login: 75 s before its end, not 5 minutes (at once).
        let (fetched, ends) = (at(1000), Some(at(1300)));
        assert!(!needs_renewal(at(1000), fetched, ends));
        assert!(!needs_renewal(at(1224), fetched, ends));
        assert!(needs_renewal(at(1225), fetched, ends));
        // A test's 4-second credential: with 1 s left.
        let (fetched, ends) = (at(50), Some(at(54)));
        assert!(!needs_renewal(at(52), fetched, ends));
        assert!(needs_renewal(at(53), fetched, ends));
    }

    #[test]
    fn an_access_that_ended_when_it_came_is_renewed() {
        // An end before the fetch (a service's clock behind ours): renewed at each use.
        assert!(needs_renewal(at(100), at(100), Some(at(90))));
        assert!(needs_renewal(at(100), at(100), Some(at(100))));
    }

    #[test]
    fn services_times_are_read() {
        assert_eq!(at_rfc3339("2026-01-01T00:00:00Z"), Some(at(1_767_225_600)));
        // moto's and Google's fractions of a second.
        assert_eq!(
            at_rfc3339("2026-01-01T00:00:01.500Z"),
            Some(at(1_767_225_601) + Duration::from_millis(500))
        );
        assert_eq!(at_rfc3339("tomorrow"), None);
        assert_eq!(in_seconds(None), None);
        let later = in_seconds(Some(3600)).unwrap();
        let left = later.duration_since(SystemTime::now()).unwrap();
        assert!(left > Duration::from_secs(3590) && left <= Duration::from_secs(3600));
    }

    /// A fetch that counts itself, for an access that ends `lives` from now.
    async fn fetch(
        count: &AtomicUsize,
        lives: Option<Duration>,
    ) -> Result<Leased<usize>, &'static str> {
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Leased::new(n, lives.map(|d| SystemTime::now() + d)))
    }

    #[test]
    fn an_access_is_kept_while_it_has_time_left_and_replaced_near_its_end() {
        let count = &AtomicUsize::new(0);
        let lease = Lease::new();
        let hour = Some(Duration::from_secs(3600));
        let get = |lives| lease.get_replacing(move || fetch(count, lives));
        let (first, replaced) = get(hour).now_or_never().unwrap().unwrap();
        assert_eq!((*first, replaced), (1, None));
        let (again, _) = get(hour).now_or_never().unwrap().unwrap();
        assert_eq!(*again, 1);
        assert_eq!(count.load(Ordering::SeqCst), 1);
        // An access that ended as it came is replaced at the next use, and said replaced.
        let lease = Lease::new();
        let get = |lives| lease.get_replacing(move || fetch(count, lives));
        get(Some(Duration::ZERO)).now_or_never().unwrap().unwrap();
        let (second, replaced) = get(hour).now_or_never().unwrap().unwrap();
        assert_eq!((*second, replaced.as_deref()), (3, Some(&2)));
        assert_eq!(lease.peek().as_deref(), Some(&3));
    }

    #[test]
    fn a_failed_fetch_leaves_what_was_held() {
        let lease = Lease::new();
        lease
            .get(|| async { Ok::<_, &str>(Leased::new(7, Some(SystemTime::now()))) })
            .now_or_never()
            .unwrap()
            .unwrap();
        let failed = lease
            .get(|| async { Err::<Leased<i32>, _>("refused") })
            .now_or_never()
            .unwrap();
        assert_eq!(failed, Err("refused"));
        assert_eq!(lease.peek().as_deref(), Some(&7));
    }

    #[test]
    fn concurrent_callers_share_one_fetch() {
        let count = AtomicUsize::new(0);
        let lease = Lease::new();
        let slow = || async {
            tokio::task::yield_now().await;
            fetch(&count, None).await
        };
        let rt = crate::runtime().unwrap();
        let (a, b) = rt.block_on(async { futures::join!(lease.get(slow), lease.get(slow)) });
        assert_eq!((*a.unwrap(), *b.unwrap()), (1, 1));
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }
}
