//! CreateQueue, GetQueueUrl, DeleteQueue, ListQueues, Get/SetQueueAttributes, PurgeQueue.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{paginate, parse, Ctx};
use crate::engine::QueueKey;
use crate::sqs::error::SqsError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateQueue {
    queue_name: String,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default, rename = "tags")]
    tags: BTreeMap<String, String>,
}

pub async fn create_queue(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: CreateQueue = parse(input)?;
    let key = QueueKey::new(ctx.region.clone(), req.queue_name);
    let record = ctx
        .engine
        .create_queue(key, req.attributes, req.tags)
        .await?;
    Ok(json!({ "QueueUrl": ctx.queue_url(&record.key) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetQueueUrl {
    queue_name: String,
    #[serde(default)]
    queue_owner_a_w_s_account_id: Option<String>,
}

pub async fn get_queue_url(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: GetQueueUrl = parse(input)?;
    if req
        .queue_owner_a_w_s_account_id
        .as_deref()
        .is_some_and(|a| a != ctx.engine.account())
    {
        return Err(crate::engine::EngineError::QueueDoesNotExist.into());
    }
    let key = QueueKey::new(ctx.region.clone(), req.queue_name);
    ctx.engine.get_queue(&key).await?;
    Ok(json!({ "QueueUrl": ctx.queue_url(&key) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct QueueOnly {
    pub queue_url: String,
}

pub async fn delete_queue(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: QueueOnly = parse(input)?;
    ctx.engine
        .delete_queue(&ctx.queue_key(&req.queue_url)?)
        .await?;
    Ok(json!({}))
}

pub async fn purge_queue(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: QueueOnly = parse(input)?;
    ctx.engine.purge(&ctx.queue_key(&req.queue_url)?).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListQueues {
    #[serde(default)]
    queue_name_prefix: Option<String>,
    #[serde(default)]
    next_token: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
}

pub async fn list_queues(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: ListQueues = parse(input)?;
    let queues = ctx
        .engine
        .list_queues(&ctx.region, req.queue_name_prefix.as_deref().unwrap_or(""))
        .await?;
    let named = queues
        .into_iter()
        .map(|q| (q.key.name.clone(), ctx.queue_url(&q.key)))
        .collect();
    let (urls, next) = paginate(named, req.max_results, req.next_token.as_deref())?;
    let mut out = json!({});
    if !urls.is_empty() {
        out["QueueUrls"] = json!(urls);
    }
    if let Some(t) = next {
        out["NextToken"] = json!(t);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetQueueAttributes {
    queue_url: String,
    #[serde(default)]
    attribute_names: Vec<String>,
}

pub async fn get_queue_attributes(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: GetQueueAttributes = parse(input)?;
    let key = ctx.queue_key(&req.queue_url)?;
    let attrs = ctx
        .engine
        .queue_attributes(&key, &req.attribute_names)
        .await?;
    if attrs.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({ "Attributes": attrs }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SetQueueAttributes {
    queue_url: String,
    attributes: BTreeMap<String, String>,
}

pub async fn set_queue_attributes(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: SetQueueAttributes = parse(input)?;
    let key = ctx.queue_key(&req.queue_url)?;
    ctx.engine
        .set_queue_attributes(&key, req.attributes)
        .await?;
    Ok(json!({}))
}
