//! HTTP/S delivery policies: how often and how far apart SNS retries a failed delivery, how
//! fast it may deliver, and the Content-Type it posts with.
//!
//! A topic's `DeliveryPolicy` holds the defaults under `http` (`defaultHealthyRetryPolicy`,
//! `defaultThrottlePolicy`, `defaultRequestPolicy`, `disableSubscriptionOverrides`); a
//! subscription's holds its own (`healthyRetryPolicy`, `throttlePolicy`, `requestPolicy`),
//! which win unless the topic disables overrides.
//!
//! Retries run in four phases, in order: `numNoDelayRetries` at once, `numMinDelayRetries`
//! `minDelayTarget` apart, the backoff phase (whatever `numRetries` leaves over) growing from
//! `minDelayTarget` to `maxDelayTarget` along `backoffFunction`, then `numMaxDelayRetries`
//! `maxDelayTarget` apart.

use serde_json::Value;

use crate::engine::error::{EngineError, EngineResult};

/// SNS's limits.
const MAX_RETRIES: u64 = 100;
const MAX_DELAY_SECS: u64 = 3600;
const DEFAULT_CONTENT_TYPE: &str = "text/plain; charset=UTF-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    Linear,
    Arithmetic,
    Geometric,
    Exponential,
}

impl Backoff {
    fn parse(s: &str) -> Option<Backoff> {
        match s {
            "linear" => Some(Backoff::Linear),
            "arithmetic" => Some(Backoff::Arithmetic),
            "geometric" => Some(Backoff::Geometric),
            "exponential" => Some(Backoff::Exponential),
            _ => None,
        }
    }

    /// How far (0..=1) from the least to the greatest delay the `i`th of `n` backoff retries is.
    fn fraction(self, i: u64, n: u64) -> f64 {
        let (i, n) = (i as f64, n as f64);
        match self {
            Backoff::Linear => i / n,
            // The delays grow by a constant step more each time.
            Backoff::Arithmetic => (i * (i + 1.0)) / (n * (n + 1.0)),
            // Each delay doubles the growth of the one before.
            Backoff::Exponential => (2f64.powf(i) - 1.0) / (2f64.powf(n) - 1.0),
            // Handled in `delay` (a constant ratio between delays).
            Backoff::Geometric => i / n,
        }
    }
}

/// A healthy-endpoint retry policy.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub num_retries: u64,
    pub num_no_delay_retries: u64,
    pub num_min_delay_retries: u64,
    pub num_max_delay_retries: u64,
    pub min_delay_secs: u64,
    pub max_delay_secs: u64,
    pub backoff: Backoff,
}

impl Default for RetryPolicy {
    /// SNS's default for HTTP/S: three retries, 20 seconds apart.
    fn default() -> Self {
        RetryPolicy {
            num_retries: 3,
            num_no_delay_retries: 0,
            num_min_delay_retries: 0,
            num_max_delay_retries: 0,
            min_delay_secs: 20,
            max_delay_secs: 20,
            backoff: Backoff::Linear,
        }
    }
}

impl RetryPolicy {
    /// How long to wait before retry number `retry` (1-based); `None` once retries are spent.
    pub fn delay_before(&self, retry: u64) -> Option<u64> {
        if retry == 0 || retry > self.num_retries {
            return None;
        }
        let no = self.num_no_delay_retries;
        let min = no + self.num_min_delay_retries;
        let backoff_n = self
            .num_retries
            .saturating_sub(min + self.num_max_delay_retries);
        let backoff = min + backoff_n;
        let (lo, hi) = (self.min_delay_secs, self.max_delay_secs);
        Some(if retry <= no {
            0
        } else if retry <= min {
            lo
        } else if retry <= backoff {
            let i = retry - min;
            let secs = match self.backoff {
                Backoff::Geometric if lo > 0 => {
                    lo as f64 * (hi as f64 / lo as f64).powf(i as f64 / backoff_n as f64)
                }
                b => lo as f64 + (hi - lo) as f64 * b.fraction(i, backoff_n),
            };
            (secs.round() as u64).clamp(lo, hi)
        } else {
            hi
        })
    }
}

