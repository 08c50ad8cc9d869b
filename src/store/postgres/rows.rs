//! Messages in and out of rows: the immutable part as a compact binary record, the parts that
//! change after sending as columns that override the record when a message is read back.

use std::collections::HashMap;

use tokio_postgres::Row;

use super::error::PgError;
use crate::engine::message::{ReceiptHandle, Received, StoredMessage};

const MESSAGE_FORMAT: u8 = 1;

/// The columns `received` reads, in its order; `prefix` qualifies them (`m.`) where needed.
pub fn message_columns(prefix: &str) -> String {
    [
        "seq",
        "receive_count",
        "first_receive_ms",
        "dead_letter_source",
        "nonce",
        "record",
    ]
    .iter()
    .map(|c| format!("{prefix}{c}"))
    .collect::<Vec<_>>()
    .join(", ")
}

pub fn encode_message(m: &StoredMessage) -> Result<Vec<u8>, PgError> {
    let mut out = vec![MESSAGE_FORMAT];
    postcard::to_io(m, &mut out).map_err(|e| PgError::Corrupt(e.to_string()))?;
    Ok(out)
}

fn decode_message(raw: &[u8]) -> Result<StoredMessage, PgError> {
    match raw.split_first() {
        Some((&MESSAGE_FORMAT, rest)) => {
            postcard::from_bytes(rest).map_err(|e| PgError::Corrupt(e.to_string()))
        }
        _ => Err(PgError::Corrupt("unknown message record format".into())),
    }
}

/// A claimed row as the consumer sees it.
pub fn received(row: &Row) -> Result<Received, PgError> {
    let seq = row.try_get::<_, i64>(0)? as u64;
    let nonce = row.try_get::<_, i64>(4)? as u64;
    let mut message = decode_message(row.try_get::<_, &[u8]>(5)?)?;
    message.seq = seq;
    message.receive_count = row.try_get::<_, i32>(1)?.max(0) as u32;
    message.first_receive_ms = row.try_get::<_, Option<i64>>(2)?.map(|v| v as u64);
    message.dead_letter_source = row.try_get(3)?;
    Ok(Received {
        message,
        receipt_handle: ReceiptHandle { seq, nonce }.encode(),
    })
}

/// Orders a claimed batch as the queue delivers it: FIFO groups one after another (by their
/// oldest message), each in order; standard queues oldest first. `RETURNING` has no order.
pub fn delivery_order(batch: &mut [Received]) {
    let mut heads: HashMap<Option<String>, u64> = HashMap::new();
    for r in batch.iter() {
        let head = heads.entry(r.message.group_id.clone()).or_insert(u64::MAX);
        *head = (*head).min(r.message.seq);
    }
    batch.sort_by_key(|r| {
        (
            heads.get(&r.message.group_id).copied().unwrap_or(u64::MAX),
            r.message.seq,
        )
    });
}
