//! AddPermission and RemovePermission: statements added to (or removed from) the topic's
//! access policy, its `Policy` attribute. lull keeps policies but does not enforce them: access
//! is governed by the server's credentials.

use serde_json::{json, Value};

use super::attributes::default_topic_policy;
use super::invalid;
use crate::engine::error::EngineResult;
use crate::engine::Engine;

/// The actions a topic policy statement may name.
const TOPIC_ACTIONS: &[&str] = &[
    "AddPermission",
    "DeleteTopic",
    "GetDataProtectionPolicy",
    "GetTopicAttributes",
    "ListSubscriptionsByTopic",
    "ListTagsForResource",
    "Publish",
    "PutDataProtectionPolicy",
    "RemovePermission",
    "SetTopicAttributes",
    "Subscribe",
    "TagResource",
    "UntagResource",
];

fn statements(policy: &mut Value) -> EngineResult<&mut Vec<Value>> {
    policy
        .get_mut("Statement")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| {
            invalid("Invalid parameter: Policy Error: the topic policy has no statements")
        })
}

fn has_label(statements: &[Value], label: &str) -> bool {
    statements
        .iter()
        .any(|s| s.get("Sid").and_then(Value::as_str) == Some(label))
}

impl Engine {
    pub async fn add_topic_permission(
        &self,
        topic_arn: &str,
        label: &str,
        accounts: &[String],
        actions: &[String],
    ) -> EngineResult<()> {
        let valid_label = !label.is_empty()
            && label.len() <= 100
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_label {
            return Err(invalid("Invalid parameter: Label"));
        }
        if accounts.is_empty() || accounts.iter().any(String::is_empty) {
            return Err(invalid("Invalid parameter: AWSAccountId"));
        }
        if actions.is_empty() {
            return Err(invalid("Invalid parameter: ActionName"));
        }
        if let Some(a) = actions
            .iter()
            .find(|a| !TOPIC_ACTIONS.contains(&a.as_str()))
        {
            return Err(invalid(format!(
                "Invalid parameter: Policy statement action out of service scope: {a}"
            )));
        }
        let account = self.account().to_string();
        self.modify_topic(topic_arn, |t| {
            let arn = t.key.arn(&account);
            let mut policy: Value = t
                .attributes
                .get("Policy")
                .filter(|p| !p.is_empty())
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_else(|| {
                    serde_json::from_str(&default_topic_policy(&arn, &account))
                        .unwrap_or_else(|_| json!({"Statement": []}))
                });
            let list = statements(&mut policy)?;
            if has_label(list, label) {
                return Err(invalid("Invalid parameter: Statement already exists"));
            }
            let principals: Vec<String> = accounts
                .iter()
                .map(|a| format!("arn:aws:iam::{a}:root"))
                .collect();
            let actions: Vec<String> = actions.iter().map(|a| format!("SNS:{a}")).collect();
            list.push(json!({
                "Sid": label,
                "Effect": "Allow",
                "Principal": {"AWS": one_or_many(principals)},
                "Action": one_or_many(actions),
                "Resource": arn,
            }));
            t.attributes.insert("Policy".into(), policy.to_string());
            Ok(())
        })
        .await
    }

    pub async fn remove_topic_permission(&self, topic_arn: &str, label: &str) -> EngineResult<()> {
        if label.is_empty() {
            return Err(invalid("Invalid parameter: Label"));
        }
        let account = self.account().to_string();
        self.modify_topic(topic_arn, |t| {
            let arn = t.key.arn(&account);
            let mut policy: Value = t
                .attributes
                .get("Policy")
                .filter(|p| !p.is_empty())
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_else(|| {
                    serde_json::from_str(&default_topic_policy(&arn, &account))
                        .unwrap_or_else(|_| json!({"Statement": []}))
                });
            let list = statements(&mut policy)?;
            if !has_label(list, label) {
                return Err(invalid(format!(
                    "Invalid parameter: Label Reason: no statement with label {label}"
                )));
            }
            list.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(label));
            t.attributes.insert("Policy".into(), policy.to_string());
            Ok(())
        })
        .await
    }
}

/// IAM writes a single principal or action as a string, several as a list.
fn one_or_many(mut items: Vec<String>) -> Value {
    if items.len() == 1 {
        Value::String(items.remove(0))
    } else {
        json!(items)
    }
}
