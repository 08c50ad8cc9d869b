//! Debounce buffers in the embedded store: what the timing needs for every pending
//! conversation lives in memory (one ordered index of when each becomes claimable, per
//! fragment only its position, id hash and receive time); fragments themselves are read back
//! from the journal when a buffer is claimed or shown.
//!
//! Rows of the `buffers` table, told apart by their first byte (`K` = `app \0 account \0
//! conversation`; no part contains NUL, the engine refuses such keys):
//! - `B K` → the buffer's [`BufferMeta`] (JSON)
//! - `F K \0 seq` → one fragment (JSON); `seq` is an `i64` stored order-preserving, so a
//!   buffer's rows come back in order and restored fragments slot in front with lower seqs
//! - `C K` → the sender's [`Cadence`] (JSON)
//! - `S hash` → a seen message id (16 bytes of SHA-256 of `app \0 id`) → its expiry
//!
//! Memory is what limits how many conversations can wait at once, so the per-conversation
//! cost is kept to a few hundred bytes whatever the platform payloads weigh: the key once
//! (shared by the map and the index), 24 bytes per fragment, 128-bit hashes of seen ids.
//!
//! A read of fragments sees committed rows only, while memory runs a little ahead (changes are
//! applied in memory, then committed): a read keeps just the rows memory still holds (same seq
//! and id), so a fragment being removed is never handed out again, and one not yet committed
//! is simply left for the next batch. Claims (flush leases) live in memory only: after a
//! restart every due buffer is flushed again, and the inbox's deduplication drops a batch sent
//! twice.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Deserialize;
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

/// `F K \0`: the prefix of every fragment row of a conversation.
fn fragments_prefix(k: &[u8]) -> Vec<u8> {
    let mut out = row(FRAGMENT, k);
    out.push(0);
    out
}

/// Big-endian with the sign bit flipped: byte order is numeric order.
fn seq_bytes(seq: i64) -> [u8; 8] {
    ((seq as u64) ^ (1 << 63)).to_be_bytes()
}

fn seq_from(bytes: [u8; 8]) -> i64 {
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
}

fn fragment_row(k: &[u8], seq: i64) -> Vec<u8> {
    let mut out = fragments_prefix(k);
    out.extend_from_slice(&seq_bytes(seq));
    out
}

