//! Debounce buffers in the embedded store: every pending conversation in memory, one ordered
//! index of when each becomes claimable, and every change journaled to the `buffers` table.
//!
//! Rows of the `buffers` table, told apart by their first byte (`K` = `app \0 account \0
//! conversation`; no part contains NUL, the engine refuses such keys):
//! - `B K` → the buffer's [`BufferMeta`] (JSON)
//! - `F K \0 seq` → one fragment (JSON), `seq` big-endian so a scan returns a buffer in order
//! - `C K` → the sender's [`Cadence`] (JSON)
//! - `S hash` → a seen message id (16 bytes of SHA-256 of `app \0 id`) → its expiry
//!
//! Memory per pending conversation is kept small for the "a million open conversations"
//! case: the key once (shared by the map and the index), fragments as their stored JSON, seen
//! ids as 128-bit hashes. Claims (flush leases) live in memory only: after a restart every
//! due buffer is flushed again, and the inbox's deduplication drops a batch sent twice.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use super::kv::{Kv, KvError, Op, Table};
use crate::clock::Millis;
use crate::engine::debounce::record::{CADENCE_IDLE_MS, SEEN_TTL_MS};
use crate::engine::debounce::{
    BufferChange, BufferMeta, BufferOutcome, BufferSnapshot, Cadence, ConversationKey, Fragment,
    Plan,
};
use crate::store::StoreError;

const META: u8 = b'B';
const CADENCE: u8 = b'C';
const FRAGMENT: u8 = b'F';
const SEEN: u8 = b'S';

type Key = Arc<[u8]>;

fn pack(key: &ConversationKey) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.app.len() + key.account.len() + key.conversation.len() + 2);
    k.extend_from_slice(key.app.as_bytes());
    k.push(0);
    k.extend_from_slice(key.account.as_bytes());
    k.push(0);
    k.extend_from_slice(key.conversation.as_bytes());
    k
}

fn unpack(k: &[u8]) -> Option<ConversationKey> {
    let mut parts = k.split(|b| *b == 0);
    let mut next = || parts.next().and_then(|p| std::str::from_utf8(p).ok());
    let key = ConversationKey::new(next()?, next()?, next()?);
    next().is_none().then_some(key)
}

fn row(tag: u8, k: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(k.len() + 10);
    out.push(tag);
    out.extend_from_slice(k);
    out
}

fn fragment_row(k: &[u8], seq: u64) -> Vec<u8> {
    let mut out = row(FRAGMENT, k);
    out.push(0);
    out.extend_from_slice(&seq.to_be_bytes());
    out
}

