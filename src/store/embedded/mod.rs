//! The embedded store: the whole queue state lives in memory (one `QueueState` per queue) and
//! every change is written to an embedded database (`kv`) in group commits. At start the memory
//! is rebuilt by one scan. A send or delete is acknowledged only after its commit is durable;
//! receive bookkeeping (receive counts) rides along in the next group without being waited for.
//!
//! What a restart (including `kill -9`) may redeliver: every message that was in flight becomes
//! visible again (at-least-once, as SQS); a receive count may lag by the receives of the last few
//! milliseconds before the crash.

mod buffers;
pub mod kv;
mod queue_state;
mod signing_key;
mod topics;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use parking_lot::Mutex;

use self::kv::{Kv, KvError, Op, Table};
use self::queue_state::{Change, DedupEntry, QueueState};
use self::topics::Topics;
use crate::clock::Millis;
use crate::engine::message::{NewMessage, ReceiptHandle, Received, Sent, StoredMessage};
use crate::engine::queue::{QueueKey, QueueRecord};
use crate::engine::topics::{FifoPublication, TopicKey, TopicRecord};
use crate::store::{ClaimRequest, Counts, MoveDestination, ReceiptOutcome, Store, StoreError};

impl From<KvError> for StoreError {
    fn from(e: KvError) -> Self {
        StoreError::Io(e.to_string())
    }
}

pub struct EmbeddedStore {
    state: Mutex<State>,
    /// Debounce buffers, under a lock of their own.
    buffers: buffers::Buffers,
    kv: Kv,
    /// The data directory (the signing key is a file of its own there).
    dir: PathBuf,
}

struct State {
    queues: HashMap<QueueKey, QueueState>,
    topics: Topics,
    last_seq: u64,
}

/// Strictly increasing, and roughly the send time in microseconds so that numbers keep growing
/// across restarts even when every message has been deleted.
fn next_seq(last: &mut u64, now: Millis) -> u64 {
    *last = (*last + 1).max(now.saturating_mul(1000));
    *last
}

fn queue_prefix(key: &QueueKey) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.region.len() + key.name.len() + 2);
    k.extend_from_slice(key.region.as_bytes());
    k.push(0);
    k.extend_from_slice(key.name.as_bytes());
    k.push(0);
    k
}

fn queue_row_key(key: &QueueKey) -> Vec<u8> {
    let mut k = queue_prefix(key);
    k.pop();
    k
}

fn message_key(key: &QueueKey, seq: u64) -> Vec<u8> {
    let mut k = queue_prefix(key);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn dedup_key(key: &QueueKey, dedup: &str) -> Vec<u8> {
    let mut k = queue_prefix(key);
    k.extend_from_slice(dedup.as_bytes());
    k
}

/// Splits `region \0 name \0 rest`.
fn split_key(raw: &[u8]) -> Option<(QueueKey, &[u8])> {
    let a = raw.iter().position(|b| *b == 0)?;
    let b = a + 1 + raw[a + 1..].iter().position(|b| *b == 0)?;
    let region = std::str::from_utf8(&raw[..a]).ok()?;
    let name = std::str::from_utf8(&raw[a + 1..b]).ok()?;
    Some((QueueKey::new(region, name), &raw[b + 1..]))
}

fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, KvError> {
    serde_json::from_slice(raw).map_err(|e| KvError::Corrupt(e.to_string()))
}

/// Messages are the bulk of what is written and read back at start: a compact binary record
/// (postcard) behind a one-byte format version.
const MESSAGE_FORMAT: u8 = 1;

fn encode_message(m: &StoredMessage) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![MESSAGE_FORMAT];
    postcard::to_io(m, &mut out).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(out)
}

