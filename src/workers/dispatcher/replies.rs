//! A handler's answer read as replies, and each reply as the outbound message the seeds send
//! through SQS: `{"app_id", "phone_number", "message_to_send"}` (plus the business `account`
//! the conversation came in on, so the reply leaves from the same number).

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::engine::debounce::ConversationKey;
use crate::engine::SendRequest;

/// The replies in a handler's answer: `{"reply": "..."}`, `{"reply": ["...", ...]}`, a bare
/// list of strings or a bare JSON string. An empty body, `{}`, `{"reply": null}` or an answer
/// that is not JSON mean no reply. Empty strings are skipped.
pub fn parse_replies(body: &[u8]) -> Result<Vec<String>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Ok(Vec::new());
    };
    let list = match v {
        Value::Object(mut o) => match o.remove("reply") {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(r) => r,
        },
        other => other,
    };
    let texts = match list {
        Value::String(s) => vec![s],
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Ok(s),
                other => Err(format!("a reply must be a string, got {other}")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Value::Object(_) | Value::Bool(_) | Value::Number(_) | Value::Null => {
            return Err("\"reply\" must be a string or a list of strings".into())
        }
    };
    Ok(texts.into_iter().filter(|t| !t.trim().is_empty()).collect())
}

/// The outbox group of a recipient: the recipient itself when it is a valid SQS group id,
/// else a hash of it (so one recipient's replies still keep their order).
pub fn recipient_group(recipient: &str) -> String {
    let valid = !recipient.is_empty()
        && recipient.len() <= 128
        && recipient
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation());
    if valid {
        recipient.to_owned()
    } else {
        format!("h:{}", hex::encode(Sha256::digest(recipient.as_bytes())))
    }
}

/// The outbox messages for a handler's replies to the conversation `key`. The deduplication
/// ids come from the inbox message id and the reply's place, so a batch handled twice (the
/// handler answered but lull stopped before deleting it) does not send its replies twice.
pub fn outbox_messages(
    key: &ConversationKey,
    inbox_message_id: &str,
    replies: &[String],
    sender_id: &str,
) -> Vec<SendRequest> {
    replies
        .iter()
        .enumerate()
        .map(|(i, text)| SendRequest {
            body: json!({
                "app_id": key.app,
                "phone_number": key.conversation,
                "message_to_send": text,
                "account": key.account,
            })
            .to_string(),
            group_id: Some(recipient_group(&key.conversation)),
            dedup_id: Some(hex::encode(Sha256::digest(
                format!("{inbox_message_id}:{i}").as_bytes(),
            ))),
            sender_id: sender_id.to_owned(),
            ..SendRequest::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reply_shape_is_read() {
        let p = |s: &str| parse_replies(s.as_bytes());
        assert_eq!(p(r#"{"reply": "oi"}"#).unwrap(), vec!["oi"]);
        assert_eq!(p(r#"{"reply": ["a", "", "b"]}"#).unwrap(), vec!["a", "b"]);
        assert_eq!(p(r#"["x", "y"]"#).unwrap(), vec!["x", "y"]);
        assert_eq!(p(r#""z""#).unwrap(), vec!["z"]);
        for none in [
            "",
            "  \n",
            "{}",
            r#"{"reply": null}"#,
            "ok",
            r#"{"status": "done"}"#,
        ] {
            assert!(p(none).unwrap().is_empty(), "{none:?}");
        }
        assert!(p(r#"{"reply": 5}"#).is_err());
        assert!(p(r#"{"reply": ["a", {"b": 1}]}"#).is_err());
    }

    #[test]
    fn outbox_messages_use_the_seed_format_and_stable_ids() {
        let key = ConversationKey::new("patricia", "5511000", "5511999");
        let replies = vec!["um".to_owned(), "dois".to_owned()];
        let msgs = outbox_messages(&key, "m-1", &replies, "acct");
        assert_eq!(msgs.len(), 2);
        let body: Value = serde_json::from_str(&msgs[0].body).unwrap();
        assert_eq!(
            body,
            json!({"app_id": "patricia", "phone_number": "5511999", "message_to_send": "um", "account": "5511000"})
        );
        assert_eq!(msgs[0].group_id.as_deref(), Some("5511999"));
        assert_ne!(msgs[0].dedup_id, msgs[1].dedup_id);
        let again = outbox_messages(&key, "m-1", &replies, "acct");
        assert_eq!(msgs[1].dedup_id, again[1].dedup_id);
        let other = outbox_messages(&key, "m-2", &replies, "acct");
        assert_ne!(msgs[0].dedup_id, other[0].dedup_id);
    }

    #[test]
    fn recipients_that_are_not_group_ids_are_hashed() {
        assert_eq!(
            recipient_group("5511@s.whatsapp.net"),
            "5511@s.whatsapp.net"
        );
        let g = recipient_group("José");
        assert!(g.starts_with("h:") && g.len() <= 128);
        assert!(recipient_group("").starts_with("h:"));
    }
}
