//! Debounce buffers in the embedded store: what the timing needs for every pending
//! conversation lives in memory (one ordered index of when each becomes claimable, per
//! fragment only where it is stored, its position, id hash and receive time); fragments
//! themselves are read back from the journal when a buffer is claimed or shown.
//!
//! The journal (`buffers` table) is shaped like a log, because its B-tree pays for every page
//! a commit dirties: each row's key starts with a tag and an ever-increasing row number (seen
//! ids: their expiry), so new rows land at the right edge, and the rows a change deletes were
//! mostly written moments before. Keys by conversation or by hash would dirty a random page
//! per write instead. `K` = `app \0 account \0 conversation` (no part contains NUL; the engine
//! refuses such keys), stored length-prefixed in the value:
//! - `B row` → `K`, the buffer's [`BufferMeta`] (JSON); rewritten under a new row number on
//!   every change
//! - `F row` → `K`, the fragment's position in its buffer (`i64`; restored fragments go in
//!   front with lower positions), the fragment (JSON)
//! - `C row` → `K`, the sender's [`Cadence`] (JSON)
//! - `S expiry hash` → a seen message id (16 bytes of SHA-256 of `app \0 id`), empty value
//!
//! Memory is what limits how many conversations can wait at once, so the per-conversation
//! cost is kept to a few hundred bytes whatever the platform payloads weigh.
//!
//! A read of fragments sees committed rows only, while memory runs a little ahead (changes are
//! applied in memory, then committed): a claim waits for the writer first when one of its
//! buffers has a change in flight, and a read keeps just the rows memory still holds. Claims
//! (flush leases) live in memory only: after a restart every due buffer is flushed again, and
//! the inbox's deduplication drops a batch sent twice.

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

fn row_key(tag: u8, row: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(9);
    out.push(tag);
    out.extend_from_slice(&row.to_be_bytes());
    out
}

fn seen_key(expires: Millis, hash: u128) -> Vec<u8> {
    let mut key = Vec::with_capacity(25);
    key.push(SEEN);
    key.extend_from_slice(&expires.to_be_bytes());
    key.extend_from_slice(&hash.to_be_bytes());
    key
}

/// `len K rest…` values.
fn keyed_value(k: &[u8], extra: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + k.len() + extra);
    out.extend_from_slice(&(k.len() as u16).to_be_bytes());
    out.extend_from_slice(k);
    out
}

fn split_keyed(v: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u16::from_be_bytes(v.get(..2)?.try_into().ok()?) as usize;
    let k = v.get(2..2 + len)?;
    Some((k, &v[2 + len..]))
}

fn fragment_value(k: &[u8], pos: i64, json: &[u8]) -> Vec<u8> {
    let mut out = keyed_value(k, 8 + json.len());
    out.extend_from_slice(&pos.to_be_bytes());
    out.extend_from_slice(json);
    out
}

/// `(K, position, fragment JSON)` of a fragment row's value.
fn split_fragment(v: &[u8]) -> Option<(&[u8], i64, &[u8])> {
    let (k, rest) = split_keyed(v)?;
    let pos = i64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
    Some((k, pos, &rest[8..]))
}

fn row_of(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.get(1..9)?.try_into().ok()?))
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

/// Tells fragments of one buffer apart (ids are unique in a buffer; a 64-bit collision
/// between two of its few dozen ids is not a concern). Memory only: never stored.
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
    /// Its row number in the journal.
    row: u64,
    /// Its place in the buffer.
    pos: i64,
    id: u64,
    received_ms: Millis,
}

struct Conv {
    meta: BufferMeta,
    /// Row number of the stored meta.
    meta_row: u64,
    /// In position order.
    fragments: Vec<Held>,
    next_pos: i64,
    /// Claimed by a flusher until then (memory only).
    lease_until: Millis,
    /// Changes submitted to the journal whose commit has not been seen yet; while any is,
    /// the journal may lag behind memory for this buffer.
    unsynced: u32,
}

