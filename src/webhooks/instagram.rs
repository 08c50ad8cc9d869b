//! Instagram Messaging: `entry[].messaging[]` webhooks (same handshake and signature as
//! WhatsApp Cloud API), and sending through `/{account}/messages`.

use serde::Deserialize;
use serde_json::json;

use super::error::WebhookError;
use super::fields::{epoch_to_ms, parse_body, Node};
use super::inbound::{
    ignored, text_or_caption, Event, InboundMessage, MediaRef, Part, PartKind, Platform,
};
use super::outbound::{join_url, OutboundRequest};
use super::signature;

pub const DEFAULT_BASE_URL: &str = "https://graph.instagram.com";
pub const DEFAULT_API_VERSION: &str = "v21.0";

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InstagramConfig {
    pub access_token: String,
    /// When set, every webhook must carry a valid `X-Hub-Signature-256`.
    #[serde(default)]
    pub app_secret: Option<String>,
    /// The token answered in the `GET` subscription handshake.
    #[serde(default)]
    pub verify_token: Option<String>,
    /// The account replies are sent from; `me` is the token's own account.
    #[serde(default = "default_account")]
    pub account_id: String,
    #[serde(default = "default_base_url")]
    pub base_url: String,
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// A complete send URL, replacing the one built from `base_url`.
    #[serde(default)]
    pub send_url: Option<String>,
}

