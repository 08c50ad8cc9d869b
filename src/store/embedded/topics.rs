//! Topics in the embedded store: every record is held in memory and written whole to the
//! `topics` table (key `region \0 name`, JSON value) on each change. Topics change rarely and
//! are small, so there is no finer-grained journal.

use std::collections::BTreeMap;

use super::kv::{Kv, KvError, Op, Table};
use super::{decode, encode};
use crate::engine::topics::{TopicKey, TopicRecord};
use crate::store::StoreError;

/// The topics of every region, ordered by key (so a region's topics come out sorted by name).
#[derive(Default)]
pub(super) struct Topics {
    by_key: BTreeMap<TopicKey, TopicRecord>,
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
        Ok(Self { by_key })
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

    pub(super) fn delete(&mut self, key: &TopicKey) -> Option<Op> {
        self.by_key.remove(key).map(|_| Op::Delete {
            table: Table::Topics,
            key: row_key(key),
        })
    }
}
