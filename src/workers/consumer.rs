//! The receive loop the dispatcher and the sender share: long-poll a queue like any SQS
//! consumer, and work on up to `concurrency` messages at once. On a FIFO queue those are
//! messages of different groups (conversations, recipients), so each group keeps its order.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::WorkerCtx;
use crate::engine::{EngineError, QueueKey, ReceiveRequest, Received};

/// Long-poll wait, the longest SQS allows.
const WAIT_SECONDS: i64 = 20;

/// Runs until shutdown: each received message is handed to `handle` in its own task.
pub async fn consume<F, Fut>(ctx: WorkerCtx, queue: QueueKey, concurrency: usize, handle: F)
where
    F: Fn(Received) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    loop {
        let first = tokio::select! {
            biased;
            _ = ctx.stopped() => return,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let want = (1 + slots.available_permits()).min(10) as i64;
        let request = ReceiveRequest {
            max_messages: Some(want),
            visibility_timeout: None,
            wait_seconds: Some(WAIT_SECONDS),
        };
        let received = tokio::select! {
            biased;
            _ = ctx.stopped() => return,
            r = ctx.engine.receive(&queue, request) => r,
        };
        match received {
            Ok(messages) => {
                let mut first = Some(first);
                for m in messages {
                    // Only this loop takes slots, so the ones counted above are still free.
                    let Some(permit) = first
                        .take()
                        .or_else(|| slots.clone().try_acquire_owned().ok())
                    else {
                        break;
                    };
                    let work = handle(m);
                    tokio::spawn(async move {
                        work.await;
                        drop(permit);
                    });
                }
            }
            Err(EngineError::QueueDoesNotExist) => {
                tracing::warn!(queue = %queue.name, "queue does not exist; retrying in 5 s");
                pause(&ctx, Duration::from_secs(5)).await;
            }
            Err(e) => {
                tracing::warn!(queue = %queue.name, error = %e, "receive failed; retrying in 1 s");
                pause(&ctx, Duration::from_secs(1)).await;
            }
        }
    }
}

async fn pause(ctx: &WorkerCtx, d: Duration) {
    tokio::select! {
        _ = ctx.stopped() => {}
        _ = tokio::time::sleep(d) => {}
    }
}
