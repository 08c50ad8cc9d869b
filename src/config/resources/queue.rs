//! `[queues.NAME]`: the queue's table and its SQS attributes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;

use super::{check_tags, is_fifo_name, problem, scalar, table_key};
use crate::config::duration::DurationValue;
use crate::engine::queue::{default_attributes, normalise_attribute, validate_queue_name};

/// `[queues.NAME]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueDecl {
    /// FIFO queue; implied by a name ending in `.fifo`.
    pub fifo: Option<bool>,
    pub visibility_timeout: Option<DurationValue>,
    pub delay: Option<DurationValue>,
    pub retention: Option<DurationValue>,
    /// Bytes.
    pub max_message_size: Option<u64>,
    pub receive_wait: Option<DurationValue>,
    pub content_based_deduplication: Option<bool>,
    /// `queue` or `messageGroup`.
    pub deduplication_scope: Option<String>,
    /// `perQueue` or `perMessageGroupId`.
    pub fifo_throughput_limit: Option<String>,
    pub dead_letter: Option<DeadLetterDecl>,
    /// When given, the queue's tags become exactly these.
    pub tags: Option<BTreeMap<String, String>>,
    /// Any other SQS attribute, by its API name (`Policy`, `RedriveAllowPolicy`, …).
    #[serde(default)]
    pub attributes: BTreeMap<String, toml::Value>,
}

/// `dead_letter = { queue = "NAME", max_receives = N }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterDecl {
    pub queue: String,
    pub max_receives: u32,
}

/// A duration written in whole seconds, as SQS attributes take them.
fn whole_seconds(
    key: &str,
    value: &DurationValue,
    min: Duration,
    max: Duration,
) -> Result<String, String> {
    let d = value.parse_within(min, max).map_err(|e| problem(key, e))?;
    if d.subsec_millis() != 0 {
        return Err(problem(key, format!("expected whole seconds, got {value}")));
    }
    Ok(d.as_secs().to_string())
}

impl QueueDecl {
    pub fn is_fifo(&self, name: &str) -> bool {
        self.fifo.unwrap_or_else(|| is_fifo_name(name))
    }

    /// The queue's complete SQS attributes: defaults, then what is declared, with the dead
    /// letter queue's ARN built from `region` and `account`. Every problem names its key.
    pub fn sqs_attributes(
        &self,
        name: &str,
        region: &str,
        account: &str,
    ) -> Result<BTreeMap<String, String>, Vec<String>> {
        let key = table_key("queues", name);
        let fifo = self.is_fifo(name);
        let mut problems = Vec::new();
        if let Err(e) = validate_queue_name(name) {
            problems.push(problem(&key, e));
        }
        if fifo != is_fifo_name(name) {
            problems.push(problem(
                format!("{key}.fifo"),
                if fifo {
                    "a FIFO queue's name must end in .fifo"
                } else {
                    "a queue whose name ends in .fifo is a FIFO queue"
                },
            ));
        }
        let mut given: Vec<(String, &str, Result<String, String>)> = Vec::new();
        let mut typed = |field: &str, attribute: &'static str, value: Result<String, String>| {
            given.push((format!("{key}.{field}"), attribute, value));
        };
        let secs = Duration::from_secs;
        if let Some(v) = &self.visibility_timeout {
            let k = format!("{key}.visibility_timeout");
            typed(
                "visibility_timeout",
                "VisibilityTimeout",
                whole_seconds(&k, v, Duration::ZERO, secs(43_200)),
            );
        }
        if let Some(v) = &self.delay {
            let k = format!("{key}.delay");
            typed(
                "delay",
                "DelaySeconds",
                whole_seconds(&k, v, Duration::ZERO, secs(900)),
            );
        }
        if let Some(v) = &self.retention {
            let k = format!("{key}.retention");
            typed(
                "retention",
                "MessageRetentionPeriod",
                whole_seconds(&k, v, secs(60), secs(1_209_600)),
            );
        }
        if let Some(v) = &self.receive_wait {
            let k = format!("{key}.receive_wait");
            typed(
                "receive_wait",
                "ReceiveMessageWaitTimeSeconds",
                whole_seconds(&k, v, Duration::ZERO, secs(20)),
            );
        }
        if let Some(v) = self.max_message_size {
            typed("max_message_size", "MaximumMessageSize", Ok(v.to_string()));
        }
        if let Some(v) = self.content_based_deduplication {
            typed(
                "content_based_deduplication",
                "ContentBasedDeduplication",
                Ok(v.to_string()),
            );
        }
        if let Some(v) = &self.deduplication_scope {
            typed("deduplication_scope", "DeduplicationScope", Ok(v.clone()));
        }
        if let Some(v) = &self.fifo_throughput_limit {
            typed(
                "fifo_throughput_limit",
                "FifoThroughputLimit",
                Ok(v.clone()),
            );
        }
        if let Some(d) = &self.dead_letter {
            let policy = serde_json::json!({
                "deadLetterTargetArn": format!("arn:aws:sqs:{region}:{account}:{}", d.queue),
                "maxReceiveCount": d.max_receives,
            });
            let value = if (1..=1000).contains(&d.max_receives) {
                Ok(policy.to_string())
            } else {
                Err(problem(
                    format!("{key}.dead_letter.max_receives"),
                    format!("expected 1 to 1000, got {}", d.max_receives),
                ))
            };
            typed("dead_letter", "RedrivePolicy", value);
        }

