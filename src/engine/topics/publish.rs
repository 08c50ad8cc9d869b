//! Publish: validation (size, FIFO group and deduplication, message structure), then fan-out
//! to every confirmed subscription whose filter policy the message passes.
//!
//! An SQS delivery is an ordinary engine `send` to the subscribed queue, raw (the message, with
//! its attributes as SQS message attributes) or wrapped in the signed SNS notification. A FIFO
//! topic hands its group id and deduplication id on to its FIFO queues, so a group's order
//! holds end to end. A Lambda delivery is a send of the SNS event record to the function's
//! invoke queue. HTTP/S deliveries become durable jobs (see `delivery`), stored before the
//! publish is answered.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::attributes::{passes_filter, redrive_target};
use super::delivery::{DeliveryJob, MessageType};
use super::envelope::{self, attribute_text, Signed};
use super::invalid;
use super::lambda::function_queue;
use super::record::{FifoPublication, SubscriptionRecord, TopicRecord};
use super::signing::{SignatureVersion, SigningKey};
use crate::engine::error::EngineResult;
use crate::engine::message::Attributes;
use crate::engine::queue::{QueueKey, DEDUP_WINDOW_MS};
use crate::engine::sending::SendRequest;
use crate::engine::Engine;

/// Largest message SNS accepts: the message plus its attributes.
pub const MAX_PUBLISH_BYTES: usize = 256 * 1024;

/// A message to publish, as a client described it.
#[derive(Debug, Clone, Default)]
pub struct Publication {
    pub message: String,
    pub subject: Option<String>,
    pub message_attributes: Attributes,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    /// `Some("json")`: `message` is a JSON object of per-protocol messages (`default` required).
    pub message_structure: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishResult {
    pub message_id: String,
    /// FIFO topics only.
    pub sequence_number: Option<String>,
}

/// The message each protocol gets.
enum Body {
    Same(String),
    PerProtocol(BTreeMap<String, String>),
}

impl Body {
    fn parse(p: &Publication) -> EngineResult<Body> {
        match p.message_structure.as_deref() {
            None | Some("") => Ok(Body::Same(p.message.clone())),
            Some("json") => {
                let parsed: BTreeMap<String, serde_json::Value> = serde_json::from_str(&p.message)
                    .map_err(|_| {
                        invalid("Invalid parameter: Message Structure - JSON message body failed to parse")
                    })?;
                let mut out = BTreeMap::new();
                for (k, v) in parsed {
                    let text = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    out.insert(k, text);
                }
                if !out.contains_key("default") {
                    return Err(invalid(
                        "Invalid parameter: Message Structure - No default entry in JSON message body",
                    ));
                }
                Ok(Body::PerProtocol(out))
            }
            Some(_) => Err(invalid("Invalid parameter: MessageStructure")),
        }
    }

    fn for_protocol(&self, protocol: &str) -> &str {
        match self {
            Body::Same(m) => m,
            Body::PerProtocol(map) => map
                .get(protocol)
                .or_else(|| map.get("default"))
                .map(String::as_str)
                .unwrap_or_default(),
        }
    }
}

fn validate_attributes(attributes: &Attributes) -> EngineResult<()> {
    for (name, v) in attributes {
        let base = v.data_type.split('.').next().unwrap_or_default();
        let typed = matches!(base, "String" | "Number" | "Binary");
        if name.is_empty() || name.len() > 256 || !typed {
            return Err(invalid(format!(
                "Invalid parameter: MessageAttributes Reason: attribute {name} has an invalid name or data type"
            )));
        }
        let has_value = match base {
            "Binary" => v.binary_value.as_ref().is_some_and(|b| !b.is_empty()),
            _ => v.string_value.as_ref().is_some_and(|s| !s.is_empty()),
        };
        if !has_value {
            return Err(invalid(format!(
                "Invalid parameter: MessageAttributes Reason: attribute {name} must contain a non-empty value of type {}",
                v.data_type
            )));
        }
        if base == "Number"
            && !v
                .string_value
                .as_deref()
                .is_some_and(|s| s.trim().parse::<f64>().is_ok_and(f64::is_finite))
        {
            return Err(invalid(format!(
                "Invalid parameter: MessageAttributes Reason: attribute {name} is not a number"
            )));
        }
    }
    Ok(())
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

/// Group and deduplication ids of a FIFO publication; refuses them on a standard topic.
fn fifo_ids(topic: &TopicRecord, p: &Publication) -> EngineResult<Option<(String, String)>> {
    if !topic.is_fifo() {
        if p.group_id.is_some() {
            return Err(invalid(
                "Invalid parameter: MessageGroupId Reason: The request includes MessageGroupId parameter that is not valid for this topic type",
            ));
        }
        if p.dedup_id.is_some() {
            return Err(invalid(
                "Invalid parameter: MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type",
            ));
        }
        return Ok(None);
    }
    let group = p.group_id.clone().ok_or_else(|| {
        invalid("Invalid parameter: The MessageGroupId parameter is required for FIFO topics")
    })?;
    let dedup = match &p.dedup_id {
        Some(d) => d.clone(),
        None if topic.content_based_deduplication() => {
            hex::encode(Sha256::digest(p.message.as_bytes()))
        }
        None => {
            return Err(invalid(
                "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
            ))
        }
    };
    for (param, v) in [
        ("MessageGroupId", &group),
        ("MessageDeduplicationId", &dedup),
    ] {
        let ok = !v.is_empty()
            && v.len() <= 128
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation());
        if !ok {
            return Err(invalid(format!(
                "Invalid parameter: {param} Reason: must be 1 to 128 alphanumeric or punctuation characters"
            )));
        }
    }
    Ok(Some((group, dedup)))
}

/// Signatures of one publication, made once per distinct message text (protocols may get
/// different texts) and only when some subscriber gets a signed document.
struct Signatures<'a> {
    engine: &'a Engine,
    key: Option<Arc<SigningKey>>,
    made: HashMap<String, String>,
}

