//! Queues: names, ARNs and the settable attributes with their AWS ranges and defaults.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::error::{EngineError, EngineResult};
use crate::clock::Millis;

/// A queue is identified by its region and name; the account is the server's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct QueueKey {
    pub region: String,
    pub name: String,
}

impl QueueKey {
    pub fn new(region: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            name: name.into(),
        }
    }

    pub fn is_fifo_name(&self) -> bool {
        self.name.ends_with(".fifo")
    }

    pub fn arn(&self, account: &str) -> String {
        format!("arn:aws:sqs:{}:{}:{}", self.region, account, self.name)
    }

    /// Parses `arn:aws:sqs:REGION:ACCOUNT:NAME`.
    pub fn from_arn(arn: &str) -> Option<Self> {
        let mut parts = arn.splitn(6, ':');
        let (arn_tag, _partition, service, region, _account, name) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        (arn_tag == "arn" && service == "sqs" && !name.is_empty()).then(|| Self::new(region, name))
    }
}

/// What the store keeps about a queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueRecord {
    pub key: QueueKey,
    /// Settable attributes, normalised, defaults included.
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub created_ms: Millis,
    pub modified_ms: Millis,
}

impl QueueRecord {
    fn get_u64(&self, name: &str, default: u64) -> u64 {
        self.attributes
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    pub fn is_fifo(&self) -> bool {
        self.attributes.get("FifoQueue").map(String::as_str) == Some("true")
    }
    pub fn visibility_timeout_secs(&self) -> u64 {
        self.get_u64("VisibilityTimeout", 30)
    }
    pub fn delay_secs(&self) -> u64 {
        self.get_u64("DelaySeconds", 0)
    }
    pub fn maximum_message_size(&self) -> u64 {
        self.get_u64("MaximumMessageSize", MAX_MESSAGE_SIZE as u64)
    }
    pub fn retention_ms(&self) -> u64 {
        self.get_u64("MessageRetentionPeriod", 345_600) * 1000
    }
    pub fn receive_wait_secs(&self) -> u64 {
        self.get_u64("ReceiveMessageWaitTimeSeconds", 0)
    }
    pub fn content_based_deduplication(&self) -> bool {
        self.attributes
            .get("ContentBasedDeduplication")
            .map(String::as_str)
            == Some("true")
    }
    /// Deduplication ids are scoped to the message group rather than the queue.
    pub fn dedup_per_group(&self) -> bool {
        self.attributes
            .get("DeduplicationScope")
            .map(String::as_str)
            == Some("messageGroup")
    }
    pub fn redrive_policy(&self) -> Option<RedrivePolicy> {
        self.attributes
            .get("RedrivePolicy")
            .and_then(|raw| RedrivePolicy::parse(raw).ok())
    }
    pub fn redrive_allow_policy(&self) -> Option<RedriveAllowPolicy> {
        self.attributes
            .get("RedriveAllowPolicy")
            .and_then(|raw| RedriveAllowPolicy::parse(raw).ok())
    }
}

/// The largest message SQS accepts today (1 MiB), body plus attributes.
pub const MAX_MESSAGE_SIZE: usize = 1_048_576;
/// FIFO deduplication window.
pub const DEDUP_WINDOW_MS: u64 = 5 * 60 * 1000;

/// Attributes a client may set; the rest are read-only.
const SETTABLE: &[&str] = &[
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "Policy",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

/// Read-only attributes, computed on request.
pub const COMPUTED: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
];

pub fn is_known_attribute(name: &str) -> bool {
    name == "All" || SETTABLE.contains(&name) || COMPUTED.contains(&name)
}

/// Queue names: 1–80 characters of alphanumerics, `-` and `_`; FIFO queues end in `.fifo`.
pub fn validate_queue_name(name: &str) -> EngineResult<()> {
    let stem = name.strip_suffix(".fifo").unwrap_or(name);
    let ok = !name.is_empty()
        && name.len() <= 80
        && !stem.is_empty()
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(EngineError::InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
                .into(),
        ))
    }
}

fn int_in(name: &str, value: &str, lo: u64, hi: u64) -> EngineResult<String> {
    match value.trim().parse::<u64>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n.to_string()),
        _ => Err(EngineError::InvalidAttributeValue(format!(
            "Invalid value for the parameter {name}."
        ))),
    }
}

