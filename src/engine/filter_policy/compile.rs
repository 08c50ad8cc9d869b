//! Turns a policy document into branches of conditions, refusing what AWS refuses with the
//! reason AWS gives.

use std::net::IpAddr;

use super::node::{self, Node};
use super::{PolicyError, Scope, MAX_COMBINATIONS, MAX_KEYS, MAX_POLICY_BYTES};

/// Numbers are compared at five decimal places within ±10^9, the precision AWS documents.
const NUMBER_LIMIT: f64 = 1e9;
const NUMBER_SCALE: f64 = 1e5;
/// `$or` alternatives multiply; past this many branches the combination count is exceeded anyway,
/// so expansion stops early rather than growing without bound.
const MAX_BRANCHES: usize = MAX_COMBINATIONS as usize;

/// The detail after `FilterPolicy:` in a syntax error, worded as AWS words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    #[error("Filter is not an object")]
    NotAnObject,
    #[error("\"{0}\" must be an object or an array")]
    MustBeObjectOrArray(String),
    #[error("Empty arrays are not allowed")]
    EmptyArray,
    #[error("Empty objects are not allowed")]
    EmptyObject,
    #[error("Match value must be String, number, true, false, or null")]
    BadMatchValue,
    #[error("Match expression name not found")]
    MatchNameMissing,
    #[error("Unrecognized match type {0}")]
    UnrecognizedMatchType(String),
    #[error("Only one key allowed in match expression")]
    OneKeyOnly,
    #[error("{0} match pattern must be a string")]
    MustBeString(&'static str),
    #[error("exists match pattern must be either true or false.")]
    ExistsNotBoolean,
    #[error("Anything-But expression name not found")]
    AnythingButNameMissing,
    #[error("Unsupported anything-but pattern: {0}")]
    UnsupportedAnythingBut(String),
    #[error("Null prefix/suffix not allowed")]
    EmptyAnythingButAffix,
    #[error("Value of anything-but must be an array or single string/number value.")]
    AnythingButBadValue,
    #[error("Inside anything but list, start|null|boolean is not supported.")]
    AnythingButBadMember,
    #[error(
        "Inside anything but list, either all values are number or string, mixed type is not supported"
    )]
    AnythingButMixed,
    #[error("Value of numeric must be an array.")]
    NumericNotArray,
    #[error("Invalid member in numeric match: {0}")]
    InvalidNumericMember(String),
    #[error("Unrecognized numeric range operator: {0}")]
    UnrecognizedNumericOperator(String),
    #[error("Value of {0} must be numeric")]
    ValueMustBeNumeric(String),
    #[error("Too many elements in numeric expression")]
    TooManyElements,
    #[error("Bad value in numeric range: {0}")]
    BadNumericRangeValue(String),
    #[error("Bad numeric range operator: {0}")]
    BadNumericRangeOperator(String),
    #[error("Too many terms in numeric range expression")]
    TooManyTerms,
    #[error("Bottom must be less than top")]
    BottomNotBelowTop,
    #[error("Value must be between -1.0E9 and 1.0E9, inclusive")]
    NumberOutOfRange,
    #[error("Malformed CIDR, one '/' required")]
    CidrSlash,
    #[error("Malformed CIDR, mask bits must be an integer")]
    CidrMaskNotInteger,
    #[error("Malformed CIDR, mask bits must not be negative")]
    CidrMaskNegative,
    #[error("Nonstandard IP address: {0}")]
    NonstandardIp(String),
    #[error("IPv4 mask bits must be < 32")]
    Ipv4MaskTooWide,
    #[error("IPv6 mask bits must be < 128")]
    Ipv6MaskTooWide,
    #[error("It must be an Array followed with $or.")]
    OrNotArray,
    #[error("Only JSON object is allowed in array of $or relationship.")]
    OrMemberNotObject,
    #[error("There must have at least 2 Objects in $or relationship.")]
    OrTooFew,
}

/// A number from a policy: exact at five decimals when within AWS's range, else by value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Number {
    pub value: f64,
    pub scaled: Option<i64>,
}

impl Number {
    pub fn new(value: f64) -> Number {
        Number {
            value,
            scaled: scale(value),
        }
    }

    pub fn same_as(&self, other: f64) -> bool {
        match (self.scaled, scale(other)) {
            (Some(a), Some(b)) => a == b,
            _ => self.value == other,
        }
    }
}

