//! One queue's hot state in memory: every live message, indexed for the three questions a queue
//! is asked all the time — what is deliverable now (ready / available groups), what becomes
//! deliverable next (timers), and is this a duplicate (dedup).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use crate::clock::Millis;
use crate::engine::message::{ReceiptHandle, Received, StoredMessage};
use crate::engine::queue::{QueueRecord, DEDUP_WINDOW_MS};
use crate::store::{Counts, ReceiptOutcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visibility {
    Visible,
    Delayed(Millis),
    InFlight { until: Millis, nonce: u64 },
}

#[derive(Debug)]
struct Live {
    msg: StoredMessage,
    vis: Visibility,
}

#[derive(Debug, Default)]
struct Group {
    seqs: BTreeSet<u64>,
    in_flight: u32,
    /// The head sequence number under which this group sits in `available`, if it does.
    indexed_at: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct DedupEntry {
    pub expires_ms: Millis,
    pub id: String,
    pub seq: u64,
}

#[derive(Debug)]
pub struct QueueState {
    pub record: QueueRecord,
    messages: BTreeMap<u64, Live>,
    /// Standard queues: visible messages, oldest first.
    ready: BTreeSet<u64>,
    /// Delayed and in-flight messages by the instant they become visible.
    timers: BTreeSet<(Millis, u64)>,
    /// FIFO queues: every live message per group, in order.
    groups: HashMap<String, Group>,
    /// FIFO groups that can deliver now, by the sequence number of their head.
    available: BTreeSet<(u64, String)>,
    dedup: HashMap<String, DedupEntry>,
    dedup_order: VecDeque<(Millis, String)>,
    counts: Counts,
}

/// A state change the store must persist.
#[derive(Debug)]
pub enum Change {
    Put(u64),
    Delete(u64),
    DedupPut(String),
    DedupDelete(String),
}

impl QueueState {
    pub fn new(record: QueueRecord) -> Self {
        Self {
            record,
            messages: BTreeMap::new(),
            ready: BTreeSet::new(),
            timers: BTreeSet::new(),
            groups: HashMap::new(),
            available: BTreeSet::new(),
            dedup: HashMap::new(),
            dedup_order: VecDeque::new(),
            counts: Counts::default(),
        }
    }

    pub fn message(&self, seq: u64) -> Option<&StoredMessage> {
        self.messages.get(&seq).map(|l| &l.msg)
    }

    pub fn message_seqs(&self) -> impl Iterator<Item = u64> + '_ {
        self.messages.keys().copied()
    }

    pub fn dedup_keys(&self) -> impl Iterator<Item = &String> + '_ {
        self.dedup.keys()
    }

    pub fn dedup_entry(&self, key: &str) -> Option<&DedupEntry> {
        self.dedup.get(key)
    }

    fn fifo(&self) -> bool {
        self.record.is_fifo()
    }

    /// Inserts a message (new, restored at start-up, or moved in). Restored in-flight messages
    /// come back visible: a restart redelivers what was in flight.
    pub fn insert(&mut self, msg: StoredMessage, now: Millis) {
        let seq = msg.seq;
        let vis = if msg.delay_until_ms > now {
            Visibility::Delayed(msg.delay_until_ms)
        } else {
            Visibility::Visible
        };
        let group = msg.group_id.clone();
        self.messages.insert(seq, Live { msg, vis });
        self.count(vis, 1);
        match vis {
            Visibility::Delayed(at) => {
                self.timers.insert((at, seq));
            }
            _ if !self.fifo() => {
                self.ready.insert(seq);
            }
            _ => {}
        }
        if self.fifo() {
            let g = group.unwrap_or_default();
            self.groups.entry(g.clone()).or_default().seqs.insert(seq);
            self.refresh_group(&g);
        }
    }

    /// Removes a message wherever it is indexed.
    pub fn remove(&mut self, seq: u64) -> Option<StoredMessage> {
        let live = self.messages.remove(&seq)?;
        self.count(live.vis, -1);
        match live.vis {
            Visibility::Visible => {
                self.ready.remove(&seq);
            }
            Visibility::Delayed(at) | Visibility::InFlight { until: at, .. } => {
                self.timers.remove(&(at, seq));
            }
        }
        if let Some(g) = live.msg.group_id.as_deref().filter(|_| self.fifo()) {
            let g = g.to_string();
            if let Some(group) = self.groups.get_mut(&g) {
                group.seqs.remove(&seq);
                if matches!(live.vis, Visibility::InFlight { .. }) {
                    group.in_flight = group.in_flight.saturating_sub(1);
                }
            }
            self.refresh_group(&g);
        }
        Some(live.msg)
    }

    fn count(&mut self, vis: Visibility, delta: i64) {
        let c = match vis {
            Visibility::Visible => &mut self.counts.visible,
            Visibility::Delayed(_) => &mut self.counts.delayed,
            Visibility::InFlight { .. } => &mut self.counts.in_flight,
        };
        *c = c.saturating_add_signed(delta);
    }

    fn set_vis(&mut self, seq: u64, vis: Visibility) {
        let Some(live) = self.messages.get_mut(&seq) else {
            return;
        };
        let old = std::mem::replace(&mut live.vis, vis);
        let group = live.msg.group_id.clone();
        self.count(old, -1);
        self.count(vis, 1);
        match old {
            Visibility::Visible => {
                self.ready.remove(&seq);
            }
            Visibility::Delayed(at) | Visibility::InFlight { until: at, .. } => {
                self.timers.remove(&(at, seq));
            }
        }
        match vis {
            Visibility::Visible if !self.fifo() => {
                self.ready.insert(seq);
            }
            Visibility::Visible => {}
            Visibility::Delayed(at) | Visibility::InFlight { until: at, .. } => {
                self.timers.insert((at, seq));
            }
        }
        if self.fifo() {
            let g = group.unwrap_or_default();
            if let Some(group) = self.groups.get_mut(&g) {
                let was = matches!(old, Visibility::InFlight { .. });
                let is = matches!(vis, Visibility::InFlight { .. });
                if was && !is {
                    group.in_flight = group.in_flight.saturating_sub(1);
                } else if is && !was {
                    group.in_flight += 1;
                }
            }
            self.refresh_group(&g);
        }
    }

    /// Re-files a FIFO group in `available` after anything about it changed.
    fn refresh_group(&mut self, name: &str) {
        let Some(group) = self.groups.get_mut(name) else {
            return;
        };
        if let Some(old) = group.indexed_at.take() {
            self.available.remove(&(old, name.to_string()));
        }
        if group.seqs.is_empty() && group.in_flight == 0 {
            self.groups.remove(name);
            return;
        }
        let head = group.seqs.first().copied();
        let deliverable = group.in_flight == 0
            && head
                .and_then(|s| self.messages.get(&s))
                .is_some_and(|l| l.vis == Visibility::Visible);
        if let (true, Some(head)) = (deliverable, head) {
            group.indexed_at = Some(head);
            self.available.insert((head, name.to_string()));
        }
    }

    /// Applies everything that is due by `now`: delays and visibility timeouts that ran out,
    /// retention, and deduplication windows. Returns what must be persisted.
    pub fn tick(&mut self, now: Millis, changes: &mut Vec<Change>) {
        while let Some(&(at, seq)) = self.timers.first() {
            if at > now {
                break;
            }
            self.set_vis(seq, Visibility::Visible);
        }
        let retention = self.record.retention_ms();
        while let Some((&seq, live)) = self.messages.first_key_value() {
            if live.msg.sent_ms.saturating_add(retention) > now {
                break;
            }
            self.remove(seq);
            changes.push(Change::Delete(seq));
        }
        while let Some((expires, _)) = self.dedup_order.front() {
            if *expires > now {
                break;
            }
            if let Some((expires, key)) = self.dedup_order.pop_front() {
                if self
                    .dedup
                    .get(&key)
                    .is_some_and(|e| e.expires_ms == expires)
                {
                    self.dedup.remove(&key);
                    changes.push(Change::DedupDelete(key));
                }
            }
        }
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    pub fn next_visible_at(&self) -> Option<Millis> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// The deduplication key of a FIFO message under this queue's scope.
    pub fn dedup_key(&self, group: Option<&str>, dedup_id: &str) -> String {
        if self.record.dedup_per_group() {
            format!("{}\u{0}{}", group.unwrap_or_default(), dedup_id)
        } else {
            dedup_id.to_string()
        }
    }

    pub fn find_duplicate(&self, key: &str, now: Millis) -> Option<&DedupEntry> {
        self.dedup.get(key).filter(|e| e.expires_ms > now)
    }

    pub fn remember_dedup(&mut self, key: String, entry: DedupEntry) {
        self.dedup_order.push_back((entry.expires_ms, key.clone()));
        self.dedup.insert(key, entry);
    }

    pub fn new_dedup_entry(id: String, seq: u64, now: Millis) -> DedupEntry {
        DedupEntry {
            expires_ms: now + DEDUP_WINDOW_MS,
            id,
            seq,
        }
    }

    /// Picks the next deliverable message, oldest first, honouring FIFO group locks. The caller
    /// decides whether to deliver it (`mark_received`) or move it away (`remove`).
    pub fn next_deliverable(&self, skip_group_of: &BTreeSet<String>) -> Option<u64> {
        if !self.fifo() {
            return self.ready.first().copied();
        }
        self.available
            .iter()
            .find(|(_, g)| !skip_group_of.contains(g))
            .map(|(seq, _)| *seq)
    }

    /// FIFO: the messages that may follow `seq` in the same batch — the rest of its group's
    /// visible run, in order.
    pub fn group_run_after(&self, seq: u64) -> Vec<u64> {
        let Some(g) = self
            .messages
            .get(&seq)
            .and_then(|l| l.msg.group_id.as_ref())
        else {
            return Vec::new();
        };
        let Some(group) = self.groups.get(g) else {
            return Vec::new();
        };
        group
            .seqs
            .range(seq + 1..)
            .take_while(|s| {
                self.messages
                    .get(s)
                    .is_some_and(|l| l.vis == Visibility::Visible)
            })
            .copied()
            .collect()
    }

    pub fn receive_count(&self, seq: u64) -> u32 {
        self.messages.get(&seq).map_or(0, |l| l.msg.receive_count)
    }

    /// Delivers a message: counts the receive and hides it until `now + visibility_ms`.
    pub fn mark_received(
        &mut self,
        seq: u64,
        visibility_ms: u64,
        nonce: u64,
        now: Millis,
    ) -> Option<Received> {
        let live = self.messages.get_mut(&seq)?;
        live.msg.receive_count += 1;
        live.msg.first_receive_ms.get_or_insert(now);
        let message = live.msg.clone();
        self.set_vis(
            seq,
            Visibility::InFlight {
                until: now + visibility_ms,
                nonce,
            },
        );
        Some(Received {
            message,
            receipt_handle: ReceiptHandle { seq, nonce }.encode(),
        })
    }

    fn check_receipt(&self, receipt: ReceiptHandle) -> ReceiptOutcome {
        match self.messages.get(&receipt.seq) {
            None => ReceiptOutcome::Gone,
            Some(Live {
                vis: Visibility::InFlight { nonce, .. },
                ..
            }) if *nonce == receipt.nonce => ReceiptOutcome::Done,
            Some(_) => ReceiptOutcome::Stale,
        }
    }

    /// Deletes the message a receipt handle names, if the handle is the current one.
    pub fn delete_by_receipt(&mut self, receipt: ReceiptHandle) -> ReceiptOutcome {
        let outcome = self.check_receipt(receipt);
        if outcome == ReceiptOutcome::Done {
            self.remove(receipt.seq);
        }
        outcome
    }

    pub fn change_visibility(
        &mut self,
        receipt: ReceiptHandle,
        visibility_ms: u64,
        now: Millis,
    ) -> ReceiptOutcome {
        let outcome = self.check_receipt(receipt);
        if outcome == ReceiptOutcome::Done {
            let vis = if visibility_ms == 0 {
                Visibility::Visible
            } else {
                Visibility::InFlight {
                    until: now + visibility_ms,
                    nonce: receipt.nonce,
                }
            };
            self.set_vis(receipt.seq, vis);
        }
        outcome
    }

    /// Oldest visible message, for moving messages between queues.
    pub fn oldest_visible(&self) -> Option<u64> {
        self.messages
            .iter()
            .find(|(_, l)| l.vis == Visibility::Visible)
            .map(|(s, _)| *s)
    }

    pub fn clear(&mut self) -> Vec<u64> {
        let seqs: Vec<u64> = self.messages.keys().copied().collect();
        self.messages.clear();
        self.ready.clear();
        self.timers.clear();
        self.groups.clear();
        self.available.clear();
        self.counts = Counts::default();
        seqs
    }
}
