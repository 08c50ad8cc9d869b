//! Publish and PublishBatch.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use serde_json::{json, Value};

use super::{parse, Ctx};
use crate::engine::topics::{Publication, PublishResult};
use crate::engine::{AttributeValue, Attributes};
use crate::sns::error::SnsError;

/// Most bytes of messages one PublishBatch may carry together (SNS's limit).
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// A message attribute as the decoded form carries it (binary values in base64).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireAttribute {
    #[serde(default)]
    data_type: Option<String>,
    #[serde(default)]
    string_value: Option<String>,
    #[serde(default)]
    binary_value: Option<String>,
}

fn attributes_from_wire(raw: BTreeMap<String, WireAttribute>) -> Result<Attributes, SnsError> {
    use base64::Engine as _;
    let mut out = Attributes::new();
    for (name, a) in raw {
        let data_type = a.data_type.filter(|t| !t.is_empty()).ok_or_else(|| {
            SnsError::InvalidParameterValue(format!(
                "The message attribute '{name}' must contain non-empty message attribute type."
            ))
        })?;
        let binary_value = match a.binary_value {
            Some(b) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .map_err(|_| {
                        SnsError::InvalidParameterValue(format!(
                            "The message attribute '{name}' has an invalid binary value (not base64)."
                        ))
                    })?,
            ),
            None => None,
        };
        out.insert(
            name,
            AttributeValue {
                data_type,
                string_value: a.string_value,
                binary_value,
            },
        );
    }
    Ok(out)
}

/// The members of one message, common to Publish and a PublishBatch entry.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Message {
    message: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    message_structure: Option<String>,
    #[serde(default)]
    message_attributes: BTreeMap<String, WireAttribute>,
    #[serde(default)]
    message_deduplication_id: Option<String>,
    #[serde(default)]
    message_group_id: Option<String>,
}

impl Message {
    fn publication(self) -> Result<Publication, SnsError> {
        let message = self.message.ok_or_else(|| {
            SnsError::InvalidParameter(
                "Invalid parameter: Message Reason: no value for required parameter".into(),
            )
        })?;
        Ok(Publication {
            message,
            subject: self.subject,
            message_attributes: attributes_from_wire(self.message_attributes)?,
            group_id: self.message_group_id,
            dedup_id: self.message_deduplication_id,
            message_structure: self.message_structure,
        })
    }
}

