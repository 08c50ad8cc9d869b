//! `[topics.*]` and their subscriptions: checked against the store, then created or brought in
//! line with the file. A subscription is known by its topic, protocol and endpoint, so applying
//! the file again finds the same subscription and only updates its attributes.

use std::collections::BTreeMap;

use super::queues::declared_or_existing;
use super::{kind, problem, Applied, Change, Target};
use crate::config::resources::{table_key, SubscriptionSpec};
use crate::config::Config;
use crate::engine::topics::{TopicKey, TopicRecord};
use crate::engine::EngineError;

pub(super) struct TopicPlan {
    key: String,
    topic: TopicKey,
    attributes: BTreeMap<String, String>,
    tags: Option<BTreeMap<String, String>>,
    subscriptions: Vec<SubscriptionSpec>,
    existing: Option<TopicRecord>,
}

pub(super) async fn plan(
    t: &Target<'_>,
    config: &Config,
    problems: &mut Vec<String>,
) -> Vec<TopicPlan> {
    let account = t.engine.account();
    let mut plans = Vec::new();
    for (name, decl) in &config.topics {
        let key = table_key("topics", name);
        let (attributes, subscriptions) = match (
            decl.sns_attributes(name),
            decl.subscription_specs(name, t.region, account),
        ) {
            (Ok(a), Ok(s)) => (a, s),
            (a, s) => {
                problems.extend(a.err().into_iter().flatten());
                problems.extend(s.err().into_iter().flatten());
                continue;
            }
        };
        let topic = TopicKey::new(t.region, name.as_str());
        let existing = match t.engine.get_topic(&t.engine.topic_arn(&topic)).await {
            Ok(r) => Some(r),
            Err(EngineError::NotFound(_)) => None,
            Err(e) => {
                problems.push(problem(&key, format!("cannot read the topic: {e}")));
                None
            }
        };
        let fifo = decl.is_fifo(name);
        if let Some(r) = &existing {
            if r.is_fifo() != fifo {
                problems.push(problem(
                    format!("{key}.fifo"),
                    format!(
                        "the topic exists as a {} topic and a topic's type cannot change (delete it first, or declare it {})",
                        kind(r.is_fifo()),
                        kind(r.is_fifo())
                    ),
                ));
            }
        }
        for (i, s) in decl.subscriptions.iter().enumerate() {
            let Some(queue) = s.queue.as_deref() else {
                continue;
            };
            if config.queues.contains_key(queue) {
                continue; // checked with the file
            }
            let sub_key = format!("{key}.subscriptions[{i}].queue");
            if let Some(queue_fifo) =
                declared_or_existing(t, config, queue, &sub_key, problems).await
            {
                if queue_fifo != fifo {
                    problems.push(problem(
                        &sub_key,
                        format!(
                            "{queue:?} is a {} queue and the topic is {}: FIFO topics deliver to FIFO queues, standard topics to standard queues",
                            kind(queue_fifo),
                            kind(fifo)
                        ),
                    ));
                }
            }
        }
        plans.push(TopicPlan {
            key,
            topic,
            attributes,
            tags: decl.tags.clone(),
            subscriptions,
            existing,
        });
    }
    plans
}

pub(super) async fn apply(
    t: &Target<'_>,
    plans: Vec<TopicPlan>,
    applied: &mut Applied,
    problems: &mut Vec<String>,
) {
    for p in plans {
        let record = match apply_topic(t, &p).await {
            Ok((change, record)) => {
                applied.record(p.key.clone(), change);
                record
            }
            Err(e) => {
                problems.push(problem(&p.key, e));
                continue;
            }
        };
        for (i, spec) in p.subscriptions.iter().enumerate() {
            let key = format!("{}.subscriptions[{i}]", p.key);
            match apply_subscription(t, &record, spec).await {
                Ok(change) => applied.record(key, change),
                Err(e) => problems.push(problem(key, e)),
            }
        }
    }
}

