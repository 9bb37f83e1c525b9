//! GitHub's dialect of HTTP, as pure functions: error bodies and request ids, rate-limit waits, and a JWT refused for its clock.

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
        return Some(Duration::from_secs((reset - now).max(1) as u64));
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
    Some(server - now)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

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
