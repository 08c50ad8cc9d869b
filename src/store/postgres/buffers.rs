//! Debounce buffers in the PostgreSQL store, safe with several nodes appending to the same
//! conversation and several flushers claiming due buffers:
//!
//! - every change takes the conversation's buffer row lock first (an upsert that locks the
//!   existing row or inserts a new one, or `SELECT … FOR UPDATE`), then changes fragments,
//!   runs the engine's plan and writes the result, in one transaction;
//! - a message id is claimed in `debounce_seen` by one `INSERT … ON CONFLICT`, so of two
//!   nodes receiving the same redelivery exactly one buffers it;
//! - `ready_at` (the due time, or the end of a flush claim) is an indexed column: flushers
//!   claim with one `UPDATE … WHERE … IN (SELECT … FOR UPDATE SKIP LOCKED)` and a lease, so
//!   two nodes never flush the same buffer at once, and a crashed node's claim runs out.
//!
//! Fragment seqs are per conversation; restored fragments take seqs below the current ones, so
//! putting a batch back in front rewrites nothing.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::{GenericClient, Pool};

use super::error::PgError;
use super::ms;
use super::schema::in_schema;
use crate::clock::Millis;
use crate::engine::debounce::record::{CADENCE_IDLE_MS, SEEN_TTL_MS};
use crate::engine::debounce::{
    BufferChange, BufferMeta, BufferOutcome, BufferSnapshot, Cadence, ConversationKey, Fragment,
    Plan,
};

#[derive(Debug)]
pub(super) struct BufferSql {
    claim_seen: String,
    lock_or_create: String,
    lock: String,
    next_seq_floor: String,
    insert_fragments: String,
    delete_fragments: String,
    fragment_ids: String,
    recount: String,
    update_keep_lease: String,
    update_release: String,
    delete_buffer: String,
    upsert_cadence: String,
    get: String,
    fragments_of: String,
    list: String,
    fragments_of_app: String,
    claim: String,
    fragments_of_keys: String,
    next_due: String,
    sweep_seen: String,
    sweep_cadence: String,
}

