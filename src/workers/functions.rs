//! Functions (the Lambda pattern): each `[functions.NAME]` reads its queue the way Lambda's
//! SQS event source does and hands batches to an HTTP endpoint or a command.
//!
//! Per function, `concurrency` loops long-poll the source queue (ReceiveMessage with up to 20 s
//! of wait and at most 10 messages a call), gather up to `batch_size` messages within
//! `batching_window`, and invoke the function with the SQS event. Success deletes the batch;
//! with `report_batch_item_failures`, the messages named in `batchItemFailures` stay (on a FIFO
//! queue, from the first failed one on, as Lambda does). A failure deletes nothing: the
//! messages come back after the queue's visibility timeout, so `ApproximateReceiveCount` and the
//! queue's redrive policy dead-letter them as they would under Lambda.
//!
//! As many loops read the function's invoke queue, where a topic's `lambda` subscription leaves
//! SNS event records; each becomes one invocation, as SNS invokes Lambda one record at a time.
//! A failed one is retried after a minute, then after two more, then dropped with a log line
//! (Lambda's asynchronous invocation makes three attempts).

mod event;
mod invoke;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use self::invoke::{verdict, Invoker, Verdict};
use super::WorkerCtx;
use crate::config::resources::FunctionSpec;
use crate::engine::topics::lambda::function_invoke_queue;
use crate::engine::{EngineError, QueueKey, ReceiveRequest, Received};

/// Longest long poll SQS allows.
const MAX_WAIT_SECS: i64 = 20;
/// Most messages one ReceiveMessage returns.
const MAX_RECEIVE: usize = 10;
/// Lambda's limit on an invocation's payload: gathering stops once the bodies reach it.
const MAX_PAYLOAD: usize = 6 * 1024 * 1024;
/// How often the last, sub-second part of a batching window looks for more messages.
const WINDOW_TICK: Duration = Duration::from_millis(20);
/// Attempts at one topic delivery before it is dropped.
const SNS_ATTEMPTS: u32 = 3;
/// Delay before the next attempt at a failed topic delivery, per attempt made.
const SNS_RETRY_DELAY_SECS: i64 = 60;
/// Pause after a failed receive (the queue was deleted, the store is unreachable).
const ERROR_PAUSE: Duration = Duration::from_secs(1);

struct Function {
    spec: FunctionSpec,
    invoker: Invoker,
}

pub fn spawn(ctx: &WorkerCtx) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    for (name, decl) in &ctx.config.functions {
        // Checked at start (with the source queue's type); `None` accepts every valid spec.
        let spec = match decl.spec(name, None) {
            Ok(s) => s,
            Err(problems) => {
                tracing::error!(function = %name, problems = %problems.join("; "), "function not started");
                continue;
            }
        };
        let function = Arc::new(Function {
            invoker: Invoker {
                name: spec.name.clone(),
                target: spec.target.clone(),
                timeout: spec.timeout,
                environment: function_environment(ctx, name, &spec.environment),
                http: ctx.http.clone(),
            },
            spec,
        });
        let invoke_queue = QueueKey::new(ctx.region.as_str(), function_invoke_queue(name));
        for _ in 0..function.spec.concurrency {
            if let Some(q) = &function.spec.queue {
                let queue = QueueKey::new(ctx.region.as_str(), q.as_str());
                tasks.push(tokio::spawn(read_queue(
                    ctx.clone(),
                    function.clone(),
                    queue,
                )));
            }
            tasks.push(tokio::spawn(read_invocations(
                ctx.clone(),
                function.clone(),
                invoke_queue.clone(),
            )));
        }
    }
    tasks
}

/// Logs a failing receive once per run of failures, and pauses before the next try.
struct Trouble {
    failing: bool,
}

impl Trouble {
    async fn failed(&mut self, ctx: &WorkerCtx, function: &str, queue: &QueueKey, e: &EngineError) {
        if !self.failing {
            tracing::warn!(function, queue = %queue.name, error = %e, "function cannot read its queue; retrying");
            self.failing = true;
        }
        tokio::select! {
            _ = tokio::time::sleep(ERROR_PAUSE) => {}
            _ = ctx.stopped() => {}
        }
    }

    fn ok(&mut self, function: &str, queue: &QueueKey) {
        if self.failing {
            tracing::info!(function, queue = %queue.name, "function reads its queue again");
            self.failing = false;
        }
    }
}

