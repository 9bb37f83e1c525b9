//! GitHub's dialect of HTTP, as pure functions.
//!
//! Error bodies and request ids, rate-limit waits, and a JWT refused for its clock.

use std::time::Duration;

use http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::Value;

/// A request that failed: GitHub's status, message and request id when there was an answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub method: Method,
    pub path: String,
    pub status: Option<u16>,
    pub message: String,
    pub request_id: Option<String>,
    pub attempts: u32,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        match self.status {
            Some(status) => write!(f, " answered HTTP {status}: {}", self.message)?,
            None => write!(f, " failed: {}", self.message)?,
        }
        if let Some(id) = &self.request_id {
            write!(f, " (X-GitHub-Request-Id: {id})")?;
        }
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// A header's value as text, if it is text.
pub fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// GitHub's id for a request, for support and for the log.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    header_str(headers, "x-github-request-id").map(str::to_string)
}

/// GitHub's error message from a response body, or the status text. A redirect is named
/// by its host only: its path and query could carry anything.
pub fn error_message(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> String {
    if status.is_redirection() {
        let to = headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| l.parse::<Uri>().ok())
            .and_then(|u| u.host().map(str::to_string))
            .unwrap_or_else(|| "another location".into());
        return format!(
            "a redirect to {to}; redirects are not followed, so credentials never leave the API host \
             (is the API URL right?)"
        );
    }
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("no message")
                .to_string()
        });
    let details: Vec<String> = parsed
        .as_ref()
        .and_then(|v| v.get("errors"))
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| {
                    e.get("message")
                        .and_then(Value::as_str)
                        .or_else(|| e.as_str())
                })
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if details.is_empty() {
        message
    } else {
        format!("{message} ({})", details.join("; "))
    }
}

/// How long a rate-limited answer asks us to wait, if it is a rate limit at all.
pub fn rate_limit_wait(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Option<Duration> {
    let secondary = status == StatusCode::FORBIDDEN
        && (String::from_utf8_lossy(body)
            .to_ascii_lowercase()
            .contains("rate limit")
            || header_str(headers, "x-ratelimit-remaining") == Some("0"));
    if status != StatusCode::TOO_MANY_REQUESTS && !secondary {
        return None;
    }
    if let Some(secs) =
        header_str(headers, "retry-after").and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Some(Duration::from_secs(secs));
    }
    if let Some(reset) =
        header_str(headers, "x-ratelimit-reset").and_then(|v| v.trim().parse::<i64>().ok())
    {
        // Saturating: a hostile reset (i64::MIN, say) must not overflow.
        return Some(Duration::from_secs(
            reset.saturating_sub(now).max(1).unsigned_abs(),
        ));
    }
    // GitHub's advice for a secondary limit without headers: wait at least a minute.
    Some(Duration::from_secs(60))
}

/// Is this 401 about the JWT's `iat` or `exp`, i.e. about our clock?
pub fn is_clock_rejection(status: StatusCode, body: &[u8]) -> bool {
    if status != StatusCode::UNAUTHORIZED {
        return false;
    }
    let text = String::from_utf8_lossy(body);
    ["'iat'", "'exp'", "Issued at", "Expiration time"]
        .iter()
        .any(|needle| text.contains(needle))
}

