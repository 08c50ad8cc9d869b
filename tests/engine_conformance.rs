//! The engine's conformance suite, written once and run against every store backend with a
//! driven clock: a day of visibility timeouts, delays and retention runs in milliseconds.
//!
//! A backend only has to provide `Backend::open` (which may be called again on the same data to
//! simulate a restart) to be held to every behaviour below.

use std::collections::BTreeMap;
use std::sync::Arc;

use lull::clock::{Clock, ManualClock};
use lull::engine::debounce::{
    Batch, Buffered, ConversationKey, DebounceSettings, Fragment, MediaPolicy,
};
use lull::engine::topics::{
    DeliveryJob, FifoPublication, MessageType, Publication, TopicKey, TopicRecord,
};
use lull::engine::{
    AttributeValue, Attributes, Engine, EngineError, QueueKey, ReceiveRequest, SendRequest,
};
use lull::store::embedded::EmbeddedStore;
use lull::store::postgres::PostgresStore;
use lull::store::Store;

const ACCOUNT: &str = "123456789012";
const START_MS: u64 = 1_700_000_000_000;

/// A store backend under test.
trait Backend {
    /// Opens the store on this backend's data (again, after `close`, to simulate a restart).
    async fn open(&self, now: u64) -> Arc<dyn Store>;
    /// Releases the store so that it can be opened again.
    fn close(&self, store: Arc<dyn Store>);
    /// Whether messages in flight at a restart stay in flight (visibility is stored) rather than
    /// coming back visible.
    fn in_flight_survives_restart(&self) -> bool {
        false
    }
}

struct Embedded {
    dir: tempfile::TempDir,
    handle: std::sync::Mutex<Option<Arc<EmbeddedStore>>>,
}

impl Embedded {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            handle: std::sync::Mutex::new(None),
        }
    }
}

impl Backend for Embedded {
    async fn open(&self, now: u64) -> Arc<dyn Store> {
        let s = Arc::new(EmbeddedStore::open(self.dir.path(), now).expect("open store"));
        *self.handle.lock().unwrap() = Some(s.clone());
        s
    }
    fn close(&self, store: Arc<dyn Store>) {
        drop(store);
        if let Some(s) = self.handle.lock().unwrap().take() {
            s.close();
        }
    }
}

/// A fresh schema per test on the PostgreSQL named by `LULL_TEST_POSTGRES`, dropped at the end.
struct Postgres {
    base: String,
    schema: String,
    handle: std::sync::Mutex<Option<Arc<PostgresStore>>>,
}

impl Postgres {
    fn new() -> Self {
        let base = std::env::var("LULL_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!("lull_test_{}", uuid::Uuid::new_v4().simple());
        Self {
            base,
            schema,
            handle: std::sync::Mutex::new(None),
        }
    }

    /// The connections are named after the schema, so that the cleanup can find them.
    fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}schema={}&application_name={}",
            self.base, self.schema, self.schema
        )
    }

    async fn store(&self) -> Arc<PostgresStore> {
        Arc::new(
            PostgresStore::open(&self.url())
                .await
                .expect("open the PostgreSQL store (is LULL_TEST_POSTGRES reachable?)"),
        )
    }
}

impl Backend for Postgres {
    async fn open(&self, _now: u64) -> Arc<dyn Store> {
        let s = self.store().await;
        *self.handle.lock().unwrap() = Some(s.clone());
        s
    }
    fn close(&self, store: Arc<dyn Store>) {
        drop(store);
        if let Some(s) = self.handle.lock().unwrap().take() {
            s.close();
        }
    }
    fn in_flight_survives_restart(&self) -> bool {
        true
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime: use a thread with a runtime of its own.
        let (base, schema) = (self.base.clone(), self.schema.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await?;
                tokio::spawn(conn);
                // A failed test may leave a transaction open on the runtime this blocks: end
                // the test's connections first so that their locks go with them.
                client
                    .execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                         WHERE application_name = $1 AND pid <> pg_backend_pid()",
                        &[&schema],
                    )
                    .await?;
                client
                    .batch_execute(&format!(
                        "SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS {schema} CASCADE"
                    ))
                    .await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test schema {}", self.schema);
        }
    }
}

struct Harness<B: Backend> {
    backend: B,
    clock: Arc<ManualClock>,
    store: Option<Arc<dyn Store>>,
    engine: Engine,
}

impl<B: Backend> Harness<B> {
    async fn new(backend: B) -> Self {
        let clock = Arc::new(ManualClock::new(START_MS));
        let store = backend.open(clock.now_ms()).await;
        let engine = Engine::new(store.clone(), clock.clone(), ACCOUNT);
        Self {
            backend,
            clock,
            store: Some(store),
            engine,
        }
    }

    /// Simulates a restart: the store is closed and reopened on the same data.
    async fn restart(&mut self) {
        let old = std::mem::replace(
            &mut self.engine,
            Engine::new(Arc::new(Dummy), self.clock.clone(), ACCOUNT),
        );
        drop(old);
        if let Some(s) = self.store.take() {
            self.backend.close(s);
        }
        let store = self.backend.open(self.clock.now_ms()).await;
        self.engine = Engine::new(store.clone(), self.clock.clone(), ACCOUNT);
        self.store = Some(store);
    }

    fn advance(&self, secs: u64) {
        self.clock.advance_secs(secs);
    }

    async fn queue(&self, name: &str, attrs: &[(&str, &str)]) -> QueueKey {
        let key = QueueKey::new("us-east-1", name);
        let attrs: BTreeMap<String, String> = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.engine
            .create_queue(key.clone(), attrs, BTreeMap::new())
            .await
            .expect("create queue");
        key
    }

    async fn send(&self, q: &QueueKey, body: &str) -> String {
        self.send_req(
            q,
            SendRequest {
                body: body.into(),
                ..Default::default()
            },
        )
        .await
    }

    async fn send_group(&self, q: &QueueKey, body: &str, group: &str) -> String {
        self.send_req(
            q,
            SendRequest {
                body: body.into(),
                group_id: Some(group.into()),
                dedup_id: Some(format!("{group}-{body}")),
                ..Default::default()
            },
        )
        .await
    }

    async fn send_req(&self, q: &QueueKey, r: SendRequest) -> String {
        let mut out = self.engine.send(q, vec![r]).await.expect("send");
        out.pop().expect("one result").expect("sent").id
    }

    async fn receive(&self, q: &QueueKey, max: i64) -> Vec<(String, String)> {
        self.receive_vis(q, max, None).await
    }

    /// Returns (body, receipt handle) pairs.
    async fn receive_vis(&self, q: &QueueKey, max: i64, vis: Option<i64>) -> Vec<(String, String)> {
        self.engine
            .receive(
                q,
                ReceiveRequest {
                    max_messages: Some(max),
                    visibility_timeout: vis,
                    wait_seconds: Some(0),
                },
            )
            .await
            .expect("receive")
            .into_iter()
            .map(|r| (r.message.body, r.receipt_handle))
            .collect()
    }

    async fn delete(&self, q: &QueueKey, receipt: &str) {
        let out = self
            .engine
            .delete_messages(q, &[receipt.to_string()])
            .await
            .expect("delete");
        assert!(out.iter().all(|r| r.is_ok()));
    }

    async fn counts(&self, q: &QueueKey) -> (u64, u64, u64) {
        let c = self.engine.counts(q).await.expect("counts");
        (c.visible, c.in_flight, c.delayed)
    }
}

