//! The normalised shape every platform adapter produces from a webhook.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The chat platforms lull speaks to; the names are the `platform` values of `lull.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    WhatsApp,
    Zapi,
    Evolution,
    Telegram,
    Instagram,
    Generic,
}

impl Platform {
    pub const ALL: [Platform; 6] = [
        Platform::WhatsApp,
        Platform::Zapi,
        Platform::Evolution,
        Platform::Telegram,
        Platform::Instagram,
        Platform::Generic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::WhatsApp => "whatsapp",
            Platform::Zapi => "zapi",
            Platform::Evolution => "evolution",
            Platform::Telegram => "telegram",
            Platform::Instagram => "instagram",
            Platform::Generic => "generic",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown platform {0:?}; expected one of whatsapp, telegram, zapi, evolution, instagram, generic")]
pub struct UnknownPlatform(pub String);

impl FromStr for Platform {
    type Err = UnknownPlatform;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPlatform(s.to_owned()))
    }
}

/// One message a person sent, whatever the platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    pub app: String,
    pub platform: Platform,
    /// The business side that received it: WhatsApp phone-number id, Z-API instance,
    /// Evolution instance, Telegram bot id, Instagram account id. Two accounts talking to the
    /// same person are two conversations.
    pub account: String,
    /// Who to answer: the sender's phone, chat id or scoped user id (the group, when groups
    /// are enabled).
    pub conversation: String,
    /// The platform's id for the message, unique within the app; redeliveries repeat it.
    pub message_id: String,
    pub sender_name: Option<String>,
    /// What the person wrote: the message body, or the caption of a media message.
    pub text: Option<String>,
    /// Non-text content, in the order the platform listed it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Part>,
    /// When the platform says the message was sent; 0 when the payload carries no time (only
    /// possible with the generic adapter), in which case the receiver stamps its arrival.
    pub timestamp_ms: u64,
    /// The platform's own JSON for this message, for handlers that need more than the above.
    pub raw: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartKind {
    Image,
    Audio,
    Video,
    Document,
    Sticker,
    Location,
    Contact,
    /// Content with no common equivalent (an Instagram share or story mention, say);
    /// `Part::platform_type` says what it was.
    Other,
}

/// Where a media file can be fetched: a URL, or an id the platform's media API resolves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaRef {
    Url(String),
    Id(String),
}

/// A non-text piece of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub kind: PartKind,
    /// The platform's own name for this content (`voice`, `ptt`, `imageMessage`, `ig_reel`…).
    pub platform_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    /// A location's name or address, or a shared contact's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A shared contact's phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl Part {
    pub fn new(kind: PartKind, platform_type: &str) -> Part {
        Part {
            kind,
            platform_type: platform_type.to_owned(),
            media: None,
            mime: None,
            caption: None,
            file_name: None,
            latitude: None,
            longitude: None,
            name: None,
            phone: None,
        }
    }
}

/// What the person is doing in the chat, from platforms that report presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Typing {
    Composing,
    Recording,
    /// Stopped typing, or merely present: either way nothing more is on its way.
    Paused,
}

/// What one item of a webhook means to lull.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Message(InboundMessage),
    Typing {
        account: String,
        conversation: String,
        state: Typing,
    },
    /// Acknowledged and dropped; the reason is for logs and metrics.
    Ignored(&'static str),
}

/// A media message's caption stands in for its text, so a handler that only reads `text`
/// still sees what the person wrote.
pub(crate) fn text_or_caption(text: Option<String>, parts: &[Part]) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
        .or_else(|| parts.iter().find_map(|p| p.caption.clone()))
}

/// The reasons an item is acknowledged but not buffered, shared so logs and tests agree.
pub mod ignored {
    pub const STATUS: &str = "status update";
    pub const FROM_ME: &str = "echo of own message";
    pub const GROUP: &str = "group message";
    pub const BROADCAST: &str = "broadcast or channel message";
    pub const REACTION: &str = "reaction";
    pub const FROM_BOT: &str = "message from a bot";
    pub const UNSUPPORTED: &str = "unsupported message type";
    pub const NOT_A_MESSAGE: &str = "not a message event";
    pub const DELETED: &str = "deleted message";
    pub const READ: &str = "read receipt";
    pub const WAITING: &str = "message not yet decrypted";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_names_round_trip() {
        for p in Platform::ALL {
            assert_eq!(p.as_str().parse::<Platform>().unwrap(), p);
            assert_eq!(
                serde_json::to_value(p).unwrap(),
                serde_json::json!(p.as_str())
            );
        }
        let err = "whatsup".parse::<Platform>().unwrap_err();
        assert!(err.to_string().contains("whatsup"));
    }

    #[test]
    fn message_serialises_compactly() {
        let mut part = Part::new(PartKind::Image, "image");
        part.media = Some(MediaRef::Id("77".into()));
        let msg = InboundMessage {
            app: "a".into(),
            platform: Platform::Telegram,
            account: "1".into(),
            conversation: "2".into(),
            message_id: "3".into(),
            sender_name: None,
            text: None,
            parts: vec![part],
            timestamp_ms: 5,
            raw: serde_json::Value::Null,
        };
        let v = serde_json::to_value(&msg).unwrap();
        assert_eq!(
            v["parts"][0],
            serde_json::json!({"kind": "image", "platform_type": "image", "media": {"id": "77"}})
        );
        let back: InboundMessage = serde_json::from_value(v).unwrap();
        assert_eq!(back, msg);
    }
}
