//! Each app's three FIFO queues, created (or brought up to date) at start:
//! `{app}-inbox.fifo` (flushed conversations, group = conversation) → the handler;
//! `{app}-outbox.fifo` (replies, group = recipient) → the platform's send API;
//! `{app}-dlq.fifo`, where both dead-letter after the configured attempts.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::apps::{AppSpec, RetryPolicy};
use crate::engine::debounce::inbox_queue_name;
use crate::engine::error::{EngineError, EngineResult};
use crate::engine::queue::RedrivePolicy;
use crate::engine::{Engine, QueueKey};

pub fn outbox_queue_name(app: &str) -> String {
    format!("{app}-outbox.fifo")
}

pub fn dlq_queue_name(app: &str) -> String {
    format!("{app}-dlq.fifo")
}

/// Dead letters are kept as long as SQS allows (14 days), for a person to look at.
const DLQ_RETENTION_SECS: u64 = 1_209_600;

/// The queues of one app in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppQueues {
    pub inbox: QueueKey,
    pub outbox: QueueKey,
    pub dlq: QueueKey,
}

impl AppQueues {
    pub fn new(region: &str, app: &str) -> AppQueues {
        AppQueues {
            inbox: QueueKey::new(region, inbox_queue_name(app)),
            outbox: QueueKey::new(region, outbox_queue_name(app)),
            dlq: QueueKey::new(region, dlq_queue_name(app)),
        }
    }
}

/// Creates the app's queues, or sets their attributes to what the config says now (a changed
/// `attempts` or `timeout` takes effect on restart). Safe to run on several nodes at once.
pub async fn ensure_app_queues(engine: &Engine, region: &str, spec: &AppSpec) -> EngineResult<()> {
    let q = AppQueues::new(region, &spec.name);
    let dlq_arn = engine.arn(&q.dlq);
    ensure(
        engine,
        &q.dlq,
        attributes(&[("MessageRetentionPeriod", DLQ_RETENTION_SECS.to_string())]),
    )
    .await?;
    for (key, policy) in [(&q.inbox, &spec.handler_retry), (&q.outbox, &spec.sender)] {
        ensure(engine, key, worked_queue(&dlq_arn, policy)).await?;
    }
    Ok(())
}

/// A queue a worker consumes: visibility covers one attempt, redrive after the attempts.
fn worked_queue(dlq_arn: &str, policy: &RetryPolicy) -> BTreeMap<String, String> {
    let redrive = RedrivePolicy {
        dead_letter_target_arn: dlq_arn.to_owned(),
        max_receive_count: policy.attempts,
    };
    attributes(&[
        ("VisibilityTimeout", policy.visibility_secs().to_string()),
        ("RedrivePolicy", redrive.to_json()),
        // Ids are explicit: the flusher and the dispatcher derive them from what they send.
        ("ContentBasedDeduplication", "false".to_owned()),
    ])
}

fn attributes(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    m.insert("FifoQueue".into(), "true".into());
    m
}

async fn ensure(
    engine: &Engine,
    key: &QueueKey,
    attributes: BTreeMap<String, String>,
) -> EngineResult<()> {
    match engine
        .create_queue(key.clone(), attributes.clone(), BTreeMap::new())
        .await
    {
        Ok(_) => Ok(()),
        // It exists with other values: the config wins.
        Err(EngineError::QueueNameExists(_)) => {
            let mut settable = attributes;
            settable.remove("FifoQueue");
            engine.set_queue_attributes(key, settable).await
        }
        Err(e) => Err(e),
    }
}

/// Creates the queues of every app in `config`; the error names the app.
pub async fn ensure_all(
    engine: &Engine,
    region: &str,
    config: &crate::config::Config,
) -> Result<(), String> {
    for (name, app) in &config.apps {
        let spec = app
            .spec(name)
            .map_err(|problems| format!("app {name}: {}", problems.join("; ")))?;
        ensure_app_queues(engine, region, &spec)
            .await
            .map_err(|e| format!("creating the queues of app {name}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::config::Config;
    use crate::store::embedded::EmbeddedStore;

    fn config(attempts: u32, timeout: &str) -> Config {
        Config::parse(
            "lull.toml",
            &format!(
                "[apps.bot]\nplatform = \"telegram\"\nbot_token = \"1:x\"\n\
                 [apps.bot.handler_retry]\nattempts = {attempts}\ntimeout = \"{timeout}\"\n"
            ),
        )
        .unwrap()
    }

    async fn attribute(engine: &Engine, key: &QueueKey, name: &str) -> String {
        let record = engine.get_queue(key).await.unwrap();
        record.attributes.get(name).cloned().unwrap_or_default()
    }

    #[tokio::test]
    async fn app_queues_are_created_once_and_follow_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let store = Arc::new(EmbeddedStore::open(dir.path(), clock.now_ms()).unwrap());
        let engine = Engine::new(store.clone(), clock, "123456789012");
        let q = AppQueues::new("us-east-1", "bot");

        ensure_all(&engine, "us-east-1", &config(3, "10s"))
            .await
            .unwrap();
        for key in [&q.inbox, &q.outbox, &q.dlq] {
            assert_eq!(
                attribute(&engine, key, "FifoQueue").await,
                "true",
                "{}",
                key.name
            );
        }
        assert_eq!(
            attribute(&engine, &q.inbox, "VisibilityTimeout").await,
            "15"
        );
        let policy =
            RedrivePolicy::parse(&attribute(&engine, &q.inbox, "RedrivePolicy").await).unwrap();
        assert_eq!(policy.max_receive_count, 3);
        assert_eq!(
            QueueKey::from_arn(&policy.dead_letter_target_arn),
            Some(q.dlq.clone())
        );
        assert_eq!(
            attribute(&engine, &q.dlq, "MessageRetentionPeriod").await,
            "1209600"
        );

        // Again with the same config: nothing to do. With another: the queues follow it.
        ensure_all(&engine, "us-east-1", &config(3, "10s"))
            .await
            .unwrap();
        ensure_all(&engine, "us-east-1", &config(7, "1s"))
            .await
            .unwrap();
        assert_eq!(attribute(&engine, &q.inbox, "VisibilityTimeout").await, "6");
        let policy =
            RedrivePolicy::parse(&attribute(&engine, &q.inbox, "RedrivePolicy").await).unwrap();
        assert_eq!(policy.max_receive_count, 7);
        // The sender's queue keeps its own (default) settings.
        let outbox =
            RedrivePolicy::parse(&attribute(&engine, &q.outbox, "RedrivePolicy").await).unwrap();
        assert_eq!(
            outbox.max_receive_count,
            crate::config::apps::DEFAULT_SENDER_RETRY.attempts
        );
        store.close();
    }
}
