//! One error type for the load generator: setup failures stop a run, request
//! failures are counted as errors in the run's results.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum BenchError {
    #[error("bad endpoint `{url}`: {reason}")]
    Endpoint { url: String, reason: String },
    #[error("connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("http: {0}")]
    Http(#[from] hyper::Error),
    #[error("building request: {0}")]
    Request(#[from] http::Error),
    #[error("{action} answered HTTP {status}: {body}")]
    Status {
        action: &'static str,
        status: u16,
        body: String,
    },
    #[error("decoding {action} response: {source}")]
    Decode {
        action: &'static str,
        source: serde_json::Error,
    },
    #[error("amqp: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("amqp: publish was not confirmed (nack)")]
    Nack,
    #[error("amqp: consumer stream ended")]
    ConsumerEnded,
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Usage(String),
}

pub type Result<T> = std::result::Result<T, BenchError>;
