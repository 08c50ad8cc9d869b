//! The PostgreSQL store: every lull node pointed at the same database (and schema) serves the
//! same queues. Nothing is cached between calls — the database is the only state — so any node
//! may answer any request. Claims are single statements (`claim.rs`); sends, claims with
//! dead-lettering and moves are single transactions.
//!
//! Time is the engine's: every statement is given `now` instead of reading the database clock,
//! so a driven clock works and nodes agree as far as their clocks do.
//!
//! Unlike the embedded store, in-flight messages stay in flight across a restart (their
//! visibility is a column), as in SQS.

mod buffers;
mod claim;
mod error;
mod rows;
mod schema;
mod topics;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

pub use self::error::PgError;
pub use self::schema::{is_postgres_url, redacted, DEFAULT_SCHEMA, SCHEMA_VERSION};

use self::claim::ClaimSql;
use self::rows::{delivery_order, encode_message, received};
use self::schema::in_schema;
use crate::clock::Millis;
use crate::engine::message::{NewMessage, ReceiptHandle, Received, Sent, StoredMessage};
use crate::engine::queue::{QueueKey, QueueRecord, DEDUP_WINDOW_MS};
use crate::engine::topics::{FifoPublication, TopicKey, TopicRecord};
use crate::store::{ClaimRequest, Counts, MoveDestination, ReceiptOutcome, Store, StoreError};

/// Statement texts for one schema, built once.
#[derive(Debug)]
struct Sql {
    claim: ClaimSql,
    find_queue: String,
    queue_record: String,
    insert_queue: String,
    update_queue: String,
    list_queues: String,
    delete_queue: String,
    delete_queue_messages: String,
    delete_queue_dedup: String,
    sweep_retention: String,
    sweep_dedup: String,
    next_seqs: String,
    insert_messages: String,
    find_dedup: String,
    insert_dedup: String,
    delete_by_receipt: String,
    change_visibility: String,
    existing: String,
    counts: String,
    next_visible_at: String,
    movable: String,
    move_to: String,
    topics: topics::TopicSql,
    buffers: buffers::BufferSql,
}

