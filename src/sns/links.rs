//! What delivered messages link to, served without request signing (their subscribers follow
//! them with a plain GET, as they would SNS's): the signing certificate (`SigningCertURL`), and
//! the `SubscribeURL` / `UnsubscribeURL` links, which answer as the query API does. The token
//! in a SubscribeURL is what authorises a confirmation; a subscription confirmed with
//! `AuthenticateOnUnsubscribe` refuses the unsigned unsubscribe link.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;

use super::actions::Ctx;
use super::error::SnsError;
use super::query::{error, handle};
use super::query_shapes::operation;
use super::XMLNS;
use crate::engine::topics::envelope::{CERT_PATH, LINK_PATH};
use crate::engine::EngineError;
use crate::server::App;
use crate::wire::query::{encode_output, parse_form};

/// The certificate and link routes, merged into the server's router.
pub fn http_routes() -> Router<App> {
    Router::new()
        .route(CERT_PATH, get(certificate))
        .route(LINK_PATH, get(link))
}

async fn certificate(State(app): State<App>) -> Response {
    match app.engine.topic_signer().await {
        Ok(key) => {
            let mut resp = key.certificate_pem().to_string().into_response();
            resp.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("application/x-pem-file"),
            );
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "signing certificate unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "certificate unavailable\n").into_response()
        }
    }
}

async fn link(State(app): State<App>, RawQuery(query): RawQuery) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let params = parse_form(query.unwrap_or_default().as_bytes());
    let ctx = Ctx {
        engine: app.engine.clone(),
        region: app.settings().region.clone(),
    };
    let value = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    match value("Action").as_deref() {
        Some("ConfirmSubscription") => handle(&ctx, &params, &request_id).await,
        Some("Unsubscribe") => {
            let arn = value("SubscriptionArn").unwrap_or_default();
            match app.engine.unsubscribe_by_link(&arn).await {
                Ok(()) => {
                    let Some(op) = operation("Unsubscribe") else {
                        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                    };
                    let body = encode_output(op, &json!({}), XMLNS, &request_id);
                    let mut resp = body.into_response();
                    resp.headers_mut()
                        .insert("content-type", HeaderValue::from_static("text/xml"));
                    resp
                }
                Err(EngineError::InvalidSecurity(m)) => {
                    error(&SnsError::Auth("AuthorizationError", m, 403), &request_id)
                }
                Err(e) => error(&SnsError::from(e), &request_id),
            }
        }
        Some(other) => error(&SnsError::InvalidAction(other.to_string()), &request_id),
        None => error(
            &SnsError::InvalidParameter("Invalid parameter: Action".into()),
            &request_id,
        ),
    }
}
