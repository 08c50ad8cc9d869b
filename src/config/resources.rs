//! Declarative resources: `[queues.NAME]`, `[topics.NAME]`, `[functions.NAME]` — what
//! Terraform or SAM created in the seeds, written in `lull.toml` and created or updated at start.
//!
//! This module owns the file's shape and every check that needs no store: names, durations and
//! their AWS ranges, FIFO-only settings, references between declarations. Each declaration
//! turns into the SQS/SNS attributes the engine takes, through the engine's own attribute
//! validation, so the file accepts exactly what the API accepts. Checks against what is already
//! stored (a referenced queue that is not declared, a queue that changed type) happen when the
//! declarations are applied (`crate::resources`), in the same words.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;

use super::duration::DurationValue;
use super::Config;
use crate::engine::queue::{default_attributes, normalise_attribute, validate_queue_name};
use crate::engine::topics::attributes::{
    apply_subscription_attributes, normalise_topic_attribute, Wording,
};

/// Account and region used to check attributes that hold ARNs before the real ones are known.
const PLACEHOLDER_REGION: &str = "us-east-1";
const PLACEHOLDER_ACCOUNT: &str = "000000000000";

/// Lambda's limits for SQS event sources.
pub const MAX_BATCH_SIZE: u32 = 10_000;
pub const MAX_FIFO_BATCH_SIZE: u32 = 10;
pub const MAX_BATCHING_WINDOW: Duration = Duration::from_secs(300);
pub const MAX_TIMEOUT: Duration = Duration::from_secs(900);
pub const MAX_CONCURRENCY: u32 = 1000;
pub const DEFAULT_BATCH_SIZE: u32 = 10;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_CONCURRENCY: u32 = 1;

/// `[queues.NAME]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueDecl {
    /// FIFO queue; implied by a name ending in `.fifo`.
    pub fifo: Option<bool>,
    pub visibility_timeout: Option<DurationValue>,
    pub delay: Option<DurationValue>,
    pub retention: Option<DurationValue>,
    /// Bytes.
    pub max_message_size: Option<u64>,
    pub receive_wait: Option<DurationValue>,
    pub content_based_deduplication: Option<bool>,
    /// `queue` or `messageGroup`.
    pub deduplication_scope: Option<String>,
    /// `perQueue` or `perMessageGroupId`.
    pub fifo_throughput_limit: Option<String>,
    pub dead_letter: Option<DeadLetterDecl>,
    /// When given, the queue's tags become exactly these.
    pub tags: Option<BTreeMap<String, String>>,
    /// Any other SQS attribute, by its API name (`Policy`, `RedriveAllowPolicy`, …).
    #[serde(default)]
    pub attributes: BTreeMap<String, toml::Value>,
}

/// `dead_letter = { queue = "NAME", max_receives = N }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterDecl {
    pub queue: String,
    pub max_receives: u32,
}

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

/// `[functions.NAME]`: a queue bound to an HTTP endpoint or a command (the Lambda pattern).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionDecl {
    /// The queue that triggers the function. Optional: a function may be only a topic's
    /// subscriber.
    pub queue: Option<String>,
    pub url: Option<String>,
    pub command: Option<Vec<String>>,
    pub batch_size: Option<u32>,
    pub batching_window: Option<DurationValue>,
    pub concurrency: Option<u32>,
    pub timeout: Option<DurationValue>,
    pub report_batch_item_failures: Option<bool>,
    /// Extra environment of a command function.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
}

/// What a function runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionTarget {
    Http(String),
    Command(Vec<String>),
}

/// A function with every default filled in and every value checked.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    pub name: String,
    pub queue: Option<String>,
    pub target: FunctionTarget,
    pub batch_size: u32,
    pub batching_window: Duration,
    pub concurrency: u32,
    pub timeout: Duration,
    pub report_batch_item_failures: bool,
    pub environment: BTreeMap<String, String>,
}

