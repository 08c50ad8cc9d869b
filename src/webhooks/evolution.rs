//! Evolution API: `messages.upsert` and `presence.update` webhooks, and `message/sendText`.

use serde::Deserialize;
use serde_json::json;

use super::error::WebhookError;
use super::fields::{epoch_to_ms, parse_body, Node};
use super::inbound::{
    ignored, text_or_caption, Event, InboundMessage, MediaRef, Part, PartKind, Platform, Typing,
};
use super::outbound::{join_url, OutboundRequest};

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EvolutionConfig {
    /// The self-hosted server, e.g. `https://evolution.example.org`.
    pub base_url: String,
    pub instance: String,
    pub api_key: String,
    /// Buffer group messages (keyed by the group JID) instead of ignoring them.
    #[serde(default)]
    pub allow_groups: bool,
    /// A complete send URL, replacing the one built from `base_url`.
    #[serde(default)]
    pub send_url: Option<String>,
}

impl EvolutionConfig {
    pub fn new(base_url: &str, instance: &str, api_key: &str) -> EvolutionConfig {
        EvolutionConfig {
            base_url: base_url.to_owned(),
            instance: instance.to_owned(),
            api_key: api_key.to_owned(),
            allow_groups: false,
            send_url: None,
        }
    }
}

const PERSON_SUFFIX: &str = "@s.whatsapp.net";

/// Where a WhatsApp JID leads: a person (by number), a group, or something never answered.
enum Chat {
    Person(String),
    Group(String),
    Broadcast,
}

fn chat(jid: &str) -> Chat {
    if let Some(number) = jid.strip_suffix(PERSON_SUFFIX) {
        Chat::Person(number.to_owned())
    } else if jid.ends_with("@g.us") {
        Chat::Group(jid.to_owned())
    } else if jid.ends_with("@broadcast") || jid.ends_with("@newsletter") {
        Chat::Broadcast
    } else {
        // `@lid` and other addressing: keep the whole JID, which sendText accepts.
        Chat::Person(jid.to_owned())
    }
}

pub fn parse(app: &str, body: &[u8], cfg: &EvolutionConfig) -> Result<Vec<Event>, WebhookError> {
    let doc = parse_body(body)?;
    let root = Node::root(&doc);
    // Events arrive as `messages.upsert` or, per-event webhooks, `MESSAGES_UPSERT`.
    let event = root
        .req("event")?
        .str()?
        .to_ascii_lowercase()
        .replace('_', ".");
    let account = match root.get("instance") {
        Some(instance) if instance.value().is_object() => instance.opt_str("instanceName"),
        Some(instance) => Some(instance.str()?.to_owned()),
        None => None,
    }
    .unwrap_or_else(|| cfg.instance.clone());
    let data = root.req("data")?;
    // Most versions send one message; some batch them in an array.
    let items = if data.value().is_array() {
        data.items()?
    } else {
        vec![data]
    };
    match event.as_str() {
        "messages.upsert" => items
            .iter()
            .map(|item| message(app, &account, item, cfg))
            .collect(),
        "presence.update" => items
            .iter()
            .map(|item| presence(&account, item, cfg))
            .collect(),
        "messages.update" | "send.message" => Ok(vec![Event::Ignored(ignored::STATUS)]),
        _ => Ok(vec![Event::Ignored(ignored::NOT_A_MESSAGE)]),
    }
}

fn presence(account: &str, data: &Node<'_>, cfg: &EvolutionConfig) -> Result<Event, WebhookError> {
    let jid = data.req("id")?.str()?;
    let conversation = match chat(jid) {
        Chat::Person(c) => c,
        Chat::Group(g) if cfg.allow_groups => g,
        Chat::Group(_) => return Ok(Event::Ignored(ignored::GROUP)),
        Chat::Broadcast => return Ok(Event::Ignored(ignored::BROADCAST)),
    };
    // One entry per participant; in a direct chat there is only the person.
    let presences = data.req("presences")?;
    let states = presences
        .value()
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(|p| p.get("lastKnownPresence").and_then(|s| s.as_str()))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let state = if states.contains(&"composing") {
        Typing::Composing
    } else if states.contains(&"recording") {
        Typing::Recording
    } else {
        Typing::Paused
    };
    Ok(Event::Typing {
        account: account.to_owned(),
        conversation,
        state,
    })
}

