//! Topic delivery to HTTP/S subscribers. Reads the durable job queue (`lull-sns-deliveries`)
//! like any consumer and POSTs each job to its endpoint with SNS's headers. A 2xx answer
//! deletes the job; anything else (or no answer within 15 s) schedules the retry the
//! subscription's delivery policy calls for, by hiding the job that long; once retries are
//! spent the job goes to the subscription's dead-letter queue, or is dropped with a log.
//! A job whose subscription is gone is dropped.
//!
//! The job's receive count is its attempt number, so retries survive restarts: a job in flight
//! when the process dies comes back after its visibility timeout and is tried again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::WorkerCtx;
use crate::engine::topics::{DeliveryJob, MessageType};
use crate::engine::{EngineError, QueueKey, ReceiveRequest, Received};

/// Deliveries posted at once.
const MAX_IN_FLIGHT: usize = 64;
/// SNS gives an endpoint 15 seconds to answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// A job stays hidden this long while it is being delivered: past the request timeout (a
/// longer throttle wait extends it). If the process dies meanwhile, the job is tried again
/// after it.
const JOB_VISIBILITY_SECS: i64 = 60;
/// A throttle wait longer than this first extends the job's visibility by the wait.
const LONG_WAIT: Duration = Duration::from_secs(30);
/// How long to wait before looking again when the job queue does not exist yet or failed.
const IDLE: Duration = Duration::from_secs(1);
const USER_AGENT: &str = "Amazon Simple Notification Service Agent";
const CONFIRMATION_CONTENT_TYPE: &str = "text/plain; charset=UTF-8";

pub fn spawn(ctx: &WorkerCtx) -> Vec<JoinHandle<()>> {
    ctx.engine.set_topic_public_endpoint(ctx.public_url.clone());
    ctx.engine.set_topic_delivery_region(ctx.region.clone());
    // Redirects are not followed (SNS does not either) and every request has a deadline.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .user_agent(USER_AGENT)
        .build()
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "topic delivery: using the shared HTTP client");
            ctx.http.clone()
        });
    vec![tokio::spawn(run(Delivery {
        ctx: ctx.clone(),
        client,
        throttle: Arc::new(Throttle::default()),
    }))]
}

#[derive(Clone)]
struct Delivery {
    ctx: WorkerCtx,
    client: reqwest::Client,
    throttle: Arc<Throttle>,
}

