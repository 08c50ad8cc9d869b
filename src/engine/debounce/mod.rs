//! The debouncer: holds a conversation's fragments until the person stops typing, then hands
//! the conversation on as one batch (the flusher worker sends it to `{app}-inbox.fifo`).
//!
//! The stores keep every buffer durably, with a due-time index; the engine decides the timing
//! (`schedule`) and the store applies each change atomically under the conversation's lock
//! (`record`). There is no timer per conversation: one flusher sleeps until the earliest due
//! time and is woken when an earlier one appears.

pub mod batch;
pub mod fragment;
pub mod record;
pub mod schedule;
pub mod settings;
pub mod view;

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

use super::error::{EngineError, EngineResult};
use super::Engine;
use crate::clock::Millis;
use crate::store::StoreError;
use crate::webhooks::{Platform, Typing};

pub use batch::{handler_call, inbox_queue_name, Batch};
pub use fragment::{Buffered, ConversationKey, Fragment};
pub use record::{BufferChange, BufferMeta, BufferOutcome, BufferSnapshot, Cadence, Plan};
pub use settings::{Adaptive, DebounceSettings, MediaPolicy};
pub use view::{CadenceView, ConversationView};

/// How long a claimed buffer is left to its flusher before another flusher (this node after a
/// failed send, or another node) takes it again.
pub const FLUSH_LEASE_MS: u64 = 30_000;

/// The engine's per-node debouncer state: how the flusher is woken.
pub(crate) struct DebounceState {
    wake: Notify,
    /// When the flusher plans to look next (`u64::MAX`: not sleeping on a time).
    flusher_until: AtomicU64,
}

impl Default for DebounceState {
    fn default() -> Self {
        Self {
            wake: Notify::new(),
            flusher_until: AtomicU64::new(u64::MAX),
        }
    }
}

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::InvalidParameterValue(message.into())
}

fn unexpected(what: &str, outcome: &BufferOutcome) -> EngineError {
    EngineError::Store(StoreError::Corrupt(format!(
        "{what}: unexpected buffer outcome {outcome:?}"
    )))
}

fn check_key(key: &ConversationKey) -> EngineResult<()> {
    if key.is_valid() {
        Ok(())
    } else {
        Err(invalid(
            "app, account and conversation must be non-empty and contain no NUL character",
        ))
    }
}

impl Engine {
    fn debounce(&self) -> &DebounceState {
        &self.inner.debounce
    }

    /// Wakes the flusher if `due_at` is earlier than what it is sleeping towards.
    fn due_changed(&self, due_at: Millis) {
        if due_at < self.debounce().flusher_until.load(Ordering::SeqCst) {
            self.debounce().wake.notify_one();
        }
    }

    /// Buffers one fragment. Durable before it returns (fsync'd on the embedded store,
    /// committed on PostgreSQL). Message ids are deduplicated per app for 24 hours, across
    /// flushes and restarts.
    pub async fn buffer_fragment(
        &self,
        platform: Platform,
        key: &ConversationKey,
        mut f: Fragment,
        s: &DebounceSettings,
    ) -> EngineResult<Buffered> {
        check_key(key)?;
        if f.id.is_empty() {
            return Err(invalid("a fragment needs the platform's message id"));
        }
        let now = self.now_ms();
        f.received_ms = now;
        if f.at_ms == 0 {
            f.at_ms = now;
        }
        let media = f.is_media();
        let plan = move |meta: &mut BufferMeta, cadence: &mut Option<Cadence>| {
            schedule::after_append(s, meta, cadence, now, media)
        };
        let change = BufferChange::Append {
            platform,
            fragment: f,
        };
        match self.store().change_buffer(key, change, &plan, now).await? {
            BufferOutcome::Changed(meta) => {
                self.due_changed(meta.due_at);
                Ok(Buffered::Accepted {
                    due_at: meta.due_at,
                    fragments: meta.fragments,
                })
            }
            BufferOutcome::Duplicate => Ok(Buffered::Duplicate),
            other => Err(unexpected("append", &other)),
        }
    }

    /// A typing signal: composing or recording pushes the due time out by `typing_extend_ms`,
    /// never past `max_wait`; paused does nothing. Nothing buffered: nothing happens.
    pub async fn typing_hint(
        &self,
        key: &ConversationKey,
        state: Typing,
        s: &DebounceSettings,
    ) -> EngineResult<()> {
        check_key(key)?;
        if state == Typing::Paused {
            return Ok(());
        }
        let now = self.now_ms();
        let plan = move |meta: &mut BufferMeta, _: &mut Option<Cadence>| {
            schedule::after_typing(s, meta, state, now)
        };
        self.store()
            .change_buffer(key, BufferChange::Touch, &plan, now)
            .await?;
        Ok(())
    }

