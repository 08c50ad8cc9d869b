//! SendMessage semantics: body and attribute validation, size limits, FIFO group and
//! deduplication rules, digests.

use sha2::{Digest, Sha256};

use super::digest::{md5_hex, md5_of_attributes};
use super::error::{EngineError, EngineResult};
use super::message::{Attributes, NewMessage, Sent};
use super::queue::{QueueKey, QueueRecord};
use super::Engine;

/// One message to send, as a client described it.
#[derive(Debug, Clone, Default)]
pub struct SendRequest {
    pub body: String,
    pub delay_seconds: Option<i64>,
    pub attributes: Attributes,
    pub system_attributes: Attributes,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    pub sender_id: String,
}

/// What the client is told about a sent message.
#[derive(Debug, Clone)]
pub struct SendResult {
    pub id: String,
    pub md5_body: String,
    pub md5_attributes: Option<String>,
    pub md5_system_attributes: Option<String>,
    /// FIFO queues only.
    pub sequence_number: Option<String>,
}

const MAX_ATTRIBUTES: usize = 10;

impl Engine {
    /// Sends a batch. Each entry succeeds or fails on its own; the valid ones are stored in one
    /// durable write.
    pub async fn send(
        &self,
        key: &QueueKey,
        requests: Vec<SendRequest>,
    ) -> EngineResult<Vec<EngineResult<SendResult>>> {
        let record = self.require_queue(key).await?;
        let mut results: Vec<Option<EngineResult<SendResult>>> = Vec::with_capacity(requests.len());
        let mut valid = Vec::new();
        for (i, r) in requests.into_iter().enumerate() {
            match prepare(&record, r) {
                Ok(m) => {
                    results.push(None);
                    valid.push((i, m));
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        if !valid.is_empty() {
            let delayed_only = valid.iter().all(|(_, m)| m.delay_ms > 0);
            let (slots, messages): (Vec<usize>, Vec<NewMessage>) = valid.into_iter().unzip();
            let digests: Vec<(String, Option<String>, Option<String>)> = messages
                .iter()
                .map(|m| {
                    (
                        m.md5_body.clone(),
                        m.md5_attributes.clone(),
                        m.md5_system_attributes.clone(),
                    )
                })
                .collect();
            let sent: Vec<Sent> = self
                .store()
                .send(key, messages, self.now_ms())
                .await?
                .ok_or(EngineError::QueueDoesNotExist)?;
            for ((slot, s), (md5_body, md5_attributes, md5_system_attributes)) in
                slots.into_iter().zip(sent).zip(digests)
            {
                results[slot] = Some(Ok(SendResult {
                    id: s.id,
                    md5_body,
                    md5_attributes,
                    md5_system_attributes,
                    sequence_number: record.is_fifo().then(|| format!("{:020}", s.seq)),
                }));
            }
            if !delayed_only {
                self.wake(key);
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(EngineError::InvalidParameterValue("unsent".into()))))
            .collect())
    }
}

fn prepare(queue: &QueueRecord, r: SendRequest) -> EngineResult<NewMessage> {
    let fifo = queue.is_fifo();
    if r.body.is_empty() {
        return Err(EngineError::MissingParameter("MessageBody".into()));
    }
    if let Some(bad) = r.body.chars().find(|c| !allowed_char(*c)) {
        return Err(EngineError::InvalidMessageContents(format!(
            "Invalid characters found. Deleted message body contains character U+{:04X} which is not allowed.",
            bad as u32
        )));
    }
    validate_attributes(&r.attributes)?;
    let size = r.body.len() + attributes_size(&r.attributes);
    let limit = queue.maximum_message_size() as usize;
    if size > limit {
        return Err(EngineError::InvalidParameterValue(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes."
        )));
    }
    let delay_ms = match r.delay_seconds {
        None => queue.delay_secs() * 1000,
        Some(_) if fifo => {
            return Err(EngineError::InvalidParameterValue(
                "Value for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.".into(),
            ))
        }
        Some(d @ 0..=900) => d as u64 * 1000,
        Some(d) => {
            return Err(EngineError::InvalidParameterValue(format!(
                "Value {d} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
            )))
        }
    };
    if let Some(g) = &r.group_id {
        validate_token("MessageGroupId", g)?;
    }
    if let Some(d) = &r.dedup_id {
        validate_token("MessageDeduplicationId", d)?;
    }
    let dedup_id = if fifo {
        if r.group_id.is_none() {
            return Err(EngineError::MissingParameter("MessageGroupId".into()));
        }
        match r.dedup_id {
            Some(d) => Some(d),
            None if queue.content_based_deduplication() => Some(hex::encode(Sha256::digest(r.body.as_bytes()))),
            None => {
                return Err(EngineError::InvalidParameterValue(
                    "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly".into(),
                ))
            }
        }
    } else {
        if r.dedup_id.is_some() {
            return Err(EngineError::InvalidParameterValue(
                "Value for parameter MessageDeduplicationId is invalid. Reason: The request includes a parameter that is not valid for this queue type.".into(),
            ));
        }
        None
    };
    Ok(NewMessage {
        id: uuid::Uuid::new_v4().to_string(),
        md5_body: md5_hex(r.body.as_bytes()),
        md5_attributes: md5_of_attributes(&r.attributes),
        md5_system_attributes: md5_of_attributes(&r.system_attributes),
        body: r.body,
        attributes: r.attributes,
        system_attributes: r.system_attributes,
        sender_id: r.sender_id,
        group_id: r.group_id,
        dedup_id,
        delay_ms,
    })
}

/// The characters SQS accepts in a body or attribute value.
fn allowed_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

fn validate_token(param: &str, v: &str) -> EngineResult<()> {
    let ok = !v.is_empty()
        && v.len() <= 128
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation());
    if ok {
        Ok(())
    } else {
        Err(EngineError::InvalidParameterValue(format!(
            "Value {v} for parameter {param} is invalid. Reason: It must be 1 to 128 alphanumeric or punctuation characters."
        )))
    }
}

