//! `POST /webhooks/{app}` (and `POST /webhook?appId={app}`): a platform's webhook becomes
//! buffered fragments. In order: the app must exist (404), the body fit in 1 MiB (413), the
//! signature or token match (401), the payload parse (400), and every message in it carry a
//! conversation and an id (400) — all checked before anything is stored, so a refused webhook
//! leaves nothing behind. Then each message is buffered (durably, before the answer), typing
//! signals push the conversation's due time, and the answer counts what happened:
//! `{"accepted", "duplicates", "ignored", "typing"}`.
//!
//! `GET` of the same paths answers the WhatsApp / Instagram subscription handshake.

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::{error, query_param, unknown_app, Refusal};
use crate::config::apps::AppSpec;
use crate::engine::debounce::{Buffered, ConversationKey, Fragment};
use crate::engine::EngineError;
use crate::server::App;
use crate::webhooks::{Event, PlatformConfig, Typing};

/// Largest webhook body read. Platforms send a few KiB; media arrive as references.
pub const MAX_WEBHOOK_BODY: usize = 1024 * 1024;
/// Largest message a person may send, as JSON (text and parts, without the platform's raw
/// payload): half of an inbox message, so every accepted fragment fits in a batch.
pub const MAX_FRAGMENT_JSON: usize = crate::engine::queue::MAX_MESSAGE_SIZE / 2;

pub async fn post_by_path(
    State(app): State<App>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    receive(&app, &name, req).await
}

/// The seeds' form: one endpoint for every app, the app named by `appId`.
pub async fn post_by_query(State(app): State<App>, req: Request) -> Response {
    match req.uri().query().and_then(|q| query_param(q, "appId")) {
        Some(name) => receive(&app, &name, req).await,
        None => error(StatusCode::BAD_REQUEST, "missing the appId query parameter"),
    }
}

pub async fn handshake_by_path(
    State(app): State<App>,
    Path(name): Path<String>,
    uri: Uri,
) -> Response {
    handshake(&app, &name, uri.query().unwrap_or(""))
}

pub async fn handshake_by_query(State(app): State<App>, uri: Uri) -> Response {
    let query = uri.query().unwrap_or("");
    match query_param(query, "appId") {
        Some(name) => handshake(&app, &name, query),
        None => error(StatusCode::BAD_REQUEST, "missing the appId query parameter"),
    }
}

fn app_spec(app: &App, name: &str) -> Result<AppSpec, Refusal> {
    let Some(decl) = app.settings().config.apps.get(name) else {
        return Err(unknown_app(name));
    };
    // Validated at start, so this only fails for a config that never got this far.
    decl.spec(name)
        .map_err(|problems| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, problems.join("; ")))
}

fn handshake(app: &App, name: &str, query: &str) -> Response {
    let spec = match app_spec(app, name) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let configured = match &spec.platform {
        PlatformConfig::WhatsApp(c) => c.verify_token.is_some(),
        PlatformConfig::Instagram(c) => c.verify_token.is_some(),
        other => {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "platform {} has no subscription handshake; webhooks are POSTed",
                    other.platform()
                ),
            )
        }
    };
    if !configured {
        return error(
            StatusCode::FORBIDDEN,
            format!("app {name:?} has no verify_token"),
        );
    }
    match spec.platform.verify_subscription(query) {
        Some(challenge) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            challenge,
        )
            .into_response(),
        None => error(
            StatusCode::FORBIDDEN,
            "hub.verify_token does not match, or hub.mode is not subscribe",
        ),
    }
}

/// One event of a webhook, checked and ready to apply.
enum Work {
    Fragment(ConversationKey, Fragment),
    Typing(ConversationKey, Typing),
    Ignored(&'static str),
}

async fn receive(app: &App, name: &str, req: Request) -> Response {
    let spec = match app_spec(app, name) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_WEBHOOK_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body larger than {MAX_WEBHOOK_BODY} bytes"),
            )
        }
    };
    let work = match check(&spec, name, &parts.headers, &body) {
        Ok(w) => w,
        Err(r) => return r.into_response(),
    };
    let engine = &app.engine;
    let platform = spec.platform.platform();
    let (mut accepted, mut duplicates, mut ignored, mut typing) = (0u32, 0u32, 0u32, 0u32);
    for w in work {
        let result = match w {
            Work::Fragment(key, fragment) => engine
                .buffer_fragment(platform, &key, fragment, &spec.debounce)
                .await
                .map(|b| match b {
                    Buffered::Accepted { .. } => accepted += 1,
                    Buffered::Duplicate => duplicates += 1,
                }),
            Work::Typing(key, state) => engine
                .typing_hint(&key, state, &spec.debounce)
                .await
                .map(|()| typing += 1),
            Work::Ignored(reason) => {
                tracing::debug!(app = %name, reason, "webhook event ignored");
                ignored += 1;
                Ok(())
            }
        };
        if let Err(e) = result {
            // Messages buffered before the failure stay; the platform's retry is deduplicated.
            tracing::error!(app = %name, error = %e, "buffering a webhook failed");
            let status = match e {
                EngineError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            return error(status, e.to_string());
        }
    }
    Json(json!({
        "accepted": accepted,
        "duplicates": duplicates,
        "ignored": ignored,
        "typing": typing,
    }))
    .into_response()
}

/// Authenticates and parses a webhook, and checks every event, storing nothing.
fn check(
    spec: &AppSpec,
    name: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Vec<Work>, Refusal> {
    let refused = |e: crate::webhooks::WebhookError| {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
        Refusal::new(status, e.to_string())
    };
    spec.platform.authenticate(headers, body).map_err(refused)?;
    let events = spec.platform.parse(name, body).map_err(refused)?;
    // Platforms without a business account in the payload: the app is the account.
    let key = |account: String, conversation: String| {
        let account = if account.is_empty() {
            name.to_owned()
        } else {
            account
        };
        ConversationKey::new(name, account, conversation)
    };
    let mut work = Vec::with_capacity(events.len());
    for event in events {
        work.push(match event {
            Event::Message(m) => {
                let k = key(m.account.clone(), m.conversation.clone());
                if !k.is_valid() {
                    return Err(Refusal::new(
                        StatusCode::BAD_REQUEST,
                        "a message names no sender (conversation), or one with a NUL character",
                    ));
                }
                if m.message_id.is_empty() {
                    return Err(Refusal::new(StatusCode::BAD_REQUEST, "a message has no id"));
                }
                let size = json!({"text": &m.text, "parts": &m.parts})
                    .to_string()
                    .len();
                if size > MAX_FRAGMENT_JSON {
                    return Err(Refusal::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("a message is larger than {MAX_FRAGMENT_JSON} bytes"),
                    ));
                }
                Work::Fragment(k, Fragment::from(m))
            }
            Event::Typing {
                account,
                conversation,
                state,
            } => {
                let k = key(account, conversation);
                if k.is_valid() {
                    Work::Typing(k, state)
                } else {
                    Work::Ignored("typing signal without a conversation")
                }
            }
            Event::Ignored(reason) => Work::Ignored(reason),
        });
    }
    Ok(work)
}
