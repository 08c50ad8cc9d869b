//! What a worker does with a message it could not deliver: hand it back to its queue after a
//! backoff (the queue's receive count and redrive policy dead-letter it after the configured
//! attempts), or dead-letter it at once when retrying cannot help.

use std::time::Duration;

use rand::Rng;

use crate::config::apps::RetryPolicy;
use crate::engine::{AttributeValue, Engine, EngineResult, QueueKey, Received, SendRequest};

/// Exponential backoff with jitter: attempt n waits between half and all of
/// `base × 2^(n-1)`, capped at `max`, so retries of many failed messages spread out.
pub fn backoff_ms(policy: &RetryPolicy, receive_count: u32) -> u64 {
    let exp = receive_count.saturating_sub(1).min(40);
    let full = policy
        .backoff_base_ms
        .saturating_mul(1u64 << exp)
        .min(policy.backoff_max_ms);
    let half = full / 2;
    half + rand::rng().random_range(0..=full - half)
}

/// Makes a received message visible again after `delay_ms`. SQS visibility is in whole seconds,
/// so a delay under one second is waited here, then the message is released at once.
pub async fn retry_later(
    engine: &Engine,
    queue: &QueueKey,
    m: &Received,
    delay_ms: u64,
) -> EngineResult<()> {
    let secs = if delay_ms < 1_000 {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        0
    } else {
        delay_ms.div_ceil(1_000).min(43_200) as i64
    };
    first_error(
        engine
            .change_visibility(queue, &[(m.receipt_handle.clone(), secs)])
            .await?,
    )
}

/// Keeps a received message hidden for `ms` from now, so that waiting (for a rate limit) does
/// not let it be received again, which would cost a delivery attempt.
pub async fn extend(engine: &Engine, queue: &QueueKey, m: &Received, ms: u64) -> EngineResult<()> {
    let secs = ms.div_ceil(1_000).min(43_200) as i64;
    first_error(
        engine
            .change_visibility(queue, &[(m.receipt_handle.clone(), secs)])
            .await?,
    )
}

/// Message attributes naming why and where from a message was dead-lettered.
pub const REASON_ATTRIBUTE: &str = "lull.reason";
pub const SOURCE_ATTRIBUTE: &str = "lull.source";

/// Moves a message to `dlq` now: a copy (same body and group, the reason and source queue as
/// attributes), then the original is deleted. `lull redrive DLQ --to QUEUE` sends it back.
pub async fn dead_letter_now(
    engine: &Engine,
    from: &QueueKey,
    dlq: &QueueKey,
    m: &Received,
    reason: &str,
) -> EngineResult<()> {
    let text = |v: &str| AttributeValue {
        data_type: "String".into(),
        string_value: Some(v.chars().take(1024).collect()),
        binary_value: None,
    };
    let mut attributes = m.message.attributes.clone();
    attributes.insert(REASON_ATTRIBUTE.into(), text(reason));
    attributes.insert(SOURCE_ATTRIBUTE.into(), text(&from.name));
    // Message attributes are limited to 10; the reason matters more than the rest.
    while attributes.len() > 10 {
        let Some(k) = attributes
            .keys()
            .find(|k| *k != REASON_ATTRIBUTE && *k != SOURCE_ATTRIBUTE)
            .cloned()
        else {
            break;
        };
        attributes.remove(&k);
    }
    let copy = SendRequest {
        body: m.message.body.clone(),
        attributes,
        group_id: Some(
            m.message
                .group_id
                .clone()
                .unwrap_or_else(|| "dead-letter".into()),
        ),
        dedup_id: Some(m.message.id.clone()),
        sender_id: engine.account().to_owned(),
        ..SendRequest::default()
    };
    first_error(
        engine
            .send(dlq, vec![copy])
            .await?
            .into_iter()
            .map(|r| r.map(|_| ()))
            .collect(),
    )?;
    first_error(
        engine
            .delete_messages(from, std::slice::from_ref(&m.receipt_handle))
            .await?,
    )
}

/// An HTTP client error with its causes (reqwest's own text leaves out why a connection
/// failed: refused, TLS, DNS).
pub fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

fn first_error(results: Vec<EngineResult<()>>) -> EngineResult<()> {
    results.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_stops_at_the_cap() {
        let p = RetryPolicy {
            attempts: 5,
            backoff_base_ms: 1_000,
            backoff_max_ms: 10_000,
            timeout_ms: 1_000,
        };
        for _ in 0..200 {
            let first = backoff_ms(&p, 1);
            assert!((500..=1_000).contains(&first), "{first}");
            let third = backoff_ms(&p, 3);
            assert!((2_000..=4_000).contains(&third), "{third}");
            let late = backoff_ms(&p, 30);
            assert!((5_000..=10_000).contains(&late), "{late}");
        }
        assert!(backoff_ms(&p, u32::MAX) <= 10_000);
        let zero = RetryPolicy {
            backoff_base_ms: 0,
            ..p
        };
        assert_eq!(backoff_ms(&zero, 3), 0);
    }
}
