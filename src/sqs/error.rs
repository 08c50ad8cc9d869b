//! SQS wire errors: every engine error and every protocol-level rejection, mapped in one table to
//! the JSON `__type`, the query-protocol code and the HTTP status AWS uses.

use crate::engine::EngineError;

#[derive(Debug, thiserror::Error)]
pub enum SqsError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("The request must contain the parameter {0}.")]
    MissingParameter(String),
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("The action {0} is not valid for this endpoint.")]
    InvalidAction(String),
    #[error("{0}")]
    Serialization(String),
    #[error("There should be at least one {0} in the request.")]
    EmptyBatchRequest(String),
    #[error("Maximum number of entries per request are 10. You have sent {0}.")]
    TooManyEntriesInBatchRequest(usize),
    #[error("Id {0} repeated.")]
    BatchEntryIdsNotDistinct(String),
    #[error("A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")]
    InvalidBatchEntryId,
    #[error("Batch requests cannot be longer than {0} bytes. You have sent {1} bytes.")]
    BatchRequestTooLong(usize, usize),
    #[error("{1}")]
    Auth(&'static str, String, u16),
    #[error("Request body is larger than the {0} bytes accepted.")]
    RequestTooLarge(usize),
}

/// How an error looks on the wire.
pub struct WireError {
    /// The shape name in the JSON protocol (`com.amazonaws.sqs#<name>`).
    pub json_type: &'static str,
    /// The code of the query protocol (also sent to JSON clients in `x-amzn-query-error`).
    pub query_code: &'static str,
    pub status: u16,
    pub sender_fault: bool,
    pub message: String,
}

impl SqsError {
    pub fn wire(&self) -> WireError {
        use EngineError as E;
        let (json_type, query_code, status) = match self {
            SqsError::Engine(e) => match e {
                E::QueueDoesNotExist => (
                    "QueueDoesNotExist",
                    "AWS.SimpleQueueService.NonExistentQueue",
                    400,
                ),
                E::QueueNameExists(_) => ("QueueNameExists", "QueueAlreadyExists", 400),
                E::InvalidParameterValue(_) => {
                    ("InvalidParameterValue", "InvalidParameterValue", 400)
                }
                E::MissingParameter(_) => ("MissingParameter", "MissingParameter", 400),
                E::InvalidAttributeName(_) => ("InvalidAttributeName", "InvalidAttributeName", 400),
                E::InvalidAttributeValue(_) => {
                    ("InvalidAttributeValue", "InvalidAttributeValue", 400)
                }
                E::ReceiptHandleIsInvalid(_) => {
                    ("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 400)
                }
                E::MessageNotInflight => (
                    "MessageNotInflight",
                    "AWS.SimpleQueueService.MessageNotInflight",
                    400,
                ),
                E::InvalidMessageContents(_) => {
                    ("InvalidMessageContents", "InvalidMessageContents", 400)
                }
                E::UnsupportedOperation(_) => (
                    "UnsupportedOperation",
                    "AWS.SimpleQueueService.UnsupportedOperation",
                    400,
                ),
                E::ResourceNotFound(_) => (
                    "ResourceNotFoundException",
                    "ResourceNotFoundException",
                    404,
                ),
                E::OverLimit(_) => ("OverLimit", "OverLimit", 403),
                E::InvalidSecurity(_) => ("InvalidSecurity", "InvalidSecurity", 403),
                E::PurgeQueueInProgress(_) => (
                    "PurgeQueueInProgress",
                    "AWS.SimpleQueueService.PurgeQueueInProgress",
                    403,
                ),
                // SNS errors; SQS actions never raise them, the SNS front door has its own table.
                E::NotFound(_) => ("NotFound", "NotFound", 404),
                E::InvalidParameter(_) => ("InvalidParameterValue", "InvalidParameterValue", 400),
                E::Store(_) => ("InternalFailure", "InternalFailure", 500),
            },
            SqsError::MissingParameter(_) => ("MissingParameter", "MissingParameter", 400),
            SqsError::InvalidParameterValue(_) => {
                ("InvalidParameterValue", "InvalidParameterValue", 400)
            }
            SqsError::InvalidAction(_) => ("UnknownOperationException", "InvalidAction", 400),
            SqsError::Serialization(_) => ("SerializationException", "MalformedQueryString", 400),
            SqsError::EmptyBatchRequest(_) => (
                "EmptyBatchRequest",
                "AWS.SimpleQueueService.EmptyBatchRequest",
                400,
            ),
            SqsError::TooManyEntriesInBatchRequest(_) => (
                "TooManyEntriesInBatchRequest",
                "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                400,
            ),
            SqsError::BatchEntryIdsNotDistinct(_) => (
                "BatchEntryIdsNotDistinct",
                "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                400,
            ),
            SqsError::InvalidBatchEntryId => (
                "InvalidBatchEntryId",
                "AWS.SimpleQueueService.InvalidBatchEntryId",
                400,
            ),
            SqsError::BatchRequestTooLong(..) => (
                "BatchRequestTooLong",
                "AWS.SimpleQueueService.BatchRequestTooLong",
                400,
            ),
            SqsError::Auth(code, _, status) => (*code, *code, *status),
            SqsError::RequestTooLarge(_) => ("RequestEntityTooLarge", "RequestEntityTooLarge", 413),
        };
        WireError {
            json_type,
            query_code,
            status,
            sender_fault: status < 500,
            message: self.to_string(),
        }
    }

    /// A serde failure on a request body: a missing member becomes `MissingParameter`, anything
    /// else a malformed-input error naming what serde saw.
    pub fn from_serde(e: serde_json::Error) -> Self {
        let text = e.to_string();
        if let Some(rest) = text.strip_prefix("missing field `") {
            if let Some(name) = rest.split('`').next() {
                return SqsError::MissingParameter(name.to_string());
            }
        }
        SqsError::Serialization(format!("Malformed request: {text}"))
    }
}
