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
