//! The debounce flusher: one task that sleeps until the earliest due conversation (woken when
//! an earlier due time appears), claims what is due, and hands each conversation to its app's
//! inbox, `{app}-inbox.fifo`, as one handler call (group = the conversation, deduplication id
//! = a hash of the fragment ids). Only then are exactly the sent fragments removed; fragments
//! that arrived meanwhile stay for the next batch.
//!
//! A crash between the send and the removal sends the batch again after the restart, and the
//! inbox's five-minute deduplication drops the repeat. An app whose inbox does not exist (its
//! config was removed) keeps its buffers; they are retried each time the claim runs out.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::WorkerCtx;
use crate::config::Config;
use crate::engine::debounce::batch::{dedup_id, group_id, handler_call, inbox_queue_name};
use crate::engine::debounce::{BufferSnapshot, DebounceSettings, Fragment};
use crate::engine::{Engine, EngineError, QueueKey, SendRequest};

/// Conversations being handed on at once: their writes share the store's group commits, so
/// throughput grows with this while each flush waits out two commits.
const IN_FLIGHT: usize = 4096;
/// Conversations claimed at a time (a claim reads their fragments back).
const CLAIM_BATCH: usize = 256;
/// Longest sleep without looking: other nodes' buffers (PostgreSQL) and claims that ran out
/// wake no one.
const POLL: Duration = Duration::from_secs(1);
/// How often expired message ids and idle cadences are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(600);
/// The inbox's largest message; a batch that would not fit is sent without the platforms' raw
/// payloads, and split if still too large. The gateway refuses any single message larger than
/// half of this, so a batch of one always fits.
const MAX_BODY: usize = crate::engine::queue::MAX_MESSAGE_SIZE;

/// Each app's debounce settings, by app name.
pub type SettingsFor = Arc<dyn Fn(&str) -> DebounceSettings + Send + Sync>;

/// The one place the flusher reads the apps' debounce settings from the configuration, once.
/// An app no longer configured has no inbox either: the defaults only reschedule its buffers.
fn app_settings(config: &Config) -> SettingsFor {
    let by_app: HashMap<String, DebounceSettings> = config
        .apps
        .iter()
        .map(|(name, app)| (name.clone(), app.debounce_settings()))
        .collect();
    Arc::new(move |app| by_app.get(app).cloned().unwrap_or_default())
}

pub fn spawn(ctx: &WorkerCtx) -> Vec<JoinHandle<()>> {
    let settings = app_settings(&ctx.config);
    let flusher = Flusher::new(ctx.engine.clone(), ctx.region.clone(), settings);
    let shutdown = ctx.shutdown.clone();
    vec![tokio::spawn(flusher.run(shutdown))]
}

#[derive(Clone)]
pub struct Flusher {
    engine: Engine,
    region: String,
    settings: SettingsFor,
}

impl Flusher {
    pub fn new(engine: Engine, region: impl Into<String>, settings: SettingsFor) -> Self {
        Self {
            engine,
            region: region.into(),
            settings,
        }
    }

