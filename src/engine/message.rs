//! Messages as the engine and the stores see them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::clock::Millis;

/// A typed message attribute (`String`, `Number`, `Binary`, optionally with a custom suffix such as
/// `Number.float`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeValue {
    pub data_type: String,
    pub string_value: Option<String>,
    pub binary_value: Option<Vec<u8>>,
}

impl AttributeValue {
    pub fn is_binary(&self) -> bool {
        self.data_type.starts_with("Binary")
    }
}

pub type Attributes = BTreeMap<String, AttributeValue>;

/// A message as it is stored; everything needed to answer a receive. Stores encode it with a
/// positional binary format, so fields are only ever appended (with a format version bump).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredMessage {
    /// Store-wide, strictly increasing; orders messages (and FIFO groups) and is the FIFO
    /// `SequenceNumber`.
    pub seq: u64,
    pub id: String,
    pub body: String,
    pub attributes: Attributes,
    pub system_attributes: Attributes,
    pub md5_body: String,
    pub md5_attributes: Option<String>,
    pub md5_system_attributes: Option<String>,
    pub sent_ms: Millis,
    pub sender_id: String,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    /// Not deliverable before this instant (DelaySeconds).
    pub delay_until_ms: Millis,
    pub receive_count: u32,
    pub first_receive_ms: Option<Millis>,
    /// ARN of the queue this message was dead-lettered from, so a redrive can send it back.
    pub dead_letter_source: Option<String>,
}

/// A message to be sent, validated and digested by the engine.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: String,
    pub body: String,
    pub attributes: Attributes,
    pub system_attributes: Attributes,
    pub md5_body: String,
    pub md5_attributes: Option<String>,
    pub md5_system_attributes: Option<String>,
    pub sender_id: String,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    pub delay_ms: u64,
}

/// What a send produced. For a FIFO duplicate inside the deduplication window, the original
/// message's id and sequence number are returned and nothing new is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub id: String,
    pub seq: u64,
    pub duplicate: bool,
}

/// A message handed to a consumer.
#[derive(Debug, Clone)]
pub struct Received {
    pub message: StoredMessage,
    pub receipt_handle: String,
}

/// The proof of one particular receive. Opaque to clients: base64 of the message's sequence
/// number and a nonce that changes on every receive, so a handle from an earlier receive can be
/// told apart from the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptHandle {
    pub seq: u64,
    pub nonce: u64,
}

const RECEIPT_TAG: &[u8; 4] = b"lrh1";

impl ReceiptHandle {
    pub fn encode(&self) -> String {
        use base64::Engine as _;
        let mut raw = Vec::with_capacity(20);
        raw.extend_from_slice(RECEIPT_TAG);
        raw.extend_from_slice(&self.seq.to_be_bytes());
        raw.extend_from_slice(&self.nonce.to_be_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(s: &str) -> Option<Self> {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.trim())
            .ok()?;
        if raw.len() != 20 || &raw[..4] != RECEIPT_TAG {
            return None;
        }
        let seq = u64::from_be_bytes(raw[4..12].try_into().ok()?);
        let nonce = u64::from_be_bytes(raw[12..20].try_into().ok()?);
        Some(Self { seq, nonce })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_handles_round_trip_and_reject_forgeries() {
        let h = ReceiptHandle { seq: 42, nonce: 7 };
        assert_eq!(ReceiptHandle::decode(&h.encode()), Some(h));
        assert_eq!(ReceiptHandle::decode("garbage"), None);
        assert_eq!(ReceiptHandle::decode(""), None);
    }
}