fn decode_message(raw: &[u8]) -> Result<StoredMessage, KvError> {
    match raw.split_first() {
        Some((&MESSAGE_FORMAT, rest)) => {
            postcard::from_bytes(rest).map_err(|e| KvError::Corrupt(e.to_string()))
        }
        _ => Err(KvError::Corrupt("unknown message record format".into())),
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredDedup {
    expires_ms: Millis,
    id: String,
    seq: u64,
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir` and rebuilds the in-memory state from it.
    pub fn open(dir: &Path, now: Millis) -> Result<Self, StoreError> {
        let kv = Kv::open(dir)?;
        let mut queues: HashMap<QueueKey, QueueState> = HashMap::new();
        kv.scan(Table::Queues, &mut |_, value| {
            let record: QueueRecord = decode(value)?;
            queues.insert(record.key.clone(), QueueState::new(record));
            Ok(())
        })?;
        let mut last_seq = 0;
        let mut orphans = Vec::new();
        kv.scan(Table::Messages, &mut |key, value| {
            let msg = decode_message(value)?;
            last_seq = last_seq.max(msg.seq);
            match split_key(key).and_then(|(q, _)| queues.get_mut(&q)) {
                Some(q) => q.insert(msg, now),
                None => orphans.push(Op::Delete {
                    table: Table::Messages,
                    key: key.to_vec(),
                }),
            }
            Ok(())
        })?;
        kv.scan(Table::Dedup, &mut |key, value| {
            let d: StoredDedup = decode(value)?;
            if let Some((q, rest)) = split_key(key) {
                if let (Some(q), Ok(k)) = (queues.get_mut(&q), std::str::from_utf8(rest)) {
                    q.remember_dedup(
                        k.to_string(),
                        DedupEntry {
                            expires_ms: d.expires_ms,
                            id: d.id,
                            seq: d.seq,
                        },
                    );
                }
            }
            Ok(())
        })?;
        let topics = Topics::load(&kv)?;
        let buffers = buffers::Buffers::load(&kv, now)?;
        if !orphans.is_empty() {
            kv.commit_later(orphans);
        }
        Ok(Self {
            state: Mutex::new(State {
                queues,
                topics,
                last_seq,
            }),
            buffers,
            kv,
            dir: dir.to_path_buf(),
        })
    }

    /// Stops the writer after flushing what is queued.
    pub fn close(&self) {
        self.kv.close();
    }

    fn persist(
        key: &QueueKey,
        q: &QueueState,
        changes: Vec<Change>,
        ops: &mut Vec<Op>,
    ) -> Result<(), StoreError> {
        for c in changes {
            match c {
                Change::Put(seq) => {
                    if let Some(m) = q.message(seq) {
                        ops.push(Op::Put {
                            table: Table::Messages,
                            key: message_key(key, seq),
                            value: encode_message(m)?,
                        });
                    }
                }
                Change::Delete(seq) => ops.push(Op::Delete {
                    table: Table::Messages,
                    key: message_key(key, seq),
                }),
                Change::DedupPut(k) => {
                    if let Some(e) = q.dedup_entry(&k) {
                        ops.push(Op::Put {
                            table: Table::Dedup,
                            key: dedup_key(key, &k),
                            value: encode(&StoredDedup {
                                expires_ms: e.expires_ms,
                                id: e.id.clone(),
                                seq: e.seq,
                            })?,
                        });
                    }
                }
                Change::DedupDelete(k) => ops.push(Op::Delete {
                    table: Table::Dedup,
                    key: dedup_key(key, &k),
                }),
            }
        }
        Ok(())
    }

    /// Runs `f` on one queue after bringing it up to date, and queues its changes for writing.
    /// Returns `None` when the queue does not exist. The ops are handed to the writer while the
    /// lock is held, so the journal sees changes in the order memory did.
    fn with_queue<T>(
        &self,
        key: &QueueKey,
        now: Millis,
        f: impl FnOnce(&mut QueueState, &mut Vec<Change>) -> T,
    ) -> Result<Option<(T, Vec<Op>)>, StoreError> {
        let mut state = self.state.lock();
        let Some(q) = state.queues.get_mut(key) else {
            return Ok(None);
        };
        let mut changes = Vec::new();
        q.tick(now, &mut changes);
        let out = f(q, &mut changes);
        let mut ops = Vec::new();
        Self::persist(key, q, changes, &mut ops)?;
        Ok(Some((out, ops)))
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn create_queue(&self, record: QueueRecord) -> Result<(QueueRecord, bool), StoreError> {
        let wait = {
            let mut state = self.state.lock();
            if let Some(q) = state.queues.get(&record.key) {
                return Ok((q.record.clone(), false));
            }
            let op = Op::Put {
                table: Table::Queues,
                key: queue_row_key(&record.key),
                value: encode(&record)?,
            };
            state
                .queues
                .insert(record.key.clone(), QueueState::new(record.clone()));
            self.kv.submit(vec![op])
        };
        wait.await?;
        Ok((record, true))
    }

    async fn update_queue(&self, record: QueueRecord) -> Result<bool, StoreError> {
        let wait = {
            let mut state = self.state.lock();
            let Some(q) = state.queues.get_mut(&record.key) else {
                return Ok(false);
            };
            let op = Op::Put {
                table: Table::Queues,
                key: queue_row_key(&record.key),
                value: encode(&record)?,
            };
            q.record = record;
            self.kv.submit(vec![op])
        };
        wait.await?;
        Ok(true)
    }

    async fn get_queue(&self, key: &QueueKey) -> Result<Option<QueueRecord>, StoreError> {
        Ok(self.state.lock().queues.get(key).map(|q| q.record.clone()))
    }

    async fn list_queues(
        &self,
        region: &str,
        prefix: &str,
    ) -> Result<Vec<QueueRecord>, StoreError> {
        let state = self.state.lock();
        let mut out: Vec<QueueRecord> = state
            .queues
            .iter()
            .filter(|(k, _)| k.region == region && k.name.starts_with(prefix))
            .map(|(_, q)| q.record.clone())
            .collect();
        out.sort_by(|a, b| a.key.name.cmp(&b.key.name));
        Ok(out)
    }

    async fn delete_queue(&self, key: &QueueKey) -> Result<bool, StoreError> {
        let wait = {
            let mut state = self.state.lock();
            let Some(q) = state.queues.remove(key) else {
                return Ok(false);
            };
            let mut ops: Vec<Op> = q
                .message_seqs()
                .map(|seq| Op::Delete {
                    table: Table::Messages,
                    key: message_key(key, seq),
                })
                .collect();
            ops.extend(q.dedup_keys().map(|k| Op::Delete {
                table: Table::Dedup,
                key: dedup_key(key, k),
            }));
            ops.push(Op::Delete {
                table: Table::Queues,
                key: queue_row_key(key),
            });
            self.kv.submit(ops)
        };
        wait.await?;
        Ok(true)
    }

    async fn send(
        &self,
        key: &QueueKey,
        messages: Vec<NewMessage>,
        now: Millis,
    ) -> Result<Option<Vec<Sent>>, StoreError> {
        let wait = {
            let mut state = self.state.lock();
            let State {
                queues, last_seq, ..
            } = &mut *state;
            let Some(q) = queues.get_mut(key) else {
                return Ok(None);
            };
            let mut changes = Vec::new();
            q.tick(now, &mut changes);
            let mut sent = Vec::with_capacity(messages.len());
            for m in messages {
                let dedup = m
                    .dedup_id
                    .as_deref()
                    .map(|d| q.dedup_key(m.group_id.as_deref(), d));
                if let Some(dup) = dedup.as_deref().and_then(|k| q.find_duplicate(k, now)) {
                    sent.push(Sent {
                        id: dup.id.clone(),
                        seq: dup.seq,
                        duplicate: true,
                    });
                    continue;
                }
                let seq = next_seq(last_seq, now);
                let msg = StoredMessage {
                    seq,
                    id: m.id,
                    body: m.body,
                    attributes: m.attributes,
                    system_attributes: m.system_attributes,
                    md5_body: m.md5_body,
                    md5_attributes: m.md5_attributes,
                    md5_system_attributes: m.md5_system_attributes,
                    sent_ms: now,
                    sender_id: m.sender_id,
                    group_id: m.group_id,
                    dedup_id: m.dedup_id,
                    delay_until_ms: now + m.delay_ms,
                    receive_count: 0,
                    first_receive_ms: None,
                    dead_letter_source: None,
                };
                sent.push(Sent {
                    id: msg.id.clone(),
                    seq,
                    duplicate: false,
                });
                if let Some(k) = dedup {
                    q.remember_dedup(
                        k.clone(),
                        QueueState::new_dedup_entry(msg.id.clone(), seq, now),
                    );
                    changes.push(Change::DedupPut(k));
                }
                q.insert(msg, now);
                changes.push(Change::Put(seq));
            }
            let mut ops = Vec::new();
            Self::persist(key, q, changes, &mut ops)?;
            (sent, self.kv.submit(ops))
        };
        let (sent, wait) = wait;
        wait.await?;
        Ok(Some(sent))
    }

    async fn claim(
        &self,
        key: &QueueKey,
        request: ClaimRequest,
        now: Millis,
    ) -> Result<Option<Vec<Received>>, StoreError> {
        let mut state = self.state.lock();
        let State { queues, .. } = &mut *state;
        {
            let Some(q) = queues.get_mut(key) else {
                return Ok(None);
            };
            let mut changes = Vec::new();
            q.tick(now, &mut changes);
            let mut out: Vec<Received> = Vec::new();
            let mut dead: Vec<StoredMessage> = Vec::new();
            let dlq_exists = request
                .dead_letter
                .as_ref()
                .is_some_and(|d| d.queue != *key);
            let mut skip = BTreeSet::new();
            while out.len() < request.max {
                let Some(seq) = q.next_deliverable(&skip) else {
                    break;
                };
                let mut batch = vec![seq];
                if q.record.is_fifo() {
                    batch.extend(q.group_run_after(seq));
                }
                let mut took_any = false;
                for s in batch {
                    if out.len() >= request.max {
                        break;
                    }
                    if let Some(d) = request.dead_letter.as_ref().filter(|_| dlq_exists) {
                        if q.receive_count(s) >= d.max_receive_count {
                            if let Some(mut m) = q.remove(s) {
                                changes.push(Change::Delete(s));
                                m.dead_letter_source = Some(d.source_arn.clone());
                                dead.push(m);
                            }
                            continue;
                        }
                    }
                    if let Some(r) = q.mark_received(s, request.visibility_ms, rand::random(), now)
                    {
                        changes.push(Change::Put(s));
                        out.push(r);
                        took_any = true;
                    }
                }
                if !took_any && q.record.is_fifo() {
                    // Everything in that run was dead-lettered; the group may have more.
                    if let Some(g) = q.message(seq).and_then(|m| m.group_id.clone()) {
                        skip.insert(g);
                    }
                }
            }
            let mut ops = Vec::new();
            Self::persist(key, q, changes, &mut ops)?;
            if let Some(d) = request.dead_letter.as_ref() {
                if let Some(dlq) = queues.get_mut(&d.queue).filter(|_| !dead.is_empty()) {
                    for mut m in dead {
                        m.receive_count = 0;
                        m.first_receive_ms = None;
                        m.delay_until_ms = now;
                        ops.push(Op::Put {
                            table: Table::Messages,
                            key: message_key(&d.queue, m.seq),
                            value: encode_message(&m)?,
                        });
                        dlq.insert(m, now);
                    }
                }
            }
            if !ops.is_empty() {
                self.kv.commit_later(ops);
            }
            Ok(Some(out))
        }
    }

    async fn delete_messages(
        &self,
        key: &QueueKey,
        receipts: &[ReceiptHandle],
        now: Millis,
    ) -> Result<Option<Vec<ReceiptOutcome>>, StoreError> {
        let wait = {
            let Some((outcomes, mut ops)) = self.with_queue(key, now, |q, _| {
                receipts
                    .iter()
                    .map(|r| q.delete_by_receipt(*r))
                    .collect::<Vec<_>>()
            })?
            else {
                return Ok(None);
            };
            for (r, o) in receipts.iter().zip(&outcomes) {
                if *o == ReceiptOutcome::Done {
                    ops.push(Op::Delete {
                        table: Table::Messages,
                        key: message_key(key, r.seq),
                    });
                }
            }
            (outcomes, self.kv.submit(ops))
        };
        let (outcomes, wait) = wait;
        wait.await?;
        Ok(Some(outcomes))
    }

    async fn change_visibility(
        &self,
        key: &QueueKey,
        receipt: ReceiptHandle,
        visibility_ms: u64,
        now: Millis,
    ) -> Result<Option<ReceiptOutcome>, StoreError> {
        let Some((outcome, ops)) = self.with_queue(key, now, |q, _| {
            q.change_visibility(receipt, visibility_ms, now)
        })?
        else {
            return Ok(None);
        };
        if !ops.is_empty() {
            self.kv.commit_later(ops);
        }
        Ok(Some(outcome))
    }

    async fn purge(&self, key: &QueueKey) -> Result<bool, StoreError> {
        let wait = {
            let mut state = self.state.lock();
            let Some(q) = state.queues.get_mut(key) else {
                return Ok(false);
            };
            let ops = q
                .clear()
                .into_iter()
                .map(|seq| Op::Delete {
                    table: Table::Messages,
                    key: message_key(key, seq),
                })
                .collect();
            self.kv.submit(ops)
        };
        wait.await?;
        Ok(true)
    }

    async fn counts(&self, key: &QueueKey, now: Millis) -> Result<Option<Counts>, StoreError> {
        let Some((counts, ops)) = self.with_queue(key, now, |q, _| q.counts())? else {
            return Ok(None);
        };
        if !ops.is_empty() {
            self.kv.commit_later(ops);
        }
        Ok(Some(counts))
    }

    async fn next_visible_at(&self, key: &QueueKey) -> Result<Option<Millis>, StoreError> {
        Ok(self
            .state
            .lock()
            .queues
            .get(key)
            .and_then(|q| q.next_visible_at()))
    }

    async fn move_messages(
        &self,
        from: &QueueKey,
        to: &MoveDestination,
        max: usize,
        now: Millis,
    ) -> Result<usize, StoreError> {
        let wait = {
            let mut state = self.state.lock();
            let State { queues, .. } = &mut *state;
            let mut changes = Vec::new();
            let mut moving = Vec::new();
            let Some(src) = queues.get_mut(from) else {
                return Ok(0);
            };
            src.tick(now, &mut changes);
            while moving.len() < max {
                let Some(seq) = src.oldest_visible() else {
                    break;
                };
                let Some(m) = src.remove(seq) else { break };
                changes.push(Change::Delete(seq));
                moving.push(m);
            }
            let mut ops = Vec::new();
            Self::persist(from, src, changes, &mut ops)?;
            let mut moved = 0;
            for mut m in moving {
                let dest = match to {
                    MoveDestination::Queue(k) => Some(k.clone()),
                    MoveDestination::Origin => {
                        m.dead_letter_source.as_deref().and_then(QueueKey::from_arn)
                    }
                };
                // A message with nowhere to go stays where it was.
                let dest = dest
                    .filter(|d| queues.contains_key(d))
                    .unwrap_or_else(|| from.clone());
                if dest != *from {
                    moved += 1;
                    m.dead_letter_source = None;
                    m.receive_count = 0;
                    m.first_receive_ms = None;
                }
                m.delay_until_ms = now;
                ops.push(Op::Put {
                    table: Table::Messages,
                    key: message_key(&dest, m.seq),
                    value: encode_message(&m)?,
                });
                if let Some(q) = queues.get_mut(&dest) {
                    q.insert(m, now);
                }
            }
            (moved, self.kv.submit(ops))
        };
        let (moved, wait) = wait;
        wait.await?;
        Ok(moved)
    }

    async fn create_topic(&self, record: TopicRecord) -> Result<(TopicRecord, bool), StoreError> {
        let wait = {
            let mut state = self.state.lock();
            match state.topics.create(record.clone())? {
                Ok(op) => self.kv.submit(vec![op]),
                Err(existing) => return Ok((existing, false)),
            }
        };
        wait.await?;
        Ok((record, true))
    }

    async fn update_topic(&self, record: TopicRecord) -> Result<bool, StoreError> {
        let wait = {
            let mut state = self.state.lock();
            match state.topics.update(record)? {
                Some(op) => self.kv.submit(vec![op]),
                None => return Ok(false),
            }
        };
        wait.await?;
        Ok(true)
    }

    async fn get_topic(&self, key: &TopicKey) -> Result<Option<TopicRecord>, StoreError> {
        Ok(self.state.lock().topics.get(key))
    }

    async fn list_topics(&self, region: &str) -> Result<Vec<TopicRecord>, StoreError> {
        Ok(self.state.lock().topics.list(region))
    }

    async fn delete_topic(&self, key: &TopicKey) -> Result<bool, StoreError> {
        let wait = {
            let mut state = self.state.lock();
            match state.topics.delete(key) {
                Some(ops) => self.kv.submit(ops),
                None => return Ok(false),
            }
        };
        wait.await?;
        Ok(true)
    }

    async fn topic_dedup(
        &self,
        key: &TopicKey,
        dedup_id: &str,
        candidate: FifoPublication,
        now: Millis,
    ) -> Result<Option<FifoPublication>, StoreError> {
        let wait = {
            let mut state = self.state.lock();
            match state.topics.remember_dedup(key, dedup_id, candidate, now)? {
                Ok(ops) => self.kv.submit(ops),
                Err(first) => return Ok(Some(first)),
            }
        };
        wait.await?;
        Ok(None)
    }

    async fn signing_key(&self) -> Result<Option<String>, StoreError> {
        signing_key::read(&self.dir)
    }

    async fn init_signing_key(&self, pem: &str) -> Result<String, StoreError> {
        let dir = self.dir.clone();
        let pem = pem.to_string();
        tokio::task::spawn_blocking(move || signing_key::init(&dir, &pem))
            .await
            .map_err(|e| StoreError::Io(e.to_string()))?
    }

    async fn change_buffer(
        &self,
        key: &crate::engine::debounce::ConversationKey,
        change: crate::engine::debounce::BufferChange,
        plan: &crate::engine::debounce::Plan<'_>,
        now: Millis,
    ) -> Result<crate::engine::debounce::BufferOutcome, StoreError> {
        let (outcome, wait) = self.buffers.change(&self.kv, key, change, plan, now)?;
        if let Some(wait) = wait {
            wait.await?;
            if matches!(outcome, crate::engine::debounce::BufferOutcome::Changed(_)) {
                self.buffers.synced(key);
            }
        }
        Ok(outcome)
    }

    async fn get_buffer(
        &self,
        key: &crate::engine::debounce::ConversationKey,
    ) -> Result<Option<crate::engine::debounce::BufferSnapshot>, StoreError> {
        self.buffers.get(&self.kv, key)
    }

    async fn list_buffers(
        &self,
        app: &str,
    ) -> Result<Vec<crate::engine::debounce::BufferSnapshot>, StoreError> {
        self.buffers.list(&self.kv, app)
    }

    async fn claim_due_buffers(
        &self,
        now: Millis,
        lease_ms: u64,
        max: usize,
    ) -> Result<Vec<crate::engine::debounce::BufferSnapshot>, StoreError> {
        let claimed = self.buffers.claim_due(now, lease_ms, max);
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        // The writer applies requests in order: once an empty one is done, everything memory
        // held for the claimed buffers is readable.
        if buffers::needs_sync(&claimed) {
            self.kv.submit(Vec::new()).await?;
        }
        let (mut out, lagging) = self.buffers.read_claimed(&self.kv, claimed)?;
        if !lagging.is_empty() {
            self.kv.submit(Vec::new()).await?;
            out.extend(self.buffers.read_claimed(&self.kv, lagging)?.0);
        }
        out.retain(|b| !b.fragments.is_empty());
        out.sort_by_key(|b| b.meta.due_at);
        Ok(out)
    }

    async fn next_buffer_due(&self) -> Result<Option<Millis>, StoreError> {
        Ok(self.buffers.next_due())
    }

    async fn sweep_buffers(&self, now: Millis) -> Result<(), StoreError> {
        self.buffers.sweep(&self.kv, now);
        Ok(())
    }
}
