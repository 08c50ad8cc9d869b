//! Topic and subscription attributes: which ones a client may set, their validation (with SNS's
//! `InvalidParameter` texts) and the computed ones.

use std::collections::BTreeMap;

use super::delivery_policy::{validate_subscription_policy, validate_topic_policy};
use crate::engine::error::{EngineError, EngineResult};
use crate::engine::filter_policy::{FilterPolicy, PolicyError, Scope};
use crate::engine::queue::QueueKey;

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::InvalidParameter(message.into())
}

fn boolean(name: &str, value: &str) -> EngineResult<String> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok("true".into()),
        "false" => Ok("false".into()),
        _ => Err(invalid(format!(
            "Invalid parameter: {name}: Invalid value [{value}]. Must be true or false."
        ))),
    }
}

fn json(name: &str, value: &str) -> EngineResult<String> {
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(serde_json::Value::Object(_)) => Ok(value.to_string()),
        _ => Err(invalid(format!(
            "Invalid parameter: {name}: failed to parse JSON."
        ))),
    }
}

/// Validates one settable topic attribute. `creating` allows `FifoTopic`, which is fixed at
/// creation.
pub fn normalise_topic_attribute(
    name: &str,
    value: &str,
    fifo: bool,
    creating: bool,
) -> EngineResult<String> {
    match name {
        "DisplayName" if value.chars().count() <= 100 => Ok(value.to_string()),
        "DisplayName" => Err(invalid("Invalid parameter: DisplayName")),
        "DeliveryPolicy" if !value.is_empty() => {
            validate_topic_policy(value)?;
            Ok(value.to_string())
        }
        "Policy" | "DeliveryPolicy" | "ArchivePolicy" | "DataProtectionPolicy" => {
            if value.is_empty() {
                Ok(String::new())
            } else {
                json(name, value)
            }
        }
        "KmsMasterKeyId" => Ok(value.to_string()),
        "SignatureVersion" => match value {
            "1" | "2" => Ok(value.to_string()),
            _ => Err(invalid(
                "Invalid parameter: SignatureVersion: Must be either 1 or 2",
            )),
        },
        "TracingConfig" => match value {
            "PassThrough" | "Active" => Ok(value.to_string()),
            _ => Err(invalid(
                "Invalid parameter: TracingConfig: Must be either PassThrough or Active",
            )),
        },
        "ContentBasedDeduplication" if fifo => boolean(name, value),
        "ContentBasedDeduplication" => Err(invalid(
            "Invalid parameter: ContentBasedDeduplication Reason: Content based deduplication can only be set for FIFO topics",
        )),
        "FifoThroughputScope" if fifo => match value {
            "Topic" | "MessageGroup" => Ok(value.to_string()),
            _ => Err(invalid("Invalid parameter: FifoThroughputScope")),
        },
        "FifoTopic" if creating => boolean(name, value),
        _ => Err(invalid("Invalid parameter: AttributeName")),
    }
}

/// What SNS reports as a topic's delivery policy when none is set (the HTTP retry defaults).
pub const DEFAULT_EFFECTIVE_DELIVERY_POLICY: &str = r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}"#;

/// The access policy reported for a topic that has none of its own: the owner may do anything.
pub fn default_topic_policy(topic_arn: &str, account: &str) -> String {
    serde_json::json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [
                "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                "SNS:ListSubscriptionsByTopic", "SNS:Publish"
            ],
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": account}}
        }]
    })
    .to_string()
}

/// Settable subscription attributes.
const SUBSCRIPTION_SETTABLE: &[&str] = &[
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
];

/// Which message wording a policy error takes: Subscribe's or SetSubscriptionAttributes'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wording {
    Subscribe,
    SetAttribute,
}

fn policy_error(e: PolicyError, wording: Wording) -> EngineError {
    match wording {
        Wording::Subscribe => invalid(e.subscribe_message()),
        Wording::SetAttribute => invalid(e.to_string()),
    }
}

/// Validates the settable subscription attributes given together (Subscribe's `Attributes`, or
/// one SetSubscriptionAttributes change merged into the current ones) and answers the result.
/// An empty value removes an attribute; the filter policy is checked against the scope in force
/// after all of them apply, so their order does not matter.
pub fn apply_subscription_attributes(
    current: &BTreeMap<String, String>,
    changes: &BTreeMap<String, String>,
    protocol: &str,
    wording: Wording,
) -> EngineResult<BTreeMap<String, String>> {
    let mut next = current.clone();
    for (name, value) in changes {
        let normalised = normalise_subscription_attribute(protocol, name, value, wording)?;
        if normalised.is_empty() && name != "RawMessageDelivery" {
            next.remove(name);
        } else {
            next.insert(name.clone(), normalised);
        }
    }
    if let Some(policy) = next.get("FilterPolicy") {
        let scope = match next.get("FilterPolicyScope") {
            Some(s) => Scope::parse(s).map_err(|e| policy_error(e, wording))?,
            None => Scope::default(),
        };
        FilterPolicy::parse(policy, scope).map_err(|e| policy_error(e, wording))?;
    }
    Ok(next)
}

