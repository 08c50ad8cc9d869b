//! Topics in the PostgreSQL store: one row per topic, the record (subscriptions included) as
//! JSONB. Topics change rarely; a whole-record write keeps every node's view consistent.
//! FIFO topics' deduplication ids are rows of `topic_dedup`, claimed by one statement so that
//! two nodes publishing the same id at once agree on the first; the signing key every node
//! signs with is a row of `meta`.

use std::sync::atomic::{AtomicU64, Ordering};

use deadpool_postgres::Pool;

use super::error::PgError;
use super::schema::in_schema;
use crate::clock::Millis;
use crate::engine::topics::{FifoPublication, TopicKey, TopicRecord};

/// Expired deduplication ids of a topic are swept on every this many publications.
const SWEEP_EVERY: u64 = 128;
static PUBLICATIONS: AtomicU64 = AtomicU64::new(0);

#[derive(Debug)]
pub(super) struct TopicSql {
    insert: String,
    update: String,
    get: String,
    list: String,
    delete: String,
    dedup_claim: String,
    dedup_get: String,
    dedup_sweep: String,
    key_init: String,
    key_get: String,
}

impl TopicSql {
    pub(super) fn new(s: &str) -> Self {
        let q = |t: &str| in_schema(s, t);
        Self {
            insert: q(
                "INSERT INTO {s}.topics (region, name, record) VALUES ($1, $2, $3::text::jsonb)
                       ON CONFLICT (region, name) DO NOTHING RETURNING name",
            ),
            update: q(
                "UPDATE {s}.topics SET record = $3::text::jsonb WHERE region = $1 AND name = $2",
            ),
            get: q("SELECT record::text FROM {s}.topics WHERE region = $1 AND name = $2"),
            // Byte order, as the embedded store sorts names.
            list: q(
                "SELECT record::text FROM {s}.topics WHERE region = $1 ORDER BY name COLLATE \"C\"",
            ),
            delete: q(
                "WITH ids AS (DELETE FROM {s}.topic_dedup WHERE region = $1 AND name = $2)
                 DELETE FROM {s}.topics WHERE region = $1 AND name = $2",
            ),
            // Inserts the id, or takes over an expired one; a live one is left alone (no row).
            dedup_claim: q(
                "INSERT INTO {s}.topic_dedup AS d (region, name, dedup_id, expires, message_id, seq)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (region, name, dedup_id) DO UPDATE
                 SET expires = EXCLUDED.expires, message_id = EXCLUDED.message_id, seq = EXCLUDED.seq
                 WHERE d.expires <= $7
                 RETURNING message_id",
            ),
            dedup_get: q(
                "SELECT message_id, seq, expires FROM {s}.topic_dedup
                 WHERE region = $1 AND name = $2 AND dedup_id = $3",
            ),
            dedup_sweep: q(
                "DELETE FROM {s}.topic_dedup WHERE region = $1 AND name = $2 AND expires <= $3",
            ),
            key_init: q(
                "INSERT INTO {s}.meta (key, value) VALUES ('sns_signing_key', $1)
                 ON CONFLICT (key) DO NOTHING",
            ),
            key_get: q("SELECT value FROM {s}.meta WHERE key = 'sns_signing_key'"),
        }
    }
}

fn parse(raw: &str) -> Result<TopicRecord, PgError> {
    serde_json::from_str(raw).map_err(|e| PgError::Corrupt(format!("topic record: {e}")))
}

fn json(record: &TopicRecord) -> Result<String, PgError> {
    serde_json::to_string(record).map_err(|e| PgError::Corrupt(e.to_string()))
}

pub(super) async fn create(
    pool: &Pool,
    sql: &TopicSql,
    record: TopicRecord,
) -> Result<(TopicRecord, bool), PgError> {
    let client = pool.get().await?;
    let body = json(&record)?;
    loop {
        let stmt = client.prepare_cached(&sql.insert).await?;
        let inserted = client
            .query_opt(&stmt, &[&record.key.region, &record.key.name, &body])
            .await?;
        if inserted.is_some() {
            return Ok((record, true));
        }
        // Lost to a concurrent create; unless it was deleted since, answer with that record.
        if let Some(existing) = get(pool, sql, &record.key).await? {
            return Ok((existing, false));
        }
    }
}

