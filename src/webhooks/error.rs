//! Why a webhook was refused. Every variant is the sender's fault, so each maps to a 4xx.

/// A webhook that cannot be accepted; the `Display` text is the reason sent back to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("body is not JSON: {0}")]
    NotJson(String),
    #[error("missing field {0}")]
    MissingField(String),
    #[error("field {field} must be {expected}")]
    WrongType {
        field: String,
        expected: &'static str,
    },
    /// The payload is JSON but not the kind this platform sends (e.g. another `object`).
    #[error("{0}")]
    Unexpected(String),
    #[error("missing {0} header")]
    MissingSignature(String),
    #[error("{0} header does not match")]
    BadSignature(String),
}

impl WebhookError {
    /// The HTTP status to answer with: 401 for authentication failures, 400 for the rest.
    pub fn status(&self) -> u16 {
        match self {
            WebhookError::MissingSignature(_) | WebhookError::BadSignature(_) => 401,
            _ => 400,
        }
    }
}