/// A declared subscription as the engine's Subscribe takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSpec {
    pub protocol: String,
    pub endpoint: String,
    /// The attributes the file owns, complete: an absent one is removed or reset.
    pub attributes: BTreeMap<String, String>,
}

/// `queues.NAME`, with the name quoted when TOML needs it (`queues."orders.fifo"`).
pub fn table_key(table: &str, name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        format!("{table}.{name}")
    } else {
        format!("{table}.{name:?}")
    }
}

/// One mistake, with the key it is about.
fn problem(key: impl std::fmt::Display, message: impl std::fmt::Display) -> String {
    format!("{key}: {message}")
}

/// A TOML scalar as the string an API attribute takes.
fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

/// A duration written in whole seconds, as SQS attributes take them.
fn whole_seconds(
    key: &str,
    value: &DurationValue,
    min: Duration,
    max: Duration,
) -> Result<String, String> {
    let d = value.parse_within(min, max).map_err(|e| problem(key, e))?;
    if d.subsec_millis() != 0 {
        return Err(problem(key, format!("expected whole seconds, got {value}")));
    }
    Ok(d.as_secs().to_string())
}

fn is_fifo_name(name: &str) -> bool {
    name.ends_with(".fifo")
}

impl QueueDecl {
    pub fn is_fifo(&self, name: &str) -> bool {
        self.fifo.unwrap_or_else(|| is_fifo_name(name))
    }

    /// The queue's complete SQS attributes: defaults, then what is declared, with the dead
    /// letter queue's ARN built from `region` and `account`. Every problem names its key.
    pub fn sqs_attributes(
        &self,
        name: &str,
        region: &str,
        account: &str,
    ) -> Result<BTreeMap<String, String>, Vec<String>> {
        let key = table_key("queues", name);
        let fifo = self.is_fifo(name);
        let mut problems = Vec::new();
        if let Err(e) = validate_queue_name(name) {
            problems.push(problem(&key, e));
        }
        if fifo != is_fifo_name(name) {
            problems.push(problem(
                format!("{key}.fifo"),
                if fifo {
                    "a FIFO queue's name must end in .fifo"
                } else {
                    "a queue whose name ends in .fifo is a FIFO queue"
                },
            ));
        }
        let mut given: Vec<(String, &str, Result<String, String>)> = Vec::new();
        let mut typed = |field: &str, attribute: &'static str, value: Result<String, String>| {
            given.push((format!("{key}.{field}"), attribute, value));
        };
        let secs = Duration::from_secs;
        if let Some(v) = &self.visibility_timeout {
            let k = format!("{key}.visibility_timeout");
            typed(
                "visibility_timeout",
                "VisibilityTimeout",
                whole_seconds(&k, v, Duration::ZERO, secs(43_200)),
            );
        }
        if let Some(v) = &self.delay {
            let k = format!("{key}.delay");
            typed(
                "delay",
                "DelaySeconds",
                whole_seconds(&k, v, Duration::ZERO, secs(900)),
            );
        }
        if let Some(v) = &self.retention {
            let k = format!("{key}.retention");
            typed(
                "retention",
                "MessageRetentionPeriod",
                whole_seconds(&k, v, secs(60), secs(1_209_600)),
            );
        }
        if let Some(v) = &self.receive_wait {
            let k = format!("{key}.receive_wait");
            typed(
                "receive_wait",
                "ReceiveMessageWaitTimeSeconds",
                whole_seconds(&k, v, Duration::ZERO, secs(20)),
            );
        }
        if let Some(v) = self.max_message_size {
            typed("max_message_size", "MaximumMessageSize", Ok(v.to_string()));
        }
        if let Some(v) = self.content_based_deduplication {
            typed(
                "content_based_deduplication",
                "ContentBasedDeduplication",
                Ok(v.to_string()),
            );
        }
        if let Some(v) = &self.deduplication_scope {
            typed("deduplication_scope", "DeduplicationScope", Ok(v.clone()));
        }
        if let Some(v) = &self.fifo_throughput_limit {
            typed(
                "fifo_throughput_limit",
                "FifoThroughputLimit",
                Ok(v.clone()),
            );
        }
        if let Some(d) = &self.dead_letter {
            let policy = serde_json::json!({
                "deadLetterTargetArn": format!("arn:aws:sqs:{region}:{account}:{}", d.queue),
                "maxReceiveCount": d.max_receives,
            });
            let value = if (1..=1000).contains(&d.max_receives) {
                Ok(policy.to_string())
            } else {
                Err(problem(
                    format!("{key}.dead_letter.max_receives"),
                    format!("expected 1 to 1000, got {}", d.max_receives),
                ))
            };
            typed("dead_letter", "RedrivePolicy", value);
        }

