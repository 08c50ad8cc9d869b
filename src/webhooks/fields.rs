//! Reading webhook JSON while remembering where we are, so a missing or mistyped field is
//! reported by its path (`entry[0].changes`), which is what a platform integrator needs to see.

use serde_json::Value;

use super::error::WebhookError;

pub(crate) fn parse_body(body: &[u8]) -> Result<Value, WebhookError> {
    serde_json::from_slice(body).map_err(|e| WebhookError::NotJson(e.to_string()))
}

/// A JSON value together with its path from the document root.
#[derive(Debug, Clone)]
pub(crate) struct Node<'a> {
    value: &'a Value,
    path: String,
}

impl<'a> Node<'a> {
    pub(crate) fn root(value: &'a Value) -> Self {
        Node {
            value,
            path: String::new(),
        }
    }

    pub(crate) fn value(&self) -> &'a Value {
        self.value
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn wrong(&self, expected: &'static str) -> WebhookError {
        WebhookError::WrongType {
            field: if self.path.is_empty() {
                "(body)".to_owned()
            } else {
                self.path.clone()
            },
            expected,
        }
    }

    /// The member `key`, or `None` when it is absent or `null` (platforms use both).
    pub(crate) fn get(&self, key: &str) -> Option<Node<'a>> {
        match self.value.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => Some(Node {
                value,
                path: self.child_path(key),
            }),
        }
    }

    pub(crate) fn req(&self, key: &str) -> Result<Node<'a>, WebhookError> {
        self.get(key)
            .ok_or_else(|| WebhookError::MissingField(self.child_path(key)))
    }

    pub(crate) fn str(&self) -> Result<&'a str, WebhookError> {
        self.value.as_str().ok_or_else(|| self.wrong("a string"))
    }

    /// An identifier that platforms send either as a string or as an integer.
    pub(crate) fn id(&self) -> Result<String, WebhookError> {
        match self.value {
            Value::String(s) if !s.is_empty() => Ok(s.clone()),
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
            _ => Err(self.wrong("a non-empty string or an integer")),
        }
    }

    /// A non-negative integer sent as a number or as a decimal string.
    pub(crate) fn u64(&self) -> Result<u64, WebhookError> {
        match self.value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| self.wrong("a non-negative integer"))
    }

    pub(crate) fn f64(&self) -> Result<f64, WebhookError> {
        match self.value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| self.wrong("a number"))
    }

    pub(crate) fn items(&self) -> Result<Vec<Node<'a>>, WebhookError> {
        let array = self
            .value
            .as_array()
            .ok_or_else(|| self.wrong("an array"))?;
        Ok(array
            .iter()
            .enumerate()
            .map(|(i, value)| Node {
                value,
                path: format!("{}[{i}]", self.path),
            })
            .collect())
    }

    /// `key` as a string when present and non-empty; anything else counts as absent.
    pub(crate) fn opt_str(&self, key: &str) -> Option<String> {
        match self.value.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            _ => None,
        }
    }

    /// `key` as a bool; absent, `null` or not a bool counts as false.
    pub(crate) fn flag(&self, key: &str) -> bool {
        self.value
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// Seconds or milliseconds since the epoch, told apart by size: second counts stay below
/// 10^11 until the year 5138, millisecond counts have been above it since 1973.
pub(crate) fn epoch_to_ms(n: u64) -> u64 {
    if n < 100_000_000_000 {
        n.saturating_mul(1000)
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_name_array_positions() {
        let v = json!({"entry": [{"changes": [{}]}, {}]});
        let root = Node::root(&v);
        let entries = root.req("entry").unwrap().items().unwrap();
        let err = entries[1].req("changes").unwrap_err();
        assert_eq!(err.to_string(), "missing field entry[1].changes");
        let change = &entries[0].req("changes").unwrap().items().unwrap()[0];
        assert_eq!(
            change.req("value").unwrap_err().to_string(),
            "missing field entry[0].changes[0].value"
        );
    }

    #[test]
    fn null_counts_as_missing_and_types_are_checked() {
        let v = json!({"a": null, "b": 3, "c": "12", "d": -1, "e": ""});
        let root = Node::root(&v);
        assert!(root.get("a").is_none());
        assert_eq!(root.req("b").unwrap().id().unwrap(), "3");
        assert_eq!(root.req("c").unwrap().u64().unwrap(), 12);
        assert_eq!(
            root.req("b").unwrap().str().unwrap_err().to_string(),
            "field b must be a string"
        );
        assert!(root.req("d").unwrap().u64().is_err());
        assert!(root.req("e").unwrap().id().is_err());
        assert_eq!(root.opt_str("e"), None);
    }

    #[test]
    fn not_json_is_reported() {
        let err = parse_body(b"{nope").unwrap_err();
        assert!(err.to_string().starts_with("body is not JSON"), "{err}");
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn epoch_units_are_detected() {
        assert_eq!(epoch_to_ms(1_700_000_000), 1_700_000_000_000);
        assert_eq!(epoch_to_ms(1_700_000_000_123), 1_700_000_000_123);
    }
}
