//! The queue engine: SQS semantics independent of any wire protocol. Validates, digests, waits
//! (long polling) and schedules move tasks; the store underneath makes state durable and answers
//! claims atomically.

pub mod debounce;
pub mod digest;
pub mod error;
pub mod filter_policy;
pub mod message;
pub mod move_task;
pub mod queue;
mod queue_admin;
mod receiving;
pub mod sending;
pub mod topics;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::clock::{Clock, Millis};
use crate::store::Store;

pub use error::{EngineError, EngineResult};
pub use message::{AttributeValue, Attributes, Received};
pub use move_task::MoveTaskInfo;
pub use queue::{QueueKey, QueueRecord};
pub use receiving::ReceiveRequest;
pub use sending::SendRequest;

/// The engine, shared by every front door and worker.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    account: String,
    /// One wake-up signal per queue with long-polling receivers.
    waiters: Mutex<HashMap<QueueKey, Arc<Notify>>>,
    closing: AtomicBool,
    move_tasks: Mutex<Vec<move_task::MoveTask>>,
    /// When each queue was last purged: SQS allows one purge per queue every 60 seconds.
    purged_at: Mutex<HashMap<QueueKey, Millis>>,
    topics: topics::TopicsState,
    debounce: debounce::DebounceState,
}

impl Engine {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, account: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                account: account.into(),
                waiters: Mutex::new(HashMap::new()),
                closing: AtomicBool::new(false),
                move_tasks: Mutex::new(Vec::new()),
                purged_at: Mutex::new(HashMap::new()),
                topics: topics::TopicsState::default(),
                debounce: debounce::DebounceState::default(),
            }),
        }
    }

    pub fn account(&self) -> &str {
        &self.inner.account
    }

    pub fn now_ms(&self) -> Millis {
        self.inner.clock.now_ms()
    }

    pub fn arn(&self, key: &QueueKey) -> String {
        key.arn(&self.inner.account)
    }

    fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    fn notifier(&self, key: &QueueKey) -> Arc<Notify> {
        self.inner
            .waiters
            .lock()
            .entry(key.clone())
            .or_insert_with(|| Arc::new(Notify::new()))
            .clone()
    }

    /// Wakes the long-polling receivers of a queue.
    fn wake(&self, key: &QueueKey) {
        if let Some(n) = self.inner.waiters.lock().get(key) {
            n.notify_waiters();
        }
    }

    /// Drops what the engine keeps in memory for a deleted queue, ending its long polls.
    fn forget(&self, key: &QueueKey) {
        if let Some(n) = self.inner.waiters.lock().remove(key) {
            n.notify_waiters();
        }
        self.inner.purged_at.lock().remove(key);
    }

    /// Ends all long polls at once (graceful shutdown).
    pub fn close(&self) {
        self.inner.closing.store(true, Ordering::SeqCst);
        for n in self.inner.waiters.lock().values() {
            n.notify_waiters();
        }
    }

    fn closing(&self) -> bool {
        self.inner.closing.load(Ordering::SeqCst)
    }

    pub(crate) async fn require_queue(&self, key: &QueueKey) -> EngineResult<QueueRecord> {
        self.store()
            .get_queue(key)
            .await?
            .ok_or(EngineError::QueueDoesNotExist)
    }
}
