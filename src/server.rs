//! The one HTTP port: routes each request by protocol to its front door.
//! `serve(listener, app, shutdown)` is the single entry shared by the binary and the tests.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::auth::{self, Credentials};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::engine::Engine;
use crate::sns;
use crate::sqs::{self, SqsError};
use crate::store::embedded::EmbeddedStore;
use crate::store::postgres::{is_postgres_url, PostgresStore};
use crate::store::{Store, StoreError};
use crate::workers::Workers;

/// Largest request body read. A maximal SQS batch in the query protocol (percent-encoded) fits.
pub const MAX_BODY: usize = 6 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Settings {
    pub region: String,
    pub account: String,
    pub data_dir: PathBuf,
    pub credentials: Vec<(String, String)>,
    /// A `postgres://` URL to share queues with other nodes; `None` keeps them in `data_dir`.
    pub store_url: Option<String>,
    /// The parsed `lull.toml` (apps, declarative resources, functions).
    pub config: Arc<Config>,
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The resources declared in `lull.toml` cannot be applied; one line per problem, each
    /// naming its key.
    #[error("{0}")]
    Resources(#[from] crate::resources::ApplyError),
    /// An app's queues (`{app}-inbox.fifo`, `-outbox.fifo`, `-dlq.fifo`) cannot be created.
    #[error("{0}")]
    Apps(String),
}

/// Everything a running server owns.
#[derive(Clone)]
pub struct App {
    pub engine: Engine,
    settings: Arc<Settings>,
    credentials: Arc<Credentials>,
    embedded: Option<Arc<EmbeddedStore>>,
    workers: Arc<tokio::sync::Mutex<Option<Workers>>>,
}

impl App {
    /// Opens the store (PostgreSQL when `settings.store_url` names one, else the embedded store
    /// in `settings.data_dir`), builds the engine on it, and creates or updates the resources
    /// declared in `settings.config` before anything is served.
    pub async fn open(settings: Settings) -> Result<App, OpenError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let (store, embedded): (Arc<dyn Store>, _) = match &settings.store_url {
            Some(url) if is_postgres_url(url) => (Arc::new(PostgresStore::open(url).await?), None),
            Some(url) => {
                return Err(StoreError::Io(format!(
                    "unsupported store URL {url:?}: expected postgres:// or postgresql://"
                ))
                .into())
            }
            None => {
                std::fs::create_dir_all(&settings.data_dir)
                    .map_err(|e| StoreError::Io(e.to_string()))?;
                let s = Arc::new(EmbeddedStore::open(&settings.data_dir, clock.now_ms())?);
                (s.clone() as Arc<dyn Store>, Some(s))
            }
        };
        let engine = Engine::new(store, clock, settings.account.clone());
        // Apps' queues first: declared resources may subscribe them to topics.
        if let Err(e) =
            crate::gateway::queues::ensure_all(&engine, &settings.region, &settings.config).await
        {
            if let Some(s) = &embedded {
                s.close();
            }
            return Err(OpenError::Apps(e));
        }
        if let Err(e) = crate::resources::apply(&engine, &settings.config, &settings.region).await {
            if let Some(s) = &embedded {
                s.close();
            }
            return Err(e.into());
        }
        Ok(App {
            engine,
            credentials: Arc::new(Credentials::new(settings.credentials.iter().cloned())),
            settings: Arc::new(settings),
            embedded,
            workers: Arc::new(tokio::sync::Mutex::new(None)),
        })
    }

    fn router(self) -> Router {
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/metrics", get(metrics))
            .merge(crate::gateway::routes())
            .merge(crate::sns::http_routes())
            .fallback(dispatch)
            .with_state(self)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The access keys SigV4 signatures are checked against (empty: requests are not verified).
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Starts the workers (debounce flusher, dispatcher, sender, functions, topic delivery);
    /// `public_url` is where this server is reachable.
    pub async fn start_workers(&self, public_url: String) {
        let workers = Workers::start(
            self.engine.clone(),
            self.settings.config.clone(),
            self.settings.region.clone(),
            public_url,
        );
        if let Some(old) = self.workers.lock().await.replace(workers) {
            old.stop().await;
        }
    }

    /// Stops the workers; what they hold in flight returns to its queue.
    pub async fn stop_workers(&self) {
        if let Some(w) = self.workers.lock().await.take() {
            w.stop().await;
        }
    }

    /// Ends long polls and flushes the store.
    pub fn close(&self) {
        self.engine.close();
        if let Some(s) = &self.embedded {
            s.close();
        }
    }
}

/// Serves until `shutdown` resolves, then drains requests and flushes the store.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Links lull hands out (SNS confirmation and certificate URLs, LULL_ENDPOINT for commands)
    // use `[server] public_url` when set: a wildcard listen address is not reachable as such.
    let public = match &app.settings.config.server.public_url {
        Some(url) => Some(url.trim_end_matches('/').to_string()),
        None => listener.local_addr().ok().map(|a| format!("http://{a}")),
    };
    if let Some(url) = public {
        app.start_workers(url).await;
    }
    let closer = app.clone();
    let router = app.router();
    let result = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        closer.stop_workers().await;
        closer.engine.close();
    })
    .await;
    result
}