/// Placeholder store used only while swapping stores during a restart.
struct Dummy;
#[async_trait::async_trait]
impl Store for Dummy {
    async fn create_queue(
        &self,
        r: lull::engine::QueueRecord,
    ) -> Result<(lull::engine::QueueRecord, bool), lull::store::StoreError> {
        Ok((r, false))
    }
    async fn update_queue(
        &self,
        _: lull::engine::QueueRecord,
    ) -> Result<bool, lull::store::StoreError> {
        Ok(false)
    }
    async fn get_queue(
        &self,
        _: &QueueKey,
    ) -> Result<Option<lull::engine::QueueRecord>, lull::store::StoreError> {
        Ok(None)
    }
    async fn list_queues(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Vec<lull::engine::QueueRecord>, lull::store::StoreError> {
        Ok(vec![])
    }
    async fn delete_queue(&self, _: &QueueKey) -> Result<bool, lull::store::StoreError> {
        Ok(false)
    }
    async fn send(
        &self,
        _: &QueueKey,
        _: Vec<lull::engine::message::NewMessage>,
        _: u64,
    ) -> Result<Option<Vec<lull::engine::message::Sent>>, lull::store::StoreError> {
        Ok(None)
    }
    async fn claim(
        &self,
        _: &QueueKey,
        _: lull::store::ClaimRequest,
        _: u64,
    ) -> Result<Option<Vec<lull::engine::Received>>, lull::store::StoreError> {
        Ok(None)
    }
    async fn delete_messages(
        &self,
        _: &QueueKey,
        _: &[lull::engine::message::ReceiptHandle],
        _: u64,
    ) -> Result<Option<Vec<lull::store::ReceiptOutcome>>, lull::store::StoreError> {
        Ok(None)
    }
    async fn change_visibility(
        &self,
        _: &QueueKey,
        _: lull::engine::message::ReceiptHandle,
        _: u64,
        _: u64,
    ) -> Result<Option<lull::store::ReceiptOutcome>, lull::store::StoreError> {
        Ok(None)
    }
    async fn purge(&self, _: &QueueKey) -> Result<bool, lull::store::StoreError> {
        Ok(false)
    }
    async fn counts(
        &self,
        _: &QueueKey,
        _: u64,
    ) -> Result<Option<lull::store::Counts>, lull::store::StoreError> {
        Ok(None)
    }
    async fn next_visible_at(&self, _: &QueueKey) -> Result<Option<u64>, lull::store::StoreError> {
        Ok(None)
    }
    async fn move_messages(
        &self,
        _: &QueueKey,
        _: &lull::store::MoveDestination,
        _: usize,
        _: u64,
    ) -> Result<usize, lull::store::StoreError> {
        Ok(0)
    }
    async fn create_topic(
        &self,
        r: TopicRecord,
    ) -> Result<(TopicRecord, bool), lull::store::StoreError> {
        Ok((r, false))
    }
    async fn update_topic(&self, _: TopicRecord) -> Result<bool, lull::store::StoreError> {
        Ok(false)
    }
    async fn get_topic(
        &self,
        _: &TopicKey,
    ) -> Result<Option<TopicRecord>, lull::store::StoreError> {
        Ok(None)
    }
    async fn list_topics(&self, _: &str) -> Result<Vec<TopicRecord>, lull::store::StoreError> {
        Ok(vec![])
    }
    async fn delete_topic(&self, _: &TopicKey) -> Result<bool, lull::store::StoreError> {
        Ok(false)
    }
    async fn topic_dedup(
        &self,
        _: &TopicKey,
        _: &str,
        _: FifoPublication,
        _: u64,
    ) -> Result<Option<FifoPublication>, lull::store::StoreError> {
        Ok(None)
    }
    async fn signing_key(&self) -> Result<Option<String>, lull::store::StoreError> {
        Ok(None)
    }
    async fn init_signing_key(&self, pem: &str) -> Result<String, lull::store::StoreError> {
        Ok(pem.to_string())
    }
    async fn change_buffer(
        &self,
        _: &ConversationKey,
        _: lull::engine::debounce::BufferChange,
        _: &lull::engine::debounce::Plan<'_>,
        _: u64,
    ) -> Result<lull::engine::debounce::BufferOutcome, lull::store::StoreError> {
        Ok(lull::engine::debounce::BufferOutcome::Missing)
    }
    async fn get_buffer(
        &self,
        _: &ConversationKey,
    ) -> Result<Option<lull::engine::debounce::BufferSnapshot>, lull::store::StoreError> {
        Ok(None)
    }
    async fn list_buffers(
        &self,
        _: &str,
    ) -> Result<Vec<lull::engine::debounce::BufferSnapshot>, lull::store::StoreError> {
        Ok(vec![])
    }
    async fn claim_due_buffers(
        &self,
        _: u64,
        _: u64,
        _: usize,
    ) -> Result<Vec<lull::engine::debounce::BufferSnapshot>, lull::store::StoreError> {
        Ok(vec![])
    }
    async fn next_buffer_due(&self) -> Result<Option<u64>, lull::store::StoreError> {
        Ok(None)
    }
    async fn sweep_buffers(&self, _: u64) -> Result<(), lull::store::StoreError> {
        Ok(())
    }
}

fn bodies(got: &[(String, String)]) -> Vec<&str> {
    got.iter().map(|(b, _)| b.as_str()).collect()
}

// ---- the suite --------------------------------------------------------------------------

async fn send_receive_delete<B: Backend>(h: Harness<B>) {
    let q = h.queue("basic", &[]).await;
    h.send(&q, "one").await;
    h.send(&q, "two").await;
    assert_eq!(h.counts(&q).await, (2, 0, 0));
    let got = h.receive(&q, 10).await;
    assert_eq!(bodies(&got), ["one", "two"]);
    assert_eq!(h.counts(&q).await, (0, 2, 0));
    for (_, r) in &got {
        h.delete(&q, r).await;
    }
    assert_eq!(h.counts(&q).await, (0, 0, 0));
    assert!(h.receive(&q, 10).await.is_empty());
}

async fn visibility_timeout_hides_then_redelivers<B: Backend>(h: Harness<B>) {
    let q = h.queue("vis", &[("VisibilityTimeout", "30")]).await;
    h.send(&q, "m").await;
    assert_eq!(h.receive(&q, 1).await.len(), 1);
    h.advance(29);
    assert!(
        h.receive(&q, 1).await.is_empty(),
        "still invisible before the timeout"
    );
    h.advance(1);
    let again = h
        .engine
        .receive(
            &q,
            ReceiveRequest {
                max_messages: Some(1),
                wait_seconds: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message.receive_count, 2);
    assert_eq!(again[0].message.first_receive_ms, Some(START_MS));
}

async fn per_receive_visibility_and_change_visibility<B: Backend>(h: Harness<B>) {
    let q = h.queue("chvis", &[]).await;
    h.send(&q, "m").await;
    let got = h.receive_vis(&q, 1, Some(5)).await;
    let receipt = got[0].1.clone();
    // Extend to 100 s: not visible at 50 s.
    let r = h
        .engine
        .change_visibility(&q, &[(receipt.clone(), 100)])
        .await
        .unwrap();
    assert!(r[0].is_ok());
    h.advance(50);
    assert!(h.receive(&q, 1).await.is_empty());
    // Zero makes it visible at once.
    h.engine
        .change_visibility(&q, &[(receipt.clone(), 0)])
        .await
        .unwrap();
    let got = h.receive(&q, 1).await;
    assert_eq!(bodies(&got), ["m"]);
    // The old handle is stale now.
    let r = h
        .engine
        .change_visibility(&q, &[(receipt, 10)])
        .await
        .unwrap();
    assert!(matches!(r[0], Err(EngineError::MessageNotInflight)));
}

async fn stale_receipt_does_not_delete<B: Backend>(h: Harness<B>) {
    let q = h.queue("stale", &[("VisibilityTimeout", "10")]).await;
    h.send(&q, "m").await;
    let first = h.receive(&q, 1).await;
    h.advance(10);
    let second = h.receive(&q, 1).await;
    assert_eq!(second.len(), 1);
    h.delete(&q, &first[0].1).await;
    assert_eq!(
        h.counts(&q).await,
        (0, 1, 0),
        "old handle must not delete the redelivered message"
    );
    h.delete(&q, &second[0].1).await;
    assert_eq!(h.counts(&q).await, (0, 0, 0));
    let forged = h
        .engine
        .delete_messages(&q, &["forged".to_string()])
        .await
        .unwrap();
    assert!(matches!(
        forged[0],
        Err(EngineError::ReceiptHandleIsInvalid(_))
    ));
}

async fn delays_per_queue_and_per_message<B: Backend>(h: Harness<B>) {
    let q = h.queue("delay", &[("DelaySeconds", "10")]).await;
    h.send(&q, "queue-delay").await;
    h.send_req(
        &q,
        SendRequest {
            body: "msg-delay".into(),
            delay_seconds: Some(20),
            ..Default::default()
        },
    )
    .await;
    h.send_req(
        &q,
        SendRequest {
            body: "no-delay".into(),
            delay_seconds: Some(0),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(h.counts(&q).await, (1, 0, 2));
    assert_eq!(bodies(&h.receive(&q, 10).await), ["no-delay"]);
    h.advance(10);
    assert_eq!(bodies(&h.receive(&q, 10).await), ["queue-delay"]);
    h.advance(10);
    assert_eq!(bodies(&h.receive(&q, 10).await), ["msg-delay"]);
}

async fn retention_expires_old_messages<B: Backend>(h: Harness<B>) {
    let q = h
        .queue("retention", &[("MessageRetentionPeriod", "60")])
        .await;
    h.send(&q, "old").await;
    h.advance(30);
    h.send(&q, "new").await;
    h.advance(30);
    assert_eq!(bodies(&h.receive(&q, 10).await), ["new"]);
}

async fn fifo_orders_per_group_and_locks_groups_in_flight<B: Backend>(h: Harness<B>) {
    let q = h.queue("order.fifo", &[("FifoQueue", "true")]).await;
    for i in 0..3 {
        h.send_group(&q, &format!("a{i}"), "A").await;
        h.send_group(&q, &format!("b{i}"), "B").await;
    }
    let first = h.receive(&q, 2).await;
    assert_eq!(
        bodies(&first),
        ["a0", "a1"],
        "a batch takes a group's run in order"
    );
    // Group A is locked while a0/a1 are in flight; B proceeds.
    let second = h.receive(&q, 10).await;
    assert_eq!(bodies(&second), ["b0", "b1", "b2"]);
    assert!(h.receive(&q, 10).await.is_empty());
    // Deleting only a0 keeps A locked (a1 still in flight).
    h.delete(&q, &first[0].1).await;
    assert!(h.receive(&q, 10).await.is_empty());
    // When a1's visibility runs out, A resumes with a1 again, in order.
    h.advance(30);
    let third = h.receive(&q, 10).await;
    let a: Vec<&str> = bodies(&third)
        .into_iter()
        .filter(|b| b.starts_with('a'))
        .collect();
    assert_eq!(a, ["a1", "a2"]);
}

async fn fifo_deduplicates_for_five_minutes<B: Backend>(h: Harness<B>) {
    let q = h
        .queue(
            "dedup.fifo",
            &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")],
        )
        .await;
    let r = |body: &str| SendRequest {
        body: body.into(),
        group_id: Some("g".into()),
        ..Default::default()
    };
    let id1 = h.send_req(&q, r("same")).await;
    let id2 = h.send_req(&q, r("same")).await;
    assert_eq!(id1, id2, "a duplicate returns the original id");
    let explicit = SendRequest {
        dedup_id: Some("d1".into()),
        ..r("other")
    };
    let id3 = h.send_req(&q, explicit.clone()).await;
    assert_eq!(h.send_req(&q, explicit.clone()).await, id3);
    assert_eq!(h.counts(&q).await.0, 2);
    h.advance(5 * 60);
    let id4 = h.send_req(&q, r("same")).await;
    assert_ne!(id1, id4, "after the window the same body is a new message");
}

async fn fifo_requires_group_and_dedup<B: Backend>(h: Harness<B>) {
    let q = h.queue("strict.fifo", &[("FifoQueue", "true")]).await;
    let out = h
        .engine
        .send(
            &q,
            vec![
                SendRequest {
                    body: "x".into(),
                    ..Default::default()
                },
                SendRequest {
                    body: "x".into(),
                    group_id: Some("g".into()),
                    ..Default::default()
                },
                SendRequest {
                    body: "x".into(),
                    group_id: Some("g".into()),
                    dedup_id: Some("d".into()),
                    delay_seconds: Some(5),
                    ..Default::default()
                },
            ],
        )
        .await
        .unwrap();
    assert!(matches!(out[0], Err(EngineError::MissingParameter(_))));
    assert!(matches!(out[1], Err(EngineError::InvalidParameterValue(_))));
    assert!(matches!(out[2], Err(EngineError::InvalidParameterValue(_))));
    assert_eq!(
        h.counts(&q).await,
        (0, 0, 0),
        "rejected sends store nothing"
    );
}

async fn redrive_moves_to_dead_letter_queue_and_back<B: Backend>(h: Harness<B>) {
    let dlq = h.queue("dlq", &[]).await;
    let policy = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":2}}"#,
        h.engine.arn(&dlq)
    );
    let src = h
        .queue(
            "src",
            &[("RedrivePolicy", &policy), ("VisibilityTimeout", "1")],
        )
        .await;
    h.send(&src, "poison").await;
    for _ in 0..2 {
        assert_eq!(h.receive(&src, 1).await.len(), 1);
        h.advance(1);
    }
    assert!(
        h.receive(&src, 1).await.is_empty(),
        "third receive moves it instead"
    );
    assert_eq!(h.counts(&dlq).await, (1, 0, 0));
    let sources = h.engine.dead_letter_sources(&dlq).await.unwrap();
    assert_eq!(sources.len(), 1);
    let handle = h
        .engine
        .start_move_task(&h.engine.arn(&dlq), None, None)
        .await
        .unwrap();
    for _ in 0..100 {
        let tasks = h
            .engine
            .list_move_tasks(&h.engine.arn(&dlq), Some(10))
            .await
            .unwrap();
        if tasks[0].status.as_str() == "COMPLETED" {
            assert_eq!(tasks[0].moved, 1);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        h.engine.cancel_move_task(&handle).await.is_err(),
        "a finished task cannot be cancelled"
    );
    assert_eq!(h.counts(&dlq).await, (0, 0, 0));
    let back = h.receive(&src, 1).await;
    assert_eq!(bodies(&back), ["poison"]);
}

async fn dead_letter_target_rules<B: Backend>(h: Harness<B>) {
    let deny = h
        .queue(
            "deny",
            &[("RedriveAllowPolicy", r#"{"redrivePermission":"denyAll"}"#)],
        )
        .await;
    let policy = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":2}}"#,
        h.engine.arn(&deny)
    );
    let err = h
        .engine
        .create_queue(
            QueueKey::new("us-east-1", "src2"),
            [("RedrivePolicy".to_string(), policy)].into(),
            BTreeMap::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::InvalidParameterValue(_)),
        "{err:?}"
    );
    let missing =
        r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:nope","maxReceiveCount":2}"#;
    let err = h
        .engine
        .create_queue(
            QueueKey::new("us-east-1", "src3"),
            [("RedrivePolicy".to_string(), missing.to_string())].into(),
            BTreeMap::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidParameterValue(_)));
}

async fn create_queue_is_idempotent_only_for_same_attributes<B: Backend>(h: Harness<B>) {
    h.queue("idem", &[("VisibilityTimeout", "40")]).await;
    h.queue("idem", &[("VisibilityTimeout", "40")]).await;
    h.queue("idem", &[]).await;
    let err = h
        .engine
        .create_queue(
            QueueKey::new("us-east-1", "idem"),
            [("VisibilityTimeout".to_string(), "41".to_string())].into(),
            BTreeMap::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::QueueNameExists(_)));
}

async fn purge_and_delete_queue<B: Backend>(h: Harness<B>) {
    let q = h.queue("purge", &[]).await;
    for i in 0..5 {
        h.send(&q, &format!("m{i}")).await;
    }
    h.engine.purge(&q).await.unwrap();
    assert_eq!(h.counts(&q).await, (0, 0, 0));
    h.engine.delete_queue(&q).await.unwrap();
    assert!(matches!(
        h.engine.counts(&q).await,
        Err(EngineError::QueueDoesNotExist)
    ));
}

async fn state_survives_restart<B: Backend>(mut h: Harness<B>) {
    let q = h.queue("durable", &[("VisibilityTimeout", "300")]).await;
    let f = h.queue("durable.fifo", &[("FifoQueue", "true")]).await;
    h.engine
        .tag_queue(&q, [("team".to_string(), "core".to_string())].into())
        .await
        .unwrap();
    for i in 0..3 {
        h.send(&q, &format!("m{i}")).await;
    }
    let got = h.receive(&q, 1).await;
    h.delete(&q, &got[0].1).await;
    h.receive(&q, 1).await; // m1 in flight at the "crash"
    h.send_group(&f, "f0", "g").await;
    h.send_group(&f, "f1", "g").await;
    h.send_req(
        &q,
        SendRequest {
            body: "later".into(),
            delay_seconds: Some(60),
            ..Default::default()
        },
    )
    .await;

    h.restart().await;

    let rec = h.engine.get_queue(&q).await.unwrap();
    assert_eq!(rec.visibility_timeout_secs(), 300);
    assert_eq!(rec.tags.get("team").map(String::as_str), Some("core"));
    let kept = h.backend.in_flight_survives_restart();
    if kept {
        assert_eq!(
            h.counts(&q).await,
            (1, 1, 1),
            "in-flight messages stay in flight; delays are kept"
        );
        assert_eq!(bodies(&h.receive(&q, 10).await), ["m2"]);
    } else {
        assert_eq!(
            h.counts(&q).await,
            (2, 0, 1),
            "in-flight messages come back visible; delays are kept"
        );
        assert_eq!(bodies(&h.receive(&q, 10).await), ["m1", "m2"]);
    }
    // Deduplication survives the restart.
    h.send_group(&f, "f0", "g").await;
    assert_eq!(bodies(&h.receive(&f, 10).await), ["f0", "f1"]);
    h.advance(60);
    assert_eq!(bodies(&h.receive(&q, 10).await), ["later"]);
    if kept {
        // m1's visibility timeout (300 s, like m2's) runs out as if there had been no restart.
        h.advance(239);
        assert!(h.receive(&q, 10).await.is_empty());
        h.advance(1);
        assert_eq!(bodies(&h.receive(&q, 10).await), ["m1", "m2"]);
    }
}

async fn long_poll_returns_when_a_message_arrives<B: Backend>(h: Harness<B>) {
    let q = h.queue("poll", &[]).await;
    let engine = h.engine.clone();
    let q2 = q.clone();
    let poll = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let got = engine
            .receive(
                &q2,
                ReceiveRequest {
                    max_messages: Some(1),
                    wait_seconds: Some(10),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        (got.len(), started.elapsed())
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    h.send(&q, "wake").await;
    let (n, took) = poll.await.unwrap();
    assert_eq!(n, 1);
    assert!(
        took < std::time::Duration::from_secs(2),
        "returned after {took:?}"
    );
}

async fn validation_rejects_bad_input<B: Backend>(h: Harness<B>) {
    let q = h.queue("valid", &[]).await;
    let bad = h
        .engine
        .receive(
            &q,
            ReceiveRequest {
                max_messages: Some(11),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(bad, Err(EngineError::InvalidParameterValue(_))));
    let big = "x".repeat(lull::engine::queue::MAX_MESSAGE_SIZE + 1);
    let out = h
        .engine
        .send(
            &q,
            vec![SendRequest {
                body: big,
                ..Default::default()
            }],
        )
        .await
        .unwrap();
    assert!(matches!(out[0], Err(EngineError::InvalidParameterValue(_))));
    let out = h
        .engine
        .send(
            &q,
            vec![SendRequest {
                body: "bad\u{1}".into(),
                ..Default::default()
            }],
        )
        .await
        .unwrap();
    assert!(matches!(
        out[0],
        Err(EngineError::InvalidMessageContents(_))
    ));
    assert_eq!(h.counts(&q).await, (0, 0, 0));
    let exact = "x".repeat(lull::engine::queue::MAX_MESSAGE_SIZE);
    let out = h
        .engine
        .send(
            &q,
            vec![SendRequest {
                body: exact,
                ..Default::default()
            }],
        )
        .await
        .unwrap();
    assert!(out[0].is_ok());
}

// ---- topics -------------------------------------------------------------------------------

fn attrs(list: &[(&str, &str)]) -> BTreeMap<String, String> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn string_attrs(list: &[(&str, &str)]) -> Attributes {
    list.iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                AttributeValue {
                    data_type: "String".into(),
                    string_value: Some(v.to_string()),
                    binary_value: None,
                },
            )
        })
        .collect()
}

fn text(message: &str) -> Publication {
    Publication {
        message: message.into(),
        ..Default::default()
    }
}

impl<B: Backend> Harness<B> {
    async fn topic(&self, name: &str, attributes: &[(&str, &str)]) -> String {
        let t = self
            .engine
            .create_topic(
                TopicKey::new("us-east-1", name),
                attrs(attributes),
                BTreeMap::new(),
            )
            .await
            .expect("create topic");
        self.engine.topic_arn(&t.key)
    }

    async fn subscribe_queue(&self, topic: &str, q: &QueueKey, a: &[(&str, &str)]) -> String {
        self.engine
            .subscribe(topic, "sqs", &self.engine.arn(q), attrs(a))
            .await
            .expect("subscribe")
            .subscription_arn
    }

    /// Receives and deletes everything visible: the bodies, in delivery order.
    async fn drain(&self, q: &QueueKey) -> Vec<String> {
        let got = self.receive(q, 10).await;
        for (_, r) in &got {
            self.delete(q, r).await;
        }
        got.into_iter().map(|(b, _)| b).collect()
    }
}

fn invalid_parameter<T: std::fmt::Debug>(r: Result<T, EngineError>) -> String {
    match r {
        Err(EngineError::InvalidParameter(m)) => m,
        other => panic!("expected InvalidParameter, got {other:?}"),
    }
}

async fn topic_create_is_idempotent_and_reports_attributes<B: Backend>(h: Harness<B>) {
    let arn = h.topic("news", &[("DisplayName", "News")]).await;
    assert_eq!(arn, "arn:aws:sns:us-east-1:123456789012:news");
    assert_eq!(h.topic("news", &[("DisplayName", "News")]).await, arn);
    assert_eq!(
        h.topic("news", &[]).await,
        arn,
        "no attributes asks for none"
    );
    let clash = h
        .engine
        .create_topic(
            TopicKey::new("us-east-1", "news"),
            attrs(&[("DisplayName", "Other")]),
            BTreeMap::new(),
        )
        .await;
    assert!(invalid_parameter(clash).contains("already exists with different attributes"));
    let fifo_name_without_flag = h
        .engine
        .create_topic(
            TopicKey::new("us-east-1", "x.fifo"),
            BTreeMap::new(),
            BTreeMap::new(),
        )
        .await;
    invalid_parameter(fifo_name_without_flag);
    let flag_without_suffix = h
        .engine
        .create_topic(
            TopicKey::new("us-east-1", "x"),
            attrs(&[("FifoTopic", "true")]),
            BTreeMap::new(),
        )
        .await;
    invalid_parameter(flag_without_suffix);
    let fifo = h.topic("orders.fifo", &[("FifoTopic", "true")]).await;
    // Another region keeps its own topics.
    h.engine
        .create_topic(
            TopicKey::new("eu-west-1", "elsewhere"),
            BTreeMap::new(),
            BTreeMap::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        h.engine.list_topics("us-east-1").await.unwrap(),
        [arn.clone(), fifo.clone()]
    );

    let a = h.engine.topic_attributes(&arn).await.unwrap();
    assert_eq!(a["TopicArn"], arn);
    assert_eq!(a["Owner"], ACCOUNT);
    assert_eq!(a["DisplayName"], "News");
    assert_eq!(a["SubscriptionsConfirmed"], "0");
    assert_eq!(a["SubscriptionsPending"], "0");
    assert_eq!(a["SubscriptionsDeleted"], "0");
    assert!(a["EffectiveDeliveryPolicy"].contains("defaultHealthyRetryPolicy"));
    assert!(a["Policy"].contains(&arn));
    assert!(!a.contains_key("FifoTopic"));
    let f = h.engine.topic_attributes(&fifo).await.unwrap();
    assert_eq!(f["FifoTopic"], "true");
    assert_eq!(f["ContentBasedDeduplication"], "false");

    h.engine
        .set_topic_attribute(&fifo, "ContentBasedDeduplication", "true")
        .await
        .unwrap();
    assert_eq!(
        h.engine.topic_attributes(&fifo).await.unwrap()["ContentBasedDeduplication"],
        "true"
    );
    invalid_parameter(
        h.engine
            .set_topic_attribute(&arn, "ContentBasedDeduplication", "true")
            .await,
    );
    invalid_parameter(h.engine.set_topic_attribute(&arn, "Bogus", "1").await);
    invalid_parameter(
        h.engine
            .set_topic_attribute(&arn, "FifoTopic", "true")
            .await,
    );

    h.engine
        .tag_topic(&arn, [("team".to_string(), "core".to_string())].into())
        .await
        .unwrap();
    assert_eq!(h.engine.topic_tags(&arn).await.unwrap().len(), 1);
    h.engine.untag_topic(&arn, &["team".into()]).await.unwrap();
    assert!(h.engine.topic_tags(&arn).await.unwrap().is_empty());

    h.engine.delete_topic(&arn).await.unwrap();
    h.engine
        .delete_topic(&arn)
        .await
        .expect("deleting again is no error");
    assert!(matches!(
        h.engine.topic_attributes(&arn).await,
        Err(EngineError::NotFound(_))
    ));
    assert_eq!(h.engine.list_topics("us-east-1").await.unwrap(), [fifo]);
}

async fn subscribe_and_unsubscribe<B: Backend>(h: Harness<B>) {
    let t = h.topic("alerts", &[]).await;
    let q = h.queue("alerts-q", &[]).await;
    let fq = h.queue("alerts-q.fifo", &[("FifoQueue", "true")]).await;
    let sub = h.subscribe_queue(&t, &q, &[]).await;
    assert!(sub.starts_with(&format!("{t}:")));
    assert_eq!(
        h.subscribe_queue(&t, &q, &[]).await,
        sub,
        "the same endpoint twice is one subscription"
    );
    let differs = h
        .engine
        .subscribe(
            &t,
            "sqs",
            &h.engine.arn(&q),
            attrs(&[("RawMessageDelivery", "true")]),
        )
        .await;
    invalid_parameter(differs);
    // A queue that does not exist, a FIFO queue on a standard topic, unknown protocols.
    let missing = h
        .engine
        .subscribe(
            &t,
            "sqs",
            "arn:aws:sqs:us-east-1:123456789012:nope",
            BTreeMap::new(),
        )
        .await;
    invalid_parameter(missing);
    invalid_parameter(
        h.engine
            .subscribe(&t, "sqs", &h.engine.arn(&fq), BTreeMap::new())
            .await,
    );
    invalid_parameter(
        h.engine
            .subscribe(&t, "carrier-pigeon", "x", BTreeMap::new())
            .await,
    );
    invalid_parameter(
        h.engine
            .subscribe(&t, "https", "http://insecure.example", BTreeMap::new())
            .await,
    );
    let bad_policy = h
        .engine
        .subscribe(
            &t,
            "lambda",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            attrs(&[("FilterPolicy", "{not json")]),
        )
        .await;
    assert!(invalid_parameter(bad_policy)
        .starts_with("Invalid parameter: Attributes Reason: FilterPolicy"));

    let web = h
        .engine
        .subscribe(&t, "https", "https://hooks.example/x", BTreeMap::new())
        .await
        .unwrap();
    assert!(web.pending, "HTTP endpoints wait for confirmation");
    let lambda = h
        .engine
        .subscribe(
            &t,
            "lambda",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            BTreeMap::new(),
        )
        .await
        .unwrap();
    assert!(!lambda.pending);
    let a = h.engine.topic_attributes(&t).await.unwrap();
    assert_eq!(
        (
            a["SubscriptionsConfirmed"].as_str(),
            a["SubscriptionsPending"].as_str()
        ),
        ("2", "1")
    );

    let listed = h.engine.list_subscriptions_by_topic(&t).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0].subscription_arn, sub);
    assert_eq!(listed[0].endpoint, h.engine.arn(&q));
    assert_eq!(listed[0].protocol, "sqs");
    assert_eq!(
        h.engine.list_subscriptions("us-east-1").await.unwrap(),
        listed
    );
    assert!(h
        .engine
        .list_subscriptions("eu-west-1")
        .await
        .unwrap()
        .is_empty());

