//! The query dialect of SQS: form parameters in (`Action=...`), XML out. Inputs are converted to
//! the JSON protocol's shapes by the generic codec in `wire::query`, then run like any request.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::actions::{call, Ctx};
use super::error::SqsError;
use super::query_shapes::operation;
use super::XMLNS;
use crate::wire::query::{decode_input, encode_error, encode_output};

/// Handles a query-protocol request. Parameters come from the URL's query string and the form
/// body; a request posted to a queue's URL (`/ACCOUNT/NAME`) names its queue by that path.
pub async fn handle(
    ctx: &Ctx,
    path: &str,
    params: &[(String, String)],
    request_id: &str,
) -> Response {
    let Some(action) = params
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.clone())
    else {
        return if path == "/" && params.is_empty() {
            (StatusCode::NOT_FOUND, "lull: nothing here; see /healthz\n").into_response()
        } else {
            error(&SqsError::MissingParameter("Action".into()), request_id)
        };
    };
    let Some(op) = operation(&action) else {
        return error(&SqsError::InvalidAction(action), request_id);
    };
    let mut input = match decode_input(op, params) {
        Ok(v) => v,
        Err(e) => return error(&SqsError::InvalidParameterValue(e.to_string()), request_id),
    };
    let queue_path = path.trim_matches('/');
    if !queue_path.is_empty() && input.get("QueueUrl").is_none() && uses_queue_url(&action) {
        input["QueueUrl"] = Value::String(format!("/{queue_path}"));
    }
    match call(ctx, &action, input).await {
        Ok(output) => xml(
            StatusCode::OK,
            encode_output(op, &output, XMLNS, request_id),
        ),
        Err(e) => error(&e, request_id),
    }
}

fn uses_queue_url(action: &str) -> bool {
    !matches!(
        action,
        "CreateQueue"
            | "GetQueueUrl"
            | "ListQueues"
            | "StartMessageMoveTask"
            | "ListMessageMoveTasks"
            | "CancelMessageMoveTask"
    )
}

fn xml(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("text/xml"));
    resp
}

pub fn error(e: &SqsError, request_id: &str) -> Response {
    let w = e.wire();
    if w.status >= 500 {
        tracing::error!(error = %e, "request failed");
    }
    let status = StatusCode::from_u16(w.status).unwrap_or(StatusCode::BAD_REQUEST);
    xml(
        status,
        encode_error(w.query_code, &w.message, w.sender_fault, XMLNS, request_id),
    )
}
