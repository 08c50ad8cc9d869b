//! Declared resources applied at start: the `[queues.*]`, `[topics.*]` and `[functions.*]` of
//! `lull.toml` are created, or updated to match, before the server takes requests — what
//! `terraform apply` or `sam deploy` did in the seeds, idempotently: applying the same file
//! twice changes nothing the second time.
//!
//! Two passes. The first only reads: it finds every problem that needs the store (a
//! dead-letter queue that is neither declared nor exists, a queue or topic whose type would
//! change, a subscription to a missing queue) and reports them all at once, so a file with a
//! mistake changes nothing. The second creates and updates, queues first (dead-letter targets
//! before their sources), then topics and their subscriptions, then the functions' invoke
//! queues.
//!
//! The file owns what it declares: a queue's standard attributes take their defaults when the
//! file does not set them, and its redrive policy goes away with its `dead_letter`; tags, when
//! given, become exactly the given ones. Resources the file no longer declares are left as
//! they are (delete them with any SQS/SNS client).

mod functions;
mod queues;
mod topics;

use std::fmt;

use crate::config::resources::{kind, problem};
use crate::config::Config;
use crate::engine::Engine;

/// Why the declarations could not be applied: one line per problem, each naming its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyError {
    pub problems: Vec<String>,
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problems.join("\n"))
    }
}

impl std::error::Error for ApplyError {}

/// What applying changed, for the start-up log and for tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// `queues.NAME`, `topics.NAME`, `topics.NAME.subscriptions[i]`, `functions.NAME`.
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: usize,
}

impl Applied {
    fn record(&mut self, key: String, change: Change) {
        match change {
            Change::Created => self.created.push(key),
            Change::Updated => self.updated.push(key),
            Change::Unchanged => self.unchanged += 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Created,
    Updated,
    Unchanged,
}

/// Where the declarations go: the engine and the server's region.
struct Target<'a> {
    engine: &'a Engine,
    region: &'a str,
}

/// Checks the declarations against the store, then creates or updates them in `region`.
pub async fn apply(engine: &Engine, config: &Config, region: &str) -> Result<Applied, ApplyError> {
    let target = Target { engine, region };
    let mut problems = Vec::new();
    let queue_plans = queues::plan(&target, config, &mut problems).await;
    let topic_plans = topics::plan(&target, config, &mut problems).await;
    let function_plans = functions::plan(&target, config, &mut problems).await;
    if !problems.is_empty() {
        return Err(ApplyError { problems });
    }
    let mut applied = Applied::default();
    queues::apply(&target, queue_plans, &mut applied, &mut problems).await;
    if problems.is_empty() {
        topics::apply(&target, topic_plans, &mut applied, &mut problems).await;
        functions::apply(&target, function_plans, &mut applied, &mut problems).await;
    }
    if !problems.is_empty() {
        return Err(ApplyError { problems });
    }
    for key in &applied.created {
        tracing::info!(resource = %key, "created from lull.toml");
    }
    for key in &applied.updated {
        tracing::info!(resource = %key, "updated to match lull.toml");
    }
    Ok(applied)
}