pub(super) async fn update(
    pool: &Pool,
    sql: &TopicSql,
    record: &TopicRecord,
) -> Result<bool, PgError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached(&sql.update).await?;
    let n = client
        .execute(
            &stmt,
            &[&record.key.region, &record.key.name, &json(record)?],
        )
        .await?;
    Ok(n > 0)
}

pub(super) async fn get(
    pool: &Pool,
    sql: &TopicSql,
    key: &TopicKey,
) -> Result<Option<TopicRecord>, PgError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached(&sql.get).await?;
    match client.query_opt(&stmt, &[&key.region, &key.name]).await? {
        Some(row) => Ok(Some(parse(row.try_get(0)?)?)),
        None => Ok(None),
    }
}

pub(super) async fn list(
    pool: &Pool,
    sql: &TopicSql,
    region: &str,
) -> Result<Vec<TopicRecord>, PgError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached(&sql.list).await?;
    client
        .query(&stmt, &[&region])
        .await?
        .iter()
        .map(|row| parse(row.try_get(0)?))
        .collect()
}

pub(super) async fn delete(pool: &Pool, sql: &TopicSql, key: &TopicKey) -> Result<bool, PgError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached(&sql.delete).await?;
    Ok(client.execute(&stmt, &[&key.region, &key.name]).await? > 0)
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) async fn dedup(
    pool: &Pool,
    sql: &TopicSql,
    key: &TopicKey,
    dedup_id: &str,
    candidate: FifoPublication,
    now: Millis,
) -> Result<Option<FifoPublication>, PgError> {
    let client = pool.get().await?;
    if PUBLICATIONS
        .fetch_add(1, Ordering::Relaxed)
        .is_multiple_of(SWEEP_EVERY)
    {
        let stmt = client.prepare_cached(&sql.dedup_sweep).await?;
        client
            .execute(&stmt, &[&key.region, &key.name, &int(now)])
            .await?;
    }
    let claim = client.prepare_cached(&sql.dedup_claim).await?;
    let get = client.prepare_cached(&sql.dedup_get).await?;
    // A live id read back may expire before the read; the claim then succeeds on a retry.
    for _ in 0..3 {
        let claimed = client
            .query_opt(
                &claim,
                &[
                    &key.region,
                    &key.name,
                    &dedup_id,
                    &int(candidate.expires_ms),
                    &candidate.message_id,
                    &int(candidate.sequence),
                    &int(now),
                ],
            )
            .await?;
        if claimed.is_some() {
            return Ok(None);
        }
        if let Some(row) = client
            .query_opt(&get, &[&key.region, &key.name, &dedup_id])
            .await?
        {
            let seq: i64 = row.try_get(1)?;
            let expires: i64 = row.try_get(2)?;
            return Ok(Some(FifoPublication {
                message_id: row.try_get(0)?,
                sequence: u64::try_from(seq).unwrap_or_default(),
                expires_ms: u64::try_from(expires).unwrap_or_default(),
            }));
        }
    }
    Err(PgError::Corrupt(format!(
        "deduplication id {dedup_id} of topic {} neither claimed nor found",
        key.name
    )))
}

pub(super) async fn signing_key(pool: &Pool, sql: &TopicSql) -> Result<Option<String>, PgError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached(&sql.key_get).await?;
    Ok(match client.query_opt(&stmt, &[]).await? {
        Some(row) => Some(row.try_get(0)?),
        None => None,
    })
}

pub(super) async fn init_signing_key(
    pool: &Pool,
    sql: &TopicSql,
    pem: &str,
) -> Result<String, PgError> {
    {
        let client = pool.get().await?;
        let stmt = client.prepare_cached(&sql.key_init).await?;
        client.execute(&stmt, &[&pem]).await?;
    }
    signing_key(pool, sql)
        .await?
        .ok_or_else(|| PgError::Corrupt("the signing key was not stored".into()))
}
