//! `[topics.NAME]` and its `subscriptions`: SNS topic attributes and what Subscribe takes.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::{check_tags, is_fifo_name, problem, scalar, table_key, valid_http_url};
use crate::engine::topics::attributes::{
    apply_subscription_attributes, normalise_topic_attribute, Wording,
};

/// `[topics.NAME]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicDecl {
    /// FIFO topic; implied by a name ending in `.fifo`.
    pub fifo: Option<bool>,
    pub content_based_deduplication: Option<bool>,
    /// When given, the topic's tags become exactly these.
    pub tags: Option<BTreeMap<String, String>>,
    /// Any other SNS topic attribute, by its API name (`DisplayName`, `DeliveryPolicy`, …).
    #[serde(default)]
    pub attributes: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub subscriptions: Vec<SubscriptionDecl>,
}

/// One of a topic's `subscriptions`: exactly one of `queue`, `url`, `function`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionDecl {
    pub queue: Option<String>,
    pub url: Option<String>,
    pub function: Option<String>,
    /// RawMessageDelivery (queues and URLs).
    pub raw: Option<bool>,
    /// A filter policy, as a TOML table or a JSON string.
    pub filter_policy: Option<toml::Value>,
    /// `MessageAttributes` (default) or `MessageBody`.
    pub filter_scope: Option<String>,
    /// Any other subscription attribute, by its API name (`DeliveryPolicy`, `RedrivePolicy`).
    #[serde(default)]
    pub attributes: BTreeMap<String, toml::Value>,
}

/// A declared subscription as the engine's Subscribe takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSpec {
    pub protocol: String,
    pub endpoint: String,
    /// The attributes the file owns, complete: an absent one is removed or reset.
    pub attributes: BTreeMap<String, String>,
}

impl TopicDecl {
    pub fn is_fifo(&self, name: &str) -> bool {
        self.fifo.unwrap_or_else(|| is_fifo_name(name))
    }

