//! Where the tables live and how they are created: the store URL (a libpq-style URL plus lull's
//! own `schema` and `pool_size` parameters) and the idempotent migration run at every open.

use std::str::FromStr;

use super::error::PgError;

/// Version of the table layout below; a database at a newer version is refused. Version 2 added
/// `topics`, version 3 `topic_dedup`, version 4 the `debounce_*` tables; every change so far is
/// additive, so an older schema is brought up to date in place.
pub const SCHEMA_VERSION: u32 = 4;
pub const DEFAULT_SCHEMA: &str = "lull";
const DEFAULT_POOL_SIZE: usize = 16;

/// A parsed store URL.
#[derive(Debug, Clone)]
pub struct Target {
    pub config: tokio_postgres::Config,
    pub schema: String,
    pub pool_size: usize,
}

pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Parses `postgres://user:pass@host:port/db?schema=NAME&pool_size=N&sslmode=…`. `schema` and
/// `pool_size` are lull's; everything else is handed to the driver.
pub fn parse_url(url: &str) -> Result<Target, PgError> {
    if !is_postgres_url(url) {
        return Err(PgError::Url(
            "must start with postgres:// or postgresql://".into(),
        ));
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut schema = DEFAULT_SCHEMA.to_string();
    let mut pool_size = DEFAULT_POOL_SIZE;
    let mut rest = form_urlencoded::Serializer::new(String::new());
    let mut has_rest = false;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "schema" => schema = v.into_owned(),
            "pool_size" => {
                pool_size = v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    PgError::Url(format!("pool_size {v:?} is not a positive number"))
                })?;
            }
            _ => {
                rest.append_pair(&k, &v);
                has_rest = true;
            }
        }
    }
    validate_schema(&schema)?;
    let driver_url = if has_rest {
        format!("{base}?{}", rest.finish())
    } else {
        base.to_string()
    };
    let mut config =
        tokio_postgres::Config::from_str(&driver_url).map_err(|e| PgError::Url(e.to_string()))?;
    if config.get_application_name().is_none() {
        config.application_name("lull");
    }
    Ok(Target {
        config,
        schema,
        pool_size,
    })
}

/// The URL with its password (if any) masked, for logs and error messages.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// The schema name is spliced into SQL text, so only plain lower-case identifiers are allowed.
fn validate_schema(name: &str) -> Result<(), PgError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(PgError::Url(format!(
            "schema {name:?} must be a lower-case identifier (a-z, 0-9, _; at most 63)"
        )))
    }
}

/// Replaces `{s}` in a statement template with the schema name.
pub fn in_schema(schema: &str, template: &str) -> String {
    template.replace("{s}", schema)
}

/// The whole layout. Every statement is idempotent; the caller holds an advisory lock so that
/// nodes starting together do not race on `CREATE … IF NOT EXISTS`.
///
/// Messages keep the fields that change after sending in columns (visibility, receive count,
/// dead-letter origin) and the rest as one binary record, so a claim never rewrites the body.
const LAYOUT: &str = "
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS {s}.queue_ids;
CREATE SEQUENCE IF NOT EXISTS {s}.message_seq;
CREATE TABLE IF NOT EXISTS {s}.queues (
    id BIGINT NOT NULL DEFAULT nextval('{s}.queue_ids') UNIQUE,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    record JSONB NOT NULL,
    PRIMARY KEY (region, name)
);
CREATE TABLE IF NOT EXISTS {s}.messages (
    queue_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    visible_at BIGINT NOT NULL,
    in_flight BOOLEAN NOT NULL DEFAULT FALSE,
    nonce BIGINT NOT NULL DEFAULT 0,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive_ms BIGINT,
    sent_ms BIGINT NOT NULL,
    group_id TEXT,
    dead_letter_source TEXT,
    record BYTEA NOT NULL,
    PRIMARY KEY (queue_id, seq)
);
CREATE INDEX IF NOT EXISTS messages_by_visibility ON {s}.messages (queue_id, visible_at);
CREATE INDEX IF NOT EXISTS messages_by_age ON {s}.messages (queue_id, sent_ms);
CREATE INDEX IF NOT EXISTS messages_by_group ON {s}.messages (queue_id, group_id, seq)
    WHERE group_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS {s}.dedup (
    queue_id BIGINT NOT NULL,
    group_id TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    expires BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (queue_id, group_id, dedup_id)
);
CREATE INDEX IF NOT EXISTS dedup_by_expiry ON {s}.dedup (queue_id, expires);
CREATE TABLE IF NOT EXISTS {s}.topics (
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    record JSONB NOT NULL,
    PRIMARY KEY (region, name)
);
CREATE TABLE IF NOT EXISTS {s}.topic_dedup (
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    expires BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (region, name, dedup_id)
);
-- Debounce buffers: one row per pending conversation (locked by every change to it), its
-- fragments in order, the message ids seen per app, and each sender's learned cadence.
CREATE TABLE IF NOT EXISTS {s}.debounce_buffers (
    app TEXT NOT NULL,
    account TEXT NOT NULL,
    conversation TEXT NOT NULL,
    meta TEXT NOT NULL,
    next_seq BIGINT NOT NULL DEFAULT 0,
    lease_until BIGINT NOT NULL DEFAULT 0,
    ready_at BIGINT NOT NULL,
    PRIMARY KEY (app, account, conversation)
);
CREATE INDEX IF NOT EXISTS debounce_buffers_by_ready ON {s}.debounce_buffers (ready_at);
CREATE TABLE IF NOT EXISTS {s}.debounce_fragments (
    app TEXT NOT NULL,
    account TEXT NOT NULL,
    conversation TEXT NOT NULL,
    seq BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    received_ms BIGINT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (app, account, conversation, seq)
);
CREATE TABLE IF NOT EXISTS {s}.debounce_seen (
    app TEXT NOT NULL,
    message_id TEXT NOT NULL,
    expires BIGINT NOT NULL,
    PRIMARY KEY (app, message_id)
);
CREATE INDEX IF NOT EXISTS debounce_seen_by_expiry ON {s}.debounce_seen (expires);
CREATE TABLE IF NOT EXISTS {s}.debounce_cadence (
    app TEXT NOT NULL,
    account TEXT NOT NULL,
    conversation TEXT NOT NULL,
    last_at BIGINT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (app, account, conversation)
);
CREATE INDEX IF NOT EXISTS debounce_cadence_by_age ON {s}.debounce_cadence (last_at);
";

