//! Declarative resources: `[queues.NAME]`, `[topics.NAME]`, `[functions.NAME]` — what
//! Terraform or SAM created in the seeds, written in `lull.toml` and created or updated at start.
//!
//! This module owns the file's shape and every check that needs no store: names, durations and
//! their AWS ranges, FIFO-only settings, references between declarations. Each declaration
//! turns into the SQS/SNS attributes the engine takes, through the engine's own attribute
//! validation, so the file accepts exactly what the API accepts. Checks against what is already
//! stored (a referenced queue that is not declared, a queue that changed type) happen when the
//! declarations are applied (`crate::resources`), in the same words.
//!
//! One file per kind of declaration (`queue`, `topic`, `function`), each owning its table's
//! shape and its translation; `validate` adds the checks across declarations.

mod function;
mod queue;
mod topic;

use std::collections::BTreeMap;

use super::Config;

pub use function::{FunctionDecl, FunctionSpec, FunctionTarget};
pub use queue::{creation_order, DeadLetterDecl, QueueDecl};
pub use topic::{SubscriptionDecl, SubscriptionSpec, TopicDecl};

/// Account and region used to check attributes that hold ARNs before the real ones are known.
const PLACEHOLDER_REGION: &str = "us-east-1";
const PLACEHOLDER_ACCOUNT: &str = "000000000000";

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
pub(crate) fn problem(key: impl std::fmt::Display, message: impl std::fmt::Display) -> String {
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

fn is_fifo_name(name: &str) -> bool {
    name.ends_with(".fifo")
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

fn valid_http_url(url: &str) -> bool {
    (url.starts_with("http://") || url.starts_with("https://"))
        && reqwest::Url::parse(url).is_ok_and(|u| u.host_str().is_some_and(|h| !h.is_empty()))
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

/// `FIFO` or `standard`, for messages about a queue's or topic's type.
pub(crate) fn kind(fifo: bool) -> &'static str {
    if fifo {
        "FIFO"
    } else {
        "standard"
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::function::DEFAULT_TIMEOUT;
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
