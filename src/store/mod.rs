//! The storage seam. A store makes the engine's queue state durable and answers the engine's
//! state-changing questions atomically: "claim up to N deliverable messages", "send unless this
//! deduplication id was seen", "move this message to its dead-letter queue". Claims are the store's
//! business because on a shared database (several lull nodes) they must be single statements, not
//! read-then-write races.
//!
//! Validation, digests, long polling and protocol shapes stay in the engine; every backend runs the
//! same conformance suite (`tests/engine_conformance.rs`).

pub mod embedded;
pub mod postgres;

use async_trait::async_trait;

use crate::clock::Millis;
use crate::engine::debounce::{BufferChange, BufferOutcome, BufferSnapshot, ConversationKey, Plan};
use crate::engine::message::{NewMessage, ReceiptHandle, Received, Sent};
use crate::engine::queue::{QueueKey, QueueRecord};
use crate::engine::topics::{FifoPublication, TopicKey, TopicRecord};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage I/O failed: {0}")]
    Io(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the store is shut down")]
    Closed,
}

/// Where a receive sends messages that have been received too often.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub queue: QueueKey,
    pub max_receive_count: u32,
    /// ARN of the source queue, remembered on the message for a later redrive.
    pub source_arn: String,
}

#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub max: usize,
    pub visibility_ms: u64,
    pub dead_letter: Option<DeadLetter>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

/// Result of trying to act on a receipt handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptOutcome {
    Done,
    /// The message is gone already (deleted, expired, moved): nothing to do.
    Gone,
    /// The message was received again since this handle was issued, or is not in flight.
    Stale,
}

/// Where `move_messages` sends each message.
#[derive(Debug, Clone)]
pub enum MoveDestination {
    Queue(QueueKey),
    /// Back to the queue each message was dead-lettered from.
    Origin,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates the queue unless one with that key exists; returns the stored record either way and
    /// whether it was created now.
    async fn create_queue(&self, record: QueueRecord) -> Result<(QueueRecord, bool), StoreError>;
    /// Replaces a queue's attributes and tags. False when the queue does not exist.
    async fn update_queue(&self, record: QueueRecord) -> Result<bool, StoreError>;
    async fn get_queue(&self, key: &QueueKey) -> Result<Option<QueueRecord>, StoreError>;
    /// All queues of a region whose name starts with `prefix`, sorted by name.
    async fn list_queues(&self, region: &str, prefix: &str)
        -> Result<Vec<QueueRecord>, StoreError>;
    /// Deletes a queue with all its messages. False when it did not exist.
    async fn delete_queue(&self, key: &QueueKey) -> Result<bool, StoreError>;

    /// Stores messages durably (all or none), applying FIFO deduplication. `None` when the queue
    /// does not exist.
    async fn send(
        &self,
        key: &QueueKey,
        messages: Vec<NewMessage>,
        now: Millis,
    ) -> Result<Option<Vec<Sent>>, StoreError>;
    /// Claims up to `max` deliverable messages, making them invisible for `visibility_ms`.
    /// FIFO queues: oldest groups first, messages of a group in order, never from a group that has
    /// a message in flight. Messages already received `max_receive_count` times go to the
    /// dead-letter queue instead. `None` when the queue does not exist.
    async fn claim(
        &self,
        key: &QueueKey,
        request: ClaimRequest,
        now: Millis,
    ) -> Result<Option<Vec<Received>>, StoreError>;
    /// Deletes the message a receipt handle names, if the handle is the current one.
    async fn delete_message(
        &self,
        key: &QueueKey,
        receipt: ReceiptHandle,
        now: Millis,
    ) -> Result<Option<ReceiptOutcome>, StoreError> {
        Ok(self
            .delete_messages(key, &[receipt], now)
            .await?
            .and_then(|mut v| v.pop()))
    }
    /// Deletes several messages by receipt handle in one durable write.
    async fn delete_messages(
        &self,
        key: &QueueKey,
        receipts: &[ReceiptHandle],
        now: Millis,
    ) -> Result<Option<Vec<ReceiptOutcome>>, StoreError>;
    async fn change_visibility(
        &self,
        key: &QueueKey,
        receipt: ReceiptHandle,
        visibility_ms: u64,
        now: Millis,
    ) -> Result<Option<ReceiptOutcome>, StoreError>;
    /// Deletes every message of the queue. False when it does not exist.
    async fn purge(&self, key: &QueueKey) -> Result<bool, StoreError>;
    async fn counts(&self, key: &QueueKey, now: Millis) -> Result<Option<Counts>, StoreError>;
    /// The earliest instant a currently invisible message of this queue becomes visible.
    async fn next_visible_at(&self, key: &QueueKey) -> Result<Option<Millis>, StoreError>;
    /// Moves up to `max` visible messages from `from` to their destination, oldest first, and
    /// returns how many moved.
    async fn move_messages(
        &self,
        from: &QueueKey,
        to: &MoveDestination,
        max: usize,
        now: Millis,
    ) -> Result<usize, StoreError>;

