//! Subscriptions: who a topic delivers to. `sqs` and `lambda` subscriptions are confirmed at
//! once; `http`/`https` ones stay pending until the endpoint confirms: subscribing sends the
//! endpoint a signed `SubscriptionConfirmation` with a token, and ConfirmSubscription (or a GET
//! of its `SubscribeURL`) with that token confirms.

use std::collections::BTreeMap;

use super::attributes::{
    apply_subscription_attributes, Wording, DEFAULT_EFFECTIVE_DELIVERY_POLICY,
};
use super::delivery::{DeliveryJob, MessageType};
use super::envelope::{subscription_confirmation, ConfirmationParts};
use super::lambda::function_queue;
use super::record::{parse_subscription_arn, SubscriptionRecord, TopicRecord};
use super::signing::SignatureVersion;
use super::{invalid, TopicKey};
use crate::engine::error::{EngineError, EngineResult};
use crate::engine::queue::QueueKey;
use crate::engine::Engine;

/// What Subscribe answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeResult {
    pub subscription_arn: String,
    /// Waiting for the endpoint's confirmation (SNS then answers `pending confirmation` unless
    /// the caller asked for the ARN).
    pub pending: bool,
}

/// One row of ListSubscriptions / ListSubscriptionsByTopic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionInfo {
    pub subscription_arn: String,
    pub owner: String,
    pub protocol: String,
    pub endpoint: String,
    pub topic_arn: String,
    pub pending: bool,
}

fn subscription_not_found() -> EngineError {
    EngineError::NotFound("Subscription does not exist".into())
}

/// A confirmation token: 64 random bytes, hex.
fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    let more: [u8; 32] = rand::random();
    format!("{}{}", hex::encode(bytes), hex::encode(more))
}

impl Engine {
    fn subscription_arn(&self, topic: &TopicKey, id: &str) -> String {
        format!("{}:{id}", self.topic_arn(topic))
    }

    fn subscription_info(&self, t: &TopicRecord, s: &SubscriptionRecord) -> SubscriptionInfo {
        SubscriptionInfo {
            subscription_arn: self.subscription_arn(&t.key, &s.id),
            owner: s.owner.clone(),
            protocol: s.protocol.clone(),
            endpoint: s.endpoint.clone(),
            topic_arn: self.topic_arn(&t.key),
            pending: !s.confirmed,
        }
    }

    /// Subscribes an endpoint. The same protocol and endpoint again answers the existing
    /// subscription (an error if the attributes given differ from it).
    pub async fn subscribe(
        &self,
        topic_arn: &str,
        protocol: &str,
        endpoint: &str,
        attributes: BTreeMap<String, String>,
    ) -> EngineResult<SubscribeResult> {
        let key = self.topic_key(topic_arn)?;
        let topic = self.require_topic(&key).await?;
        let protocol = protocol.to_ascii_lowercase();
        let confirmed = self.check_endpoint(&topic, &protocol, endpoint).await?;
        let attrs = apply_subscription_attributes(
            &BTreeMap::new(),
            &attributes,
            &protocol,
            Wording::Subscribe,
        )?;
        let owner = self.account().to_string();
        let now = self.now_ms();
        let needs_token = matches!(protocol.as_str(), "http" | "https");
        let (id, pending, token) = self
            .modify_topic(topic_arn, |t| {
                if let Some(s) = t
                    .subscriptions
                    .iter_mut()
                    .find(|s| s.protocol == protocol && s.endpoint == endpoint)
                {
                    let differs = attrs.iter().any(|(k, v)| {
                        let current = s.attributes.get(k).map(String::as_str);
                        // An unset RawMessageDelivery is `false`.
                        current.or((k == "RawMessageDelivery").then_some("false")) != Some(v)
                    });
                    if differs {
                        return Err(invalid(
                            "Invalid parameter: Attributes Reason: Subscription already exists with different attributes",
                        ));
                    }
                    if needs_token && !s.confirmed && s.token.is_none() {
                        s.token = Some(new_token());
                    }
                    return Ok((s.id.clone(), !s.confirmed, s.token.clone()));
                }
                let id = uuid::Uuid::new_v4().to_string();
                let token = needs_token.then(new_token);
                t.subscriptions.push(SubscriptionRecord {
                    id: id.clone(),
                    protocol: protocol.clone(),
                    endpoint: endpoint.to_string(),
                    attributes: attrs,
                    confirmed,
                    owner,
                    created_ms: now,
                    token: token.clone(),
                    authenticate_on_unsubscribe: false,
                });
                Ok((id, !confirmed, token))
            })
            .await?;
        let subscription_arn = self.subscription_arn(&key, &id);
        // A pending HTTP/S subscription gets its confirmation, again on each Subscribe (as SNS
        // resends it), so a client that retries after an error here still gets one.
        if let (true, Some(token)) = (pending, token) {
            self.send_confirmation(&topic, &subscription_arn, endpoint, &token)
                .await?;
        }
        Ok(SubscribeResult {
            subscription_arn,
            pending,
        })
    }

