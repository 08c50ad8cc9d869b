//! A pending conversation as the admin API and `lull conversations APP` show it.

use serde::Serialize;

use super::record::BufferSnapshot;
use crate::clock::Millis;
use crate::engine::topics::envelope::iso8601_ms;
use crate::webhooks::Platform;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationView {
    pub app: String,
    pub account: String,
    pub conversation: String,
    pub platform: Platform,
    /// Number of buffered fragments, and their texts (empty for media without a caption).
    pub fragments: u32,
    pub texts: Vec<String>,
    pub first_at: String,
    pub last_at: String,
    pub due_at: String,
    /// Milliseconds until it is handed on; 0 when it is due already.
    pub due_in_ms: u64,
    /// The quiet window in force for this conversation.
    pub window_ms: u64,
    /// True when it was made due at once (max fragments, media, admin flush).
    pub forced: bool,
    /// The sender's learned cadence (adaptive mode), `null` before anything was learned.
    pub cadence: Option<CadenceView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CadenceView {
    pub avg_gap_ms: u64,
    pub samples: u32,
}

impl ConversationView {
    pub fn new(b: &BufferSnapshot, now: Millis) -> Self {
        Self {
            app: b.key.app.clone(),
            account: b.key.account.clone(),
            conversation: b.key.conversation.clone(),
            platform: b.meta.platform,
            fragments: b.meta.fragments,
            texts: b
                .fragments
                .iter()
                .map(|f| f.text.clone().unwrap_or_default())
                .collect(),
            first_at: iso8601_ms(b.meta.first_at),
            last_at: iso8601_ms(b.meta.last_at),
            due_at: iso8601_ms(b.meta.due_at),
            due_in_ms: b.meta.due_at.saturating_sub(now),
            window_ms: b.meta.window_ms,
            forced: b.meta.forced_at.is_some(),
            cadence: b.cadence.filter(|c| c.samples > 0).map(|c| CadenceView {
                avg_gap_ms: c.avg_gap_ms.max(0.0).round() as u64,
                samples: c.samples,
            }),
        }
    }
}
