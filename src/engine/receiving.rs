//! Receiving (with long polling), deleting, changing visibility and purging.

use std::time::Duration;

use super::error::{EngineError, EngineResult};
use super::message::{ReceiptHandle, Received};
use super::queue::QueueKey;
use super::Engine;
use crate::store::{ClaimRequest, DeadLetter, ReceiptOutcome};

#[derive(Debug, Clone, Default)]
pub struct ReceiveRequest {
    pub max_messages: Option<i64>,
    pub visibility_timeout: Option<i64>,
    pub wait_seconds: Option<i64>,
}

/// A long poll re-checks at least this often, so a message made visible by another node sharing
/// the store is found even without a wake-up.
const POLL_RECHECK: Duration = Duration::from_secs(1);
const MAX_VISIBILITY_SECS: i64 = 43_200;
const PURGE_INTERVAL_MS: u64 = 60_000;

impl Engine {
    /// Receives up to `max_messages` (1–10) messages, waiting up to `wait_seconds` (0–20, queue
    /// default) for the first one.
    pub async fn receive(
        &self,
        key: &QueueKey,
        req: ReceiveRequest,
    ) -> EngineResult<Vec<Received>> {
        let record = self.require_queue(key).await?;
        let max = match req.max_messages {
            None => 1,
            Some(n @ 1..=10) => n as usize,
            Some(n) => {
                return Err(EngineError::InvalidParameterValue(format!(
                    "Value {n} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
                )))
            }
        };
        let visibility = match req.visibility_timeout {
            None => record.visibility_timeout_secs(),
            Some(v @ 0..=MAX_VISIBILITY_SECS) => v as u64,
            Some(v) => {
                return Err(EngineError::InvalidParameterValue(format!(
                    "Value {v} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided."
                )))
            }
        };
        let wait = match req.wait_seconds {
            None => record.receive_wait_secs(),
            Some(w @ 0..=20) => w as u64,
            Some(w) => {
                return Err(EngineError::InvalidParameterValue(format!(
                    "Value {w} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."
                )))
            }
        };
        let dead_letter = record.redrive_policy().and_then(|p| {
            QueueKey::from_arn(&p.dead_letter_target_arn).map(|queue| DeadLetter {
                queue,
                max_receive_count: p.max_receive_count,
                source_arn: self.arn(key),
            })
        });
        let request = ClaimRequest {
            max,
            visibility_ms: visibility * 1000,
            dead_letter,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
        let notify = self.notifier(key);
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let got = self
                .store()
                .claim(key, request.clone(), self.now_ms())
                .await?
                .ok_or(EngineError::QueueDoesNotExist)?;
            let now = tokio::time::Instant::now();
            if !got.is_empty() || now >= deadline || self.closing() {
                if !got.is_empty() {
                    if let Some(d) = &request.dead_letter {
                        self.wake(&d.queue);
                    }
                }
                return Ok(got);
            }
            let mut sleep_until = deadline.min(now + POLL_RECHECK);
            if let Some(at) = self.store().next_visible_at(key).await? {
                let in_ms = at.saturating_sub(self.now_ms());
                sleep_until = sleep_until.min(now + Duration::from_millis(in_ms));
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(sleep_until) => {}
            }
        }
    }

    /// Deletes messages by receipt handle. A handle for a message that is already gone succeeds,
    /// as in SQS; a handle from an earlier receive of a message received again since succeeds
    /// without deleting (SQS documents the same).
    pub async fn delete_messages(
        &self,
        key: &QueueKey,
        receipts: &[String],
    ) -> EngineResult<Vec<EngineResult<()>>> {
        self.require_queue(key).await?;
        let decoded: Vec<Option<ReceiptHandle>> =
            receipts.iter().map(|r| ReceiptHandle::decode(r)).collect();
        let valid: Vec<ReceiptHandle> = decoded.iter().flatten().copied().collect();
        self.store()
            .delete_messages(key, &valid, self.now_ms())
            .await?
            .ok_or(EngineError::QueueDoesNotExist)?;
        Ok(receipts
            .iter()
            .zip(decoded)
            .map(|(raw, d)| match d {
                Some(_) => Ok(()),
                None => Err(EngineError::ReceiptHandleIsInvalid(raw.clone())),
            })
            .collect())
    }

    pub async fn change_visibility(
        &self,
        key: &QueueKey,
        changes: &[(String, i64)],
    ) -> EngineResult<Vec<EngineResult<()>>> {
        self.require_queue(key).await?;
        let mut out = Vec::with_capacity(changes.len());
        let mut made_visible = false;
        for (r, secs) in changes {
            let Some(handle) = ReceiptHandle::decode(r) else {
                out.push(Err(EngineError::ReceiptHandleIsInvalid(r.clone())));
                continue;
            };
            if !(0..=MAX_VISIBILITY_SECS).contains(secs) {
                out.push(Err(EngineError::InvalidParameterValue(format!(
                    "Value {secs} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200."
                ))));
                continue;
            }
            let outcome = self
                .store()
                .change_visibility(key, handle, *secs as u64 * 1000, self.now_ms())
                .await?
                .ok_or(EngineError::QueueDoesNotExist)?;
            out.push(match outcome {
                ReceiptOutcome::Done => {
                    made_visible |= *secs == 0;
                    Ok(())
                }
                ReceiptOutcome::Gone | ReceiptOutcome::Stale => {
                    Err(EngineError::MessageNotInflight)
                }
            });
        }
        if made_visible {
            self.wake(key);
        }
        Ok(out)
    }

    pub async fn purge(&self, key: &QueueKey) -> EngineResult<()> {
        self.require_queue(key).await?;
        let now = self.now_ms();
        {
            let mut purged = self.inner.purged_at.lock();
            if purged
                .get(key)
                .is_some_and(|at| now < at + PURGE_INTERVAL_MS)
            {
                return Err(EngineError::PurgeQueueInProgress(key.name.clone()));
            }
            purged.insert(key.clone(), now);
        }
        if self.store().purge(key).await? {
            Ok(())
        } else {
            Err(EngineError::QueueDoesNotExist)
        }
    }

    /// Visible / in-flight / delayed counts.
    pub async fn counts(&self, key: &QueueKey) -> EngineResult<crate::store::Counts> {
        self.store()
            .counts(key, self.now_ms())
            .await?
            .ok_or(EngineError::QueueDoesNotExist)
    }
}