/// A number as an integer count of 10^-5 units, or `None` outside ±10^9.
pub(super) fn scale(value: f64) -> Option<i64> {
    if value.is_finite() && value.abs() <= NUMBER_LIMIT {
        Some((value * NUMBER_SCALE).round() as i64)
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Bound {
    pub at: i64,
    pub inclusive: bool,
}

/// A `numeric` range in scaled units; `=` is a closed range of one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NumericRange {
    pub lower: Option<Bound>,
    pub upper: Option<Bound>,
}

/// An IP network from a `cidr` pattern, as the address bits and the prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IpNet {
    V4 { net: u32, bits: u32 },
    V6 { net: u128, bits: u32 },
}

/// What `anything-but` excludes.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Exclusion {
    Strings(Vec<String>),
    Numbers(Vec<Number>),
    Prefix(String),
    Suffix(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Pattern {
    Str(String),
    Num(Number),
    Bool(bool),
    Null,
    Prefix(String),
    Suffix(String),
    /// Holds the lowercased pattern.
    EqualsIgnoreCase(String),
    AnythingBut(Exclusion),
    Numeric(NumericRange),
    Exists(bool),
    Cidr(IpNet),
}

/// One key of the policy and the patterns any of which satisfies it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Condition {
    /// The key's path from the root; attribute policies have one step.
    pub path: Vec<String>,
    /// The path joined with `.`, the form message bodies are flattened to.
    pub key: String,
    pub patterns: Vec<Pattern>,
}

pub(super) type Branch = Vec<Condition>;

pub(super) fn compile(json: &str, scope: Scope) -> Result<Vec<Branch>, PolicyError> {
    if json.len() > MAX_POLICY_BYTES {
        return Err(PolicyError::TooLarge);
    }
    let root = node::parse(json).ok_or(PolicyError::NotJson)?;
    let Node::Object(fields) = root else {
        return Err(Reason::NotAnObject.into());
    };
    // An empty policy filters nothing.
    if fields.is_empty() {
        return Ok(vec![Vec::new()]);
    }
    let branches = compile_object(&fields, &mut Vec::new(), vec![Vec::new()])?;
    if scope == Scope::MessageAttributes && branches.iter().flatten().any(|c| c.path.len() > 1) {
        return Err(PolicyError::NestedInAttributeScope);
    }
    if branches.iter().any(|b| distinct_keys(b) > MAX_KEYS) {
        return Err(PolicyError::TooManyKeys);
    }
    if combinations(&branches) > MAX_COMBINATIONS {
        return Err(PolicyError::TooComplex);
    }
    Ok(branches)
}

