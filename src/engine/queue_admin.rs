//! Creating, configuring, listing and deleting queues; tags and permissions.

use std::collections::BTreeMap;

use super::error::{EngineError, EngineResult};
use super::queue::{
    default_attributes, is_known_attribute, normalise_attribute, validate_queue_name, QueueKey,
    QueueRecord, RedrivePolicy, COMPUTED,
};
use super::Engine;

const MAX_TAGS: usize = 50;

impl Engine {
    /// Creates a queue, or returns the existing one when every given attribute matches it.
    pub async fn create_queue(
        &self,
        key: QueueKey,
        attributes: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
    ) -> EngineResult<QueueRecord> {
        validate_queue_name(&key.name)?;
        let fifo = attributes
            .get("FifoQueue")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if fifo != key.is_fifo_name() {
            return Err(EngineError::InvalidParameterValue(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.".into(),
            ));
        }
        let given = self.normalise_all(&key, &attributes, fifo).await?;
        validate_tags(&tags)?;
        let now = self.now_ms();
        let mut all = default_attributes(fifo);
        all.extend(given.clone());
        let record = QueueRecord {
            key,
            attributes: all,
            tags,
            created_ms: now,
            modified_ms: now,
        };
        let (existing, created) = self.store().create_queue(record).await?;
        if !created {
            for (name, value) in &given {
                let current = existing
                    .attributes
                    .get(name)
                    .map(String::as_str)
                    .unwrap_or("");
                if current != value {
                    return Err(EngineError::QueueNameExists(name.clone()));
                }
            }
        }
        Ok(existing)
    }