fn boolean(name: &str, value: &str) -> EngineResult<String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok("true".into()),
        "false" => Ok("false".into()),
        _ => Err(EngineError::InvalidAttributeValue(format!(
            "Invalid value for the parameter {name}."
        ))),
    }
}

fn one_of(name: &str, value: &str, allowed: &[&str]) -> EngineResult<String> {
    if allowed.contains(&value) {
        Ok(value.to_string())
    } else {
        Err(EngineError::InvalidAttributeValue(format!(
            "Invalid value for the parameter {name}."
        )))
    }
}

/// Validates and normalises one settable attribute.
pub fn normalise_attribute(name: &str, value: &str, fifo: bool) -> EngineResult<String> {
    match name {
        "DelaySeconds" => int_in(name, value, 0, 900),
        "MaximumMessageSize" => int_in(name, value, 1024, MAX_MESSAGE_SIZE as u64),
        "MessageRetentionPeriod" => int_in(name, value, 60, 1_209_600),
        "ReceiveMessageWaitTimeSeconds" => int_in(name, value, 0, 20),
        "VisibilityTimeout" => int_in(name, value, 0, 43_200),
        "KmsDataKeyReusePeriodSeconds" => int_in(name, value, 60, 86_400),
        "SqsManagedSseEnabled" => boolean(name, value),
        "Policy" | "KmsMasterKeyId" => Ok(value.to_string()),
        "RedrivePolicy" => {
            if value.is_empty() {
                return Ok(String::new());
            }
            RedrivePolicy::parse(value).map(|p| p.to_json())
        }
        "RedriveAllowPolicy" => {
            if value.is_empty() {
                return Ok(String::new());
            }
            RedriveAllowPolicy::parse(value).map(|p| p.to_json())
        }
        "FifoQueue" => {
            let v = boolean(name, value)?;
            if (v == "true") != fifo {
                return Err(EngineError::InvalidAttributeValue(
                    "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported."
                        .into(),
                ));
            }
            Ok(v)
        }
        "ContentBasedDeduplication" | "DeduplicationScope" | "FifoThroughputLimit" if !fifo => {
            Err(EngineError::InvalidAttributeName(format!(
                "{name}. Reason: Only FIFO queues support this attribute."
            )))
        }
        "ContentBasedDeduplication" => boolean(name, value),
        "DeduplicationScope" => one_of(name, value, &["messageGroup", "queue"]),
        "FifoThroughputLimit" => one_of(name, value, &["perQueue", "perMessageGroupId"]),
        _ if COMPUTED.contains(&name) => Err(EngineError::InvalidAttributeName(format!(
            "{name}. Reason: read-only attribute."
        ))),
        _ => Err(EngineError::InvalidAttributeName(name.to_string())),
    }
}

/// The attributes a new queue starts with.
pub fn default_attributes(fifo: bool) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for (k, v) in [
        ("DelaySeconds", "0"),
        ("MaximumMessageSize", "1048576"),
        ("MessageRetentionPeriod", "345600"),
        ("ReceiveMessageWaitTimeSeconds", "0"),
        ("VisibilityTimeout", "30"),
        ("SqsManagedSseEnabled", "true"),
    ] {
        m.insert(k.to_string(), v.to_string());
    }
    if fifo {
        for (k, v) in [
            ("FifoQueue", "true"),
            ("ContentBasedDeduplication", "false"),
            ("DeduplicationScope", "queue"),
            ("FifoThroughputLimit", "perQueue"),
        ] {
            m.insert(k.to_string(), v.to_string());
        }
    }
    m
}

/// `{"deadLetterTargetArn": ..., "maxReceiveCount": N}`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedrivePolicy {
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}