async fn metrics(State(app): State<App>) -> Response {
    match crate::metrics::render(&app.engine, &app.settings.region).await {
        Ok(text) => ([("content-type", "text/plain; version=0.0.4")], text).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "metrics unavailable\n").into_response()
        }
    }
}

async fn dispatch(State(app): State<App>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let request_id = uuid::Uuid::new_v4().to_string();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            let e = SqsError::RequestTooLarge(MAX_BODY);
            return match target {
                Some(_) => sqs::json::error(&e, &request_id),
                None => sqs::query::error(&e, &request_id),
            };
        }
    };
    let host = parts
        .headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost:4566")
        .to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();

    let identity = if app.credentials.is_empty() {
        None
    } else {
        let req = auth::sigv4::RequestParts {
            method: parts.method.as_str(),
            path: &path,
            query: &query,
            headers: &parts.headers,
            body: &body,
        };
        match auth::sigv4::verify(&req, &app.credentials, std::time::SystemTime::now()) {
            Ok(id) => Some(id),
            Err(e) => {
                let err = SqsError::Auth(e.code(), e.message(), e.status().as_u16());
                return match target {
                    Some(_) => sqs::json::error(&err, &request_id),
                    None => sqs::query::error(&err, &request_id),
                };
            }
        }
    };
    let region = identity
        .as_ref()
        .map(|i| i.region.clone())
        .or_else(|| auth::sigv4::scope(&parts.headers, &query).map(|(r, _)| r))
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| app.settings.region.clone());
    let ctx = sqs::Ctx {
        engine: app.engine.clone(),
        region,
        host,
        sender_id: identity
            .map(|i| i.access_key_id)
            .unwrap_or_else(|| app.settings.account.clone()),
    };

    if let Some(target) = target {
        return match target.strip_prefix("AmazonSQS.") {
            Some(action) => sqs::json::handle(&ctx, action, &body, &request_id).await,
            None => sqs::json::error(&SqsError::InvalidAction(target), &request_id),
        };
    }
    if parts.method != Method::POST && parts.method != Method::GET {
        return (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n").into_response();
    }
    let form: &[u8] = if is_form(&parts.headers) { &body } else { &[] };
    // SQS and SNS share the query protocol: the action (or the signing scope) picks the door.
    let mut params = crate::wire::query::parse_form(query.as_bytes());
    params.extend(crate::wire::query::parse_form(form));
    let action = params.iter().find(|(k, _)| k == "Action");
    let service = auth::sigv4::scope(&parts.headers, &query).map(|(_, s)| s);
    let names_topic = params.iter().any(|(k, _)| k == "TopicArn");
    if sns::routes_here(
        action.map(|(_, v)| v.as_str()),
        service.as_deref(),
        names_topic,
    ) {
        let ctx = sns::Ctx {
            engine: ctx.engine,
            region: ctx.region,
        };
        return sns::query::handle(&ctx, &params, &request_id).await;
    }
    sqs::query::handle(&ctx, &path, &params, &request_id).await
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
}
