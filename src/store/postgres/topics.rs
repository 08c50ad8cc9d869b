//! Topics in the PostgreSQL store: one row per topic, the record (subscriptions included) as
//! JSONB. Topics change rarely; a whole-record write keeps every node's view consistent.

use deadpool_postgres::Pool;

use super::error::PgError;
use super::schema::in_schema;
use crate::engine::topics::{TopicKey, TopicRecord};

#[derive(Debug)]
pub(super) struct TopicSql {
    insert: String,
    update: String,
    get: String,
    list: String,
    delete: String,
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
            delete: q("DELETE FROM {s}.topics WHERE region = $1 AND name = $2"),
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
