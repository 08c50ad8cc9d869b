//! WhatsApp Cloud API: `entry[].changes[].value` webhooks, the `GET` subscription handshake,
//! `X-Hub-Signature-256`, and sending through `/{phone-number-id}/messages`.

use serde::Deserialize;
use serde_json::json;

use super::error::WebhookError;
use super::fields::{epoch_to_ms, parse_body, Node};
use super::inbound::{
    ignored, text_or_caption, Event, InboundMessage, MediaRef, Part, PartKind, Platform,
};
use super::outbound::{join_url, OutboundRequest};
use super::signature;

pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_API_VERSION: &str = "v21.0";

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WhatsAppConfig {
    /// The business number replies are sent from.
    pub phone_number_id: String,
    pub access_token: String,
    /// When set, every webhook must carry a valid `X-Hub-Signature-256`.
    #[serde(default)]
    pub app_secret: Option<String>,
    /// The token typed into Meta's webhook settings, answered in the `GET` handshake.
    #[serde(default)]
    pub verify_token: Option<String>,
    #[serde(default = "default_base_url")]
    pub base_url: String,
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// A complete send URL, replacing the one built from `base_url`.
    #[serde(default)]
    pub send_url: Option<String>,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

fn default_api_version() -> String {
    DEFAULT_API_VERSION.to_owned()
}

impl WhatsAppConfig {
    pub fn new(phone_number_id: &str, access_token: &str) -> WhatsAppConfig {
        WhatsAppConfig {
            phone_number_id: phone_number_id.to_owned(),
            access_token: access_token.to_owned(),
            app_secret: None,
            verify_token: None,
            base_url: default_base_url(),
            api_version: default_api_version(),
            send_url: None,
        }
    }
}

/// The `GET` handshake Meta performs when a webhook URL is registered: answer the challenge
/// only when the mode is `subscribe` and the token is ours. An empty expected token never
/// matches, so a missing setting cannot be satisfied by an empty query.
pub fn verify_subscription(
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&str>,
    expected_token: &str,
) -> Option<String> {
    let (mode, token, challenge) = (mode?, token?, challenge?);
    if mode == "subscribe"
        && !expected_token.is_empty()
        && signature::constant_time_eq(token.as_bytes(), expected_token.as_bytes())
    {
        Some(challenge.to_owned())
    } else {
        None
    }
}

/// [`verify_subscription`] reading `hub.mode`, `hub.verify_token` and `hub.challenge` from a
/// raw query string.
pub fn verify_subscription_query(query: &str, expected_token: &str) -> Option<String> {
    let (mut mode, mut token, mut challenge) = (None, None, None);
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "hub.mode" => mode = Some(value.into_owned()),
            "hub.verify_token" => token = Some(value.into_owned()),
            "hub.challenge" => challenge = Some(value.into_owned()),
            _ => {}
        }
    }
    verify_subscription(
        mode.as_deref(),
        token.as_deref(),
        challenge.as_deref(),
        expected_token,
    )
}

/// Checks `X-Hub-Signature-256` against the raw body with the app secret.
pub fn verify_signature(
    app_secret: &str,
    header: Option<&str>,
    body: &[u8],
) -> Result<(), WebhookError> {
    signature::verify_hub_signature(app_secret, header, body)
}

/// One event per message and per status in the webhook, in order.
pub fn parse(app: &str, body: &[u8], _cfg: &WhatsAppConfig) -> Result<Vec<Event>, WebhookError> {
    let doc = parse_body(body)?;
    let root = Node::root(&doc);
    let object = root.req("object")?.str()?;
    if object != "whatsapp_business_account" {
        return Err(WebhookError::Unexpected(format!(
            "object must be \"whatsapp_business_account\", got {object:?}"
        )));
    }
    let mut events = Vec::new();
    for entry in root.req("entry")?.items()? {
        for change in entry.req("changes")?.items()? {
            if change.req("field")?.str()? != "messages" {
                events.push(Event::Ignored(ignored::NOT_A_MESSAGE));
                continue;
            }
            let value = change.req("value")?;
            let account = value.req("metadata")?.req("phone_number_id")?.id()?;
            if let Some(statuses) = value.get("statuses") {
                events.extend(
                    statuses
                        .items()?
                        .iter()
                        .map(|_| Event::Ignored(ignored::STATUS)),
                );
            }
            if let Some(messages) = value.get("messages") {
                for message in messages.items()? {
                    events.push(parse_message(app, &account, &value, &message)?);
                }
            }
        }
    }
    Ok(events)
}

