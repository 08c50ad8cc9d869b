//! AddPermission and RemovePermission on a topic's access policy.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{parse, Ctx};
use crate::sns::error::SnsError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AddPermission {
    topic_arn: String,
    label: String,
    #[serde(rename = "AWSAccountId")]
    aws_account_id: Vec<String>,
    action_name: Vec<String>,
}

pub async fn add_permission(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: AddPermission = parse(input)?;
    ctx.engine
        .add_topic_permission(
            &req.topic_arn,
            &req.label,
            &req.aws_account_id,
            &req.action_name,
        )
        .await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RemovePermission {
    topic_arn: String,
    label: String,
}

pub async fn remove_permission(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: RemovePermission = parse(input)?;
    ctx.engine
        .remove_topic_permission(&req.topic_arn, &req.label)
        .await?;
    Ok(json!({}))
}
