//! Topics in the embedded store: every record is held in memory and written whole to the
//! `topics` table (key `region \0 name`, JSON value) on each change. Topics change rarely and
//! are small, so there is no finer-grained journal. FIFO topics' deduplication ids live in
//! `topic_dedup` (key `region \0 name \0 dedup id`), one row each until it expires.

use std::collections::{BTreeMap, HashMap};

use super::kv::{Kv, KvError, Op, Table};
use super::{decode, encode};
use crate::clock::Millis;
use crate::engine::topics::{FifoPublication, TopicKey, TopicRecord};
use crate::store::StoreError;

/// The topics of every region, ordered by key (so a region's topics come out sorted by name).
#[derive(Default)]
pub(super) struct Topics {
    by_key: BTreeMap<TopicKey, TopicRecord>,
    /// FIFO topics: deduplication id -> first publication, per topic.
    dedup: HashMap<TopicKey, HashMap<String, FifoPublication>>,
}

fn dedup_row_key(key: &TopicKey, dedup: &str) -> Vec<u8> {
    let mut k = row_key(key);
    k.push(0);
    k.extend_from_slice(dedup.as_bytes());
    k
}

/// Splits `region \0 name \0 dedup id`.
fn split_dedup_row_key(raw: &[u8]) -> Option<(TopicKey, String)> {
    let mut parts = raw.splitn(3, |b| *b == 0);
    let region = std::str::from_utf8(parts.next()?).ok()?;
    let name = std::str::from_utf8(parts.next()?).ok()?;
    let dedup = std::str::from_utf8(parts.next()?).ok()?;
    Some((TopicKey::new(region, name), dedup.to_string()))
}

fn row_key(key: &TopicKey) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.region.len() + key.name.len() + 1);
    k.extend_from_slice(key.region.as_bytes());
    k.push(0);
    k.extend_from_slice(key.name.as_bytes());
    k
}

fn put(record: &TopicRecord) -> Result<Op, StoreError> {
    Ok(Op::Put {
        table: Table::Topics,
        key: row_key(&record.key),
        value: encode(record)?,
    })
}

impl Topics {
    pub(super) fn load(kv: &Kv) -> Result<Self, KvError> {
        let mut by_key = BTreeMap::new();
        kv.scan(Table::Topics, &mut |_, value| {
            let record: TopicRecord = decode(value)?;
            by_key.insert(record.key.clone(), record);
            Ok(())
        })?;
        let mut dedup: HashMap<TopicKey, HashMap<String, FifoPublication>> = HashMap::new();
        kv.scan(Table::TopicDedup, &mut |key, value| {
            if let Some((topic, id)) = split_dedup_row_key(key) {
                dedup.entry(topic).or_default().insert(id, decode(value)?);
            }
            Ok(())
        })?;
        Ok(Self { by_key, dedup })
    }

    /// The unexpired publication first seen with `dedup`, or `None` with the ops that remember
    /// `candidate` (and forget this topic's expired ids).
    pub(super) fn remember_dedup(
        &mut self,
        key: &TopicKey,
        dedup: &str,
        candidate: FifoPublication,
        now: Millis,
    ) -> Result<Result<Vec<Op>, FifoPublication>, StoreError> {
        let seen = self.dedup.entry(key.clone()).or_default();
        if let Some(p) = seen.get(dedup).filter(|p| p.expires_ms > now) {
            return Ok(Err(p.clone()));
        }
        let mut ops = Vec::new();
        seen.retain(|id, p| {
            let keep = p.expires_ms > now;
            if !keep {
                ops.push(Op::Delete {
                    table: Table::TopicDedup,
                    key: dedup_row_key(key, id),
                });
            }
            keep
        });
        ops.push(Op::Put {
            table: Table::TopicDedup,
            key: dedup_row_key(key, dedup),
            value: encode(&candidate)?,
        });
        seen.insert(dedup.to_string(), candidate);
        Ok(Ok(ops))
    }

    /// The existing record, or the op that stores the new one (already applied in memory).
    pub(super) fn create(
        &mut self,
        record: TopicRecord,
    ) -> Result<Result<Op, TopicRecord>, StoreError> {
        if let Some(existing) = self.by_key.get(&record.key) {
            return Ok(Err(existing.clone()));
        }
        let op = put(&record)?;
        self.by_key.insert(record.key.clone(), record);
        Ok(Ok(op))
    }

    pub(super) fn update(&mut self, record: TopicRecord) -> Result<Option<Op>, StoreError> {
        let Some(slot) = self.by_key.get_mut(&record.key) else {
            return Ok(None);
        };
        let op = put(&record)?;
        *slot = record;
        Ok(Some(op))
    }

    pub(super) fn get(&self, key: &TopicKey) -> Option<TopicRecord> {
        self.by_key.get(key).cloned()
    }

    pub(super) fn list(&self, region: &str) -> Vec<TopicRecord> {
        self.by_key
            .values()
            .filter(|t| t.key.region == region)
            .cloned()
            .collect()
    }

    /// The ops that delete a topic and its deduplication ids; `None` when it does not exist.
    pub(super) fn delete(&mut self, key: &TopicKey) -> Option<Vec<Op>> {
        self.by_key.remove(key)?;
        let mut ops: Vec<Op> = self
            .dedup
            .remove(key)
            .unwrap_or_default()
            .into_keys()
            .map(|id| Op::Delete {
                table: Table::TopicDedup,
                key: dedup_row_key(key, &id),
            })
            .collect();
        ops.push(Op::Delete {
            table: Table::Topics,
            key: row_key(key),
        });
        Some(ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_row_keys_round_trip() {
        let k = TopicKey::new("us-east-1", "orders.fifo");
        let raw = dedup_row_key(&k, "id-1");
        assert_eq!(split_dedup_row_key(&raw), Some((k, "id-1".to_string())));
    }
}
