//! Declarative resources: `[queues.NAME]`, `[topics.NAME]`, `[functions.NAME]`.

use serde::Deserialize;

use super::Config;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueDecl {}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicDecl {}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionDecl {}

/// Adds every problem found in the resource tables to `out`, each naming its key.
pub fn validate(_config: &Config, _out: &mut Vec<String>) {}