async fn run(d: Delivery) {
    // The first publish should not wait for a new signing key.
    if let Err(e) = d.ctx.engine.topic_signer().await {
        tracing::error!(error = %e, "topic signing key unavailable");
    }
    let queue = d.ctx.engine.topic_delivery_queue();
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    loop {
        let first = tokio::select! {
            _ = d.ctx.stopped() => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let max = (slots.available_permits() + 1).min(10) as i64;
        let request = ReceiveRequest {
            max_messages: Some(max),
            visibility_timeout: Some(JOB_VISIBILITY_SECS),
            wait_seconds: Some(20),
        };
        let received = tokio::select! {
            _ = d.ctx.stopped() => break,
            r = d.ctx.engine.receive(&queue, request) => r,
        };
        let jobs = match received {
            Ok(jobs) => jobs,
            Err(e) => {
                if !matches!(e, EngineError::QueueDoesNotExist) {
                    tracing::warn!(error = %e, "topic delivery: receive failed");
                }
                tokio::select! {
                    _ = d.ctx.stopped() => break,
                    _ = tokio::time::sleep(IDLE) => continue,
                }
            }
        };
        let mut permit = Some(first);
        for job in jobs {
            let p = match permit.take() {
                Some(p) => p,
                None => match slots.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let d = d.clone();
            let queue = queue.clone();
            tokio::spawn(async move {
                d.deliver(&queue, job).await;
                drop(p);
            });
        }
    }
}

/// Why a POST did not count as delivered.
#[derive(Debug, thiserror::Error)]
enum PostError {
    #[error("endpoint answered {0}")]
    Status(u16),
    #[error("request failed: {0}")]
    Request(#[from] reqwest::Error),
}

impl Delivery {
    async fn deliver(&self, queue: &QueueKey, received: Received) {
        let engine = &self.ctx.engine;
        let receipt = received.receipt_handle.clone();
        let job: DeliveryJob = match serde_json::from_str(&received.message.body) {
            Ok(job) => job,
            Err(e) => {
                tracing::warn!(error = %e, "topic delivery: unreadable job dropped");
                self.delete(queue, receipt).await;
                return;
            }
        };
        let target = match engine.delivery_target(&job).await {
            Ok(Some(t)) => t,
            Ok(None) => {
                tracing::info!(subscription = %job.subscription_arn, "subscription gone or no longer pending; delivery dropped");
                self.delete(queue, receipt).await;
                return;
            }
            // Tried again when the job reappears.
            Err(e) => {
                tracing::warn!(error = %e, "topic delivery: subscription lookup failed");
                return;
            }
        };
        if let Some(rate) = target.policy.max_receives_per_second {
            let slot = self.throttle.reserve(&job.subscription_arn, rate);
            let wait = slot.saturating_duration_since(Instant::now());
            if wait > LONG_WAIT {
                let secs = i64::try_from(wait.as_secs()).unwrap_or(i64::MAX / 2);
                let extended = engine
                    .change_visibility(queue, &[(receipt.clone(), secs + JOB_VISIBILITY_SECS)])
                    .await;
                if !matches!(extended.as_deref(), Ok([Ok(())])) {
                    tracing::warn!(subscription = %job.subscription_arn, "topic delivery: could not hold a throttled job; it may be delivered twice");
                }
            }
            tokio::time::sleep_until(slot).await;
        }
        let content_type = match job.message_type {
            MessageType::Notification => target.policy.content_type.as_str(),
            MessageType::SubscriptionConfirmation => CONFIRMATION_CONTENT_TYPE,
        };
        let failure = match self.post(&job, content_type).await {
            Ok(()) => {
                self.delete(queue, receipt).await;
                return;
            }
            Err(e) => e,
        };
        // The receive count is the attempt just made; the next retry has that number.
        let retry = u64::from(received.message.receive_count);
        if let Some(secs) = target.policy.retry.delay_before(retry) {
            tracing::debug!(subscription = %job.subscription_arn, error = %failure, retry, secs, "delivery failed; retrying");
            let secs = i64::try_from(secs).unwrap_or(JOB_VISIBILITY_SECS);
            if let Err(e) = engine.change_visibility(queue, &[(receipt, secs)]).await {
                tracing::warn!(error = %e, "topic delivery: could not schedule the retry");
            }
            return;
        }
        match &target.dead_letter {
            Some(dlq) => match engine.dead_letter_delivery(&job, dlq).await {
                Ok(()) => {
                    tracing::info!(subscription = %job.subscription_arn, error = %failure, queue = %dlq.name, "delivery retries spent; moved to the dead-letter queue")
                }
                // The store failed: keep the job, it comes back after its visibility timeout.
                Err(e @ EngineError::Store(_)) => {
                    tracing::warn!(error = %e, "topic delivery: dead-letter queue unavailable");
                    return;
                }
                Err(e) => {
                    tracing::warn!(subscription = %job.subscription_arn, queue = %dlq.name, error = %e, "delivery retries spent and the dead-letter queue refused it; dropped")
                }
            },
            None => {
                tracing::warn!(subscription = %job.subscription_arn, error = %failure, "delivery retries spent; dropped")
            }
        }
        self.delete(queue, receipt).await;
    }

    async fn post(&self, job: &DeliveryJob, content_type: &str) -> Result<(), PostError> {
        let mut request = self
            .client
            .post(&job.endpoint)
            .header("content-type", content_type)
            .header("x-amz-sns-message-type", job.message_type.as_str())
            .header("x-amz-sns-message-id", &job.message_id)
            .header("x-amz-sns-topic-arn", &job.topic_arn);
        if job.message_type == MessageType::Notification {
            request = request.header("x-amz-sns-subscription-arn", &job.subscription_arn);
        }
        if job.raw {
            request = request.header("x-amz-sns-rawdelivery", "true");
        }
        let response = request.body(job.body.clone()).send().await?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(PostError::Status(status.as_u16()))
        }
    }

    async fn delete(&self, queue: &QueueKey, receipt: String) {
        if let Err(e) = self.ctx.engine.delete_messages(queue, &[receipt]).await {
            tracing::warn!(error = %e, "topic delivery: could not delete a finished job");
        }
    }
}

/// `maxReceivesPerSecond`: each subscription's deliveries are spaced at least `1/rate` apart.
#[derive(Default)]
struct Throttle {
    next: Mutex<HashMap<String, Instant>>,
}

impl Throttle {
    /// Waits for this subscription's next slot.
    #[cfg(test)]
    async fn wait(&self, subscription: &str, rate: u64) {
        tokio::time::sleep_until(self.reserve(subscription, rate)).await;
    }

    /// Books this subscription's next slot (and the one after): when the delivery may go.
    fn reserve(&self, subscription: &str, rate: u64) -> Instant {
        let mut next = self.next.lock();
        let now = Instant::now();
        let slot = next
            .get(subscription)
            .copied()
            .filter(|t| *t > now)
            .unwrap_or(now);
        let gap = Duration::from_secs(1) / u32::try_from(rate.max(1)).unwrap_or(u32::MAX);
        next.insert(subscription.to_string(), slot + gap);
        // Forget subscriptions whose slot has passed, so the map stays small.
        if next.len() > 1024 {
            next.retain(|_, t| *t > now);
        }
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn throttled_deliveries_are_spaced_by_the_rate() {
        let t = Throttle::default();
        let start = Instant::now();
        for _ in 0..5 {
            t.wait("s", 20).await;
        }
        // Five slots 50 ms apart: the last starts 200 ms in.
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(200), "{took:?}");
        assert!(took < Duration::from_millis(1000), "{took:?}");
        let before = Instant::now();
        t.wait("other", 20).await;
        assert!(
            before.elapsed() < Duration::from_millis(40),
            "subscriptions are throttled apart"
        );
    }
}