fn attributes_size(a: &Attributes) -> usize {
    a.iter()
        .map(|(k, v)| {
            k.len()
                + v.data_type.len()
                + v.string_value.as_ref().map_or(0, String::len)
                + v.binary_value.as_ref().map_or(0, Vec::len)
        })
        .sum()
}

fn validate_attributes(a: &Attributes) -> EngineResult<()> {
    let invalid = |m: String| Err(EngineError::InvalidParameterValue(m));
    if a.len() > MAX_ATTRIBUTES {
        return invalid(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_ATTRIBUTES}].",
            a.len()
        ));
    }
    for (name, v) in a {
        let lower = name.to_ascii_lowercase();
        let name_ok = !name.is_empty()
            && name.len() <= 256
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !name.starts_with('.')
            && !name.ends_with('.')
            && !name.contains("..")
            && !lower.starts_with("aws.")
            && !lower.starts_with("amazon.");
        if !name_ok {
            return invalid(format!("Message attribute name '{name}' is invalid."));
        }
        let base = v.data_type.split('.').next().unwrap_or_default();
        match base {
            "String" | "Number" => {
                let Some(s) = v.string_value.as_deref() else {
                    return invalid(format!(
                        "Message attribute '{name}' must contain a non-empty message attribute value for message attribute type '{}'.",
                        v.data_type
                    ));
                };
                if s.is_empty() {
                    return invalid(format!("Message attribute '{name}' must contain a non-empty value."));
                }
                if s.chars().any(|c| !allowed_char(c)) {
                    return invalid(format!("Message attribute '{name}' contains invalid characters."));
                }
                if base == "Number" && !is_number(s) {
                    return invalid(format!("Could not cast message attribute '{name}' value to number."));
                }
            }
            "Binary" => {
                if v.binary_value.as_ref().is_none_or(Vec::is_empty) {
                    return invalid(format!(
                        "Message attribute '{name}' must contain a non-empty message attribute value for message attribute type 'Binary'."
                    ));
                }
            }
            _ => {
                return invalid(format!(
                    "The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
                ))
            }
        }
    }
    Ok(())
}

fn is_number(s: &str) -> bool {
    s.trim().parse::<f64>().is_ok_and(f64::is_finite)
}