fn default_account() -> String {
    "me".to_owned()
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

fn default_api_version() -> String {
    DEFAULT_API_VERSION.to_owned()
}

impl InstagramConfig {
    pub fn new(access_token: &str) -> InstagramConfig {
        InstagramConfig {
            access_token: access_token.to_owned(),
            app_secret: None,
            verify_token: None,
            account_id: default_account(),
            base_url: default_base_url(),
            api_version: default_api_version(),
            send_url: None,
        }
    }
}

/// Checks `X-Hub-Signature-256` against the raw body with the app secret.
pub fn verify_signature(
    app_secret: &str,
    header: Option<&str>,
    body: &[u8],
) -> Result<(), WebhookError> {
    signature::verify_hub_signature(app_secret, header, body)
}

/// One event per `messaging` item, in order; other fields (comments, mentions) are ignored.
pub fn parse(app: &str, body: &[u8], _cfg: &InstagramConfig) -> Result<Vec<Event>, WebhookError> {
    let doc = parse_body(body)?;
    let root = Node::root(&doc);
    let object = root.req("object")?.str()?;
    if object != "instagram" {
        return Err(WebhookError::Unexpected(format!(
            "object must be \"instagram\", got {object:?}"
        )));
    }
    let mut events = Vec::new();
    for entry in root.req("entry")?.items()? {
        let account = entry.req("id")?.id()?;
        let Some(messaging) = entry.get("messaging") else {
            events.push(Event::Ignored(ignored::NOT_A_MESSAGE));
            continue;
        };
        for item in messaging.items()? {
            events.push(parse_item(app, &account, &item)?);
        }
    }
    Ok(events)
}

fn parse_item(app: &str, account: &str, item: &Node<'_>) -> Result<Event, WebhookError> {
    let (message_id, text, parts) = if let Some(message) = item.get("message") {
        if message.flag("is_echo") {
            return Ok(Event::Ignored(ignored::FROM_ME));
        }
        if message.flag("is_deleted") {
            return Ok(Event::Ignored(ignored::DELETED));
        }
        let mut parts = Vec::new();
        if let Some(attachments) = message.get("attachments") {
            for attachment in attachments.items()? {
                parts.push(attachment_part(&attachment)?);
            }
        }
        (message.req("mid")?.id()?, message.opt_str("text"), parts)
    } else if let Some(postback) = item.get("postback") {
        // A tapped button: its title is what the person chose.
        (
            postback.req("mid")?.id()?,
            postback.opt_str("title"),
            Vec::new(),
        )
    } else if item.get("read").is_some() {
        return Ok(Event::Ignored(ignored::READ));
    } else if item.get("reaction").is_some() {
        return Ok(Event::Ignored(ignored::REACTION));
    } else {
        return Ok(Event::Ignored(ignored::NOT_A_MESSAGE));
    };
    let text = text_or_caption(text, &parts);
    if text.is_none() && parts.is_empty() {
        return Ok(Event::Ignored(ignored::UNSUPPORTED));
    }
    Ok(Event::Message(InboundMessage {
        app: app.to_owned(),
        platform: Platform::Instagram,
        account: account.to_owned(),
        conversation: item.req("sender")?.req("id")?.id()?,
        message_id,
        sender_name: None,
        text,
        parts,
        timestamp_ms: epoch_to_ms(item.req("timestamp")?.u64()?),
        raw: item.value().clone(),
    }))
}

fn attachment_part(attachment: &Node<'_>) -> Result<Part, WebhookError> {
    let kind_name = attachment.req("type")?.str()?;
    let kind = match kind_name {
        "image" => PartKind::Image,
        "video" => PartKind::Video,
        "audio" => PartKind::Audio,
        "file" => PartKind::Document,
        "sticker" | "animated_image" => PartKind::Sticker,
        _ => PartKind::Other,
    };
    let mut part = Part::new(kind, kind_name);
    if let Some(payload) = attachment.get("payload") {
        part.media = payload.opt_str("url").map(MediaRef::Url);
        part.name = payload.opt_str("title");
    }
    Ok(part)
}

/// `POST {base}/{version}/{account}/messages` with a bearer token.
pub fn build_send(cfg: &InstagramConfig, recipient: &str, text: &str) -> OutboundRequest {
    let url = cfg.send_url.clone().unwrap_or_else(|| {
        join_url(
            &cfg.base_url,
            &[&cfg.api_version, &cfg.account_id, "messages"],
        )
    });
    OutboundRequest::post_json(
        url,
        json!({ "recipient": { "id": recipient }, "message": { "text": text } }),
    )
    .header("Authorization", &format!("Bearer {}", cfg.access_token))
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(
                "../../tests/fixtures/webhooks/instagram/",
                $name,
                ".json"
            ))
        };
    }

    fn cfg() -> InstagramConfig {
        InstagramConfig::new("IGQ-token")
    }

    fn events(body: &str) -> Vec<Event> {
        parse("ig", body.as_bytes(), &cfg()).unwrap()
    }

    fn message(event: &Event) -> &InboundMessage {
        match event {
            Event::Message(m) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[test]
    fn text_message() {
        let events = events(fixture!("text"));
        assert_eq!(events.len(), 1);
        let m = message(&events[0]);
        assert_eq!(m.platform, Platform::Instagram);
        assert_eq!(m.account, "17841400123456789");
        assert_eq!(m.conversation, "6291735548201934");
        assert!(m.message_id.starts_with("aWdfZAG1"));
        assert_eq!(m.text.as_deref(), Some("vocês entregam em Curitiba?"));
        assert_eq!(m.timestamp_ms, 1_718_034_000_301);
        assert_eq!(m.raw["sender"]["id"], "6291735548201934");
    }

    #[test]
    fn attachments() {
        let events = events(fixture!("image"));
        let m = message(&events[0]);
        assert_eq!(m.text, None);
        assert_eq!(m.parts.len(), 2);
        assert_eq!(m.parts[0].kind, PartKind::Image);
        assert!(
            matches!(&m.parts[0].media, Some(MediaRef::Url(u)) if u.contains("18000000000000001"))
        );
        assert_eq!(m.parts[1].kind, PartKind::Other);
        assert_eq!(m.parts[1].platform_type, "ig_reel");
        assert_eq!(m.parts[1].name.as_deref(), Some("Nossa coleção"));
    }

    #[test]
    fn echoes_reads_and_reactions_are_ignored_in_a_batch() {
        assert_eq!(
            events(fixture!("echo")),
            vec![Event::Ignored(ignored::FROM_ME)]
        );
        let events = events(fixture!("batch"));
        assert_eq!(events.len(), 4);
        assert_eq!(message(&events[0]).text.as_deref(), Some("e o frete?"));
        assert_eq!(events[1], Event::Ignored(ignored::READ));
        assert_eq!(events[2], Event::Ignored(ignored::REACTION));
        let other = message(&events[3]);
        assert_eq!(other.account, "17841400999999999");
        assert_eq!(other.text.as_deref(), Some("outra conta"));
    }

    #[test]
    fn bad_input_names_the_problem() {
        let err = |body: &str| parse("ig", body.as_bytes(), &cfg()).unwrap_err();
        assert!(matches!(err("{"), WebhookError::NotJson(_)));
        assert_eq!(
            err(r#"{"object":"page","entry":[]}"#).to_string(),
            "object must be \"instagram\", got \"page\""
        );
        assert_eq!(
            err(r#"{"object":"instagram","entry":[{"messaging":[]}]}"#).to_string(),
            "missing field entry[0].id"
        );
        let no_sender = fixture!("text").replace("\"sender\"", "\"from\"");
        assert_eq!(
            err(&no_sender).to_string(),
            "missing field entry[0].messaging[0].sender"
        );
    }

    #[test]
    fn signature_pass_and_fail() {
        let body = fixture!("text").as_bytes();
        let header = signature::hub_signature("ig-secret", body);
        assert!(verify_signature("ig-secret", Some(&header), body).is_ok());
        assert!(verify_signature("other-secret", Some(&header), body).is_err());
        assert!(verify_signature("ig-secret", None, body).is_err());
    }

    #[test]
    fn outbound_request_shape() {
        let req = build_send(&cfg(), "6291735548201934", "Entregamos sim!");
        assert_eq!(req.url, "https://graph.instagram.com/v21.0/me/messages");
        assert_eq!(req.header_value("Authorization"), Some("Bearer IGQ-token"));
        assert_eq!(
            req.body,
            json!({"recipient": {"id": "6291735548201934"}, "message": {"text": "Entregamos sim!"}})
        );
    }
}