    /// Runs until `shutdown` turns true. Flushes are pipelined: up to [`IN_FLIGHT`] run at
    /// once (each waits for two durable writes, which many share), and a freed slot is
    /// refilled at once while more is due.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut running = JoinSet::new();
        let mut swept: Option<Instant> = None;
        while !*shutdown.borrow() {
            while running.try_join_next().is_some() {}
            let room = (IN_FLIGHT - running.len()).min(CLAIM_BATCH);
            let started = if room > 0 {
                self.start_due(&mut running, room).await
            } else {
                Some(0)
            };
            let Some(started) = started else {
                // The store failed: try again a little later rather than spin.
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = shutdown.wait_for(|stop| *stop) => break,
                }
                continue;
            };
            let more_due = room > 0 && started == room;
            if swept.is_none_or(|at| at.elapsed() >= SWEEP_EVERY) {
                if let Err(e) = self.engine.sweep_debounce().await {
                    tracing::warn!(error = %e, "debounce sweep failed");
                }
                swept = Some(Instant::now());
            }
            if more_due && running.len() < IN_FLIGHT {
                continue;
            }
            if more_due || room == 0 {
                // Every slot is busy: wait for one.
                tokio::select! {
                    _ = running.join_next() => {}
                    _ = shutdown.wait_for(|stop| *stop) => break,
                }
                continue;
            }
            let next = match self.engine.next_flush_at().await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the next debounce due time");
                    None
                }
            };
            tokio::select! {
                _ = self.engine.wait_for_due(next, POLL) => {}
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
        }
        // What is being sent finishes (briefly); what is not removed yet is sent again later
        // and dropped by the inbox as a duplicate.
        while running.join_next().await.is_some() {}
    }

    /// Claims up to `max` due conversations and starts flushing them; returns how many, or
    /// `None` when the store could not be asked.
    async fn start_due(&self, running: &mut JoinSet<bool>, max: usize) -> Option<usize> {
        match self.engine.claim_due_conversations(max).await {
            Ok(due) => {
                let claimed = due.len();
                for buffer in due {
                    let this = self.clone();
                    running.spawn(async move { this.flush(buffer).await });
                }
                Some(claimed)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim due conversations");
                None
            }
        }
    }

    /// Hands on everything due now and waits for it; returns how many conversations went to
    /// their inbox.
    pub async fn flush_due(&self) -> usize {
        let mut flushed = 0;
        loop {
            let mut running = JoinSet::new();
            let claimed = self.start_due(&mut running, CLAIM_BATCH).await;
            while let Some(done) = running.join_next().await {
                flushed += usize::from(matches!(done, Ok(true)));
            }
            if claimed != Some(CLAIM_BATCH) {
                return flushed;
            }
        }
    }

    /// Sends one conversation to its inbox and removes what was sent.
    async fn flush(&self, b: BufferSnapshot) -> bool {
        let app = b.key.app.clone();
        let queue = QueueKey::new(self.region.clone(), inbox_queue_name(&app));
        let settings = (self.settings)(&app);
        let late_ms = self.engine.now_ms().saturating_sub(b.meta.due_at);
        let Some((body, sent)) = fit(&b) else {
            // Not even one fragment fits in a queue message: it can never be delivered.
            let f = &b.fragments[0];
            tracing::error!(app, conversation = %b.key.conversation, id = %f.id,
                "dropping a fragment too large for a queue message");
            return self.remove(&b, vec![f.id.clone()], &settings).await;
        };
        let request = SendRequest {
            body,
            group_id: Some(group_id(&b.key)),
            dedup_id: Some(dedup_id(sent)),
            ..Default::default()
        };
        let outcome = match self.engine.send(&queue, vec![request]).await {
            Ok(mut results) => results.pop().unwrap_or_else(|| {
                Err(EngineError::InvalidParameterValue("no send result".into()))
            }),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(_) => {}
            Err(EngineError::QueueDoesNotExist) => {
                tracing::warn!(app, queue = %queue.name,
                    "the app's inbox queue does not exist; its conversations stay buffered");
                return false;
            }
            Err(e) => {
                tracing::warn!(app, error = %e, "cannot send a conversation to its inbox; will retry");
                return false;
            }
        }
        tracing::debug!(app, conversation = %b.key.conversation, fragments = sent.len(), late_ms,
            "conversation handed on");
        let ids = sent.iter().map(|f| f.id.clone()).collect();
        self.remove(&b, ids, &settings).await
    }

    async fn remove(&self, b: &BufferSnapshot, ids: Vec<String>, s: &DebounceSettings) -> bool {
        match self.engine.complete_flush(&b.key, ids, s).await {
            Ok(()) => true,
            Err(e) => {
                // Sent but still buffered: the next send is a duplicate the inbox drops.
                tracing::warn!(app = %b.key.app, error = %e, "cannot remove flushed fragments");
                false
            }
        }
    }
}

/// The handler call to send and the fragments it carries: all of them with their raw
/// payloads if that fits in one message, else without, else the longest prefix that fits.
/// `None` when not even the first fragment fits.
fn fit(b: &BufferSnapshot) -> Option<(String, &[Fragment])> {
    let body = |fragments: &[Fragment], raw: bool| {
        handler_call(&b.key, b.meta.platform, fragments, raw).to_string()
    };
    let all = &b.fragments[..];
    let full = body(all, true);
    if full.len() <= MAX_BODY {
        return Some((full, all));
    }
    // Largest prefix whose lean body fits: `lo` always fits (0 trivially), `hi` never does.
    let (mut lo, mut hi) = (0, all.len() + 1);
    let mut best = None;
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        let lean = body(&all[..mid], false);
        if lean.len() <= MAX_BODY {
            lo = mid;
            best = Some(lean);
        } else {
            hi = mid;
        }
    }
    best.map(|lean| (lean, &all[..lo]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::debounce::{BufferMeta, ConversationKey};
    use crate::webhooks::Platform;

    fn snapshot(texts: &[String], raw: usize) -> BufferSnapshot {
        BufferSnapshot {
            key: ConversationKey::new("a", "b", "c"),
            meta: BufferMeta::empty(Platform::Generic, 0),
            fragments: texts
                .iter()
                .enumerate()
                .map(|(i, t)| Fragment {
                    id: i.to_string(),
                    text: Some(t.clone()),
                    kind: "text".into(),
                    parts: vec![],
                    sender_name: None,
                    at_ms: 0,
                    received_ms: 0,
                    raw: serde_json::json!({"pad": "r".repeat(raw)}),
                })
                .collect(),
            cadence: None,
        }
    }

    #[test]
    fn a_batch_that_does_not_fit_drops_raw_then_splits() {
        let small = snapshot(&["a".into(), "b".into()], 10);
        let (body, sent) = fit(&small).unwrap();
        assert_eq!(sent.len(), 2);
        assert!(body.contains("\"raw\""));

        let heavy_raw = snapshot(&["a".into(), "b".into()], 800 * 1024);
        let (body, sent) = fit(&heavy_raw).unwrap();
        assert_eq!(sent.len(), 2);
        assert!(!body.contains("\"raw\""));

        let long = "x".repeat(400 * 1024);
        let huge = snapshot(&[long.clone(), long.clone(), long.clone()], 0);
        let (body, sent) = fit(&huge).unwrap();
        assert_eq!(sent.len(), 1, "each text appears twice (text and messages)");
        assert!(body.len() <= MAX_BODY);

        let too_big = snapshot(&["y".repeat(1200 * 1024)], 0);
        assert!(fit(&too_big).is_none());
    }
}