fn result_json(r: PublishResult) -> Value {
    json!({ "MessageId": r.message_id, "SequenceNumber": r.sequence_number })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Publish {
    #[serde(default)]
    topic_arn: Option<String>,
    #[serde(default)]
    target_arn: Option<String>,
    #[serde(default)]
    phone_number: Option<String>,
    #[serde(flatten)]
    message: Message,
}

pub async fn publish(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: Publish = parse(input)?;
    if req.phone_number.is_some() {
        return Err(SnsError::InvalidParameter(
            "Invalid parameter: PhoneNumber Reason: SMS delivery is not supported".into(),
        ));
    }
    // TargetArn names a topic or a mobile endpoint; only topics exist here.
    let arn = match (req.topic_arn, req.target_arn) {
        (Some(t), None) | (None, Some(t)) => t,
        (Some(_), Some(_)) => return Err(SnsError::InvalidParameter(
            "Invalid parameter: TopicArn or TargetArn Reason: Only one of them may be specified"
                .into(),
        )),
        (None, None) => {
            return Err(SnsError::InvalidParameter(
                "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter"
                    .into(),
            ))
        }
    };
    let p = req.message.publication()?;
    Ok(result_json(ctx.engine.publish(&arn, p).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    #[serde(default)]
    id: String,
    #[serde(flatten)]
    message: Message,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PublishBatch {
    topic_arn: String,
    #[serde(default)]
    publish_batch_request_entries: Vec<Entry>,
}

/// Batch entry ids: 1–80 alphanumerics, hyphens and underscores, distinct, 1–10 entries.
fn check_batch(entries: &[Entry]) -> Result<(), SnsError> {
    match entries.len() {
        0 => return Err(SnsError::EmptyBatchRequest),
        n if n > 10 => return Err(SnsError::TooManyEntriesInBatchRequest(n)),
        _ => {}
    }
    let mut seen = HashSet::new();
    for e in entries {
        let id = e.id.as_str();
        let ok = !id.is_empty()
            && id.len() <= 80
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(SnsError::InvalidBatchEntryId);
        }
        if !seen.insert(id) {
            return Err(SnsError::BatchEntryIdsNotDistinct(id.to_string()));
        }
    }
    let total: usize = entries
        .iter()
        .map(|e| e.message.message.as_ref().map_or(0, String::len))
        .sum();
    if total > MAX_BATCH_BYTES {
        return Err(SnsError::BatchRequestTooLong(MAX_BATCH_BYTES));
    }
    Ok(())
}

pub async fn publish_batch(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: PublishBatch = parse(input)?;
    check_batch(&req.publish_batch_request_entries)?;
    // A missing topic fails the whole request, not each entry.
    ctx.engine.get_topic(&req.topic_arn).await?;
    let (mut successful, mut failed) = (Vec::new(), Vec::new());
    for entry in req.publish_batch_request_entries {
        let outcome = match entry.message.publication() {
            Ok(p) => ctx
                .engine
                .publish(&req.topic_arn, p)
                .await
                .map_err(SnsError::from),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(r) => {
                let mut row = result_json(r);
                row["Id"] = json!(entry.id);
                successful.push(row);
            }
            Err(e) => {
                let w = e.wire();
                failed.push(json!({
                    "Id": entry.id,
                    "Code": w.code,
                    "Message": w.message,
                    "SenderFault": w.sender_fault,
                }));
            }
        }
    }
    Ok(json!({ "Successful": successful, "Failed": failed }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(ids: &[&str]) -> Vec<Entry> {
        ids.iter()
            .map(|id| serde_json::from_value(json!({"Id": id, "Message": "m"})).unwrap())
            .collect()
    }

    #[test]
    fn batch_ids_follow_the_rules() {
        assert!(check_batch(&entries(&["a", "b-1", "C_2"])).is_ok());
        assert!(matches!(
            check_batch(&entries(&[])),
            Err(SnsError::EmptyBatchRequest)
        ));
        let eleven: Vec<String> = (0..11).map(|i| format!("e{i}")).collect();
        let eleven: Vec<&str> = eleven.iter().map(String::as_str).collect();
        assert!(matches!(
            check_batch(&entries(&eleven)),
            Err(SnsError::TooManyEntriesInBatchRequest(11))
        ));
        assert!(matches!(
            check_batch(&entries(&["a", "a"])),
            Err(SnsError::BatchEntryIdsNotDistinct(_))
        ));
        assert!(matches!(
            check_batch(&entries(&["a b"])),
            Err(SnsError::InvalidBatchEntryId)
        ));
        assert!(matches!(
            check_batch(&entries(&[""])),
            Err(SnsError::InvalidBatchEntryId)
        ));
    }

    #[test]
    fn binary_attributes_must_be_base64() {
        let raw: BTreeMap<String, WireAttribute> = serde_json::from_value(json!({
            "b": {"DataType": "Binary", "BinaryValue": "AAE="},
            "s": {"DataType": "String", "StringValue": "x"},
        }))
        .unwrap();
        let a = attributes_from_wire(raw).unwrap();
        assert_eq!(a["b"].binary_value.as_deref(), Some(&[0u8, 1][..]));
        assert_eq!(a["s"].string_value.as_deref(), Some("x"));
        let raw: BTreeMap<String, WireAttribute> =
            serde_json::from_value(json!({"b": {"DataType": "Binary", "BinaryValue": "@@"}}))
                .unwrap();
        assert!(matches!(
            attributes_from_wire(raw),
            Err(SnsError::InvalidParameterValue(_))
        ));
    }
}