impl BufferSql {
    pub(super) fn new(s: &str) -> Self {
        let q = |t: &str| in_schema(s, t);
        let cadence_of = "(SELECT c.record FROM {s}.debounce_cadence c
              WHERE c.app = b.app AND c.account = b.account AND c.conversation = b.conversation)";
        Self {
            // A row back: the id is new (or its memory expired) and now taken.
            claim_seen: q("INSERT INTO {s}.debounce_seen AS d (app, message_id, expires) VALUES ($1, $2, $4)
                           ON CONFLICT (app, message_id) DO UPDATE SET expires = EXCLUDED.expires
                           WHERE d.expires <= $3
                           RETURNING 1"),
            // Locks the existing row (the no-op update) or inserts a new one; either way the
            // row as it is now comes back.
            lock_or_create: q(&format!(
                "INSERT INTO {{s}}.debounce_buffers AS b (app, account, conversation, meta, ready_at)
                 VALUES ($1, $2, $3, $4, 0)
                 ON CONFLICT (app, account, conversation) DO UPDATE SET next_seq = b.next_seq
                 RETURNING b.meta, b.next_seq, {cadence_of}"
            )),
            lock: q(&format!(
                "SELECT b.meta, b.next_seq, {cadence_of} FROM {{s}}.debounce_buffers b
                 WHERE b.app = $1 AND b.account = $2 AND b.conversation = $3 FOR UPDATE"
            )),
            next_seq_floor: q("SELECT min(seq) FROM {s}.debounce_fragments
                               WHERE app = $1 AND account = $2 AND conversation = $3"),
            insert_fragments: q("INSERT INTO {s}.debounce_fragments
                                 (app, account, conversation, seq, message_id, received_ms, record)
                                 SELECT $1, $2, $3, * FROM unnest($4::bigint[], $5::text[], $6::bigint[], $7::text[])"),
            delete_fragments: q("DELETE FROM {s}.debounce_fragments
                                 WHERE app = $1 AND account = $2 AND conversation = $3 AND message_id = ANY($4)"),
            fragment_ids: q("SELECT message_id FROM {s}.debounce_fragments
                             WHERE app = $1 AND account = $2 AND conversation = $3"),
            recount: q("SELECT count(*), min(received_ms), max(received_ms) FROM {s}.debounce_fragments
                        WHERE app = $1 AND account = $2 AND conversation = $3"),
            update_keep_lease: q("UPDATE {s}.debounce_buffers
                                  SET meta = $4, next_seq = $5, ready_at = GREATEST($6, lease_until)
                                  WHERE app = $1 AND account = $2 AND conversation = $3"),
            update_release: q("UPDATE {s}.debounce_buffers
                               SET meta = $4, next_seq = $5, ready_at = $6, lease_until = 0
                               WHERE app = $1 AND account = $2 AND conversation = $3"),
            delete_buffer: q("DELETE FROM {s}.debounce_buffers
                              WHERE app = $1 AND account = $2 AND conversation = $3"),
            upsert_cadence: q("INSERT INTO {s}.debounce_cadence (app, account, conversation, last_at, record)
                               VALUES ($1, $2, $3, $4, $5)
                               ON CONFLICT (app, account, conversation)
                               DO UPDATE SET last_at = EXCLUDED.last_at, record = EXCLUDED.record"),
            get: q(&format!(
                "SELECT b.app, b.account, b.conversation, b.meta, {cadence_of}
                 FROM {{s}}.debounce_buffers b
                 WHERE b.app = $1 AND b.account = $2 AND b.conversation = $3"
            )),
            fragments_of: q("SELECT app, account, conversation, record FROM {s}.debounce_fragments
                             WHERE app = $1 AND account = $2 AND conversation = $3 ORDER BY seq"),
            list: q(&format!(
                "SELECT b.app, b.account, b.conversation, b.meta, {cadence_of}
                 FROM {{s}}.debounce_buffers b WHERE b.app = $1"
            )),
            fragments_of_app: q("SELECT app, account, conversation, record FROM {s}.debounce_fragments
                                 WHERE app = $1 ORDER BY account, conversation, seq"),
            claim: q(&format!(
                "UPDATE {{s}}.debounce_buffers b SET lease_until = $2, ready_at = GREATEST($2, b.ready_at)
                 WHERE (b.app, b.account, b.conversation) IN (
                     SELECT app, account, conversation FROM {{s}}.debounce_buffers
                     WHERE ready_at <= $1 ORDER BY ready_at LIMIT $3 FOR UPDATE SKIP LOCKED)
                 RETURNING b.app, b.account, b.conversation, b.meta, {cadence_of}"
            )),
            fragments_of_keys: q("SELECT f.app, f.account, f.conversation, f.record
                                  FROM {s}.debounce_fragments f
                                  JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(app, account, conversation)
                                    USING (app, account, conversation)
                                  ORDER BY f.app, f.account, f.conversation, f.seq"),
            next_due: q("SELECT min(ready_at) FROM {s}.debounce_buffers"),
            sweep_seen: q("DELETE FROM {s}.debounce_seen WHERE expires <= $1"),
            sweep_cadence: q("DELETE FROM {s}.debounce_cadence WHERE last_at <= $1"),
        }
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> PgError {
    PgError::Corrupt(format!("debounce {what}: {e}"))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, PgError> {
    serde_json::to_string(v).map_err(|e| corrupt("record", e))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, raw: &str) -> Result<T, PgError> {
    serde_json::from_str(raw).map_err(|e| corrupt(what, e))
}

fn cadence(raw: Option<&str>) -> Result<Option<Cadence>, PgError> {
    raw.map(|r| from_json("cadence", r)).transpose()
}

/// Fragments as `unnest` columns.
#[derive(Default)]
struct FragmentColumns {
    seq: Vec<i64>,
    id: Vec<String>,
    received: Vec<i64>,
    record: Vec<String>,
}

impl FragmentColumns {
    fn push(&mut self, seq: i64, f: &Fragment) -> Result<(), PgError> {
        self.seq.push(seq);
        self.id.push(f.id.clone());
        self.received.push(ms(f.received_ms));
        self.record.push(to_json(f)?);
        Ok(())
    }
}

/// The locked buffer row: its meta, next seq and the sender's cadence.
struct Locked {
    meta: BufferMeta,
    next_seq: i64,
    cadence: Option<Cadence>,
}

fn locked(row: &tokio_postgres::Row) -> Result<Locked, PgError> {
    Ok(Locked {
        meta: from_json("buffer", row.try_get(0)?)?,
        next_seq: row.try_get(1)?,
        cadence: cadence(row.try_get(2)?)?,
    })
}

pub(super) async fn change(
    pool: &Pool,
    sql: &BufferSql,
    key: &ConversationKey,
    change: BufferChange,
    plan: &Plan<'_>,
    now: Millis,
) -> Result<BufferOutcome, PgError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let k: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
        [&key.app, &key.account, &key.conversation];
    let mut release = false;
    let mut recount = true;
    let mut cur = match change {
        BufferChange::Append { platform, fragment } => {
            let expires = ms(now.saturating_add(SEEN_TTL_MS));
            let stmt = tx.prepare_cached(&sql.claim_seen).await?;
            let fresh = tx
                .query_opt(&stmt, &[&key.app, &fragment.id, &ms(now), &expires])
                .await?;
            if fresh.is_none() {
                return Ok(BufferOutcome::Duplicate);
            }
            let mut cur = lock_or_create(&tx, sql, key, platform, now).await?;
            let mut cols = FragmentColumns::default();
            cols.push(cur.next_seq, &fragment)?;
            cur.next_seq += 1;
            insert(&tx, sql, &k, &cols).await?;
            // Bookkeeping without a recount: the hot path.
            let m = &mut cur.meta;
            if m.fragments == 0 {
                m.first_at = fragment.received_ms;
                m.last_at = fragment.received_ms;
            } else {
                m.first_at = m.first_at.min(fragment.received_ms);
                m.last_at = m.last_at.max(fragment.received_ms);
            }
            m.fragments = m.fragments.saturating_add(1);
            recount = false;
            cur
        }
        BufferChange::Restore {
            platform,
            fragments,
        } => {
            let cur = lock_or_create(&tx, sql, key, platform, now).await?;
            let stmt = tx.prepare_cached(&sql.fragment_ids).await?;
            let mut ids: HashSet<String> = tx
                .query(&stmt, &k)
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            let fresh: Vec<&Fragment> = fragments
                .iter()
                .filter(|f| ids.insert(f.id.clone()))
                .collect();
            let stmt = tx.prepare_cached(&sql.next_seq_floor).await?;
            let floor: i64 = tx
                .query_one(&stmt, &k)
                .await?
                .try_get::<_, Option<i64>>(0)?
                .unwrap_or(cur.next_seq);
            let mut cols = FragmentColumns::default();
            let first = floor - fresh.len() as i64;
            for (i, f) in fresh.into_iter().enumerate() {
                cols.push(first + i as i64, f)?;
            }
            insert(&tx, sql, &k, &cols).await?;
            cur
        }
        BufferChange::Remove { ids } => {
            let stmt = tx.prepare_cached(&sql.lock).await?;
            let Some(row) = tx.query_opt(&stmt, &k).await? else {
                return Ok(BufferOutcome::Missing);
            };
            let mut cur = locked(&row)?;
            let stmt = tx.prepare_cached(&sql.delete_fragments).await?;
            tx.execute(&stmt, &[&key.app, &key.account, &key.conversation, &ids])
                .await?;
            release = true;
            cur.meta.forced_at = None;
            cur
        }
        BufferChange::Touch => {
            let stmt = tx.prepare_cached(&sql.lock).await?;
            let Some(row) = tx.query_opt(&stmt, &k).await? else {
                return Ok(BufferOutcome::Missing);
            };
            recount = false;
            locked(&row)?
        }
    };
    if recount {
        let stmt = tx.prepare_cached(&sql.recount).await?;
        let row = tx.query_one(&stmt, &k).await?;
        let count: i64 = row.try_get(0)?;
        if count == 0 {
            let stmt = tx.prepare_cached(&sql.delete_buffer).await?;
            tx.execute(&stmt, &k).await?;
            tx.commit().await?;
            return Ok(BufferOutcome::Emptied);
        }
        let first: Option<i64> = row.try_get(1)?;
        let last: Option<i64> = row.try_get(2)?;
        cur.meta.fragments = u32::try_from(count).unwrap_or(u32::MAX);
        cur.meta.first_at = first.unwrap_or(0).max(0) as u64;
        cur.meta.last_at = last.unwrap_or(0).max(0) as u64;
        if release {
            cur.meta.started_at = cur.meta.first_at;
        }
    }
    let before = cur.cadence;
    plan(&mut cur.meta, &mut cur.cadence);
    if cur.cadence != before {
        if let Some(c) = &cur.cadence {
            let stmt = tx.prepare_cached(&sql.upsert_cadence).await?;
            tx.execute(
                &stmt,
                &[
                    &key.app,
                    &key.account,
                    &key.conversation,
                    &ms(c.last_at),
                    &to_json(c)?,
                ],
            )
            .await?;
        }
    }
    let update = if release {
        &sql.update_release
    } else {
        &sql.update_keep_lease
    };
    let stmt = tx.prepare_cached(update).await?;
    tx.execute(
        &stmt,
        &[
            &key.app,
            &key.account,
            &key.conversation,
            &to_json(&cur.meta)?,
            &cur.next_seq,
            &ms(cur.meta.due_at),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(BufferOutcome::Changed(cur.meta))
}

async fn lock_or_create(
    c: &impl GenericClient,
    sql: &BufferSql,
    key: &ConversationKey,
    platform: crate::webhooks::Platform,
    now: Millis,
) -> Result<Locked, PgError> {
    let empty = to_json(&BufferMeta::empty(platform, now))?;
    let stmt = c.prepare_cached(&sql.lock_or_create).await?;
    let row = c
        .query_one(&stmt, &[&key.app, &key.account, &key.conversation, &empty])
        .await?;
    locked(&row)
}

async fn insert(
    c: &impl GenericClient,
    sql: &BufferSql,
    k: &[&(dyn tokio_postgres::types::ToSql + Sync); 3],
    cols: &FragmentColumns,
) -> Result<(), PgError> {
    if cols.seq.is_empty() {
        return Ok(());
    }
    let stmt = c.prepare_cached(&sql.insert_fragments).await?;
    c.execute(
        &stmt,
        &[
            k[0],
            k[1],
            k[2],
            &cols.seq,
            &cols.id,
            &cols.received,
            &cols.record,
        ],
    )
    .await?;
    Ok(())
}

/// Buffer rows (`app, account, conversation, meta, cadence`) joined with fragment rows
/// (`app, account, conversation, record`, in order).
fn assemble(
    buffers: &[tokio_postgres::Row],
    fragments: &[tokio_postgres::Row],
) -> Result<Vec<BufferSnapshot>, PgError> {
    let mut by_key: HashMap<ConversationKey, Vec<Fragment>> = HashMap::new();
    for r in fragments {
        let key = ConversationKey::new(
            r.try_get::<_, String>(0)?,
            r.try_get::<_, String>(1)?,
            r.try_get::<_, String>(2)?,
        );
        by_key
            .entry(key)
            .or_default()
            .push(from_json("fragment", r.try_get(3)?)?);
    }
    let mut out = Vec::with_capacity(buffers.len());
    for r in buffers {
        let key = ConversationKey::new(
            r.try_get::<_, String>(0)?,
            r.try_get::<_, String>(1)?,
            r.try_get::<_, String>(2)?,
        );
        let fragments = by_key.remove(&key).unwrap_or_default();
        out.push(BufferSnapshot {
            meta: from_json("buffer", r.try_get(3)?)?,
            cadence: cadence(r.try_get(4)?)?,
            key,
            fragments,
        });
    }
    Ok(out)
}

pub(super) async fn get(
    pool: &Pool,
    sql: &BufferSql,
    key: &ConversationKey,
) -> Result<Option<BufferSnapshot>, PgError> {
    let mut client = pool.get().await?;
    // One snapshot for the buffer and its fragments.
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let k: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
        [&key.app, &key.account, &key.conversation];
    let stmt = tx.prepare_cached(&sql.get).await?;
    let Some(buffer) = tx.query_opt(&stmt, &k).await? else {
        return Ok(None);
    };
    let stmt = tx.prepare_cached(&sql.fragments_of).await?;
    let fragments = tx.query(&stmt, &k).await?;
    tx.commit().await?;
    Ok(assemble(&[buffer], &fragments)?.pop())
}

pub(super) async fn list(
    pool: &Pool,
    sql: &BufferSql,
    app: &str,
) -> Result<Vec<BufferSnapshot>, PgError> {
    let mut client = pool.get().await?;
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let stmt = tx.prepare_cached(&sql.list).await?;
    let buffers = tx.query(&stmt, &[&app]).await?;
    let stmt = tx.prepare_cached(&sql.fragments_of_app).await?;
    let fragments = tx.query(&stmt, &[&app]).await?;
    tx.commit().await?;
    assemble(&buffers, &fragments)
}

pub(super) async fn claim_due(
    pool: &Pool,
    sql: &BufferSql,
    now: Millis,
    lease_ms: u64,
    max: usize,
) -> Result<Vec<BufferSnapshot>, PgError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached(&sql.claim).await?;
    let limit = i64::try_from(max).unwrap_or(i64::MAX);
    let until = ms(now.saturating_add(lease_ms));
    let buffers = client.query(&stmt, &[&ms(now), &until, &limit]).await?;
    if buffers.is_empty() {
        return Ok(Vec::new());
    }
    let mut cols: [Vec<String>; 3] = Default::default();
    for r in &buffers {
        for (i, col) in cols.iter_mut().enumerate() {
            col.push(r.try_get(i)?);
        }
    }
    let stmt = client.prepare_cached(&sql.fragments_of_keys).await?;
    let fragments = client.query(&stmt, &[&cols[0], &cols[1], &cols[2]]).await?;
    let mut out = assemble(&buffers, &fragments)?;
    out.sort_by_key(|b| b.meta.due_at);
    // Emptied between the claim and the read (flushed by a claim that had run out): nothing
    // to send.
    out.retain(|b| !b.fragments.is_empty());
    Ok(out)
}

pub(super) async fn next_due(pool: &Pool, sql: &BufferSql) -> Result<Option<Millis>, PgError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached(&sql.next_due).await?;
    let row = client.query_one(&stmt, &[]).await?;
    Ok(row.try_get::<_, Option<i64>>(0)?.map(|v| v.max(0) as u64))
}

pub(super) async fn sweep(pool: &Pool, sql: &BufferSql, now: Millis) -> Result<(), PgError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached(&sql.sweep_seen).await?;
    client.execute(&stmt, &[&ms(now)]).await?;
    let stmt = client.prepare_cached(&sql.sweep_cadence).await?;
    client
        .execute(&stmt, &[&ms(now.saturating_sub(CADENCE_IDLE_MS))])
        .await?;
    Ok(())
}
