//! Subscribe, ConfirmSubscription, Unsubscribe, ListSubscriptions, ListSubscriptionsByTopic,
//! GetSubscriptionAttributes, SetSubscriptionAttributes.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::topics::NextTokenOnly;
use super::{page, parse, Ctx, PAGE_SIZE};
use crate::engine::topics::SubscriptionInfo;
use crate::sns::error::SnsError;

/// What SNS says in place of the ARN of a subscription still waiting for its confirmation.
const PENDING: &str = "pending confirmation";
/// How listings show a pending subscription's ARN.
const PENDING_LISTED: &str = "PendingConfirmation";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Subscribe {
    topic_arn: String,
    protocol: String,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    return_subscription_arn: bool,
}

pub async fn subscribe(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: Subscribe = parse(input)?;
    let result = ctx
        .engine
        .subscribe(
            &req.topic_arn,
            &req.protocol,
            req.endpoint.as_deref().unwrap_or(""),
            req.attributes,
        )
        .await?;
    let arn = if result.pending && !req.return_subscription_arn {
        PENDING.to_string()
    } else {
        result.subscription_arn
    };
    Ok(json!({ "SubscriptionArn": arn }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConfirmSubscription {
    topic_arn: String,
    token: String,
    #[serde(default)]
    authenticate_on_unsubscribe: Option<String>,
}

/// Confirms with the token a `SubscriptionConfirmation` carried (the SubscribeURL's GET lands
/// here too).
pub async fn confirm_subscription(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: ConfirmSubscription = parse(input)?;
    let authenticate = match req.authenticate_on_unsubscribe.as_deref() {
        None | Some("") => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(_) => {
            return Err(SnsError::InvalidParameter(
                "Invalid parameter: AuthenticateOnUnsubscribe".into(),
            ))
        }
    };
    let arn = ctx
        .engine
        .confirm_subscription(&req.topic_arn, &req.token, authenticate)
        .await?;
    Ok(json!({ "SubscriptionArn": arn }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SubscriptionOnly {
    subscription_arn: String,
}

pub async fn unsubscribe(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: SubscriptionOnly = parse(input)?;
    ctx.engine.unsubscribe(&req.subscription_arn).await?;
    Ok(json!({}))
}

/// A page of subscriptions, ordered by ARN so that the token (the last ARN) finds its place.
fn listing(subs: Vec<SubscriptionInfo>, token: Option<&str>) -> Result<Value, SnsError> {
    let mut keyed: Vec<(String, SubscriptionInfo)> = subs
        .into_iter()
        .map(|s| (s.subscription_arn.clone(), s))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let (subs, next) = page(keyed, token, PAGE_SIZE)?;
    let rows: Vec<Value> = subs
        .into_iter()
        .map(|s| {
            json!({
                "SubscriptionArn": if s.pending { PENDING_LISTED.to_string() } else { s.subscription_arn },
                "Owner": s.owner,
                "Protocol": s.protocol,
                "Endpoint": s.endpoint,
                "TopicArn": s.topic_arn,
            })
        })
        .collect();
    Ok(json!({ "Subscriptions": rows, "NextToken": next }))
}

pub async fn list_subscriptions(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: NextTokenOnly = parse(input)?;
    let subs = ctx.engine.list_subscriptions(&ctx.region).await?;
    listing(subs, req.next_token.as_deref())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ByTopic {
    topic_arn: String,
    #[serde(default)]
    next_token: Option<String>,
}

pub async fn list_subscriptions_by_topic(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: ByTopic = parse(input)?;
    let subs = ctx
        .engine
        .list_subscriptions_by_topic(&req.topic_arn)
        .await?;
    listing(subs, req.next_token.as_deref())
}

pub async fn get_subscription_attributes(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: SubscriptionOnly = parse(input)?;
    let attributes = ctx
        .engine
        .subscription_attributes(&req.subscription_arn)
        .await?;
    Ok(json!({ "Attributes": attributes }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SetSubscriptionAttributes {
    subscription_arn: String,
    attribute_name: String,
    #[serde(default)]
    attribute_value: Option<String>,
}

pub async fn set_subscription_attributes(ctx: &Ctx, input: Value) -> Result<Value, SnsError> {
    let req: SetSubscriptionAttributes = parse(input)?;
    ctx.engine
        .set_subscription_attribute(
            &req.subscription_arn,
            &req.attribute_name,
            req.attribute_value.as_deref().unwrap_or(""),
        )
        .await?;
    Ok(json!({}))
}
