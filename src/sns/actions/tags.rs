//! TagResource, UntagResource, ListTagsForResource. SNS tags travel as a list of Key/Value
//! pairs; the engine keeps them as a map.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{parse, Ctx};
use crate::sns::error::SnsError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    key: String,
    #[serde(default)]
    value: String,
}

pub fn tag_map(tags: Vec<Tag>) -> BTreeMap<String, String> {
    tags.into_iter().map(|t| (t.key, t.value)).collect()
}

pub fn tag_list(tags: &BTreeMap<String, String>) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect(),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagResource {
    resource_arn: String,
    tags: Vec<Tag>,
}

pub async fn tag_resource(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: TagResource = parse(input)?;
    ctx.engine
        .tag_topic(&req.resource_arn, tag_map(req.tags))
        .await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UntagResource {
    resource_arn: String,
    tag_keys: Vec<String>,
}

pub async fn untag_resource(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: UntagResource = parse(input)?;
    ctx.engine
        .untag_topic(&req.resource_arn, &req.tag_keys)
        .await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResourceOnly {
    resource_arn: String,
}

pub async fn list_tags_for_resource(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: ResourceOnly = parse(input)?;
    let tags = ctx.engine.topic_tags(&req.resource_arn).await?;
    Ok(json!({ "Tags": tag_list(&tags) }))
}
