//! ListDeadLetterSourceQueues and the message move tasks (dead-letter redrive).

use serde::Deserialize;
use serde_json::{json, Value};

use super::{paginate, parse, Ctx};
use crate::sqs::error::SqsError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListDeadLetterSourceQueues {
    queue_url: String,
    #[serde(default)]
    next_token: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
}

pub async fn list_dead_letter_source_queues(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: ListDeadLetterSourceQueues = parse(input)?;
    let key = ctx.queue_key(&req.queue_url)?;
    let sources = ctx.engine.dead_letter_sources(&key).await?;
    let named = sources
        .into_iter()
        .map(|q| (q.key.name.clone(), ctx.queue_url(&q.key)))
        .collect();
    let (urls, next) = paginate(named, req.max_results, req.next_token.as_deref())?;
    let mut out = json!({ "queueUrls": urls });
    if let Some(t) = next {
        out["NextToken"] = json!(t);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StartMessageMoveTask {
    source_arn: String,
    #[serde(default)]
    destination_arn: Option<String>,
    #[serde(default)]
    max_number_of_messages_per_second: Option<i64>,
}

pub async fn start_message_move_task(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: StartMessageMoveTask = parse(input)?;
    let handle = ctx
        .engine
        .start_move_task(
            &req.source_arn,
            req.destination_arn.as_deref(),
            req.max_number_of_messages_per_second,
        )
        .await?;
    Ok(json!({ "TaskHandle": handle }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListMessageMoveTasks {
    source_arn: String,
    #[serde(default)]
    max_results: Option<i64>,
}

pub async fn list_message_move_tasks(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: ListMessageMoveTasks = parse(input)?;
    let tasks = ctx
        .engine
        .list_move_tasks(&req.source_arn, req.max_results)
        .await?;
    let results: Vec<Value> = tasks
        .iter()
        .map(|t| {
            let mut v = json!({
                "Status": t.status.as_str(),
                "SourceArn": t.source_arn,
                "ApproximateNumberOfMessagesMoved": t.moved,
                "ApproximateNumberOfMessagesToMove": t.to_move,
                "StartedTimestamp": t.started_ms,
            });
            if t.status == crate::engine::move_task::MoveStatus::Running {
                v["TaskHandle"] = json!(t.handle);
            }
            if let Some(d) = &t.destination_arn {
                v["DestinationArn"] = json!(d);
            }
            if let Some(r) = t.rate {
                v["MaxNumberOfMessagesPerSecond"] = json!(r);
            }
            if let Some(f) = &t.failure {
                v["FailureReason"] = json!(f);
            }
            v
        })
        .collect();
    Ok(json!({ "Results": results }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CancelMessageMoveTask {
    task_handle: String,
}

pub async fn cancel_message_move_task(ctx: &Ctx, input: Value) -> Result<Value, SqsError> {
    let req: CancelMessageMoveTask = parse(input)?;
    let moved = ctx.engine.cancel_move_task(&req.task_handle).await?;
    Ok(json!({ "ApproximateNumberOfMessagesMoved": moved }))
}