        let mut out = default_attributes(fifo);
        let mut set_by: BTreeMap<String, String> = BTreeMap::new();
        for (field_key, attribute, value) in given {
            set_by.insert(attribute.to_string(), field_key.clone());
            match value {
                Ok(v) => match normalise_attribute(attribute, &v, fifo) {
                    Ok(v) => {
                        out.insert(attribute.to_string(), v);
                    }
                    Err(e) => problems.push(problem(field_key, fifo_only_or(e, fifo))),
                },
                Err(p) => problems.push(p),
            }
        }
        for (name, raw) in &self.attributes {
            let k = format!("{key}.attributes.{name}");
            let Some(v) = scalar(raw) else {
                problems.push(problem(k, "expected a string, number or boolean"));
                continue;
            };
            if let Some(other) = set_by.get(name) {
                problems.push(problem(k, format!("already set by {other}")));
                continue;
            }
            match normalise_attribute(name, &v, fifo) {
                Ok(v) => {
                    out.insert(name.clone(), v);
                }
                Err(e) => problems.push(problem(k, fifo_only_or(e, fifo))),
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
}

/// The engine's words for an attribute a standard queue cannot have, said plainly.
fn fifo_only_or(e: crate::engine::EngineError, fifo: bool) -> String {
    let text = e.to_string();
    if !fifo && text.contains("Only FIFO queues") {
        "only FIFO queues have this setting".to_string()
    } else {
        text
    }
}

fn check_tags(key: &str, tags: &BTreeMap<String, String>, out: &mut Vec<String>) {
    if tags.len() > 50 {
        out.push(problem(key, "at most 50 tags"));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            out.push(problem(
                format!("{key}.{k}"),
                "tag keys are 1 to 128 characters and values at most 256",
            ));
        }
    }
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

fn valid_http_url(url: &str) -> bool {
    (url.starts_with("http://") || url.starts_with("https://"))
        && reqwest::Url::parse(url).is_ok_and(|u| u.host_str().is_some_and(|h| !h.is_empty()))
}

/// Function names: 1–64 letters, digits, `-` and `_` (Lambda's rule).
fn valid_function_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl FunctionDecl {
    /// The function with defaults filled in. `source_fifo` is whether its queue is FIFO, when
    /// known (Lambda allows at most 10 messages and no batching window on FIFO queues).
    pub fn spec(&self, name: &str, source_fifo: Option<bool>) -> Result<FunctionSpec, Vec<String>> {
        let key = table_key("functions", name);
        let mut problems = Vec::new();
        if !valid_function_name(name) {
            problems.push(problem(
                &key,
                "function names are 1 to 64 letters, digits, hyphens and underscores",
            ));
        }
        let target = match (&self.url, &self.command) {
            (Some(url), None) => {
                if !valid_http_url(url) {
                    problems.push(problem(
                        format!("{key}.url"),
                        format!("expected an http:// or https:// URL, got {url:?}"),
                    ));
                }
                if !self.environment.is_empty() {
                    problems.push(problem(
                        format!("{key}.environment"),
                        "only command functions have an environment",
                    ));
                }
                FunctionTarget::Http(url.clone())
            }
            (None, Some(cmd)) => {
                if cmd.first().is_none_or(|p| p.trim().is_empty()) {
                    problems.push(problem(
                        format!("{key}.command"),
                        "expected a program and its arguments, like [\"python3\", \"handler.py\"]",
                    ));
                }
                FunctionTarget::Command(cmd.clone())
            }
            _ => {
                problems.push(problem(&key, "expected exactly one of url or command"));
                FunctionTarget::Command(Vec::new())
            }
        };
        let batch_size = self.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
        let fifo = source_fifo == Some(true);
        let max_batch = if fifo {
            MAX_FIFO_BATCH_SIZE
        } else {
            MAX_BATCH_SIZE
        };
        if !(1..=max_batch).contains(&batch_size) {
            problems.push(problem(
                format!("{key}.batch_size"),
                format!(
                    "expected 1 to {max_batch}{}, got {batch_size}",
                    if fifo { " for a FIFO queue" } else { "" }
                ),
            ));
        }
        let batching_window = match &self.batching_window {
            None => Duration::ZERO,
            Some(v) => match v.parse_within(Duration::ZERO, MAX_BATCHING_WINDOW) {
                Ok(d) => d,
                Err(e) => {
                    problems.push(problem(format!("{key}.batching_window"), e));
                    Duration::ZERO
                }
            },
        };
        if fifo && !batching_window.is_zero() {
            problems.push(problem(
                format!("{key}.batching_window"),
                "FIFO queues take no batching window (each receive is one batch)",
            ));
        }
        if batch_size > 10 && batching_window.is_zero() {
            problems.push(problem(
                format!("{key}.batching_window"),
                "a batch_size above 10 needs a batching_window (the time to gather a batch)",
            ));
        }
        let concurrency = self.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
        if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
            problems.push(problem(
                format!("{key}.concurrency"),
                format!("expected 1 to {MAX_CONCURRENCY}, got {concurrency}"),
            ));
        }
        let timeout = match &self.timeout {
            None => DEFAULT_TIMEOUT,
            Some(v) => match v.parse_within(Duration::from_millis(1), MAX_TIMEOUT) {
                Ok(d) => d,
                Err(e) => {
                    problems.push(problem(format!("{key}.timeout"), e));
                    DEFAULT_TIMEOUT
                }
            },
        };
        if problems.is_empty() {
            Ok(FunctionSpec {
                name: name.to_string(),
                queue: self.queue.clone(),
                target,
                batch_size,
                batching_window,
                concurrency,
                timeout,
                report_batch_item_failures: self.report_batch_item_failures.unwrap_or(false),
                environment: self.environment.clone(),
            })
        } else {
            Err(problems)
        }
    }
}

/// Dead-letter chains among declared queues, in an order that creates every target before the
/// queues that name it. A cycle is a problem naming the first queue on it.
pub fn creation_order(queues: &BTreeMap<String, QueueDecl>) -> Result<Vec<String>, String> {
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    for start in queues.keys() {
        let mut path: Vec<&str> = Vec::new();
        let mut at = start.as_str();
        // Follow the chain to its first queue already placed (or not declared), then place
        // the chain from its end back.
        loop {
            if done.contains(at) {
                break;
            }
            if let Some(pos) = path.iter().position(|p| *p == at) {
                let cycle: Vec<&str> = path[pos..].iter().copied().chain([at]).collect();
                return Err(problem(
                    format!("{}.dead_letter.queue", table_key("queues", path[pos])),
                    format!("dead-letter queues form a cycle: {}", cycle.join(" -> ")),
                ));
            }
            path.push(at);
            match queues.get(at).and_then(|q| q.dead_letter.as_ref()) {
                Some(d) if queues.contains_key(&d.queue) => at = d.queue.as_str(),
                _ => break,
            }
        }
        for q in path.into_iter().rev() {
            if done.insert(q.to_string()) {
                order.push(q.to_string());
            }
        }
    }
    Ok(order)
}

/// Adds every problem found in the resource tables to `out`, each naming its key.
pub fn validate(config: &Config, out: &mut Vec<String>) {
    let (region, account) = (PLACEHOLDER_REGION, PLACEHOLDER_ACCOUNT);
    for (name, q) in &config.queues {
        if let Err(mut p) = q.sqs_attributes(name, region, account) {
            out.append(&mut p);
        }
        if let Some(d) = &q.dead_letter {
            if let Some(target) = config.queues.get(&d.queue) {
                if target.is_fifo(&d.queue) != q.is_fifo(name) {
                    out.push(problem(
                        format!("{}.dead_letter.queue", table_key("queues", name)),
                        format!(
                            "{:?} is a {} queue; a dead-letter queue must be of the same type as its source",
                            d.queue,
                            kind(target.is_fifo(&d.queue))
                        ),
                    ));
                }
            }
        }
    }
    if let Err(p) = creation_order(&config.queues) {
        out.push(p);
    }
    for (name, t) in &config.topics {
        if let Err(mut p) = t.sns_attributes(name) {
            out.append(&mut p);
        }
        if let Err(mut p) = t.subscription_specs(name, region, account) {
            out.append(&mut p);
        }
        for (i, s) in t.subscriptions.iter().enumerate() {
            let key = format!("{}.subscriptions[{i}]", table_key("topics", name));
            if let Some(q) = s.queue.as_deref() {
                if let Some(decl) = config.queues.get(q) {
                    if decl.is_fifo(q) != t.is_fifo(name) {
                        out.push(problem(
                            format!("{key}.queue"),
                            format!(
                                "{q:?} is a {} queue and the topic is {}: FIFO topics deliver to FIFO queues, standard topics to standard queues",
                                kind(decl.is_fifo(q)),
                                kind(t.is_fifo(name))
                            ),
                        ));
                    }
                }
            }
            if let Some(f) = s.function.as_deref() {
                if !config.functions.contains_key(f) {
                    out.push(problem(
                        format!("{key}.function"),
                        format!("no [functions.{f}] is declared"),
                    ));
                }
            }
        }
    }
    for (name, f) in &config.functions {
        let source_fifo = f
            .queue
            .as_deref()
            .and_then(|q| config.queues.get(q).map(|d| d.is_fifo(q)));
        if let Err(mut p) = f.spec(name, source_fifo) {
            out.append(&mut p);
        }
    }
}

fn kind(fifo: bool) -> &'static str {
    if fifo {
        "FIFO"
    } else {
        "standard"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse("lull.toml", text).map_err(|e| e.to_string())
    }

