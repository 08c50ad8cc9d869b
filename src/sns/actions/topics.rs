//! CreateTopic, DeleteTopic, ListTopics, GetTopicAttributes, SetTopicAttributes,
//! GetDataProtectionPolicy, PutDataProtectionPolicy.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::tags::{tag_map, Tag};
use super::{page, parse, Ctx, PAGE_SIZE};
use crate::engine::topics::TopicKey;
use crate::sns::error::SnsError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateTopic {
    name: String,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    data_protection_policy: Option<String>,
}

pub async fn create_topic(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: CreateTopic = parse(input)?;
    let mut attributes = req.attributes;
    if let Some(p) = req.data_protection_policy {
        attributes.insert("DataProtectionPolicy".into(), p);
    }
    let record = ctx
        .engine
        .create_topic(
            TopicKey::new(ctx.region.clone(), req.name),
            attributes,
            tag_map(req.tags),
        )
        .await?;
    Ok(json!({ "TopicArn": ctx.engine.topic_arn(&record.key) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TopicOnly {
    topic_arn: String,
}

pub async fn delete_topic(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: TopicOnly = parse(input)?;
    ctx.engine.delete_topic(&req.topic_arn).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NextTokenOnly {
    #[serde(default)]
    pub next_token: Option<String>,
}

pub async fn list_topics(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: NextTokenOnly = parse(input)?;
    let mut arns = ctx.engine.list_topics(&ctx.region).await?;
    arns.sort();
    let keyed = arns.into_iter().map(|a| (a.clone(), a)).collect();
    let (arns, next) = page(keyed, req.next_token.as_deref(), PAGE_SIZE)?;
    let topics: Vec<Value> = arns.iter().map(|a| json!({ "TopicArn": a })).collect();
    Ok(json!({ "Topics": topics, "NextToken": next }))
}

pub async fn get_topic_attributes(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: TopicOnly = parse(input)?;
    let attributes = ctx.engine.topic_attributes(&req.topic_arn).await?;
    Ok(json!({ "Attributes": attributes }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SetTopicAttributes {
    topic_arn: String,
    attribute_name: String,
    #[serde(default)]
    attribute_value: Option<String>,
}

pub async fn set_topic_attributes(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: SetTopicAttributes = parse(input)?;
    ctx.engine
        .set_topic_attribute(
            &req.topic_arn,
            &req.attribute_name,
            req.attribute_value.as_deref().unwrap_or(""),
        )
        .await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResourceOnly {
    resource_arn: String,
}

pub async fn get_data_protection_policy(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: ResourceOnly = parse(input)?;
    let topic = ctx.engine.get_topic(&req.resource_arn).await?;
    let policy = topic
        .attributes
        .get("DataProtectionPolicy")
        .cloned()
        .unwrap_or_default();
    Ok(json!({ "DataProtectionPolicy": policy }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutDataProtectionPolicy {
    resource_arn: String,
    data_protection_policy: String,
}

pub async fn put_data_protection_policy(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: PutDataProtectionPolicy = parse(input)?;
    ctx.engine
        .set_topic_attribute(
            &req.resource_arn,
            "DataProtectionPolicy",
            &req.data_protection_policy,
        )
        .await?;
    Ok(json!({}))
}
