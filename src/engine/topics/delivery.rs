//! Durable HTTP/S deliveries. Publishing (and subscribing, for the confirmation) turns each
//! HTTP/S delivery into a job on the internal standard queue `lull-sns-deliveries`, stored
//! before the publish is answered, so a delivery survives a crash or restart. The delivery
//! worker reads the queue like any consumer: it posts the job, deletes it on a 2xx, and
//! otherwise schedules the retry its subscription's delivery policy calls for by changing the
//! job's visibility; once retries are spent the job goes to the subscription's dead-letter
//! queue, if it has one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::attributes::redrive_target;
use super::delivery_policy::{effective, EffectivePolicy};
use super::record::parse_subscription_arn;
use crate::engine::error::{EngineError, EngineResult};
use crate::engine::message::Attributes;
use crate::engine::queue::QueueKey;
use crate::engine::sending::{SendRequest, SendResult};
use crate::engine::Engine;

/// The internal queue HTTP/S deliveries wait in.
pub const DELIVERY_QUEUE: &str = "lull-sns-deliveries";
/// How many jobs go to the queue in one send.
const SEND_BATCH: usize = 10;

/// What a delivery carries (`x-amz-sns-message-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageType {
    Notification,
    SubscriptionConfirmation,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Notification => "Notification",
            MessageType::SubscriptionConfirmation => "SubscriptionConfirmation",
        }
    }
}

/// One HTTP/S delivery, as the job queue keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryJob {
    pub subscription_arn: String,
    /// The URL posted to.
    pub endpoint: String,
    pub message_type: MessageType,
    pub message_id: String,
    pub topic_arn: String,
    /// The message alone (raw delivery) rather than a signed JSON document.
    #[serde(default)]
    pub raw: bool,
    /// What is posted.
    pub body: String,
    /// The published message attributes, which a raw delivery dead-lettered keeps.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: Attributes,
}

/// How a job is delivered now: the subscription's policy as it stands at delivery time.
#[derive(Debug, Clone)]
pub struct DeliveryTarget {
    pub policy: EffectivePolicy,
    pub dead_letter: Option<QueueKey>,
}

impl Engine {
    /// The queue HTTP/S delivery jobs wait in.
    pub fn topic_delivery_queue(&self) -> QueueKey {
        QueueKey::new(
            self.inner.topics.delivery_region.lock().clone(),
            DELIVERY_QUEUE,
        )
    }

    /// Sends to a queue lull itself owns, making the queue (standard, default attributes)
    /// when it does not exist yet.
    pub(crate) async fn send_internal(
        &self,
        queue: &QueueKey,
        requests: Vec<SendRequest>,
    ) -> EngineResult<Vec<EngineResult<SendResult>>> {
        match self.send(queue, requests.clone()).await {
            Err(EngineError::QueueDoesNotExist) => {
                self.create_queue(queue.clone(), BTreeMap::new(), BTreeMap::new())
                    .await?;
                self.send(queue, requests).await
            }
            other => other,
        }
    }

    /// Stores delivery jobs durably; an error means some may not be stored.
    pub(crate) async fn enqueue_deliveries(&self, jobs: Vec<DeliveryJob>) -> EngineResult<()> {
        let queue = self.topic_delivery_queue();
        for chunk in jobs.chunks(SEND_BATCH) {
            let requests = chunk
                .iter()
                .map(|job| SendRequest {
                    // Serialising strings and maps of strings cannot fail.
                    body: serde_json::to_string(job).unwrap_or_default(),
                    sender_id: self.account().to_string(),
                    ..Default::default()
                })
                .collect();
            for result in self.send_internal(&queue, requests).await? {
                result?;
            }
        }
        Ok(())
    }

    /// Where and how a job goes now; `None` when it should be dropped: the subscription is
    /// gone (or its topic), or a confirmation is no longer awaited.
    pub async fn delivery_target(&self, job: &DeliveryJob) -> EngineResult<Option<DeliveryTarget>> {
        let Some((key, id)) = parse_subscription_arn(&job.subscription_arn) else {
            return Ok(None);
        };
        let Some(topic) = self.store().get_topic(&key).await? else {
            return Ok(None);
        };
        let Some(sub) = topic.subscriptions.iter().find(|s| s.id == id) else {
            return Ok(None);
        };
        let wanted = match job.message_type {
            MessageType::Notification => sub.confirmed,
            MessageType::SubscriptionConfirmation => !sub.confirmed,
        };
        if !wanted || sub.endpoint != job.endpoint {
            return Ok(None);
        }
        Ok(Some(DeliveryTarget {
            policy: effective(
                topic.attributes.get("DeliveryPolicy").map(String::as_str),
                sub.attributes.get("DeliveryPolicy").map(String::as_str),
            ),
            dead_letter: sub
                .attributes
                .get("RedrivePolicy")
                .and_then(|p| redrive_target(p)),
        }))
    }

    /// Puts a job whose retries are spent on its subscription's dead-letter queue: the body
    /// that was posted (with the message attributes, for a raw delivery).
    pub async fn dead_letter_delivery(
        &self,
        job: &DeliveryJob,
        dead_letter: &QueueKey,
    ) -> EngineResult<()> {
        let request = SendRequest {
            body: job.body.clone(),
            attributes: if job.raw {
                job.attributes.clone()
            } else {
                Attributes::new()
            },
            sender_id: self.account().to_string(),
            ..Default::default()
        };
        let mut results = self.send(dead_letter, vec![request]).await?;
        match results.pop() {
            Some(r) => r.map(|_| ()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_as_json() {
        let job = DeliveryJob {
            subscription_arn: "arn:aws:sns:us-east-1:1:t:abc".into(),
            endpoint: "http://127.0.0.1:9/hook".into(),
            message_type: MessageType::SubscriptionConfirmation,
            message_id: "m".into(),
            topic_arn: "arn:aws:sns:us-east-1:1:t".into(),
            raw: false,
            body: "{}".into(),
            attributes: Attributes::new(),
        };
        let text = serde_json::to_string(&job).unwrap();
        assert!(
            !text.contains("attributes"),
            "empty attributes are left out"
        );
        assert_eq!(serde_json::from_str::<DeliveryJob>(&text).unwrap(), job);
    }
}
