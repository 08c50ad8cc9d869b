//! SNS over the query protocol: form parameters in (`Action=...`), XML out.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::actions::{call, Ctx};
use super::error::SnsError;
use super::query_shapes::operation;
use super::XMLNS;
use crate::wire::query::{decode_input, encode_error, encode_output};

/// Handles one SNS request whose parameters (query string and form) are already parsed.
pub async fn handle(ctx: &Ctx, params: &[(String, String)], request_id: &str) -> Response {
    let Some(action) = params
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.clone())
    else {
        return error(
            &SnsError::InvalidParameter("Invalid parameter: Action".into()),
            request_id,
        );
    };
    let Some(op) = operation(&action) else {
        return error(&SnsError::InvalidAction(action), request_id);
    };
    let input = match decode_input(op, params) {
        Ok(v) => v,
        Err(e) => {
            return error(
                &SnsError::InvalidParameter(format!("Invalid parameter: {e}")),
                request_id,
            )
        }
    };
    match call(ctx, &action, input).await {
        Ok(output) => xml(
            StatusCode::OK,
            encode_output(op, &output, XMLNS, request_id),
        ),
        Err(e) => error(&e, request_id),
    }
}

fn xml(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("text/xml"));
    resp
}

pub fn error(e: &SnsError, request_id: &str) -> Response {
    let w = e.wire();
    if w.status >= 500 {
        tracing::error!(error = %e, "request failed");
    }
    let status = StatusCode::from_u16(w.status).unwrap_or(StatusCode::BAD_REQUEST);
    xml(
        status,
        encode_error(w.code, &w.message, w.sender_fault, XMLNS, request_id),
    )
}
