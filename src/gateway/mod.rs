//! The chat gateway's HTTP door: platform webhooks and the admin API.

use axum::Router;

use crate::server::App;

/// Routes `/webhooks/{app}`, `/webhook?appId=`, `/admin/...`.
pub fn routes() -> Router<App> {
    Router::new()
}
