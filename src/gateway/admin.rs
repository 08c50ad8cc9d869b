//! The admin API (JSON for the dashboard and `lull conversations`):
//!
//! - `GET /admin/apps`: each app with its platform, handler, settings and queues (with counts);
//! - `GET /admin/apps/{app}/conversations`: the conversations buffered now, with their
//!   fragments, due time and learned cadence;
//! - `POST /admin/apps/{app}/conversations/{conversation}/flush[?account=ID]`: hand a
//!   conversation on now; without `account`, every business account's buffer for that person.
//!
//! When `lull.toml` configures credentials these requests must be SigV4-signed like the SQS
//! API's, since they show what people wrote.

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::queues::AppQueues;
use super::{error, query_param, unknown_app, Refusal};
use crate::auth::sigv4::{self, RequestParts};
use crate::config::apps::{AppSpec, Handler};
use crate::engine::debounce::ConversationKey;
use crate::engine::{EngineError, QueueKey};
use crate::server::App;

/// The request as the signature covers it.
pub struct Signed<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

fn authorize(app: &App, r: Signed<'_>) -> Result<(), Refusal> {
    if app.credentials().is_empty() {
        return Ok(());
    }
    let parts = RequestParts {
        method: r.method.as_str(),
        path: r.uri.path(),
        query: r.uri.query().unwrap_or(""),
        headers: r.headers,
        body: r.body,
    };
    sigv4::verify(&parts, app.credentials(), SystemTime::now())
        .map(|_| ())
        .map_err(|e| Refusal::new(e.status(), e.message()))
}

fn internal(e: EngineError) -> Response {
    tracing::error!(error = %e, "admin request failed");
    let status = match e {
        EngineError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e.to_string())
}

pub async fn apps(
    State(app): State<App>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(
        &app,
        Signed {
            method: &method,
            uri: &uri,
            headers: &headers,
            body: &[],
        },
    ) {
        return r.into_response();
    }
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost:4566");
    let config = app.settings().config.clone();
    let region = &app.settings().region;
    let mut out = Vec::new();
    for (name, decl) in &config.apps {
        let Ok(spec) = decl.spec(name) else { continue };
        let queues = AppQueues::new(region, name);
        let mut described = serde_json::Map::new();
        for (role, key) in [
            ("inbox", &queues.inbox),
            ("outbox", &queues.outbox),
            ("dlq", &queues.dlq),
        ] {
            match queue(&app, host, key).await {
                Ok(v) => {
                    described.insert(role.into(), v);
                }
                Err(e) => return internal(e),
            }
        }
        out.push(describe(&spec, Value::Object(described)));
    }
    Json(json!({ "apps": out })).into_response()
}

async fn queue(app: &App, host: &str, key: &QueueKey) -> Result<Value, EngineError> {
    let url = format!("http://{host}/{}/{}", app.engine.account(), key.name);
    match app.engine.counts(key).await {
        Ok(c) => Ok(json!({
            "name": key.name,
            "url": url,
            "visible": c.visible,
            "in_flight": c.in_flight,
            "delayed": c.delayed,
        })),
        // Deleted by hand since the start: say so rather than fail the listing.
        Err(EngineError::QueueDoesNotExist) => {
            Ok(json!({"name": key.name, "url": url, "missing": true}))
        }
        Err(e) => Err(e),
    }
}

fn describe(spec: &AppSpec, queues: Value) -> Value {
    let d = &spec.debounce;
    let handler = match &spec.handler {
        None => Value::Null,
        Some(Handler::Url(u)) => json!(u),
        Some(Handler::Command(argv)) => json!({ "command": argv }),
    };
    let adaptive = d.adaptive.as_ref().map(|a| {
        json!({
            "min_window_ms": a.min_window_ms,
            "max_window_ms": a.max_window_ms,
            "factor": a.factor,
            "smoothing": a.smoothing,
        })
    });
    let retry = |r: &crate::config::apps::RetryPolicy| {
        json!({
            "attempts": r.attempts,
            "backoff_base_ms": r.backoff_base_ms,
            "backoff_max_ms": r.backoff_max_ms,
            "timeout_ms": r.timeout_ms,
        })
    };
    json!({
        "name": spec.name,
        "platform": spec.platform.platform(),
        "handler": handler,
        "stale_reply": spec.stale_reply.as_str(),
        "concurrency": spec.concurrency,
        "debounce": {
            "window_ms": d.window_ms,
            "max_wait_ms": d.max_wait_ms,
            "max_fragments": d.max_fragments,
            "media": match d.media {
                crate::engine::debounce::MediaPolicy::Attach => "attach",
                crate::engine::debounce::MediaPolicy::Flush => "flush",
            },
            "typing_extend_ms": d.typing_extend_ms,
            "adaptive": adaptive,
        },
        "handler_retry": retry(&spec.handler_retry),
        "sender": retry(&spec.sender),
        "rate_limit": {
            "per_app": spec.rate_limit.per_app,
            "per_recipient": spec.rate_limit.per_recipient,
        },
        "queues": queues,
    })
}

pub async fn conversations(
    State(app): State<App>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(
        &app,
        Signed {
            method: &method,
            uri: &uri,
            headers: &headers,
            body: &[],
        },
    ) {
        return r.into_response();
    }
    if !app.settings().config.apps.contains_key(&name) {
        return unknown_app(&name).into_response();
    }
    match app.engine.conversations(&name).await {
        Ok(list) => Json(json!({ "app": name, "conversations": list })).into_response(),
        Err(e) => internal(e),
    }
}

pub async fn flush(
    State(app): State<App>,
    Path((name, conversation)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(
        &app,
        Signed {
            method: &method,
            uri: &uri,
            headers: &headers,
            body: &body,
        },
    ) {
        return r.into_response();
    }
    if !app.settings().config.apps.contains_key(&name) {
        return unknown_app(&name).into_response();
    }
    let accounts = match uri.query().and_then(|q| query_param(q, "account")) {
        Some(account) => vec![account],
        None => match app.engine.conversations(&name).await {
            Ok(list) => list
                .into_iter()
                .filter(|c| c.conversation == conversation)
                .map(|c| c.account)
                .collect(),
            Err(e) => return internal(e),
        },
    };
    let mut flushed = Vec::new();
    for account in accounts {
        let key = ConversationKey::new(name.clone(), account.clone(), conversation.clone());
        match app.engine.flush_conversation(&key).await {
            Ok(true) => flushed.push(account),
            Ok(false) => {}
            Err(EngineError::InvalidParameterValue(reason)) => {
                return error(StatusCode::BAD_REQUEST, reason)
            }
            Err(e) => return internal(e),
        }
    }
    if flushed.is_empty() {
        return error(
            StatusCode::NOT_FOUND,
            format!("nothing is buffered for conversation {conversation:?} of app {name:?}"),
        );
    }
    Json(json!({ "app": name, "conversation": conversation, "flushed": flushed })).into_response()
}