    const SEED: &str = r#"
[queues.NewClientFunctionSQS]
visibility_timeout = "30s"
dead_letter = { queue = "NewClientDLQ", max_receives = 3 }

[queues.NewClientDLQ]
retention = "14d"

[topics.NewClientNotification]
subscriptions = [{ queue = "NewClientFunctionSQS", raw = true }]

[functions.register-customer]
queue = "NewClientFunctionSQS"
url = "http://127.0.0.1:9000/register"
batch_size = 10
"#;

    #[test]
    fn the_seed_declarations_parse_into_api_attributes() {
        let c = parse(SEED).unwrap();
        let q = &c.queues["NewClientFunctionSQS"];
        let attrs = q
            .sqs_attributes("NewClientFunctionSQS", "eu-west-1", "123456789012")
            .unwrap();
        assert_eq!(attrs["VisibilityTimeout"], "30");
        assert_eq!(
            attrs["RedrivePolicy"],
            r#"{"deadLetterTargetArn":"arn:aws:sqs:eu-west-1:123456789012:NewClientDLQ","maxReceiveCount":3}"#
        );
        assert_eq!(
            attrs["DelaySeconds"], "0",
            "defaults are part of the declaration"
        );
        let dlq = c.queues["NewClientDLQ"]
            .sqs_attributes("NewClientDLQ", "r", "1")
            .unwrap();
        assert_eq!(dlq["MessageRetentionPeriod"], "1209600");
        let subs = c.topics["NewClientNotification"]
            .subscription_specs("NewClientNotification", "r", "1")
            .unwrap();
        assert_eq!(subs[0].protocol, "sqs");
        assert_eq!(subs[0].endpoint, "arn:aws:sqs:r:1:NewClientFunctionSQS");
        assert_eq!(subs[0].attributes["RawMessageDelivery"], "true");
        let f = c.functions["register-customer"]
            .spec("register-customer", Some(false))
            .unwrap();
        assert_eq!(
            f.target,
            FunctionTarget::Http("http://127.0.0.1:9000/register".into())
        );
        assert_eq!((f.batch_size, f.concurrency), (10, 1));
        assert_eq!(f.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn dead_letter_targets_come_before_their_sources() {
        let c = parse(
            "[queues.a]\ndead_letter = { queue = \"b\", max_receives = 2 }\n\
             [queues.b]\ndead_letter = { queue = \"c\", max_receives = 2 }\n[queues.c]\n",
        )
        .unwrap();
        assert_eq!(creation_order(&c.queues).unwrap(), ["c", "b", "a"]);
        let err = parse(
            "[queues.a]\ndead_letter = { queue = \"b\", max_receives = 2 }\n\
             [queues.b]\ndead_letter = { queue = \"a\", max_receives = 2 }\n",
        )
        .unwrap_err();
        assert!(
            err.contains(
                "queues.a.dead_letter.queue: dead-letter queues form a cycle: a -> b -> a"
            ),
            "{err}"
        );
    }

    #[test]
    fn every_mistake_is_reported_with_its_key() {
        let err = parse(
            r#"
[queues.jobs]
visibility_timeout = "13h"
delay = "soon"
content_based_deduplication = true
dead_letter = { queue = "orders.fifo", max_receives = 0 }
attributes = { VisibilityTimeout = 5, Nope = "x" }

[queues."orders.fifo"]

[queues."other.fifo"]
fifo = false

[topics.news]
subscriptions = [{ queue = "orders.fifo" }, { url = "ftp://x" }, { function = "ghost" }, { queue = "jobs", url = "http://x" }]

[functions.f]
queue = "jobs"
url = "http://127.0.0.1:1/"
command = ["x"]
batch_size = 0
timeout = "20m"
concurrency = 0
"#,
        )
        .unwrap_err();
        for expected in [
            "lull.toml:",
            "queues.jobs.visibility_timeout: expected a duration from 0s to 12h, got \"13h\"",
            "queues.jobs.delay: expected a duration like",
            "queues.jobs.content_based_deduplication: only FIFO queues have this setting",
            "queues.jobs.dead_letter.max_receives: expected 1 to 1000, got 0",
            "queues.jobs.attributes.VisibilityTimeout: already set by queues.jobs.visibility_timeout",
            "queues.jobs.attributes.Nope: Unknown Attribute Nope.",
            "queues.jobs.dead_letter.queue: \"orders.fifo\" is a FIFO queue",
            "queues.\"other.fifo\".fifo: a queue whose name ends in .fifo is a FIFO queue",
            "topics.news.subscriptions[0].queue: \"orders.fifo\" is a FIFO queue and the topic is standard",
            "topics.news.subscriptions[1].url: expected an http:// or https:// URL",
            "topics.news.subscriptions[2].function: no [functions.ghost] is declared",
            "topics.news.subscriptions[3]: expected exactly one of queue, url or function",
            "functions.f: expected exactly one of url or command",
            "functions.f.batch_size: expected 1 to 10000, got 0",
            "functions.f.timeout: expected a duration from 1ms to 15m",
            "functions.f.concurrency: expected 1 to 1000, got 0",
        ] {
            assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = parse("[queues.q]\nvisiblity_timeout = \"1s\"\n").unwrap_err();
        assert!(err.contains("visiblity_timeout"), "{err}");
        let err = parse("[functions.f]\nurl = \"http://x/\"\nbatchsize = 1\n").unwrap_err();
        assert!(err.contains("batchsize"), "{err}");
    }

    #[test]
    fn fifo_queues_and_topics() {
        let c = parse(
            r#"
[queues."o.fifo"]
content_based_deduplication = true
deduplication_scope = "messageGroup"
fifo_throughput_limit = "perMessageGroupId"
[topics."t.fifo"]
content_based_deduplication = true
subscriptions = [{ queue = "o.fifo" }]
[functions.f]
queue = "o.fifo"
command = ["cat"]
"#,
        )
        .unwrap();
        let q = c.queues["o.fifo"]
            .sqs_attributes("o.fifo", "r", "1")
            .unwrap();
        assert_eq!(q["FifoQueue"], "true");
        assert_eq!(q["DeduplicationScope"], "messageGroup");
        let t = c.topics["t.fifo"].sns_attributes("t.fifo").unwrap();
        assert_eq!(t["FifoTopic"], "true");
        assert_eq!(t["ContentBasedDeduplication"], "true");
        let err = parse(
            "[queues.\"o.fifo\"]\n[functions.f]\nqueue = \"o.fifo\"\ncommand = [\"cat\"]\nbatch_size = 11\nbatching_window = \"1s\"\n[topics.\"t.fifo\"]\nsubscriptions = [{ url = \"http://x/\" }]\n",
        )
        .unwrap_err();
        assert!(
            err.contains("functions.f.batch_size: expected 1 to 10 for a FIFO queue, got 11"),
            "{err}"
        );
        assert!(
            err.contains("functions.f.batching_window: FIFO queues take no batching window"),
            "{err}"
        );
        assert!(
            err.contains(
                "topics.\"t.fifo\".subscriptions[0]: FIFO topics deliver to SQS queues only"
            ),
            "{err}"
        );
    }

    #[test]
    fn filter_policies_as_tables_or_json() {
        let c = parse(
            r#"
[queues.q]
[topics.t]
subscriptions = [
  { queue = "q", filter_policy = { kind = ["order"], total = [{ numeric = [">", 10] }] } },
  { url = "http://127.0.0.1:1/hook", filter_policy = '{"kind": ["x"]}', filter_scope = "MessageBody" },
]
"#,
        )
        .unwrap();
        let subs = c.topics["t"].subscription_specs("t", "r", "1").unwrap();
        assert_eq!(
            subs[0].attributes["FilterPolicy"],
            r#"{"kind":["order"],"total":[{"numeric":[">",10]}]}"#
        );
        assert_eq!(subs[1].attributes["FilterPolicyScope"], "MessageBody");
        assert_eq!(subs[1].protocol, "http");
        let err = parse(
            "[topics.t]\nsubscriptions = [{ url = \"http://x/\", filter_policy = '{\"a\": 1' }, { url = \"http://y/\", filter_policy = { a = \"not-a-list\" } }]\n",
        )
        .unwrap_err();
        assert!(
            err.contains("topics.t.subscriptions[0].filter_policy: not valid JSON"),
            "{err}"
        );
        assert!(
            err.contains("topics.t.subscriptions[1].filter_policy: Invalid parameter"),
            "{err}"
        );
    }

    #[test]
    fn function_defaults_and_limits() {
        let c = parse(
            "[functions.f]\ncommand = [\"cat\"]\nbatch_size = 100\nbatching_window = \"2s\"\nenvironment = { A = \"1\" }\n",
        )
        .unwrap();
        let f = c.functions["f"].spec("f", None).unwrap();
        assert_eq!(f.batching_window, Duration::from_secs(2));
        assert_eq!(f.environment["A"], "1");
        let err = parse("[functions.f]\nurl = \"http://x/\"\nenvironment = { A = \"1\" }\nbatch_size = 20\nbatching_window = \"0s\"\n").unwrap_err();
        assert!(
            err.contains("functions.f.environment: only command functions"),
            "{err}"
        );
        assert!(
            err.contains("functions.f.batching_window: a batch_size above 10 needs"),
            "{err}"
        );
        let err = parse("[functions.\"bad name\"]\ncommand = [\"\"]\n").unwrap_err();
        assert!(
            err.contains("functions.\"bad name\": function names are"),
            "{err}"
        );
        assert!(
            err.contains("functions.\"bad name\".command: expected a program"),
            "{err}"
        );
    }
}