/// What one HTTP/S subscription's deliveries follow.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectivePolicy {
    pub retry: RetryPolicy,
    pub max_receives_per_second: Option<u64>,
    pub content_type: String,
}

impl Default for EffectivePolicy {
    fn default() -> Self {
        EffectivePolicy {
            retry: RetryPolicy::default(),
            max_receives_per_second: None,
            content_type: DEFAULT_CONTENT_TYPE.into(),
        }
    }
}

fn invalid(reason: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidParameter(format!("Invalid parameter: DeliveryPolicy: {reason}"))
}

fn count(policy: &Value, field: &str, default: u64) -> EngineResult<u64> {
    match policy.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| invalid(format!("{field} must be a non-negative integer"))),
    }
}

fn retry_policy(v: &Value, path: &str) -> EngineResult<RetryPolicy> {
    if !v.is_object() {
        return Err(invalid(format!("{path} must be an object")));
    }
    let d = RetryPolicy::default();
    let p = RetryPolicy {
        num_retries: count(v, "numRetries", d.num_retries)?,
        num_no_delay_retries: count(v, "numNoDelayRetries", 0)?,
        num_min_delay_retries: count(v, "numMinDelayRetries", 0)?,
        num_max_delay_retries: count(v, "numMaxDelayRetries", 0)?,
        min_delay_secs: count(v, "minDelayTarget", d.min_delay_secs)?,
        max_delay_secs: count(v, "maxDelayTarget", d.max_delay_secs)?,
        backoff: match v.get("backoffFunction") {
            None | Some(Value::Null) => Backoff::Linear,
            Some(b) => b.as_str().and_then(Backoff::parse).ok_or_else(|| {
                invalid(format!(
                    "{path}.backoffFunction must be one of arithmetic, exponential, geometric, linear"
                ))
            })?,
        },
    };
    if p.num_retries > MAX_RETRIES {
        return Err(invalid(format!(
            "{path}.numRetries must be at most {MAX_RETRIES}"
        )));
    }
    if p.num_no_delay_retries + p.num_min_delay_retries + p.num_max_delay_retries > p.num_retries {
        return Err(invalid(format!(
            "{path}: numNoDelayRetries, numMinDelayRetries and numMaxDelayRetries together exceed numRetries"
        )));
    }
    if p.min_delay_secs < 1 || p.max_delay_secs > MAX_DELAY_SECS {
        return Err(invalid(format!(
            "{path}: delay targets must be between 1 and {MAX_DELAY_SECS} seconds"
        )));
    }
    if p.min_delay_secs > p.max_delay_secs {
        return Err(invalid(format!(
            "{path}.minDelayTarget must be less than or equal to maxDelayTarget"
        )));
    }
    Ok(p)
}

fn throttle(v: &Value, path: &str) -> EngineResult<Option<u64>> {
    match v.get("maxReceivesPerSecond") {
        None | Some(Value::Null) => Ok(None),
        Some(n) => match n.as_u64() {
            Some(n) if n >= 1 => Ok(Some(n)),
            _ => Err(invalid(format!(
                "{path}.maxReceivesPerSecond must be a positive integer"
            ))),
        },
    }
}

fn content_type(v: &Value, path: &str) -> EngineResult<Option<String>> {
    match v.get("headerContentType") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && s.is_ascii() => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!(
            "{path}.headerContentType must be a content type"
        ))),
    }
}

/// The parts one side (topic default or subscription) sets.
#[derive(Debug, Default)]
struct Parts {
    retry: Option<RetryPolicy>,
    throttle: Option<u64>,
    content_type: Option<String>,
}

