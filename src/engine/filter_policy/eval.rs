//! Evaluates compiled policies against message attributes or a JSON body.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value;

use super::compile::{scale, Branch, Condition, Exclusion, IpNet, NumericRange, Pattern};

/// One value a message carries under a policy key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Val<'a> {
    Str(&'a str),
    Num(f64),
    Bool(bool),
    Null,
}

impl<'a> Val<'a> {
    fn from_json(value: &'a Value) -> Option<Val<'a>> {
        match value {
            Value::String(s) => Some(Val::Str(s)),
            Value::Number(n) => n.as_f64().map(Val::Num),
            Value::Bool(b) => Some(Val::Bool(*b)),
            Value::Null => Some(Val::Null),
            Value::Array(_) | Value::Object(_) => None,
        }
    }
}

pub(super) fn matches_attributes(
    branches: &[Branch],
    attributes: &BTreeMap<String, (String, String)>,
) -> bool {
    branches.iter().any(|branch| {
        branch.iter().all(|condition| {
            // Attribute policies are flat, so the path is the attribute name.
            let name = condition.path.first().map(String::as_str).unwrap_or("");
            match attributes.get(name) {
                Some((data_type, value)) => attribute_holds(condition, data_type, value),
                None => holds(condition, false, &[]),
            }
        })
    })
}

fn attribute_holds(condition: &Condition, data_type: &str, value: &str) -> bool {
    // Custom types extend a base type with a suffix, e.g. `Number.float` or `String.uuid`.
    let base = data_type.split('.').next().unwrap_or("");
    if data_type == "String.Array" {
        // Arrays may hold strings, numbers, true, false and null; anything else is skipped.
        let items: Vec<Value> = match serde_json::from_str(value) {
            Ok(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        let values: Vec<Val> = items.iter().filter_map(Val::from_json).collect();
        return holds(condition, true, &values);
    }
    match base {
        "String" => holds(condition, true, &[Val::Str(value)]),
        "Number" => {
            let number = value.trim().parse::<f64>().ok().filter(|n| n.is_finite());
            let values: Vec<Val> = number.map(Val::Num).into_iter().collect();
            holds(condition, true, &values)
        }
        // SNS ignores Binary attributes entirely: for filtering they are absent.
        _ => holds(condition, false, &[]),
    }
}

pub(super) fn matches_body(branches: &[Branch], body: Option<&Value>) -> bool {
    let no_conditions = branches.iter().all(Vec::is_empty);
    if no_conditions {
        return true;
    }
    // Body policies apply to a JSON object only; any other body never matches.
    let Some(Value::Object(root)) = body else {
        return false;
    };
    let mut leaves: Vec<(String, Val)> = Vec::new();
    for (key, value) in root {
        flatten(key.clone(), value, &mut leaves);
    }
    branches.iter().any(|branch| {
        branch.iter().all(|condition| {
            let values: Vec<Val> = leaves
                .iter()
                .filter(|(path, _)| *path == condition.key)
                .map(|(_, v)| *v)
                .collect();
            // Only leaves exist for `exists`: a key holding an object or an empty array does not.
            holds(condition, !values.is_empty(), &values)
        })
    })
}

/// Collects the body's leaf values under dotted paths; array elements share their array's path.
fn flatten<'a>(path: String, value: &'a Value, out: &mut Vec<(String, Val<'a>)>) {
    match value {
        Value::Object(fields) => {
            for (key, child) in fields {
                flatten(format!("{path}.{key}"), child, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                flatten(path.clone(), item, out);
            }
        }
        scalar => {
            if let Some(v) = Val::from_json(scalar) {
                out.push((path, v));
            }
        }
    }
}

/// Whether a key with these values satisfies any of the condition's patterns.
fn holds(condition: &Condition, present: bool, values: &[Val]) -> bool {
    condition
        .patterns
        .iter()
        .any(|pattern| pattern_holds(pattern, present, values))
}

fn pattern_holds(pattern: &Pattern, present: bool, values: &[Val]) -> bool {
    match pattern {
        Pattern::Exists(wanted) => present == *wanted,
        // With several values (String.Array, body arrays) none may be excluded, and there must
        // be a value at all: absence is matched with `exists: false`, not `anything-but`.
        Pattern::AnythingBut(exclusion) => {
            !values.is_empty() && values.iter().all(|v| !excluded(exclusion, v))
        }
        _ => values.iter().any(|v| value_matches(pattern, v)),
    }
}

fn excluded(exclusion: &Exclusion, value: &Val) -> bool {
    match (exclusion, value) {
        (Exclusion::Strings(list), Val::Str(s)) => list.iter().any(|x| x == s),
        (Exclusion::Numbers(list), Val::Num(n)) => list.iter().any(|x| x.same_as(*n)),
        (Exclusion::Prefix(prefix), Val::Str(s)) => s.starts_with(prefix.as_str()),
        (Exclusion::Suffix(suffix), Val::Str(s)) => s.ends_with(suffix.as_str()),
        // A value of another kind is never one of the excluded ones.
        _ => false,
    }
}

fn value_matches(pattern: &Pattern, value: &Val) -> bool {
    match (pattern, value) {
        (Pattern::Str(p), Val::Str(s)) => p == s,
        (Pattern::Num(p), Val::Num(n)) => p.same_as(*n),
        (Pattern::Bool(p), Val::Bool(b)) => p == b,
        (Pattern::Null, Val::Null) => true,
        (Pattern::Prefix(p), Val::Str(s)) => s.starts_with(p.as_str()),
        (Pattern::Suffix(p), Val::Str(s)) => s.ends_with(p.as_str()),
        (Pattern::EqualsIgnoreCase(p), Val::Str(s)) => s.to_lowercase() == *p,
        (Pattern::Numeric(range), Val::Num(n)) => in_range(range, *n),
        (Pattern::Cidr(net), Val::Str(s)) => in_network(net, s),
        _ => false,
    }
}

fn in_range(range: &NumericRange, value: f64) -> bool {
    let Some(v) = scale(value) else {
        return false;
    };
    let above = range
        .lower
        .is_none_or(|b| if b.inclusive { v >= b.at } else { v > b.at });
    let below = range
        .upper
        .is_none_or(|b| if b.inclusive { v <= b.at } else { v < b.at });
    above && below
}

fn in_network(net: &IpNet, text: &str) -> bool {
    match (net, text.parse::<IpAddr>()) {
        (IpNet::V4 { net, bits }, Ok(IpAddr::V4(ip))) => {
            let mask = if *bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(ip) & mask == *net
        }
        (IpNet::V6 { net, bits }, Ok(IpAddr::V6(ip))) => {
            let mask = if *bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(ip) & mask == *net
        }
        _ => false,
    }
}
