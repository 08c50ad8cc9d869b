//! Z-API: `ReceivedCallback` messages, `PresenceChatCallback` typing signals, and `send-text`.

use serde::Deserialize;
use serde_json::json;

use super::error::WebhookError;
use super::fields::{epoch_to_ms, parse_body, Node};
use super::inbound::{
    ignored, text_or_caption, Event, InboundMessage, MediaRef, Part, PartKind, Platform, Typing,
};
use super::outbound::{join_url, OutboundRequest};

pub const DEFAULT_BASE_URL: &str = "https://api.z-api.io";

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ZapiConfig {
    pub instance_id: String,
    pub token: String,
    /// The account security token, sent as `Client-Token` when set.
    #[serde(default)]
    pub client_token: Option<String>,
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Buffer group messages (keyed by the group) instead of ignoring them.
    #[serde(default)]
    pub allow_groups: bool,
    /// A complete send URL, replacing the one built from `base_url`.
    #[serde(default)]
    pub send_url: Option<String>,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

impl ZapiConfig {
    pub fn new(instance_id: &str, token: &str) -> ZapiConfig {
        ZapiConfig {
            instance_id: instance_id.to_owned(),
            token: token.to_owned(),
            client_token: None,
            base_url: default_base_url(),
            allow_groups: false,
            send_url: None,
        }
    }
}

/// Z-API posts one callback per request; the result has exactly one event.
pub fn parse(app: &str, body: &[u8], cfg: &ZapiConfig) -> Result<Vec<Event>, WebhookError> {
    let doc = parse_body(body)?;
    let root = Node::root(&doc);
    let account = root
        .opt_str("instanceId")
        .unwrap_or_else(|| cfg.instance_id.clone());
    let event = match root.req("type")?.str()? {
        // The docs spell it both ways.
        "ReceivedCallback" | "ReceivedCallBack" => received(app, account, &root, cfg)?,
        "PresenceChatCallback" => Event::Typing {
            account,
            conversation: root.req("phone")?.id()?,
            state: match root.req("status")?.str()? {
                "COMPOSING" => Typing::Composing,
                "RECORDING" => Typing::Recording,
                // PAUSED, AVAILABLE, UNAVAILABLE: not typing now.
                _ => Typing::Paused,
            },
        },
        "MessageStatusCallback" | "DeliveryCallback" => Event::Ignored(ignored::STATUS),
        _ => Event::Ignored(ignored::NOT_A_MESSAGE),
    };
    Ok(vec![event])
}

fn received(
    app: &str,
    account: String,
    root: &Node<'_>,
    cfg: &ZapiConfig,
) -> Result<Event, WebhookError> {
    if root.flag("fromMe") {
        return Ok(Event::Ignored(ignored::FROM_ME));
    }
    if root.flag("isGroup") && !cfg.allow_groups {
        return Ok(Event::Ignored(ignored::GROUP));
    }
    if root.flag("isNewsletter") || root.flag("broadcast") {
        return Ok(Event::Ignored(ignored::BROADCAST));
    }
    // The content of a message WhatsApp could not decrypt yet is absent; Z-API sends it again.
    if root.flag("waitingMessage") {
        return Ok(Event::Ignored(ignored::WAITING));
    }
    if root.get("reaction").is_some() {
        return Ok(Event::Ignored(ignored::REACTION));
    }
    let conversation = root.req("phone")?.id()?;
    let message_id = root.req("messageId")?.id()?;
    let moment = root
        .get("momment")
        .or_else(|| root.get("moment"))
        .ok_or_else(|| WebhookError::MissingField("momment".to_owned()))?;
    let timestamp_ms = epoch_to_ms(moment.u64()?);

    let mut text = None;
    for (key, field) in [
        ("text", "message"),
        ("buttonsResponseMessage", "message"),
        ("listResponseMessage", "message"),
    ] {
        if let Some(obj) = root.get(key) {
            text = obj.opt_str(field);
            break;
        }
    }
    let mut parts = Vec::new();
    for (key, kind, url_field) in [
        ("image", PartKind::Image, "imageUrl"),
        ("audio", PartKind::Audio, "audioUrl"),
        ("video", PartKind::Video, "videoUrl"),
        ("document", PartKind::Document, "documentUrl"),
        ("sticker", PartKind::Sticker, "stickerUrl"),
    ] {
        if let Some(obj) = root.get(key) {
            let mut part = Part::new(kind, key);
            part.media = Some(MediaRef::Url(obj.req(url_field)?.str()?.to_owned()));
            part.mime = obj.opt_str("mimeType");
            part.caption = obj.opt_str("caption");
            part.file_name = obj.opt_str("fileName");
            if key == "audio" && obj.flag("ptt") {
                part.platform_type = "ptt".to_owned();
            }
            parts.push(part);
        }
    }
    if let Some(loc) = root.get("location") {
        let mut part = Part::new(PartKind::Location, "location");
        part.latitude = Some(loc.req("latitude")?.f64()?);
        part.longitude = Some(loc.req("longitude")?.f64()?);
        part.name = loc.opt_str("name").or_else(|| loc.opt_str("address"));
        parts.push(part);
    }
    if let Some(contact) = root.get("contact") {
        let mut part = Part::new(PartKind::Contact, "contact");
        part.name = contact.opt_str("displayName");
        part.phone = match contact.get("phones") {
            Some(phones) => phones.items()?.first().and_then(|p| p.id().ok()),
            None => None,
        };
        parts.push(part);
    }
    let text = text_or_caption(text, &parts);
    if text.is_none() && parts.is_empty() {
        return Ok(Event::Ignored(ignored::UNSUPPORTED));
    }
    Ok(Event::Message(InboundMessage {
        app: app.to_owned(),
        platform: Platform::Zapi,
        account,
        conversation,
        message_id,
        sender_name: root
            .opt_str("senderName")
            .or_else(|| root.opt_str("chatName")),
        text,
        parts,
        timestamp_ms,
        raw: root.value().clone(),
    }))
}

/// `POST {base}/instances/{id}/token/{token}/send-text` with `{"phone","message"}`.
pub fn build_send(cfg: &ZapiConfig, recipient: &str, text: &str) -> OutboundRequest {
    let url = cfg.send_url.clone().unwrap_or_else(|| {
        join_url(
            &cfg.base_url,
            &[
                "instances",
                &cfg.instance_id,
                "token",
                &cfg.token,
                "send-text",
            ],
        )
    });
    let req = OutboundRequest::post_json(url, json!({ "phone": recipient, "message": text }));
    match &cfg.client_token {
        Some(token) => req.header("Client-Token", token),
        None => req,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::test_support;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(
                "../../tests/fixtures/webhooks/zapi/",
                $name,
                ".json"
            ))
        };
    }

    fn cfg() -> ZapiConfig {
        ZapiConfig::new("3C91F0A7B2D84E6C9A15E0D2B7F4A831", "F00DBABE")
    }

    fn event(body: &str, cfg: &ZapiConfig) -> Event {
        test_support::single(parse("patricia", body.as_bytes(), cfg))
    }

    fn message(body: &str) -> InboundMessage {
        test_support::message(event(body, &cfg()))
    }

    #[test]
    fn text_message() {
        let m = message(fixture!("text"));
        assert_eq!(m.platform, Platform::Zapi);
        assert_eq!(m.account, "3C91F0A7B2D84E6C9A15E0D2B7F4A831");
        assert_eq!(m.conversation, "5521912340001");
        assert_eq!(m.message_id, "3EB07A61C2F4D09B1E55");
        assert_eq!(m.sender_name.as_deref(), Some("Marina Costa"));
        assert_eq!(m.text.as_deref(), Some("oi, tudo bem?"));
        assert_eq!(m.timestamp_ms, 1_718_031_000_000);
        assert_eq!(m.raw["type"], "ReceivedCallback");
    }

    #[test]
    fn media_messages() {
        let m = message(fixture!("image"));
        assert_eq!(m.text.as_deref(), Some("chegou assim"));
        assert_eq!(m.parts[0].kind, PartKind::Image);
        assert_eq!(
            m.parts[0].media,
            Some(MediaRef::Url(
                "https://storage.example.net/zapi/3EB0C4D5E6F708192A3B.jpeg".into()
            ))
        );
        assert_eq!(m.parts[0].mime.as_deref(), Some("image/jpeg"));

        let m = message(fixture!("audio"));
        assert_eq!(m.text, None);
        assert_eq!(m.parts[0].kind, PartKind::Audio);
        assert_eq!(m.parts[0].platform_type, "ptt");

        let m = message(fixture!("document"));
        assert_eq!(m.parts[0].kind, PartKind::Document);
        assert_eq!(m.parts[0].file_name.as_deref(), Some("boleto.pdf"));

        let m = message(fixture!("location"));
        let p = &m.parts[0];
        assert_eq!(
            (p.latitude, p.longitude),
            (Some(-23.55052), Some(-46.633308))
        );
        assert_eq!(p.name.as_deref(), Some("Praça da Sé, São Paulo"));
    }

    #[test]
    fn echoes_groups_reactions_and_statuses_are_ignored() {
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
            event(fixture!("message_status"), &c),
            Event::Ignored(ignored::STATUS)
        );
    }

    #[test]
    fn groups_when_enabled_are_keyed_by_the_group() {
        let mut c = cfg();
        c.allow_groups = true;
        match event(fixture!("group"), &c) {
            Event::Message(m) => {
                assert_eq!(m.conversation, "120363027714950001-group");
                assert_eq!(m.text.as_deref(), Some("bom dia, grupo"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn presence_becomes_typing() {
        let c = cfg();
        for (body, state) in [
            (fixture!("presence_composing"), Typing::Composing),
            (fixture!("presence_recording"), Typing::Recording),
            (fixture!("presence_paused"), Typing::Paused),
            (fixture!("presence_available"), Typing::Paused),
            (fixture!("presence_unavailable"), Typing::Paused),
        ] {
            assert_eq!(
                event(body, &c),
                Event::Typing {
                    account: "3C91F0A7B2D84E6C9A15E0D2B7F4A831".into(),
                    conversation: "5521912340001".into(),
                    state
                }
            );
        }
    }

    #[test]
    fn bad_input_names_the_problem() {
        let err = |body: &str| parse("p", body.as_bytes(), &cfg()).unwrap_err();
        assert!(matches!(err("<xml/>"), WebhookError::NotJson(_)));
        assert_eq!(err(r#"{"phone":"1"}"#).to_string(), "missing field type");
        let no_id = fixture!("text").replace("\"messageId\"", "\"messageID\"");
        assert_eq!(err(&no_id).to_string(), "missing field messageId");
        let no_phone = r#"{"type":"PresenceChatCallback","status":"COMPOSING"}"#;
        assert_eq!(err(no_phone).to_string(), "missing field phone");
        let bad_url = fixture!("image").replace(
            "\"imageUrl\": \"https://storage.example.net/zapi/3EB0C4D5E6F708192A3B.jpeg\"",
            "\"imageUrl\": 5",
        );
        assert_eq!(
            err(&bad_url).to_string(),
            "field image.imageUrl must be a string"
        );
    }

    #[test]
    fn instance_falls_back_to_config() {
        let body = r#"{"type":"PresenceChatCallback","phone":"55","status":"COMPOSING"}"#;
        match event(body, &cfg()) {
            Event::Typing { account, .. } => assert_eq!(account, cfg().instance_id),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn outbound_request_shape() {
        let mut c = cfg();
        let req = build_send(&c, "5521912340001", "Oi Marina!");
        assert_eq!(
            req.url,
            "https://api.z-api.io/instances/3C91F0A7B2D84E6C9A15E0D2B7F4A831/token/F00DBABE/send-text"
        );
        assert_eq!(req.header_value("Client-Token"), None);
        assert_eq!(
            req.body,
            json!({"phone": "5521912340001", "message": "Oi Marina!"})
        );
        c.client_token = Some("acct-sec".into());
        c.base_url = "http://127.0.0.1:7001".into();
        let req = build_send(&c, "1", "x");
        assert_eq!(req.header_value("client-token"), Some("acct-sec"));
        assert!(req.url.starts_with("http://127.0.0.1:7001/instances/"));
    }
}