/// Creates the topic or updates its attributes and tags; answers the record as it now is.
async fn apply_topic(t: &Target<'_>, p: &TopicPlan) -> Result<(Change, TopicRecord), EngineError> {
    let arn = t.engine.topic_arn(&p.topic);
    let Some(current) = &p.existing else {
        let record = t
            .engine
            .create_topic(
                p.topic.clone(),
                p.attributes.clone(),
                p.tags.clone().unwrap_or_default(),
            )
            .await?;
        return Ok((Change::Created, record));
    };
    let mut change = Change::Unchanged;
    for (name, value) in &p.attributes {
        // Fixed at creation (and checked against the file before applying).
        if name == "FifoTopic" {
            continue;
        }
        if current.attributes.get(name) != Some(value) {
            t.engine.set_topic_attribute(&arn, name, value).await?;
            change = Change::Updated;
        }
    }
    if let Some(want) = &p.tags {
        if *want != current.tags {
            let gone: Vec<String> = current
                .tags
                .keys()
                .filter(|k| !want.contains_key(*k))
                .cloned()
                .collect();
            if !gone.is_empty() {
                t.engine.untag_topic(&arn, &gone).await?;
            }
            t.engine.tag_topic(&arn, want.clone()).await?;
            change = Change::Updated;
        }
    }
    let record = if change == Change::Unchanged {
        current.clone()
    } else {
        t.engine.get_topic(&arn).await?
    };
    Ok((change, record))
}

async fn apply_subscription(
    t: &Target<'_>,
    topic: &TopicRecord,
    spec: &SubscriptionSpec,
) -> Result<Change, EngineError> {
    let topic_arn = t.engine.topic_arn(&topic.key);
    let Some(current) = topic
        .subscriptions
        .iter()
        .find(|s| s.protocol == spec.protocol && s.endpoint == spec.endpoint)
    else {
        t.engine
            .subscribe(
                &topic_arn,
                &spec.protocol,
                &spec.endpoint,
                spec.attributes.clone(),
            )
            .await?;
        return Ok(Change::Created);
    };
    let changes = subscription_changes(&current.attributes, &spec.attributes);
    if changes.is_empty() {
        return Ok(Change::Unchanged);
    }
    let arn = format!("{topic_arn}:{}", current.id);
    for (name, value) in changes {
        t.engine
            .set_subscription_attribute(&arn, &name, &value)
            .await?;
    }
    Ok(Change::Updated)
}

/// The attribute changes that bring a subscription in line, in an order where every step is
/// valid on its own: a filter policy is checked against the scope in force, so the scope moves
/// to `MessageBody` before a body policy arrives, and back to `MessageAttributes` only after
/// an attribute policy replaced it. The file owns the filter policy and its scope: absent
/// ones are removed or reset.
fn subscription_changes(
    current: &BTreeMap<String, String>,
    wanted: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    const POLICY: &str = "FilterPolicy";
    const SCOPE: &str = "FilterPolicyScope";
    let mut changes: Vec<(String, String)> = wanted
        .iter()
        .filter(|(k, _)| *k != POLICY && *k != SCOPE)
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let scope_now = current
        .get(SCOPE)
        .map_or("MessageAttributes", String::as_str);
    let scope_wanted = wanted
        .get(SCOPE)
        .map_or("MessageAttributes", String::as_str);
    let scope = (scope_now != scope_wanted).then(|| (SCOPE.to_string(), scope_wanted.to_string()));
    let policy = (current.get(POLICY) != wanted.get(POLICY)).then(|| {
        (
            POLICY.to_string(),
            wanted.get(POLICY).cloned().unwrap_or_default(),
        )
    });
    if scope_wanted == "MessageBody" {
        changes.extend(scope);
        changes.extend(policy);
    } else {
        changes.extend(policy);
        changes.extend(scope);
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn filter_scope_moves_in_the_order_that_keeps_each_step_valid() {
        let attrs = map(&[
            ("FilterPolicy", "{\"a\":[\"1\"]}"),
            ("RawMessageDelivery", "true"),
        ]);
        let body = map(&[
            ("FilterPolicy", "{\"a\":{\"b\":[\"1\"]}}"),
            ("FilterPolicyScope", "MessageBody"),
            ("RawMessageDelivery", "true"),
        ]);
        let to_body = subscription_changes(&attrs, &body);
        assert_eq!(to_body[0].0, "FilterPolicyScope");
        assert_eq!(to_body[1].0, "FilterPolicy");
        let to_attrs = subscription_changes(&body, &attrs);
        assert_eq!(
            to_attrs,
            vec![
                ("FilterPolicy".to_string(), "{\"a\":[\"1\"]}".to_string()),
                (
                    "FilterPolicyScope".to_string(),
                    "MessageAttributes".to_string()
                ),
            ]
        );
        let none = map(&[("RawMessageDelivery", "false")]);
        assert_eq!(
            subscription_changes(&attrs, &none),
            vec![
                ("RawMessageDelivery".to_string(), "false".to_string()),
                ("FilterPolicy".to_string(), String::new()),
            ]
        );
        assert!(subscription_changes(&attrs, &attrs).is_empty());
    }
}
