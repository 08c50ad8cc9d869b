//! Topics: SNS semantics without a wire protocol. Creating and configuring topics, subscriptions
//! with their filter policies, and publishing with fan-out to subscribed queues through the
//! engine's own `send` (so a delivered message is exactly what an SQS client could have sent).
//!
//! HTTP/S subscribers get their deliveries through a durable job queue (`delivery`) that the
//! delivery worker drains; Lambda subscribers through their function's invoke queue (`lambda`).
//! Every document delivered is signed (`signing`).
//!
//! Subscriptions live inside their topic's record. Changes to a topic are read-modify-write of
//! that record, serialised on this node by `TopicsState::writes`.

pub mod attributes;
pub mod delivery;
pub mod delivery_policy;
pub mod envelope;
pub mod lambda;
mod permissions;
mod publish;
mod record;
pub mod signing;
mod subscriptions;

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;

use self::attributes::{
    default_topic_policy, normalise_topic_attribute, DEFAULT_EFFECTIVE_DELIVERY_POLICY,
};
use self::signing::SigningKey;
use super::error::{EngineError, EngineResult};
use super::Engine;
use crate::store::StoreError;

pub use delivery::{DeliveryJob, DeliveryTarget, MessageType};
pub use publish::{Publication, PublishResult};
pub use record::{
    parse_subscription_arn, FifoPublication, SubscriptionRecord, TopicKey, TopicRecord,
};
pub use subscriptions::{SubscribeResult, SubscriptionInfo};

/// Where notifications link back to until the server says where it is reached.
pub const DEFAULT_PUBLIC_ENDPOINT: &str = "http://localhost:4566";
/// Region of the HTTP/S delivery queue until the server says which it serves.
pub const DEFAULT_DELIVERY_REGION: &str = "us-east-1";
/// Most tags one topic may carry.
const MAX_TAGS: usize = 50;

/// The engine's per-node topic state.
pub(crate) struct TopicsState {
    /// Serialises read-modify-write of topic records on this node.
    writes: tokio::sync::Mutex<()>,
    last_sequence: Mutex<u64>,
    public_endpoint: Mutex<String>,
    delivery_region: Mutex<String>,
    /// Loaded from the store (or made and stored) on first use.
    signer: tokio::sync::OnceCell<Arc<SigningKey>>,
}

impl Default for TopicsState {
    fn default() -> Self {
        Self {
            writes: tokio::sync::Mutex::new(()),
            last_sequence: Mutex::new(0),
            public_endpoint: Mutex::new(DEFAULT_PUBLIC_ENDPOINT.to_string()),
            delivery_region: Mutex::new(DEFAULT_DELIVERY_REGION.to_string()),
            signer: tokio::sync::OnceCell::new(),
        }
    }
}

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::InvalidParameter(message.into())
}

fn topic_not_found() -> EngineError {
    EngineError::NotFound("Topic does not exist".into())
}

/// Topic names: 1–256 letters, digits, `-` and `_`; FIFO topics end in `.fifo`.
fn validate_topic_name(name: &str, fifo: bool) -> EngineResult<()> {
    let stem = name.strip_suffix(".fifo").unwrap_or(name);
    let valid = !stem.is_empty()
        && name.len() <= 256
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if fifo && (!valid || !name.ends_with(".fifo")) {
        return Err(invalid(
            "Invalid parameter: Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.",
        ));
    }
    if !valid || (!fifo && name.ends_with(".fifo")) {
        return Err(invalid("Invalid parameter: Topic Name"));
    }
    Ok(())
}

impl Engine {
    pub fn topic_arn(&self, key: &TopicKey) -> String {
        key.arn(self.account())
    }

    /// Sets the base URL notifications link back to (`UnsubscribeURL`, `SigningCertURL`).
    pub fn set_topic_public_endpoint(&self, url: impl Into<String>) {
        *self.inner.topics.public_endpoint.lock() = url.into();
    }

    pub fn topic_public_endpoint(&self) -> String {
        self.inner.topics.public_endpoint.lock().clone()
    }

    /// Sets the region whose `lull-sns-deliveries` queue holds HTTP/S delivery jobs (the one
    /// the delivery worker reads).
    pub fn set_topic_delivery_region(&self, region: impl Into<String>) {
        *self.inner.topics.delivery_region.lock() = region.into();
    }