fn parts(v: &Value, retry: &str, throttle_key: &str, request: &str) -> EngineResult<Parts> {
    let mut out = Parts::default();
    if let Some(r) = v.get(retry).filter(|r| !r.is_null()) {
        out.retry = Some(retry_policy(r, retry)?);
    }
    if let Some(t) = v.get(throttle_key).filter(|t| !t.is_null()) {
        out.throttle = throttle(t, throttle_key)?;
    }
    if let Some(r) = v.get(request).filter(|r| !r.is_null()) {
        out.content_type = content_type(r, request)?;
    }
    Ok(out)
}

fn parse_json(text: &str) -> EngineResult<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(invalid("failed to parse JSON")),
    }
}

/// The HTTP part of a topic's policy, and whether it disables subscription overrides.
fn topic_parts(text: &str) -> EngineResult<(Parts, bool)> {
    let v = parse_json(text)?;
    let Some(http) = v.get("http").filter(|h| !h.is_null()) else {
        return Ok((Parts::default(), false));
    };
    if !http.is_object() {
        return Err(invalid("http must be an object"));
    }
    let parts = parts(
        http,
        "defaultHealthyRetryPolicy",
        "defaultThrottlePolicy",
        "defaultRequestPolicy",
    )?;
    let disable = match http.get("disableSubscriptionOverrides") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(invalid(
                "disableSubscriptionOverrides must be true or false",
            ))
        }
    };
    Ok((parts, disable))
}

fn subscription_parts(text: &str) -> EngineResult<Parts> {
    let v = parse_json(text)?;
    parts(&v, "healthyRetryPolicy", "throttlePolicy", "requestPolicy")
}

/// Validates a topic's `DeliveryPolicy`.
pub fn validate_topic_policy(text: &str) -> EngineResult<()> {
    topic_parts(text).map(|_| ())
}

/// Validates a subscription's `DeliveryPolicy`.
pub fn validate_subscription_policy(text: &str) -> EngineResult<()> {
    subscription_parts(text).map(|_| ())
}

