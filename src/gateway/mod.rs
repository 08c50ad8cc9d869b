//! The chat gateway's HTTP door: platform webhooks (`/webhooks/{app}`, and the seeds'
//! `/webhook?appId={app}`) and the admin API (`/admin/...`); plus the apps' queues, which the
//! door, the server's start-up and the workers share.
//!
//! Errors are JSON, `{"error": "reason"}`, with the status saying whose fault it is: 404 an
//! unknown app, 413 a body over 1 MiB, 401 a bad signature or token, 400 a payload the
//! platform would not send, 503 the store failing (the platform retries; ids deduplicate).

mod admin;
pub mod queues;
mod webhook;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::server::App;

/// Routes `/webhooks/{app}`, `/webhook?appId=`, `/admin/...`.
pub fn routes() -> Router<App> {
    Router::new()
        .route(
            "/webhooks/{app}",
            post(webhook::post_by_path).get(webhook::handshake_by_path),
        )
        .route(
            "/webhook",
            post(webhook::post_by_query).get(webhook::handshake_by_query),
        )
        .route("/admin/apps", get(admin::apps))
        .route("/admin/apps/{app}/conversations", get(admin::conversations))
        .route(
            "/admin/apps/{app}/conversations/{conversation}/flush",
            post(admin::flush),
        )
}

/// A refused request: answered `{"error": reason}` with `status`.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    reason: String,
}

impl Refusal {
    fn new(status: StatusCode, reason: impl Into<String>) -> Refusal {
        Refusal {
            status,
            reason: reason.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.reason }));
        (self.status, body).into_response()
    }
}

fn error(status: StatusCode, reason: impl Into<String>) -> Response {
    Refusal::new(status, reason).into_response()
}

fn unknown_app(name: &str) -> Refusal {
    Refusal::new(StatusCode::NOT_FOUND, format!("unknown app {name:?}"))
}

/// A query string's value for `name`, percent-decoded.
fn query_param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