/// GitHub's clock minus ours, from a response's `Date` header.
pub fn clock_offset(headers: &HeaderMap, now: i64) -> Option<i64> {
    let date = httpdate::parse_http_date(header_str(headers, "date")?).ok()?;
    let server = date.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(server.saturating_sub(now))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn rate_limits_are_recognised() {
        let none = HeaderMap::new();
        assert_eq!(
            rate_limit_wait(
                StatusCode::TOO_MANY_REQUESTS,
                &headers(&[("retry-after", "3")]),
                b"",
                0
            ),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            rate_limit_wait(
                StatusCode::FORBIDDEN,
                &headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "110")]),
                b"",
                100
            ),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            rate_limit_wait(
                StatusCode::FORBIDDEN,
                &none,
                br#"{"message":"You have exceeded a secondary rate limit"}"#,
                0
            ),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            rate_limit_wait(
                StatusCode::FORBIDDEN,
                &none,
                br#"{"message":"Resource not accessible by integration"}"#,
                0
            ),
            None
        );
        assert_eq!(
            rate_limit_wait(StatusCode::UNPROCESSABLE_ENTITY, &none, b"", 0),
            None
        );
    }

    #[test]
    fn hostile_rate_limit_headers_do_not_overflow() {
        let limited = |pairs: &[(&'static str, &str)], now| {
            rate_limit_wait(StatusCode::TOO_MANY_REQUESTS, &headers(pairs), b"", now)
        };
        assert_eq!(
            limited(&[("retry-after", "18446744073709551615")], 0),
            Some(Duration::from_secs(u64::MAX))
        );
        let min = i64::MIN.to_string();
        assert_eq!(
            limited(&[("x-ratelimit-reset", &min)], 1_700_000_000),
            Some(Duration::from_secs(1)),
            "a reset in the far past is a wait of a second"
        );
        let max = i64::MAX.to_string();
        assert_eq!(
            limited(&[("x-ratelimit-reset", &max)], i64::MIN),
            Some(Duration::from_secs(i64::MAX as u64))
        );
    }

    /// A header value: usually a number of some size, sometimes any text a header can hold.
    fn header_value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            any::<u64>().prop_map(|n| n.to_string().into_bytes()),
            any::<i64>().prop_map(|n| n.to_string().into_bytes()),
            "[0-9]{15,40}".prop_map(String::into_bytes),
            "-?[0-9 .e+]{0,12}".prop_map(String::into_bytes),
            "[A-Za-z]{3}, [0-9]{1,2} [A-Za-z]{3} [0-9]{1,6} [0-9:]{1,8} GMT"
                .prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..48),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, failure_persistence: None, ..ProptestConfig::default() })]

        /// The dialect's header parsing, fuzzed: any status, any value of the headers it
        /// reads, any body and any clock give an answer, never a panic.
        #[test]
        fn no_header_value_panics_the_dialect(
            code in prop_oneof![Just(429u16), Just(403), 100u16..=599],
            retry_after in prop_oneof![header_value(), Just(Vec::new())],
            reset in header_value(),
            remaining in header_value(),
            date in header_value(),
            location in header_value(),
            body in proptest::collection::vec(any::<u8>(), 0..64),
            now in any::<i64>(),
        ) {
            let status = StatusCode::from_u16(code).unwrap();
            let mut h = HeaderMap::new();
            for (name, value) in [
                ("retry-after", &retry_after),
                ("x-ratelimit-reset", &reset),
                ("x-ratelimit-remaining", &remaining),
                ("date", &date),
                ("location", &location),
                ("x-github-request-id", &remaining),
            ] {
                if let Ok(v) = HeaderValue::from_bytes(value) {
                    h.insert(name, v);
                }
            }
            let wait = rate_limit_wait(status, &h, &body, now);
            if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::FORBIDDEN {
                prop_assert_eq!(wait, None);
            }
            let _ = clock_offset(&h, now);
            let _ = error_message(status, &h, &body);
            let _ = request_id(&h);
            let _ = is_clock_rejection(status, &body);
        }
    }

    #[test]
    fn clock_rejections_are_401s_about_iat_or_exp() {
        let iat = br#"{"message":"'Issued at' claim ('iat') must be an Integer representing a time in the past."}"#;
        let exp = br#"{"message":"'Expiration time' claim ('exp') is too far in the future"}"#;
        assert!(is_clock_rejection(StatusCode::UNAUTHORIZED, iat));
        assert!(is_clock_rejection(StatusCode::UNAUTHORIZED, exp));
        assert!(!is_clock_rejection(
            StatusCode::UNAUTHORIZED,
            br#"{"message":"A JSON web token could not be decoded"}"#
        ));
        // The same words under any other status are not about the clock.
        assert!(!is_clock_rejection(StatusCode::FORBIDDEN, iat));
        assert!(!is_clock_rejection(StatusCode::BAD_REQUEST, exp));
    }

    #[test]
    fn clock_offsets_come_from_the_date_header() {
        let h = headers(&[("date", "Thu, 01 Jan 1970 00:10:00 GMT")]);
        assert_eq!(clock_offset(&h, 300), Some(300));
        assert_eq!(clock_offset(&h, 900), Some(-300));
        assert_eq!(clock_offset(&HeaderMap::new(), 300), None);
        assert_eq!(clock_offset(&headers(&[("date", "yesterday")]), 300), None);
    }

    #[test]
    fn error_messages_carry_githubs_words_and_hide_redirect_paths() {
        let m = error_message(
            StatusCode::UNPROCESSABLE_ENTITY,
            &HeaderMap::new(),
            br#"{"message":"Validation Failed","errors":[{"message":"bad thing"}]}"#,
        );
        assert_eq!(m, "Validation Failed (bad thing)");
        let m = error_message(
            StatusCode::FOUND,
            &headers(&[("location", "https://evil.example/steal?x=1")]),
            b"",
        );
        assert!(m.contains("evil.example") && !m.contains("steal"), "{m}");
        assert_eq!(
            error_message(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"<html>"),
            "Bad Gateway"
        );
    }
}