/// One loop of the function's SQS event source.
async fn read_queue(ctx: WorkerCtx, f: Arc<Function>, queue: QueueKey) {
    let mut trouble = Trouble { failing: false };
    let name = f.spec.name.as_str();
    while !ctx.is_stopping() {
        let batch = tokio::select! {
            b = gather(&ctx, &f.spec, &queue) => b,
            _ = ctx.stopped() => return,
        };
        let batch = match batch {
            Ok(b) => {
                trouble.ok(name, &queue);
                b
            }
            Err(e) => {
                trouble.failed(&ctx, name, &queue, &e).await;
                continue;
            }
        };
        if batch.is_empty() {
            continue;
        }
        let fifo = queue.is_fifo_name();
        let event = event::sqs_event(&batch, &ctx.engine.arn(&queue), &queue.region, fifo);
        let payload = event.to_string();
        let outcome = tokio::select! {
            r = f.invoker.invoke(payload.as_bytes()) => r,
            // Abandoned: the batch comes back after its visibility timeout.
            _ = ctx.stopped() => return,
        };
        let ids: Vec<&str> = batch.iter().map(|r| r.message.id.as_str()).collect();
        let done: Vec<String> = match outcome
            .map(|answer| verdict(&answer, f.spec.report_batch_item_failures, &ids))
        {
            Ok(Verdict::Success) => batch.iter().map(|r| r.receipt_handle.clone()).collect(),
            Ok(Verdict::ItemsFailed(failed)) => {
                tracing::info!(
                    function = name,
                    failed = failed.len(),
                    of = batch.len(),
                    "function reported failed items; they stay in the queue"
                );
                succeeded(&batch, &failed, fifo)
            }
            Ok(Verdict::Failed(why)) => {
                tracing::warn!(function = name, messages = batch.len(), reason = %why, "function failed; the batch stays in the queue");
                Vec::new()
            }
            Err(e) => {
                tracing::warn!(function = name, messages = batch.len(), reason = %e, "function failed; the batch stays in the queue");
                Vec::new()
            }
        };
        if !done.is_empty() {
            if let Err(e) = ctx.engine.delete_messages(&queue, &done).await {
                tracing::warn!(function = name, queue = %queue.name, error = %e, "cannot delete the processed messages; they will be delivered again");
            }
        }
    }
}

/// Receipt handles of the messages that succeeded, given the ids that failed. On a FIFO queue
/// everything from the first failure on stays, to keep each group's order.
fn succeeded(batch: &[Received], failed: &[String], fifo: bool) -> Vec<String> {
    let is_failed = |r: &Received| failed.contains(&r.message.id);
    if fifo {
        batch
            .iter()
            .take_while(|r| !is_failed(r))
            .map(|r| r.receipt_handle.clone())
            .collect()
    } else {
        batch
            .iter()
            .filter(|r| !is_failed(r))
            .map(|r| r.receipt_handle.clone())
            .collect()
    }
}

/// Waits for messages, then gathers up to `batch_size` of them within the batching window.
async fn gather(
    ctx: &WorkerCtx,
    spec: &FunctionSpec,
    queue: &QueueKey,
) -> Result<Vec<Received>, EngineError> {
    let batch_size = spec.batch_size as usize;
    let receive = |max: usize, wait: i64| {
        ctx.engine.receive(
            queue,
            ReceiveRequest {
                max_messages: Some(max.min(MAX_RECEIVE) as i64),
                visibility_timeout: None,
                wait_seconds: Some(wait),
            },
        )
    };
    let mut batch = receive(batch_size, MAX_WAIT_SECS).await?;
    if batch.is_empty() || spec.batching_window.is_zero() {
        return Ok(batch);
    }
    let deadline = Instant::now() + spec.batching_window;
    let mut bytes: usize = batch.iter().map(|r| r.message.body.len()).sum();
    while batch.len() < batch_size && bytes < MAX_PAYLOAD {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let remaining = deadline - now;
        // Long polls take whole seconds; the rest of the window is watched in short ticks.
        let wait = (remaining.as_secs() as i64).min(MAX_WAIT_SECS);
        let more = receive(batch_size - batch.len(), wait).await?;
        if more.is_empty() && wait == 0 {
            tokio::time::sleep(remaining.min(WINDOW_TICK)).await;
        }
        bytes += more.iter().map(|r| r.message.body.len()).sum::<usize>();
        batch.extend(more);
    }
    Ok(batch)
}

