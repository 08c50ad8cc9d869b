//! The `lambda` protocol. A function subscribed to a topic gets each notification as an SNS
//! event record, put on the function's invoke queue (`lull-function-NAME`, in the function
//! ARN's region, made on first use); whatever runs the function reads that queue and wraps
//! the bodies as `{"Records": [...]}`.

use crate::engine::queue::QueueKey;

/// The queue a function's invocations wait in.
pub fn function_invoke_queue(name: &str) -> String {
    format!("lull-function-{name}")
}

/// Function names: 1–64 letters, digits, `-` and `_`.
fn valid_function_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The invoke queue of `arn:aws:lambda:REGION:ACCOUNT:function:NAME` (a trailing `:QUALIFIER`,
/// a version or alias, is accepted and names the same function).
pub fn function_queue(arn: &str) -> Option<QueueKey> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", region, _account, "function", name]
        | ["arn", _, "lambda", region, _account, "function", name, _] => (!region.is_empty()
            && valid_function_name(name))
        .then(|| QueueKey::new(*region, function_invoke_queue(name))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_arns_name_their_invoke_queue() {
        assert_eq!(function_invoke_queue("f"), "lull-function-f");
        assert_eq!(
            function_queue("arn:aws:lambda:eu-west-1:123456789012:function:register-customer"),
            Some(QueueKey::new(
                "eu-west-1",
                "lull-function-register-customer"
            ))
        );
        assert_eq!(
            function_queue("arn:aws:lambda:us-east-1:1:function:f:live"),
            Some(QueueKey::new("us-east-1", "lull-function-f"))
        );
        for bad in [
            "arn:aws:lambda:us-east-1:1:layer:f",
            "arn:aws:lambda::1:function:f",
            "arn:aws:lambda:us-east-1:1:function:",
            "arn:aws:lambda:us-east-1:1:function:bad name",
            "arn:aws:sqs:us-east-1:1:q",
            "f",
        ] {
            assert_eq!(function_queue(bad), None, "{bad}");
        }
        let long = format!("arn:aws:lambda:us-east-1:1:function:{}", "x".repeat(65));
        assert_eq!(function_queue(&long), None);
    }
}