    async fn normalise_all(
        &self,
        key: &QueueKey,
        attributes: &BTreeMap<String, String>,
        fifo: bool,
    ) -> EngineResult<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for (name, value) in attributes {
            let v = normalise_attribute(name, value, fifo)?;
            if name == "RedrivePolicy" && !v.is_empty() {
                self.check_dead_letter_target(key, fifo, &v).await?;
            }
            out.insert(name.clone(), v);
        }
        Ok(out)
    }

    /// A dead-letter target must exist, be of the same type, and allow this source.
    async fn check_dead_letter_target(
        &self,
        source: &QueueKey,
        fifo: bool,
        raw: &str,
    ) -> EngineResult<()> {
        let policy = RedrivePolicy::parse(raw)?;
        let invalid = |why: &str| {
            EngineError::InvalidParameterValue(format!(
                "Value {raw} for parameter RedrivePolicy is invalid. Reason: {why}"
            ))
        };
        let target = QueueKey::from_arn(&policy.dead_letter_target_arn)
            .ok_or_else(|| invalid("Invalid deadLetterTargetArn."))?;
        let record = self
            .store()
            .get_queue(&target)
            .await?
            .ok_or_else(|| invalid("Dead letter target does not exist."))?;
        if record.is_fifo() != fifo {
            return Err(invalid(
                "Dead-letter target owner must be of the same type as the source queue.",
            ));
        }
        if let Some(allow) = record.redrive_allow_policy() {
            if !allow.allows(&self.arn(source)) {
                return Err(invalid(
                    "Queue is not allowed as a dead-letter queue by its RedriveAllowPolicy.",
                ));
            }
        }
        Ok(())
    }

    pub async fn get_queue(&self, key: &QueueKey) -> EngineResult<QueueRecord> {
        self.require_queue(key).await
    }

    pub async fn delete_queue(&self, key: &QueueKey) -> EngineResult<()> {
        if self.store().delete_queue(key).await? {
            self.forget(key);
            Ok(())
        } else {
            Err(EngineError::QueueDoesNotExist)
        }
    }

    pub async fn list_queues(&self, region: &str, prefix: &str) -> EngineResult<Vec<QueueRecord>> {
        Ok(self.store().list_queues(region, prefix).await?)
    }

    /// The requested attributes (`All` for every one), computed ones included.
    pub async fn queue_attributes(
        &self,
        key: &QueueKey,
        names: &[String],
    ) -> EngineResult<BTreeMap<String, String>> {
        for n in names {
            if !is_known_attribute(n) {
                return Err(EngineError::InvalidAttributeName(n.clone()));
            }
        }
        let record = self.require_queue(key).await?;
        let all = names.iter().any(|n| n == "All");
        let wanted = |n: &str| all || names.iter().any(|x| x == n);
        let mut out: BTreeMap<String, String> = record
            .attributes
            .iter()
            .filter(|(k, v)| wanted(k) && !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if COMPUTED.iter().any(|c| wanted(c)) {
            let counts = self
                .store()
                .counts(key, self.now_ms())
                .await?
                .ok_or(EngineError::QueueDoesNotExist)?;
            let computed = [
                ("ApproximateNumberOfMessages", counts.visible.to_string()),
                (
                    "ApproximateNumberOfMessagesNotVisible",
                    counts.in_flight.to_string(),
                ),
                (
                    "ApproximateNumberOfMessagesDelayed",
                    counts.delayed.to_string(),
                ),
                ("CreatedTimestamp", (record.created_ms / 1000).to_string()),
                (
                    "LastModifiedTimestamp",
                    (record.modified_ms / 1000).to_string(),
                ),
                ("QueueArn", self.arn(key)),
            ];
            for (k, v) in computed {
                if wanted(k) {
                    out.insert(k.to_string(), v);
                }
            }
        }
        Ok(out)
    }

    pub async fn set_queue_attributes(
        &self,
        key: &QueueKey,
        attributes: BTreeMap<String, String>,
    ) -> EngineResult<()> {
        let mut record = self.require_queue(key).await?;
        let given = self
            .normalise_all(key, &attributes, record.is_fifo())
            .await?;
        for (k, v) in given {
            if v.is_empty()
                && matches!(
                    k.as_str(),
                    "RedrivePolicy" | "RedriveAllowPolicy" | "Policy"
                )
            {
                record.attributes.remove(&k);
            } else {
                record.attributes.insert(k, v);
            }
        }
        record.modified_ms = self.now_ms();
        self.save(record).await
    }

    async fn save(&self, record: QueueRecord) -> EngineResult<()> {
        if self.store().update_queue(record).await? {
            Ok(())
        } else {
            Err(EngineError::QueueDoesNotExist)
        }
    }

    pub async fn tag_queue(
        &self,
        key: &QueueKey,
        tags: BTreeMap<String, String>,
    ) -> EngineResult<()> {
        let mut record = self.require_queue(key).await?;
        validate_tags(&tags)?;
        record.tags.extend(tags);
        validate_tags(&record.tags)?;
        self.save(record).await
    }

    pub async fn untag_queue(&self, key: &QueueKey, keys: &[String]) -> EngineResult<()> {
        let mut record = self.require_queue(key).await?;
        for k in keys {
            record.tags.remove(k);
        }
        self.save(record).await
    }

    /// Queues whose redrive policy names this queue as their dead-letter queue.
    pub async fn dead_letter_sources(&self, key: &QueueKey) -> EngineResult<Vec<QueueRecord>> {
        self.require_queue(key).await?;
        let arn = self.arn(key);
        let all = self.store().list_queues(&key.region, "").await?;
        Ok(all
            .into_iter()
            .filter(|q| {
                q.redrive_policy()
                    .is_some_and(|p| p.dead_letter_target_arn == arn)
            })
            .collect())
    }

    /// Adds a statement to the queue's access policy. lull stores policies but does not enforce
    /// them: access is governed by the server's credentials.
    pub async fn add_permission(
        &self,
        key: &QueueKey,
        label: &str,
        accounts: &[String],
        actions: &[String],
    ) -> EngineResult<()> {
        if label.is_empty() || label.len() > 80 {
            return Err(EngineError::InvalidParameterValue(format!(
                "Value {label} for parameter Label is invalid. Reason: Must be 1 to 80 characters."
            )));
        }
        if accounts.is_empty() || actions.is_empty() {
            return Err(EngineError::MissingParameter(
                if accounts.is_empty() {
                    "AWSAccountId"
                } else {
                    "ActionName"
                }
                .into(),
            ));
        }
        let mut record = self.require_queue(key).await?;
        let arn = self.arn(key);
        let mut policy = record
            .attributes
            .get("Policy")
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
            .unwrap_or_else(|| {
                serde_json::json!({"Version": "2012-10-17", "Id": format!("{arn}/SQSDefaultPolicy"), "Statement": []})
            });
        let statements = policy
            .get_mut("Statement")
            .and_then(|s| s.as_array_mut())
            .ok_or_else(|| {
                EngineError::InvalidParameterValue(
                    "The queue's policy has no statement list.".into(),
                )
            })?;
        if statements
            .iter()
            .any(|s| s.get("Sid").and_then(|x| x.as_str()) == Some(label))
        {
            return Err(EngineError::InvalidParameterValue(format!(
                "Value {label} for parameter Label is invalid. Reason: Already exists."
            )));
        }
        statements.push(serde_json::json!({
            "Sid": label,
            "Effect": "Allow",
            "Principal": {"AWS": accounts.iter().map(|a| format!("arn:aws:iam::{a}:root")).collect::<Vec<_>>()},
            "Action": actions.iter().map(|a| format!("SQS:{a}")).collect::<Vec<_>>(),
            "Resource": arn,
        }));
        record
            .attributes
            .insert("Policy".into(), policy.to_string());
        self.save(record).await
    }

    pub async fn remove_permission(&self, key: &QueueKey, label: &str) -> EngineResult<()> {
        let mut record = self.require_queue(key).await?;
        let not_found = || {
            EngineError::InvalidParameterValue(format!(
                "Value {label} for parameter Label is invalid. Reason: can't find label on existing policy."
            ))
        };
        let mut policy: serde_json::Value = record
            .attributes
            .get("Policy")
            .and_then(|p| serde_json::from_str(p).ok())
            .ok_or_else(not_found)?;
        let statements = policy
            .get_mut("Statement")
            .and_then(|s| s.as_array_mut())
            .ok_or_else(not_found)?;
        let before = statements.len();
        statements.retain(|s| s.get("Sid").and_then(|x| x.as_str()) != Some(label));
        if statements.len() == before {
            return Err(not_found());
        }
        if statements.is_empty() {
            record.attributes.remove("Policy");
        } else {
            record
                .attributes
                .insert("Policy".into(), policy.to_string());
        }
        self.save(record).await
    }
}

fn validate_tags(tags: &BTreeMap<String, String>) -> EngineResult<()> {
    if tags.len() > MAX_TAGS {
        return Err(EngineError::InvalidParameterValue(format!(
            "Too many tags added for queue. Reason: a queue can have at most {MAX_TAGS} tags."
        )));
    }
    for (k, v) in tags {
        if k.is_empty() || k.len() > 128 || v.len() > 256 {
            return Err(EngineError::InvalidParameterValue(format!(
                "Tag key must be 1 to 128 characters and value at most 256: {k}"
            )));
        }
    }
    Ok(())
}
