//! Telegram Bot API: `Update` webhooks with the secret-token header, and `sendMessage`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::error::WebhookError;
use super::fields::{epoch_to_ms, parse_body, Node};
use super::inbound::{
    ignored, text_or_caption, Event, InboundMessage, MediaRef, Part, PartKind, Platform,
};
use super::outbound::{join_url, OutboundRequest};
use super::signature;

pub const DEFAULT_BASE_URL: &str = "https://api.telegram.org";
pub const SECRET_TOKEN_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TelegramConfig {
    pub bot_token: String,
    /// The bot's user id, the conversation account; read from the token when not given.
    #[serde(default)]
    pub bot_id: Option<String>,
    /// The `secret_token` given to `setWebhook`; when set, every update must carry it.
    #[serde(default)]
    pub secret_token: Option<String>,
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Buffer group messages (keyed by the group chat) instead of ignoring them.
    #[serde(default)]
    pub allow_groups: bool,
    /// A complete send URL, replacing the one built from `base_url`.
    #[serde(default)]
    pub send_url: Option<String>,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

impl TelegramConfig {
    pub fn new(bot_token: &str) -> TelegramConfig {
        TelegramConfig {
            bot_token: bot_token.to_owned(),
            bot_id: None,
            secret_token: None,
            base_url: default_base_url(),
            allow_groups: false,
            send_url: None,
        }
    }

    /// A bot token is `<bot id>:<secret>`, so the id is known without asking Telegram.
    pub fn bot_id(&self) -> String {
        match &self.bot_id {
            Some(id) => id.clone(),
            None => self
                .bot_token
                .split_once(':')
                .map_or(self.bot_token.as_str(), |(id, _)| id)
                .to_owned(),
        }
    }
}

/// Checks `X-Telegram-Bot-Api-Secret-Token` when a secret is configured.
pub fn verify_secret_token(cfg: &TelegramConfig, header: Option<&str>) -> Result<(), WebhookError> {
    match &cfg.secret_token {
        Some(expected) => signature::verify_token_header(SECRET_TOKEN_HEADER, expected, header),
        None => Ok(()),
    }
}

/// Telegram sends one update per request; the result has exactly one event.
pub fn parse(app: &str, body: &[u8], cfg: &TelegramConfig) -> Result<Vec<Event>, WebhookError> {
    let doc = parse_body(body)?;
    let root = Node::root(&doc);
    root.req("update_id")?.u64()?;
    let event = if let Some(m) = root.get("message") {
        message(app, cfg, &m, false)?
    } else if let Some(m) = root.get("edited_message") {
        message(app, cfg, &m, true)?
    } else if root.get("channel_post").is_some() || root.get("edited_channel_post").is_some() {
        Event::Ignored(ignored::BROADCAST)
    } else {
        Event::Ignored(ignored::NOT_A_MESSAGE)
    };
    Ok(vec![event])
}

fn message(
    app: &str,
    cfg: &TelegramConfig,
    m: &Node<'_>,
    edited: bool,
) -> Result<Event, WebhookError> {
    let chat = m.req("chat")?;
    let chat_id = chat.req("id")?.id()?;
    match chat.req("type")?.str()? {
        "private" => {}
        "group" | "supergroup" if cfg.allow_groups => {}
        "channel" => return Ok(Event::Ignored(ignored::BROADCAST)),
        _ => return Ok(Event::Ignored(ignored::GROUP)),
    }
    let from = m.get("from");
    if from.as_ref().is_some_and(|f| f.flag("is_bot")) {
        return Ok(Event::Ignored(ignored::FROM_BOT));
    }
    // Message ids are only unique within a chat, and an edit keeps the id of the original.
    let mut message_id = format!("{chat_id}:{}", m.req("message_id")?.id()?);
    if edited {
        let edit_date = m.get("edit_date").map(|d| d.u64()).transpose()?;
        message_id = format!("{message_id}:edited:{}", edit_date.unwrap_or(0));
    }
    let timestamp_ms = epoch_to_ms(m.req("date")?.u64()?);

    let caption = m.opt_str("caption");
    let mut parts = Vec::new();
    if let Some(photo) = m.get("photo") {
        // Telegram lists every size it made, smallest first.
        if let Some(largest) = photo.items()?.last() {
            let mut part = Part::new(PartKind::Image, "photo");
            part.media = Some(MediaRef::Id(largest.req("file_id")?.str()?.to_owned()));
            part.mime = Some("image/jpeg".to_owned());
            parts.push(part);
        }
    }
    for (key, kind) in [
        ("voice", PartKind::Audio),
        ("audio", PartKind::Audio),
        ("video", PartKind::Video),
        ("video_note", PartKind::Video),
        ("animation", PartKind::Video),
        ("document", PartKind::Document),
        ("sticker", PartKind::Sticker),
    ] {
        if let Some(file) = m.get(key) {
            let mut part = Part::new(kind, key);
            part.media = Some(MediaRef::Id(file.req("file_id")?.str()?.to_owned()));
            part.mime = file.opt_str("mime_type");
            part.file_name = file.opt_str("file_name");
            parts.push(part);
            // A GIF also arrives as `document`; one part is enough.
            if key == "animation" {
                break;
            }
        }
    }
    if let Some(loc) = m.get("location") {
        let mut part = Part::new(PartKind::Location, "location");
        part.latitude = Some(loc.req("latitude")?.f64()?);
        part.longitude = Some(loc.req("longitude")?.f64()?);
        if let Some(venue) = m.get("venue") {
            part.name = venue.opt_str("title");
        }
        parts.push(part);
    }
    if let Some(contact) = m.get("contact") {
        let mut part = Part::new(PartKind::Contact, "contact");
        part.name = contact.opt_str("first_name");
        part.phone = contact.opt_str("phone_number");
        parts.push(part);
    }
    if let (Some(caption), Some(first)) = (&caption, parts.first_mut()) {
        first.caption = Some(caption.clone());
    }
    let text = text_or_caption(m.opt_str("text"), &parts);
    if text.is_none() && parts.is_empty() {
        return Ok(Event::Ignored(ignored::UNSUPPORTED));
    }
    Ok(Event::Message(InboundMessage {
        app: app.to_owned(),
        platform: Platform::Telegram,
        account: cfg.bot_id(),
        conversation: chat_id,
        message_id,
        sender_name: from.as_ref().and_then(display_name),
        text,
        parts,
        timestamp_ms,
        raw: m.value().clone(),
    }))
}

fn display_name(user: &Node<'_>) -> Option<String> {
    let full = [user.opt_str("first_name"), user.opt_str("last_name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if full.is_empty() {
        user.opt_str("username")
    } else {
        Some(full)
    }
}

/// `POST {base}/bot{token}/sendMessage` with `{"chat_id","text"}`.
pub fn build_send(cfg: &TelegramConfig, recipient: &str, text: &str) -> OutboundRequest {
    let url = cfg.send_url.clone().unwrap_or_else(|| {
        join_url(
            &cfg.base_url,
            &[&format!("bot{}", cfg.bot_token), "sendMessage"],
        )
    });
    // Chat ids are integers; `@channelname` targets stay strings.
    let chat_id = recipient
        .parse::<i64>()
        .map_or_else(|_| Value::from(recipient), Value::from);
    OutboundRequest::post_json(url, json!({ "chat_id": chat_id, "text": text }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::test_support;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(
                "../../tests/fixtures/webhooks/telegram/",
                $name,
                ".json"
            ))
        };
    }

    fn cfg() -> TelegramConfig {
        TelegramConfig::new("7001234567:AAH-example_token")
    }

    fn event(body: &str, cfg: &TelegramConfig) -> Event {
        test_support::single(parse("bot", body.as_bytes(), cfg))
    }

    fn message(body: &str) -> InboundMessage {
        test_support::message(event(body, &cfg()))
    }

    #[test]
    fn text_message() {
        let m = message(fixture!("text"));
        assert_eq!(m.platform, Platform::Telegram);
        assert_eq!(m.account, "7001234567");
        assert_eq!(m.conversation, "731550219");
        assert_eq!(m.message_id, "731550219:4411");
        assert_eq!(m.sender_name.as_deref(), Some("Lucas Ferraz"));
        assert_eq!(m.text.as_deref(), Some("oi bot"));
        assert_eq!(m.timestamp_ms, 1_718_033_000_000);
        assert_eq!(m.raw["chat"]["type"], "private");
    }

    #[test]
    fn edits_get_their_own_id() {
        let m = message(fixture!("edited"));
        assert_eq!(m.text.as_deref(), Some("oi bot, tudo certo?"));
        assert_eq!(m.message_id, "731550219:4411:edited:1718033042");
        assert_ne!(m.message_id, message(fixture!("text")).message_id);
    }

    #[test]
    fn media_messages() {
        let m = message(fixture!("photo"));
        assert_eq!(m.text.as_deref(), Some("a nota fiscal"));
        assert_eq!(m.parts.len(), 1);
        assert_eq!(
            m.parts[0].media,
            Some(MediaRef::Id("AgACAgEAAxkBAAIRc2ZmXlarge".into()))
        );
        assert_eq!(m.parts[0].caption.as_deref(), Some("a nota fiscal"));

        let m = message(fixture!("voice"));
        assert_eq!(m.text, None);
        assert_eq!(m.parts[0].kind, PartKind::Audio);
        assert_eq!(m.parts[0].platform_type, "voice");
        assert_eq!(m.parts[0].mime.as_deref(), Some("audio/ogg"));

        let m = message(fixture!("document"));
        assert_eq!(m.parts[0].kind, PartKind::Document);
        assert_eq!(m.parts[0].file_name.as_deref(), Some("contrato.pdf"));

        let m = message(fixture!("location"));
        assert_eq!(m.parts[0].latitude, Some(-25.428954));
        assert_eq!(m.parts[0].longitude, Some(-49.267137));
    }

    #[test]
    fn groups_bots_and_other_updates_are_ignored() {
        let c = cfg();
        assert_eq!(event(fixture!("group"), &c), Event::Ignored(ignored::GROUP));
        assert_eq!(
            event(fixture!("from_bot"), &c),
            Event::Ignored(ignored::FROM_BOT)
        );
        assert_eq!(
            event(fixture!("callback_query"), &c),
            Event::Ignored(ignored::NOT_A_MESSAGE)
        );
        let mut groups = cfg();
        groups.allow_groups = true;
        match event(fixture!("group"), &groups) {
            Event::Message(m) => {
                assert_eq!(m.conversation, "-1002233445566");
                assert_eq!(m.message_id, "-1002233445566:97");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_input_names_the_problem() {
        let err = |body: &str| parse("bot", body.as_bytes(), &cfg()).unwrap_err();
        assert!(matches!(err("update"), WebhookError::NotJson(_)));
        assert_eq!(
            err(r#"{"message":{}}"#).to_string(),
            "missing field update_id"
        );
        assert_eq!(
            err(r#"{"update_id":1,"message":{"message_id":1}}"#).to_string(),
            "missing field message.chat"
        );
        let no_date = fixture!("text").replace("\"date\"", "\"when\"");
        assert_eq!(err(&no_date).to_string(), "missing field message.date");
    }

    #[test]
    fn secret_token_pass_and_fail() {
        let mut c = cfg();
        assert!(verify_secret_token(&c, None).is_ok());
        c.secret_token = Some("s-3cr3t".into());
        assert!(verify_secret_token(&c, Some("s-3cr3t")).is_ok());
        let bad = verify_secret_token(&c, Some("s-3cr3T")).unwrap_err();
        assert_eq!(bad.status(), 401);
        assert_eq!(
            verify_secret_token(&c, None),
            Err(WebhookError::MissingSignature(SECRET_TOKEN_HEADER.into()))
        );
    }

    #[test]
    fn bot_id_comes_from_config_or_token() {
        let mut c = cfg();
        assert_eq!(c.bot_id(), "7001234567");
        c.bot_id = Some("42".into());
        assert_eq!(c.bot_id(), "42");
    }

    #[test]
    fn outbound_request_shape() {
        let req = build_send(&cfg(), "731550219", "Oi Lucas!");
        assert_eq!(
            req.url,
            "https://api.telegram.org/bot7001234567:AAH-example_token/sendMessage"
        );
        assert_eq!(req.body, json!({"chat_id": 731550219, "text": "Oi Lucas!"}));
        assert_eq!(
            build_send(&cfg(), "@canal", "x").body["chat_id"],
            json!("@canal")
        );
        assert_eq!(
            build_send(&cfg(), "-1002233445566", "x").body["chat_id"],
            json!(-1002233445566_i64)
        );
    }
}
