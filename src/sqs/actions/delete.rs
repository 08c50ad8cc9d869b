//! DeleteMessage and DeleteMessageBatch.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{batch_outcome, check_batch_ids, parse, Ctx};
use crate::sqs::error::SqsError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteMessage {
    queue_url: String,
    receipt_handle: String,
}

pub async fn delete_message(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: DeleteMessage = parse(input)?;
    let key = ctx.queue_key(&req.queue_url)?;
    let mut results = ctx
        .engine
        .delete_messages(&key, &[req.receipt_handle])
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
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteMessageBatch {
    queue_url: String,
    #[serde(default)]
    entries: Vec<Entry>,
}

pub async fn delete_message_batch(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: DeleteMessageBatch = parse(input)?;
    let key = ctx.queue_key(&req.queue_url)?;
    check_batch_ids(
        "DeleteMessageBatchRequestEntry",
        req.entries.iter().map(|e| e.id.as_str()),
    )?;
    let handles: Vec<String> = req
        .entries
        .iter()
        .map(|e| e.receipt_handle.clone())
        .collect();
    let results = ctx.engine.delete_messages(&key, &handles).await?;
    Ok(batch_outcome(
        req.entries.iter().map(|e| e.id.as_str()),
        results,
    ))
}