    /// The topic's SNS attributes as declared (`FifoTopic` included for a FIFO topic; a FIFO
    /// topic's content-based deduplication is owned by the file and defaults to false).
    pub fn sns_attributes(&self, name: &str) -> Result<BTreeMap<String, String>, Vec<String>> {
        let key = table_key("topics", name);
        let fifo = self.is_fifo(name);
        let mut problems = Vec::new();
        let stem = name.strip_suffix(".fifo").unwrap_or(name);
        let valid_name = !stem.is_empty()
            && name.len() <= 256
            && stem
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_name {
            problems.push(problem(
                &key,
                "topic names are 1 to 256 letters, digits, hyphens and underscores (FIFO topics end in .fifo)",
            ));
        }
        if fifo != is_fifo_name(name) {
            problems.push(problem(
                format!("{key}.fifo"),
                if fifo {
                    "a FIFO topic's name must end in .fifo"
                } else {
                    "a topic whose name ends in .fifo is a FIFO topic"
                },
            ));
        }
        let mut out = BTreeMap::new();
        if fifo {
            out.insert("FifoTopic".to_string(), "true".to_string());
            out.insert(
                "ContentBasedDeduplication".to_string(),
                self.content_based_deduplication
                    .unwrap_or(false)
                    .to_string(),
            );
        } else if self.content_based_deduplication.is_some() {
            problems.push(problem(
                format!("{key}.content_based_deduplication"),
                "only FIFO topics have this setting",
            ));
        }
        for (attr, raw) in &self.attributes {
            let k = format!("{key}.attributes.{attr}");
            let Some(v) = scalar(raw) else {
                problems.push(problem(k, "expected a string, number or boolean"));
                continue;
            };
            if matches!(attr.as_str(), "FifoTopic" | "ContentBasedDeduplication") {
                problems.push(problem(k, "write it as fifo / content_based_deduplication"));
                continue;
            }
            match normalise_topic_attribute(attr, &v, fifo, false) {
                Ok(v) => {
                    out.insert(attr.clone(), v);
                }
                Err(e) => problems.push(problem(k, e)),
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

    /// The declared subscriptions as Subscribe takes them; endpoints are ARNs built from
    /// `region` and `account`.
    pub fn subscription_specs(
        &self,
        topic: &str,
        region: &str,
        account: &str,
    ) -> Result<Vec<SubscriptionSpec>, Vec<String>> {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, s) in self.subscriptions.iter().enumerate() {
            let key = format!("{}.subscriptions[{i}]", table_key("topics", topic));
            match s.spec(&key, self.is_fifo(topic), region, account) {
                Ok(spec) => {
                    if !seen.insert((spec.protocol.clone(), spec.endpoint.clone())) {
                        problems.push(problem(&key, "the same endpoint is subscribed twice"));
                    }
                    out.push(spec);
                }
                Err(mut p) => problems.append(&mut p),
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }
}

impl SubscriptionDecl {
    fn spec(
        &self,
        key: &str,
        fifo_topic: bool,
        region: &str,
        account: &str,
    ) -> Result<SubscriptionSpec, Vec<String>> {
        let mut problems = Vec::new();
        let targets = [&self.queue, &self.url, &self.function]
            .iter()
            .filter(|t| t.is_some())
            .count();
        if targets != 1 {
            return Err(vec![problem(
                key,
                "expected exactly one of queue, url or function",
            )]);
        }
        let (protocol, endpoint) = if let Some(q) = &self.queue {
            (
                "sqs".to_string(),
                format!("arn:aws:sqs:{region}:{account}:{q}"),
            )
        } else if let Some(f) = &self.function {
            (
                "lambda".to_string(),
                format!("arn:aws:lambda:{region}:{account}:function:{f}"),
            )
        } else {
            let url = self.url.clone().unwrap_or_default();
            let protocol = if url.starts_with("https://") {
                "https"
            } else {
                "http"
            };
            if !valid_http_url(&url) {
                problems.push(problem(
                    format!("{key}.url"),
                    format!("expected an http:// or https:// URL, got {url:?}"),
                ));
            }
            (protocol.to_string(), url)
        };
        if fifo_topic && protocol != "sqs" {
            problems.push(problem(key, "FIFO topics deliver to SQS queues only"));
        }
        let mut attributes = BTreeMap::new();
        let mut fields: Vec<(String, String, String)> = Vec::new();
        if protocol != "lambda" {
            attributes.insert(
                "RawMessageDelivery".to_string(),
                self.raw.unwrap_or(false).to_string(),
            );
        } else if self.raw.is_some() {
            problems.push(problem(
                format!("{key}.raw"),
                "functions get the SNS event record; raw delivery is for queues and URLs",
            ));
        }
        if let Some(p) = &self.filter_policy {
            let json = match p {
                toml::Value::String(s) => serde_json::from_str::<serde_json::Value>(s)
                    .map(|v| v.to_string())
                    .map_err(|e| format!("not valid JSON: {e}")),
                toml::Value::Table(_) => serde_json::to_string(p).map_err(|e| e.to_string()),
                _ => Err("expected a table or a JSON string".to_string()),
            };
            match json {
                Ok(j) => fields.push((format!("{key}.filter_policy"), "FilterPolicy".into(), j)),
                Err(e) => problems.push(problem(format!("{key}.filter_policy"), e)),
            }
        }
        if let Some(scope) = &self.filter_scope {
            fields.push((
                format!("{key}.filter_scope"),
                "FilterPolicyScope".into(),
                scope.clone(),
            ));
        }
        for (name, raw) in &self.attributes {
            let k = format!("{key}.attributes.{name}");
            match scalar(raw) {
                Some(_)
                    if matches!(
                        name.as_str(),
                        "RawMessageDelivery" | "FilterPolicy" | "FilterPolicyScope"
                    ) =>
                {
                    problems.push(problem(k, "write it as raw / filter_policy / filter_scope"))
                }
                Some(v) => fields.push((k, name.clone(), v)),
                None => problems.push(problem(k, "expected a string, number or boolean")),
            }
        }
        // Each attribute alone first, so a problem names its own key; then all together (a
        // filter policy is checked against the scope in force).
        for (k, name, value) in &fields {
            let one = BTreeMap::from([(name.clone(), value.clone())]);
            match apply_subscription_attributes(
                &BTreeMap::new(),
                &one,
                &protocol,
                Wording::Subscribe,
            ) {
                Ok(_) => {
                    attributes.insert(name.clone(), value.clone());
                }
                Err(e) => problems.push(problem(k, e)),
            }
        }
        if problems.is_empty() {
            if let Err(e) = apply_subscription_attributes(
                &BTreeMap::new(),
                &attributes,
                &protocol,
                Wording::Subscribe,
            ) {
                problems.push(problem(key, e));
            }
        }
        if problems.is_empty() {
            Ok(SubscriptionSpec {
                protocol,
                endpoint,
                attributes,
            })
        } else {
            Err(problems)
        }
    }
}
