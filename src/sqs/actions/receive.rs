//! ReceiveMessage: which system and message attributes to return, and their digests.

use serde::Deserialize;
use serde_json::{json, Value};

use super::send::attributes_to_wire;
use super::{parse, Ctx};
use crate::engine::digest::md5_of_attributes;
use crate::engine::{Attributes, ReceiveRequest, Received};
use crate::sqs::error::SqsError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReceiveMessage {
    queue_url: String,
    #[serde(default)]
    attribute_names: Vec<String>,
    #[serde(default)]
    message_system_attribute_names: Vec<String>,
    #[serde(default)]
    message_attribute_names: Vec<String>,
    #[serde(default)]
    max_number_of_messages: Option<i64>,
    #[serde(default)]
    visibility_timeout: Option<i64>,
    #[serde(default)]
    wait_time_seconds: Option<i64>,
    #[serde(default)]
    #[allow(dead_code)]
    receive_request_attempt_id: Option<String>,
}

pub async fn receive_message(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: ReceiveMessage = parse(input)?;
    let key = ctx.queue_key(&req.queue_url)?;
    let got = ctx
        .engine
        .receive(
            &key,
            ReceiveRequest {
                max_messages: req.max_number_of_messages,
                visibility_timeout: req.visibility_timeout,
                wait_seconds: req.wait_time_seconds,
            },
        )
        .await?;
    let mut system_names = req.attribute_names;
    system_names.extend(req.message_system_attribute_names);
    let messages: Vec<Value> = got
        .iter()
        .map(|r| render(r, &system_names, &req.message_attribute_names))
        .collect();
    if messages.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({ "Messages": messages }))
}

fn render(r: &Received, system_names: &[String], attribute_names: &[String]) -> Value {
    let m = &r.message;
    let mut out = json!({
        "MessageId": m.id,
        "ReceiptHandle": r.receipt_handle,
        "MD5OfBody": m.md5_body,
        "Body": m.body,
    });
    let system = system_attributes(r, system_names);
    if !system.is_empty() {
        out["Attributes"] = json!(system);
    }
    let selected: Attributes = m
        .attributes
        .iter()
        .filter(|(name, _)| wanted(name, attribute_names))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(md5) = md5_of_attributes(&selected) {
        out["MD5OfMessageAttributes"] = json!(md5);
        out["MessageAttributes"] = attributes_to_wire(&selected);
    }
    out
}

/// `All`, `.*`, an exact name, or a prefix written `name.*`.
fn wanted(name: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| {
        p == "All"
            || p == ".*"
            || p == name
            || p.strip_suffix(".*")
                .is_some_and(|prefix| name.starts_with(&format!("{prefix}.")))
    })
}

fn system_attributes(r: &Received, names: &[String]) -> serde_json::Map<String, Value> {
    let m = &r.message;
    let all = names.iter().any(|n| n == "All");
    let want = |n: &str| all || names.iter().any(|x| x == n);
    let mut out = serde_json::Map::new();
    let mut put = |k: &str, v: String| {
        if want(k) {
            out.insert(k.to_string(), json!(v));
        }
    };
    put("SenderId", m.sender_id.clone());
    put("SentTimestamp", m.sent_ms.to_string());
    put("ApproximateReceiveCount", m.receive_count.to_string());
    put(
        "ApproximateFirstReceiveTimestamp",
        m.first_receive_ms.unwrap_or(m.sent_ms).to_string(),
    );
    if let Some(g) = &m.group_id {
        put("MessageGroupId", g.clone());
    }
    if let Some(d) = &m.dedup_id {
        put("MessageDeduplicationId", d.clone());
        put("SequenceNumber", format!("{:020}", m.seq));
    }
    if let Some(t) = m
        .system_attributes
        .get("AWSTraceHeader")
        .and_then(|a| a.string_value.clone())
    {
        put("AWSTraceHeader", t);
    }
    if let Some(src) = &m.dead_letter_source {
        put("DeadLetterQueueSourceArn", src.clone());
    }
    out
}
