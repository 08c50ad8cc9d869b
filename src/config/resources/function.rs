//! `[functions.NAME]`: a queue bound to an HTTP endpoint or a command, with Lambda's limits
//! for SQS event sources.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::{problem, table_key, valid_http_url};
use crate::config::duration::DurationValue;

/// Lambda's limits for SQS event sources.
pub const MAX_BATCH_SIZE: u32 = 10_000;
pub const MAX_FIFO_BATCH_SIZE: u32 = 10;
pub const MAX_BATCHING_WINDOW: Duration = Duration::from_secs(300);
pub const MAX_TIMEOUT: Duration = Duration::from_secs(900);
pub const MAX_CONCURRENCY: u32 = 1000;
pub const DEFAULT_BATCH_SIZE: u32 = 10;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_CONCURRENCY: u32 = 1;

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
