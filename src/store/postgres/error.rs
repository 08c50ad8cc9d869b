//! What can go wrong talking to PostgreSQL, and how it reaches the engine.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("invalid PostgreSQL store URL: {0}")]
    Url(String),
    #[error("PostgreSQL: {}", describe(.0))]
    Db(#[from] tokio_postgres::Error),
    #[error("PostgreSQL connection pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("PostgreSQL connection pool: {0}")]
    Build(#[from] deadpool_postgres::BuildError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("schema {schema} is at version {found}; this lull understands version {supported}")]
    Version {
        schema: String,
        found: String,
        supported: u32,
    },
}

/// The server's own message (with its SQLSTATE) says far more than the client error's summary.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

impl From<PgError> for StoreError {
    fn from(e: PgError) -> Self {
        match e {
            PgError::Corrupt(m) => StoreError::Corrupt(m),
            other => StoreError::Io(other.to_string()),
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        PgError::from(e).into()
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        PgError::from(e).into()
    }
}
