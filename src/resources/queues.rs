//! `[queues.*]`: checked against the store, then created or brought in line with the file.

use std::collections::BTreeMap;

use super::{kind, problem, Applied, Change, Target};
use crate::config::resources::{creation_order, table_key};
use crate::config::Config;
use crate::engine::{EngineError, QueueKey, QueueRecord};

/// One declared queue and what the store holds under its name.
pub(super) struct QueuePlan {
    key: String,
    queue: QueueKey,
    attributes: BTreeMap<String, String>,
    tags: Option<BTreeMap<String, String>>,
    existing: Option<QueueRecord>,
}

/// The stored queue of that name, if any; a store failure is a problem about `key`.
pub(super) async fn lookup(
    t: &Target<'_>,
    name: &str,
    key: &str,
    problems: &mut Vec<String>,
) -> Option<QueueRecord> {
    match t.engine.get_queue(&QueueKey::new(t.region, name)).await {
        Ok(q) => Some(q),
        Err(EngineError::QueueDoesNotExist) => None,
        Err(e) => {
            problems.push(problem(key, format!("cannot read queue {name:?}: {e}")));
            None
        }
    }
}

/// Whether `name` is a declared queue or one that exists, and if so, whether it is FIFO.
pub(super) async fn declared_or_existing(
    t: &Target<'_>,
    config: &Config,
    name: &str,
    key: &str,
    problems: &mut Vec<String>,
) -> Option<bool> {
    if let Some(d) = config.queues.get(name) {
        return Some(d.is_fifo(name));
    }
    match lookup(t, name, key, problems).await {
        Some(q) => Some(q.is_fifo()),
        None => {
            problems.push(problem(
                key,
                format!(
                    "queue {name:?} is neither declared in [queues] nor an existing queue in {}",
                    t.region
                ),
            ));
            None
        }
    }
}

pub(super) async fn plan(
    t: &Target<'_>,
    config: &Config,
    problems: &mut Vec<String>,
) -> Vec<QueuePlan> {
    let order = match creation_order(&config.queues) {
        Ok(o) => o,
        Err(p) => {
            problems.push(p);
            return Vec::new();
        }
    };
    let account = t.engine.account();
    let mut plans = Vec::new();
    for name in order {
        let Some(decl) = config.queues.get(&name) else {
            continue;
        };
        let key = table_key("queues", &name);
        let attributes = match decl.sqs_attributes(&name, t.region, account) {
            Ok(a) => a,
            Err(mut p) => {
                problems.append(&mut p);
                continue;
            }
        };
        let existing = lookup(t, &name, &key, problems).await;
        let fifo = decl.is_fifo(&name);
        if let Some(q) = &existing {
            if q.is_fifo() != fifo {
                problems.push(problem(
                    format!("{key}.fifo"),
                    format!(
                        "the queue exists as a {} queue and a queue's type cannot change (delete it first, or declare it {})",
                        kind(q.is_fifo()),
                        kind(q.is_fifo())
                    ),
                ));
            }
        }
        if let Some(d) = &decl.dead_letter {
            let dl_key = format!("{key}.dead_letter.queue");
            if !config.queues.contains_key(&d.queue) {
                if let Some(target_fifo) =
                    declared_or_existing(t, config, &d.queue, &dl_key, problems).await
                {
                    if target_fifo != fifo {
                        problems.push(problem(
                            &dl_key,
                            format!(
                                "{:?} is a {} queue; a dead-letter queue must be of the same type as its source",
                                d.queue,
                                kind(target_fifo)
                            ),
                        ));
                    }
                }
            }
        }
        plans.push(QueuePlan {
            queue: QueueKey::new(t.region, name.as_str()),
            key,
            attributes,
            tags: decl.tags.clone(),
            existing,
        });
    }
    plans
}

pub(super) async fn apply(
    t: &Target<'_>,
    plans: Vec<QueuePlan>,
    applied: &mut Applied,
    problems: &mut Vec<String>,
) {
    for p in plans {
        match apply_one(t, &p).await {
            Ok(change) => applied.record(p.key, change),
            Err(e) => problems.push(problem(&p.key, e)),
        }
    }
}

async fn apply_one(t: &Target<'_>, p: &QueuePlan) -> Result<Change, EngineError> {
    let Some(current) = &p.existing else {
        t.engine
            .create_queue(
                p.queue.clone(),
                p.attributes.clone(),
                p.tags.clone().unwrap_or_default(),
            )
            .await?;
        return Ok(Change::Created);
    };
    let mut changes = attribute_changes(&current.attributes, &p.attributes);
    // The file owns the redrive policy through `dead_letter`.
    if current.attributes.contains_key("RedrivePolicy")
        && !p.attributes.contains_key("RedrivePolicy")
    {
        changes.insert("RedrivePolicy".into(), String::new());
    }
    let mut change = Change::Unchanged;
    if !changes.is_empty() {
        t.engine.set_queue_attributes(&p.queue, changes).await?;
        change = Change::Updated;
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
                t.engine.untag_queue(&p.queue, &gone).await?;
            }
            t.engine.tag_queue(&p.queue, want.clone()).await?;
            change = Change::Updated;
        }
    }
    Ok(change)
}

/// The wanted attributes whose stored value differs.
fn attribute_changes(
    current: &BTreeMap<String, String>,
    wanted: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    wanted
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