    let sa = h.engine.subscription_attributes(&sub).await.unwrap();
    assert_eq!(sa["TopicArn"], t);
    assert_eq!(sa["Protocol"], "sqs");
    assert_eq!(sa["PendingConfirmation"], "false");
    assert_eq!(sa["RawMessageDelivery"], "false");
    h.engine
        .set_subscription_attribute(&sub, "RawMessageDelivery", "true")
        .await
        .unwrap();
    h.engine
        .set_subscription_attribute(&sub, "FilterPolicy", r#"{"color":["red"]}"#)
        .await
        .unwrap();
    let sa = h.engine.subscription_attributes(&sub).await.unwrap();
    assert_eq!(sa["RawMessageDelivery"], "true");
    assert_eq!(sa["FilterPolicy"], r#"{"color":["red"]}"#);
    assert_eq!(sa["FilterPolicyScope"], "MessageAttributes");
    let bad_raw = h
        .engine
        .set_subscription_attribute(&sub, "RawMessageDelivery", "maybe")
        .await;
    invalid_parameter(bad_raw);
    let bad_policy = h
        .engine
        .set_subscription_attribute(&sub, "FilterPolicy", "[1]")
        .await;
    assert!(invalid_parameter(bad_policy).starts_with("Invalid parameter: FilterPolicy"));
    let nested = h
        .engine
        .set_subscription_attribute(&sub, "FilterPolicy", r#"{"a":{"b":["c"]}}"#)
        .await;
    assert!(invalid_parameter(nested).contains("does not support nested"));
    invalid_parameter(
        h.engine
            .set_subscription_attribute(&sub, "FilterPolicyScope", "Everything")
            .await,
    );
    invalid_parameter(
        h.engine
            .set_subscription_attribute(&sub, "Endpoint", "x")
            .await,
    );

    h.engine.unsubscribe(&sub).await.unwrap();
    h.engine
        .unsubscribe(&sub)
        .await
        .expect("unsubscribing again is no error");
    assert!(matches!(
        h.engine.subscription_attributes(&sub).await,
        Err(EngineError::NotFound(_))
    ));
    assert_eq!(
        h.engine
            .list_subscriptions_by_topic(&t)
            .await
            .unwrap()
            .len(),
        2
    );
    // A new subscription of the same endpoint gets a new ARN.
    assert_ne!(h.subscribe_queue(&t, &q, &[]).await, sub);
}

async fn publish_fans_out_raw_and_enveloped<B: Backend>(h: Harness<B>) {
    let t = h.topic("fan", &[]).await;
    let a = h.queue("fan-a", &[]).await;
    let b = h.queue("fan-b", &[]).await;
    let raw = h.queue("fan-raw", &[]).await;
    let sub_a = h.subscribe_queue(&t, &a, &[]).await;
    h.subscribe_queue(&t, &b, &[]).await;
    h.subscribe_queue(&t, &raw, &[("RawMessageDelivery", "true")])
        .await;
    let web = h
        .engine
        .subscribe(&t, "http", "http://127.0.0.1:9/hook", BTreeMap::new())
        .await
        .unwrap();
    assert!(web.pending);

    let out = h
        .engine
        .publish(
            &t,
            Publication {
                message: "hello fans".into(),
                subject: Some("greeting".into()),
                message_attributes: string_attrs(&[("color", "red")]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(out.sequence_number.is_none());

    for q in [&a, &b] {
        let got = h.drain(q).await;
        assert_eq!(got.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&got[0]).expect("envelope is JSON");
        assert_eq!(v["Type"], "Notification");
        assert_eq!(v["MessageId"], out.message_id.as_str());
        assert_eq!(v["TopicArn"], t.as_str());
        assert_eq!(v["Subject"], "greeting");
        assert_eq!(v["Message"], "hello fans");
        assert_eq!(v["Timestamp"], "2023-11-14T22:13:20.000Z");
        assert_eq!(v["SignatureVersion"], "1");
        assert!(v["SigningCertURL"].is_string());
        assert_eq!(v["MessageAttributes"]["color"]["Type"], "String");
        assert_eq!(v["MessageAttributes"]["color"]["Value"], "red");
        let unsubscribe = v["UnsubscribeURL"].as_str().unwrap_or_default();
        if q == &a {
            assert!(unsubscribe
                .ends_with(&form_urlencoded::byte_serialize(sub_a.as_bytes()).collect::<String>()));
        }
    }
    let got = h
        .engine
        .receive(
            &raw,
            ReceiveRequest {
                max_messages: Some(10),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].message.body, "hello fans",
        "raw delivery sends the message itself"
    );
    assert_eq!(
        got[0]
            .message
            .attributes
            .get("color")
            .and_then(|v| v.string_value.as_deref()),
        Some("red"),
        "and its attributes as SQS message attributes"
    );

    // Per-protocol messages: the SQS subscribers get the `sqs` entry.
    h.engine
        .publish(
            &t,
            Publication {
                message: r#"{"default":"for everyone","sqs":"for queues"}"#.into(),
                message_structure: Some("json".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let got = h.drain(&a).await;
    let v: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(v["Message"], "for queues");
    assert!(v.get("Subject").is_none());
    assert!(v.get("MessageAttributes").is_none());
    let no_default = h
        .engine
        .publish(
            &t,
            Publication {
                message: r#"{"sqs":"x"}"#.into(),
                message_structure: Some("json".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(invalid_parameter(no_default).contains("No default entry"));

    // A subscriber whose queue is gone does not stop delivery to the others.
    h.engine.delete_queue(&b).await.unwrap();
    h.engine.publish(&t, text("after")).await.unwrap();
    assert_eq!(h.drain(&raw).await.len(), 2);
}

async fn filter_policies_select_subscribers<B: Backend>(h: Harness<B>) {
    let t = h.topic("filtered", &[]).await;
    let red = h.queue("red", &[]).await;
    let big = h.queue("big", &[]).await;
    let all = h.queue("all", &[]).await;
    h.subscribe_queue(
        &t,
        &red,
        &[
            ("RawMessageDelivery", "true"),
            ("FilterPolicy", r#"{"color":["red"]}"#),
        ],
    )
    .await;
    h.subscribe_queue(
        &t,
        &big,
        &[
            ("RawMessageDelivery", "true"),
            ("FilterPolicyScope", "MessageBody"),
            (
                "FilterPolicy",
                r#"{"order":{"total":[{"numeric":[">",100]}]}}"#,
            ),
        ],
    )
    .await;
    h.subscribe_queue(&t, &all, &[("RawMessageDelivery", "true")])
        .await;

    let publish = |body: &'static str, color: Option<&'static str>| {
        let engine = h.engine.clone();
        let t = t.clone();
        async move {
            engine
                .publish(
                    &t,
                    Publication {
                        message: body.into(),
                        message_attributes: color
                            .map(|c| string_attrs(&[("color", c)]))
                            .unwrap_or_default(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap()
        }
    };
    publish(r#"{"order":{"total":500}}"#, Some("red")).await;
    publish(r#"{"order":{"total":5}}"#, Some("blue")).await;
    publish("not json", Some("red")).await;
    publish(r#"{"order":{"total":101}}"#, None).await;

    assert_eq!(
        h.drain(&red).await,
        [r#"{"order":{"total":500}}"#, "not json"]
    );
    assert_eq!(
        h.drain(&big).await,
        [r#"{"order":{"total":500}}"#, r#"{"order":{"total":101}}"#]
    );
    assert_eq!(h.drain(&all).await.len(), 4);
}

async fn fifo_topic_keeps_group_order_and_drops_duplicates<B: Backend>(h: Harness<B>) {
    let t = h.topic("ledger.fifo", &[("FifoTopic", "true")]).await;
    let std_q = h.queue("ledger-standard", &[]).await;
    invalid_parameter(
        h.engine
            .subscribe(&t, "sqs", &h.engine.arn(&std_q), BTreeMap::new())
            .await,
    );
    invalid_parameter(
        h.engine
            .subscribe(&t, "https", "https://hooks.example/x", BTreeMap::new())
            .await,
    );
    let queues = [
        h.queue("ledger-1.fifo", &[("FifoQueue", "true")]).await,
        h.queue("ledger-2.fifo", &[("FifoQueue", "true")]).await,
    ];
    for q in &queues {
        h.subscribe_queue(&t, q, &[("RawMessageDelivery", "true")])
            .await;
    }
    let publish = |body: String, group: &str, dedup: &str| Publication {
        message: body,
        group_id: Some(group.into()),
        dedup_id: Some(dedup.into()),
        ..Default::default()
    };
    let mut seqs = Vec::new();
    let mut ids = Vec::new();
    for i in 0..3 {
        for g in ["a", "b"] {
            let out = h
                .engine
                .publish(&t, publish(format!("{g}{i}"), g, &format!("{g}-{i}")))
                .await
                .unwrap();
            seqs.push(
                out.sequence_number
                    .clone()
                    .expect("FIFO topics number messages"),
            );
            ids.push(out.message_id);
        }
    }
    let mut sorted = seqs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seqs, "sequence numbers increase");
    // A duplicate within five minutes returns the original and delivers nothing.
    let again = h
        .engine
        .publish(&t, publish("a0".into(), "a", "a-0"))
        .await
        .unwrap();
    assert_eq!(again.message_id, ids[0]);
    assert_eq!(again.sequence_number.as_deref(), Some(seqs[0].as_str()));

    for q in &queues {
        let got = h
            .engine
            .receive(
                q,
                ReceiveRequest {
                    max_messages: Some(10),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let per_group = |g: &str| -> Vec<String> {
            got.iter()
                .filter(|r| r.message.group_id.as_deref() == Some(g))
                .map(|r| r.message.body.clone())
                .collect()
        };
        assert_eq!(per_group("a"), ["a0", "a1", "a2"]);
        assert_eq!(per_group("b"), ["b0", "b1", "b2"]);
        assert_eq!(got.len(), 6);
        assert_eq!(
            got[0].message.dedup_id.as_deref(),
            Some("a-0"),
            "dedup id is passed on"
        );
    }

    // Group id is required; deduplication needs an id or content-based deduplication.
    invalid_parameter(h.engine.publish(&t, text("x")).await);
    let no_dedup = Publication {
        group_id: Some("a".into()),
        ..text("x")
    };
    invalid_parameter(h.engine.publish(&t, no_dedup.clone()).await);
    h.engine
        .set_topic_attribute(&t, "ContentBasedDeduplication", "true")
        .await
        .unwrap();
    let first = h.engine.publish(&t, no_dedup.clone()).await.unwrap();
    assert_eq!(h.engine.publish(&t, no_dedup.clone()).await.unwrap(), first);
    h.advance(5 * 60);
    assert_ne!(h.engine.publish(&t, no_dedup).await.unwrap(), first);
    // Standard topics refuse FIFO parameters.
    let plain = h.topic("plain", &[]).await;
    invalid_parameter(
        h.engine
            .publish(
                &plain,
                Publication {
                    group_id: Some("g".into()),
                    ..text("x")
                },
            )
            .await,
    );
}

async fn topics_survive_restart<B: Backend>(mut h: Harness<B>) {
    let t = h.topic("kept", &[("DisplayName", "Kept")]).await;
    let f = h
        .topic(
            "kept.fifo",
            &[("FifoTopic", "true"), ("ContentBasedDeduplication", "true")],
        )
        .await;
    let q = h.queue("kept-q", &[]).await;
    let sub = h
        .subscribe_queue(
            &t,
            &q,
            &[
                ("RawMessageDelivery", "true"),
                ("FilterPolicy", r#"{"k":["v"]}"#),
            ],
        )
        .await;
    h.engine
        .subscribe(&t, "https", "https://hooks.example/y", BTreeMap::new())
        .await
        .unwrap();
    h.engine
        .tag_topic(&t, [("env".to_string(), "test".to_string())].into())
        .await
        .unwrap();

    h.restart().await;

    assert_eq!(
        h.engine.list_topics("us-east-1").await.unwrap(),
        [t.clone(), f.clone()]
    );
    let a = h.engine.topic_attributes(&t).await.unwrap();
    assert_eq!(a["DisplayName"], "Kept");
    assert_eq!(
        (
            a["SubscriptionsConfirmed"].as_str(),
            a["SubscriptionsPending"].as_str()
        ),
        ("1", "1")
    );
    assert_eq!(
        h.engine.topic_attributes(&f).await.unwrap()["ContentBasedDeduplication"],
        "true"
    );
    assert_eq!(
        h.engine
            .topic_tags(&t)
            .await
            .unwrap()
            .get("env")
            .map(String::as_str),
        Some("test")
    );
    let sa = h.engine.subscription_attributes(&sub).await.unwrap();
    assert_eq!(sa["FilterPolicy"], r#"{"k":["v"]}"#);
    // The restored subscription still delivers, and still filters.
    h.engine
        .publish(
            &t,
            Publication {
                message_attributes: string_attrs(&[("k", "v")]),
                ..text("yes")
            },
        )
        .await
        .unwrap();
    h.engine.publish(&t, text("no")).await.unwrap();
    assert_eq!(h.drain(&q).await, ["yes"]);
}

async fn failed_deliveries_go_to_the_subscription_dead_letter_queue<B: Backend>(h: Harness<B>) {
    let t = h.topic("guarded", &[]).await;
    let q = h.queue("guarded-q", &[]).await;
    let dlq = h.queue("guarded-dlq", &[]).await;
    let policy = format!(r#"{{"deadLetterTargetArn":"{}"}}"#, h.engine.arn(&dlq));
    h.subscribe_queue(
        &t,
        &q,
        &[
            ("RawMessageDelivery", "true"),
            ("RedrivePolicy", policy.as_str()),
        ],
    )
    .await;
    h.engine.publish(&t, text("delivered")).await.unwrap();
    h.engine.delete_queue(&q).await.unwrap();
    h.engine.publish(&t, text("undeliverable")).await.unwrap();
    assert_eq!(h.drain(&dlq).await, ["undeliverable"]);
}

async fn publish_validates_and_needs_a_topic<B: Backend>(h: Harness<B>) {
    let missing = h
        .engine
        .publish("arn:aws:sns:us-east-1:123456789012:ghost", text("boo"))
        .await;
    assert!(
        matches!(missing, Err(EngineError::NotFound(_))),
        "{missing:?}"
    );
    invalid_parameter(h.engine.publish("not-an-arn", text("boo")).await);
    assert!(matches!(
        h.engine
            .subscribe(
                "arn:aws:sns:us-east-1:123456789012:ghost",
                "sqs",
                "x",
                BTreeMap::new()
            )
            .await,
        Err(EngineError::NotFound(_))
    ));
    let t = h.topic("strict", &[]).await;
    invalid_parameter(h.engine.publish(&t, text("")).await);
    let big = "x".repeat(256 * 1024 + 1);
    assert!(invalid_parameter(h.engine.publish(&t, text(&big)).await).contains("too long"));
    h.engine
        .publish(&t, text(&"x".repeat(256 * 1024)))
        .await
        .expect("exactly 256 KiB is accepted");
    invalid_parameter(
        h.engine
            .publish(
                &t,
                Publication {
                    subject: Some("line\nbreak".into()),
                    ..text("x")
                },
            )
            .await,
    );
    invalid_parameter(
        h.engine
            .publish(
                &t,
                Publication {
                    message_structure: Some("xml".into()),
                    ..text("x")
                },
            )
            .await,
    );
}

async fn fifo_topic_deduplication_survives_restart<B: Backend>(mut h: Harness<B>) {
    let t = h
        .topic(
            "once.fifo",
            &[("FifoTopic", "true"), ("ContentBasedDeduplication", "true")],
        )
        .await;
    let other = h
        .topic(
            "twice.fifo",
            &[("FifoTopic", "true"), ("ContentBasedDeduplication", "true")],
        )
        .await;
    let in_group = |body: &str| Publication {
        group_id: Some("g".into()),
        ..text(body)
    };
    let first = h.engine.publish(&t, in_group("pay 5")).await.unwrap();
    h.advance(60);
    h.restart().await;
    // Remembered across the restart, per topic.
    assert_eq!(
        h.engine.publish(&t, in_group("pay 5")).await.unwrap(),
        first
    );
    let elsewhere = h.engine.publish(&other, in_group("pay 5")).await.unwrap();
    assert_ne!(elsewhere.message_id, first.message_id);
    // Five minutes after the first publication the id is free again.
    h.advance(4 * 60);
    let later = h.engine.publish(&t, in_group("pay 5")).await.unwrap();
    assert_ne!(later.message_id, first.message_id);
    assert!(later.sequence_number > first.sequence_number);
    assert_eq!(
        h.engine.publish(&t, in_group("pay 5")).await.unwrap(),
        later
    );
    // A topic deleted and made again starts with nothing remembered.
    h.engine.delete_topic(&t).await.unwrap();
    let t = h
        .topic(
            "once.fifo",
            &[("FifoTopic", "true"), ("ContentBasedDeduplication", "true")],
        )
        .await;
    assert_ne!(
        h.engine.publish(&t, in_group("pay 5")).await.unwrap(),
        later
    );
}

/// The delivery jobs waiting in the HTTP/S delivery queue (received and put back).
async fn delivery_jobs<B: Backend>(h: &Harness<B>) -> Vec<DeliveryJob> {
    let q = h.engine.topic_delivery_queue();
    let got = h.receive_vis(&q, 10, Some(0)).await;
    got.iter()
        .map(|(body, _)| serde_json::from_str(body).expect("a delivery job"))
        .collect()
}

async fn http_subscriptions_confirm_and_queue_their_deliveries<B: Backend>(h: Harness<B>) {
    let t = h.topic("hooks", &[("SignatureVersion", "2")]).await;
    let pending = h
        .engine
        .subscribe(&t, "http", "http://127.0.0.1:9/hook", BTreeMap::new())
        .await
        .unwrap();
    assert!(pending.pending);
    let jobs = delivery_jobs(&h).await;
    assert_eq!(jobs.len(), 1);
    let confirmation = &jobs[0];
    assert_eq!(
        confirmation.message_type,
        MessageType::SubscriptionConfirmation
    );
    assert_eq!(confirmation.subscription_arn, pending.subscription_arn);
    let doc: serde_json::Value = serde_json::from_str(&confirmation.body).unwrap();
    assert_eq!(doc["Type"], "SubscriptionConfirmation");
    assert_eq!(doc["SignatureVersion"], "2");
    let token = doc["Token"].as_str().expect("a token").to_string();
    assert!(doc["SubscribeURL"].as_str().unwrap().contains(&token));
    assert!(h
        .engine
        .delivery_target(confirmation)
        .await
        .unwrap()
        .is_some());

    // Nothing is delivered while pending; a wrong token confirms nothing.
    let q = h.engine.topic_delivery_queue();
    for (_, r) in h.receive(&q, 10).await {
        h.delete(&q, &r).await;
    }
    h.engine.publish(&t, text("too early")).await.unwrap();
    assert!(delivery_jobs(&h).await.is_empty());
    assert_eq!(
        invalid_parameter(h.engine.confirm_subscription(&t, "wrong", false).await),
        "Invalid token"
    );
    let arn = h
        .engine
        .confirm_subscription(&t, &token, false)
        .await
        .unwrap();
    assert_eq!(arn, pending.subscription_arn);
    // The confirmation job is now stale.
    assert!(h
        .engine
        .delivery_target(confirmation)
        .await
        .unwrap()
        .is_none());
    let sa = h.engine.subscription_attributes(&arn).await.unwrap();
    assert_eq!(sa["PendingConfirmation"], "false");

    // Publishing queues one signed notification; a raw subscriber gets the bare message.
    let raw = h
        .engine
        .subscribe(
            &t,
            "http",
            "http://127.0.0.1:9/raw",
            attrs(&[("RawMessageDelivery", "true")]),
        )
        .await
        .unwrap();
    let raw_token = delivery_jobs(&h)
        .await
        .iter()
        .find(|j| j.subscription_arn == raw.subscription_arn)
        .and_then(|j| serde_json::from_str::<serde_json::Value>(&j.body).ok())
        .and_then(|d| d["Token"].as_str().map(str::to_string))
        .expect("the raw subscriber's confirmation");
    h.engine
        .confirm_subscription(&t, &raw_token, false)
        .await
        .unwrap();
    for (_, r) in h.receive(&q, 10).await {
        h.delete(&q, &r).await;
    }
    h.engine
        .publish(
            &t,
            Publication {
                subject: Some("s".into()),
                message_attributes: string_attrs(&[("k", "v")]),
                ..text("hello")
            },
        )
        .await
        .unwrap();
    let mut jobs = delivery_jobs(&h).await;
    jobs.sort_by_key(|j| j.raw);
    assert_eq!(jobs.len(), 2);
    let (wrapped, bare) = (&jobs[0], &jobs[1]);
    assert_eq!(wrapped.message_type, MessageType::Notification);
    let doc: serde_json::Value = serde_json::from_str(&wrapped.body).unwrap();
    assert_eq!(doc["Message"], "hello");
    assert_eq!(doc["Subject"], "s");
    assert!(!doc["Signature"].as_str().unwrap().is_empty());
    assert_eq!(bare.body, "hello");
    assert!(bare.raw);
    assert_eq!(bare.attributes.len(), 1, "kept for the dead-letter queue");
    let target = h.engine.delivery_target(wrapped).await.unwrap().unwrap();
    assert_eq!(target.policy.retry.num_retries, 3, "SNS's default policy");
    assert!(target.dead_letter.is_none());

    // Unsubscribed: its jobs are dropped.
    h.engine.unsubscribe(&arn).await.unwrap();
    assert!(h.engine.delivery_target(wrapped).await.unwrap().is_none());
    assert!(h.engine.delivery_target(bare).await.unwrap().is_some());
}

async fn lambda_subscriptions_feed_the_function_queue<B: Backend>(h: Harness<B>) {
    let t = h.topic("fn", &[]).await;
    invalid_parameter(
        h.engine
            .subscribe(
                &t,
                "lambda",
                "arn:aws:lambda:us-east-1:1:layer:x",
                BTreeMap::new(),
            )
            .await,
    );
    let sub = h
        .engine
        .subscribe(
            &t,
            "lambda",
            "arn:aws:lambda:eu-west-1:123456789012:function:register",
            BTreeMap::new(),
        )
        .await
        .unwrap();
    assert!(!sub.pending);
    h.engine.publish(&t, text("new client")).await.unwrap();
    let q = QueueKey::new("eu-west-1", "lull-function-register");
    let got = h.drain(&q).await;
    assert_eq!(got.len(), 1);
    let record: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(record["EventSource"], "aws:sns");
    assert_eq!(
        record["EventSubscriptionArn"],
        sub.subscription_arn.as_str()
    );
    assert_eq!(record["Sns"]["Message"], "new client");
    assert_eq!(record["Sns"]["TopicArn"], t.as_str());
}

async fn the_signing_key_is_made_once_and_kept<B: Backend>(mut h: Harness<B>) {
    let first = h.engine.topic_signer().await.unwrap();
    let pem = first.certificate_pem().to_string();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    h.restart().await;
    let again = h.engine.topic_signer().await.unwrap();
    assert_eq!(
        again.certificate_pem(),
        pem,
        "the stored key and certificate"
    );
}

// ---------------------------------------------------------------------------------------------
// Debounce buffers

const APP: &str = "bot";

fn conv(conversation: &str) -> ConversationKey {
    ConversationKey::new(APP, "5511000000000", conversation)
}

fn fragment(id: &str, text: &str) -> Fragment {
    Fragment {
        id: id.into(),
        text: Some(text.into()),
        kind: "text".into(),
        parts: vec![],
        sender_name: None,
        at_ms: 0,
        received_ms: 0,
        raw: serde_json::json!({"messageId": id}),
    }
}

fn photo(id: &str) -> Fragment {
    let parts = vec![lull::webhooks::Part::new(
        lull::webhooks::PartKind::Image,
        "image",
    )];
    Fragment {
        kind: Fragment::kind_of(&parts),
        parts,
        text: None,
        ..fragment(id, "")
    }
}

/// A 10 s window capped at 60 s.
fn fixed() -> DebounceSettings {
    DebounceSettings::fixed(10_000, 60_000)
}

impl<B: Backend> Harness<B> {
    async fn buffer(&self, key: &ConversationKey, f: Fragment, s: &DebounceSettings) -> Buffered {
        self.engine
            .buffer_fragment(lull::webhooks::Platform::Zapi, key, f, s)
            .await
            .expect("buffer")
    }

    /// `(due in ms from now, fragments)` of an accepted fragment.
    async fn accept(&self, key: &ConversationKey, id: &str, s: &DebounceSettings) -> (u64, u32) {
        match self
            .buffer(key, fragment(id, &format!("text {id}")), s)
            .await
        {
            Buffered::Accepted { due_at, fragments } => {
                (due_at.saturating_sub(self.clock.now_ms()), fragments)
            }
            Buffered::Duplicate => panic!("{id} taken for a duplicate"),
        }
    }

    async fn texts(&self, key: &ConversationKey) -> Vec<String> {
        self.engine
            .conversation(key)
            .await
            .expect("conversation")
            .map(|b| b.fragments.into_iter().filter_map(|f| f.text).collect())
            .unwrap_or_default()
    }

    /// Claims what is due and removes it, as the flusher does after a successful send.
    async fn flush_due(&self, s: &DebounceSettings) -> Vec<(String, Vec<String>)> {
        let due = self
            .engine
            .claim_due_conversations(100)
            .await
            .expect("claim");
        let mut out = Vec::new();
        for b in due {
            let ids: Vec<String> = b.fragments.iter().map(|f| f.id.clone()).collect();
            self.engine
                .complete_flush(&b.key, ids.clone(), s)
                .await
                .expect("complete");
            out.push((b.key.conversation, ids));
        }
        out
    }

    fn advance_ms(&self, ms: u64) {
        self.clock.advance_ms(ms);
    }
}

async fn buffer_appends_in_order_and_restarts_the_window<B: Backend>(h: Harness<B>) {
    let k = conv("ana");
    assert_eq!(h.accept(&k, "m1", &fixed()).await, (10_000, 1));
    h.advance_ms(4_000);
    assert_eq!(h.accept(&k, "m2", &fixed()).await, (10_000, 2));
    h.advance_ms(9_000);
    assert_eq!(h.accept(&k, "m3", &fixed()).await, (10_000, 3));
    assert_eq!(h.texts(&k).await, ["text m1", "text m2", "text m3"]);
    let b = h.engine.conversation(&k).await.unwrap().unwrap();
    assert_eq!(b.meta.first_at, START_MS);
    assert_eq!(b.meta.last_at, START_MS + 13_000);
    assert_eq!(b.meta.due_at, START_MS + 23_000);
    assert_eq!(
        b.fragments[0].received_ms, START_MS,
        "receive time is the engine's"
    );
    assert_eq!(
        b.fragments[0].at_ms, START_MS,
        "no platform time: the receive time"
    );
    // Another sender, and the same sender on another business account, are separate.
    h.accept(&conv("bia"), "m4", &fixed()).await;
    let other_account = ConversationKey::new(APP, "5511999999999", "ana");
    h.accept(&other_account, "m5", &fixed()).await;
    assert_eq!(h.texts(&k).await.len(), 3);
    assert_eq!(h.texts(&other_account).await, ["text m5"]);
    assert!(h.flush_due(&fixed()).await.is_empty(), "nothing is due yet");
}

async fn buffer_drops_redelivered_message_ids_for_a_day<B: Backend>(mut h: Harness<B>) {
    let k = conv("ana");
    h.accept(&k, "wamid.1", &fixed()).await;
    assert_eq!(
        h.buffer(&k, fragment("wamid.1", "again"), &fixed()).await,
        Buffered::Duplicate
    );
    // Ids are per app.
    let other = ConversationKey::new("other-app", "5511000000000", "ana");
    h.accept(&other, "wamid.1", &fixed()).await;
    assert_eq!(h.texts(&k).await, ["text wamid.1"]);
    // Still a duplicate after the batch was flushed, and after a restart.
    h.advance(11);
    assert_eq!(h.flush_due(&fixed()).await.len(), 2);
    assert_eq!(
        h.buffer(&k, fragment("wamid.1", "late"), &fixed()).await,
        Buffered::Duplicate
    );
    h.restart().await;
    assert_eq!(
        h.buffer(&k, fragment("wamid.1", "later"), &fixed()).await,
        Buffered::Duplicate
    );
    assert!(
        h.engine.conversation(&k).await.unwrap().is_none(),
        "a duplicate stores nothing"
    );
    // Forgotten after 24 hours (and swept).
    h.advance(24 * 3600);
    h.engine.sweep_debounce().await.expect("sweep");
    h.accept(&k, "wamid.1", &fixed()).await;
}

async fn buffer_max_wait_caps_an_endless_burst<B: Backend>(h: Harness<B>) {
    let k = conv("ana");
    let s = DebounceSettings::fixed(10_000, 25_000);
    h.accept(&k, "1", &s).await;
    for id in ["2", "3", "4"] {
        h.advance(8);
        h.accept(&k, id, &s).await;
    }
    let b = h.engine.conversation(&k).await.unwrap().unwrap();
    assert_eq!(b.meta.due_at, START_MS + 25_000);
    h.advance(1);
    assert_eq!(
        h.flush_due(&s).await,
        [(
            "ana".to_string(),
            vec!["1".into(), "2".into(), "3".into(), "4".into()]
        )]
    );
}

async fn buffer_max_fragments_and_media_flush_at_once<B: Backend>(h: Harness<B>) {
    let s = DebounceSettings {
        max_fragments: 3,
        ..fixed()
    };
    let k = conv("ana");
    h.accept(&k, "1", &s).await;
    h.accept(&k, "2", &s).await;
    assert_eq!(
        h.accept(&k, "3", &s).await,
        (0, 3),
        "the third of three is due now"
    );
    assert_eq!(h.flush_due(&s).await.len(), 1);

    // Media attaches by default, flushes the batch (itself included) with MediaPolicy::Flush.
    let media = conv("bia");
    let attach = fixed();
    h.accept(&media, "4", &attach).await;
    let Buffered::Accepted { due_at, .. } = h.buffer(&media, photo("5"), &attach).await else {
        panic!("photo refused")
    };
    assert_eq!(due_at, h.clock.now_ms() + 10_000);
    let flush = DebounceSettings {
        media: MediaPolicy::Flush,
        ..fixed()
    };
    h.advance_ms(500);
    let Buffered::Accepted { due_at, fragments } = h.buffer(&media, photo("6"), &flush).await
    else {
        panic!("photo refused")
    };
    assert_eq!((due_at, fragments), (h.clock.now_ms(), 3));
    let flushed = h.flush_due(&flush).await;
    assert_eq!(
        flushed,
        [("bia".to_string(), vec!["4".into(), "5".into(), "6".into()])]
    );
    let b = h.engine.conversation(&media).await.unwrap();
    assert!(b.is_none(), "the whole batch went");
}

async fn buffer_typing_pushes_the_due_time<B: Backend>(h: Harness<B>) {
    let s = DebounceSettings {
        typing_extend_ms: 15_000,
        ..DebounceSettings::fixed(5_000, 30_000)
    };
    let k = conv("ana");
    // Nothing buffered: a typing signal is a no-op.
    h.engine
        .typing_hint(&k, lull::webhooks::Typing::Composing, &s)
        .await
        .expect("typing");
    assert!(h.engine.conversation(&k).await.unwrap().is_none());
    h.accept(&k, "1", &s).await;
    h.advance(4);
    h.engine
        .typing_hint(&k, lull::webhooks::Typing::Composing, &s)
        .await
        .unwrap();
    let due = |b: Option<lull::engine::debounce::BufferSnapshot>| b.unwrap().meta.due_at - START_MS;
    assert_eq!(due(h.engine.conversation(&k).await.unwrap()), 19_000);
    h.engine
        .typing_hint(&k, lull::webhooks::Typing::Paused, &s)
        .await
        .unwrap();
    assert_eq!(
        due(h.engine.conversation(&k).await.unwrap()),
        19_000,
        "paused does nothing"
    );
    h.advance(14);
    h.engine
        .typing_hint(&k, lull::webhooks::Typing::Recording, &s)
        .await
        .unwrap();
    assert_eq!(
        due(h.engine.conversation(&k).await.unwrap()),
        30_000,
        "never past max_wait"
    );
    h.advance(5);
    assert!(h.flush_due(&s).await.is_empty());
    h.advance(13);
    assert_eq!(h.flush_due(&s).await.len(), 1);
}

async fn buffer_claims_due_conversations_once_and_removes_only_what_was_sent<B: Backend>(
    h: Harness<B>,
) {
    let s = fixed();
    let (ana, bia, caio) = (conv("ana"), conv("bia"), conv("caio"));
    h.accept(&ana, "a1", &s).await;
    h.advance(2);
    h.accept(&bia, "b1", &s).await;
    h.advance(5);
    h.accept(&caio, "c1", &s).await;
    assert_eq!(
        h.engine.next_flush_at().await.unwrap(),
        Some(START_MS + 10_000)
    );
    h.advance(6);
    let claimed = h.engine.claim_due_conversations(10).await.unwrap();
    let names: Vec<&str> = claimed
        .iter()
        .map(|b| b.key.conversation.as_str())
        .collect();
    assert_eq!(names, ["ana", "bia"], "due ones, earliest first");
    assert!(
        h.engine
            .claim_due_conversations(10)
            .await
            .unwrap()
            .is_empty(),
        "claimed buffers are not handed out twice"
    );
    // A fragment arrives while ana's batch is being sent: it stays for the next batch.
    h.accept(&ana, "a2", &s).await;
    h.engine
        .complete_flush(&ana, vec!["a1".into()], &s)
        .await
        .unwrap();
    assert_eq!(h.texts(&ana).await, ["text a2"]);
    let b = h.engine.conversation(&ana).await.unwrap().unwrap();
    assert_eq!(
        b.meta.due_at,
        h.clock.now_ms() + 10_000,
        "rescheduled from what is left"
    );
    // bia's claim runs out without a completion (a failed send): it is handed out again.
    h.advance(31);
    let again = h.engine.claim_due_conversations(10).await.unwrap();
    let names: Vec<&str> = again.iter().map(|b| b.key.conversation.as_str()).collect();
    assert_eq!(names, ["bia", "caio", "ana"], "by due time");
    for b in again {
        let ids = b.fragments.iter().map(|f| f.id.clone()).collect();
        h.engine.complete_flush(&b.key, ids, &s).await.unwrap();
    }
    assert!(h.engine.conversation(&bia).await.unwrap().is_none());
    assert_eq!(h.engine.next_flush_at().await.unwrap(), None);
    assert!(h.engine.conversations(APP).await.unwrap().is_empty());
}

async fn buffer_restore_puts_a_batch_back_in_front<B: Backend>(h: Harness<B>) {
    let s = fixed();
    let k = conv("ana");
    h.accept(&k, "1", &s).await;
    h.accept(&k, "2", &s).await;
    h.advance(11);
    let batch = h
        .engine
        .claim_due_conversations(10)
        .await
        .unwrap()
        .remove(0);
    h.engine
        .complete_flush(&k, vec!["1".into(), "2".into()], &s)
        .await
        .unwrap();
    h.advance(3);
    h.accept(&k, "3", &s).await;
    assert!(h
        .engine
        .has_fragments_after(&k, batch.meta.last_at)
        .await
        .unwrap());
    // The handler's reply is stale: put the batch back (one id twice, one already buffered).
    let mut old = batch.fragments.clone();
    old.push(fragment("3", "dup of a buffered one"));
    old.push(batch.fragments[0].clone());
    h.advance(1);
    h.engine
        .restore_fragments(lull::webhooks::Platform::Zapi, &k, old, &s)
        .await
        .unwrap();
    assert_eq!(h.texts(&k).await, ["text 1", "text 2", "text 3"]);
    let b = h.engine.conversation(&k).await.unwrap().unwrap();
    assert_eq!(b.meta.fragments, 3);
    assert_eq!(b.meta.first_at, START_MS);
    assert_eq!(b.meta.due_at, h.clock.now_ms() + 10_000);
    // Restoring into an empty buffer creates it.
    let other = conv("bia");
    h.engine
        .restore_fragments(
            lull::webhooks::Platform::Zapi,
            &other,
            vec![fragment("x", "back")],
            &s,
        )
        .await
        .unwrap();
    assert_eq!(h.texts(&other).await, ["back"]);
    h.advance(11);
    let flushed = h.flush_due(&s).await;
    assert_eq!(flushed.len(), 2);
    assert!(flushed.contains(&("ana".to_string(), vec!["1".into(), "2".into(), "3".into()])));
}

async fn buffer_has_fragments_after<B: Backend>(h: Harness<B>) {
    let k = conv("ana");
    assert!(!h.engine.has_fragments_after(&k, 0).await.unwrap());
    h.accept(&k, "1", &fixed()).await;
    let t1 = h.clock.now_ms();
    assert!(h.engine.has_fragments_after(&k, t1 - 1).await.unwrap());
    assert!(!h.engine.has_fragments_after(&k, t1).await.unwrap());
    h.advance_ms(1);
    h.accept(&k, "2", &fixed()).await;
    assert!(h.engine.has_fragments_after(&k, t1).await.unwrap());
}

async fn buffer_conversations_view_and_admin_flush<B: Backend>(h: Harness<B>) {
    let s = fixed();
    h.accept(&conv("bia"), "b1", &s).await;
    h.accept(&conv("ana"), "a1", &s).await;
    h.advance(2);
    h.accept(&conv("ana"), "a2", &s).await;
    h.accept(&ConversationKey::new("other", "x", "y"), "o1", &s)
        .await;
    let views = h.engine.conversations(APP).await.unwrap();
    assert_eq!(views.len(), 2);
    let ana = &views[0];
    assert_eq!((ana.conversation.as_str(), ana.fragments), ("ana", 2));
    assert_eq!(ana.texts, ["text a1", "text a2"]);
    assert_eq!(ana.due_in_ms, 10_000);
    assert_eq!(ana.window_ms, 10_000);
    assert_eq!(ana.first_at, "2023-11-14T22:13:20.000Z");
    assert_eq!(ana.last_at, "2023-11-14T22:13:22.000Z");
    assert_eq!(ana.due_at, "2023-11-14T22:13:32.000Z");
    assert!(!ana.forced && ana.cadence.is_none());
    let json = serde_json::to_value(ana).unwrap();
    assert_eq!(json["platform"], "zapi");
    assert!(h.engine.flush_conversation(&conv("ana")).await.unwrap());
    assert!(!h.engine.flush_conversation(&conv("nobody")).await.unwrap());
    let views = h.engine.conversations(APP).await.unwrap();
    assert_eq!((views[0].due_in_ms, views[0].forced), (0, true));
    assert_eq!(
        h.flush_due(&s).await,
        [("ana".to_string(), vec!["a1".into(), "a2".into()])]
    );
}

async fn buffer_adaptive_window_learns_and_is_remembered<B: Backend>(mut h: Harness<B>) {
    let s = DebounceSettings {
        adaptive: Some(lull::engine::debounce::Adaptive {
            min_window_ms: 2_000,
            max_window_ms: 40_000,
            factor: 2.0,
            smoothing: 0.5,
        }),
        ..DebounceSettings::fixed(10_000, 120_000)
    };
    let k = conv("slow");
    // A 12 s typer: each fragment is flushed on its own while nothing is learned.
    assert_eq!(h.accept(&k, "1", &s).await.0, 10_000);
    h.advance(10);
    assert_eq!(h.flush_due(&s).await.len(), 1);
    h.advance(2);
    assert_eq!(
        h.accept(&k, "2", &s).await.0,
        10_000,
        "one sample is not enough"
    );
    h.restart().await;
    h.advance(12);
    assert_eq!(
        h.accept(&k, "3", &s).await.0,
        24_000,
        "2 × 12 s, learned across a restart"
    );
    let view = h.engine.conversations(APP).await.unwrap().remove(0);
    let cadence = view.cadence.expect("cadence");
    assert_eq!((cadence.avg_gap_ms, cadence.samples), (12_000, 2));
    assert_eq!(view.window_ms, 24_000);
    // Fixed settings ignore what was learned.
    h.advance(1);
    assert_eq!(h.accept(&k, "4", &fixed()).await.0, 10_000);
}

async fn buffer_state_survives_restart<B: Backend>(mut h: Harness<B>) {
    let s = fixed();
    h.accept(&conv("ana"), "a1", &s).await;
    h.accept(&conv("ana"), "a2", &s).await;
    h.advance(5);
    h.accept(&conv("bia"), "b1", &s).await;
    h.restart().await;
    assert_eq!(h.texts(&conv("ana")).await, ["text a1", "text a2"]);
    assert_eq!(
        h.engine.next_flush_at().await.unwrap(),
        Some(START_MS + 10_000),
        "due times reload"
    );
    // Down for a while: what became overdue is due at once, the rest on time.
    h.advance(7);
    h.restart().await;
    assert_eq!(
        h.flush_due(&s).await,
        [("ana".to_string(), vec!["a1".into(), "a2".into()])]
    );
    h.accept(&conv("ana"), "a3", &s).await;
    h.advance(3);
    assert_eq!(
        h.flush_due(&s).await,
        [("bia".to_string(), vec!["b1".into()])]
    );
    h.restart().await;
    assert_eq!(
        h.texts(&conv("ana")).await,
        ["text a3"],
        "only the flushed ones are gone"
    );
    assert!(h.engine.conversation(&conv("bia")).await.unwrap().is_none());
}

async fn buffer_rejects_unusable_keys<B: Backend>(h: Harness<B>) {
    for bad in [
        ConversationKey::new(APP, "acct", "a\0b"),
        ConversationKey::new(APP, "", "x"),
        ConversationKey::new("", "acct", "x"),
    ] {
        let r = h
            .engine
            .buffer_fragment(
                lull::webhooks::Platform::Zapi,
                &bad,
                fragment("1", "x"),
                &fixed(),
            )
            .await;
        assert!(
            matches!(r, Err(EngineError::InvalidParameterValue(_))),
            "{r:?}"
        );
    }
    let r = h
        .engine
        .buffer_fragment(
            lull::webhooks::Platform::Zapi,
            &conv("ana"),
            fragment("", "x"),
            &fixed(),
        )
        .await;
    assert!(
        matches!(r, Err(EngineError::InvalidParameterValue(_))),
        "{r:?}"
    );
    assert!(h.engine.conversations(APP).await.unwrap().is_empty());
}

fn flusher(h: &Harness<impl Backend>, s: DebounceSettings) -> lull::workers::flusher::Flusher {
    lull::workers::flusher::Flusher::new(
        h.engine.clone(),
        "us-east-1",
        Arc::new(move |_: &str| s.clone()),
    )
}

async fn flusher_hands_a_due_conversation_to_the_inbox<B: Backend>(h: Harness<B>) {
    let inbox = h
        .queue(
            "bot-inbox.fifo",
            &[("FifoQueue", "true"), ("VisibilityTimeout", "60")],
        )
        .await;
    let f = flusher(&h, fixed());
    let k = conv("ana");
    h.accept(&k, "1", &fixed()).await;
    h.advance(3);
    h.buffer(&k, fragment("2", "tudo bem?"), &fixed()).await;
    h.buffer(&k, fragment("3", ""), &fixed()).await;
    h.advance(9);
    assert_eq!(f.flush_due().await, 0, "not due yet");
    assert!(h.receive(&inbox, 10).await.is_empty());
    h.advance(1);
    assert_eq!(f.flush_due().await, 1);
    let got = h
        .engine
        .receive(
            &inbox,
            ReceiveRequest {
                max_messages: Some(10),
                wait_seconds: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 1, "one message for the burst");
    let m = &got[0].message;
    assert_eq!(m.group_id.as_deref(), Some("5511000000000:ana"));
    let batch = Batch::parse(&m.body).expect("a handler call");
    assert_eq!(batch.text, "text 1\ntudo bem?");
    assert_eq!(batch.key, k);
    assert_eq!(batch.fragments.len(), 3);
    assert_eq!(batch.last_at, START_MS + 3_000);
    let body: serde_json::Value = serde_json::from_str(&m.body).unwrap();
    assert_eq!(body["app"], APP);
    assert_eq!(body["messages"][1]["text"], "tudo bem?");
    assert_eq!(body["messages"][0]["raw"]["messageId"], "1");
    assert!(
        h.engine.conversation(&k).await.unwrap().is_none(),
        "flushed fragments are removed"
    );

    // Sent again (a crash before the removal): the inbox's deduplication drops the repeat.
    h.engine
        .restore_fragments(
            lull::webhooks::Platform::Zapi,
            &k,
            batch.fragments.clone(),
            &fixed(),
        )
        .await
        .unwrap();
    h.advance(11);
    assert_eq!(f.flush_due().await, 1);
    assert_eq!(
        h.counts(&inbox).await,
        (0, 1, 0),
        "still the one message, in flight"
    );
    assert!(h.engine.conversation(&k).await.unwrap().is_none());

    // No inbox (the app left the configuration): the conversation stays buffered.
    let orphan = ConversationKey::new("gone", "acct", "ana");
    h.accept(&orphan, "o1", &fixed()).await;
    h.advance(11);
    assert_eq!(f.flush_due().await, 0);
    assert_eq!(h.texts(&orphan).await, ["text o1"]);
}

async fn flusher_task_wakes_for_an_earlier_due_time<B: Backend>(h: Harness<B>) {
    let inbox = h.queue("bot-inbox.fifo", &[("FifoQueue", "true")]).await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(flusher(&h, fixed()).run(shutdown));
    // Far away first, then an earlier one; the clock is driven, so the task is woken by hand
    // after each move, as a real clock's sleep would end.
    h.accept(
        &conv("late"),
        "l1",
        &DebounceSettings::fixed(50_000, 60_000),
    )
    .await;
    h.accept(&conv("soon"), "s1", &DebounceSettings::fixed(1_000, 60_000))
        .await;
    h.advance(2);
    h.engine.wake_flusher();
    let poll = ReceiveRequest {
        max_messages: Some(10),
        wait_seconds: Some(5),
        ..Default::default()
    };
    let got = h.engine.receive(&inbox, poll.clone()).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        Batch::parse(&got[0].message.body).unwrap().key,
        conv("soon")
    );
    assert!(h
        .engine
        .conversation(&conv("late"))
        .await
        .unwrap()
        .is_some());
    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), task)
        .await
        .expect("the flusher stops")
        .unwrap();
}

/// Instantiates every behaviour below once per backend: a module per backend, a test per behaviour.
macro_rules! conformance {
    ([$($backend:ident => $make:expr),* $(,)?], $tests:tt) => {
        $(conformance!(@backend $backend, $make, $tests);)*
    };
    (@backend $backend:ident, $make:expr, [$($test:ident),* $(,)?]) => {
        mod $backend {
            use super::*;
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(Harness::new($make).await).await;
                }
            )*
        }
    };
}

conformance!(
    [embedded => Embedded::new(), postgres => Postgres::new()],
    [
        send_receive_delete,
        visibility_timeout_hides_then_redelivers,
        per_receive_visibility_and_change_visibility,
        stale_receipt_does_not_delete,
        delays_per_queue_and_per_message,
        retention_expires_old_messages,
        fifo_orders_per_group_and_locks_groups_in_flight,
        fifo_deduplicates_for_five_minutes,
        fifo_requires_group_and_dedup,
        redrive_moves_to_dead_letter_queue_and_back,
        dead_letter_target_rules,
        create_queue_is_idempotent_only_for_same_attributes,
        purge_and_delete_queue,
        state_survives_restart,
        long_poll_returns_when_a_message_arrives,
        validation_rejects_bad_input,
        topic_create_is_idempotent_and_reports_attributes,
        subscribe_and_unsubscribe,
        publish_fans_out_raw_and_enveloped,
        filter_policies_select_subscribers,
        fifo_topic_keeps_group_order_and_drops_duplicates,
        topics_survive_restart,
        publish_validates_and_needs_a_topic,
        failed_deliveries_go_to_the_subscription_dead_letter_queue,
        buffer_appends_in_order_and_restarts_the_window,
        buffer_drops_redelivered_message_ids_for_a_day,
        buffer_max_wait_caps_an_endless_burst,
        buffer_max_fragments_and_media_flush_at_once,
        buffer_typing_pushes_the_due_time,
        buffer_claims_due_conversations_once_and_removes_only_what_was_sent,
        buffer_restore_puts_a_batch_back_in_front,
        buffer_has_fragments_after,
        buffer_conversations_view_and_admin_flush,
        buffer_adaptive_window_learns_and_is_remembered,
        buffer_state_survives_restart,
        buffer_rejects_unusable_keys,
        flusher_hands_a_due_conversation_to_the_inbox,
        flusher_task_wakes_for_an_earlier_due_time,
        fifo_topic_deduplication_survives_restart,
        http_subscriptions_confirm_and_queue_their_deliveries,
        lambda_subscriptions_feed_the_function_queue,
        the_signing_key_is_made_once_and_kept,
    ]
);

/// PostgreSQL only: two nodes (two stores on one schema) claiming at the same time.
mod postgres_nodes {
    use super::*;
    use std::collections::{HashMap, HashSet};
    use std::time::Duration;

    async fn two_nodes(pg: &Postgres, clock: &Arc<ManualClock>) -> [Engine; 2] {
        [
            Engine::new(pg.store().await, clock.clone(), ACCOUNT),
            Engine::new(pg.store().await, clock.clone(), ACCOUNT),
        ]
    }

    async fn create(e: &Engine, name: &str, attrs: &[(&str, &str)]) -> QueueKey {
        let key = QueueKey::new("us-east-1", name);
        let attrs = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        e.create_queue(key.clone(), attrs, BTreeMap::new())
            .await
            .expect("create queue");
        key
    }

    fn receive_up_to(max: i64) -> ReceiveRequest {
        ReceiveRequest {
            max_messages: Some(max),
            wait_seconds: Some(0),
            ..Default::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_claims_never_hand_out_a_message_twice() {
        let pg = Postgres::new();
        let clock = Arc::new(ManualClock::new(START_MS));
        let nodes = two_nodes(&pg, &clock).await;
        let q = create(&nodes[0], "shared", &[("VisibilityTimeout", "300")]).await;
        for batch in 0..30 {
            let reqs = (0..10)
                .map(|i| SendRequest {
                    body: format!("m{}", batch * 10 + i),
                    ..Default::default()
                })
                .collect();
            for r in nodes[batch % 2].send(&q, reqs).await.expect("send") {
                r.expect("sent");
            }
        }
        let mut claimers = Vec::new();
        for c in 0..8 {
            let engine = nodes[c % 2].clone();
            let q = q.clone();
            claimers.push(tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let batch = engine
                        .receive(&q, receive_up_to(10))
                        .await
                        .expect("receive");
                    if batch.is_empty() {
                        return got;
                    }
                    got.extend(batch.into_iter().map(|r| r.message.body));
                }
            }));
        }
        let mut all = Vec::new();
        for c in claimers {
            all.extend(c.await.expect("claimer"));
        }
        // Rows another claimer had locked at the end are still visible: pick them up.
        for r in nodes[0]
            .receive(&q, receive_up_to(10))
            .await
            .expect("receive")
        {
            all.push(r.message.body);
        }
        let distinct: HashSet<&String> = all.iter().collect();
        assert_eq!(distinct.len(), all.len(), "a message was handed out twice");
        assert_eq!(all.len(), 300, "every message is handed out");
        let c = nodes[1].counts(&q).await.expect("counts");
        assert_eq!((c.visible, c.in_flight), (0, 300));
    }

    /// Groups held by a claimer between its receive and the moment it lets them go.
    #[derive(Default)]
    struct Ledger {
        held: HashSet<String>,
        next: HashMap<String, usize>,
        delivered: usize,
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_fifo_claims_keep_group_order_and_locks() {
        const GROUPS: usize = 5;
        const PER_GROUP: usize = 12;
        let pg = Postgres::new();
        let clock = Arc::new(ManualClock::new(START_MS));
        let nodes = two_nodes(&pg, &clock).await;
        let q = create(
            &nodes[0],
            "shared.fifo",
            &[("FifoQueue", "true"), ("VisibilityTimeout", "300")],
        )
        .await;
        for i in 0..PER_GROUP {
            for g in 0..GROUPS {
                let r = SendRequest {
                    body: format!("g{g}:{i}"),
                    group_id: Some(format!("g{g}")),
                    dedup_id: Some(format!("g{g}-{i}")),
                    ..Default::default()
                };
                nodes[(g + i) % 2].send(&q, vec![r]).await.expect("send")[0]
                    .as_ref()
                    .expect("sent");
            }
        }
        let ledger = Arc::new(std::sync::Mutex::new(Ledger::default()));
        let mut claimers = Vec::new();
        for c in 0..6 {
            let engine = nodes[c % 2].clone();
            let (q, ledger) = (q.clone(), ledger.clone());
            claimers.push(tokio::spawn(async move {
                let deadline = std::time::Instant::now() + Duration::from_secs(60);
                loop {
                    assert!(std::time::Instant::now() < deadline, "claimers stalled");
                    let batch = engine.receive(&q, receive_up_to(3)).await.expect("receive");
                    if batch.is_empty() {
                        if ledger.lock().unwrap().delivered == GROUPS * PER_GROUP {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        continue;
                    }
                    let groups: HashSet<String> = batch
                        .iter()
                        .map(|r| r.message.group_id.clone().expect("group"))
                        .collect();
                    {
                        let mut l = ledger.lock().unwrap();
                        for g in &groups {
                            assert!(l.held.insert(g.clone()), "group {g} handed to two claimers");
                        }
                        for r in &batch {
                            let (g, i) = r.message.body.split_once(':').expect("body");
                            let i: usize = i.parse().expect("index");
                            let next = l.next.entry(g.to_string()).or_default();
                            assert_eq!(i, *next, "group {g} out of order");
                            *next += 1;
                        }
                        l.delivered += batch.len();
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    // Let go before deleting: until the delete commits the group stays locked,
                    // so another claimer getting it while it is still held is a real violation.
                    {
                        let mut l = ledger.lock().unwrap();
                        for g in &groups {
                            l.held.remove(g);
                        }
                    }
                    let receipts: Vec<String> =
                        batch.iter().map(|r| r.receipt_handle.clone()).collect();
                    engine.delete_messages(&q, &receipts).await.expect("delete");
                }
            }));
        }
        for c in claimers {
            c.await.expect("claimer");
        }
        let l = ledger.lock().unwrap();
        assert_eq!(l.delivered, GROUPS * PER_GROUP);
        assert!(l.next.values().all(|n| *n == PER_GROUP));
    }

    #[tokio::test]
    async fn a_message_sent_through_one_node_is_received_through_the_other() {
        let pg = Postgres::new();
        let clock = Arc::new(ManualClock::new(START_MS));
        let [a, b] = two_nodes(&pg, &clock).await;
        let q = create(&a, "across", &[]).await;
        let poll = {
            let (b, q) = (b.clone(), q.clone());
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let req = ReceiveRequest {
                    max_messages: Some(1),
                    wait_seconds: Some(5),
                    ..Default::default()
                };
                let got = b.receive(&q, req).await.expect("receive");
                (got.len(), started.elapsed())
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        a.send(
            &q,
            vec![SendRequest {
                body: "hello".into(),
                ..Default::default()
            }],
        )
        .await
        .expect("send");
        let (n, took) = poll.await.expect("poll");
        assert_eq!(n, 1);
        // No wake-up crosses nodes: the waiting node finds it at its next re-check.
        assert!(took < Duration::from_millis(2500), "took {took:?}");
    }
}

/// PostgreSQL only: the layout version recorded in a schema.
mod postgres_schema {
    use super::*;

    async fn raw_client(pg: &Postgres) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&pg.base, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        client
    }

    #[tokio::test]
    async fn a_version_1_schema_gains_topics_and_a_newer_one_is_refused() {
        let pg = Postgres::new();
        pg.store().await.close();
        let client = raw_client(&pg).await;
        let s = &pg.schema;
        // What a schema written before topics existed looks like.
        client
            .batch_execute(&format!(
                "DROP TABLE {s}.topics; UPDATE {s}.meta SET value = '1' WHERE key = 'schema_version'"
            ))
            .await
            .expect("downgrade");
        let store = pg.store().await;
        let engine = Engine::new(store.clone(), Arc::new(ManualClock::new(START_MS)), ACCOUNT);
        engine
            .create_topic(
                TopicKey::new("us-east-1", "upgraded"),
                BTreeMap::new(),
                BTreeMap::new(),
            )
            .await
            .expect("topics work after the upgrade");
        store.close();
        let version: String = client
            .query_one(
                &format!("SELECT value FROM {s}.meta WHERE key = 'schema_version'"),
                &[],
            )
            .await
            .expect("version")
            .get(0);
        assert_eq!(version, lull::store::postgres::SCHEMA_VERSION.to_string());

        client
            .batch_execute(&format!(
                "UPDATE {s}.meta SET value = '99' WHERE key = 'schema_version'"
            ))
            .await
            .expect("pretend a newer lull wrote it");
        let refused = PostgresStore::open(&pg.url()).await;
        assert!(refused.is_err(), "a newer layout is refused");
    }
}

/// PostgreSQL only: two nodes appending to and flushing the same conversations.
mod postgres_debounce_nodes {
    use super::*;
    use std::collections::HashSet;

    async fn two_nodes(pg: &Postgres, clock: &Arc<ManualClock>) -> [Engine; 2] {
        [
            Engine::new(pg.store().await, clock.clone(), ACCOUNT),
            Engine::new(pg.store().await, clock.clone(), ACCOUNT),
        ]
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_appends_keep_every_fragment_and_drop_each_redelivery_once() {
        let pg = Postgres::new();
        let clock = Arc::new(ManualClock::new(START_MS));
        let nodes = two_nodes(&pg, &clock).await;
        let k = conv("ana");
        let mut tasks = Vec::new();
        // 30 distinct messages, each delivered to both nodes at once (a platform retry racing
        // the first delivery).
        for i in 0..30 {
            for node in &nodes {
                let (node, k) = (node.clone(), k.clone());
                tasks.push(tokio::spawn(async move {
                    node.buffer_fragment(
                        lull::webhooks::Platform::WhatsApp,
                        &k,
                        fragment(&format!("m{i}"), &format!("t{i}")),
                        &fixed(),
                    )
                    .await
                    .expect("buffer")
                }));
            }
        }
        let mut accepted = 0;
        for t in tasks {
            if matches!(t.await.unwrap(), Buffered::Accepted { .. }) {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 30, "each message accepted exactly once");
        let b = nodes[1].conversation(&k).await.unwrap().unwrap();
        assert_eq!(b.meta.fragments, 30);
        let ids: HashSet<String> = b.fragments.iter().map(|f| f.id.clone()).collect();
        assert_eq!(ids.len(), 30);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_flushers_never_claim_a_conversation_twice() {
        let pg = Postgres::new();
        let clock = Arc::new(ManualClock::new(START_MS));
        let nodes = two_nodes(&pg, &clock).await;
        for i in 0..60 {
            nodes[i % 2]
                .buffer_fragment(
                    lull::webhooks::Platform::Telegram,
                    &conv(&format!("c{i}")),
                    fragment(&format!("m{i}"), "x"),
                    &fixed(),
                )
                .await
                .expect("buffer");
        }
        clock.advance_secs(11);
        let mut claimers = Vec::new();
        for c in 0..6 {
            let node = nodes[c % 2].clone();
            claimers.push(tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let batch = node.claim_due_conversations(4).await.expect("claim");
                    if batch.is_empty() {
                        return got;
                    }
                    for b in batch {
                        let ids = b.fragments.iter().map(|f| f.id.clone()).collect();
                        node.complete_flush(&b.key, ids, &fixed())
                            .await
                            .expect("complete");
                        got.push(b.key.conversation);
                    }
                }
            }));
        }
        let mut all = Vec::new();
        for c in claimers {
            all.extend(c.await.unwrap());
        }
        let distinct: HashSet<&String> = all.iter().collect();
        assert_eq!(
            distinct.len(),
            all.len(),
            "a conversation was flushed twice"
        );
        assert_eq!(all.len(), 60);
        assert!(nodes[0].conversations(APP).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_schema_from_before_the_debouncer_gains_its_tables() {
        let pg = Postgres::new();
        pg.store().await.close();
        let (client, conn) = tokio_postgres::connect(&pg.base, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        let s = &pg.schema;
        client
            .batch_execute(&format!(
                "DROP TABLE {s}.debounce_buffers, {s}.debounce_fragments, {s}.debounce_seen,
                            {s}.debounce_cadence;
                 UPDATE {s}.meta SET value = '3' WHERE key = 'schema_version'"
            ))
            .await
            .expect("downgrade");
        let store = pg.store().await;
        let engine = Engine::new(store.clone(), Arc::new(ManualClock::new(START_MS)), ACCOUNT);
        engine
            .buffer_fragment(
                lull::webhooks::Platform::Generic,
                &conv("ana"),
                fragment("1", "hi"),
                &fixed(),
            )
            .await
            .expect("buffers work after the upgrade");
        store.close();
        let version: String = client
            .query_one(
                &format!("SELECT value FROM {s}.meta WHERE key = 'schema_version'"),
                &[],
            )
            .await
            .expect("version")
            .get(0);
        assert_eq!(version, lull::store::postgres::SCHEMA_VERSION.to_string());
    }
}
