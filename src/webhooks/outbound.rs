//! Replies leaving lull: the HTTP request each platform's send API expects, and what to do with
//! the answer. Building is pure; the sender worker performs the request.

use std::time::{Duration, SystemTime};

use serde_json::Value;

/// One HTTP call to a platform's send API.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundRequest {
    pub method: http::Method,
    pub url: String,
    /// Header names as the platform documents them; `Content-Type` is always JSON.
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl OutboundRequest {
    pub(crate) fn post_json(url: String, body: Value) -> OutboundRequest {
        OutboundRequest {
            method: http::Method::POST,
            url,
            headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
            body,
        }
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> OutboundRequest {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_bytes(&self) -> Vec<u8> {
        // Serialising a Value cannot fail: its map keys are always strings.
        serde_json::to_vec(&self.body).unwrap_or_default()
    }
}

/// Joins a configured base URL (with or without a trailing slash) and path segments, each
/// segment percent-encoded so an id or token can never change the path's shape.
pub(crate) fn join_url(base: &str, segments: &[&str]) -> String {
    let mut url = base.trim_end_matches('/').to_owned();
    for segment in segments {
        url.push('/');
        encode_segment(segment, &mut url);
    }
    url
}

fn encode_segment(segment: &str, out: &mut String) {
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b':' | b'@') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// What the sender does after a send attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Delivered.
    Done,
    /// Try again no sooner than this, as the platform asked with `Retry-After`.
    RetryAfter(Duration),
    /// Try again with the sender's own backoff.
    Retry,
    /// The platform refused the request itself; retrying cannot help, so dead-letter it.
    Fail,
}

/// Classifies a send API's answer: 2xx is done; 408, 429 and 5xx are retried (honouring
/// `Retry-After` given as seconds or as an HTTP date); anything else fails.
pub fn classify(status: u16, retry_after: Option<&str>) -> Retry {
    classify_at(status, retry_after, SystemTime::now())
}

/// [`classify`] with the current time supplied, for HTTP-date `Retry-After` values.
pub fn classify_at(status: u16, retry_after: Option<&str>, now: SystemTime) -> Retry {
    match status {
        200..=299 => Retry::Done,
        408 | 429 | 500..=599 => match retry_after.and_then(|v| retry_after_delay(v, now)) {
            Some(delay) => Retry::RetryAfter(delay),
            None => Retry::Retry,
        },
        _ => Retry::Fail,
    }
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP date (a date already past means
/// "now"). Unparseable values are `None`, leaving the sender's own backoff in charge.
pub fn retry_after_delay(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn success_is_done_whatever_retry_after_says() {
        assert_eq!(classify(200, None), Retry::Done);
        assert_eq!(classify(201, Some("30")), Retry::Done);
        assert_eq!(classify(204, None), Retry::Done);
    }

    #[test]
    fn throttling_and_server_errors_retry_honouring_seconds() {
        assert_eq!(
            classify(429, Some("7")),
            Retry::RetryAfter(Duration::from_secs(7))
        );
        assert_eq!(
            classify(503, Some(" 120 ")),
            Retry::RetryAfter(Duration::from_secs(120))
        );
        assert_eq!(classify(500, None), Retry::Retry);
        assert_eq!(classify(502, Some("soon")), Retry::Retry);
        assert_eq!(classify(408, None), Retry::Retry);
        assert_eq!(classify(599, Some("0")), Retry::RetryAfter(Duration::ZERO));
    }

    #[test]
    fn retry_after_http_date_is_relative_to_now() {
        // 1994-11-06 08:49:37 GMT is 784111777 seconds after the epoch.
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(
            classify_at(429, Some(date), at(784_111_777 - 90)),
            Retry::RetryAfter(Duration::from_secs(90))
        );
        // Already past: retry straight away.
        assert_eq!(
            classify_at(503, Some(date), at(784_111_777 + 5)),
            Retry::RetryAfter(Duration::ZERO)
        );
        // The obsolete RFC 850 form is accepted too.
        assert_eq!(
            retry_after_delay("Sunday, 06-Nov-94 08:49:37 GMT", at(784_111_777 - 1)),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn client_errors_fail_except_timeout_and_throttle() {
        for status in [400, 401, 403, 404, 409, 413, 422] {
            assert_eq!(classify(status, Some("5")), Retry::Fail, "{status}");
        }
        assert_eq!(classify(301, None), Retry::Fail);
        assert_eq!(classify(100, None), Retry::Fail);
    }

    #[test]
    fn urls_join_and_encode_segments() {
        assert_eq!(
            join_url("https://h.example/api/", &["a b", "x/y", "bot1:Z"]),
            "https://h.example/api/a%20b/x%2Fy/bot1:Z"
        );
        assert_eq!(
            join_url("http://127.0.0.1:9", &["v1"]),
            "http://127.0.0.1:9/v1"
        );
    }
}
