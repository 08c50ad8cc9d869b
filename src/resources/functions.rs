//! `[functions.*]`: the source queue must be declared or exist (and a FIFO one limits the
//! batch, as Lambda does), and every function gets its invoke queue, where the `lambda`
//! protocol of topics leaves SNS event records for it.

use std::collections::BTreeMap;
use std::time::Duration;

use super::queues::{declared_or_existing, lookup};
use super::{problem, Applied, Change, Target};
use crate::config::duration::show;
use crate::config::resources::table_key;
use crate::config::Config;
use crate::engine::topics::lambda::function_invoke_queue;
use crate::engine::{EngineError, QueueKey, QueueRecord};

pub(super) struct FunctionPlan {
    key: String,
    invoke_queue: QueueKey,
    visibility_secs: u64,
    existing: Option<QueueRecord>,
}

/// How long an invocation from the invoke queue stays hidden: the function's timeout, and a
/// little more so that a slow answer is not delivered twice.
pub fn invoke_visibility(timeout: Duration) -> u64 {
    timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0) + 5
}

pub(super) async fn plan(
    t: &Target<'_>,
    config: &Config,
    problems: &mut Vec<String>,
) -> Vec<FunctionPlan> {
    let mut plans = Vec::new();
    for (name, decl) in &config.functions {
        let key = table_key("functions", name);
        let source_fifo = match decl.queue.as_deref() {
            Some(q) => {
                let Some(fifo) =
                    declared_or_existing(t, config, q, &format!("{key}.queue"), problems).await
                else {
                    continue;
                };
                Some(fifo)
            }
            None => None,
        };
        let spec = match decl.spec(name, source_fifo) {
            Ok(s) => s,
            Err(mut p) => {
                problems.append(&mut p);
                continue;
            }
        };
        if let Some(q) = decl.queue.as_deref() {
            warn_if_visibility_is_short(t, config, q, &key, spec.timeout).await;
        }
        let invoke_name = function_invoke_queue(name);
        let existing = lookup(t, &invoke_name, &key, problems).await;
        plans.push(FunctionPlan {
            key,
            invoke_queue: QueueKey::new(t.region, invoke_name),
            visibility_secs: invoke_visibility(spec.timeout),
            existing,
        });
    }
    plans
}

/// Lambda refuses a queue whose visibility timeout is shorter than the function's timeout: a
/// slow invocation's messages become visible again while it runs. lull allows it (a short
/// visibility timeout makes failed messages come back sooner) but says so.
async fn warn_if_visibility_is_short(
    t: &Target<'_>,
    config: &Config,
    queue: &str,
    key: &str,
    timeout: Duration,
) {
    let visibility = match config.queues.get(queue) {
        Some(d) => d
            .sqs_attributes(queue, t.region, t.engine.account())
            .ok()
            .and_then(|a| a.get("VisibilityTimeout").and_then(|v| v.parse().ok())),
        None => {
            let mut ignored = Vec::new();
            lookup(t, queue, key, &mut ignored)
                .await
                .map(|q| q.visibility_timeout_secs())
        }
    };
    if let Some(v) = visibility {
        if Duration::from_secs(v) < timeout {
            tracing::warn!(
                function = %key,
                queue,
                "the queue's visibility timeout ({}) is shorter than the function's timeout ({}): a slow invocation's messages may be delivered again while it runs",
                show(Duration::from_secs(v)),
                show(timeout)
            );
        }
    }
}

pub(super) async fn apply(
    t: &Target<'_>,
    plans: Vec<FunctionPlan>,
    applied: &mut Applied,
    problems: &mut Vec<String>,
) {
    for p in plans {
        match apply_one(t, &p).await {
            Ok(change) => applied.record(p.key, change),
            Err(e) => problems.push(problem(
                &p.key,
                format!("invoke queue {:?}: {e}", p.invoke_queue.name),
            )),
        }
    }
}

async fn apply_one(t: &Target<'_>, p: &FunctionPlan) -> Result<Change, EngineError> {
    let visibility = p.visibility_secs.to_string();
    match &p.existing {
        None => {
            let attributes = BTreeMap::from([("VisibilityTimeout".to_string(), visibility)]);
            t.engine
                .create_queue(p.invoke_queue.clone(), attributes, BTreeMap::new())
                .await?;
            Ok(Change::Created)
        }
        Some(q) if q.attributes.get("VisibilityTimeout") != Some(&visibility) => {
            let attributes = BTreeMap::from([("VisibilityTimeout".to_string(), visibility)]);
            t.engine
                .set_queue_attributes(&p.invoke_queue, attributes)
                .await?;
            Ok(Change::Updated)
        }
        Some(_) => Ok(Change::Unchanged),
    }
}