/// The policy a subscription's deliveries follow. Stored policies were validated when set; one
/// that no longer parses counts as unset.
pub fn effective(topic: Option<&str>, subscription: Option<&str>) -> EffectivePolicy {
    let (t, disable) = topic
        .filter(|p| !p.is_empty())
        .and_then(|p| topic_parts(p).ok())
        .unwrap_or_default();
    let s = match subscription.filter(|p| !p.is_empty()) {
        Some(p) if !disable => subscription_parts(p).unwrap_or_default(),
        _ => Parts::default(),
    };
    let d = EffectivePolicy::default();
    EffectivePolicy {
        retry: s.retry.or(t.retry).unwrap_or(d.retry),
        max_receives_per_second: s.throttle.or(t.throttle),
        content_type: s.content_type.or(t.content_type).unwrap_or(d.content_type),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(v: serde_json::Value) -> RetryPolicy {
        retry_policy(&v, "healthyRetryPolicy").expect("valid")
    }

    #[test]
    fn the_default_retries_three_times_twenty_seconds_apart() {
        let p = RetryPolicy::default();
        let delays: Vec<_> = (1..=4).map(|r| p.delay_before(r)).collect();
        assert_eq!(delays, vec![Some(20), Some(20), Some(20), None]);
    }

    #[test]
    fn retries_go_through_the_four_phases_in_order() {
        let p = policy(serde_json::json!({
            "numRetries": 8, "numNoDelayRetries": 1, "numMinDelayRetries": 2,
            "numMaxDelayRetries": 1, "minDelayTarget": 2, "maxDelayTarget": 10,
            "backoffFunction": "linear"
        }));
        let delays: Vec<_> = (1..=9).map(|r| p.delay_before(r)).collect();
        // Backoff phase: 4 retries from 2 towards 10 (2 + 8 * i/4).
        assert_eq!(
            delays,
            vec![
                Some(0),
                Some(2),
                Some(2),
                Some(4),
                Some(6),
                Some(8),
                Some(10),
                Some(10),
                None
            ]
        );
    }

    #[test]
    fn backoff_functions_rise_from_min_to_max() {
        for f in ["linear", "arithmetic", "geometric", "exponential"] {
            let p = policy(serde_json::json!({
                "numRetries": 6, "minDelayTarget": 1, "maxDelayTarget": 64, "backoffFunction": f
            }));
            let delays: Vec<u64> = (1..=6).map(|r| p.delay_before(r).unwrap()).collect();
            assert!(delays.windows(2).all(|w| w[0] <= w[1]), "{f}: {delays:?}");
            assert_eq!(delays[5], 64, "{f} ends at the maximum");
            assert!(delays[0] >= 1, "{f} starts at the minimum or above");
        }
        let exp = policy(serde_json::json!({
            "numRetries": 6, "minDelayTarget": 1, "maxDelayTarget": 64, "backoffFunction": "exponential"
        }));
        let lin = policy(serde_json::json!({
            "numRetries": 6, "minDelayTarget": 1, "maxDelayTarget": 64, "backoffFunction": "linear"
        }));
        assert!(
            exp.delay_before(3) < lin.delay_before(3),
            "exponential starts slower"
        );
    }

    #[test]
    fn bad_policies_are_refused() {
        for bad in [
            r#"{"healthyRetryPolicy": {"numRetries": 101}}"#,
            r#"{"healthyRetryPolicy": {"numRetries": 2, "numNoDelayRetries": 3}}"#,
            r#"{"healthyRetryPolicy": {"minDelayTarget": 30, "maxDelayTarget": 10}}"#,
            r#"{"healthyRetryPolicy": {"minDelayTarget": 0}}"#,
            r#"{"healthyRetryPolicy": {"maxDelayTarget": 3601}}"#,
            r#"{"healthyRetryPolicy": {"backoffFunction": "cubic"}}"#,
            r#"{"healthyRetryPolicy": {"numRetries": -1}}"#,
            r#"{"healthyRetryPolicy": 3}"#,
            r#"{"throttlePolicy": {"maxReceivesPerSecond": 0}}"#,
            r#"{"requestPolicy": {"headerContentType": 5}}"#,
            "[]",
            "nope",
        ] {
            assert!(validate_subscription_policy(bad).is_err(), "{bad}");
        }
        assert!(validate_topic_policy(
            r#"{"http": {"defaultHealthyRetryPolicy": {"numRetries": 500}}}"#
        )
        .is_err());
        assert!(
            validate_topic_policy(r#"{"http": {"disableSubscriptionOverrides": "yes"}}"#).is_err()
        );
        assert!(validate_topic_policy(
            r#"{"http": {"defaultHealthyRetryPolicy": {"numRetries": 5}}}"#
        )
        .is_ok());
    }

    #[test]
    fn subscriptions_override_the_topic_unless_it_forbids_it() {
        let topic = r#"{"http": {"defaultHealthyRetryPolicy": {"numRetries": 5},
                                 "defaultThrottlePolicy": {"maxReceivesPerSecond": 7},
                                 "defaultRequestPolicy": {"headerContentType": "application/json"}}}"#;
        let sub = r#"{"healthyRetryPolicy": {"numRetries": 1}}"#;
        let e = effective(Some(topic), Some(sub));
        assert_eq!(e.retry.num_retries, 1);
        assert_eq!(e.max_receives_per_second, Some(7));
        assert_eq!(e.content_type, "application/json");
        let locked = r#"{"http": {"defaultHealthyRetryPolicy": {"numRetries": 5},
                                  "disableSubscriptionOverrides": true}}"#;
        assert_eq!(effective(Some(locked), Some(sub)).retry.num_retries, 5);
        assert_eq!(effective(None, None), EffectivePolicy::default());
    }
}
