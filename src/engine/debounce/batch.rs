//! A flushed conversation as it travels through `{app}-inbox.fifo` to the handler: the handler
//! call JSON of DESIGN.md, and [`Batch`], the same JSON parsed back by the dispatcher.
//!
//! ```json
//! {"app": "patricia", "platform": "zapi", "account": "5511…", "conversation": "5511…",
//!  "text": "oi\ntudo bem?",
//!  "messages": [{"id": "…", "text": "oi", "at": "2024-05-01T12:00:00.000Z", "type": "text",
//!                "received_at": "…", "raw": {…}}, …],
//!  "first_at": "…", "last_at": "…"}
//! ```
//! `at` is the platform's time of each message; `received_at`, `first_at` and `last_at` are
//! lull's receive times, the ones the debouncer timed the batch by. `parts` and `sender_name`
//! appear when a message has them.

use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::fragment::{ConversationKey, Fragment};
use crate::clock::Millis;
use crate::engine::topics::envelope::iso8601_ms;
use crate::webhooks::{Part, Platform};

/// The FIFO queue a flushed conversation goes to.
pub fn inbox_queue_name(app: &str) -> String {
    format!("{app}-inbox.fifo")
}

/// The inbox message group of a conversation: `{account}:{conversation}` when that is a valid
/// SQS group id (≤ 128 ASCII letters, digits, punctuation), else a hash of the key.
pub fn group_id(key: &ConversationKey) -> String {
    let plain = format!("{}:{}", key.account, key.conversation);
    let valid = plain.len() <= 128
        && plain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation());
    if valid {
        plain
    } else {
        let mut h = Sha256::new();
        h.update(key.account.as_bytes());
        h.update([0]);
        h.update(key.conversation.as_bytes());
        format!("h:{}", hex::encode(h.finalize()))
    }
}

