//! What the debouncer holds: fragments of a conversation, keyed by app, business account and
//! the person (or chat) on the other side.

use serde::{Deserialize, Serialize};

use crate::clock::Millis;
use crate::webhooks::{Part, PartKind};

/// One conversation as the debouncer sees it. Two business accounts talking to the same person
/// are two conversations.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub struct ConversationKey {
    pub app: String,
    pub account: String,
    pub conversation: String,
}

impl ConversationKey {
    pub fn new(
        app: impl Into<String>,
        account: impl Into<String>,
        conversation: impl Into<String>,
    ) -> Self {
        Self {
            app: app.into(),
            account: account.into(),
            conversation: conversation.into(),
        }
    }

    /// Stores separate the parts with NUL, so no part may contain one; none may be empty.
    pub(crate) fn is_valid(&self) -> bool {
        [&self.app, &self.account, &self.conversation]
            .iter()
            .all(|p| !p.is_empty() && !p.contains('\0'))
    }
}

/// One buffered message. Persisted, and part of the handler call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fragment {
    /// The platform's message id; redeliveries repeat it.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `text`, `image`, `audio`, …: the first part's kind, else `text`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Part>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    /// The platform's timestamp (the receiver's clock when the platform gave none).
    pub at_ms: Millis,
    /// When lull received it (engine clock); all debounce timing uses this.
    pub received_ms: Millis,
    #[serde(default)]
    pub raw: serde_json::Value,
}

impl Fragment {
    /// The `kind` for a message with these parts.
    pub fn kind_of(parts: &[Part]) -> String {
        parts
            .first()
            .and_then(|p| serde_json::to_value(p.kind).ok())
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "text".to_owned())
    }

    /// Whether it carries a picture, sound, video, document or sticker.
    pub fn is_media(&self) -> bool {
        self.parts.iter().any(|p| {
            matches!(
                p.kind,
                PartKind::Image
                    | PartKind::Audio
                    | PartKind::Video
                    | PartKind::Document
                    | PartKind::Sticker
            )
        })
    }
}

impl From<crate::webhooks::InboundMessage> for Fragment {
    fn from(m: crate::webhooks::InboundMessage) -> Self {
        Fragment {
            kind: Fragment::kind_of(&m.parts),
            id: m.message_id,
            text: m.text,
            parts: m.parts,
            sender_name: m.sender_name,
            at_ms: m.timestamp_ms,
            received_ms: 0,
            raw: m.raw,
        }
    }
}

/// What `buffer_fragment` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffered {
    /// Stored; the conversation is now due at `due_at` and holds `fragments` fragments.
    Accepted { due_at: Millis, fragments: u32 },
    /// This message id was seen for this app already (a platform redelivery): nothing changed.
    Duplicate,
}