    /// The key topic messages are signed with: the stored one, or a new one made and stored
    /// (if another node stored one meanwhile, that one is used).
    pub async fn topic_signer(&self) -> EngineResult<Arc<SigningKey>> {
        let key = self
            .inner
            .topics
            .signer
            .get_or_try_init(|| async {
                let corrupt = |e: signing::SigningError| StoreError::Corrupt(e.to_string());
                if let Some(pem) = self.store().signing_key().await? {
                    return Ok(Arc::new(SigningKey::from_stored(&pem).map_err(corrupt)?));
                }
                let (key, pem) = tokio::task::spawn_blocking(SigningKey::generate)
                    .await
                    .map_err(|e| StoreError::Io(e.to_string()))?
                    .map_err(|e| StoreError::Io(e.to_string()))?;
                let stored = self.store().init_signing_key(&pem).await?;
                if stored == pem {
                    Ok::<_, EngineError>(Arc::new(key))
                } else {
                    Ok(Arc::new(SigningKey::from_stored(&stored).map_err(corrupt)?))
                }
            })
            .await?;
        Ok(key.clone())
    }

    pub(crate) fn topic_key(&self, arn: &str) -> EngineResult<TopicKey> {
        TopicKey::from_arn(arn).ok_or_else(|| invalid("Invalid parameter: TopicArn"))
    }

    pub(crate) async fn require_topic(&self, key: &TopicKey) -> EngineResult<TopicRecord> {
        self.store()
            .get_topic(key)
            .await?
            .ok_or_else(topic_not_found)
    }

    /// Creates a topic, or returns the existing one when it was created with the same
    /// attributes (and tags, when tags are given).
    pub async fn create_topic(
        &self,
        key: TopicKey,
        attributes: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
    ) -> EngineResult<TopicRecord> {
        let fifo = attributes
            .get("FifoTopic")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        validate_topic_name(&key.name, fifo)?;
        let mut given = BTreeMap::new();
        for (name, value) in &attributes {
            given.insert(
                name.clone(),
                normalise_topic_attribute(name, value, fifo, true)?,
            );
        }
        // `FifoTopic=false` is the default; only a FIFO topic records the flag.
        if !fifo {
            given.remove("FifoTopic");
        }
        validate_tags(&tags)?;
        let record = TopicRecord {
            key,
            attributes: given.clone(),
            tags: tags.clone(),
            subscriptions: Vec::new(),
            created_ms: self.now_ms(),
        };
        let (existing, created) = self.store().create_topic(record).await?;
        if !created {
            if given
                .iter()
                .any(|(k, v)| existing.attributes.get(k) != Some(v))
            {
                return Err(invalid(
                    "Invalid parameter: Attributes Reason: Topic already exists with different attributes",
                ));
            }
            if !tags.is_empty() && tags != existing.tags {
                return Err(invalid(
                    "Invalid parameter: Tags Reason: Topic already exists with different tags",
                ));
            }
        }
        Ok(existing)
    }

    /// Deletes a topic and its subscriptions. Deleting a topic that does not exist is no error.
    pub async fn delete_topic(&self, topic_arn: &str) -> EngineResult<()> {
        let key = self.topic_key(topic_arn)?;
        let _w = self.inner.topics.writes.lock().await;
        self.store().delete_topic(&key).await?;
        Ok(())
    }

    /// The ARNs of a region's topics, sorted by name.
    pub async fn list_topics(&self, region: &str) -> EngineResult<Vec<String>> {
        Ok(self
            .store()
            .list_topics(region)
            .await?
            .iter()
            .map(|t| self.topic_arn(&t.key))
            .collect())
    }

    pub async fn get_topic(&self, topic_arn: &str) -> EngineResult<TopicRecord> {
        self.require_topic(&self.topic_key(topic_arn)?).await
    }

