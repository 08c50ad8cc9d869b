//! Any JSON source: the fields of a message are picked by JSON pointers (RFC 6901) from
//! config, and replies are a POST of `{"to","text"}` to a configured URL.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::error::WebhookError;
use super::fields::{epoch_to_ms, parse_body};
use super::inbound::{ignored, Event, InboundMessage, Platform};
use super::outbound::OutboundRequest;
use super::signature;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GenericConfig {
    /// Points at an array of messages; without it the whole body is one message. The other
    /// pointers are then relative to each element.
    #[serde(default)]
    pub items: Option<String>,
    /// Required: who sent it (and who the reply goes to).
    pub conversation: String,
    /// Without it, a message's id is the SHA-256 of its JSON, so a redelivery is still
    /// recognised.
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    /// Epoch seconds or milliseconds, as a number or a string.
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub sender_name: Option<String>,
    /// The receiving account, when one source serves several; otherwise the app's name.
    #[serde(default)]
    pub account: Option<String>,
    /// A boolean that marks the source's own outgoing messages, which are ignored.
    #[serde(default)]
    pub from_me: Option<String>,
    /// Where replies are posted.
    #[serde(default)]
    pub send_url: Option<String>,
    /// Extra headers on every reply (an API key, say).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A header every webhook must carry with the value `token`.
    #[serde(default)]
    pub token_header: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
}

impl GenericConfig {
    pub fn new(conversation: &str) -> GenericConfig {
        GenericConfig {
            items: None,
            conversation: conversation.to_owned(),
            message_id: None,
            text: None,
            timestamp: None,
            sender_name: None,
            account: None,
            from_me: None,
            send_url: None,
            headers: BTreeMap::new(),
            token_header: None,
            token: None,
        }
    }

    /// Every configured pointer must be a JSON pointer (empty, or starting with `/`), and a
    /// token header needs a token. The message names the offending key.
    pub fn validate(&self) -> Result<(), String> {
        let pointers = [
            ("items", self.items.as_deref()),
            ("conversation", Some(self.conversation.as_str())),
            ("message_id", self.message_id.as_deref()),
            ("text", self.text.as_deref()),
            ("timestamp", self.timestamp.as_deref()),
            ("sender_name", self.sender_name.as_deref()),
            ("account", self.account.as_deref()),
            ("from_me", self.from_me.as_deref()),
        ];
        for (key, pointer) in pointers {
            if let Some(p) = pointer {
                if !p.is_empty() && !p.starts_with('/') {
                    return Err(format!(
                        "{key}: expected a JSON pointer such as \"/message/text\", got {p:?}"
                    ));
                }
            }
        }
        if self.token_header.is_some() != self.token.is_some() {
            return Err("token_header and token must be given together".to_owned());
        }
        Ok(())
    }
}

/// Checks the configured token header, when there is one.
pub fn verify_token(cfg: &GenericConfig, got: Option<&str>) -> Result<(), WebhookError> {
    match (&cfg.token_header, &cfg.token) {
        (Some(header), Some(token)) => signature::verify_token_header(header, token, got),
        _ => Ok(()),
    }
}

pub fn parse(app: &str, body: &[u8], cfg: &GenericConfig) -> Result<Vec<Event>, WebhookError> {
    let doc = parse_body(body)?;
    let Some(items_ptr) = &cfg.items else {
        return Ok(vec![item(app, cfg, &doc, "")?]);
    };
    let items = doc
        .pointer(items_ptr)
        .ok_or_else(|| WebhookError::MissingField(items_ptr.clone()))?
        .as_array()
        .ok_or_else(|| WebhookError::WrongType {
            field: items_ptr.clone(),
            expected: "an array",
        })?;
    items
        .iter()
        .enumerate()
        .map(|(i, v)| item(app, cfg, v, &format!("{items_ptr}/{i}")))
        .collect()
}

