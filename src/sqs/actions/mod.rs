//! One module per group of SQS actions. Each parses its input (the JSON protocol's shape; the
//! query protocol is converted to it first), calls the engine and builds its output shape.

mod dead_letter;
mod delete;
mod permissions;
mod queue_admin;
mod receive;
mod send;
mod tags;
mod visibility;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::SqsError;
use crate::engine::{Engine, QueueKey};

/// Who is calling, and from where: enough to resolve queue URLs and build new ones.
pub struct Ctx {
    pub engine: Engine,
    pub region: String,
    /// The `Host` the client used, so returned queue URLs work from where it called.
    pub host: String,
    pub sender_id: String,
}

impl Ctx {
    pub fn queue_url(&self, key: &QueueKey) -> String {
        format!(
            "http://{}/{}/{}",
            self.host,
            self.engine.account(),
            key.name
        )
    }

    /// Accepts a queue URL (`http://host/ACCOUNT/NAME`), a path (`/ACCOUNT/NAME`) or a bare name.
    pub fn queue_key(&self, url: &str) -> Result<QueueKey, SqsError> {
        let path = match url.find("://") {
            Some(i) => url[i + 3..].split_once('/').map_or("", |(_, p)| p),
            None => url.trim_start_matches('/'),
        };
        let mut parts = path.split('/').filter(|p| !p.is_empty());
        let (account, name) = match (parts.next(), parts.next(), parts.next()) {
            (Some(name), None, None) => (None, name),
            (Some(account), Some(name), None) => (Some(account), name),
            _ => return Err(crate::engine::EngineError::QueueDoesNotExist.into()),
        };
        if account.is_some_and(|a| a != self.engine.account()) || name.is_empty() {
            return Err(crate::engine::EngineError::QueueDoesNotExist.into());
        }
        Ok(QueueKey::new(self.region.clone(), name))
    }
}

pub fn parse<T: DeserializeOwned>(input: Value) -> Result<T, SqsError> {
    serde_json::from_value(input).map_err(SqsError::from_serde)
}

/// Runs one action. `input` and the returned output are in the JSON protocol's shapes.
pub async fn call(ctx: &Ctx, action: &str, input: Value) -> Result<Value, SqsError> {
    match action {
        "CreateQueue" => queue_admin::create_queue(ctx, input).await,
        "GetQueueUrl" => queue_admin::get_queue_url(ctx, input).await,
        "DeleteQueue" => queue_admin::delete_queue(ctx, input).await,
        "ListQueues" => queue_admin::list_queues(ctx, input).await,
        "GetQueueAttributes" => queue_admin::get_queue_attributes(ctx, input).await,
        "SetQueueAttributes" => queue_admin::set_queue_attributes(ctx, input).await,
        "PurgeQueue" => queue_admin::purge_queue(ctx, input).await,
        "SendMessage" => send::send_message(ctx, input).await,
        "SendMessageBatch" => send::send_message_batch(ctx, input).await,
        "ReceiveMessage" => receive::receive_message(ctx, input).await,
        "DeleteMessage" => delete::delete_message(ctx, input).await,
        "DeleteMessageBatch" => delete::delete_message_batch(ctx, input).await,
        "ChangeMessageVisibility" => visibility::change_message_visibility(ctx, input).await,
        "ChangeMessageVisibilityBatch" => {
            visibility::change_message_visibility_batch(ctx, input).await
        }
        "TagQueue" => tags::tag_queue(ctx, input).await,
        "UntagQueue" => tags::untag_queue(ctx, input).await,
        "ListQueueTags" => tags::list_queue_tags(ctx, input).await,
        "AddPermission" => permissions::add_permission(ctx, input).await,
        "RemovePermission" => permissions::remove_permission(ctx, input).await,
        "ListDeadLetterSourceQueues" => {
            dead_letter::list_dead_letter_source_queues(ctx, input).await
        }
        "StartMessageMoveTask" => dead_letter::start_message_move_task(ctx, input).await,
        "ListMessageMoveTasks" => dead_letter::list_message_move_tasks(ctx, input).await,
        "CancelMessageMoveTask" => dead_letter::cancel_message_move_task(ctx, input).await,
        other => Err(SqsError::InvalidAction(other.to_string())),
    }
}

/// Batch entry ids: 1–80 alphanumerics, hyphens and underscores, distinct, 1–10 entries.
pub fn check_batch_ids<'a>(
    entry_shape: &str,
    ids: impl ExactSizeIterator<Item = &'a str>,
) -> Result<(), SqsError> {
    let n = ids.len();
    if n == 0 {
        return Err(SqsError::EmptyBatchRequest(entry_shape.to_string()));
    }
    if n > 10 {
        return Err(SqsError::TooManyEntriesInBatchRequest(n));
    }
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        let ok = !id.is_empty()
            && id.len() <= 80
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(SqsError::InvalidBatchEntryId);
        }
        if !seen.insert(id) {
            return Err(SqsError::BatchEntryIdsNotDistinct(id.to_string()));
        }
    }
    Ok(())
}

/// A failed batch entry in the shape every batch action returns.
pub fn failed_entry(id: &str, e: SqsError) -> Value {
    let w = e.wire();
    serde_json::json!({
        "Id": id,
        "SenderFault": w.sender_fault,
        "Code": w.query_code,
        "Message": w.message,
    })
}

/// The `Successful`/`Failed` answer of a batch action whose entries carry nothing but their id.
pub fn batch_outcome<'a>(
    ids: impl Iterator<Item = &'a str>,
    results: Vec<crate::engine::EngineResult<()>>,
) -> Value {
    let (mut successful, mut failed) = (Vec::new(), Vec::new());
    for (id, r) in ids.zip(results) {
        match r {
            Ok(()) => successful.push(serde_json::json!({ "Id": id })),
            Err(err) => failed.push(failed_entry(id, err.into())),
        }
    }
    serde_json::json!({ "Successful": successful, "Failed": failed })
}

/// Pagination tokens are the last name of the previous page.
pub fn paginate(
    names: Vec<(String, String)>,
    max: Option<i64>,
    token: Option<&str>,
) -> Result<(Vec<String>, Option<String>), SqsError> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let after = match token {
        Some(t) => Some(
            b64.decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    SqsError::InvalidParameterValue("Invalid NextToken value.".into())
                })?,
        ),
        None => None,
    };
    let limit = match max {
        None => 1000,
        Some(m @ 1..=1000) => m as usize,
        Some(m) => {
            return Err(SqsError::InvalidParameterValue(format!(
                "Value {m} for parameter MaxResults is invalid. Reason: Must be between 1 and 1000."
            )))
        }
    };
    let rest: Vec<(String, String)> = names
        .into_iter()
        .filter(|(n, _)| after.as_ref().is_none_or(|a| n > a))
        .collect();
    let more = max.is_some() && rest.len() > limit;
    let page: Vec<(String, String)> = rest.into_iter().take(limit).collect();
    let next = if more {
        page.last().map(|(n, _)| b64.encode(n.as_bytes()))
    } else {
        None
    };
    Ok((page.into_iter().map(|(_, url)| url).collect(), next))
}