/// The inbox deduplication id of a batch: a hash of its fragment ids, so a batch flushed again
/// after a crash (before its fragments were removed) is dropped by the inbox.
pub fn dedup_id(fragments: &[Fragment]) -> String {
    let mut h = Sha256::new();
    for f in fragments {
        h.update(f.id.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// The fragments' texts joined with `\n`, empty ones skipped.
pub fn joined_text(fragments: &[Fragment]) -> String {
    fragments
        .iter()
        .filter_map(|f| f.text.as_deref())
        .filter(|t| !t.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn span(fragments: &[Fragment]) -> (Millis, Millis) {
    let first = fragments.iter().map(|f| f.received_ms).min().unwrap_or(0);
    let last = fragments.iter().map(|f| f.received_ms).max().unwrap_or(0);
    (first, last)
}

/// The handler call for a batch. `with_raw = false` leaves the platforms' payloads out (for a
/// batch that would otherwise not fit in one queue message).
pub fn handler_call(
    key: &ConversationKey,
    platform: Platform,
    fragments: &[Fragment],
    with_raw: bool,
) -> Value {
    let messages: Vec<Value> = fragments
        .iter()
        .map(|f| {
            let mut m = Map::new();
            m.insert("id".into(), json!(f.id));
            m.insert("text".into(), json!(f.text));
            m.insert("at".into(), json!(iso8601_ms(f.at_ms)));
            m.insert("type".into(), json!(f.kind));
            if !f.parts.is_empty() {
                m.insert("parts".into(), json!(f.parts));
            }
            if let Some(name) = &f.sender_name {
                m.insert("sender_name".into(), json!(name));
            }
            m.insert("received_at".into(), json!(iso8601_ms(f.received_ms)));
            if with_raw && !f.raw.is_null() {
                m.insert("raw".into(), f.raw.clone());
            }
            Value::Object(m)
        })
        .collect();
    let (first, last) = span(fragments);
    json!({
        "app": key.app,
        "platform": platform,
        "account": key.account,
        "conversation": key.conversation,
        "text": joined_text(fragments),
        "messages": messages,
        "first_at": iso8601_ms(first),
        "last_at": iso8601_ms(last),
    })
}

/// An inbox message parsed back: what the dispatcher needs for the stale-reply check and to
/// put the fragments back (`restore_fragments`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "HandlerCall")]
pub struct Batch {
    pub key: ConversationKey,
    pub platform: Platform,
    pub text: String,
    pub fragments: Vec<Fragment>,
    /// lull's receive time of the first and last fragment.
    pub first_at: Millis,
    pub last_at: Millis,
}

#[derive(Deserialize)]
struct HandlerCall {
    app: String,
    platform: Platform,
    account: String,
    conversation: String,
    #[serde(default)]
    text: String,
    messages: Vec<CallMessage>,
    first_at: String,
    last_at: String,
}

#[derive(Deserialize)]
struct CallMessage {
    id: String,
    #[serde(default)]
    text: Option<String>,
    at: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    parts: Vec<Part>,
    #[serde(default)]
    sender_name: Option<String>,
    #[serde(default)]
    received_at: Option<String>,
    #[serde(default)]
    raw: Value,
}

impl TryFrom<HandlerCall> for Batch {
    type Error = String;

    fn try_from(c: HandlerCall) -> Result<Self, String> {
        let time = |field: &str, v: &str| {
            parse_rfc3339_ms(v).ok_or_else(|| format!("{field}: {v:?} is not an RFC 3339 time"))
        };
        let first_at = time("first_at", &c.first_at)?;
        let last_at = time("last_at", &c.last_at)?;
        let fragments = c
            .messages
            .into_iter()
            .map(|m| {
                let at_ms = time("messages.at", &m.at)?;
                let received_ms = match &m.received_at {
                    Some(r) => time("messages.received_at", r)?,
                    None => at_ms,
                };
                Ok(Fragment {
                    id: m.id,
                    text: m.text,
                    kind: m.kind,
                    parts: m.parts,
                    sender_name: m.sender_name,
                    at_ms,
                    received_ms,
                    raw: m.raw,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Batch {
            key: ConversationKey::new(c.app, c.account, c.conversation),
            platform: c.platform,
            text: c.text,
            fragments,
            first_at,
            last_at,
        })
    }
}

impl Batch {
    pub fn parse(body: &str) -> Result<Batch, serde_json::Error> {
        serde_json::from_str(body)
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)` to milliseconds since the epoch.
pub fn parse_rfc3339_ms(s: &str) -> Option<Millis> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..3 {
            millis *= 10;
        }
    }
    let offset_secs = match &s[i..] {
        "Z" | "z" => 0,
        rest if rest.len() == 6 && matches!(b[i], b'+' | b'-') && b[i + 3] == b':' => {
            let sign = if b[i] == b'+' { 1 } else { -1 };
            sign * (num(i + 1, 2)? * 3600 + num(i + 4, 2)? * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_secs;
    u64::try_from(secs * 1000 + millis).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::PartKind;

    fn fragment(id: &str, text: Option<&str>, at: Millis, received: Millis) -> Fragment {
        Fragment {
            id: id.into(),
            text: text.map(str::to_owned),
            kind: "text".into(),
            parts: vec![],
            sender_name: None,
            at_ms: at,
            received_ms: received,
            raw: json!({"id": id}),
        }
    }

    #[test]
    fn handler_call_joins_texts_and_round_trips_as_a_batch() {
        let key = ConversationKey::new("bot", "5511999", "5511888");
        let mut photo = fragment("m3", None, 1_700_000_002_000, 1_700_000_002_345);
        photo.kind = "image".into();
        photo.parts = vec![Part::new(PartKind::Image, "image")];
        photo.sender_name = Some("Ana".into());
        let fragments = vec![
            fragment("m1", Some("oi"), 1_700_000_000_000, 1_700_000_000_100),
            fragment("m2", Some("  "), 1_700_000_001_000, 1_700_000_001_200),
            photo,
            fragment(
                "m4",
                Some("quanto custa?"),
                1_700_000_003_000,
                1_700_000_003_999,
            ),
        ];
        let call = handler_call(&key, Platform::Zapi, &fragments, true);
        assert_eq!(call["text"], "oi\nquanto custa?");
        assert_eq!(call["platform"], "zapi");
        assert_eq!(call["first_at"], "2023-11-14T22:13:20.100Z");
        assert_eq!(call["last_at"], "2023-11-14T22:13:23.999Z");
        assert_eq!(call["messages"][0]["at"], "2023-11-14T22:13:20.000Z");
        assert_eq!(call["messages"][2]["type"], "image");
        assert_eq!(call["messages"][2]["sender_name"], "Ana");
        assert!(call["messages"][0].get("parts").is_none());
        assert!(call["messages"][0].get("sender_name").is_none());
        let batch = Batch::parse(&call.to_string()).unwrap();
        assert_eq!(batch.key, key);
        assert_eq!(batch.fragments, fragments);
        assert_eq!(batch.first_at, 1_700_000_000_100);
        assert_eq!(batch.last_at, 1_700_000_003_999);
        let lean = handler_call(&key, Platform::Zapi, &fragments, false);
        assert!(lean["messages"][0].get("raw").is_none());
    }

    #[test]
    fn group_ids_are_valid_and_stable() {
        let key = ConversationKey::new("a", "acct", "5511@s.whatsapp.net");
        assert_eq!(group_id(&key), "acct:5511@s.whatsapp.net");
        let odd = ConversationKey::new("a", "acct", "José");
        let g = group_id(&odd);
        assert!(g.starts_with("h:") && g.len() <= 128, "{g}");
        assert_eq!(g, group_id(&odd.clone()));
        let long = ConversationKey::new("a", "acct", "x".repeat(200));
        assert!(group_id(&long).len() <= 128);
        assert_ne!(group_id(&long), g);
    }

    #[test]
    fn dedup_id_depends_on_the_fragment_ids_only() {
        let a = vec![fragment("1", Some("x"), 0, 0), fragment("2", None, 0, 0)];
        let b = vec![fragment("1", Some("y"), 5, 5), fragment("2", None, 9, 9)];
        assert_eq!(dedup_id(&a), dedup_id(&b));
        assert_ne!(dedup_id(&a), dedup_id(&a[..1]));
        assert_ne!(dedup_id(&[fragment("12", None, 0, 0)]), dedup_id(&a));
    }

    #[test]
    fn rfc3339_times_parse_to_milliseconds() {
        for ms in [0, 1_700_000_000_123, 951_782_400_000, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339_ms(&iso8601_ms(ms)), Some(ms));
        }
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_rfc3339_ms("1970-01-01T01:00:00.5+01:00"), Some(500));
        for bad in [
            "",
            "1970-01-01",
            "1970-13-01T00:00:00Z",
            "1970-01-01T00:00:00",
            "1970-01-01T00:00:00.Z",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }
}
