//! The SNS front door: the query protocol (form `Action=<Action>`, XML answers), the only
//! protocol SNS clients speak. Inputs decode into JSON-shaped values with the generic codec in
//! `wire::query` (driven by `query_shapes`), run an action from `actions`, and encode back.

pub mod actions;
pub mod error;
pub mod links;
pub mod query;
pub mod query_shapes;

pub use actions::Ctx;
pub use error::SnsError;
pub use links::http_routes;

/// The query protocol's XML namespace for SNS.
pub const XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

/// Whether a query-protocol request belongs to SNS rather than SQS. The action decides, except
/// for the names both services define (`AddPermission`, `RemovePermission`): those go by the
/// signing scope's service, or by naming a topic rather than a queue.
pub fn routes_here(action: Option<&str>, scope_service: Option<&str>, names_topic: bool) -> bool {
    if scope_service == Some("sns") {
        return true;
    }
    match action {
        Some("AddPermission" | "RemovePermission") => names_topic,
        Some(a) => query_shapes::operation(a).is_some(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_by_action_scope_and_shared_names() {
        assert!(routes_here(Some("Publish"), None, false));
        assert!(routes_here(Some("CreateTopic"), Some("sqs"), false));
        assert!(!routes_here(Some("SendMessage"), None, false));
        assert!(!routes_here(Some("CreateQueue"), Some("sqs"), false));
        assert!(routes_here(Some("Nonsense"), Some("sns"), false));
        assert!(!routes_here(Some("AddPermission"), None, false));
        assert!(routes_here(Some("AddPermission"), None, true));
        assert!(!routes_here(None, None, false));
    }
}
