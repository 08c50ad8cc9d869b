//! The events a function receives, in Lambda's shapes and casing: the SQS event
//! (`{"Records": [{"messageId", "receiptHandle", "body", "attributes", "messageAttributes",
//! "md5OfBody", "eventSource": "aws:sqs", "eventSourceARN", "awsRegion"}]}`) for its queue, and
//! `{"Records": [SNS record]}` for a topic's `lambda` delivery.

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::engine::message::StoredMessage;
use crate::engine::{AttributeValue, Received};

/// The SQS event for a batch received from the queue `queue_arn` in `region`.
pub fn sqs_event(batch: &[Received], queue_arn: &str, region: &str, fifo: bool) -> Value {
    let records: Vec<Value> = batch
        .iter()
        .map(|r| sqs_record(r, queue_arn, region, fifo))
        .collect();
    json!({ "Records": records })
}

fn sqs_record(r: &Received, queue_arn: &str, region: &str, fifo: bool) -> Value {
    let m = &r.message;
    let mut record = json!({
        "messageId": m.id,
        "receiptHandle": r.receipt_handle,
        "body": m.body,
        "attributes": system_attributes(m, fifo),
        "messageAttributes": message_attributes(m),
        "md5OfBody": m.md5_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    });
    if let (Some(md5), Some(obj)) = (&m.md5_attributes, record.as_object_mut()) {
        obj.insert("md5OfMessageAttributes".into(), json!(md5));
    }
    record
}

/// Lambda's `attributes`: every value a string, FIFO fields on FIFO queues.
fn system_attributes(m: &StoredMessage, fifo: bool) -> Value {
    let mut a = Map::new();
    let mut put = |k: &str, v: String| {
        a.insert(k.to_string(), Value::String(v));
    };
    put("ApproximateReceiveCount", m.receive_count.to_string());
    put("SentTimestamp", m.sent_ms.to_string());
    put("SenderId", m.sender_id.clone());
    put(
        "ApproximateFirstReceiveTimestamp",
        m.first_receive_ms.unwrap_or(m.sent_ms).to_string(),
    );
    if fifo {
        put("SequenceNumber", format!("{:020}", m.seq));
        if let Some(g) = &m.group_id {
            put("MessageGroupId", g.clone());
        }
        if let Some(d) = &m.dedup_id {
            put("MessageDeduplicationId", d.clone());
        }
    }
    if let Some(t) = m
        .system_attributes
        .get("AWSTraceHeader")
        .and_then(|v| v.string_value.clone())
    {
        put("AWSTraceHeader", t);
    }
    if let Some(src) = &m.dead_letter_source {
        put("DeadLetterQueueSourceArn", src.clone());
    }
    Value::Object(a)
}

/// Lambda's `messageAttributes`: `{"stringValue" | "binaryValue" (base64), "stringListValues",
/// "binaryListValues", "dataType"}` per attribute.
fn message_attributes(m: &StoredMessage) -> Value {
    let out: Map<String, Value> = m
        .attributes
        .iter()
        .map(|(name, v)| (name.clone(), attribute(v)))
        .collect();
    Value::Object(out)
}

fn attribute(v: &AttributeValue) -> Value {
    let mut a = Map::new();
    if let Some(s) = &v.string_value {
        a.insert("stringValue".into(), json!(s));
    }
    if let Some(b) = &v.binary_value {
        a.insert(
            "binaryValue".into(),
            json!(base64::engine::general_purpose::STANDARD.encode(b)),
        );
    }
    a.insert("stringListValues".into(), json!([]));
    a.insert("binaryListValues".into(), json!([]));
    a.insert("dataType".into(), json!(v.data_type));
    Value::Object(a)
}

/// One topic delivery as its own invocation: the stored body is already the SNS record.
pub fn sns_event(record_body: &str) -> Result<Value, serde_json::Error> {
    let record: Value = serde_json::from_str(record_body)?;
    Ok(json!({ "Records": [record] }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::message::StoredMessage;
    use std::collections::BTreeMap;

    fn message(fifo: bool) -> StoredMessage {
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "kind".to_string(),
            AttributeValue {
                data_type: "String".into(),
                string_value: Some("order".into()),
                binary_value: None,
            },
        );
        attributes.insert(
            "blob".to_string(),
            AttributeValue {
                data_type: "Binary".into(),
                string_value: None,
                binary_value: Some(vec![1, 2, 3]),
            },
        );
        StoredMessage {
            seq: 7,
            id: "059f36b4-87a3-44ab-83d2-661975830a7d".into(),
            body: "test".into(),
            attributes,
            system_attributes: BTreeMap::new(),
            md5_body: "098f6bcd4621d373cade4e832627b4f6".into(),
            md5_attributes: Some("abc".into()),
            md5_system_attributes: None,
            sent_ms: 1_545_082_649_183,
            sender_id: "AIDAIENQZJOLO23YVJ4VO".into(),
            group_id: fifo.then(|| "g1".to_string()),
            dedup_id: fifo.then(|| "d1".to_string()),
            delay_until_ms: 0,
            receive_count: 1,
            first_receive_ms: Some(1_545_082_649_185),
            dead_letter_source: None,
        }
    }

    #[test]
    fn sqs_records_have_lambdas_fields_and_casing() {
        let r = Received {
            message: message(false),
            receipt_handle: "rh".into(),
        };
        let e = sqs_event(
            &[r],
            "arn:aws:sqs:us-east-2:123456789012:my-queue",
            "us-east-2",
            false,
        );
        let rec = &e["Records"][0];
        assert_eq!(rec["messageId"], "059f36b4-87a3-44ab-83d2-661975830a7d");
        assert_eq!(rec["receiptHandle"], "rh");
        assert_eq!(rec["body"], "test");
        assert_eq!(rec["md5OfBody"], "098f6bcd4621d373cade4e832627b4f6");
        assert_eq!(rec["eventSource"], "aws:sqs");
        assert_eq!(
            rec["eventSourceARN"],
            "arn:aws:sqs:us-east-2:123456789012:my-queue"
        );
        assert_eq!(rec["awsRegion"], "us-east-2");
        assert_eq!(
            rec["attributes"],
            json!({
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1545082649183",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": "1545082649185",
            })
        );
        assert_eq!(
            rec["messageAttributes"]["kind"],
            json!({"stringValue": "order", "stringListValues": [], "binaryListValues": [], "dataType": "String"})
        );
        assert_eq!(rec["messageAttributes"]["blob"]["binaryValue"], "AQID");
    }

    #[test]
    fn fifo_records_carry_group_deduplication_and_sequence() {
        let r = Received {
            message: message(true),
            receipt_handle: "rh".into(),
        };
        let e = sqs_event(&[r], "arn:aws:sqs:us-east-1:1:q.fifo", "us-east-1", true);
        let a = &e["Records"][0]["attributes"];
        assert_eq!(a["MessageGroupId"], "g1");
        assert_eq!(a["MessageDeduplicationId"], "d1");
        assert_eq!(a["SequenceNumber"], "00000000000000000007");
    }

    #[test]
    fn sns_bodies_become_one_record_events() {
        let e = sns_event(r#"{"EventSource":"aws:sns","Sns":{"Message":"hi"}}"#).unwrap();
        assert_eq!(e["Records"][0]["Sns"]["Message"], "hi");
        assert!(sns_event("not json").is_err());
    }
}
