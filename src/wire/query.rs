//! The AWS query protocol, translated to and from the JSON shapes the actions work on.
//!
//! Requests arrive as a form (`Action=SendMessage&Version=2012-11-05&QueueUrl=...`) and
//! responses leave as XML. Every action is written once against the AWS JSON 1.0 shapes
//! (`serde_json::Value`); this codec is the only place that knows how the query protocol
//! spells those shapes. It is driven by a small static description of each operation
//! ([`Operation`], [`Shape`], [`Field`]), so a new query service (SNS) needs a table, not code.
//!
//! The rules are those of AWS's query protocol as the SDKs implement them:
//! - a structure member is `Parent.Member` (the member's query name);
//! - a list is `Name.member.N` (or `Name.<member name>.N`), a flattened list `Name.N` where
//!   `Name` is the member's own name when it has one (`AttributeName.1`), and an empty list
//!   is sent as the bare `Name=`;
//! - a map is `Name.entry.N.key` / `Name.entry.N.value`, a flattened map `Name.N.<key name>`
//!   / `Name.N.<value name>` (`Attribute.1.Name`, `Tag.1.Key`);
//! - indexes start at 1; numbers and booleans are text; blobs are base64 text in both
//!   protocols, so they pass through unchanged; timestamps are ISO 8601 on the query side
//!   and epoch seconds on the JSON side.
//!
//! Output XML mirrors the same names: `<{Op}Response><{Op}Result>…</{Op}Result>
//! <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></{Op}Response>`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

/// How one value is spelled on the wire. Tables of these are `static`s (see `sqs::query_shapes`).
#[derive(Debug)]
pub enum Shape {
    String,
    Integer,
    Long,
    Boolean,
    /// Base64 text on both sides.
    Blob,
    /// ISO 8601 on the query side, epoch seconds on the JSON side.
    Timestamp,
    List {
        member: &'static Shape,
        flattened: bool,
        /// Not flattened: the element segment/tag (`member` unless the model names it).
        /// Flattened: replaces the field's own name when not empty (`AttributeName.N`).
        member_name: &'static str,
    },
    Map {
        key: &'static Shape,
        value: &'static Shape,
        flattened: bool,
        /// The per-entry segment/tag of a map that is not flattened (`entry`).
        entry_name: &'static str,
        key_name: &'static str,
        value_name: &'static str,
    },
    Structure(&'static [Field]),
}

impl Shape {
    /// A list spelled `Name.<member_name>.N` (`member_name` is usually `member`).
    pub const fn list(member: &'static Shape, member_name: &'static str) -> Shape {
        Shape::List {
            member,
            flattened: false,
            member_name,
        }
    }

    /// A flattened list spelled `<member_name>.N`, or `Name.N` when `member_name` is empty.
    pub const fn flat_list(member: &'static Shape, member_name: &'static str) -> Shape {
        Shape::List {
            member,
            flattened: true,
            member_name,
        }
    }

    /// A map spelled `Name.entry.N.key` / `Name.entry.N.value`.
    pub const fn map(key: &'static Shape, value: &'static Shape) -> Shape {
        Shape::Map {
            key,
            value,
            flattened: false,
            entry_name: "entry",
            key_name: "key",
            value_name: "value",
        }
    }

    /// A flattened map spelled `Name.N.<key_name>` / `Name.N.<value_name>`.
    pub const fn flat_map(
        key: &'static Shape,
        value: &'static Shape,
        key_name: &'static str,
        value_name: &'static str,
    ) -> Shape {
        Shape::Map {
            key,
            value,
            flattened: true,
            entry_name: "",
            key_name,
            value_name,
        }
    }
}

/// One member of a structure.
#[derive(Debug)]
pub struct Field {
    /// The member's name in the JSON shapes.
    pub name: &'static str,
    /// The member's name in forms and XML (the model's `locationName`, else `name`).
    pub query_name: &'static str,
    pub shape: &'static Shape,
}

impl Field {
    /// A member spelled the same in both protocols.
    pub const fn new(name: &'static str, shape: &'static Shape) -> Field {
        Field {
            name,
            query_name: name,
            shape,
        }
    }

