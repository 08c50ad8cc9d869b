//! SNS subscription filter policies: parsing and validation with AWS's limits and error texts,
//! and matching against a message's attributes or its JSON body.
//!
//! A policy compiles to an OR of branches (one per `$or` alternative); a branch is an AND of
//! conditions, one per key; a condition holds when any of its patterns matches the key's value.

mod compile;
mod eval;
mod node;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use compile::Reason;

/// Largest policy document AWS accepts.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;
/// Most keys one policy (or one `$or` alternative of it) may test; nested policies count leaves.
pub const MAX_KEYS: usize = 5;
/// Ceiling on the policy's total combination count (see `compile::combinations`).
pub const MAX_COMBINATIONS: u64 = 150;

/// What a subscription's filter policy is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    MessageAttributes,
    MessageBody,
}

impl Scope {
    /// Reads the `FilterPolicyScope` subscription attribute.
    pub fn parse(value: &str) -> Result<Scope, PolicyError> {
        match value {
            "MessageAttributes" => Ok(Scope::MessageAttributes),
            "MessageBody" => Ok(Scope::MessageBody),
            other => Err(PolicyError::InvalidScope(other.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::MessageAttributes => "MessageAttributes",
            Scope::MessageBody => "MessageBody",
        }
    }
}

/// Why a policy was refused. `Display` is the InvalidParameter message SetSubscriptionAttributes
/// returns; [`PolicyError::subscribe_message`] is the form Subscribe returns.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    #[error("Invalid parameter: FilterPolicy: failed to parse JSON.")]
    NotJson,
    #[error("Invalid parameter: FilterPolicy: Filter policy is too long")]
    TooLarge,
    #[error("Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys")]
    TooManyKeys,
    #[error("Invalid parameter: FilterPolicy: Filter policy is too complex")]
    TooComplex,
    #[error(
        "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy"
    )]
    NestedInAttributeScope,
    #[error("Invalid parameter: FilterPolicy: {0}")]
    Syntax(Reason),
    #[error(
        "Invalid parameter: FilterPolicyScope: Invalid value [{0}]. Please use either MessageBody or MessageAttributes"
    )]
    InvalidScope(String),
}

impl PolicyError {
    /// The message as Subscribe words it: the same reason behind an `Attributes Reason:` tag.
    pub fn subscribe_message(&self) -> String {
        self.to_string().replacen(
            "Invalid parameter: ",
            "Invalid parameter: Attributes Reason: ",
            1,
        )
    }
}

impl From<Reason> for PolicyError {
    fn from(reason: Reason) -> Self {
        PolicyError::Syntax(reason)
    }
}

/// A validated, compiled filter policy.
#[derive(Debug, Clone)]
pub struct FilterPolicy {
    scope: Scope,
    branches: Vec<compile::Branch>,
}

impl FilterPolicy {
    /// Validates `json` as AWS does for Subscribe and SetSubscriptionAttributes.
    pub fn parse(json: &str, scope: Scope) -> Result<FilterPolicy, PolicyError> {
        let branches = compile::compile(json, scope)?;
        Ok(FilterPolicy { scope, branches })
    }

    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// Whether a message passes the policy.
    ///
    /// `attributes`: SNS message attributes as name -> (data type, string value); data types are
    /// String, String.Array (a JSON array in the string), Number and Binary, each optionally
    /// with a custom `.suffix`. `body`: the message body parsed as JSON, `None` when it is not
    /// JSON (which never matches a MessageBody policy).
    pub fn matches(
        &self,
        attributes: &BTreeMap<String, (String, String)>,
        body: Option<&serde_json::Value>,
    ) -> bool {
        match self.scope {
            Scope::MessageAttributes => eval::matches_attributes(&self.branches, attributes),
            Scope::MessageBody => eval::matches_body(&self.branches, body),
        }
    }
}