/// Splits a fragment row key (without its tag) into the conversation and the seq.
fn split_fragment_row(rest: &[u8]) -> Option<(&[u8], i64)> {
    let at = rest.len().checked_sub(9)?;
    let (conv, tail) = rest.split_at(at);
    if tail[0] != 0 {
        return None;
    }
    Some((conv, seq_from(tail[1..].try_into().ok()?)))
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

fn seen_row(hash: u128) -> Vec<u8> {
    let mut key = vec![SEEN];
    key.extend_from_slice(&hash.to_be_bytes());
    key
}

/// Tells fragments of one buffer apart (ids are unique in a buffer; a 64-bit collision
/// between two of its few dozen ids is not a concern).
fn id_hash(id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

fn json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> KvError {
    KvError::Corrupt(format!("debounce {what}: {e}"))
}

/// The part of a stored fragment memory keeps (read without building the rest).
#[derive(Deserialize)]
struct FragmentHead {
    id: String,
    received_ms: Millis,
}

/// One buffered fragment as memory knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    seq: i64,
    id: u64,
    received_ms: Millis,
}

struct Conv {
    meta: BufferMeta,
    fragments: Vec<Held>,
    next_seq: i64,
    /// Claimed by a flusher until then (memory only).
    lease_until: Millis,
    /// Changes submitted to the journal whose commit has not been seen yet; while any is,
    /// the journal may lag behind memory for this buffer.
    unsynced: u32,
}

impl Conv {
    fn new(meta: BufferMeta) -> Self {
        Self {
            meta,
            fragments: Vec::new(),
            next_seq: 0,
            lease_until: 0,
            unsynced: 0,
        }
    }

    /// Where this buffer sits in the `ready` index.
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

/// What a read needs from memory; copied out so that the journal is read without the lock.
#[derive(Clone)]
pub(super) struct Pending {
    key: Key,
    unsynced: bool,
    meta: BufferMeta,
    fragments: Vec<Held>,
    cadence: Option<Cadence>,
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

impl State {
    /// Moves a buffer in the index from `old` to where it belongs now.
    fn reindex(&mut self, key: &Key, old: Option<Millis>) {
        let Some(c) = self.convs.get(key) else {
            return;
        };
        let at = c.ready_at();
        if old == Some(at) {
            return;
        }
        if let Some(old) = old {
            self.ready.remove(&(old, key.clone()));
        }
        self.ready.insert((at, key.clone()));
    }

    fn pending(&self, key: &Key, c: &Conv) -> Pending {
        Pending {
            key: key.clone(),
            unsynced: c.unsynced > 0,
            meta: c.meta.clone(),
            fragments: c.fragments.clone(),
            cadence: self.cadences.get(key).copied(),
        }
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

pub(super) struct Buffers {
    state: Mutex<State>,
}

/// Whether some claimed buffer has a change whose commit was not seen yet (then wait for the
/// writer before reading: it applies requests in order).
pub(super) fn needs_sync(claimed: &[Pending]) -> bool {
    claimed.iter().any(|p| p.unsynced)
}

/// Reads a pending buffer's fragments from the journal, keeping the rows memory holds.
fn read(kv: &Kv, p: Pending) -> Result<Option<BufferSnapshot>, StoreError> {
    let Some(key) = unpack(&p.key) else {
        return Ok(None);
    };
    let held: HashSet<(i64, u64)> = p.fragments.iter().map(|f| (f.seq, f.id)).collect();
    let mut fragments = Vec::with_capacity(p.fragments.len());
    kv.scan_prefix(Table::Buffers, &fragments_prefix(&p.key), &mut |k, v| {
        let Some((_, seq)) = k
            .split_first()
            .and_then(|(_, rest)| split_fragment_row(rest))
        else {
            return Ok(());
        };
        let f: Fragment = serde_json::from_slice(v).map_err(|e| corrupt("fragment", e))?;
        if held.contains(&(seq, id_hash(&f.id))) {
            fragments.push(f);
        }
        Ok(())
    })?;
    Ok(Some(BufferSnapshot {
        key,
        meta: p.meta,
        fragments,
        cadence: p.cadence,
    }))
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
                    s.convs.insert(Key::from(rest), Conv::new(meta));
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
                FRAGMENT => match split_fragment_row(rest) {
                    Some((conv, seq)) => match s.convs.get_mut(conv) {
                        Some(c) => {
                            let f: FragmentHead =
                                serde_json::from_slice(v).map_err(|e| corrupt("fragment", e))?;
                            c.fragments.push(Held {
                                seq,
                                id: id_hash(&f.id),
                                received_ms: f.received_ms,
                            });
                            c.next_seq = c.next_seq.max(seq + 1);
                        }
                        None => stale.push(k.to_vec()),
                    },
                    None => stale.push(k.to_vec()),
                },
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
        s.convs.retain(|k, c| {
            if c.fragments.is_empty() {
                stale.push(row(META, k));
                return false;
            }
            c.recount();
            true
        });
        s.ready = s
            .convs
            .iter()
            .map(|(k, c)| (c.ready_at(), k.clone()))
            .collect();
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
        let k = s.intern(&packed);
        let mut ops = Vec::new();
        let old_at = s.convs.get(&k).map(Conv::ready_at);
        match change {
            BufferChange::Append { platform, fragment } => {
                let hash = seen_hash(&key.app, &fragment.id);
                if s.seen.get(&hash).is_some_and(|exp| *exp > now) {
                    return Ok((BufferOutcome::Duplicate, None));
                }
                let value = json(&fragment)?;
                let expires = now.saturating_add(SEEN_TTL_MS);
                s.seen.insert(hash, expires);
                ops.push(Op::Put {
                    table: Table::Buffers,
                    key: seen_row(hash),
                    value: expires.to_be_bytes().to_vec(),
                });
                let conv = s
                    .convs
                    .entry(k.clone())
                    .or_insert_with(|| Conv::new(BufferMeta::empty(platform, now)));
                let seq = conv.next_seq;
                conv.next_seq += 1;
                ops.push(Op::Put {
                    table: Table::Buffers,
                    key: fragment_row(&k, seq),
                    value,
                });
                conv.fragments.push(Held {
                    seq,
                    id: id_hash(&fragment.id),
                    received_ms: fragment.received_ms,
                });
            }
            BufferChange::Restore {
                platform,
                fragments,
            } => {
                let conv = s
                    .convs
                    .entry(k.clone())
                    .or_insert_with(|| Conv::new(BufferMeta::empty(platform, now)));
                let mut ids: HashSet<u64> = conv.fragments.iter().map(|f| f.id).collect();
                let fresh: Vec<Fragment> = fragments
                    .into_iter()
                    .filter(|f| ids.insert(id_hash(&f.id)))
                    .collect();
                // In front: seqs below the current first one.
                let first = conv.fragments.first().map_or(conv.next_seq, |f| f.seq);
                let mut front = Vec::with_capacity(fresh.len() + conv.fragments.len());
                for (i, f) in fresh.iter().enumerate() {
                    let seq = first - (fresh.len() - i) as i64;
                    ops.push(Op::Put {
                        table: Table::Buffers,
                        key: fragment_row(&k, seq),
                        value: json(f)?,
                    });
                    front.push(Held {
                        seq,
                        id: id_hash(&f.id),
                        received_ms: f.received_ms,
                    });
                }
                front.append(&mut conv.fragments);
                conv.fragments = front;
            }
            BufferChange::Remove { ids } => {
                let Some(conv) = s.convs.get_mut(&k) else {
                    return Ok((BufferOutcome::Missing, None));
                };
                let ids: HashSet<u64> = ids.iter().map(|id| id_hash(id)).collect();
                conv.lease_until = 0;
                conv.fragments.retain(|f| {
                    let gone = ids.contains(&f.id);
                    if gone {
                        ops.push(Op::Delete {
                            table: Table::Buffers,
                            key: fragment_row(&k, f.seq),
                        });
                    }
                    !gone
                });
                if conv.fragments.is_empty() {
                    s.convs.remove(&k);
                    if let Some(at) = old_at {
                        s.ready.remove(&(at, k.clone()));
                    }
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
        s.reindex(&k, old_at);
        if let Some(conv) = s.convs.get_mut(&k) {
            conv.unsynced = conv.unsynced.saturating_add(1);
        }
        Ok((BufferOutcome::Changed(meta), Some(kv.submit(ops))))
    }

    /// A change of this buffer returned by [`Buffers::change`] is committed.
    pub(super) fn synced(&self, key: &ConversationKey) {
        let mut s = self.state.lock();
        if let Some(c) = s.convs.get_mut(pack(key).as_slice()) {
            c.unsynced = c.unsynced.saturating_sub(1);
        }
    }

    pub(super) fn get(
        &self,
        kv: &Kv,
        key: &ConversationKey,
    ) -> Result<Option<BufferSnapshot>, StoreError> {
        let packed = pack(key);
        let pending = {
            let s = self.state.lock();
            match s.convs.get_key_value(packed.as_slice()) {
                Some((k, c)) => s.pending(k, c),
                None => return Ok(None),
            }
        };
        read(kv, pending)
    }

    pub(super) fn list(&self, kv: &Kv, app: &str) -> Result<Vec<BufferSnapshot>, StoreError> {
        let mut from = app.as_bytes().to_vec();
        from.push(0);
        let pending: Vec<Pending> = {
            let s = self.state.lock();
            s.convs
                .range::<[u8], _>((
                    std::ops::Bound::Included(from.as_slice()),
                    std::ops::Bound::Unbounded,
                ))
                .take_while(|(k, _)| k.starts_with(&from))
                .map(|(k, c)| s.pending(k, c))
                .collect()
        };
        let mut out = Vec::with_capacity(pending.len());
        for p in pending {
            out.extend(read(kv, p)?);
        }
        Ok(out)
    }

    /// Claims what is due (in memory). Read the claimed buffers with [`Buffers::read_claimed`],
    /// once everything submitted so far is committed if [`needs_sync`] says so.
    pub(super) fn claim_due(&self, now: Millis, lease_ms: u64, max: usize) -> Vec<Pending> {
        {
            let mut s = self.state.lock();
            let due: Vec<(Millis, Key)> = s
                .ready
                .iter()
                .take_while(|(at, _)| *at <= now)
                .take(max)
                .cloned()
                .collect();
            let mut claimed = Vec::with_capacity(due.len());
            for (at, k) in due {
                if let Some(c) = s.convs.get_mut(&k) {
                    c.lease_until = now.saturating_add(lease_ms);
                }
                s.reindex(&k, Some(at));
                if let Some(c) = s.convs.get(&k) {
                    claimed.push(s.pending(&k, c));
                }
            }
            claimed
        }
    }

    /// Reads claimed buffers. Those whose journal rows lag behind memory come back
    /// separately, to be read again once the writer has caught up.
    pub(super) fn read_claimed(
        &self,
        kv: &Kv,
        claimed: Vec<Pending>,
    ) -> Result<(Vec<BufferSnapshot>, Vec<Pending>), StoreError> {
        let mut out = Vec::with_capacity(claimed.len());
        let mut lagging = Vec::new();
        for p in claimed {
            let held = p.fragments.len();
            match read(kv, p.clone())? {
                Some(b) if b.fragments.len() == held => out.push(b),
                Some(_) => lagging.push(p),
                None => {}
            }
        }
        Ok((out, lagging))
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
                ops.push(Op::Delete {
                    table: Table::Buffers,
                    key: seen_row(*hash),
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
    fn fragment_rows_sort_by_seq_including_restored_ones() {
        let k = pack(&ConversationKey::new("a", "b", "c"));
        let rows: Vec<Vec<u8>> = [-3i64, -1, 0, 1, 255, 256, i64::MAX]
            .iter()
            .map(|s| fragment_row(&k, *s))
            .collect();
        let mut sorted = rows.clone();
        sorted.sort();
        assert_eq!(rows, sorted);
        for (r, seq) in rows.iter().zip([-3i64, -1, 0, 1, 255, 256, i64::MAX]) {
            assert_eq!(split_fragment_row(&r[1..]), Some((k.as_slice(), seq)));
            assert!(r.starts_with(&fragments_prefix(&k)));
        }
    }

    #[test]
    fn seen_ids_are_per_app() {
        assert_ne!(seen_hash("a", "1"), seen_hash("b", "1"));
        assert_eq!(seen_hash("a", "1"), seen_hash("a", "1"));
    }
}
