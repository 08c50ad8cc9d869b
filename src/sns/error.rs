//! SNS wire errors: every engine error and every protocol-level rejection, mapped in one table
//! to the query-protocol code and HTTP status SNS uses.

use crate::engine::EngineError;

#[derive(Debug, thiserror::Error)]
pub enum SnsError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A missing or malformed parameter (SNS's text: `Invalid parameter: …`).
    #[error("{0}")]
    InvalidParameter(String),
    /// A value SNS refuses at the protocol level (e.g. a binary attribute that is not base64).
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("The action {0} is not valid for this endpoint.")]
    InvalidAction(String),
    #[error("The batch request doesn't contain any entries.")]
    EmptyBatchRequest,
    #[error("The batch request contains more entries than permissible ({0}); the limit is 10.")]
    TooManyEntriesInBatchRequest(usize),
    #[error("Two or more batch entries in the request have the same Id ({0}).")]
    BatchEntryIdsNotDistinct(String),
    #[error("The Id of a batch entry in a batch request doesn't abide by the specification.")]
    InvalidBatchEntryId,
    #[error(
        "The length of all the batch messages put together is more than the limit ({0} bytes)."
    )]
    BatchRequestTooLong(usize),
    #[error("{1}")]
    Auth(&'static str, String, u16),
    #[error("Request body is larger than the {0} bytes accepted.")]
    RequestTooLarge(usize),
}

/// How an error looks on the wire.
pub struct WireError {
    pub code: &'static str,
    pub status: u16,
    pub sender_fault: bool,
    pub message: String,
}

impl SnsError {
    pub fn wire(&self) -> WireError {
        use EngineError as E;
        let (code, status) = match self {
            SnsError::Engine(e) => match e {
                E::NotFound(_) => ("NotFound", 404),
                E::ResourceNotFound(_) => ("ResourceNotFound", 404),
                // The topics engine raises OverLimit only for the tag quota.
                E::OverLimit(_) => ("TagLimitExceeded", 400),
                E::InvalidSecurity(_) => ("InvalidSecurity", 403),
                E::Store(_) => ("InternalError", 500),
                // Queue-side refusals never reach a publisher (delivery failures are dropped or
                // dead-lettered); anything else the engine refuses is a bad parameter.
                _ => ("InvalidParameter", 400),
            },
            SnsError::InvalidParameter(_) => ("InvalidParameter", 400),
            SnsError::InvalidParameterValue(_) => ("ParameterValueInvalid", 400),
            SnsError::InvalidAction(_) => ("InvalidAction", 400),
            SnsError::EmptyBatchRequest => ("EmptyBatchRequest", 400),
            SnsError::TooManyEntriesInBatchRequest(_) => ("TooManyEntriesInBatchRequest", 400),
            SnsError::BatchEntryIdsNotDistinct(_) => ("BatchEntryIdsNotDistinct", 400),
            SnsError::InvalidBatchEntryId => ("InvalidBatchEntryId", 400),
            SnsError::BatchRequestTooLong(_) => ("BatchRequestTooLong", 400),
            SnsError::Auth(code, _, status) => (*code, *status),
            SnsError::RequestTooLarge(_) => ("RequestEntityTooLarge", 413),
        };
        WireError {
            code,
            status,
            sender_fault: status < 500,
            message: self.to_string(),
        }
    }

    /// A serde failure on a decoded form: a missing member names the parameter.
    pub fn from_serde(e: serde_json::Error) -> Self {
        let text = e.to_string();
        if let Some(rest) = text.strip_prefix("missing field `") {
            if let Some(name) = rest.split('`').next() {
                return SnsError::InvalidParameter(format!(
                    "Invalid parameter: {name} Reason: no value for required parameter"
                ));
            }
        }
        SnsError::InvalidParameter(format!("Invalid parameter: {text}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_take_sns_codes_and_statuses() {
        let w = SnsError::from(EngineError::NotFound("Topic does not exist".into())).wire();
        assert_eq!(
            (w.code, w.status, w.message.as_str()),
            ("NotFound", 404, "Topic does not exist")
        );
        let w = SnsError::from(EngineError::InvalidParameter("Invalid parameter: x".into())).wire();
        assert_eq!((w.code, w.status), ("InvalidParameter", 400));
        let w = SnsError::from(EngineError::ResourceNotFound("r".into())).wire();
        assert_eq!((w.code, w.status), ("ResourceNotFound", 404));
        let w = SnsError::from(EngineError::Store(crate::store::StoreError::Io("x".into()))).wire();
        assert_eq!(
            (w.code, w.status, w.sender_fault),
            ("InternalError", 500, false)
        );
        let w = SnsError::InvalidParameterValue("v".into()).wire();
        assert_eq!((w.code, w.status), ("ParameterValueInvalid", 400));
        let w = SnsError::InvalidAction("X".into()).wire();
        assert_eq!((w.code, w.status), ("InvalidAction", 400));
    }

    #[test]
    fn missing_fields_become_invalid_parameter() {
        let e = serde_json::from_value::<std::collections::BTreeMap<String, String>>(
            serde_json::json!(1),
        )
        .unwrap_err();
        assert!(matches!(
            SnsError::from_serde(e),
            SnsError::InvalidParameter(_)
        ));
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Need {
            #[serde(rename = "TopicArn")]
            topic_arn: String,
        }
        let e = serde_json::from_value::<Need>(serde_json::json!({})).unwrap_err();
        assert_eq!(
            SnsError::from_serde(e).to_string(),
            "Invalid parameter: TopicArn Reason: no value for required parameter"
        );
    }
}