impl Sql {
    fn new(s: &str) -> Self {
        let q = |t: &str| in_schema(s, t);
        Self {
            claim: ClaimSql::new(s),
            topics: topics::TopicSql::new(s),
            buffers: buffers::BufferSql::new(s),
            find_queue: q("SELECT id, record::text FROM {s}.queues WHERE region = $1 AND name = $2"),
            queue_record: q("SELECT record::text FROM {s}.queues WHERE region = $1 AND name = $2"),
            insert_queue: q("INSERT INTO {s}.queues (region, name, record) VALUES ($1, $2, $3::text::jsonb)
                             ON CONFLICT (region, name) DO NOTHING RETURNING id"),
            update_queue: q("UPDATE {s}.queues SET record = $3::text::jsonb WHERE region = $1 AND name = $2"),
            // Byte order, as the embedded store sorts names.
            list_queues: q("SELECT record::text FROM {s}.queues
                            WHERE region = $1 AND substr(name, 1, length($2)) = $2
                            ORDER BY name COLLATE \"C\""),
            delete_queue: q("DELETE FROM {s}.queues WHERE region = $1 AND name = $2 RETURNING id"),
            delete_queue_messages: q("DELETE FROM {s}.messages WHERE queue_id = $1"),
            delete_queue_dedup: q("DELETE FROM {s}.dedup WHERE queue_id = $1"),
            sweep_retention: q("DELETE FROM {s}.messages WHERE queue_id = $1 AND sent_ms <= $2"),
            sweep_dedup: q("DELETE FROM {s}.dedup WHERE queue_id = $1 AND expires <= $2"),
            next_seqs: q("SELECT nextval('{s}.message_seq') FROM generate_series(1, $1::integer)"),
            insert_messages: q("INSERT INTO {s}.messages (queue_id, seq, visible_at, sent_ms, group_id, record)
                                SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::bytea[])"),
            find_dedup: q("SELECT group_id, dedup_id, message_id, seq FROM {s}.dedup
                           WHERE queue_id = $1 AND expires > $2
                             AND (group_id, dedup_id) IN (SELECT * FROM unnest($3::text[], $4::text[]))"),
            insert_dedup: q("INSERT INTO {s}.dedup (queue_id, group_id, dedup_id, expires, message_id, seq)
                             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[])
                             ON CONFLICT (queue_id, group_id, dedup_id) DO UPDATE
                             SET expires = EXCLUDED.expires, message_id = EXCLUDED.message_id, seq = EXCLUDED.seq"),
            // A handle acts only while its receive is the current one and still in flight.
            delete_by_receipt: q("DELETE FROM {s}.messages
                                  WHERE queue_id = $1 AND in_flight AND visible_at > $2
                                    AND (seq, nonce) IN (SELECT * FROM unnest($3::bigint[], $4::bigint[]))
                                  RETURNING seq"),
            change_visibility: q("UPDATE {s}.messages SET visible_at = $2 + $5, in_flight = ($5 > 0)
                                  WHERE queue_id = $1 AND seq = $3 AND nonce = $4
                                    AND in_flight AND visible_at > $2
                                  RETURNING seq"),
            existing: q("SELECT seq FROM {s}.messages WHERE queue_id = $1 AND seq = ANY($2)"),
            counts: q("SELECT count(*) FILTER (WHERE visible_at <= $2),
                              count(*) FILTER (WHERE visible_at > $2 AND in_flight),
                              count(*) FILTER (WHERE visible_at > $2 AND NOT in_flight)
                       FROM {s}.messages WHERE queue_id = $1"),
            next_visible_at: q("SELECT min(m.visible_at) FROM {s}.messages m
                                JOIN {s}.queues q ON q.id = m.queue_id
                                WHERE q.region = $1 AND q.name = $2 AND m.visible_at > $3"),
            movable: q("SELECT seq, dead_letter_source FROM {s}.messages
                        WHERE queue_id = $1 AND visible_at <= $2
                        ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED"),
            move_to: q("UPDATE {s}.messages
                        SET queue_id = $2, visible_at = $3, in_flight = FALSE, receive_count = 0,
                            first_receive_ms = NULL, dead_letter_source = NULL
                        WHERE queue_id = $1 AND seq = ANY($4)"),
        }
    }
}

pub struct PostgresStore {
    pool: Pool,
    schema: String,
    sql: Sql,
    /// The latest `now` the engine passed in; `next_visible_at` has no `now` of its own and must
    /// not read the database clock.
    last_now: AtomicU64,
}

/// A queue as the statements address it.
struct QueueRow {
    id: i64,
    record: QueueRecord,
}

fn ms(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn parse_record(raw: &str) -> Result<QueueRecord, PgError> {
    serde_json::from_str(raw).map_err(|e| PgError::Corrupt(format!("queue record: {e}")))
}

fn record_json(record: &QueueRecord) -> Result<String, PgError> {
    serde_json::to_string(record).map_err(|e| PgError::Corrupt(e.to_string()))
}

async fn find_queue(
    c: &impl GenericClient,
    sql: &str,
    key: &QueueKey,
) -> Result<Option<QueueRow>, PgError> {
    let stmt = c.prepare_cached(sql).await?;
    let Some(row) = c.query_opt(&stmt, &[&key.region, &key.name]).await? else {
        return Ok(None);
    };
    Ok(Some(QueueRow {
        id: row.try_get(0)?,
        record: parse_record(row.try_get(1)?)?,
    }))
}

impl PostgresStore {
    /// Connects, creates the schema if needed, and checks its version.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Ok(Self::connect(url).await?)
    }

    async fn connect(url: &str) -> Result<Self, PgError> {
        let target = schema::parse_url(url)?;
        let manager = Manager::from_config(
            target.config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager).max_size(target.pool_size).build()?;
        {
            let mut client = pool.get().await?;
            schema::migrate(&mut client, &target.schema).await?;
        }
        Ok(Self {
            pool,
            sql: Sql::new(&target.schema),
            schema: target.schema,
            last_now: AtomicU64::new(0),
        })
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Closes the pool; calls after this fail with an I/O error.
    pub fn close(&self) {
        self.pool.close();
    }

    fn saw(&self, now: Millis) {
        self.last_now.fetch_max(now, Ordering::Relaxed);
    }

    async fn claim_in(
        &self,
        key: &QueueKey,
        request: ClaimRequest,
        now: Millis,
    ) -> Result<Option<Vec<Received>>, PgError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(q) = find_queue(&tx, &self.sql.find_queue, key).await? else {
            return Ok(None);
        };
        let fifo = q.record.is_fifo();
        let sql = &self.sql.claim;
        if fifo {
            let lock = tx.prepare_cached(&sql.lock_queue).await?;
            tx.execute(&lock, &[&q.id]).await?;
        }
        self.sweep_retention(&tx, &q, now).await?;
        let now_i = ms(now);
        let limit = request.max as i64;
        let mut dead_from = i32::MAX;
        if let Some(d) = request.dead_letter.as_ref().filter(|d| d.queue != *key) {
            // No dead-letter queue (deleted since): deliver rather than lose messages.
            if let Some(dlq) = find_queue(&tx, &self.sql.find_queue, &d.queue).await? {
                dead_from = i32::try_from(d.max_receive_count).unwrap_or(i32::MAX);
                let stmt = if fifo {
                    &sql.fifo_dead
                } else {
                    &sql.standard_dead
                };
                let stmt = tx.prepare_cached(stmt).await?;
                tx.execute(
                    &stmt,
                    &[&q.id, &now_i, &dead_from, &limit, &dlq.id, &d.source_arn],
                )
                .await?;
            }
        }
        let stmt = if fifo { &sql.fifo } else { &sql.standard };
        let stmt = tx.prepare_cached(stmt).await?;
        // The same nonce for the whole batch is enough: a handle also names its message.
        let nonce = (rand::random::<u64>() | 1) as i64;
        let vis = ms(request.visibility_ms);
        let rows = tx
            .query(&stmt, &[&q.id, &now_i, &limit, &vis, &dead_from, &nonce])
            .await?;
        tx.commit().await?;
        let mut out = rows.iter().map(received).collect::<Result<Vec<_>, _>>()?;
        delivery_order(&mut out);
        Ok(Some(out))
    }

    async fn sweep_retention(
        &self,
        c: &impl GenericClient,
        q: &QueueRow,
        now: Millis,
    ) -> Result<(), PgError> {
        let cutoff = ms(now.saturating_sub(q.record.retention_ms()));
        let stmt = c.prepare_cached(&self.sql.sweep_retention).await?;
        c.execute(&stmt, &[&q.id, &cutoff]).await?;
        Ok(())
    }

    async fn send_in(
        &self,
        key: &QueueKey,
        messages: Vec<NewMessage>,
        now: Millis,
    ) -> Result<Option<Vec<Sent>>, PgError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(q) = find_queue(&tx, &self.sql.find_queue, key).await? else {
            return Ok(None);
        };
        let now_i = ms(now);
        // Deduplication scope: the queue, or the message group.
        let scope = |m: &NewMessage| -> String {
            if q.record.dedup_per_group() {
                m.group_id.clone().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let mut seen: HashMap<(String, String), (String, u64)> = HashMap::new();
        let dedup_wanted = messages.iter().any(|m| m.dedup_id.is_some());
        if q.record.is_fifo() || dedup_wanted {
            // One FIFO sender at a time per queue: deduplication and group order follow
            // commit order.
            let lock = tx.prepare_cached(&self.sql.claim.lock_queue).await?;
            tx.execute(&lock, &[&q.id]).await?;
        }
        if dedup_wanted {
            tx.execute(&self.sql.sweep_dedup, &[&q.id, &now_i]).await?;
            let (groups, ids): (Vec<String>, Vec<String>) = messages
                .iter()
                .filter_map(|m| m.dedup_id.as_ref().map(|d| (scope(m), d.clone())))
                .unzip();
            let stmt = tx.prepare_cached(&self.sql.find_dedup).await?;
            for row in tx.query(&stmt, &[&q.id, &now_i, &groups, &ids]).await? {
                let seq: i64 = row.try_get(3)?;
                seen.insert(
                    (row.try_get(0)?, row.try_get(1)?),
                    (row.try_get(2)?, seq as u64),
                );
            }
        }
        let fresh = messages.iter().filter(|m| m.dedup_id.is_none()).count()
            + messages
                .iter()
                .filter_map(|m| m.dedup_id.as_ref().map(|d| (scope(m), d.clone())))
                .filter(|k| !seen.contains_key(k))
                .collect::<HashSet<_>>()
                .len();
        let mut seqs: Vec<i64> = if fresh > 0 {
            let stmt = tx.prepare_cached(&self.sql.next_seqs).await?;
            let n = i32::try_from(fresh).unwrap_or(i32::MAX);
            tx.query(&stmt, &[&n])
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        seqs.sort_unstable();
        let mut seqs = seqs.into_iter();

        let mut sent = Vec::with_capacity(messages.len());
        let mut rows = MessageColumns::default();
        let mut dedup = DedupColumns::default();
        for m in messages {
            let dkey = m.dedup_id.as_ref().map(|d| (scope(&m), d.clone()));
            if let Some((id, seq)) = dkey.as_ref().and_then(|k| seen.get(k)) {
                sent.push(Sent {
                    id: id.clone(),
                    seq: *seq,
                    duplicate: true,
                });
                continue;
            }
            let seq = seqs
                .next()
                .ok_or_else(|| PgError::Corrupt("sequence returned too few numbers".into()))?;
            let msg = StoredMessage {
                seq: seq as u64,
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
            if let Some(k) = dkey {
                dedup.push(&k, ms(now + DEDUP_WINDOW_MS), &msg.id, seq);
                seen.insert(k, (msg.id.clone(), seq as u64));
            }
            sent.push(Sent {
                id: msg.id.clone(),
                seq: seq as u64,
                duplicate: false,
            });
            rows.push(&msg, encode_message(&msg)?);
        }
        if !rows.seq.is_empty() {
            let stmt = tx.prepare_cached(&self.sql.insert_messages).await?;
            tx.execute(
                &stmt,
                &[
                    &q.id,
                    &rows.seq,
                    &rows.visible_at,
                    &rows.sent_ms,
                    &rows.group_id,
                    &rows.record,
                ],
            )
            .await?;
        }
        if !dedup.seq.is_empty() {
            let stmt = tx.prepare_cached(&self.sql.insert_dedup).await?;
            tx.execute(
                &stmt,
                &[
                    &q.id,
                    &dedup.group_id,
                    &dedup.dedup_id,
                    &dedup.expires,
                    &dedup.message_id,
                    &dedup.seq,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Some(sent))
    }

    /// Tells a receipt the statement did not act on apart: still there (stale) or gone.
    async fn classify(
        &self,
        c: &impl GenericClient,
        queue_id: i64,
        receipts: &[ReceiptHandle],
        done: &HashSet<i64>,
    ) -> Result<Vec<ReceiptOutcome>, PgError> {
        let missed: Vec<i64> = receipts
            .iter()
            .map(|r| r.seq as i64)
            .filter(|s| !done.contains(s))
            .collect();
        let still: HashSet<i64> = if missed.is_empty() {
            HashSet::new()
        } else {
            let stmt = c.prepare_cached(&self.sql.existing).await?;
            c.query(&stmt, &[&queue_id, &missed])
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?
        };
        Ok(receipts
            .iter()
            .map(|r| {
                let seq = r.seq as i64;
                if done.contains(&seq) {
                    ReceiptOutcome::Done
                } else if still.contains(&seq) {
                    ReceiptOutcome::Stale
                } else {
                    ReceiptOutcome::Gone
                }
            })
            .collect())
    }
}

/// New message rows, column by column, for one `unnest` insert.
#[derive(Default)]
struct MessageColumns {
    seq: Vec<i64>,
    visible_at: Vec<i64>,
    sent_ms: Vec<i64>,
    group_id: Vec<Option<String>>,
    record: Vec<Vec<u8>>,
}

impl MessageColumns {
    fn push(&mut self, m: &StoredMessage, record: Vec<u8>) {
        self.seq.push(m.seq as i64);
        self.visible_at.push(ms(m.delay_until_ms));
        self.sent_ms.push(ms(m.sent_ms));
        self.group_id.push(m.group_id.clone());
        self.record.push(record);
    }
}

#[derive(Default)]
struct DedupColumns {
    group_id: Vec<String>,
    dedup_id: Vec<String>,
    expires: Vec<i64>,
    message_id: Vec<String>,
    seq: Vec<i64>,
}

impl DedupColumns {
    fn push(&mut self, key: &(String, String), expires: i64, id: &str, seq: i64) {
        self.group_id.push(key.0.clone());
        self.dedup_id.push(key.1.clone());
        self.expires.push(expires);
        self.message_id.push(id.to_string());
        self.seq.push(seq);
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn create_queue(&self, record: QueueRecord) -> Result<(QueueRecord, bool), StoreError> {
        let client = self.pool.get().await?;
        let json = record_json(&record)?;
        let inserted = client
            .query_opt(
                &self.sql.insert_queue,
                &[&record.key.region, &record.key.name, &json],
            )
            .await?;
        if inserted.is_some() {
            return Ok((record, true));
        }
        match find_queue(&client, &self.sql.find_queue, &record.key).await? {
            Some(existing) => Ok((existing.record, false)),
            // Deleted between the two statements: create it after all.
            None => {
                drop(client);
                self.create_queue(record).await
            }
        }
    }

    async fn update_queue(&self, record: QueueRecord) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        let json = record_json(&record)?;
        let n = client
            .execute(
                &self.sql.update_queue,
                &[&record.key.region, &record.key.name, &json],
            )
            .await?;
        Ok(n > 0)
    }

    async fn get_queue(&self, key: &QueueKey) -> Result<Option<QueueRecord>, StoreError> {
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(&self.sql.queue_record).await?;
        match client.query_opt(&stmt, &[&key.region, &key.name]).await? {
            Some(row) => Ok(Some(parse_record(row.try_get(0)?)?)),
            None => Ok(None),
        }
    }

    async fn list_queues(
        &self,
        region: &str,
        prefix: &str,
    ) -> Result<Vec<QueueRecord>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(&self.sql.list_queues, &[&region, &prefix])
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(parse_record(row.try_get(0)?)?);
        }
        Ok(out)
    }

    async fn delete_queue(&self, key: &QueueKey) -> Result<bool, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(row) = tx
            .query_opt(&self.sql.delete_queue, &[&key.region, &key.name])
            .await?
        else {
            return Ok(false);
        };
        let id: i64 = row.try_get(0)?;
        tx.execute(&self.sql.delete_queue_messages, &[&id]).await?;
        tx.execute(&self.sql.delete_queue_dedup, &[&id]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn send(
        &self,
        key: &QueueKey,
        messages: Vec<NewMessage>,
        now: Millis,
    ) -> Result<Option<Vec<Sent>>, StoreError> {
        self.saw(now);
        Ok(self.send_in(key, messages, now).await?)
    }

    async fn claim(
        &self,
        key: &QueueKey,
        request: ClaimRequest,
        now: Millis,
    ) -> Result<Option<Vec<Received>>, StoreError> {
        self.saw(now);
        Ok(self.claim_in(key, request, now).await?)
    }

    async fn delete_messages(
        &self,
        key: &QueueKey,
        receipts: &[ReceiptHandle],
        now: Millis,
    ) -> Result<Option<Vec<ReceiptOutcome>>, StoreError> {
        self.saw(now);
        let client = self.pool.get().await?;
        let Some(q) = find_queue(&client, &self.sql.find_queue, key).await? else {
            return Ok(None);
        };
        let seqs: Vec<i64> = receipts.iter().map(|r| r.seq as i64).collect();
        let nonces: Vec<i64> = receipts.iter().map(|r| r.nonce as i64).collect();
        let stmt = client.prepare_cached(&self.sql.delete_by_receipt).await?;
        let done: HashSet<i64> = client
            .query(&stmt, &[&q.id, &ms(now), &seqs, &nonces])
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        Ok(Some(self.classify(&client, q.id, receipts, &done).await?))
    }

    async fn change_visibility(
        &self,
        key: &QueueKey,
        receipt: ReceiptHandle,
        visibility_ms: u64,
        now: Millis,
    ) -> Result<Option<ReceiptOutcome>, StoreError> {
        self.saw(now);
        let client = self.pool.get().await?;
        let Some(q) = find_queue(&client, &self.sql.find_queue, key).await? else {
            return Ok(None);
        };
        let stmt = client.prepare_cached(&self.sql.change_visibility).await?;
        let changed = client
            .query_opt(
                &stmt,
                &[
                    &q.id,
                    &ms(now),
                    &(receipt.seq as i64),
                    &(receipt.nonce as i64),
                    &ms(visibility_ms),
                ],
            )
            .await?;
        let done: HashSet<i64> = changed.iter().map(|_| receipt.seq as i64).collect();
        let mut outcome = self.classify(&client, q.id, &[receipt], &done).await?;
        Ok(outcome.pop())
    }

    async fn purge(&self, key: &QueueKey) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        let Some(q) = find_queue(&client, &self.sql.find_queue, key).await? else {
            return Ok(false);
        };
        client
            .execute(&self.sql.delete_queue_messages, &[&q.id])
            .await?;
        Ok(true)
    }

    async fn counts(&self, key: &QueueKey, now: Millis) -> Result<Option<Counts>, StoreError> {
        self.saw(now);
        let client = self.pool.get().await?;
        let Some(q) = find_queue(&client, &self.sql.find_queue, key).await? else {
            return Ok(None);
        };
        self.sweep_retention(&client, &q, now).await?;
        let stmt = client.prepare_cached(&self.sql.counts).await?;
        let row = client.query_one(&stmt, &[&q.id, &ms(now)]).await?;
        let get =
            |i: usize| -> Result<u64, StoreError> { Ok(row.try_get::<_, i64>(i)?.max(0) as u64) };
        Ok(Some(Counts {
            visible: get(0)?,
            in_flight: get(1)?,
            delayed: get(2)?,
        }))
    }

    async fn next_visible_at(&self, key: &QueueKey) -> Result<Option<Millis>, StoreError> {
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(&self.sql.next_visible_at).await?;
        let now = ms(self.last_now.load(Ordering::Relaxed));
        let row = client
            .query_one(&stmt, &[&key.region, &key.name, &now])
            .await?;
        Ok(row.try_get::<_, Option<i64>>(0)?.map(|v| v.max(0) as u64))
    }

    async fn move_messages(
        &self,
        from: &QueueKey,
        to: &MoveDestination,
        max: usize,
        now: Millis,
    ) -> Result<usize, StoreError> {
        self.saw(now);
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(src) = find_queue(&tx, &self.sql.find_queue, from).await? else {
            return Ok(0);
        };
        self.sweep_retention(&tx, &src, now).await?;
        let rows = tx
            .query(&self.sql.movable, &[&src.id, &ms(now), &(max as i64)])
            .await?;
        // Destination queue id per message; a message with nowhere to go stays.
        let mut ids: HashMap<QueueKey, Option<i64>> = HashMap::new();
        let mut by_dest: HashMap<i64, Vec<i64>> = HashMap::new();
        for row in &rows {
            let seq: i64 = row.try_get(0)?;
            let dest = match to {
                MoveDestination::Queue(k) => Some(k.clone()),
                MoveDestination::Origin => row
                    .try_get::<_, Option<&str>>(1)?
                    .and_then(QueueKey::from_arn),
            };
            let Some(dest) = dest.filter(|d| d != from) else {
                continue;
            };
            let id = match ids.get(&dest) {
                Some(id) => *id,
                None => {
                    let id = find_queue(&tx, &self.sql.find_queue, &dest)
                        .await?
                        .map(|q| q.id);
                    ids.insert(dest, id);
                    id
                }
            };
            if let Some(id) = id {
                by_dest.entry(id).or_default().push(seq);
            }
        }
        let mut moved = 0;
        for (dest, seqs) in by_dest {
            moved += tx
                .execute(&self.sql.move_to, &[&src.id, &dest, &ms(now), &seqs])
                .await? as usize;
        }
        tx.commit().await?;
        Ok(moved)
    }

    async fn create_topic(&self, record: TopicRecord) -> Result<(TopicRecord, bool), StoreError> {
        Ok(topics::create(&self.pool, &self.sql.topics, record).await?)
    }

    async fn update_topic(&self, record: TopicRecord) -> Result<bool, StoreError> {
        Ok(topics::update(&self.pool, &self.sql.topics, &record).await?)
    }

    async fn get_topic(&self, key: &TopicKey) -> Result<Option<TopicRecord>, StoreError> {
        Ok(topics::get(&self.pool, &self.sql.topics, key).await?)
    }

    async fn list_topics(&self, region: &str) -> Result<Vec<TopicRecord>, StoreError> {
        Ok(topics::list(&self.pool, &self.sql.topics, region).await?)
    }

    async fn delete_topic(&self, key: &TopicKey) -> Result<bool, StoreError> {
        Ok(topics::delete(&self.pool, &self.sql.topics, key).await?)
    }

    async fn topic_dedup(
        &self,
        key: &TopicKey,
        dedup_id: &str,
        candidate: FifoPublication,
        now: Millis,
    ) -> Result<Option<FifoPublication>, StoreError> {
        Ok(topics::dedup(&self.pool, &self.sql.topics, key, dedup_id, candidate, now).await?)
    }

    async fn signing_key(&self) -> Result<Option<String>, StoreError> {
        Ok(topics::signing_key(&self.pool, &self.sql.topics).await?)
    }

    async fn init_signing_key(&self, pem: &str) -> Result<String, StoreError> {
        Ok(topics::init_signing_key(&self.pool, &self.sql.topics, pem).await?)
    }

    async fn change_buffer(
        &self,
        key: &crate::engine::debounce::ConversationKey,
        change: crate::engine::debounce::BufferChange,
        plan: &crate::engine::debounce::Plan<'_>,
        now: Millis,
    ) -> Result<crate::engine::debounce::BufferOutcome, StoreError> {
        self.saw(now);
        Ok(buffers::change(&self.pool, &self.sql.buffers, key, change, plan, now).await?)
    }

    async fn get_buffer(
        &self,
        key: &crate::engine::debounce::ConversationKey,
    ) -> Result<Option<crate::engine::debounce::BufferSnapshot>, StoreError> {
        Ok(buffers::get(&self.pool, &self.sql.buffers, key).await?)
    }

    async fn list_buffers(
        &self,
        app: &str,
    ) -> Result<Vec<crate::engine::debounce::BufferSnapshot>, StoreError> {
        Ok(buffers::list(&self.pool, &self.sql.buffers, app).await?)
    }

    async fn claim_due_buffers(
        &self,
        now: Millis,
        lease_ms: u64,
        max: usize,
    ) -> Result<Vec<crate::engine::debounce::BufferSnapshot>, StoreError> {
        self.saw(now);
        Ok(buffers::claim_due(&self.pool, &self.sql.buffers, now, lease_ms, max).await?)
    }

    async fn next_buffer_due(&self) -> Result<Option<Millis>, StoreError> {
        Ok(buffers::next_due(&self.pool, &self.sql.buffers).await?)
    }

    async fn sweep_buffers(&self, now: Millis) -> Result<(), StoreError> {
        Ok(buffers::sweep(&self.pool, &self.sql.buffers, now).await?)
    }
}