    async fn send_confirmation(
        &self,
        topic: &TopicRecord,
        subscription_arn: &str,
        endpoint: &str,
        token: &str,
    ) -> EngineResult<()> {
        let key = self.topic_signer().await?;
        let message_id = uuid::Uuid::new_v4().to_string();
        let topic_arn = self.topic_arn(&topic.key);
        let public = self.topic_public_endpoint();
        let body = subscription_confirmation(
            &ConfirmationParts {
                message_id: &message_id,
                topic_arn: &topic_arn,
                token,
                sent_ms: self.now_ms(),
                endpoint: &public,
                signature_version: SignatureVersion::from_attribute(
                    topic.attributes.get("SignatureVersion").map(String::as_str),
                ),
            },
            &key,
        );
        self.enqueue_deliveries(vec![DeliveryJob {
            subscription_arn: subscription_arn.to_string(),
            endpoint: endpoint.to_string(),
            message_type: MessageType::SubscriptionConfirmation,
            message_id,
            topic_arn,
            raw: false,
            body,
            attributes: Default::default(),
        }])
        .await
    }

    /// Confirms the pending subscription the token was sent to and answers its ARN; a token
    /// already used answers the same. `authenticate_on_unsubscribe`: from then on only an
    /// authenticated Unsubscribe removes it (not the unsubscribe link).
    pub async fn confirm_subscription(
        &self,
        topic_arn: &str,
        token: &str,
        authenticate_on_unsubscribe: bool,
    ) -> EngineResult<String> {
        let key = self.topic_key(topic_arn)?;
        let id = self
            .modify_topic(topic_arn, |t| {
                let s = t
                    .subscriptions
                    .iter_mut()
                    .find(|s| !token.is_empty() && s.token.as_deref() == Some(token))
                    .ok_or_else(|| invalid("Invalid token"))?;
                s.confirmed = true;
                s.authenticate_on_unsubscribe |= authenticate_on_unsubscribe;
                Ok(s.id.clone())
            })
            .await?;
        Ok(self.subscription_arn(&key, &id))
    }

    /// Unsubscribes through the unsigned unsubscribe link: refused for a subscription
    /// confirmed with `AuthenticateOnUnsubscribe`.
    pub async fn unsubscribe_by_link(&self, subscription_arn: &str) -> EngineResult<()> {
        let (key, id) = parse_subscription_arn(subscription_arn)
            .ok_or_else(|| invalid("Invalid parameter: SubscriptionArn"))?;
        if let Some(t) = self.store().get_topic(&key).await? {
            if t.subscriptions
                .iter()
                .any(|s| s.id == id && s.authenticate_on_unsubscribe)
            {
                return Err(EngineError::InvalidSecurity(
                    "This subscription requires an authenticated Unsubscribe".into(),
                ));
            }
        }
        self.unsubscribe(subscription_arn).await
    }

    /// Validates an endpoint for its protocol; answers whether it is confirmed at once.
    async fn check_endpoint(
        &self,
        topic: &TopicRecord,
        protocol: &str,
        endpoint: &str,
    ) -> EngineResult<bool> {
        if topic.is_fifo() && protocol != "sqs" {
            return Err(invalid(format!(
                "Invalid parameter: Invalid protocol type: {protocol}. FIFO topics deliver to SQS queues only"
            )));
        }
        match protocol {
            "sqs" => {
                let queue = QueueKey::from_arn(endpoint)
                    .ok_or_else(|| invalid("Invalid parameter: SQS endpoint ARN"))?;
                let record = self.store().get_queue(&queue).await?.ok_or_else(|| {
                    invalid(format!(
                        "Invalid parameter: Endpoint Reason: queue {endpoint} does not exist"
                    ))
                })?;
                match (topic.is_fifo(), record.is_fifo()) {
                    (true, false) => Err(invalid(
                        "Invalid parameter: Endpoint Reason: FIFO SNS topics deliver to FIFO SQS queues only",
                    )),
                    (false, true) => Err(invalid(
                        "Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics",
                    )),
                    _ => Ok(true),
                }
            }
            "http" | "https" => {
                if endpoint.starts_with(&format!("{protocol}://"))
                    && endpoint.len() > protocol.len() + 3
                {
                    Ok(false)
                } else {
                    Err(invalid(
                        "Invalid parameter: Endpoint must match the specified protocol",
                    ))
                }
            }
            "lambda" => {
                if function_queue(endpoint).is_some() {
                    Ok(true)
                } else {
                    Err(invalid("Invalid parameter: Lambda endpoint ARN"))
                }
            }
            other => Err(invalid(format!(
                "Invalid parameter: Amazon SNS does not support this protocol string: {other}"
            ))),
        }
    }

