//! What the store keeps about a topic and its subscriptions, and the ARNs that name them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::clock::Millis;

/// A topic is identified by its region and name; the account is the server's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TopicKey {
    pub region: String,
    pub name: String,
}

impl TopicKey {
    pub fn new(region: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            name: name.into(),
        }
    }

    pub fn arn(&self, account: &str) -> String {
        format!("arn:aws:sns:{}:{}:{}", self.region, account, self.name)
    }

    /// Parses `arn:aws:sns:REGION:ACCOUNT:NAME`; a subscription ARN (one more `:ID`) is refused.
    pub fn from_arn(arn: &str) -> Option<Self> {
        let (region, name, rest) = split_sns_arn(arn)?;
        rest.is_none().then(|| Self::new(region, name))
    }
}

/// Splits an SNS ARN into region, topic name and the subscription id after it, if any.
fn split_sns_arn(arn: &str) -> Option<(&str, &str, Option<&str>)> {
    let mut parts = arn.splitn(7, ':');
    let (tag, _partition, service, region, _account, name) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let ok = tag == "arn" && service == "sns" && !region.is_empty() && !name.is_empty();
    ok.then_some((region, name, parts.next()))
}

/// A subscription ARN: the topic's ARN plus `:ID`.
pub fn parse_subscription_arn(arn: &str) -> Option<(TopicKey, String)> {
    let (region, name, id) = split_sns_arn(arn)?;
    let id = id.filter(|i| !i.is_empty() && !i.contains(':'))?;
    Some((TopicKey::new(region, name), id.to_string()))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    /// A UUID; the subscription ARN is the topic ARN plus `:id`.
    pub id: String,
    pub protocol: String,
    pub endpoint: String,
    /// Settable attributes as the client set them (normalised).
    pub attributes: BTreeMap<String, String>,
    /// Pending subscriptions (HTTP/S until the endpoint confirms) receive nothing.
    pub confirmed: bool,
    pub owner: String,
    #[serde(default)]
    pub created_ms: Millis,
    /// HTTP/S: the token the confirmation message carried; ConfirmSubscription presents it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Confirmed with `AuthenticateOnUnsubscribe`: the unsigned unsubscribe link is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub authenticate_on_unsubscribe: bool,
}

impl SubscriptionRecord {
    pub fn raw_delivery(&self) -> bool {
        self.attributes
            .get("RawMessageDelivery")
            .map(String::as_str)
            == Some("true")
    }
}

/// What a FIFO topic remembers of a publication for its deduplication window: a repeat of the
/// deduplication id is answered with the first publication's id and sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FifoPublication {
    pub message_id: String,
    pub sequence: u64,
    pub expires_ms: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicRecord {
    pub key: TopicKey,
    /// Settable attributes as set (plus `FifoTopic` for FIFO topics).
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub subscriptions: Vec<SubscriptionRecord>,
    pub created_ms: Millis,
}

impl TopicRecord {
    pub fn is_fifo(&self) -> bool {
        self.attributes.get("FifoTopic").map(String::as_str) == Some("true")
    }

    pub fn content_based_deduplication(&self) -> bool {
        self.attributes
            .get("ContentBasedDeduplication")
            .map(String::as_str)
            == Some("true")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_round_trip_and_are_told_apart() {
        let k = TopicKey::new("eu-west-1", "orders.fifo");
        let arn = k.arn("123456789012");
        assert_eq!(arn, "arn:aws:sns:eu-west-1:123456789012:orders.fifo");
        assert_eq!(TopicKey::from_arn(&arn), Some(k.clone()));
        let sub = format!("{arn}:0b7c1b7e-6c53-4bd4-a0b3-1c5c9f1c0f00");
        assert_eq!(TopicKey::from_arn(&sub), None);
        assert_eq!(
            parse_subscription_arn(&sub),
            Some((k, "0b7c1b7e-6c53-4bd4-a0b3-1c5c9f1c0f00".to_string()))
        );
        assert_eq!(parse_subscription_arn(&arn), None);
        assert_eq!(TopicKey::from_arn("arn:aws:sqs:us-east-1:1:q"), None);
        assert_eq!(TopicKey::from_arn("nonsense"), None);
    }
}