fn message(
    app: &str,
    account: &str,
    data: &Node<'_>,
    cfg: &EvolutionConfig,
) -> Result<Event, WebhookError> {
    let key = data.req("key")?;
    if key.flag("fromMe") {
        return Ok(Event::Ignored(ignored::FROM_ME));
    }
    let conversation = match chat(key.req("remoteJid")?.str()?) {
        Chat::Person(c) => c,
        Chat::Group(g) if cfg.allow_groups => g,
        Chat::Group(_) => return Ok(Event::Ignored(ignored::GROUP)),
        Chat::Broadcast => return Ok(Event::Ignored(ignored::BROADCAST)),
    };
    let message_id = key.req("id")?.id()?;
    let timestamp_ms = epoch_to_ms(timestamp(&data.req("messageTimestamp")?)?);
    let Some(mut content) = data.get("message") else {
        return Ok(Event::Ignored(ignored::UNSUPPORTED));
    };
    // Disappearing, view-once and captioned documents wrap the real message one level down.
    for _ in 0..3 {
        let inner = [
            "ephemeralMessage",
            "viewOnceMessage",
            "viewOnceMessageV2",
            "documentWithCaptionMessage",
        ]
        .iter()
        .find_map(|w| content.get(w).and_then(|w| w.get("message")));
        match inner {
            Some(inner) => content = inner,
            None => break,
        }
    }
    if content.get("reactionMessage").is_some() {
        return Ok(Event::Ignored(ignored::REACTION));
    }
    if content.get("protocolMessage").is_some() {
        return Ok(Event::Ignored(ignored::NOT_A_MESSAGE));
    }

    let text = content
        .opt_str("conversation")
        .or_else(|| content.get("extendedTextMessage")?.opt_str("text"))
        .or_else(|| {
            content
                .get("buttonsResponseMessage")?
                .opt_str("selectedDisplayText")
        })
        .or_else(|| content.get("listResponseMessage")?.opt_str("title"));
    let mut parts = Vec::new();
    for (key, kind) in [
        ("imageMessage", PartKind::Image),
        ("audioMessage", PartKind::Audio),
        ("videoMessage", PartKind::Video),
        ("documentMessage", PartKind::Document),
        ("stickerMessage", PartKind::Sticker),
    ] {
        if let Some(media) = content.get(key) {
            let mut part = Part::new(kind, key);
            part.media = media.opt_str("url").map(MediaRef::Url);
            part.mime = media.opt_str("mimetype");
            part.caption = media.opt_str("caption");
            part.file_name = media.opt_str("fileName");
            if key == "audioMessage" && media.flag("ptt") {
                part.platform_type = "ptt".to_owned();
            }
            parts.push(part);
        }
    }
    if let Some(loc) = content.get("locationMessage") {
        let mut part = Part::new(PartKind::Location, "locationMessage");
        part.latitude = Some(loc.req("degreesLatitude")?.f64()?);
        part.longitude = Some(loc.req("degreesLongitude")?.f64()?);
        part.name = loc.opt_str("name").or_else(|| loc.opt_str("address"));
        parts.push(part);
    }
    if let Some(contact) = content.get("contactMessage") {
        let mut part = Part::new(PartKind::Contact, "contactMessage");
        part.name = contact.opt_str("displayName");
        parts.push(part);
    }
    let text = text_or_caption(text, &parts);
    if text.is_none() && parts.is_empty() {
        return Ok(Event::Ignored(ignored::UNSUPPORTED));
    }
    Ok(Event::Message(InboundMessage {
        app: app.to_owned(),
        platform: Platform::Evolution,
        account: account.to_owned(),
        conversation,
        message_id,
        sender_name: data.opt_str("pushName"),
        text,
        parts,
        timestamp_ms,
        raw: data.value().clone(),
    }))
}

/// Seconds, as a number, a string, or the `{low, high}` 64-bit object some versions emit.
fn timestamp(node: &Node<'_>) -> Result<u64, WebhookError> {
    match node.get("low") {
        Some(low) => low.u64(),
        None => node.u64(),
    }
}

