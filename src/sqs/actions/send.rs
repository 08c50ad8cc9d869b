//! SendMessage and SendMessageBatch.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{check_batch_ids, failed_entry, parse, Ctx};
use crate::engine::sending::SendResult;
use crate::engine::{AttributeValue, Attributes, SendRequest};
use crate::sqs::error::SqsError;

/// A message attribute as the JSON protocol carries it (binary values in base64).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireAttribute {
    data_type: Option<String>,
    #[serde(default)]
    string_value: Option<String>,
    #[serde(default)]
    binary_value: Option<String>,
}

pub fn attributes_from_wire(raw: BTreeMap<String, WireAttribute>) -> Result<Attributes, SqsError> {
    use base64::Engine as _;
    let mut out = Attributes::new();
    for (name, a) in raw {
        let data_type = a.data_type.filter(|t| !t.is_empty()).ok_or_else(|| {
            SqsError::InvalidParameterValue(format!(
                "The message attribute '{name}' must contain a non-empty message attribute type."
            ))
        })?;
        let binary_value = match a.binary_value {
            Some(b) => Some(base64::engine::general_purpose::STANDARD.decode(b.trim()).map_err(|_| {
                SqsError::InvalidParameterValue(format!("The message attribute '{name}' has an invalid binary value (not base64)."))
            })?),
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

pub fn attributes_to_wire(attrs: &Attributes) -> Value {
    use base64::Engine as _;
    let mut out = serde_json::Map::new();
    for (name, a) in attrs {
        let mut v = json!({ "DataType": a.data_type });
        if let Some(s) = &a.string_value {
            v["StringValue"] = json!(s);
        }
        if let Some(b) = &a.binary_value {
            v["BinaryValue"] = json!(base64::engine::general_purpose::STANDARD.encode(b));
        }
        out.insert(name.clone(), v);
    }
    Value::Object(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    #[serde(default)]
    id: String,
    message_body: Option<String>,
    #[serde(default)]
    delay_seconds: Option<i64>,
    #[serde(default)]
    message_attributes: BTreeMap<String, WireAttribute>,
    #[serde(default)]
    message_system_attributes: BTreeMap<String, WireAttribute>,
    #[serde(default)]
    message_deduplication_id: Option<String>,
    #[serde(default)]
    message_group_id: Option<String>,
}

impl Entry {
    fn into_request(self, sender: &str) -> Result<SendRequest, SqsError> {
        let system_attributes = attributes_from_wire(self.message_system_attributes)?;
        if let Some(bad) = system_attributes.keys().find(|k| *k != "AWSTraceHeader") {
            return Err(SqsError::InvalidParameterValue(format!(
                "Message system attribute name '{bad}' is invalid."
            )));
        }
        Ok(SendRequest {
            body: self
                .message_body
                .ok_or_else(|| SqsError::MissingParameter("MessageBody".into()))?,
            delay_seconds: self.delay_seconds,
            attributes: attributes_from_wire(self.message_attributes)?,
            system_attributes,
            group_id: self.message_group_id,
            dedup_id: self.message_deduplication_id,
            sender_id: sender.to_string(),
        })
    }
}

fn result_to_wire(r: &SendResult, out: &mut Value) {
    out["MessageId"] = json!(r.id);
    out["MD5OfMessageBody"] = json!(r.md5_body);
    if let Some(m) = &r.md5_attributes {
        out["MD5OfMessageAttributes"] = json!(m);
    }
    if let Some(m) = &r.md5_system_attributes {
        out["MD5OfMessageSystemAttributes"] = json!(m);
    }
    if let Some(s) = &r.sequence_number {
        out["SequenceNumber"] = json!(s);
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendMessage {
    queue_url: String,
    #[serde(flatten)]
    entry: Entry,
}

pub async fn send_message(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: SendMessage = parse(input)?;
    let key = ctx.queue_key(&req.queue_url)?;
    let request = req.entry.into_request(&ctx.sender_id)?;
    let mut results = ctx.engine.send(&key, vec![request]).await?;
    let result = results
        .pop()
        .ok_or_else(|| SqsError::Serialization("no result".into()))??;
    let mut out = json!({});
    result_to_wire(&result, &mut out);
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendMessageBatch {
    queue_url: String,
    #[serde(default)]
    entries: Vec<Entry>,
}

/// The whole batch (bodies and attributes) may not exceed the single-message maximum.
const MAX_BATCH_BYTES: usize = crate::engine::queue::MAX_MESSAGE_SIZE;

pub async fn send_message_batch(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: SendMessageBatch = parse(input)?;
    let key = ctx.queue_key(&req.queue_url)?;
    check_batch_ids(
        "SendMessageBatchRequestEntry",
        req.entries.iter().map(|e| e.id.as_str()),
    )?;
    let total: usize = req
        .entries
        .iter()
        .map(|e| {
            e.message_body.as_ref().map_or(0, String::len)
                + e.message_attributes
                    .iter()
                    .map(|(k, a)| {
                        k.len()
                            + a.data_type.as_ref().map_or(0, String::len)
                            + a.string_value.as_ref().map_or(0, String::len)
                            + a.binary_value.as_ref().map_or(0, |b| b.len() * 3 / 4)
                    })
                    .sum::<usize>()
        })
        .sum();
    if total > MAX_BATCH_BYTES {
        return Err(SqsError::BatchRequestTooLong(MAX_BATCH_BYTES, total));
    }
    let mut ids = Vec::new();
    let mut requests = Vec::new();
    let mut failed = Vec::new();
    for e in req.entries {
        let id = e.id.clone();
        match e.into_request(&ctx.sender_id) {
            Ok(r) => {
                ids.push(id);
                requests.push(r);
            }
            Err(err) => failed.push(failed_entry(&id, err)),
        }
    }
    let results = ctx.engine.send(&key, requests).await?;
    let mut successful = Vec::new();
    for (id, r) in ids.into_iter().zip(results) {
        match r {
            Ok(r) => {
                let mut v = json!({ "Id": id });
                result_to_wire(&r, &mut v);
                successful.push(v);
            }
            Err(e) => failed.push(failed_entry(&id, e.into())),
        }
    }
    Ok(json!({ "Successful": successful, "Failed": failed }))
}
