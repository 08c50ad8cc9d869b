//! The SQS front door: the AWS JSON 1.0 protocol (`X-Amz-Target: AmazonSQS.<Action>`) and the
//! query protocol (form `Action=<Action>`, XML answers). Both decode into the JSON protocol's
//! input shape, run the same action, and encode the answer back in their own dialect.

pub mod actions;
pub mod error;
pub mod json;
pub mod query;
pub mod query_shapes;

pub use actions::Ctx;
pub use error::SqsError;

/// The query protocol's XML namespace for SQS.
pub const XMLNS: &str = "http://queue.amazonaws.com/doc/2012-11-05/";