impl Signatures<'_> {
    async fn of(&mut self, doc: &envelope::Publication<'_>, message: &str) -> EngineResult<String> {
        if let Some(s) = self.made.get(message) {
            return Ok(s.clone());
        }
        let key = match &self.key {
            Some(k) => k.clone(),
            None => {
                let k = self.engine.topic_signer().await?;
                self.key = Some(k.clone());
                k
            }
        };
        let signature = doc.sign(&key, message);
        self.made.insert(message.to_string(), signature.clone());
        Ok(signature)
    }
}

impl Engine {
    /// Publishes a message to a topic and delivers it to the topic's confirmed subscribers.
    /// An SQS or Lambda delivery that fails (queue gone, message refused by the queue) goes to
    /// the subscription's dead-letter queue when it has one, and is otherwise logged and
    /// dropped, as SNS does; the publish itself still succeeds. HTTP/S deliveries are queued
    /// durably; failing to queue them fails the publish.
    pub async fn publish(&self, topic_arn: &str, p: Publication) -> EngineResult<PublishResult> {
        let key = self.topic_key(topic_arn)?;
        let topic = self.require_topic(&key).await?;
        if p.message.is_empty() {
            return Err(invalid("Invalid parameter: Empty message"));
        }
        validate_attributes(&p.message_attributes)?;
        if p.message.len() + attributes_size(&p.message_attributes) > MAX_PUBLISH_BYTES {
            return Err(invalid("Invalid parameter: Message too long"));
        }
        if let Some(s) = &p.subject {
            let ok = !s.is_empty()
                && s.chars().count() <= 100
                && s.chars().all(|c| c.is_ascii() && !c.is_ascii_control());
            if !ok {
                return Err(invalid("Invalid parameter: Subject"));
            }
        }
        let body = Body::parse(&p)?;
        let ids = fifo_ids(&topic, &p)?;
        let now = self.now_ms();
        let message_id = uuid::Uuid::new_v4().to_string();
        let sequence_number = match &ids {
            Some((_, dedup)) => {
                let seq = self.next_topic_sequence(now);
                let candidate = FifoPublication {
                    message_id: message_id.clone(),
                    sequence: seq,
                    expires_ms: now + DEDUP_WINDOW_MS,
                };
                if let Some(first) = self
                    .store()
                    .topic_dedup(&topic.key, dedup, candidate, now)
                    .await?
                {
                    return Ok(PublishResult {
                        message_id: first.message_id,
                        sequence_number: Some(format!("{:020}", first.sequence)),
                    });
                }
                Some(format!("{seq:020}"))
            }
            None => None,
        };

        let filter_attributes: BTreeMap<String, (String, String)> = p
            .message_attributes
            .iter()
            .map(|(k, v)| (k.clone(), (v.data_type.clone(), attribute_text(v))))
            .collect();
        let topic_arn = self.topic_arn(&key);
        let endpoint = self.topic_public_endpoint();
        let doc = envelope::Publication {
            message_id: &message_id,
            sequence_number: sequence_number.as_deref(),
            topic_arn: &topic_arn,
            subject: p.subject.as_deref(),
            published_ms: now,
            attributes: &p.message_attributes,
            endpoint: &endpoint,
            signature_version: SignatureVersion::from_attribute(
                topic.attributes.get("SignatureVersion").map(String::as_str),
            ),
        };
        let mut signatures = Signatures {
            engine: self,
            key: None,
            made: HashMap::new(),
        };
        let mut jobs = Vec::new();
        for sub in topic.subscriptions.iter().filter(|s| s.confirmed) {
            let message = body.for_protocol(&sub.protocol);
            if !passes_filter(&sub.attributes, &filter_attributes, message) {
                continue;
            }
            let subscription_arn = format!("{topic_arn}:{}", sub.id);
            match sub.protocol.as_str() {
                "sqs" => {
                    let request = if sub.raw_delivery() {
                        SendRequest {
                            body: message.to_string(),
                            attributes: p.message_attributes.clone(),
                            ..Default::default()
                        }
                    } else {
                        let signature = signatures.of(&doc, message).await?;
                        SendRequest {
                            body: doc.notification(
                                &Signed {
                                    message,
                                    signature: &signature,
                                },
                                &subscription_arn,
                            ),
                            ..Default::default()
                        }
                    };
                    let request = SendRequest {
                        group_id: ids.as_ref().map(|(g, _)| g.clone()),
                        dedup_id: ids.as_ref().map(|(_, d)| d.clone()),
                        sender_id: self.account().to_string(),
                        ..request
                    };
                    if let Some(queue) = QueueKey::from_arn(&sub.endpoint) {
                        self.deliver_to_queue(sub, &queue, request, false).await;
                    }
                }
                "lambda" => {
                    let signature = signatures.of(&doc, message).await?;
                    let request = SendRequest {
                        body: doc.lambda_record(
                            &Signed {
                                message,
                                signature: &signature,
                            },
                            &subscription_arn,
                        ),
                        sender_id: self.account().to_string(),
                        ..Default::default()
                    };
                    if let Some(queue) = function_queue(&sub.endpoint) {
                        self.deliver_to_queue(sub, &queue, request, true).await;
                    }
                }
                "http" | "https" => {
                    let body = if sub.raw_delivery() {
                        message.to_string()
                    } else {
                        let signature = signatures.of(&doc, message).await?;
                        doc.notification(
                            &Signed {
                                message,
                                signature: &signature,
                            },
                            &subscription_arn,
                        )
                    };
                    jobs.push(DeliveryJob {
                        subscription_arn,
                        endpoint: sub.endpoint.clone(),
                        message_type: MessageType::Notification,
                        message_id: message_id.clone(),
                        topic_arn: topic_arn.clone(),
                        raw: sub.raw_delivery(),
                        body,
                        attributes: if sub.raw_delivery() {
                            p.message_attributes.clone()
                        } else {
                            Attributes::new()
                        },
                    });
                }
                _ => {}
            }
        }
        if !jobs.is_empty() {
            self.enqueue_deliveries(jobs).await?;
        }
        Ok(PublishResult {
            message_id,
            sequence_number,
        })
    }