    /// A member whose query spelling differs from its JSON name (`Attributes` → `Attribute`).
    pub const fn renamed(
        name: &'static str,
        query_name: &'static str,
        shape: &'static Shape,
    ) -> Field {
        Field {
            name,
            query_name,
            shape,
        }
    }
}

/// One action: its input structure and, when it returns anything, its output structure and
/// the element that wraps the output in the XML response (`SendMessageResult`).
#[derive(Debug)]
pub struct Operation {
    pub name: &'static str,
    pub input: &'static Shape,
    pub output: Option<&'static Shape>,
    pub result_wrapper: Option<&'static str>,
}

/// A form that cannot be read as the operation's input. `param` is the form key at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("value '{value}' for parameter {param} is not a valid {expected}")]
    InvalidValue {
        param: String,
        expected: &'static str,
        value: String,
    },
    #[error("malformed parameter {param}: {reason}")]
    MalformedInput { param: String, reason: String },
}

impl QueryError {
    /// The form key the error is about.
    pub fn param(&self) -> &str {
        match self {
            QueryError::InvalidValue { param, .. } | QueryError::MalformedInput { param, .. } => {
                param
            }
        }
    }
}

/// Decodes an `application/x-www-form-urlencoded` body (`+` is a space, `%XX` bytes are
/// UTF-8; invalid UTF-8 becomes U+FFFD as in every form decoder).
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// Builds the JSON input of `op` from form parameters. Parameters the shape does not name
/// (`Action`, `Version`, signature fields, unknown members) are ignored, as AWS does.
pub fn decode_input(op: &Operation, params: &[(String, String)]) -> Result<Value, QueryError> {
    let params = Params::new(params);
    match op.input {
        Shape::Structure(fields) => decode_fields(fields, "", &params).map(Value::Object),
        other => Ok(decode_member(other, "", op.name, &params)?.unwrap_or(Value::Null)),
    }
}

/// Writes the XML response of `op` for its JSON output. Members the shape does not name are
/// left out; a missing or `null` member is simply absent.
pub fn encode_output(op: &Operation, output: &Value, xmlns: &str, request_id: &str) -> String {
    let mut out = String::with_capacity(512);
    out.push_str("<?xml version=\"1.0\"?>");
    let _ = write!(out, "<{}Response xmlns=\"", op.name);
    escape_into(xmlns, &mut out);
    out.push_str("\">");
    if let Some(shape) = op.output {
        match op.result_wrapper {
            Some(wrapper) => {
                let _ = write!(out, "<{wrapper}>");
                encode_body(shape, output, &mut out);
                let _ = write!(out, "</{wrapper}>");
            }
            None => encode_body(shape, output, &mut out),
        }
    }
    out.push_str("<ResponseMetadata><RequestId>");
    escape_into(request_id, &mut out);
    let _ = write!(out, "</RequestId></ResponseMetadata></{}Response>", op.name);
    out
}

/// Writes a query-protocol error document. `sender_fault` selects `Sender` (the client's
/// request was wrong) or `Receiver` (the server failed).
pub fn encode_error(
    code: &str,
    message: &str,
    sender_fault: bool,
    xmlns: &str,
    request_id: &str,
) -> String {
    let mut out = String::with_capacity(256 + message.len());
    out.push_str("<?xml version=\"1.0\"?><ErrorResponse xmlns=\"");
    escape_into(xmlns, &mut out);
    out.push_str("\"><Error><Type>");
    out.push_str(if sender_fault { "Sender" } else { "Receiver" });
    out.push_str("</Type><Code>");
    escape_into(code, &mut out);
    out.push_str("</Code><Message>");
    escape_into(message, &mut out);
    out.push_str("</Message><Detail/></Error><RequestId>");
    escape_into(request_id, &mut out);
    out.push_str("</RequestId></ErrorResponse>");
    out
}

/// Escapes text for an XML element or attribute so that an XML 1.0 parser returns it
/// exactly: `\r` becomes `&#xD;` because parsers otherwise fold `\r\n` into `\n`.
/// Characters XML 1.0 cannot carry at all (most C0 controls, U+FFFE/U+FFFF) become U+FFFD;
/// SQS refuses them in message bodies, and one of them would make the whole document
/// unreadable.
pub fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            '\t' | '\n' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            _ => out.push(c),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Decoding