/// `POST {base}/message/sendText/{instance}` with the `apikey` header and `{"number","text"}`.
pub fn build_send(cfg: &EvolutionConfig, recipient: &str, text: &str) -> OutboundRequest {
    let url = cfg
        .send_url
        .clone()
        .unwrap_or_else(|| join_url(&cfg.base_url, &["message", "sendText", &cfg.instance]));
    OutboundRequest::post_json(url, json!({ "number": recipient, "text": text }))
        .header("apikey", &cfg.api_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::test_support;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(
                "../../tests/fixtures/webhooks/evolution/",
                $name,
                ".json"
            ))
        };
    }

    fn cfg() -> EvolutionConfig {
        EvolutionConfig::new("https://evolution.example.org", "loja-centro", "k3y")
    }

    fn event(body: &str, cfg: &EvolutionConfig) -> Event {
        test_support::single(parse("loja", body.as_bytes(), cfg))
    }

    fn message(body: &str) -> InboundMessage {
        test_support::message(event(body, &cfg()))
    }

    #[test]
    fn text_messages() {
        let m = message(fixture!("text"));
        assert_eq!(m.platform, Platform::Evolution);
        assert_eq!(m.account, "loja-centro");
        assert_eq!(m.conversation, "5531991110001");
        assert_eq!(m.message_id, "3EB0C0FFEE0000000001");
        assert_eq!(m.sender_name.as_deref(), Some("Bruno Alves"));
        assert_eq!(m.text.as_deref(), Some("boa tarde"));
        assert_eq!(m.timestamp_ms, 1_718_032_000_000);
        assert_eq!(m.raw["key"]["id"], "3EB0C0FFEE0000000001");

        let m = message(fixture!("extended_text"));
        assert_eq!(
            m.text.as_deref(),
            Some("vi no site https://loja.example.org/p/42")
        );
    }

    #[test]
    fn media_messages() {
        let m = message(fixture!("image"));
        assert_eq!(m.text.as_deref(), Some("a etiqueta"));
        assert_eq!(m.parts[0].kind, PartKind::Image);
        assert_eq!(m.parts[0].mime.as_deref(), Some("image/jpeg"));
        assert!(
            matches!(&m.parts[0].media, Some(MediaRef::Url(u)) if u.starts_with("https://mmg."))
        );

        // Timestamp given as a string here.
        let m = message(fixture!("audio"));
        assert_eq!(m.timestamp_ms, 1_718_032_030_000);
        assert_eq!(m.parts[0].kind, PartKind::Audio);
        assert_eq!(m.parts[0].platform_type, "ptt");

        let m = message(fixture!("location"));
        let p = &m.parts[0];
        assert_eq!((p.latitude, p.longitude), (Some(-19.9245), Some(-43.9352)));
        assert_eq!(p.name.as_deref(), Some("Praça da Liberdade"));
    }

    #[test]
    fn wrapped_and_upper_case_events() {
        let body = fixture!("text")
            .replace("\"messages.upsert\"", "\"MESSAGES_UPSERT\"")
            .replace(
                "\"conversation\": \"boa tarde\"",
                "\"ephemeralMessage\": {\"message\": {\"conversation\": \"some em 24h\"}}",
            );
        assert_eq!(message(&body).text.as_deref(), Some("some em 24h"));
    }

    #[test]
    fn echoes_groups_reactions_and_updates_are_ignored() {
        let c = cfg();
        assert_eq!(
            event(fixture!("from_me"), &c),
            Event::Ignored(ignored::FROM_ME)
        );
        assert_eq!(event(fixture!("group"), &c), Event::Ignored(ignored::GROUP));
        assert_eq!(
            event(fixture!("reaction"), &c),
            Event::Ignored(ignored::REACTION)
        );
        assert_eq!(
            event(fixture!("messages_update"), &c),
            Event::Ignored(ignored::STATUS)
        );
        let status_broadcast =
            fixture!("text").replace("5531991110001@s.whatsapp.net", "status@broadcast");
        assert_eq!(
            event(&status_broadcast, &c),
            Event::Ignored(ignored::BROADCAST)
        );
    }

    #[test]
    fn groups_when_enabled_keep_the_group_jid() {
        let mut c = cfg();
        c.allow_groups = true;
        match event(fixture!("group"), &c) {
            Event::Message(m) => assert_eq!(m.conversation, "120363041122334455@g.us"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn presence_becomes_typing() {
        let typing = |state| Event::Typing {
            account: "loja-centro".into(),
            conversation: "5531991110001".into(),
            state,
        };
        assert_eq!(
            event(fixture!("presence_composing"), &cfg()),
            typing(Typing::Composing)
        );
        assert_eq!(
            event(fixture!("presence_paused"), &cfg()),
            typing(Typing::Paused)
        );
        let recording = fixture!("presence_composing").replace("composing", "recording");
        assert_eq!(event(&recording, &cfg()), typing(Typing::Recording));
    }

    #[test]
    fn bad_input_names_the_problem() {
        let err = |body: &str| parse("loja", body.as_bytes(), &cfg()).unwrap_err();
        assert!(matches!(err(""), WebhookError::NotJson(_)));
        assert_eq!(err(r#"{"data":{}}"#).to_string(), "missing field event");
        assert_eq!(
            err(r#"{"event":"messages.upsert","data":{"message":{}}}"#).to_string(),
            "missing field data.key"
        );
        let no_ts = fixture!("text").replace("\"messageTimestamp\"", "\"ts\"");
        assert_eq!(
            err(&no_ts).to_string(),
            "missing field data.messageTimestamp"
        );
        assert_eq!(
            err(r#"{"event":"presence.update","data":{"id":"1@s.whatsapp.net"}}"#).to_string(),
            "missing field data.presences"
        );
    }

    #[test]
    fn outbound_request_shape() {
        let req = build_send(&cfg(), "5531991110001", "Boa tarde, Bruno!");
        assert_eq!(
            req.url,
            "https://evolution.example.org/message/sendText/loja-centro"
        );
        assert_eq!(req.header_value("apikey"), Some("k3y"));
        assert_eq!(
            req.body,
            json!({"number": "5531991110001", "text": "Boa tarde, Bruno!"})
        );
    }
}