    /// Sends one delivery to a queue; `internal` queues (a function's) are made on first use.
    async fn deliver_to_queue(
        &self,
        sub: &SubscriptionRecord,
        queue: &QueueKey,
        request: SendRequest,
        internal: bool,
    ) {
        let sent = if internal {
            self.send_internal(queue, vec![request.clone()]).await
        } else {
            self.send(queue, vec![request.clone()]).await
        };
        let failure = match sent {
            Ok(mut results) => match results.pop() {
                Some(Ok(_)) => return,
                Some(Err(e)) => e,
                None => return,
            },
            Err(e) => e,
        };
        let dead_letter = sub
            .attributes
            .get("RedrivePolicy")
            .and_then(|p| redrive_target(p));
        match dead_letter {
            Some(dlq) => {
                if let Err(e) = self.send(&dlq, vec![request]).await {
                    tracing::warn!(subscription = %sub.id, error = %e, "topic delivery and its dead-letter queue both failed");
                }
            }
            None => {
                tracing::warn!(subscription = %sub.id, queue = %queue.name, error = %failure, "topic delivery failed");
            }
        }
    }

    fn next_topic_sequence(&self, now: u64) -> u64 {
        let mut last = self.inner.topics.last_sequence.lock();
        *last = (*last + 1).max(now.saturating_mul(1000));
        *last
    }
}