    /// Makes a buffered conversation due now (admin flush). False when nothing is buffered.
    pub async fn flush_conversation(&self, key: &ConversationKey) -> EngineResult<bool> {
        check_key(key)?;
        let now = self.now_ms();
        let plan = move |meta: &mut BufferMeta, _: &mut Option<Cadence>| schedule::force(meta, now);
        match self
            .store()
            .change_buffer(key, BufferChange::Touch, &plan, now)
            .await?
        {
            BufferOutcome::Changed(meta) => {
                self.due_changed(meta.due_at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// The pending conversations of an app, by conversation key.
    pub async fn conversations(&self, app: &str) -> EngineResult<Vec<ConversationView>> {
        let now = self.now_ms();
        let mut out: Vec<ConversationView> = self
            .store()
            .list_buffers(app)
            .await?
            .iter()
            .map(|b| ConversationView::new(b, now))
            .collect();
        out.sort_by(|a, b| (&a.account, &a.conversation).cmp(&(&b.account, &b.conversation)));
        Ok(out)
    }

    /// The buffer of one conversation, if anything is buffered.
    pub async fn conversation(
        &self,
        key: &ConversationKey,
    ) -> EngineResult<Option<BufferSnapshot>> {
        check_key(key)?;
        Ok(self.store().get_buffer(key).await?)
    }

    /// For the stale-reply check: whether fragments received after `since_ms` are buffered for
    /// this conversation.
    pub async fn has_fragments_after(
        &self,
        key: &ConversationKey,
        since_ms: Millis,
    ) -> EngineResult<bool> {
        check_key(key)?;
        Ok(self
            .store()
            .get_buffer(key)
            .await?
            .is_some_and(|b| b.fragments.iter().any(|f| f.received_ms > since_ms)))
    }

    /// Puts an already-flushed batch back in front of whatever is buffered now (ids already
    /// buffered are skipped); the merged buffer waits a fresh window.
    pub async fn restore_fragments(
        &self,
        platform: Platform,
        key: &ConversationKey,
        fragments: Vec<Fragment>,
        s: &DebounceSettings,
    ) -> EngineResult<()> {
        check_key(key)?;
        if fragments.is_empty() {
            return Ok(());
        }
        let now = self.now_ms();
        let plan = move |meta: &mut BufferMeta, cadence: &mut Option<Cadence>| {
            schedule::after_restore(s, meta, cadence.as_ref(), now)
        };
        let change = BufferChange::Restore {
            platform,
            fragments,
        };
        match self.store().change_buffer(key, change, &plan, now).await? {
            BufferOutcome::Changed(meta) => {
                self.due_changed(meta.due_at);
                Ok(())
            }
            other => Err(unexpected("restore", &other)),
        }
    }

    /// For the flusher: claims up to `max` due conversations for [`FLUSH_LEASE_MS`], earliest
    /// first. A claimed buffer still takes new fragments.
    pub async fn claim_due_conversations(&self, max: usize) -> EngineResult<Vec<BufferSnapshot>> {
        let now = self.now_ms();
        Ok(self
            .store()
            .claim_due_buffers(now, FLUSH_LEASE_MS, max)
            .await?)
    }

    /// For the flusher: removes exactly the fragments it handed on (fragments appended since
    /// stay, and are rescheduled by `s`) and releases the claim.
    pub async fn complete_flush(
        &self,
        key: &ConversationKey,
        ids: Vec<String>,
        s: &DebounceSettings,
    ) -> EngineResult<()> {
        let now = self.now_ms();
        let plan = move |meta: &mut BufferMeta, cadence: &mut Option<Cadence>| {
            schedule::schedule(s, meta, cadence.as_ref(), now)
        };
        if let BufferOutcome::Changed(meta) = self
            .store()
            .change_buffer(key, BufferChange::Remove { ids }, &plan, now)
            .await?
        {
            self.due_changed(meta.due_at);
        }
        Ok(())
    }

    /// For the flusher: when the next buffer is due (or its claim runs out).
    pub async fn next_flush_at(&self) -> EngineResult<Option<Millis>> {
        Ok(self.store().next_buffer_due().await?)
    }

    /// Forgets message ids older than 24 hours and cadences idle for 30 days.
    pub async fn sweep_debounce(&self) -> EngineResult<()> {
        Ok(self.store().sweep_buffers(self.now_ms()).await?)
    }

    /// For the flusher: waits until `until` (engine clock), a wake-up from an earlier due
    /// time, or `cap` of real time, whichever comes first.
    pub async fn wait_for_due(&self, until: Option<Millis>, cap: std::time::Duration) {
        let d = self.debounce();
        let until = until.unwrap_or(u64::MAX);
        d.flusher_until.store(until, Ordering::SeqCst);
        let now = self.now_ms();
        if until > now {
            let sleep = std::time::Duration::from_millis(until - now).min(cap);
            let _ = tokio::time::timeout(sleep, d.wake.notified()).await;
        }
        d.flusher_until.store(u64::MAX, Ordering::SeqCst);
    }

    /// Wakes the flusher now (after a driven clock moved, or at shutdown).
    pub fn wake_flusher(&self) {
        self.debounce().wake.notify_one();
    }
}