fn parse_message(
    app: &str,
    account: &str,
    value: &Node<'_>,
    m: &Node<'_>,
) -> Result<Event, WebhookError> {
    let from = m.req("from")?.id()?;
    let message_id = m.req("id")?.id()?;
    let timestamp_ms = epoch_to_ms(m.req("timestamp")?.u64()?);
    let kind = m.req("type")?.str()?;
    let mut text = None;
    let mut parts = Vec::new();
    match kind {
        "text" => text = Some(m.req("text")?.req("body")?.str()?.to_owned()),
        "image" | "video" | "audio" | "document" | "sticker" => parts.push(media(m, kind)?),
        "location" => {
            let loc = m.req("location")?;
            let mut part = Part::new(PartKind::Location, kind);
            part.latitude = Some(loc.req("latitude")?.f64()?);
            part.longitude = Some(loc.req("longitude")?.f64()?);
            part.name = loc.opt_str("name").or_else(|| loc.opt_str("address"));
            parts.push(part);
        }
        "contacts" => {
            for contact in m.req("contacts")?.items()? {
                let mut part = Part::new(PartKind::Contact, kind);
                part.name = contact
                    .get("name")
                    .and_then(|n| n.opt_str("formatted_name"));
                part.phone = match contact.get("phones") {
                    Some(phones) => phones.items()?.first().and_then(|p| p.opt_str("phone")),
                    None => None,
                };
                parts.push(part);
            }
        }
        // A tapped reply button or list row: the title is what the person "said".
        "interactive" => {
            let interactive = m.req("interactive")?;
            let reply = interactive
                .get("button_reply")
                .or_else(|| interactive.get("list_reply"));
            match reply {
                Some(reply) => text = Some(reply.req("title")?.str()?.to_owned()),
                None => return Ok(Event::Ignored(ignored::UNSUPPORTED)),
            }
        }
        "button" => text = Some(m.req("button")?.req("text")?.str()?.to_owned()),
        "reaction" => return Ok(Event::Ignored(ignored::REACTION)),
        _ => return Ok(Event::Ignored(ignored::UNSUPPORTED)),
    }
    let text = text_or_caption(text, &parts);
    Ok(Event::Message(InboundMessage {
        app: app.to_owned(),
        platform: Platform::WhatsApp,
        account: account.to_owned(),
        sender_name: sender_name(value, &from)?,
        conversation: from,
        message_id,
        text,
        parts,
        timestamp_ms,
        raw: m.value().clone(),
    }))
}

fn media(m: &Node<'_>, kind: &str) -> Result<Part, WebhookError> {
    let obj = m.req(kind)?;
    let part_kind = match kind {
        "image" => PartKind::Image,
        "video" => PartKind::Video,
        "audio" => PartKind::Audio,
        "sticker" => PartKind::Sticker,
        _ => PartKind::Document,
    };
    // Voice notes arrive as audio flagged `voice`; keep the distinction for handlers.
    let platform_type = if kind == "audio" && obj.flag("voice") {
        "voice"
    } else {
        kind
    };
    let mut part = Part::new(part_kind, platform_type);
    part.media = Some(MediaRef::Id(obj.req("id")?.id()?));
    part.mime = obj.opt_str("mime_type");
    part.caption = obj.opt_str("caption");
    part.file_name = obj.opt_str("filename");
    Ok(part)
}

/// The profile name from `value.contacts`, matched by WhatsApp id.
fn sender_name(value: &Node<'_>, from: &str) -> Result<Option<String>, WebhookError> {
    let Some(contacts) = value.get("contacts") else {
        return Ok(None);
    };
    let contacts = contacts.items()?;
    let matching = contacts
        .iter()
        .find(|c| c.opt_str("wa_id").as_deref() == Some(from));
    Ok(matching
        .or(contacts.first())
        .and_then(|c| c.get("profile"))
        .and_then(|p| p.opt_str("name")))
}

