//! The outbound sender: per app, reads `{app}-outbox.fifo` (group = recipient, so each
//! recipient's replies go out in order) and posts each message through the platform's send
//! API, within the app's rate limits. The platform's answer decides (`webhooks::classify`):
//! delivered → deleted; throttled (`Retry-After`) or a server error → handed back after the
//! wait or an exponential backoff, dead-lettered into `{app}-dlq.fifo` by the redrive policy
//! after the configured attempts; refused (4xx) or not a message at all → dead-lettered at
//! once, with the reason as the `lull.reason` attribute.

mod outbox;
mod rate;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::consumer::consume;
use super::redelivery::{backoff_ms, dead_letter_now, error_chain, extend, retry_later};
use super::WorkerCtx;
use crate::config::apps::{AppSpec, VISIBILITY_MARGIN_SECS};
use crate::engine::Received;
use crate::gateway::queues::AppQueues;
use crate::webhooks::{classify, OutboundRequest, PlatformConfig, Retry};

pub use outbox::OutboxMessage;
pub use rate::Limiter;

/// Sends in flight at once per app (each to a different recipient).
const CONCURRENCY: usize = 8;
/// How much of a refusing platform's answer goes into the dead-letter reason.
const EXCERPT: usize = 300;

pub fn spawn(ctx: &WorkerCtx) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    for (name, app) in &ctx.config.apps {
        let Ok(spec) = app.spec(name) else { continue };
        if let PlatformConfig::Generic(g) = &spec.platform {
            if g.send_url.is_none() {
                tracing::info!(app = %name, "no send_url: {name}-outbox.fifo is left to SQS consumers");
                continue;
            }
        }
        let s = Arc::new(Sender {
            queues: AppQueues::new(&ctx.region, name),
            limiter: Limiter::new(spec.rate_limit),
            spec,
            ctx: ctx.clone(),
        });
        let outbox = s.queues.outbox.clone();
        tasks.push(tokio::spawn(consume(
            ctx.clone(),
            outbox,
            CONCURRENCY,
            move |m| {
                let s = s.clone();
                async move { s.deliver(m).await }
            },
        )));
    }
    tasks
}

struct Sender {
    ctx: WorkerCtx,
    spec: AppSpec,
    queues: AppQueues,
    limiter: Limiter,
}

/// What came of one send attempt.
enum Outcome {
    Sent,
    RetryIn(u64, String),
    Backoff(String),
    Refused(String),
}

impl Sender {
    async fn deliver(&self, m: Received) {
        let msg = match OutboxMessage::parse(&m.message.body) {
            Ok(msg) => msg,
            Err(reason) => return self.dead_letter(&m, &reason).await,
        };
        let platform = match self.platform_for(&msg) {
            Ok(p) => p,
            Err(reason) => return self.dead_letter(&m, &reason).await,
        };
        let wait = self.limiter.reserve(&msg.recipient, Instant::now());
        if !wait.is_zero() {
            let hold = wait.as_millis() as u64
                + self.spec.sender.timeout_ms
                + VISIBILITY_MARGIN_SECS * 1_000;
            if let Err(e) = extend(&self.ctx.engine, &self.queues.outbox, &m, hold).await {
                tracing::warn!(app = %self.spec.name, error = %e, "could not hold a rate-limited message");
            }
            tokio::time::sleep(wait).await;
        }
        let request = platform.build_send(&msg.recipient, &msg.text);
        let attempt = m.message.receive_count.max(1);
        let outcome = self.send(&request).await;
        let engine = &self.ctx.engine;
        let outbox = &self.queues.outbox;
        let (delay, reason) = match outcome {
            Outcome::Sent => {
                tracing::debug!(app = %self.spec.name, recipient = %msg.recipient, "sent");
                if let Err(e) = engine
                    .delete_messages(outbox, std::slice::from_ref(&m.receipt_handle))
                    .await
                {
                    tracing::warn!(app = %self.spec.name, error = %e, "sent, but could not delete it from the outbox");
                }
                return;
            }
            Outcome::Refused(reason) => return self.dead_letter(&m, &reason).await,
            Outcome::RetryIn(ms, reason) => (ms, reason),
            Outcome::Backoff(reason) => (backoff_ms(&self.spec.sender, attempt), reason),
        };
        let delay = if attempt >= self.spec.sender.attempts {
            tracing::warn!(app = %self.spec.name, attempt, %reason,
                "send failed for the last time; the message goes to {}", self.queues.dlq.name);
            0
        } else {
            tracing::warn!(app = %self.spec.name, attempt, retry_in_ms = delay, %reason, "send failed");
            delay
        };
        if let Err(e) = retry_later(engine, outbox, &m, delay).await {
            tracing::warn!(app = %self.spec.name, error = %e, "could not hand the message back; it returns after its visibility timeout");
        }
    }

    /// The platform to send through: this app's, or (as in the seeds, where one queue served
    /// every app) the one `app_id` names. A WhatsApp reply leaves from the business number the
    /// conversation came in on.
    fn platform_for(&self, msg: &OutboxMessage) -> Result<PlatformConfig, String> {
        let mut platform = match msg.app_id.as_deref() {
            None => self.spec.platform.clone(),
            Some(id) if id == self.spec.name => self.spec.platform.clone(),
            Some(id) => self
                .ctx
                .config
                .apps
                .get(id)
                .and_then(|a| a.platform_config())
                .ok_or_else(|| format!("app_id {id:?} is not an app in lull.toml"))?,
        };
        if let (PlatformConfig::WhatsApp(c), Some(account)) = (&mut platform, &msg.account) {
            c.phone_number_id = account.clone();
        }
        Ok(platform)
    }

    async fn send(&self, req: &OutboundRequest) -> Outcome {
        if req.url.is_empty() {
            return Outcome::Refused("the app has no send URL".into());
        }
        let timeout = Duration::from_millis(self.spec.sender.timeout_ms);
        let mut builder = self
            .ctx
            .http
            .request(req.method.clone(), &req.url)
            .timeout(timeout)
            .body(req.body_bytes());
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Outcome::Backoff(format!("no answer within {} ms", timeout.as_millis()))
            }
            Err(e) if e.is_builder() => {
                return Outcome::Refused(format!("bad send request: {}", error_chain(&e)))
            }
            Err(e) => {
                return Outcome::Backoff(format!("send API unreachable: {}", error_chain(&e)))
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.unwrap_or_default();
        let answer = || {
            let text = String::from_utf8_lossy(&body);
            let excerpt: String = text.trim().chars().take(EXCERPT).collect();
            format!("platform answered {status}: {excerpt}")
        };
        match classify(status, retry_after.as_deref()) {
            Retry::Done => Outcome::Sent,
            Retry::RetryAfter(d) => Outcome::RetryIn(d.as_millis() as u64, answer()),
            Retry::Retry => Outcome::Backoff(answer()),
            Retry::Fail => Outcome::Refused(answer()),
        }
    }

    async fn dead_letter(&self, m: &Received, reason: &str) {
        tracing::warn!(app = %self.spec.name, message_id = %m.message.id, %reason,
            "outbox message cannot be sent; moved to {}", self.queues.dlq.name);
        if let Err(e) = dead_letter_now(
            &self.ctx.engine,
            &self.queues.outbox,
            &self.queues.dlq,
            m,
            reason,
        )
        .await
        {
            tracing::warn!(app = %self.spec.name, error = %e, "could not dead-letter the message; it returns after its visibility timeout");
        }
    }
}