impl RedrivePolicy {
    pub fn parse(raw: &str) -> EngineResult<Self> {
        let bad = |why: &str| {
            EngineError::InvalidParameterValue(format!(
                "Value {raw} for parameter RedrivePolicy is invalid. Reason: {why}"
            ))
        };
        let v: serde_json::Value = serde_json::from_str(raw)
            .map_err(|_| bad("Redrive policy is not a valid JSON map."))?;
        let obj = v
            .as_object()
            .ok_or_else(|| bad("Redrive policy is not a valid JSON map."))?;
        let arn = obj
            .get("deadLetterTargetArn")
            .and_then(|a| a.as_str())
            .ok_or_else(|| {
                bad("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
            })?;
        if QueueKey::from_arn(arn).is_none() {
            return Err(bad("Invalid deadLetterTargetArn."));
        }
        let count = match obj.get("maxReceiveCount") {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => {
                return Err(bad(
                    "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
                ))
            }
        };
        match count {
            Some(n @ 1..=1000) => Ok(Self {
                dead_letter_target_arn: arn.to_string(),
                max_receive_count: n as u32,
            }),
            _ => Err(bad(
                "Invalid value for maxReceiveCount: must be between 1 and 1000.",
            )),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::json!({
            "deadLetterTargetArn": self.dead_letter_target_arn,
            "maxReceiveCount": self.max_receive_count,
        })
        .to_string()
    }
}

/// `{"redrivePermission": "allowAll" | "denyAll" | "byQueue", "sourceQueueArns": [...]}`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedriveAllowPolicy {
    pub permission: String,
    pub source_queue_arns: Vec<String>,
}

impl RedriveAllowPolicy {
    pub fn parse(raw: &str) -> EngineResult<Self> {
        let bad = |why: &str| {
            EngineError::InvalidParameterValue(format!(
                "Value {raw} for parameter RedriveAllowPolicy is invalid. Reason: {why}"
            ))
        };
        let v: serde_json::Value =
            serde_json::from_str(raw).map_err(|_| bad("Not a valid JSON map."))?;
        let permission = v
            .get("redrivePermission")
            .and_then(|p| p.as_str())
            .ok_or_else(|| bad("Missing redrivePermission."))?;
        let arns: Vec<String> = v
            .get("sourceQueueArns")
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        match permission {
            "allowAll" | "denyAll" if arns.is_empty() => {}
            "byQueue" if !arns.is_empty() && arns.len() <= 10 => {}
            "allowAll" | "denyAll" | "byQueue" => return Err(bad(
                "sourceQueueArns is required with byQueue (at most 10) and not allowed otherwise.",
            )),
            _ => {
                return Err(bad(
                    "redrivePermission must be allowAll, denyAll or byQueue.",
                ))
            }
        }
        Ok(Self {
            permission: permission.to_string(),
            source_queue_arns: arns,
        })
    }

    pub fn allows(&self, source_arn: &str) -> bool {
        match self.permission.as_str() {
            "allowAll" => true,
            "byQueue" => self.source_queue_arns.iter().any(|a| a == source_arn),
            _ => false,
        }
    }

    pub fn to_json(&self) -> String {
        let mut v = serde_json::json!({ "redrivePermission": self.permission });
        if !self.source_queue_arns.is_empty() {
            v["sourceQueueArns"] = serde_json::json!(self.source_queue_arns);
        }
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_follow_aws_rules() {
        assert!(validate_queue_name("orders-1_a").is_ok());
        assert!(validate_queue_name("orders.fifo").is_ok());
        assert!(validate_queue_name("").is_err());
        assert!(validate_queue_name(".fifo").is_err());
        assert!(validate_queue_name("bad name").is_err());
        assert!(validate_queue_name(&"a".repeat(81)).is_err());
    }

    #[test]
    fn arns_round_trip() {
        let k = QueueKey::new("us-east-1", "q");
        assert_eq!(QueueKey::from_arn(&k.arn("123456789012")), Some(k));
        assert_eq!(QueueKey::from_arn("arn:aws:sns:us-east-1:1:q"), None);
    }

    #[test]
    fn attribute_ranges_are_enforced() {
        assert!(normalise_attribute("VisibilityTimeout", "43200", false).is_ok());
        assert!(normalise_attribute("VisibilityTimeout", "43201", false).is_err());
        assert!(normalise_attribute("DelaySeconds", "x", false).is_err());
        assert!(normalise_attribute("ContentBasedDeduplication", "true", false).is_err());
        assert!(normalise_attribute("Nope", "1", false).is_err());
    }

    #[test]
    fn redrive_policy_accepts_string_or_number_counts() {
        let p = RedrivePolicy::parse(
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:dlq","maxReceiveCount":"3"}"#,
        )
        .unwrap();
        assert_eq!(p.max_receive_count, 3);
        assert!(RedrivePolicy::parse(r#"{"maxReceiveCount":3}"#).is_err());
    }
}