    /// Creates the topic unless one with that key exists; returns the stored record either way and
    /// whether it was created now. Subscriptions live inside the topic's record.
    async fn create_topic(&self, record: TopicRecord) -> Result<(TopicRecord, bool), StoreError>;
    /// Replaces a topic's record (attributes, tags, subscriptions). False when it does not exist.
    async fn update_topic(&self, record: TopicRecord) -> Result<bool, StoreError>;
    async fn get_topic(&self, key: &TopicKey) -> Result<Option<TopicRecord>, StoreError>;
    /// All topics of a region, sorted by name.
    async fn list_topics(&self, region: &str) -> Result<Vec<TopicRecord>, StoreError>;
    /// Deletes a topic with its subscriptions. False when it did not exist.
    async fn delete_topic(&self, key: &TopicKey) -> Result<bool, StoreError>;

    /// Debounce buffers (`engine::debounce::record`): applies `change` to one conversation's
    /// buffer and then, unless the buffer is empty, runs `plan` on it, all under that
    /// conversation's lock; durable before it returns.
    async fn change_buffer(
        &self,
        key: &ConversationKey,
        change: BufferChange,
        plan: &Plan<'_>,
        now: Millis,
    ) -> Result<BufferOutcome, StoreError>;
    async fn get_buffer(&self, key: &ConversationKey)
        -> Result<Option<BufferSnapshot>, StoreError>;
    /// Every buffer of an app.
    async fn list_buffers(&self, app: &str) -> Result<Vec<BufferSnapshot>, StoreError>;
    /// Claims up to `max` buffers due at `now` and not claimed by someone else, earliest
    /// first, for `lease_ms`.
    async fn claim_due_buffers(
        &self,
        now: Millis,
        lease_ms: u64,
        max: usize,
    ) -> Result<Vec<BufferSnapshot>, StoreError>;
    /// The earliest instant a buffer becomes claimable (its due time, or its claim's end).
    async fn next_buffer_due(&self) -> Result<Option<Millis>, StoreError>;
    /// Forgets expired message ids and idle cadences.
    async fn sweep_buffers(&self, now: Millis) -> Result<(), StoreError>;
    /// FIFO topic deduplication, atomic across nodes: the unexpired publication first seen with
    /// `dedup_id` on this topic, or `None` once `candidate` is durably remembered in its place.
    async fn topic_dedup(
        &self,
        key: &TopicKey,
        dedup_id: &str,
        candidate: FifoPublication,
        now: Millis,
    ) -> Result<Option<FifoPublication>, StoreError>;
    /// The key (and certificate) topic messages are signed with, as PEM, once one is stored.
    async fn signing_key(&self) -> Result<Option<String>, StoreError>;
    /// Durably stores `pem` as the signing key unless one is stored already (by another node,
    /// say); answers the key in force.
    async fn init_signing_key(&self, pem: &str) -> Result<String, StoreError>;
}