fn normalise_subscription_attribute(
    protocol: &str,
    name: &str,
    value: &str,
    wording: Wording,
) -> EngineResult<String> {
    if !SUBSCRIPTION_SETTABLE.contains(&name) {
        return Err(invalid("Invalid parameter: AttributeName"));
    }
    match name {
        "RawMessageDelivery" => {
            if !matches!(protocol, "sqs" | "http" | "https" | "firehose") {
                return Err(invalid(format!(
                    "Invalid parameter: Delivery protocol [{protocol}] does not support raw message delivery."
                )));
            }
            boolean(name, value)
        }
        "FilterPolicyScope" => {
            Scope::parse(value).map_err(|e| policy_error(e, wording))?;
            Ok(value.to_string())
        }
        "RedrivePolicy" if !value.is_empty() => match redrive_target(value) {
            Some(_) => Ok(value.to_string()),
            None => Err(invalid(
                "Invalid parameter: RedrivePolicy: deadLetterTargetArn is missing or not an SQS queue ARN",
            )),
        },
        "DeliveryPolicy" if !value.is_empty() => {
            validate_subscription_policy(value)?;
            Ok(value.to_string())
        }
        "ReplayPolicy" if !value.is_empty() => json(name, value),
        _ => Ok(value.to_string()),
    }
}

/// The dead-letter queue named by a subscription's RedrivePolicy.
pub fn redrive_target(policy: &str) -> Option<QueueKey> {
    let v: serde_json::Value = serde_json::from_str(policy).ok()?;
    QueueKey::from_arn(v.get("deadLetterTargetArn")?.as_str()?)
}

/// Whether a message passes a subscription's filter policy (no policy: every message does).
/// A stored policy that no longer compiles lets nothing through rather than everything.
pub fn passes_filter(
    attributes: &BTreeMap<String, String>,
    message_attributes: &BTreeMap<String, (String, String)>,
    body: &str,
) -> bool {
    let Some(policy) = attributes.get("FilterPolicy") else {
        return true;
    };
    let scope = attributes
        .get("FilterPolicyScope")
        .and_then(|s| Scope::parse(s).ok())
        .unwrap_or_default();
    match FilterPolicy::parse(policy, scope) {
        Ok(p) => {
            let parsed = match scope {
                Scope::MessageBody => serde_json::from_str(body).ok(),
                Scope::MessageAttributes => None,
            };
            p.matches(message_attributes, parsed.as_ref())
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_body_policy_and_its_scope_may_come_in_any_order() {
        let given = map(&[
            ("FilterPolicy", r#"{"a":{"b":["c"]}}"#),
            ("FilterPolicyScope", "MessageBody"),
        ]);
        let out =
            apply_subscription_attributes(&BTreeMap::new(), &given, "sqs", Wording::Subscribe)
                .expect("valid together");
        assert_eq!(out, given);
        // Switching the scope back under a nested policy is refused, the state kept.
        let back = map(&[("FilterPolicyScope", "MessageAttributes")]);
        let err = apply_subscription_attributes(&out, &back, "sqs", Wording::SetAttribute)
            .expect_err("nested policy needs the body scope");
        assert!(err.to_string().contains("nested"), "{err}");
    }

    #[test]
    fn empty_values_remove_and_booleans_normalise() {
        let current = map(&[("FilterPolicy", r#"{"a":["b"]}"#)]);
        let out = apply_subscription_attributes(
            &current,
            &map(&[("FilterPolicy", ""), ("RawMessageDelivery", "TRUE")]),
            "sqs",
            Wording::SetAttribute,
        )
        .expect("valid");
        assert_eq!(out, map(&[("RawMessageDelivery", "true")]));
        assert!(apply_subscription_attributes(
            &BTreeMap::new(),
            &map(&[("RawMessageDelivery", "true")]),
            "lambda",
            Wording::Subscribe,
        )
        .is_err());
    }

    #[test]
    fn redrive_policies_name_an_sqs_queue() {
        let ok = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dlq"}"#;
        assert_eq!(redrive_target(ok), Some(QueueKey::new("us-east-1", "dlq")));
        for bad in [
            "{}",
            "nope",
            r#"{"deadLetterTargetArn":"arn:aws:sns:us-east-1:1:t"}"#,
        ] {
            assert!(apply_subscription_attributes(
                &BTreeMap::new(),
                &map(&[("RedrivePolicy", bad)]),
                "sqs",
                Wording::SetAttribute,
            )
            .is_err());
        }
    }

    #[test]
    fn subscription_filters_apply_to_attributes_or_body() {
        let by_attr = map(&[("FilterPolicy", r#"{"k":["v"]}"#)]);
        let attrs = BTreeMap::from([("k".to_string(), ("String".to_string(), "v".to_string()))]);
        assert!(passes_filter(&by_attr, &attrs, "x"));
        assert!(!passes_filter(&by_attr, &BTreeMap::new(), "x"));
        assert!(passes_filter(&BTreeMap::new(), &BTreeMap::new(), "x"));
        let by_body = map(&[
            ("FilterPolicy", r#"{"k":["v"]}"#),
            ("FilterPolicyScope", "MessageBody"),
        ]);
        assert!(passes_filter(&by_body, &BTreeMap::new(), r#"{"k":"v"}"#));
        assert!(!passes_filter(&by_body, &attrs, "not json"));
        let broken = map(&[("FilterPolicy", "{")]);
        assert!(
            !passes_filter(&broken, &attrs, "x"),
            "a broken policy lets nothing through"
        );
    }
}
