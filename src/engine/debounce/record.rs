//! What the stores keep for the debouncer, and the one change operation they apply atomically.
//!
//! A store owns the fragments and the bookkeeping derived from them (first/last receive time,
//! count); the engine owns the timing: after every change the store calls the engine's
//! [`Plan`] with the buffer as it now is, under the conversation's lock, and stores what the
//! plan decided (due time, window, the sender's cadence). So the math lives in one place and
//! every backend applies it without read-then-write races.

use serde::{Deserialize, Serialize};

use super::fragment::{ConversationKey, Fragment};
use crate::clock::Millis;
use crate::webhooks::Platform;

/// How long (from receipt) a message id is remembered, so that platform redeliveries (they
/// retry for hours) are dropped.
pub const SEEN_TTL_MS: u64 = 24 * 60 * 60 * 1000;
/// A sender's learned cadence is forgotten after this long without a fragment.
pub const CADENCE_IDLE_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// One conversation's pending buffer, without its fragments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BufferMeta {
    pub platform: Platform,
    /// Receive time of the first and last buffered fragment (store-maintained).
    pub first_at: Millis,
    pub last_at: Millis,
    /// Where `max_wait` counts from: when the first fragment that is still buffered arrived,
    /// except that restored fragments keep the buffer's own start (store-maintained).
    pub started_at: Millis,
    /// Number of buffered fragments (store-maintained).
    pub fragments: u32,
    /// When the conversation is handed on (plan-decided).
    pub due_at: Millis,
    /// The quiet window in force (plan-decided).
    pub window_ms: u64,
    /// Set when something demanded an immediate flush (max fragments, media, admin); later
    /// fragments never push the due time past it (plan-decided).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced_at: Option<Millis>,
}

impl BufferMeta {
    /// A buffer about to receive its first fragments; the store fills in the rest.
    pub fn empty(platform: Platform, now: Millis) -> Self {
        Self {
            platform,
            first_at: now,
            last_at: now,
            started_at: now,
            fragments: 0,
            due_at: now,
            window_ms: 0,
            forced_at: None,
        }
    }
}

/// A sender's learned typing cadence (adaptive mode).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cadence {
    /// Moving average of the gaps between consecutive fragments of one burst.
    pub avg_gap_ms: f64,
    pub samples: u32,
    /// Receive time of the sender's latest fragment, buffered or already handed on.
    pub last_at: Millis,
}

/// The engine's timing decision, run by the store under the conversation's lock after the
/// fragments changed (and never on an empty buffer). It sets `due_at`, `window_ms`,
/// `forced_at` and may create or update the cadence.
pub type Plan<'a> = dyn Fn(&mut BufferMeta, &mut Option<Cadence>) + Send + Sync + 'a;

/// What to do to a conversation's fragments before planning.
#[derive(Debug, Clone)]
pub enum BufferChange {
    /// Add a new fragment at the end, unless its id was seen for the app within
    /// [`SEEN_TTL_MS`] (then nothing changes: `Duplicate`). Creates the buffer if needed.
    Append {
        platform: Platform,
        fragment: Fragment,
    },
    /// Put fragments back in front of whatever is buffered, skipping ids that are buffered
    /// already. Creates the buffer if needed.
    Restore {
        platform: Platform,
        fragments: Vec<Fragment>,
    },
    /// Remove these fragment ids (a flushed batch) and release the flush lease; the buffer
    /// goes away when nothing is left.
    Remove { ids: Vec<String> },
    /// Only re-plan (typing signal, admin flush). `Missing` when nothing is buffered.
    Touch,
}

/// What a [`BufferChange`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum BufferOutcome {
    /// The buffer as stored now.
    Changed(BufferMeta),
    /// `Append` of an id seen before.
    Duplicate,
    /// `Touch` or `Remove` with nothing buffered.
    Missing,
    /// `Remove` took the last fragments: the buffer is gone.
    Emptied,
}

/// A whole buffer, as listed or claimed for flushing.
#[derive(Debug, Clone, PartialEq)]
pub struct BufferSnapshot {
    pub key: ConversationKey,
    pub meta: BufferMeta,
    pub fragments: Vec<Fragment>,
    pub cadence: Option<Cadence>,
}