impl Conv {
    fn new(meta: BufferMeta, meta_row: u64) -> Self {
        Self {
            meta,
            meta_row,
            fragments: Vec::new(),
            next_pos: 0,
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
    /// Each sender's cadence and the row it is stored in.
    cadences: HashMap<Key, (Cadence, u64)>,
    /// Seen message ids (hashed) and when they are forgotten.
    seen: HashMap<u128, Millis>,
    /// The next row number; above every row number ever used, across restarts too.
    next_row: u64,
}

impl State {
    fn take_row(&mut self) -> u64 {
        let row = self.next_row;
        self.next_row += 1;
        row
    }

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
            cadence: self.cadences.get(key).map(|(c, _)| *c),
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

/// Reads a pending buffer's fragments from the journal (the ones committed).
fn read(kv: &Kv, p: &Pending) -> Result<Option<BufferSnapshot>, StoreError> {
    let Some(key) = unpack(&p.key) else {
        return Ok(None);
    };
    let mut fragments = Vec::with_capacity(p.fragments.len());
    for h in &p.fragments {
        kv.scan_prefix(Table::Buffers, &row_key(FRAGMENT, h.row), &mut |_, v| {
            let (_, _, body) = split_fragment(v).ok_or_else(|| corrupt("fragment", "short row"))?;
            let f: Fragment = serde_json::from_slice(body).map_err(|e| corrupt("fragment", e))?;
            fragments.push(f);
            Ok(())
        })?;
    }
    Ok(Some(BufferSnapshot {
        key,
        meta: p.meta.clone(),
        fragments,
        cadence: p.cadence,
    }))
}

impl Buffers {
    /// Rebuilds every buffer, cadence and seen id from the journal; drops what has expired
    /// and anything left half-written.
    pub(super) fn load(kv: &Kv, now: Millis) -> Result<Self, KvError> {
        let mut s = State::default();
        let mut stale: Vec<Vec<u8>> = Vec::new();
        let mut last_row = 0;
        kv.scan(Table::Buffers, &mut |key, v| {
            let Some(&tag) = key.first() else {
                return Ok(());
            };
            if tag == SEEN {
                let hash = key.get(9..25).and_then(|h| h.try_into().ok());
                match (row_of(key), hash) {
                    (Some(expires), Some(hash)) if expires > now => {
                        s.seen.insert(u128::from_be_bytes(hash), expires);
                    }
                    _ => stale.push(key.to_vec()),
                }
                return Ok(());
            }
            let (Some(row), Some((k, rest))) = (row_of(key), split_keyed(v)) else {
                stale.push(key.to_vec());
                return Ok(());
            };
            last_row = last_row.max(row);
            match tag {
                META => {
                    let meta: BufferMeta =
                        serde_json::from_slice(rest).map_err(|e| corrupt("buffer", e))?;
                    // Rows come in row order: a later meta of the same buffer replaces.
                    let old = s.convs.insert(Key::from(k), Conv::new(meta, row));
                    if let Some(old) = old {
                        stale.push(row_key(META, old.meta_row));
                    }
                }
                CADENCE => {
                    let c: Cadence =
                        serde_json::from_slice(rest).map_err(|e| corrupt("cadence", e))?;
                    let key = s.intern(k);
                    if c.last_at.saturating_add(CADENCE_IDLE_MS) <= now {
                        stale.push(row_key(CADENCE, row));
                    } else if let Some((_, old)) = s.cadences.insert(key, (c, row)) {
                        stale.push(row_key(CADENCE, old));
                    }
                }
                FRAGMENT => {
                    let (_, pos, body) =
                        split_fragment(v).ok_or_else(|| corrupt("fragment", "short row"))?;
                    match s.convs.get_mut(k) {
                        Some(c) => {
                            let f: FragmentHead =
                                serde_json::from_slice(body).map_err(|e| corrupt("fragment", e))?;
                            c.fragments.push(Held {
                                row,
                                pos,
                                id: id_hash(&f.id),
                                received_ms: f.received_ms,
                            });
                        }
                        None => stale.push(key.to_vec()),
                    }
                }
                _ => stale.push(key.to_vec()),
            }
            Ok(())
        })?;
        // Row numbers keep growing across restarts even when every row is gone.
        s.next_row = (last_row + 1).max(now.saturating_mul(1000));
        s.convs.retain(|_, c| {
            if c.fragments.is_empty() {
                stale.push(row_key(META, c.meta_row));
                return false;
            }
            c.fragments.sort_by_key(|f| f.pos);
            c.next_pos = c.fragments.last().map_or(0, |f| f.pos + 1);
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
        let mut guard = self.state.lock();
        let s = &mut *guard;
        let k = s.intern(&packed);
        let mut ops = Vec::new();
        let old_at = s.convs.get(&k).map(Conv::ready_at);
        let put = |key: Vec<u8>, value: Vec<u8>| Op::Put {
            table: Table::Buffers,
            key,
            value,
        };
        let delete = |key: Vec<u8>| Op::Delete {
            table: Table::Buffers,
            key,
        };
        match change {
            BufferChange::Append { platform, fragment } => {
                let hash = seen_hash(&key.app, &fragment.id);
                if s.seen.get(&hash).is_some_and(|exp| *exp > now) {
                    return Ok((BufferOutcome::Duplicate, None));
                }
                let body = json(&fragment)?;
                let expires = now.saturating_add(SEEN_TTL_MS);
                if let Some(old) = s.seen.insert(hash, expires) {
                    ops.push(delete(seen_key(old, hash)));
                }
                ops.push(put(seen_key(expires, hash), Vec::new()));
                let row = s.take_row();
                let conv = s
                    .convs
                    .entry(k.clone())
                    .or_insert_with(|| Conv::new(BufferMeta::empty(platform, now), 0));
                let pos = conv.next_pos;
                conv.next_pos += 1;
                ops.push(put(row_key(FRAGMENT, row), fragment_value(&k, pos, &body)));
                conv.fragments.push(Held {
                    row,
                    pos,
                    id: id_hash(&fragment.id),
                    received_ms: fragment.received_ms,
                });
            }
            BufferChange::Restore {
                platform,
                fragments,
            } => {
                let held: HashSet<u64> = s
                    .convs
                    .get(&k)
                    .map(|c| c.fragments.iter().map(|f| f.id).collect())
                    .unwrap_or_default();
                let mut ids = held;
                let fresh: Vec<Fragment> = fragments
                    .into_iter()
                    .filter(|f| ids.insert(id_hash(&f.id)))
                    .collect();
                let rows: Vec<u64> = fresh.iter().map(|_| s.take_row()).collect();
                let conv = s
                    .convs
                    .entry(k.clone())
                    .or_insert_with(|| Conv::new(BufferMeta::empty(platform, now), 0));
                // In front: positions below the current first one.
                let first = conv.fragments.first().map_or(conv.next_pos, |f| f.pos);
                let mut front = Vec::with_capacity(fresh.len() + conv.fragments.len());
                for (i, (f, row)) in fresh.iter().zip(rows).enumerate() {
                    let pos = first - (fresh.len() - i) as i64;
                    ops.push(put(
                        row_key(FRAGMENT, row),
                        fragment_value(&k, pos, &json(f)?),
                    ));
                    front.push(Held {
                        row,
                        pos,
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
                        ops.push(delete(row_key(FRAGMENT, f.row)));
                    }
                    !gone
                });
                if conv.fragments.is_empty() {
                    ops.push(delete(row_key(META, conv.meta_row)));
                    s.convs.remove(&k);
                    if let Some(at) = old_at {
                        s.ready.remove(&(at, k.clone()));
                    }
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
        let mut cadence = before.map(|(c, _)| c);
        let meta_row = s.take_row();
        let Some(conv) = s.convs.get_mut(&k) else {
            return Ok((BufferOutcome::Missing, None));
        };
        conv.recount();
        plan(&mut conv.meta, &mut cadence);
        let meta = conv.meta.clone();
        if conv.meta_row != 0 {
            ops.push(delete(row_key(META, conv.meta_row)));
        }
        conv.meta_row = meta_row;
        conv.unsynced = conv.unsynced.saturating_add(1);
        let mut value = keyed_value(&k, 160);
        value.extend_from_slice(&json(&meta)?);
        ops.push(put(row_key(META, meta_row), value));
        if let Some(c) = cadence.filter(|c| Some(*c) != before.map(|(b, _)| b)) {
            if let Some((_, old)) = before {
                ops.push(delete(row_key(CADENCE, old)));
            }
            let row = s.take_row();
            let mut value = keyed_value(&k, 80);
            value.extend_from_slice(&json(&c)?);
            ops.push(put(row_key(CADENCE, row), value));
            s.cadences.insert(k.clone(), (c, row));
        }
        s.reindex(&k, old_at);
        Ok((BufferOutcome::Changed(meta), Some(kv.submit(ops))))
    }

    /// A change of this buffer returned by [`Buffers::change`] as `Changed` is committed.
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
        read(kv, &pending)
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
        for p in &pending {
            out.extend(read(kv, p)?);
        }
        Ok(out)
    }

    /// Claims what is due (in memory). Read the claimed buffers with [`Buffers::read_claimed`],
    /// once everything submitted so far is committed if [`needs_sync`] says so.
    pub(super) fn claim_due(&self, now: Millis, lease_ms: u64, max: usize) -> Vec<Pending> {
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
            match read(kv, &p)? {
                Some(b) if b.fragments.len() == p.fragments.len() => out.push(b),
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
                    key: seen_key(*expires, *hash),
                });
            }
            keep
        });
        s.cadences.retain(|_, (c, row)| {
            let keep = c.last_at.saturating_add(CADENCE_IDLE_MS) > now;
            if !keep {
                ops.push(Op::Delete {
                    table: Table::Buffers,
                    key: row_key(CADENCE, *row),
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
    fn rows_sort_by_number_and_values_carry_their_conversation() {
        let keys: Vec<Vec<u8>> = [1u64, 255, 256, 1 << 40]
            .iter()
            .map(|r| row_key(FRAGMENT, *r))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(row_of(&keys[2]), Some(256));
        let k = pack(&ConversationKey::new("a", "b", "c"));
        let v = fragment_value(&k, -3, b"{}");
        assert_eq!(split_fragment(&v), Some((k.as_slice(), -3, &b"{}"[..])));
        assert_eq!(split_fragment(&v[..3]), None);
        let s1 = seen_key(10, 7);
        let s2 = seen_key(11, 1);
        assert!(s1 < s2, "seen ids sort by expiry");
    }

    #[test]
    fn seen_ids_are_per_app() {
        assert_ne!(seen_hash("a", "1"), seen_hash("b", "1"));
        assert_eq!(seen_hash("a", "1"), seen_hash("a", "1"));
    }
}
