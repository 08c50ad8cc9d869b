//! TagQueue, UntagQueue, ListQueueTags.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::queue_admin::QueueOnly;
use super::{parse, Ctx};
use crate::sqs::error::SqsError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagQueue {
    queue_url: String,
    tags: BTreeMap<String, String>,
}

pub async fn tag_queue(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: TagQueue = parse(input)?;
    ctx.engine
        .tag_queue(&ctx.queue_key(&req.queue_url)?, req.tags)
        .await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UntagQueue {
    queue_url: String,
    tag_keys: Vec<String>,
}

pub async fn untag_queue(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: UntagQueue = parse(input)?;
    ctx.engine
        .untag_queue(&ctx.queue_key(&req.queue_url)?, &req.tag_keys)
        .await?;
    Ok(json!({}))
}

pub async fn list_queue_tags(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: QueueOnly = parse(input)?;
    let record = ctx
        .engine
        .get_queue(&ctx.queue_key(&req.queue_url)?)
        .await?;
    if record.tags.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({ "Tags": record.tags }))
}
