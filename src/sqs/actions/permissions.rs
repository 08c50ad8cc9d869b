//! AddPermission and RemovePermission: kept in the queue's `Policy` attribute.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{parse, Ctx};
use crate::sqs::error::SqsError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AddPermission {
    queue_url: String,
    label: String,
    #[serde(rename = "AWSAccountIds")]
    aws_account_ids: Vec<String>,
    actions: Vec<String>,
}

pub async fn add_permission(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: AddPermission = parse(input)?;
    let key = ctx.queue_key(&req.queue_url)?;
    ctx.engine
        .add_permission(&key, &req.label, &req.aws_account_ids, &req.actions)
        .await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RemovePermission {
    queue_url: String,
    label: String,
}

pub async fn remove_permission(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: RemovePermission = parse(input)?;
    ctx.engine
        .remove_permission(&ctx.queue_key(&req.queue_url)?, &req.label)
        .await?;
    Ok(json!({}))
}