fn distinct_keys(branch: &Branch) -> usize {
    let mut keys: Vec<&str> = branch.iter().map(|c| c.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.len()
}

/// AWS's complexity measure: per `$or` alternative, the product over keys of (values in the
/// key's array x the key's nesting depth); alternatives add up.
pub(super) fn combinations(branches: &[Branch]) -> u64 {
    branches
        .iter()
        .map(|b| {
            b.iter().fold(1u64, |acc, c| {
                acc.saturating_mul(c.patterns.len() as u64 * c.path.len() as u64)
            })
        })
        .fold(0u64, u64::saturating_add)
}

/// Compiles one object level, adding its conditions to every branch so far (`$or` forks them).
fn compile_object(
    fields: &[(String, Node)],
    path: &mut Vec<String>,
    mut branches: Vec<Branch>,
) -> Result<Vec<Branch>, PolicyError> {
    if fields.is_empty() {
        return Err(Reason::EmptyObject.into());
    }
    for (key, value) in fields {
        if key == "$or" {
            branches = compile_or(value, path, branches)?;
            continue;
        }
        match value {
            Node::Object(inner) => {
                path.push(key.clone());
                let result = compile_object(inner, path, branches);
                path.pop();
                branches = result?;
            }
            Node::Array(items) => {
                let patterns = compile_values(items)?;
                let mut full = path.clone();
                full.push(key.clone());
                let condition = Condition {
                    key: full.join("."),
                    path: full,
                    patterns,
                };
                for branch in &mut branches {
                    branch.push(condition.clone());
                }
            }
            _ => return Err(Reason::MustBeObjectOrArray(key.clone()).into()),
        }
    }
    Ok(branches)
}

fn compile_or(
    value: &Node,
    path: &mut Vec<String>,
    branches: Vec<Branch>,
) -> Result<Vec<Branch>, PolicyError> {
    let Node::Array(alternatives) = value else {
        return Err(Reason::OrNotArray.into());
    };
    let mut forked = Vec::new();
    for alternative in alternatives {
        let Node::Object(fields) = alternative else {
            return Err(Reason::OrMemberNotObject.into());
        };
        forked.extend(compile_object(fields, path, branches.clone())?);
        if forked.len() > MAX_BRANCHES {
            return Err(PolicyError::TooComplex);
        }
    }
    if alternatives.len() < 2 {
        return Err(Reason::OrTooFew.into());
    }
    Ok(forked)
}

fn compile_values(items: &[Node]) -> Result<Vec<Pattern>, Reason> {
    let patterns = items
        .iter()
        .map(|item| match item {
            Node::String(s) => Ok(Pattern::Str(s.clone())),
            // Out-of-range exact numbers are accepted and compared by value.
            Node::Number(n, _) => Ok(Pattern::Num(Number::new(*n))),
            Node::Bool(b) => Ok(Pattern::Bool(*b)),
            Node::Null => Ok(Pattern::Null),
            Node::Object(fields) => compile_match(fields),
            Node::Array(_) => Err(Reason::BadMatchValue),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if patterns.is_empty() {
        return Err(Reason::EmptyArray);
    }
    Ok(patterns)
}

/// A `{ "operator": operand }` object in a key's value list.
fn compile_match(fields: &[(String, Node)]) -> Result<Pattern, Reason> {
    let Some((name, operand)) = fields.first() else {
        return Err(Reason::MatchNameMissing);
    };
    let single = fields.len() == 1;
    let pattern = match name.as_str() {
        "prefix" => Pattern::Prefix(string_operand(operand, "prefix")?),
        "suffix" => Pattern::Suffix(string_operand(operand, "suffix")?),
        "equals-ignore-case" => {
            Pattern::EqualsIgnoreCase(string_operand(operand, "equals-ignore-case")?.to_lowercase())
        }
        "exists" => match operand {
            Node::Bool(b) => Pattern::Exists(*b),
            _ => return Err(Reason::ExistsNotBoolean),
        },
        // AWS's message for a non-string CIDR names the prefix operator.
        "cidr" => Pattern::Cidr(parse_cidr(&string_operand(operand, "prefix")?)?),
        "anything-but" => {
            let pattern = Pattern::AnythingBut(compile_anything_but(operand)?);
            // AWS reports extra keys after anything-but with its numeric-expression wording.
            return if single {
                Ok(pattern)
            } else {
                Err(Reason::TooManyElements)
            };
        }
        "numeric" => {
            let Node::Array(terms) = operand else {
                return Err(Reason::NumericNotArray);
            };
            let pattern = Pattern::Numeric(compile_numeric(terms)?);
            return if single {
                Ok(pattern)
            } else {
                Err(Reason::TooManyElements)
            };
        }
        other => return Err(Reason::UnrecognizedMatchType(other.to_owned())),
    };
    if single {
        Ok(pattern)
    } else {
        Err(Reason::OneKeyOnly)
    }
}

fn string_operand(operand: &Node, operator: &'static str) -> Result<String, Reason> {
    match operand {
        Node::String(s) => Ok(s.clone()),
        _ => Err(Reason::MustBeString(operator)),
    }
}

fn compile_anything_but(operand: &Node) -> Result<Exclusion, Reason> {
    match operand {
        Node::String(s) => Ok(Exclusion::Strings(vec![s.clone()])),
        Node::Number(n, _) => Ok(Exclusion::Numbers(vec![ranged(*n)?])),
        Node::Array(items) => {
            let mut strings = Vec::new();
            let mut numbers = Vec::new();
            for item in items {
                match item {
                    Node::String(s) => strings.push(s.clone()),
                    Node::Number(n, _) => numbers.push(ranged(*n)?),
                    _ => return Err(Reason::AnythingButBadMember),
                }
            }
            match (strings.is_empty(), numbers.is_empty()) {
                (false, true) => Ok(Exclusion::Strings(strings)),
                (true, false) => Ok(Exclusion::Numbers(numbers)),
                _ => Err(Reason::AnythingButMixed),
            }
        }
        Node::Object(fields) => {
            let Some((name, inner)) = fields.first() else {
                return Err(Reason::AnythingButNameMissing);
            };
            let operator = match name.as_str() {
                "prefix" => "prefix",
                "suffix" => "suffix",
                other => return Err(Reason::UnsupportedAnythingBut(other.to_owned())),
            };
            let text = string_operand(inner, operator)?;
            if text.is_empty() {
                return Err(Reason::EmptyAnythingButAffix);
            }
            if fields.len() > 1 {
                return Err(Reason::OneKeyOnly);
            }
            Ok(if operator == "prefix" {
                Exclusion::Prefix(text)
            } else {
                Exclusion::Suffix(text)
            })
        }
        _ => Err(Reason::AnythingButBadValue),
    }
}

/// A number used in a comparison must lie within AWS's numeric range.
fn ranged(value: f64) -> Result<Number, Reason> {
    ranged_scaled(value).map(|scaled| Number {
        value,
        scaled: Some(scaled),
    })
}

fn ranged_scaled(value: f64) -> Result<i64, Reason> {
    scale(value).ok_or(Reason::NumberOutOfRange)
}

/// `["=", x]`, `["<" | "<=", x]`, `[">" | ">=", x]` or `[">" | ">=", x, "<" | "<=", y]`.
fn compile_numeric(terms: &[Node]) -> Result<NumericRange, Reason> {
    let Some(first) = terms.first() else {
        return Err(Reason::InvalidNumericMember("]".to_owned()));
    };
    let Node::String(operator) = first else {
        return Err(Reason::InvalidNumericMember(first.token_text()));
    };
    let operand = |index: usize, name: &str| -> Result<i64, Reason> {
        match terms.get(index) {
            Some(Node::Number(n, _)) => ranged_scaled(*n),
            _ => Err(Reason::ValueMustBeNumeric(name.to_owned())),
        }
    };
    let bound = |at, inclusive| Some(Bound { at, inclusive });
    match operator.as_str() {
        "=" => {
            let at = operand(1, "equals")?;
            if terms.len() > 2 {
                return Err(Reason::TooManyElements);
            }
            Ok(NumericRange {
                lower: bound(at, true),
                upper: bound(at, true),
            })
        }
        "<" | "<=" => {
            let at = operand(1, operator)?;
            if terms.len() > 2 {
                return Err(Reason::TooManyElements);
            }
            Ok(NumericRange {
                lower: None,
                upper: bound(at, operator == "<="),
            })
        }
        ">" | ">=" => {
            let bottom = operand(1, operator)?;
            let lower = bound(bottom, operator == ">=");
            let Some(second) = terms.get(2) else {
                return Ok(NumericRange { lower, upper: None });
            };
            let Node::String(top_operator) = second else {
                return Err(Reason::BadNumericRangeValue(second.token_text()));
            };
            if top_operator != "<" && top_operator != "<=" {
                return Err(Reason::BadNumericRangeOperator(top_operator.clone()));
            }
            let top = operand(3, top_operator)?;
            if terms.len() > 4 {
                return Err(Reason::TooManyTerms);
            }
            if bottom >= top {
                return Err(Reason::BottomNotBelowTop);
            }
            Ok(NumericRange {
                lower,
                upper: bound(top, top_operator == "<="),
            })
        }
        other => Err(Reason::UnrecognizedNumericOperator(other.to_owned())),
    }
}

/// Parses `address/bits` with AWS's checks, in AWS's order.
fn parse_cidr(text: &str) -> Result<IpNet, Reason> {
    let mut parts: Vec<&str> = text.split('/').collect();
    // AWS's split drops trailing empty fields, so `10.0.0.0/` lacks a mask rather than has a bad one.
    while parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    let [address, mask] = parts[..] else {
        return Err(Reason::CidrSlash);
    };
    let bits: i32 = mask.parse().map_err(|_| Reason::CidrMaskNotInteger)?;
    let bits = u32::try_from(bits).map_err(|_| Reason::CidrMaskNegative)?;
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            if bits > 31 {
                return Err(Reason::Ipv4MaskTooWide);
            }
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            Ok(IpNet::V4 {
                net: u32::from(ip) & mask,
                bits,
            })
        }
        Ok(IpAddr::V6(ip)) => {
            if bits > 127 {
                return Err(Reason::Ipv6MaskTooWide);
            }
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            Ok(IpNet::V6 {
                net: u128::from(ip) & mask,
                bits,
            })
        }
        Err(_) => Err(Reason::NonstandardIp(address.to_owned())),
    }
}
