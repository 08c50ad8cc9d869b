//! One module per group of SNS actions. Each parses its input (the JSON-shaped value the query
//! codec built), calls the topics engine and builds its output shape.

mod permissions;
mod publish;
mod subscriptions;
mod tags;
mod topics;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::SnsError;
use crate::engine::Engine;

/// Who is calling: the engine and the region whose topics are addressed.
pub struct Ctx {
    pub engine: Engine,
    pub region: String,
}

pub fn parse<T: DeserializeOwned>(input: Value) -> Result<T, SnsError> {
    serde_json::from_value(input).map_err(SnsError::from_serde)
}

/// Runs one action. `input` and the returned output are JSON-shaped.
pub async fn call(ctx: &Ctx, action: &str, input: Value) -> Result<Value, SnsError> {
    match action {
        "CreateTopic" => topics::create_topic(ctx, input).await,
        "DeleteTopic" => topics::delete_topic(ctx, input).await,
        "ListTopics" => topics::list_topics(ctx, input).await,
        "GetTopicAttributes" => topics::get_topic_attributes(ctx, input).await,
        "SetTopicAttributes" => topics::set_topic_attributes(ctx, input).await,
        "Subscribe" => subscriptions::subscribe(ctx, input).await,
        "ConfirmSubscription" => subscriptions::confirm_subscription(ctx, input).await,
        "Unsubscribe" => subscriptions::unsubscribe(ctx, input).await,
        "ListSubscriptions" => subscriptions::list_subscriptions(ctx, input).await,
        "ListSubscriptionsByTopic" => subscriptions::list_subscriptions_by_topic(ctx, input).await,
        "GetSubscriptionAttributes" => subscriptions::get_subscription_attributes(ctx, input).await,
        "SetSubscriptionAttributes" => subscriptions::set_subscription_attributes(ctx, input).await,
        "Publish" => publish::publish(ctx, input).await,
        "PublishBatch" => publish::publish_batch(ctx, input).await,
        "TagResource" => tags::tag_resource(ctx, input).await,
        "UntagResource" => tags::untag_resource(ctx, input).await,
        "ListTagsForResource" => tags::list_tags_for_resource(ctx, input).await,
        "AddPermission" => permissions::add_permission(ctx, input).await,
        "RemovePermission" => permissions::remove_permission(ctx, input).await,
        "GetDataProtectionPolicy" => topics::get_data_protection_policy(ctx, input).await,
        "PutDataProtectionPolicy" => topics::put_data_protection_policy(ctx, input).await,
        other => Err(SnsError::InvalidAction(other.to_string())),
    }
}

/// Items per page of ListTopics, ListSubscriptions and ListSubscriptionsByTopic.
pub const PAGE_SIZE: usize = 100;

/// One page of `items` (sorted by their key) after the key `token` names; the next token
/// names the last key of a full page that has more after it.
pub fn page<T>(
    items: Vec<(String, T)>,
    token: Option<&str>,
    size: usize,
) -> Result<(Vec<T>, Option<String>), SnsError> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let after = match token.filter(|t| !t.is_empty()) {
        Some(t) => Some(
            b64.decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| SnsError::InvalidParameter("Invalid parameter: NextToken".into()))?,
        ),
        None => None,
    };
    let mut rest: Vec<(String, T)> = items
        .into_iter()
        .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
        .collect();
    let more = rest.len() > size;
    rest.truncate(size);
    let next = if more {
        rest.last().map(|(k, _)| b64.encode(k.as_bytes()))
    } else {
        None
    };
    Ok((rest.into_iter().map(|(_, v)| v).collect(), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_their_tokens_to_the_end() {
        let items: Vec<(String, u32)> = (0..7).map(|i| (format!("k{i}"), i)).collect();
        let (first, token) = page(items.clone(), None, 3).unwrap();
        assert_eq!(first, vec![0, 1, 2]);
        let (second, token) = page(items.clone(), token.as_deref(), 3).unwrap();
        assert_eq!(second, vec![3, 4, 5]);
        let (last, token) = page(items.clone(), token.as_deref(), 3).unwrap();
        assert_eq!((last, token), (vec![6], None));
        let (exact, token) = page(items[..3].to_vec(), None, 3).unwrap();
        assert_eq!((exact.len(), token), (3, None));
        assert!(page(items, Some("!!"), 3).is_err());
    }
}