/// `POST {base}/{version}/{phone_number_id}/messages` with a bearer token.
pub fn build_send(cfg: &WhatsAppConfig, recipient: &str, text: &str) -> OutboundRequest {
    let url = cfg.send_url.clone().unwrap_or_else(|| {
        join_url(
            &cfg.base_url,
            &[&cfg.api_version, &cfg.phone_number_id, "messages"],
        )
    });
    OutboundRequest::post_json(
        url,
        json!({
            "messaging_product": "whatsapp",
            "to": recipient,
            "type": "text",
            "text": { "body": text },
        }),
    )
    .header("Authorization", &format!("Bearer {}", cfg.access_token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::test_support;

    const TEXT: &str = include_str!("../../tests/fixtures/webhooks/whatsapp/text.json");
    const BATCH: &str = include_str!("../../tests/fixtures/webhooks/whatsapp/batch.json");
    const IMAGE: &str = include_str!("../../tests/fixtures/webhooks/whatsapp/image.json");
    const VOICE: &str = include_str!("../../tests/fixtures/webhooks/whatsapp/voice.json");
    const DOCUMENT: &str = include_str!("../../tests/fixtures/webhooks/whatsapp/document.json");
    const LOCATION: &str = include_str!("../../tests/fixtures/webhooks/whatsapp/location.json");
    const CONTACTS: &str = include_str!("../../tests/fixtures/webhooks/whatsapp/contacts.json");
    const BUTTON: &str = include_str!("../../tests/fixtures/webhooks/whatsapp/button_reply.json");
    const STATUS: &str = include_str!("../../tests/fixtures/webhooks/whatsapp/status.json");
    const REACTION: &str = include_str!("../../tests/fixtures/webhooks/whatsapp/reaction.json");

    fn cfg() -> WhatsAppConfig {
        WhatsAppConfig::new("118273645501928", "EAAG-token")
    }

    fn one(body: &str) -> InboundMessage {
        test_support::message(test_support::single(parse("shop", body.as_bytes(), &cfg())))
    }

    #[test]
    fn text_message() {
        let m = one(TEXT);
        assert_eq!(m.app, "shop");
        assert_eq!(m.platform, Platform::WhatsApp);
        assert_eq!(m.account, "118273645501928");
        assert_eq!(m.conversation, "5521987650001");
        assert_eq!(
            m.message_id,
            "wamid.HBgNNTUyMTk4NzY1MDAwMRUCABIYFjNFQjBGMkE3QzlEMDEyMzQ1Njc4OQA="
        );
        assert_eq!(m.sender_name.as_deref(), Some("Joana Prado"));
        assert_eq!(m.text.as_deref(), Some("oi"));
        assert!(m.parts.is_empty());
        assert_eq!(m.timestamp_ms, 1_718_030_405_000);
        assert_eq!(m.raw["text"]["body"], "oi");
    }

    #[test]
    fn batch_keeps_order_names_and_accounts() {
        let events = parse("shop", BATCH.as_bytes(), &cfg()).unwrap();
        let msgs: Vec<_> = events
            .into_iter()
            .map(|e| match e {
                Event::Message(m) => m,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[0].text.as_deref(), Some("tudo bem?"));
        assert_eq!(msgs[0].sender_name.as_deref(), Some("Joana Prado"));
        assert_eq!(msgs[1].conversation, "5531977770002");
        assert_eq!(msgs[1].sender_name.as_deref(), Some("Caio Mendes"));
        // Same person writing to the second business number: another account.
        assert_eq!(msgs[2].conversation, "5521987650001");
        assert_eq!(msgs[2].account, "118273645509999");
        assert_ne!(msgs[2].account, msgs[0].account);
    }

    #[test]
    fn media_messages() {
        let m = one(IMAGE);
        assert_eq!(m.text.as_deref(), Some("esse modelo aqui"));
        let p = &m.parts[0];
        assert_eq!(p.kind, PartKind::Image);
        assert_eq!(p.media, Some(MediaRef::Id("1029384756102938".into())));
        assert_eq!(p.mime.as_deref(), Some("image/jpeg"));
        assert_eq!(p.caption.as_deref(), Some("esse modelo aqui"));

        let m = one(VOICE);
        assert_eq!(m.text, None);
        assert_eq!(m.parts[0].kind, PartKind::Audio);
        assert_eq!(m.parts[0].platform_type, "voice");
        assert_eq!(m.parts[0].mime.as_deref(), Some("audio/ogg; codecs=opus"));

        let m = one(DOCUMENT);
        assert_eq!(m.parts[0].kind, PartKind::Document);
        assert_eq!(m.parts[0].file_name.as_deref(), Some("comprovante.pdf"));
        assert_eq!(
            m.parts[0].media,
            Some(MediaRef::Id("8877665544332211".into()))
        );
    }

    #[test]
    fn location_contacts_and_buttons() {
        let m = one(LOCATION);
        let p = &m.parts[0];
        assert_eq!(p.kind, PartKind::Location);
        assert_eq!((p.latitude, p.longitude), (Some(-22.9711), Some(-43.1822)));
        assert_eq!(p.name.as_deref(), Some("Copacabana"));

        let m = one(CONTACTS);
        assert_eq!(m.parts[0].kind, PartKind::Contact);
        assert_eq!(m.parts[0].name.as_deref(), Some("Rafael Lima"));
        assert_eq!(m.parts[0].phone.as_deref(), Some("+55 21 98888-0003"));

        let m = one(BUTTON);
        assert_eq!(m.text.as_deref(), Some("Plano básico"));
    }

    #[test]
    fn statuses_and_reactions_are_ignored() {
        assert_eq!(
            parse("shop", STATUS.as_bytes(), &cfg()).unwrap(),
            vec![
                Event::Ignored(ignored::STATUS),
                Event::Ignored(ignored::STATUS)
            ]
        );
        assert_eq!(
            parse("shop", REACTION.as_bytes(), &cfg()).unwrap(),
            vec![Event::Ignored(ignored::REACTION)]
        );
    }

    #[test]
    fn bad_input_names_the_problem() {
        let err = |body: &str| parse("shop", body.as_bytes(), &cfg()).unwrap_err();
        assert!(matches!(err("not json"), WebhookError::NotJson(_)));
        assert_eq!(err("{}").to_string(), "missing field object");
        assert_eq!(
            err(r#"{"object":"page","entry":[]}"#).to_string(),
            "object must be \"whatsapp_business_account\", got \"page\""
        );
        assert_eq!(
            err(r#"{"object":"whatsapp_business_account","entry":[{"id":"1"}]}"#).to_string(),
            "missing field entry[0].changes"
        );
        let no_metadata = r#"{"object":"whatsapp_business_account","entry":[{"changes":[
            {"field":"messages","value":{"messages":[]}}]}]}"#;
        assert_eq!(
            err(no_metadata).to_string(),
            "missing field entry[0].changes[0].value.metadata"
        );
        let bad_ts = TEXT.replace("\"1718030405\"", "\"yesterday\"");
        assert_eq!(
            err(&bad_ts).to_string(),
            "field entry[0].changes[0].value.messages[0].timestamp must be a non-negative integer"
        );
        assert_eq!(err("[]").status(), 400);
    }

    #[test]
    fn other_fields_are_ignored() {
        let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
            {"field":"account_update","value":{"event":"VERIFIED_ACCOUNT"}}]}]}"#;
        assert_eq!(
            parse("shop", body.as_bytes(), &cfg()).unwrap(),
            vec![Event::Ignored(ignored::NOT_A_MESSAGE)]
        );
    }

    #[test]
    fn signature_pass_and_fail() {
        let header = signature::hub_signature("app-secret", TEXT.as_bytes());
        assert!(verify_signature("app-secret", Some(&header), TEXT.as_bytes()).is_ok());
        let tampered = TEXT.replace("oi", "oi!");
        assert_eq!(
            verify_signature("app-secret", Some(&header), tampered.as_bytes()),
            Err(WebhookError::BadSignature("X-Hub-Signature-256".into()))
        );
        assert_eq!(
            verify_signature("app-secret", None, TEXT.as_bytes())
                .unwrap_err()
                .status(),
            401
        );
    }

    #[test]
    fn subscription_handshake() {
        let ok = verify_subscription(Some("subscribe"), Some("tok"), Some("1158201444"), "tok");
        assert_eq!(ok.as_deref(), Some("1158201444"));
        assert_eq!(
            verify_subscription(Some("subscribe"), Some("nope"), Some("1"), "tok"),
            None
        );
        assert_eq!(
            verify_subscription(Some("unsubscribe"), Some("tok"), Some("1"), "tok"),
            None
        );
        assert_eq!(
            verify_subscription(Some("subscribe"), Some(""), Some("1"), ""),
            None
        );
        assert_eq!(
            verify_subscription(None, Some("tok"), Some("1"), "tok"),
            None
        );
        assert_eq!(
            verify_subscription_query(
                "hub.mode=subscribe&hub.challenge=987%20654&hub.verify_token=my%20tok",
                "my tok"
            )
            .as_deref(),
            Some("987 654")
        );
        assert_eq!(verify_subscription_query("hub.mode=subscribe", "t"), None);
    }

    #[test]
    fn outbound_request_shape() {
        let req = build_send(&cfg(), "5521987650001", "Olá! O plano custa R$ 30.");
        assert_eq!(req.method, http::Method::POST);
        assert_eq!(
            req.url,
            "https://graph.facebook.com/v21.0/118273645501928/messages"
        );
        assert_eq!(req.header_value("authorization"), Some("Bearer EAAG-token"));
        assert_eq!(req.header_value("Content-Type"), Some("application/json"));
        assert_eq!(
            req.body,
            json!({"messaging_product": "whatsapp", "to": "5521987650001", "type": "text",
                   "text": {"body": "Olá! O plano custa R$ 30."}})
        );
        let mut local = cfg();
        local.base_url = "http://127.0.0.1:9911/".into();
        local.api_version = "v19.0".into();
        assert_eq!(
            build_send(&local, "1", "x").url,
            "http://127.0.0.1:9911/v19.0/118273645501928/messages"
        );
        local.send_url = Some("http://fake/send".into());
        assert_eq!(build_send(&local, "1", "x").url, "http://fake/send");
    }
}