fn seen_hash(app: &str, id: &str) -> u128 {
    let mut h = Sha256::new();
    h.update(app.as_bytes());
    h.update([0]);
    h.update(id.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(first)
}

fn json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> KvError {
    KvError::Corrupt(format!("debounce {what}: {e}"))
}

/// One fragment as held in memory: its stored JSON plus what is asked of it often.
struct Held {
    seq: u64,
    id: Box<str>,
    received_ms: Millis,
    json: Box<str>,
}

impl Held {
    fn parse(&self) -> Result<Fragment, StoreError> {
        serde_json::from_str(&self.json).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

struct Conv {
    meta: BufferMeta,
    fragments: Vec<Held>,
    next_seq: u64,
    /// Claimed by the flusher until then (memory only).
    lease_until: Millis,
    /// The instant this buffer sits under in `ready`.
    indexed_at: Millis,
}

impl Conv {
    fn ready_at(&self) -> Millis {
        self.meta.due_at.max(self.lease_until)
    }

    /// Count and first/last receive time, from the fragments.
    fn recount(&mut self) {
        self.meta.fragments = u32::try_from(self.fragments.len()).unwrap_or(u32::MAX);
        let times = self.fragments.iter().map(|f| f.received_ms);
        self.meta.first_at = times.clone().min().unwrap_or(self.meta.first_at);
        self.meta.last_at = times.max().unwrap_or(self.meta.last_at);
    }
}

#[derive(Default)]
struct State {
    convs: BTreeMap<Key, Conv>,
    /// When each buffer becomes claimable: its due time, or the end of its claim.
    ready: BTreeSet<(Millis, Key)>,
    cadences: HashMap<Key, Cadence>,
    /// Seen message ids (hashed) and when they are forgotten.
    seen: HashMap<u128, Millis>,
}

pub(super) struct Buffers {
    state: Mutex<State>,
}

impl State {
    fn reindex(&mut self, key: &Key) {
        if let Some(c) = self.convs.get_mut(key) {
            let at = c.ready_at();
            if at != c.indexed_at {
                self.ready.remove(&(c.indexed_at, key.clone()));
                c.indexed_at = at;
            }
            self.ready.insert((at, key.clone()));
        }
    }

    fn snapshot(&self, key: &Key, c: &Conv) -> Result<Option<BufferSnapshot>, StoreError> {
        let Some(k) = unpack(key) else {
            return Ok(None);
        };
        Ok(Some(BufferSnapshot {
            key: k,
            meta: c.meta.clone(),
            fragments: c
                .fragments
                .iter()
                .map(Held::parse)
                .collect::<Result<_, _>>()?,
            cadence: self.cadences.get(key).copied(),
        }))
    }

    /// The interned key for `packed`, shared with an existing buffer or cadence.
    fn intern(&self, packed: &[u8]) -> Key {
        if let Some((k, _)) = self.convs.get_key_value(packed) {
            return k.clone();
        }
        if let Some((k, _)) = self.cadences.get_key_value(packed) {
            return k.clone();
        }
        Key::from(packed)
    }
}

impl Buffers {
    /// Rebuilds every buffer, cadence and seen id from the journal; drops what has expired
    /// and anything left half-written.
    pub(super) fn load(kv: &Kv, now: Millis) -> Result<Self, KvError> {
        let mut s = State::default();
        let mut stale = Vec::new();
        kv.scan(Table::Buffers, &mut |k, v| {
            let Some((&tag, rest)) = k.split_first() else {
                return Ok(());
            };
            match tag {
                META => {
                    let meta: BufferMeta =
                        serde_json::from_slice(v).map_err(|e| corrupt("buffer", e))?;
                    s.convs.insert(
                        Key::from(rest),
                        Conv {
                            meta,
                            fragments: Vec::new(),
                            next_seq: 0,
                            lease_until: 0,
                            indexed_at: 0,
                        },
                    );
                }
                CADENCE => {
                    let c: Cadence =
                        serde_json::from_slice(v).map_err(|e| corrupt("cadence", e))?;
                    if c.last_at.saturating_add(CADENCE_IDLE_MS) > now {
                        let key = s.intern(rest);
                        s.cadences.insert(key, c);
                    } else {
                        stale.push(k.to_vec());
                    }
                }
                FRAGMENT if rest.len() > 9 && rest[rest.len() - 9] == 0 => {
                    let (conv, seq) = rest.split_at(rest.len() - 9);
                    let seq = u64::from_be_bytes(seq[1..].try_into().unwrap_or_default());
                    match s.convs.get_mut(conv) {
                        Some(c) => {
                            let f: Fragment =
                                serde_json::from_slice(v).map_err(|e| corrupt("fragment", e))?;
                            let json =
                                std::str::from_utf8(v).map_err(|e| corrupt("fragment", e))?;
                            c.fragments.push(Held {
                                seq,
                                id: f.id.into(),
                                received_ms: f.received_ms,
                                json: json.into(),
                            });
                            c.next_seq = c.next_seq.max(seq + 1);
                        }
                        None => stale.push(k.to_vec()),
                    }
                }
                SEEN if rest.len() == 16 && v.len() == 8 => {
                    let expires = u64::from_be_bytes(v.try_into().unwrap_or_default());
                    let hash = u128::from_be_bytes(rest.try_into().unwrap_or_default());
                    if expires > now {
                        s.seen.insert(hash, expires);
                    } else {
                        stale.push(k.to_vec());
                    }
                }
                _ => stale.push(k.to_vec()),
            }
            Ok(())
        })?;
        let empty: Vec<Key> = s
            .convs
            .iter()
            .filter(|(_, c)| c.fragments.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        for k in empty {
            s.convs.remove(&k);
            stale.push(row(META, &k));
        }
        let keys: Vec<Key> = s.convs.keys().cloned().collect();
        for k in keys {
            if let Some(c) = s.convs.get_mut(&k) {
                c.recount();
                c.indexed_at = c.ready_at();
                s.ready.insert((c.indexed_at, k));
            }
        }
        if !stale.is_empty() {
            kv.commit_later(
                stale
                    .into_iter()
                    .map(|key| Op::Delete {
                        table: Table::Buffers,
                        key,
                    })
                    .collect(),
            );
        }
        Ok(Self {
            state: Mutex::new(s),
        })
    }

    /// Applies a change and plans; returns the outcome and the write to await (submitted
    /// before the lock is released, so the journal sees changes in memory's order).
    pub(super) fn change(
        &self,
        kv: &Kv,
        key: &ConversationKey,
        change: BufferChange,
        plan: &Plan<'_>,
        now: Millis,
    ) -> Result<
        (
            BufferOutcome,
            Option<impl Future<Output = Result<(), KvError>> + Send + 'static>,
        ),
        StoreError,
    > {
        let packed = pack(key);
        let mut s = self.state.lock();
        let mut ops = Vec::new();
        let k = s.intern(&packed);
        match change {
            BufferChange::Append { platform, fragment } => {
                let hash = seen_hash(&key.app, &fragment.id);
                if s.seen.get(&hash).is_some_and(|exp| *exp > now) {
                    return Ok((BufferOutcome::Duplicate, None));
                }
                let expires = now.saturating_add(SEEN_TTL_MS);
                let text = serde_json::to_string(&fragment)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                s.seen.insert(hash, expires);
                let mut seen_key = vec![SEEN];
                seen_key.extend_from_slice(&hash.to_be_bytes());
                ops.push(Op::Put {
                    table: Table::Buffers,
                    key: seen_key,
                    value: expires.to_be_bytes().to_vec(),
                });
                let conv = s.convs.entry(k.clone()).or_insert_with(|| Conv {
                    meta: BufferMeta::empty(platform, now),
                    fragments: Vec::new(),
                    next_seq: 0,
                    lease_until: 0,
                    indexed_at: Millis::MAX,
                });
                let seq = conv.next_seq;
                conv.next_seq += 1;
                ops.push(Op::Put {
                    table: Table::Buffers,
                    key: fragment_row(&k, seq),
                    value: text.clone().into_bytes(),
                });
                conv.fragments.push(Held {
                    seq,
                    id: fragment.id.into(),
                    received_ms: fragment.received_ms,
                    json: text.into(),
                });
            }
            BufferChange::Restore {
                platform,
                fragments,
            } => {
                let conv = s.convs.entry(k.clone()).or_insert_with(|| Conv {
                    meta: BufferMeta::empty(platform, now),
                    fragments: Vec::new(),
                    next_seq: 0,
                    lease_until: 0,
                    indexed_at: Millis::MAX,
                });
                let mut ids: HashSet<String> =
                    conv.fragments.iter().map(|f| f.id.to_string()).collect();
                let mut merged = Vec::with_capacity(fragments.len() + conv.fragments.len());
                for f in fragments {
                    if !ids.insert(f.id.clone()) {
                        continue;
                    }
                    let text = serde_json::to_string(&f)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    merged.push(Held {
                        seq: 0,
                        id: f.id.into(),
                        received_ms: f.received_ms,
                        json: text.into(),
                    });
                }
                // Renumber the whole buffer so that rows keep the new order.
                for old in conv.fragments.drain(..) {
                    ops.push(Op::Delete {
                        table: Table::Buffers,
                        key: fragment_row(&k, old.seq),
                    });
                    merged.push(old);
                }
                for (seq, f) in merged.iter_mut().enumerate() {
                    f.seq = seq as u64;
                    ops.push(Op::Put {
                        table: Table::Buffers,
                        key: fragment_row(&k, f.seq),
                        value: f.json.as_bytes().to_vec(),
                    });
                }
                conv.next_seq = merged.len() as u64;
                conv.fragments = merged;
            }
            BufferChange::Remove { ids } => {
                let Some(conv) = s.convs.get_mut(&k) else {
                    return Ok((BufferOutcome::Missing, None));
                };
                let ids: HashSet<&str> = ids.iter().map(String::as_str).collect();
                conv.lease_until = 0;
                conv.fragments.retain(|f| {
                    let gone = ids.contains(&*f.id);
                    if gone {
                        ops.push(Op::Delete {
                            table: Table::Buffers,
                            key: fragment_row(&k, f.seq),
                        });
                    }
                    !gone
                });
                if conv.fragments.is_empty() {
                    let at = conv.indexed_at;
                    s.convs.remove(&k);
                    s.ready.remove(&(at, k.clone()));
                    ops.push(Op::Delete {
                        table: Table::Buffers,
                        key: row(META, &k),
                    });
                    return Ok((BufferOutcome::Emptied, Some(kv.submit(ops))));
                }
                conv.recount();
                conv.meta.started_at = conv.meta.first_at;
                conv.meta.forced_at = None;
            }
            BufferChange::Touch => {
                if !s.convs.contains_key(&k) {
                    return Ok((BufferOutcome::Missing, None));
                }
            }
        }
        let before = s.cadences.get(&k).copied();
        let mut cadence = before;
        let meta = {
            let Some(conv) = s.convs.get_mut(&k) else {
                return Ok((BufferOutcome::Missing, None));
            };
            conv.recount();
            plan(&mut conv.meta, &mut cadence);
            conv.meta.clone()
        };
        if cadence != before {
            if let Some(c) = cadence {
                ops.push(Op::Put {
                    table: Table::Buffers,
                    key: row(CADENCE, &k),
                    value: json(&c)?,
                });
                s.cadences.insert(k.clone(), c);
            }
        }
        ops.push(Op::Put {
            table: Table::Buffers,
            key: row(META, &k),
            value: json(&meta)?,
        });
        s.reindex(&k);
        Ok((BufferOutcome::Changed(meta), Some(kv.submit(ops))))
    }

    pub(super) fn get(&self, key: &ConversationKey) -> Result<Option<BufferSnapshot>, StoreError> {
        let s = self.state.lock();
        let packed = pack(key);
        match s.convs.get_key_value(packed.as_slice()) {
            Some((k, c)) => s.snapshot(k, c),
            None => Ok(None),
        }
    }

    pub(super) fn list(&self, app: &str) -> Result<Vec<BufferSnapshot>, StoreError> {
        let s = self.state.lock();
        let mut from = app.as_bytes().to_vec();
        from.push(0);
        let mut out = Vec::new();
        for (k, c) in s.convs.range::<[u8], _>((
            std::ops::Bound::Included(from.as_slice()),
            std::ops::Bound::Unbounded,
        )) {
            if !k.starts_with(&from) {
                break;
            }
            out.extend(s.snapshot(k, c)?);
        }
        Ok(out)
    }

    pub(super) fn claim_due(
        &self,
        now: Millis,
        lease_ms: u64,
        max: usize,
    ) -> Result<Vec<BufferSnapshot>, StoreError> {
        let mut s = self.state.lock();
        let due: Vec<Key> = s
            .ready
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(max)
            .map(|(_, k)| k.clone())
            .collect();
        let mut out = Vec::with_capacity(due.len());
        for k in due {
            if let Some(c) = s.convs.get_mut(&k) {
                c.lease_until = now.saturating_add(lease_ms);
            }
            s.reindex(&k);
            if let Some(c) = s.convs.get(&k) {
                out.extend(s.snapshot(&k, c)?);
            }
        }
        out.sort_by_key(|b| b.meta.due_at);
        Ok(out)
    }

    pub(super) fn next_due(&self) -> Option<Millis> {
        self.state.lock().ready.first().map(|(at, _)| *at)
    }

    /// Forgets expired seen ids and idle cadences; their rows go with the next group commit.
    pub(super) fn sweep(&self, kv: &Kv, now: Millis) {
        let mut ops = Vec::new();
        let mut s = self.state.lock();
        s.seen.retain(|hash, expires| {
            let keep = *expires > now;
            if !keep {
                let mut key = vec![SEEN];
                key.extend_from_slice(&hash.to_be_bytes());
                ops.push(Op::Delete {
                    table: Table::Buffers,
                    key,
                });
            }
            keep
        });
        s.cadences.retain(|k, c| {
            let keep = c.last_at.saturating_add(CADENCE_IDLE_MS) > now;
            if !keep {
                ops.push(Op::Delete {
                    table: Table::Buffers,
                    key: row(CADENCE, k),
                });
            }
            keep
        });
        drop(s);
        if !ops.is_empty() {
            kv.commit_later(ops);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_pack_and_unpack() {
        let k = ConversationKey::new("app", "acct", "5511@c.us");
        assert_eq!(unpack(&pack(&k)), Some(k));
        assert_eq!(unpack(b"a\0b"), None);
        assert_eq!(unpack(b"a\0b\0c\0d"), None);
    }

    #[test]
    fn seen_ids_are_per_app() {
        assert_ne!(seen_hash("a", "1"), seen_hash("b", "1"));
        assert_eq!(seen_hash("a", "1"), seen_hash("a", "1"));
    }
}
