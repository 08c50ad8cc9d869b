//! An outbox message: the seeds' `{"app_id", "phone_number", "message_to_send"}`, sent by the
//! dispatcher or by any SQS client. `account` (optional, added by the dispatcher) is the
//! business account the conversation came in on.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub app_id: Option<String>,
    pub recipient: String,
    pub text: String,
    pub account: Option<String>,
}

impl OutboxMessage {
    /// Parses a body; the error says what is wrong, for the dead-letter reason.
    pub fn parse(body: &str) -> Result<OutboxMessage, String> {
        let v: Value =
            serde_json::from_str(body).map_err(|e| format!("outbox message is not JSON: {e}"))?;
        let Value::Object(o) = v else {
            return Err("outbox message must be a JSON object".into());
        };
        let text_field = |name: &str| -> Result<Option<String>, String> {
            match o.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                // Phone numbers are often written as numbers.
                Some(Value::Number(n)) if name != "message_to_send" => Ok(Some(n.to_string())),
                Some(_) => Err(format!("outbox message field {name} must be a string")),
            }
        };
        let recipient = text_field("phone_number")?
            .filter(|s| !s.trim().is_empty())
            .ok_or("outbox message needs phone_number")?;
        let text = text_field("message_to_send")?
            .filter(|s| !s.trim().is_empty())
            .ok_or("outbox message needs message_to_send")?;
        Ok(OutboxMessage {
            app_id: text_field("app_id")?,
            recipient,
            text,
            account: text_field("account")?.filter(|s| !s.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_format_parses() {
        let m = OutboxMessage::parse(
            r#"{"app_id": "patricia", "phone_number": "5511996534923", "message_to_send": "Olá, da AWS"}"#,
        )
        .unwrap();
        assert_eq!(m.app_id.as_deref(), Some("patricia"));
        assert_eq!(m.recipient, "5511996534923");
        assert_eq!(m.text, "Olá, da AWS");
        assert_eq!(m.account, None);
        let n = OutboxMessage::parse(
            r#"{"phone_number": 5511, "message_to_send": "x", "account": "9"}"#,
        )
        .unwrap();
        assert_eq!(
            (n.recipient.as_str(), n.account.as_deref()),
            ("5511", Some("9"))
        );
    }

    #[test]
    fn what_cannot_be_sent_says_why() {
        for (body, why) in [
            ("nope", "not JSON"),
            ("[1]", "JSON object"),
            (r#"{"message_to_send": "x"}"#, "needs phone_number"),
            (
                r#"{"phone_number": "1", "message_to_send": ""}"#,
                "needs message_to_send",
            ),
            (
                r#"{"phone_number": "1", "message_to_send": 5}"#,
                "must be a string",
            ),
            (
                r#"{"phone_number": ["1"], "message_to_send": "x"}"#,
                "must be a string",
            ),
        ] {
            let err = OutboxMessage::parse(body).unwrap_err();
            assert!(err.contains(why), "{body}: {err}");
        }
    }
}
