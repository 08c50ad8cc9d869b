//! ChangeMessageVisibility and ChangeMessageVisibilityBatch.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{batch_outcome, check_batch_ids, parse, Ctx};
use crate::sqs::error::SqsError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ChangeMessageVisibility {
    queue_url: String,
    receipt_handle: String,
    visibility_timeout: i64,
}

pub async fn change_message_visibility(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: ChangeMessageVisibility = parse(input)?;
    let key = ctx.queue_key(&req.queue_url)?;
    let mut results = ctx
        .engine
        .change_visibility(&key, &[(req.receipt_handle, req.visibility_timeout)])
        .await?;
    if let Some(Err(e)) = results.pop() {
        return Err(e.into());
    }
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    id: String,
    receipt_handle: String,
    #[serde(default)]
    visibility_timeout: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ChangeMessageVisibilityBatch {
    queue_url: String,
    #[serde(default)]
    entries: Vec<Entry>,
}

pub async fn change_message_visibility_batch(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: ChangeMessageVisibilityBatch = parse(input)?;
    let key = ctx.queue_key(&req.queue_url)?;
    check_batch_ids(
        "ChangeMessageVisibilityBatchRequestEntry",
        req.entries.iter().map(|e| e.id.as_str()),
    )?;
    let changes: Vec<(String, i64)> = req
        .entries
        .iter()
        .map(|e| (e.receipt_handle.clone(), e.visibility_timeout))
        .collect();
    let results = ctx.engine.change_visibility(&key, &changes).await?;
    Ok(batch_outcome(
        req.entries.iter().map(|e| e.id.as_str()),
        results,
    ))
}