/// The form, sorted by key so that "every key under `prefix.`" is one range scan.
struct Params<'a> {
    map: BTreeMap<&'a str, &'a str>,
}

impl<'a> Params<'a> {
    fn new(pairs: &'a [(String, String)]) -> Self {
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            // A repeated key keeps its first value, like AWS's own front ends.
            map.entry(k.as_str()).or_insert(v.as_str());
        }
        Params { map }
    }

    fn get(&self, key: &str) -> Option<&'a str> {
        self.map.get(key).copied()
    }

    /// Keys strictly below `key` (`key.…`).
    fn below<'s>(&'s self, key: &str) -> impl Iterator<Item = &'a str> + 's {
        let start = format!("{key}.");
        self.map
            .range::<str, _>((
                std::ops::Bound::Included(start.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .map(|(k, _)| *k)
            .take_while(move |k| k.starts_with(start.as_str()))
    }

    /// Whether the form says anything about `key` (the key itself or anything below it).
    fn mentions(&self, key: &str) -> bool {
        self.map.contains_key(key) || self.below(key).next().is_some()
    }

    /// The element indexes used below `key` (`key.3…` → 3), in ascending order.
    fn indexes(&self, key: &str) -> Result<BTreeSet<usize>, QueryError> {
        let mut found = BTreeSet::new();
        for k in self.below(key) {
            let rest = &k[key.len() + 1..];
            let segment = rest.split('.').next().unwrap_or(rest);
            match segment.parse::<usize>() {
                Ok(n) if n >= 1 && segment.bytes().all(|b| b.is_ascii_digit()) => {
                    found.insert(n);
                }
                _ => {
                    return Err(QueryError::MalformedInput {
                        param: k.to_string(),
                        reason: format!("'{segment}' is not a list index (1, 2, …)"),
                    })
                }
            }
        }
        Ok(found)
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn decode_fields(
    fields: &[Field],
    prefix: &str,
    params: &Params<'_>,
) -> Result<Map<String, Value>, QueryError> {
    let mut object = Map::new();
    for field in fields {
        if let Some(value) = decode_member(field.shape, prefix, field.query_name, params)? {
            object.insert(field.name.to_string(), value);
        }
    }
    Ok(object)
}

/// Decodes the member spelled `name` under `prefix`; `None` when the form does not mention it.
/// The prefix and name stay apart because a flattened list replaces the name.
fn decode_member(
    shape: &Shape,
    prefix: &str,
    name: &str,
    params: &Params<'_>,
) -> Result<Option<Value>, QueryError> {
    let key = join(prefix, name);
    match shape {
        Shape::Structure(fields) => {
            if !params.mentions(&key) {
                return Ok(None);
            }
            decode_fields(fields, &key, params).map(|o| Some(Value::Object(o)))
        }
        Shape::List {
            member,
            flattened,
            member_name,
        } => {
            let base = match (*flattened, member_name.is_empty()) {
                (true, true) => key.clone(),
                (true, false) => join(prefix, member_name),
                (false, _) => format!("{key}.{member_name}"),
            };
            let indexes = params.indexes(&base)?;
            if indexes.is_empty() {
                // An empty list travels as the bare name with an empty value.
                let empty = params.get(&key) == Some("") || params.get(&base) == Some("");
                return Ok(empty.then(|| Value::Array(Vec::new())));
            }
            let mut items = Vec::with_capacity(indexes.len());
            for i in indexes {
                let item_key = format!("{base}.{i}");
                match decode_member(member, &base, &i.to_string(), params)? {
                    Some(v) => items.push(v),
                    None => {
                        return Err(QueryError::MalformedInput {
                            param: item_key,
                            reason: "list element has no value".to_string(),
                        })
                    }
                }
            }
            Ok(Some(Value::Array(items)))
        }
        Shape::Map {
            key: key_shape,
            value: value_shape,
            flattened,
            entry_name,
            key_name,
            value_name,
        } => {
            let base = if *flattened {
                key.clone()
            } else {
                format!("{key}.{entry_name}")
            };
            let indexes = params.indexes(&base)?;
            if indexes.is_empty() {
                return Ok(None);
            }
            let mut object = Map::new();
            for i in indexes {
                let entry = format!("{base}.{i}");
                let k = match decode_member(key_shape, &entry, key_name, params)? {
                    Some(Value::String(s)) => s,
                    Some(other) => other.to_string(),
                    None => {
                        return Err(QueryError::MalformedInput {
                            param: join(&entry, key_name),
                            reason: "map entry has no key".to_string(),
                        })
                    }
                };
                let v =
                    decode_member(value_shape, &entry, value_name, params)?.ok_or_else(|| {
                        QueryError::MalformedInput {
                            param: join(&entry, value_name),
                            reason: format!("map entry '{k}' has no value"),
                        }
                    })?;
                object.insert(k, v);
            }
            Ok(Some(Value::Object(object)))
        }
        scalar => match params.get(&key) {
            None => Ok(None),
            Some(text) => decode_scalar(scalar, &key, text).map(Some),
        },
    }
}

fn decode_scalar(shape: &Shape, key: &str, text: &str) -> Result<Value, QueryError> {
    let invalid = |expected: &'static str| QueryError::InvalidValue {
        param: key.to_string(),
        expected,
        value: text.to_string(),
    };
    match shape {
        Shape::Integer => text
            .trim()
            .parse::<i32>()
            .map(|n| Value::Number(n.into()))
            .map_err(|_| invalid("integer")),
        Shape::Long => text
            .trim()
            .parse::<i64>()
            .map(|n| Value::Number(n.into()))
            .map_err(|_| invalid("long integer")),
        Shape::Boolean => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(invalid("boolean (true or false)")),
        },
        Shape::Timestamp => parse_timestamp(text.trim())
            .and_then(epoch_number)
            .ok_or_else(|| invalid("timestamp (ISO 8601)")),
        // Strings, and blobs, which are base64 text in both protocols.
        _ => Ok(Value::String(text.to_string())),
    }
}

fn epoch_number(seconds: f64) -> Option<Value> {
    if seconds.fract() == 0.0 && seconds.abs() < 9.0e15 {
        Some(Value::Number((seconds as i64).into()))
    } else {
        Number::from_f64(seconds).map(Value::Number)
    }
}

// ---------------------------------------------------------------------------------------
// Encoding

/// Writes the members of an output structure without an element of its own.
fn encode_body(shape: &Shape, value: &Value, out: &mut String) {
    if let (Shape::Structure(fields), Value::Object(object)) = (shape, value) {
        encode_fields(fields, object, out);
    }
}

fn encode_fields(fields: &[Field], object: &Map<String, Value>, out: &mut String) {
    for field in fields {
        match object.get(field.name) {
            None | Some(Value::Null) => {}
            Some(value) => encode_member(field.shape, field.query_name, value, out),
        }
    }
}

fn encode_member(shape: &Shape, tag: &str, value: &Value, out: &mut String) {
    match shape {
        Shape::Structure(fields) => {
            let _ = write!(out, "<{tag}>");
            if let Value::Object(object) = value {
                encode_fields(fields, object, out);
            }
            let _ = write!(out, "</{tag}>");
        }
        Shape::List {
            member,
            flattened,
            member_name,
        } => {
            let items: &[Value] = match value {
                Value::Array(items) => items,
                single => std::slice::from_ref(single),
            };
            if *flattened {
                let item_tag = if member_name.is_empty() {
                    tag
                } else {
                    member_name
                };
                for item in items {
                    encode_member(member, item_tag, item, out);
                }
            } else {
                let _ = write!(out, "<{tag}>");
                for item in items {
                    encode_member(member, member_name, item, out);
                }
                let _ = write!(out, "</{tag}>");
            }
        }
        Shape::Map {
            value: value_shape,
            flattened,
            entry_name,
            key_name,
            value_name,
            ..
        } => {
            let Value::Object(entries) = value else {
                return;
            };
            if !*flattened {
                let _ = write!(out, "<{tag}>");
            }
            let entry_tag = if *flattened { tag } else { entry_name };
            for (k, v) in entries {
                let _ = write!(out, "<{entry_tag}><{key_name}>");
                escape_into(k, out);
                let _ = write!(out, "</{key_name}>");
                encode_member(value_shape, value_name, v, out);
                let _ = write!(out, "</{entry_tag}>");
            }
            if !*flattened {
                let _ = write!(out, "</{tag}>");
            }
        }
        scalar => {
            let _ = write!(out, "<{tag}>");
            encode_scalar(scalar, value, out);
            let _ = write!(out, "</{tag}>");
        }
    }
}

fn encode_scalar(shape: &Shape, value: &Value, out: &mut String) {
    match (shape, value) {
        (_, Value::String(s)) => escape_into(s, out),
        (Shape::Timestamp, Value::Number(n)) => match n.as_f64() {
            Some(seconds) => format_timestamp(seconds, out),
            None => escape_into(&n.to_string(), out),
        },
        (_, Value::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
        (_, Value::Number(n)) => {
            let _ = write!(out, "{n}");
        }
        (_, other) => escape_into(&other.to_string(), out),
    }
}

// ---------------------------------------------------------------------------------------
// Timestamps: ISO 8601 (UTC) <-> epoch seconds, on the proleptic Gregorian calendar.

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn format_timestamp(seconds: f64, out: &mut String) {
    let millis_total = (seconds * 1000.0).round() as i64;
    let secs = millis_total.div_euclid(1000);
    let millis = millis_total.rem_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let in_day = secs.rem_euclid(86_400);
    let _ = write!(
        out,
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    );
    if millis != 0 {
        let _ = write!(out, ".{millis:03}");
    }
    out.push('Z');
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` (no zone means UTC) or plain epoch seconds.
fn parse_timestamp(text: &str) -> Option<f64> {
    if let Ok(seconds) = text.parse::<f64>() {
        return seconds.is_finite().then_some(seconds);
    }
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(range)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut fraction = 0.0;
    if let Some(digits) = rest.strip_prefix('.') {
        let end = digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(digits.len());
        if end == 0 {
            return None;
        }
        fraction = format!("0.{}", &digits[..end]).parse().ok()?;
        rest = &digits[end..];
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        zone => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let zone = zone[1..].replace(':', "");
            if zone.len() != 4 || !zone.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let hh: i64 = zone[..2].parse().ok()?;
            let mm: i64 = zone[2..].parse().ok()?;
            sign * (hh * 3600 + mm * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let whole = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(whole as f64 + fraction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static STRING: Shape = Shape::String;
    static INTEGER: Shape = Shape::Integer;
    static BOOLEAN: Shape = Shape::Boolean;
    static TIMESTAMP: Shape = Shape::Timestamp;
    static BLOB: Shape = Shape::Blob;
    static NAMES: Shape = Shape::list(&STRING, "member");
    static CUSTOM_NAMES: Shape = Shape::list(&STRING, "Item");
    static FLAT_PLAIN: Shape = Shape::flat_list(&STRING, "");
    static FLAT_NAMED: Shape = Shape::flat_list(&INTEGER, "Number");
    static PLAIN_MAP: Shape = Shape::map(&STRING, &STRING);
    static INNER: Shape = Shape::Structure(&[
        Field::new("Flag", &BOOLEAN),
        Field::renamed("When", "At", &TIMESTAMP),
    ]);
    static INNER_LIST: Shape = Shape::list(&INNER, "member");
    static STRUCT_MAP: Shape = Shape::flat_map(&STRING, &INNER, "K", "V");
    static INPUT: Shape = Shape::Structure(&[
        Field::new("Name", &STRING),
        Field::new("Count", &INTEGER),
        Field::new("Data", &BLOB),
        Field::new("Names", &NAMES),
        Field::new("Custom", &CUSTOM_NAMES),
        Field::new("Plain", &FLAT_PLAIN),
        Field::new("Numbers", &FLAT_NAMED),
        Field::new("Map", &PLAIN_MAP),
        Field::renamed("Inners", "InnerList", &INNER_LIST),
        Field::renamed("Things", "Thing", &STRUCT_MAP),
        Field::new("Inner", &INNER),
    ]);
    static OP: Operation = Operation {
        name: "DoThing",
        input: &INPUT,
        output: Some(&INPUT),
        result_wrapper: Some("DoThingResult"),
    };
    static BARE: Operation = Operation {
        name: "DoBare",
        input: &INPUT,
        output: Some(&INPUT),
        result_wrapper: None,
    };

    fn form(s: &str) -> Vec<(String, String)> {
        parse_form(s.as_bytes())
    }

    #[test]
    fn decodes_every_spelling_of_lists_maps_and_structures() {
        let params = form(
            "Action=DoThing&Version=1&Name=a+b%26c&Count=-7&Data=AAE%3D\
             &Names.member.2=second&Names.member.1=first&Custom.Item.1=x\
             &Plain.1=p&Number.1=5&Number.10=6&Number.2=7\
             &Map.entry.1.key=k1&Map.entry.1.value=v1&Map.entry.2.key=k2&Map.entry.2.value=\
             &InnerList.member.1.Flag=true&InnerList.member.1.At=2024-02-29T23:59:58.5Z\
             &Thing.1.K=one&Thing.1.V.Flag=FALSE&Inner.At=2024-01-01T00:00:00%2B01:00",
        );
        let got = decode_input(&OP, &params).unwrap();
        assert_eq!(
            got,
            json!({
                "Name": "a b&c", "Count": -7, "Data": "AAE=",
                "Names": ["first", "second"], "Custom": ["x"], "Plain": ["p"],
                "Numbers": [5, 7, 6],
                "Map": {"k1": "v1", "k2": ""},
                "Inners": [{"Flag": true, "When": 1_709_251_198.5}],
                "Things": {"one": {"Flag": false}},
                "Inner": {"When": 1_704_063_600},
            })
        );
    }

    #[test]
    fn empty_list_marker_becomes_an_empty_array_and_absent_members_stay_absent() {
        let got = decode_input(&OP, &form("Names=&Plain=")).unwrap();
        assert_eq!(got, json!({"Names": [], "Plain": []}));
        assert_eq!(
            decode_input(&OP, &form("Action=DoThing")).unwrap(),
            json!({})
        );
    }

    #[test]
    fn bad_numbers_booleans_and_indexes_name_the_parameter() {
        let err = decode_input(&OP, &form("Count=12x")).unwrap_err();
        assert_eq!(err.param(), "Count");
        assert!(err.to_string().contains("integer"), "{err}");
        let err = decode_input(&OP, &form("Count=99999999999")).unwrap_err();
        assert_eq!(err.param(), "Count");
        let err = decode_input(&OP, &form("InnerList.member.1.Flag=yes")).unwrap_err();
        assert_eq!(err.param(), "InnerList.member.1.Flag");
        let err = decode_input(&OP, &form("Inner.At=yesterday")).unwrap_err();
        assert_eq!(err.param(), "Inner.At");
        let err = decode_input(&OP, &form("Names.member.x=1")).unwrap_err();
        assert_eq!(err.param(), "Names.member.x");
        let err = decode_input(&OP, &form("Names.member.0=1")).unwrap_err();
        assert_eq!(err.param(), "Names.member.0");
        let err = decode_input(&OP, &form("Map.entry.1.value=v")).unwrap_err();
        assert_eq!(err.param(), "Map.entry.1.key");
        let err = decode_input(&OP, &form("Map.entry.1.key=k")).unwrap_err();
        assert_eq!(err.param(), "Map.entry.1.value");
    }

    #[test]
    fn first_value_of_a_repeated_key_wins() {
        let got = decode_input(&OP, &form("Name=one&Name=two")).unwrap();
        assert_eq!(got, json!({"Name": "one"}));
    }

    #[test]
    fn encodes_output_with_wrapper_lists_maps_and_metadata() {
        let xml = encode_output(
            &OP,
            &json!({
                "Name": "n", "Count": 3, "Unknown": "dropped", "Data": null,
                "Names": ["a", "b"], "Custom": [], "Plain": ["p1", "p2"], "Numbers": [1],
                "Map": {"k": "v"},
                "Inners": [{"Flag": true, "When": 1_709_251_198.5}],
                "Things": {"t": {"Flag": false}},
                "Inner": {"When": 0},
            }),
            "urn:x",
            "rid-1",
        );
        assert_eq!(
            xml,
            "<?xml version=\"1.0\"?><DoThingResponse xmlns=\"urn:x\"><DoThingResult>\
             <Name>n</Name><Count>3</Count>\
             <Names><member>a</member><member>b</member></Names><Custom></Custom>\
             <Plain>p1</Plain><Plain>p2</Plain><Number>1</Number>\
             <Map><entry><key>k</key><value>v</value></entry></Map>\
             <InnerList><member><Flag>true</Flag><At>2024-02-29T23:59:58.500Z</At></member></InnerList>\
             <Thing><K>t</K><V><Flag>false</Flag></V></Thing>\
             <Inner><At>1970-01-01T00:00:00Z</At></Inner>\
             </DoThingResult><ResponseMetadata><RequestId>rid-1</RequestId></ResponseMetadata>\
             </DoThingResponse>"
        );
    }

    #[test]
    fn output_without_wrapper_or_shape() {
        let xml = encode_output(&BARE, &json!({"Name": "n"}), "urn:x", "r");
        assert!(xml.contains("<DoBareResponse xmlns=\"urn:x\"><Name>n</Name><ResponseMetadata>"));
        static NONE: Operation = Operation {
            name: "Nothing",
            input: &INPUT,
            output: None,
            result_wrapper: None,
        };
        let xml = encode_output(&NONE, &json!({}), "urn:x", "r");
        assert_eq!(
            xml,
            "<?xml version=\"1.0\"?><NothingResponse xmlns=\"urn:x\"><ResponseMetadata>\
             <RequestId>r</RequestId></ResponseMetadata></NothingResponse>"
        );
    }

    #[test]
    fn escapes_everything_an_xml_parser_would_otherwise_change() {
        let mut out = String::new();
        escape_into("a\r\nb\t<c>&\"d'😀\u{1}\u{fffe}", &mut out);
        assert_eq!(
            out,
            "a&#xD;\nb\t&lt;c&gt;&amp;&quot;d&apos;😀\u{fffd}\u{fffd}"
        );
    }

    #[test]
    fn error_document_shape() {
        let xml = encode_error(
            "AWS.SimpleQueueService.NonExistentQueue",
            "The specified queue does not exist <x>",
            true,
            "http://queue.amazonaws.com/doc/2012-11-05/",
            "r-1",
        );
        assert_eq!(
            xml,
            "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">\
             <Error><Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code>\
             <Message>The specified queue does not exist &lt;x&gt;</Message><Detail/></Error>\
             <RequestId>r-1</RequestId></ErrorResponse>"
        );
        assert!(
            encode_error("InternalError", "m", false, "", "r").contains("<Type>Receiver</Type>")
        );
    }

    #[test]
    fn timestamps_round_trip_through_the_calendar() {
        for (text, seconds) in [
            ("1970-01-01T00:00:00Z", 0.0),
            ("2000-02-29T12:00:00Z", 951_825_600.0),
            ("1969-12-31T23:59:59Z", -1.0),
            ("2038-01-19T03:14:08Z", 2_147_483_648.0),
            ("2024-02-29T23:59:58.500Z", 1_709_251_198.5),
        ] {
            assert_eq!(parse_timestamp(text), Some(seconds), "{text}");
            let mut out = String::new();
            format_timestamp(seconds, &mut out);
            assert_eq!(out, text);
        }
        assert_eq!(
            parse_timestamp("2024-01-01T01:00:00+01:00"),
            Some(1_704_067_200.0)
        );
        assert_eq!(parse_timestamp("1704067200"), Some(1_704_067_200.0));
        assert_eq!(parse_timestamp("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_timestamp("2024-01-01"), None);
    }

    #[test]
    fn form_decoding_handles_plus_percent_and_utf8() {
        assert_eq!(
            parse_form(b"A=x+y%2B%0D%0A%F0%9F%98%80&B"),
            vec![
                ("A".to_string(), "x y+\r\n😀".to_string()),
                ("B".to_string(), String::new())
            ]
        );
    }
}