    /// Removes a subscription. One that does not exist (any more) is no error.
    pub async fn unsubscribe(&self, subscription_arn: &str) -> EngineResult<()> {
        let (key, id) = parse_subscription_arn(subscription_arn)
            .ok_or_else(|| invalid("Invalid parameter: SubscriptionArn"))?;
        let topic_arn = self.topic_arn(&key);
        match self
            .modify_topic(&topic_arn, |t| {
                t.subscriptions.retain(|s| s.id != id);
                Ok(())
            })
            .await
        {
            Err(EngineError::NotFound(_)) => Ok(()),
            other => other,
        }
    }

    /// Every subscription of a region's topics, topic by topic.
    pub async fn list_subscriptions(&self, region: &str) -> EngineResult<Vec<SubscriptionInfo>> {
        let topics = self.store().list_topics(region).await?;
        Ok(topics
            .iter()
            .flat_map(|t| t.subscriptions.iter().map(|s| self.subscription_info(t, s)))
            .collect())
    }

    pub async fn list_subscriptions_by_topic(
        &self,
        topic_arn: &str,
    ) -> EngineResult<Vec<SubscriptionInfo>> {
        let t = self.get_topic(topic_arn).await?;
        Ok(t.subscriptions
            .iter()
            .map(|s| self.subscription_info(&t, s))
            .collect())
    }

    async fn find_subscription(
        &self,
        subscription_arn: &str,
    ) -> EngineResult<(TopicRecord, SubscriptionRecord)> {
        let (key, id) = parse_subscription_arn(subscription_arn)
            .ok_or_else(|| invalid("Invalid parameter: SubscriptionArn"))?;
        let t = self
            .store()
            .get_topic(&key)
            .await?
            .ok_or_else(subscription_not_found)?;
        let s = t
            .subscriptions
            .iter()
            .find(|s| s.id == id)
            .cloned()
            .ok_or_else(subscription_not_found)?;
        Ok((t, s))
    }

    /// Every attribute GetSubscriptionAttributes reports.
    pub async fn subscription_attributes(
        &self,
        subscription_arn: &str,
    ) -> EngineResult<BTreeMap<String, String>> {
        let (t, s) = self.find_subscription(subscription_arn).await?;
        let mut out = s.attributes.clone();
        if out.contains_key("FilterPolicy") {
            out.entry("FilterPolicyScope".into())
                .or_insert_with(|| "MessageAttributes".into());
        }
        out.entry("RawMessageDelivery".into())
            .or_insert_with(|| "false".into());
        if matches!(s.protocol.as_str(), "http" | "https") {
            let effective = s
                .attributes
                .get("DeliveryPolicy")
                .or_else(|| t.attributes.get("DeliveryPolicy"))
                .filter(|p| !p.is_empty())
                .cloned()
                .unwrap_or_else(|| DEFAULT_EFFECTIVE_DELIVERY_POLICY.to_string());
            out.insert("EffectiveDeliveryPolicy".into(), effective);
        }
        out.insert(
            "SubscriptionArn".into(),
            self.subscription_arn(&t.key, &s.id),
        );
        out.insert("TopicArn".into(), self.topic_arn(&t.key));
        out.insert("Owner".into(), s.owner.clone());
        out.insert("Protocol".into(), s.protocol.clone());
        out.insert("Endpoint".into(), s.endpoint.clone());
        out.insert("PendingConfirmation".into(), (!s.confirmed).to_string());
        out.insert(
            "ConfirmationWasAuthenticated".into(),
            s.confirmed.to_string(),
        );
        Ok(out)
    }

    pub async fn set_subscription_attribute(
        &self,
        subscription_arn: &str,
        name: &str,
        value: &str,
    ) -> EngineResult<()> {
        let (key, id) = parse_subscription_arn(subscription_arn)
            .ok_or_else(|| invalid("Invalid parameter: SubscriptionArn"))?;
        let topic_arn = self.topic_arn(&key);
        let result = self
            .modify_topic(&topic_arn, |t| {
                let s = t
                    .subscriptions
                    .iter_mut()
                    .find(|s| s.id == id)
                    .ok_or_else(subscription_not_found)?;
                s.attributes = apply_subscription_attributes(
                    &s.attributes,
                    &BTreeMap::from([(name.to_string(), value.to_string())]),
                    &s.protocol,
                    Wording::SetAttribute,
                )?;
                Ok(())
            })
            .await;
        match result {
            Err(EngineError::NotFound(_)) => Err(subscription_not_found()),
            other => other,
        }
    }
}