    /// Every attribute GetTopicAttributes reports, computed ones included.
    pub async fn topic_attributes(
        &self,
        topic_arn: &str,
    ) -> EngineResult<BTreeMap<String, String>> {
        let t = self.get_topic(topic_arn).await?;
        let arn = self.topic_arn(&t.key);
        let confirmed = t.subscriptions.iter().filter(|s| s.confirmed).count();
        let pending = t.subscriptions.len() - confirmed;
        let mut out: BTreeMap<String, String> = t
            .attributes
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.entry("DisplayName".into()).or_default();
        out.entry("Policy".into())
            .or_insert_with(|| default_topic_policy(&arn, self.account()));
        let effective = t
            .attributes
            .get("DeliveryPolicy")
            .filter(|p| !p.is_empty())
            .cloned()
            .unwrap_or_else(|| DEFAULT_EFFECTIVE_DELIVERY_POLICY.to_string());
        out.insert("EffectiveDeliveryPolicy".into(), effective);
        if t.is_fifo() {
            out.entry("ContentBasedDeduplication".into())
                .or_insert_with(|| "false".into());
        }
        out.insert("TopicArn".into(), arn);
        out.insert("Owner".into(), self.account().to_string());
        out.insert("SubscriptionsConfirmed".into(), confirmed.to_string());
        out.insert("SubscriptionsPending".into(), pending.to_string());
        // Subscriptions are removed at once, never kept as deleted.
        out.insert("SubscriptionsDeleted".into(), "0".into());
        Ok(out)
    }

    pub async fn set_topic_attribute(
        &self,
        topic_arn: &str,
        name: &str,
        value: &str,
    ) -> EngineResult<()> {
        self.modify_topic(topic_arn, |t| {
            let v = normalise_topic_attribute(name, value, t.is_fifo(), false)?;
            if v.is_empty() {
                t.attributes.remove(name);
            } else {
                t.attributes.insert(name.to_string(), v);
            }
            Ok(())
        })
        .await
    }

    pub async fn tag_topic(
        &self,
        topic_arn: &str,
        tags: BTreeMap<String, String>,
    ) -> EngineResult<()> {
        validate_tags(&tags)?;
        self.modify_resource(topic_arn, |t| {
            t.tags.extend(tags);
            if t.tags.len() > MAX_TAGS {
                return Err(EngineError::OverLimit(
                    "Could not complete request: tag quota of per resource exceeded".into(),
                ));
            }
            Ok(())
        })
        .await
    }

    pub async fn untag_topic(&self, topic_arn: &str, keys: &[String]) -> EngineResult<()> {
        self.modify_resource(topic_arn, |t| {
            for k in keys {
                t.tags.remove(k);
            }
            Ok(())
        })
        .await
    }

    pub async fn topic_tags(&self, topic_arn: &str) -> EngineResult<BTreeMap<String, String>> {
        let key = self.topic_key(topic_arn)?;
        match self.store().get_topic(&key).await? {
            Some(t) => Ok(t.tags),
            None => Err(resource_not_found()),
        }
    }

    /// Tag actions name the topic as a resource: a missing one is `ResourceNotFound`.
    async fn modify_resource(
        &self,
        topic_arn: &str,
        f: impl FnOnce(&mut TopicRecord) -> EngineResult<()>,
    ) -> EngineResult<()> {
        match self.modify_topic(topic_arn, f).await {
            Err(EngineError::NotFound(_)) => Err(resource_not_found()),
            other => other,
        }
    }

    /// Read-modify-write of one topic record.
    pub(crate) async fn modify_topic<T>(
        &self,
        topic_arn: &str,
        f: impl FnOnce(&mut TopicRecord) -> EngineResult<T>,
    ) -> EngineResult<T> {
        let key = self.topic_key(topic_arn)?;
        let _w = self.inner.topics.writes.lock().await;
        let mut t = self.require_topic(&key).await?;
        let out = f(&mut t)?;
        if !self.store().update_topic(t).await? {
            return Err(topic_not_found());
        }
        Ok(out)
    }
}

fn resource_not_found() -> EngineError {
    EngineError::ResourceNotFound("Resource does not exist".into())
}

fn validate_tags(tags: &BTreeMap<String, String>) -> EngineResult<()> {
    if tags.len() > MAX_TAGS {
        return Err(EngineError::OverLimit(
            "Could not complete request: tag quota of per resource exceeded".into(),
        ));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(invalid(format!(
                "Invalid parameter: Tags Reason: invalid tag {k}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_sns_rules() {
        assert!(validate_topic_name("orders", false).is_ok());
        assert!(validate_topic_name("a-b_C9", false).is_ok());
        assert!(validate_topic_name("orders.fifo", true).is_ok());
        assert!(validate_topic_name("orders.fifo", false).is_err());
        assert!(validate_topic_name("orders", true).is_err());
        assert!(validate_topic_name("", false).is_err());
        assert!(validate_topic_name(".fifo", true).is_err());
        assert!(validate_topic_name("has space", false).is_err());
        assert!(validate_topic_name(&"x".repeat(256), false).is_ok());
        assert!(validate_topic_name(&"x".repeat(257), false).is_err());
    }
}