        let mut out = default_attributes(fifo);
        let mut set_by: BTreeMap<String, String> = BTreeMap::new();
        for (field_key, attribute, value) in given {
            set_by.insert(attribute.to_string(), field_key.clone());
            match value {
                Ok(v) => match normalise_attribute(attribute, &v, fifo) {
                    Ok(v) => {
                        out.insert(attribute.to_string(), v);
                    }
                    Err(e) => problems.push(problem(field_key, fifo_only_or(e, fifo))),
                },
                Err(p) => problems.push(p),
            }
        }
        for (name, raw) in &self.attributes {
            let k = format!("{key}.attributes.{name}");
            let Some(v) = scalar(raw) else {
                problems.push(problem(k, "expected a string, number or boolean"));
                continue;
            };
            if let Some(other) = set_by.get(name) {
                problems.push(problem(k, format!("already set by {other}")));
                continue;
            }
            match normalise_attribute(name, &v, fifo) {
                Ok(v) => {
                    out.insert(name.clone(), v);
                }
                Err(e) => problems.push(problem(k, fifo_only_or(e, fifo))),
            }
        }
        if let Some(tags) = &self.tags {
            check_tags(&format!("{key}.tags"), tags, &mut problems);
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }
}

/// The engine's words for an attribute a standard queue cannot have, said plainly.
fn fifo_only_or(e: crate::engine::EngineError, fifo: bool) -> String {
    let text = e.to_string();
    if !fifo && text.contains("Only FIFO queues") {
        "only FIFO queues have this setting".to_string()
    } else {
        text
    }
}

/// Dead-letter chains among declared queues, in an order that creates every target before the
/// queues that name it. A cycle is a problem naming the first queue on it.
pub fn creation_order(queues: &BTreeMap<String, QueueDecl>) -> Result<Vec<String>, String> {
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    for start in queues.keys() {
        let mut path: Vec<&str> = Vec::new();
        let mut at = start.as_str();
        // Follow the chain to its first queue already placed (or not declared), then place
        // the chain from its end back.
        loop {
            if done.contains(at) {
                break;
            }
            if let Some(pos) = path.iter().position(|p| *p == at) {
                let cycle: Vec<&str> = path[pos..].iter().copied().chain([at]).collect();
                return Err(problem(
                    format!("{}.dead_letter.queue", table_key("queues", path[pos])),
                    format!("dead-letter queues form a cycle: {}", cycle.join(" -> ")),
                ));
            }
            path.push(at);
            match queues.get(at).and_then(|q| q.dead_letter.as_ref()) {
                Some(d) if queues.contains_key(&d.queue) => at = d.queue.as_str(),
                _ => break,
            }
        }
        for q in path.into_iter().rev() {
            if done.insert(q.to_string()) {
                order.push(q.to_string());
            }
        }
    }
    Ok(order)
}
