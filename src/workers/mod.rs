//! Workers: ordinary consumers of the engine, reading queues the way an external client does.
//! The debounce flusher moves due conversations to their app's inbox, the dispatcher hands
//! inbox batches to the app's handler, the sender posts outbox replies to the platform, the
//! function runner feeds queues to functions, and topic delivery posts to HTTP subscribers.

mod consumer;
pub mod dispatcher;
pub mod flusher;
pub mod functions;
mod redelivery;
pub mod sender;
pub mod sns_http;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::engine::Engine;

/// What every worker gets.
#[derive(Clone)]
pub struct WorkerCtx {
    pub engine: Engine,
    pub config: Arc<Config>,
    /// Region the configured resources live in.
    pub region: String,
    /// Base URL lull is reachable at (`http://127.0.0.1:4566`), for links it hands out.
    pub public_url: String,
    pub http: reqwest::Client,
    /// Turns true once on shutdown.
    pub shutdown: watch::Receiver<bool>,
}

impl WorkerCtx {
    /// Resolves when shutdown begins.
    pub async fn stopped(&self) {
        let mut rx = self.shutdown.clone();
        let _ = rx.wait_for(|stop| *stop).await;
    }

    pub fn is_stopping(&self) -> bool {
        *self.shutdown.borrow()
    }
}

/// The running workers.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Workers {
    pub fn start(
        engine: Engine,
        config: Arc<Config>,
        region: String,
        public_url: String,
    ) -> Workers {
        let (stop, shutdown) = watch::channel(false);
        let ctx = WorkerCtx {
            engine,
            config,
            region,
            public_url,
            http: reqwest::Client::new(),
            shutdown,
        };
        let mut tasks = Vec::new();
        tasks.extend(flusher::spawn(&ctx));
        tasks.extend(dispatcher::spawn(&ctx));
        tasks.extend(sender::spawn(&ctx));
        tasks.extend(functions::spawn(&ctx));
        tasks.extend(sns_http::spawn(&ctx));
        Workers { stop, tasks }
    }

    /// Asks every worker to stop and waits for them a short while; work in flight stays in
    /// its queue and is redelivered after its visibility timeout.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}