/// Creates whatever is missing and checks the recorded layout version.
pub async fn migrate(client: &mut tokio_postgres::Client, schema: &str) -> Result<(), PgError> {
    let tx = client.transaction().await?;
    // Two-key form: one lock per schema, apart from the per-queue locks.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('lull.migrate'), hashtext($1))",
        &[&schema],
    )
    .await?;
    tx.batch_execute(&in_schema(schema, LAYOUT)).await?;
    tx.execute(
        &in_schema(
            schema,
            "INSERT INTO {s}.meta (key, value) VALUES ('schema_version', $1)
             ON CONFLICT (key) DO NOTHING",
        ),
        &[&SCHEMA_VERSION.to_string()],
    )
    .await?;
    let found: String = tx
        .query_one(
            &in_schema(
                schema,
                "SELECT value FROM {s}.meta WHERE key = 'schema_version'",
            ),
            &[],
        )
        .await?
        .get(0);
    match found.parse::<u32>().ok() {
        Some(SCHEMA_VERSION) => {}
        // The layout above already added what an older version lacked.
        Some(v) if (1..SCHEMA_VERSION).contains(&v) => {
            tx.execute(
                &in_schema(
                    schema,
                    "UPDATE {s}.meta SET value = $1 WHERE key = 'schema_version'",
                ),
                &[&SCHEMA_VERSION.to_string()],
            )
            .await?;
        }
        _ => {
            return Err(PgError::Version {
                schema: schema.to_string(),
                found,
                supported: SCHEMA_VERSION,
            })
        }
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_takes_lull_parameters_and_passes_the_rest_on() {
        let t = parse_url("postgres://u@db:5433/app?schema=edge_1&pool_size=4&sslmode=disable")
            .expect("valid");
        assert_eq!(t.schema, "edge_1");
        assert_eq!(t.pool_size, 4);
        assert_eq!(t.config.get_dbname(), Some("app"));
        assert_eq!(t.config.get_user(), Some("u"));
        assert_eq!(t.config.get_application_name(), Some("lull"));
        let d = parse_url("postgresql://127.0.0.1/test").expect("valid");
        assert_eq!(d.schema, DEFAULT_SCHEMA);
        assert_eq!(d.pool_size, DEFAULT_POOL_SIZE);
    }

    #[test]
    fn passwords_are_masked_in_messages() {
        assert_eq!(
            redacted("postgres://app:s3cret@db:5432/q?schema=x"),
            "postgres://app:***@db:5432/q?schema=x"
        );
        assert_eq!(redacted("postgres://app@db/q"), "postgres://app@db/q");
    }

    #[test]
    fn url_rejects_unsafe_schema_names_and_other_schemes() {
        for bad in [
            "postgres://h/db?schema=a;drop",
            "postgres://h/db?schema=Upper",
            "postgres://h/db?schema=",
            "postgres://h/db?schema=1abc",
            "postgres://h/db?pool_size=0",
            "mysql://h/db",
        ] {
            assert!(parse_url(bad).is_err(), "{bad} should be rejected");
        }
    }
}