/// One message; `at` is the element's own pointer, so errors name the full location.
fn item(app: &str, cfg: &GenericConfig, v: &Value, at: &str) -> Result<Event, WebhookError> {
    let lookup = |ptr: &Option<String>| {
        ptr.as_ref()
            .and_then(|p| v.pointer(p).filter(|x| !x.is_null()))
    };
    let wrong = |ptr: &str, expected| WebhookError::WrongType {
        field: format!("{at}{ptr}"),
        expected,
    };
    if let (Some(ptr), Some(flag)) = (&cfg.from_me, lookup(&cfg.from_me)) {
        if flag.as_bool().ok_or_else(|| wrong(ptr, "a boolean"))? {
            return Ok(Event::Ignored(ignored::FROM_ME));
        }
    }
    let id_at = |ptr: &String, value: &Value| match value {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        _ => Err(wrong(ptr, "a non-empty string or an integer")),
    };
    let conversation = match v.pointer(&cfg.conversation).filter(|x| !x.is_null()) {
        Some(value) => id_at(&cfg.conversation, value)?,
        None => {
            return Err(WebhookError::MissingField(format!(
                "{at}{}",
                cfg.conversation
            )))
        }
    };
    let message_id = match (&cfg.message_id, lookup(&cfg.message_id)) {
        (Some(ptr), Some(value)) => id_at(ptr, value)?,
        (Some(ptr), None) => return Err(WebhookError::MissingField(format!("{at}{ptr}"))),
        // serde_json keeps object keys sorted, so the same JSON always hashes the same.
        (None, _) => hex::encode(Sha256::digest(v.to_string().as_bytes())),
    };
    let text = match (&cfg.text, lookup(&cfg.text)) {
        (Some(ptr), Some(value)) => Some(
            value
                .as_str()
                .ok_or_else(|| wrong(ptr, "a string"))?
                .to_owned(),
        ),
        _ => None,
    };
    let timestamp_ms = match (&cfg.timestamp, lookup(&cfg.timestamp)) {
        (Some(ptr), Some(value)) => {
            let n = match value {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            epoch_to_ms(n.ok_or_else(|| wrong(ptr, "epoch seconds or milliseconds"))?)
        }
        _ => 0,
    };
    let string_at = |ptr: &Option<String>| lookup(ptr).and_then(Value::as_str).map(str::to_owned);
    Ok(Event::Message(InboundMessage {
        app: app.to_owned(),
        platform: Platform::Generic,
        account: string_at(&cfg.account).unwrap_or_else(|| app.to_owned()),
        conversation,
        message_id,
        sender_name: string_at(&cfg.sender_name),
        text,
        parts: Vec::new(),
        timestamp_ms,
        raw: v.clone(),
    }))
}

/// `POST {send_url}` with `{"to","text"}` and the configured headers.
pub fn build_send(cfg: &GenericConfig, recipient: &str, text: &str) -> OutboundRequest {
    let url = cfg.send_url.clone().unwrap_or_default();
    cfg.headers.iter().fold(
        OutboundRequest::post_json(url, json!({ "to": recipient, "text": text })),
        |req, (name, value)| req.header(name, value),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &str = include_str!("../../tests/fixtures/webhooks/generic/message.json");
    const BATCH: &str = include_str!("../../tests/fixtures/webhooks/generic/batch.json");

    fn single() -> GenericConfig {
        GenericConfig {
            message_id: Some("/data/id".into()),
            text: Some("/data/body".into()),
            timestamp: Some("/data/sent_at".into()),
            sender_name: Some("/data/from/name".into()),
            ..GenericConfig::new("/data/from/id")
        }
    }

    fn batch() -> GenericConfig {
        GenericConfig {
            items: Some("/messages".into()),
            message_id: Some("/id".into()),
            text: Some("/body".into()),
            timestamp: Some("/sent_at".into()),
            sender_name: Some("/from/name".into()),
            from_me: Some("/outgoing".into()),
            account: Some("/channel".into()),
            ..GenericConfig::new("/from/id")
        }
    }

    fn message(event: &Event) -> &InboundMessage {
        match event {
            Event::Message(m) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[test]
    fn fields_are_picked_by_pointer() {
        let events = parse("site", MESSAGE.as_bytes(), &single()).unwrap();
        let m = message(&events[0]);
        assert_eq!(m.platform, Platform::Generic);
        assert_eq!(m.account, "site");
        assert_eq!(m.conversation, "visitor-5821");
        assert_eq!(m.message_id, "msg_01HZX4K2P9Q8R7S6T5V4W3Y2Z1");
        assert_eq!(m.sender_name.as_deref(), Some("Ana Beatriz"));
        assert_eq!(m.text.as_deref(), Some("quero saber do plano anual"));
        assert_eq!(m.timestamp_ms, 1_718_035_000_000);
        assert_eq!(m.raw["channel"], "site-chat");
    }

    #[test]
    fn items_pointer_splits_a_batch_and_skips_own_messages() {
        let events = parse("site", BATCH.as_bytes(), &batch()).unwrap();
        assert_eq!(events.len(), 3);
        let first = message(&events[0]);
        assert_eq!(first.message_id, "901");
        assert_eq!(first.timestamp_ms, 1_718_035_100_123);
        // The account pointer is relative to each item; absent there, the app name stands in.
        assert_eq!(first.account, "site");
        assert_eq!(message(&events[1]).text.as_deref(), Some("alguém aí?"));
        assert_eq!(events[2], Event::Ignored(ignored::FROM_ME));
    }

    #[test]
    fn missing_id_pointer_hashes_the_message() {
        let cfg = GenericConfig {
            text: Some("/data/body".into()),
            ..GenericConfig::new("/data/from/id")
        };
        let a = parse("site", MESSAGE.as_bytes(), &cfg).unwrap();
        // The same JSON, formatted differently, is the same message.
        let compact =
            serde_json::to_string(&serde_json::from_str::<Value>(MESSAGE).unwrap()).unwrap();
        let b = parse("site", compact.as_bytes(), &cfg).unwrap();
        assert_eq!(message(&a[0]).message_id, message(&b[0]).message_id);
        assert_eq!(message(&a[0]).message_id.len(), 64);
        assert_eq!(message(&a[0]).timestamp_ms, 0);
    }

    #[test]
    fn bad_input_names_the_pointer() {
        let err = |body: &str, cfg: &GenericConfig| parse("s", body.as_bytes(), cfg).unwrap_err();
        assert!(matches!(err("nope", &single()), WebhookError::NotJson(_)));
        assert_eq!(
            err(r#"{"data":{"id":"1"}}"#, &single()).to_string(),
            "missing field /data/from/id"
        );
        assert_eq!(
            err(
                r#"{"data":{"from":{"id":"v"},"id":"1","body":7}}"#,
                &single()
            )
            .to_string(),
            "field /data/body must be a string"
        );
        assert_eq!(
            err(
                r#"{"messages":[{"from":{"id":"v"},"id":1},{"id":2}]}"#,
                &batch()
            )
            .to_string(),
            "missing field /messages/1/from/id"
        );
        assert_eq!(
            err(r#"{"messages":{}}"#, &batch()).to_string(),
            "field /messages must be an array"
        );
        assert_eq!(
            err(
                r#"{"data":{"from":{"id":"v"},"id":"1","sent_at":"today"}}"#,
                &single()
            )
            .to_string(),
            "field /data/sent_at must be epoch seconds or milliseconds"
        );
    }

    #[test]
    fn config_validation() {
        assert!(single().validate().is_ok());
        let bad = GenericConfig {
            text: Some("data.body".into()),
            ..single()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .starts_with("text: expected a JSON pointer"));
        let half = GenericConfig {
            token_header: Some("X-Token".into()),
            ..single()
        };
        assert!(half.validate().is_err());
    }

    #[test]
    fn token_pass_and_fail() {
        let cfg = GenericConfig {
            token_header: Some("X-Webhook-Token".into()),
            token: Some("t0k".into()),
            ..single()
        };
        assert!(verify_token(&cfg, Some("t0k")).is_ok());
        assert_eq!(
            verify_token(&cfg, Some("t0K")),
            Err(WebhookError::BadSignature("X-Webhook-Token".into()))
        );
        assert_eq!(verify_token(&cfg, None).unwrap_err().status(), 401);
        assert!(verify_token(&single(), None).is_ok());
    }

    #[test]
    fn outbound_request_shape() {
        let mut cfg = single();
        cfg.send_url = Some("http://127.0.0.1:8088/reply".into());
        cfg.headers.insert("X-Api-Key".into(), "k".into());
        let req = build_send(&cfg, "visitor-5821", "Olá Ana!");
        assert_eq!(req.method, http::Method::POST);
        assert_eq!(req.url, "http://127.0.0.1:8088/reply");
        assert_eq!(req.header_value("x-api-key"), Some("k"));
        assert_eq!(req.body, json!({"to": "visitor-5821", "text": "Olá Ana!"}));
    }
}
