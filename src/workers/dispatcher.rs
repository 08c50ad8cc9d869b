//! The handler dispatcher: per app with a handler, reads `{app}-inbox.fifo` (up to
//! `concurrency` conversations at once; a conversation's batches in order) and hands each batch
//! to the handler. A 2xx answer (exit 0) deletes the batch after its replies are queued on
//! `{app}-outbox.fifo`. Any other outcome hands the batch back after an exponential backoff;
//! the inbox's redrive policy dead-letters it into `{app}-dlq.fifo` after the configured
//! attempts.
//!
//! Stale replies: when the person wrote again while the handler worked, the reply may answer
//! a question that moved on. `stale_reply` decides: `send` it anyway, `drop` it, or `merge`
//! (the default): drop it and put the batch back in front of the new fragments, so the
//! handler's next call covers everything the person said.

mod invoke;
mod replies;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::consumer::consume;
use super::redelivery::{backoff_ms, retry_later};
use super::WorkerCtx;
use crate::config::apps::{AppSpec, Handler, StaleReply};
use crate::engine::debounce::Batch;
use crate::engine::{EngineResult, Received};
use crate::gateway::queues::AppQueues;

pub use invoke::{invoke, Call};
pub use replies::{outbox_messages, parse_replies, recipient_group};

pub fn spawn(ctx: &WorkerCtx) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    for (name, app) in &ctx.config.apps {
        // The config was validated at start; an app that fails here has no queues either.
        let Ok(spec) = app.spec(name) else { continue };
        let Some(handler) = spec.handler.clone() else {
            tracing::info!(app = %name, "no handler: {name}-inbox.fifo is left to SQS consumers");
            continue;
        };
        let d = Arc::new(Dispatcher {
            queues: AppQueues::new(&ctx.region, name),
            handler,
            spec,
            ctx: ctx.clone(),
        });
        let concurrency = d.spec.concurrency as usize;
        let inbox = d.queues.inbox.clone();
        tasks.push(tokio::spawn(consume(
            ctx.clone(),
            inbox,
            concurrency,
            move |m| {
                let d = d.clone();
                async move { d.deliver(m).await }
            },
        )));
    }
    tasks
}

struct Dispatcher {
    ctx: WorkerCtx,
    spec: AppSpec,
    handler: Handler,
    queues: AppQueues,
}

impl Dispatcher {
    async fn deliver(&self, m: Received) {
        let attempt = m.message.receive_count.max(1);
        let call = Call {
            app: &self.spec.name,
            body: &m.message.body,
            attempt,
            timeout: Duration::from_millis(self.spec.handler_retry.timeout_ms),
            endpoint: &self.ctx.public_url,
        };
        let answer = invoke(&self.ctx.http, &self.handler, &call).await;
        let outcome = match answer {
            Ok(body) => self.handled(&m, &body).await,
            Err(reason) => Err(reason),
        };
        let Err(reason) = outcome else { return };
        let attempts = self.spec.handler_retry.attempts;
        // After the last attempt the backoff would only delay the dead-lettering.
        let delay = if attempt >= attempts {
            tracing::warn!(app = %self.spec.name, attempt, %reason,
                "handler failed for the last time; the batch goes to {}", self.queues.dlq.name);
            0
        } else {
            let d = backoff_ms(&self.spec.handler_retry, attempt);
            tracing::warn!(app = %self.spec.name, attempt, retry_in_ms = d, %reason, "handler failed");
            d
        };
        if let Err(e) = retry_later(&self.ctx.engine, &self.queues.inbox, &m, delay).await {
            tracing::warn!(app = %self.spec.name, error = %e, "could not hand the batch back; it returns after its visibility timeout");
        }
    }

    /// The handler succeeded: queue its replies (unless stale), then delete the batch.
    async fn handled(&self, m: &Received, answer: &[u8]) -> Result<(), String> {
        let replies = match parse_replies(answer) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(app = %self.spec.name, error = %e, "ignoring the handler's reply");
                Vec::new()
            }
        };
        if !replies.is_empty() {
            self.queue_replies(m, &replies)
                .await
                .map_err(|e| format!("could not queue the replies: {e}"))?;
        }
        self.ctx
            .engine
            .delete_messages(&self.queues.inbox, std::slice::from_ref(&m.receipt_handle))
            .await
            .map_err(|e| format!("could not delete the batch: {e}"))?;
        Ok(())
    }

    async fn queue_replies(&self, m: &Received, replies: &[String]) -> EngineResult<()> {
        let Ok(batch) = Batch::parse(&m.message.body) else {
            // Sent to the inbox by something other than the flusher: no conversation to
            // answer to.
            tracing::warn!(app = %self.spec.name, message_id = %m.message.id,
                "the handler replied to an inbox message that is not a lull batch; the reply is dropped");
            return Ok(());
        };
        let engine = &self.ctx.engine;
        if self.spec.stale_reply != StaleReply::Send
            && engine
                .has_fragments_after(&batch.key, batch.last_at)
                .await?
        {
            tracing::info!(app = %self.spec.name, conversation = %batch.key.conversation,
                policy = self.spec.stale_reply.as_str(),
                "the person wrote again while the handler worked; its reply is dropped");
            if self.spec.stale_reply == StaleReply::Merge {
                engine
                    .restore_fragments(
                        batch.platform,
                        &batch.key,
                        batch.fragments,
                        &self.spec.debounce,
                    )
                    .await?;
            }
            return Ok(());
        }
        let messages = outbox_messages(&batch.key, &m.message.id, replies, engine.account());
        for result in engine.send(&self.queues.outbox, messages).await? {
            result?;
        }
        Ok(())
    }
}
