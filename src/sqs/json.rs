//! The AWS JSON 1.0 dialect of SQS.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::actions::{call, Ctx};
use super::error::SqsError;

pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// Handles one JSON-protocol request whose target was `AmazonSQS.<action>`.
pub async fn handle(ctx: &Ctx, action: &str, body: &[u8], request_id: &str) -> Response {
    let input = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(Value::Object(Default::default()))
    } else {
        serde_json::from_slice::<Value>(body)
            .map_err(|e| SqsError::Serialization(format!("Malformed JSON request body: {e}")))
            .and_then(|v| {
                if v.is_object() {
                    Ok(v)
                } else {
                    Err(SqsError::Serialization(
                        "The request body must be a JSON object.".into(),
                    ))
                }
            })
    };
    let result = match input {
        Ok(input) => call(ctx, action, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(output) => respond(StatusCode::OK, output.to_string(), request_id),
        Err(e) => error(&e, request_id),
    }
}

fn respond(status: StatusCode, body: String, request_id: &str) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

/// An error in the JSON dialect, with the `x-amzn-query-error` header that query-compatible SDKs
/// read to recover the legacy error code.
pub fn error(e: &SqsError, request_id: &str) -> Response {
    let w = e.wire();
    if w.status >= 500 {
        tracing::error!(error = %e, "request failed");
    }
    let body = serde_json::json!({
        "__type": format!("com.amazonaws.sqs#{}", w.json_type),
        "message": w.message,
    });
    let status = StatusCode::from_u16(w.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = respond(status, body.to_string(), request_id);
    let fault = if w.sender_fault { "Sender" } else { "Receiver" };
    if let Ok(v) = HeaderValue::from_str(&format!("{};{}", w.query_code, fault)) {
        resp.headers_mut().insert("x-amzn-query-error", v);
    }
    resp
}