/// One loop over the function's invoke queue: topic deliveries, one invocation each.
async fn read_invocations(ctx: WorkerCtx, f: Arc<Function>, queue: QueueKey) {
    let mut trouble = Trouble { failing: false };
    let name = f.spec.name.as_str();
    while !ctx.is_stopping() {
        let got = tokio::select! {
            r = ctx.engine.receive(&queue, ReceiveRequest {
                max_messages: Some(1),
                visibility_timeout: None,
                wait_seconds: Some(MAX_WAIT_SECS),
            }) => r,
            _ = ctx.stopped() => return,
        };
        let got = match got {
            Ok(g) => {
                trouble.ok(name, &queue);
                g
            }
            Err(e) => {
                trouble.failed(&ctx, name, &queue, &e).await;
                continue;
            }
        };
        for r in got {
            let receipt = r.receipt_handle.clone();
            let outcome = match event::sns_event(&r.message.body) {
                Ok(event) => {
                    let payload = event.to_string();
                    tokio::select! {
                        o = f.invoker.invoke(payload.as_bytes()) => o.map(|_| ()),
                        _ = ctx.stopped() => return,
                    }
                }
                Err(e) => {
                    // Nothing a retry could fix.
                    tracing::error!(function = name, message = %r.message.id, error = %e, "topic delivery is not an SNS record; dropped");
                    Ok(())
                }
            };
            let attempts = r.message.receive_count;
            let settle = match outcome {
                Ok(()) => ctx
                    .engine
                    .delete_messages(&queue, &[receipt])
                    .await
                    .map(|_| ()),
                Err(e) if attempts >= SNS_ATTEMPTS => {
                    tracing::error!(function = name, message = %r.message.id, attempts, reason = %e, "topic delivery failed every attempt; dropped");
                    ctx.engine
                        .delete_messages(&queue, &[receipt])
                        .await
                        .map(|_| ())
                }
                Err(e) => {
                    let delay = SNS_RETRY_DELAY_SECS * i64::from(attempts.max(1));
                    tracing::warn!(function = name, message = %r.message.id, attempts, retry_in_secs = delay, reason = %e, "topic delivery failed; will retry");
                    ctx.engine
                        .change_visibility(&queue, &[(receipt, delay)])
                        .await
                        .map(|_| ())
                }
            };
            if let Err(e) = settle {
                tracing::warn!(function = name, queue = %queue.name, error = %e, "cannot settle a topic delivery");
            }
        }
    }
}

/// What a command function finds in its environment, as Lambda sets `AWS_REGION` and the
/// function's name: where lull serves (`LULL_ENDPOINT`, and `AWS_ENDPOINT_URL` so an AWS SDK
/// inside the function talks to this lull unchanged) and the region. The function's own
/// `environment` table wins over all of these.
fn function_environment(
    ctx: &WorkerCtx,
    name: &str,
    declared: &std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    let mut env = std::collections::BTreeMap::from([
        ("LULL_ENDPOINT".to_string(), ctx.public_url.clone()),
        ("LULL_FUNCTION".to_string(), name.to_string()),
        ("AWS_REGION".to_string(), ctx.region.clone()),
        ("AWS_DEFAULT_REGION".to_string(), ctx.region.clone()),
        ("AWS_LAMBDA_FUNCTION_NAME".to_string(), name.to_string()),
    ]);
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        env.insert("AWS_ENDPOINT_URL".to_string(), ctx.public_url.clone());
    }
    env.extend(declared.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::message::StoredMessage;

    fn received(id: &str) -> Received {
        Received {
            message: StoredMessage {
                seq: 0,
                id: id.into(),
                body: String::new(),
                attributes: Default::default(),
                system_attributes: Default::default(),
                md5_body: String::new(),
                md5_attributes: None,
                md5_system_attributes: None,
                sent_ms: 0,
                sender_id: String::new(),
                group_id: None,
                dedup_id: None,
                delay_until_ms: 0,
                receive_count: 1,
                first_receive_ms: None,
                dead_letter_source: None,
            },
            receipt_handle: format!("rh-{id}"),
        }
    }

    #[test]
    fn partial_failures_keep_the_failed_and_on_fifo_everything_after() {
        let batch: Vec<Received> = ["a", "b", "c", "d"].iter().map(|i| received(i)).collect();
        let failed = vec!["b".to_string()];
        assert_eq!(succeeded(&batch, &failed, false), ["rh-a", "rh-c", "rh-d"]);
        assert_eq!(succeeded(&batch, &failed, true), ["rh-a"]);
    }
}
