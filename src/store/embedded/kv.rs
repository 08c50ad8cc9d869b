//! Durable key-value store under the embedded backend, on redb.
//!
//! The queue engine keeps its hot state in memory and writes every change here; at start it
//! rebuilds memory with one [`Kv::scan`] per table. Why redb: see `docs/storage-choice.md`
//! (pure Rust, one file whose pages are reused under churn, instant open, fast scans).
//!
//! Group commit: every caller sends its ops down one channel; a single writer thread takes
//! everything pending, applies it in as few transactions as possible, makes the result durable
//! with one sync, and only then completes the waiters. Under load many requests share one sync,
//! which is what makes "durable before the HTTP answer" affordable.
//!
//! A group is split into transactions of at most [`MAX_TXN_OPS`] ops (a single request's ops
//! are never split, so each `commit` call is atomic). All but the last transaction of a group
//! commit with `Durability::None`; the last commits with `Durability::Immediate`, which redb
//! documents as making the earlier non-durable commits durable too — so a group costs one sync
//! however many transactions it needed.

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use parking_lot::Mutex;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::oneshot;

/// Most ops one transaction holds; larger groups are split (one sync for the whole group).
pub const MAX_TXN_OPS: usize = 4096;
/// Most ops one group takes before its waiters are answered, so that a steady flood of
/// writes cannot postpone the first waiter's answer indefinitely.
pub const MAX_GROUP_OPS: usize = 256 * 1024;

const FILE_NAME: &str = "lull.redb";

/// The store's tables; each is its own redb table of byte keys and byte values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    Queues,
    Messages,
    Dedup,
    Tasks,
}

impl Table {
    pub const ALL: [Table; 4] = [Table::Queues, Table::Messages, Table::Dedup, Table::Tasks];

    fn definition(self) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
        TableDefinition::new(match self {
            Table::Queues => "queues",
            Table::Messages => "messages",
            Table::Dedup => "dedup",
            Table::Tasks => "tasks",
        })
    }
}

#[derive(Debug, Clone)]
pub enum Op {
    Put {
        table: Table,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        table: Table,
        key: Vec<u8>,
    },
}

impl Op {
    fn table(&self) -> Table {
        match self {
            Op::Put { table, .. } | Op::Delete { table, .. } => *table,
        }
    }
}

/// Errors are cheap to clone because one failed group commit answers many waiters.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KvError {
    #[error("storage engine error: {0}")]
    Engine(Arc<redb::Error>),
    #[error("storage I/O error: {0}")]
    Io(Arc<std::io::Error>),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the store is closed")]
    Closed,
}

impl KvError {
    fn engine(e: impl Into<redb::Error>) -> Self {
        KvError::Engine(Arc::new(e.into()))
    }
}

impl From<std::io::Error> for KvError {
    fn from(e: std::io::Error) -> Self {
        KvError::Io(Arc::new(e))
    }
}

/// What [`Kv::scan`] calls for each row: `(key, value)`; an error stops the scan.
pub type ScanFn<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), KvError> + 'a;

/// Counters for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KvStats {
    /// Requests received (`commit` and `commit_later` calls).
    pub requests: u64,
    /// Ops applied.
    pub ops: u64,
    /// redb transactions committed.
    pub transactions: u64,
    /// Durable syncs, one per group.
    pub syncs: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    ops: AtomicU64,
    transactions: AtomicU64,
    syncs: AtomicU64,
}

struct Request {
    ops: Vec<Op>,
    done: Option<oneshot::Sender<Result<(), KvError>>>,
}

struct Inner {
    db: Arc<Database>,
    sender: Mutex<Option<mpsc::Sender<Request>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
}

/// Durable key-value store with group commit: a single writer thread drains every pending batch,
/// applies them in one transaction, syncs once, then completes all of their waiters.
#[derive(Clone)]
pub struct Kv {
    inner: Arc<Inner>,
}

impl Kv {
    /// Opens (or creates) the store in `dir`. After an unclean stop redb repairs the file here.
    pub fn open(dir: &Path) -> Result<Kv, KvError> {
        std::fs::create_dir_all(dir)?;
        let db = Database::create(dir.join(FILE_NAME)).map_err(KvError::engine)?;
        // A new file's directory entry must survive a power loss too.
        sync_dir(dir)?;

        // Create every table up front so that scans of a fresh store find empty tables.
        let mut tx = db.begin_write().map_err(KvError::engine)?;
        tx.set_durability(Durability::Immediate)
            .map_err(KvError::engine)?;
        for table in Table::ALL {
            tx.open_table(table.definition()).map_err(KvError::engine)?;
        }
        tx.commit().map_err(KvError::engine)?;

        let db = Arc::new(db);
        let counters = Arc::new(Counters::default());
        let (sender, receiver) = mpsc::channel();
        let writer = {
            let db = Arc::clone(&db);
            let counters = Arc::clone(&counters);
            std::thread::Builder::new()
                .name("lull-store-writer".into())
                .spawn(move || write_loop(&db, &receiver, &counters))?
        };
        Ok(Kv {
            inner: Arc::new(Inner {
                db,
                sender: Mutex::new(Some(sender)),
                writer: Mutex::new(Some(writer)),
                counters,
            }),
        })
    }

    /// Durable when the future resolves Ok.
    pub async fn commit(&self, ops: Vec<Op>) -> Result<(), KvError> {
        self.submit(ops).await
    }

    /// Like [`Kv::commit`], but the ops join the queue now, when `submit` is called, not when
    /// the future is first polled: a caller can submit while holding its own lock (so the
    /// store sees changes in the order memory saw them) and await after releasing it.
    pub fn submit(
        &self,
        ops: Vec<Op>,
    ) -> impl Future<Output = Result<(), KvError>> + Send + 'static {
        let (done, answer) = oneshot::channel();
        let queued = self.send(Request {
            ops,
            done: Some(done),
        });
        async move {
            queued?;
            answer.await.unwrap_or(Err(KvError::Closed))
        }
    }

    /// Queued into the next group commit without waiting (for best-effort updates such as receive counts).
    pub fn commit_later(&self, ops: Vec<Op>) {
        if self.send(Request { ops, done: None }).is_err() {
            tracing::warn!("store closed; dropped a deferred write");
        }
    }

    /// Full scan of one table in key order (used once at start-up).
    pub fn scan(&self, table: Table, f: &mut ScanFn<'_>) -> Result<(), KvError> {
        let tx = self.inner.db.begin_read().map_err(KvError::engine)?;
        let t = tx.open_table(table.definition()).map_err(KvError::engine)?;
        for row in t.iter().map_err(KvError::engine)? {
            let (k, v) = row.map_err(KvError::engine)?;
            f(k.value(), v.value())?;
        }
        Ok(())
    }

    /// Flush pending work and stop the writer (graceful shutdown). Blocks until the writer
    /// has made everything queued before this call durable; later commits fail with `Closed`.
    pub fn close(&self) {
        self.inner.close();
    }

    pub fn stats(&self) -> KvStats {
        let c = &self.inner.counters;
        KvStats {
            requests: c.requests.load(Ordering::Relaxed),
            ops: c.ops.load(Ordering::Relaxed),
            transactions: c.transactions.load(Ordering::Relaxed),
            syncs: c.syncs.load(Ordering::Relaxed),
        }
    }

    fn send(&self, request: Request) -> Result<(), KvError> {
        let sender = self.inner.sender.lock();
        match sender.as_ref() {
            Some(s) => s.send(request).map_err(|_| KvError::Closed),
            None => Err(KvError::Closed),
        }
    }
}

impl Inner {
    fn close(&self) {
        // Dropping the only sender lets the writer drain the channel and then stop.
        drop(self.sender.lock().take());
        let writer = self.writer.lock().take();
        if let Some(writer) = writer {
            if writer.join().is_err() {
                tracing::error!("store writer thread panicked");
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The writer holds the database open; stop it so that the file lock is released.
        self.close();
    }
}

impl std::fmt::Debug for Kv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kv").field("stats", &self.stats()).finish()
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), KvError> {
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), KvError> {
    Ok(())
}

/// The writer thread: one group per iteration, until every sender is gone.
fn write_loop(db: &Database, receiver: &mpsc::Receiver<Request>, counters: &Counters) {
    while let Ok(first) = receiver.recv() {
        let mut group_ops = first.ops.len();
        let mut group = vec![first];
        while group_ops < MAX_GROUP_OPS {
            match receiver.try_recv() {
                Ok(next) => {
                    group_ops += next.ops.len();
                    group.push(next);
                }
                Err(_) => break,
            }
        }

        let result = apply_group(db, &group, counters);
        if let Err(e) = &result {
            tracing::error!(error = %e, requests = group.len(), "store group commit failed");
        }
        counters
            .requests
            .fetch_add(group.len() as u64, Ordering::Relaxed);
        for request in group {
            if let Some(done) = request.done {
                // A caller that stopped waiting is no error: its ops were still applied.
                let _ = done.send(result.clone());
            }
        }
    }
}

/// Applies a group in order: transactions of whole requests, the last one durable.
fn apply_group(db: &Database, group: &[Request], counters: &Counters) -> Result<(), KvError> {
    let mut start = 0;
    while start < group.len() {
        // Take whole requests until the next would overflow the transaction (at least one).
        let mut end = start + 1;
        let mut ops = group[start].ops.len();
        while end < group.len() && ops + group[end].ops.len() <= MAX_TXN_OPS {
            ops += group[end].ops.len();
            end += 1;
        }
        let last = end == group.len();
        apply_txn(db, &group[start..end], last)?;
        counters.transactions.fetch_add(1, Ordering::Relaxed);
        counters.ops.fetch_add(ops as u64, Ordering::Relaxed);
        if last {
            counters.syncs.fetch_add(1, Ordering::Relaxed);
        }
        start = end;
    }
    Ok(())
}

fn apply_txn(db: &Database, requests: &[Request], durable: bool) -> Result<(), KvError> {
    let mut tx = db.begin_write().map_err(KvError::engine)?;
    tx.set_durability(if durable {
        Durability::Immediate
    } else {
        Durability::None
    })
    .map_err(KvError::engine)?;

    // Tables are opened lazily and kept open for the whole transaction.
    let mut tables: [Option<redb::Table<&[u8], &[u8]>>; 4] = [None, None, None, None];
    for op in requests.iter().flat_map(|r| &r.ops) {
        let slot = &mut tables[op.table() as usize];
        let table = match slot {
            Some(t) => t,
            None => slot.insert(
                tx.open_table(op.table().definition())
                    .map_err(KvError::engine)?,
            ),
        };
        match op {
            Op::Put { key, value, .. } => {
                table
                    .insert(key.as_slice(), value.as_slice())
                    .map_err(KvError::engine)?;
            }
            Op::Delete { key, .. } => {
                table.remove(key.as_slice()).map_err(KvError::engine)?;
            }
        }
    }
    drop(tables);
    tx.commit().map_err(KvError::engine)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(table: Table, key: &str, value: &str) -> Op {
        Op::Put {
            table,
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
        }
    }

    fn del(table: Table, key: &str) -> Op {
        Op::Delete {
            table,
            key: key.as_bytes().to_vec(),
        }
    }

    fn dump(kv: &Kv, table: Table) -> Vec<(String, String)> {
        let mut rows = Vec::new();
        kv.scan(table, &mut |k, v| {
            rows.push((
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            ));
            Ok(())
        })
        .unwrap();
        rows
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[tokio::test]
    async fn committed_data_is_there_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let kv = Kv::open(dir.path()).unwrap();
            kv.commit(vec![
                put(Table::Queues, "q1", "config"),
                put(Table::Messages, "q1/0001", "hello"),
            ])
            .await
            .unwrap();
            kv.close();
        }
        let kv = Kv::open(dir.path()).unwrap();
        assert_eq!(dump(&kv, Table::Queues), vec![pair("q1", "config")]);
        assert_eq!(dump(&kv, Table::Messages), vec![pair("q1/0001", "hello")]);
        assert!(dump(&kv, Table::Dedup).is_empty());
        assert!(dump(&kv, Table::Tasks).is_empty());
    }

    #[tokio::test]
    async fn dropping_the_last_handle_releases_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let kv = Kv::open(dir.path()).unwrap();
        kv.commit(vec![put(Table::Tasks, "t", "1")]).await.unwrap();
        drop(kv);
        let kv = Kv::open(dir.path()).unwrap();
        assert_eq!(dump(&kv, Table::Tasks), vec![pair("t", "1")]);
    }

    #[tokio::test]
    async fn deletes_persist() {
        let dir = tempfile::tempdir().unwrap();
        {
            let kv = Kv::open(dir.path()).unwrap();
            kv.commit(vec![
                put(Table::Messages, "a", "1"),
                put(Table::Messages, "b", "2"),
            ])
            .await
            .unwrap();
            kv.commit(vec![del(Table::Messages, "a")]).await.unwrap();
            // Deleting a missing key is not an error.
            kv.commit(vec![del(Table::Messages, "zz")]).await.unwrap();
            kv.close();
        }
        let kv = Kv::open(dir.path()).unwrap();
        assert_eq!(dump(&kv, Table::Messages), vec![pair("b", "2")]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_commits_share_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let kv = Kv::open(dir.path()).unwrap();
        let tasks: Vec<_> = (0..400)
            .map(|i| {
                let kv = kv.clone();
                tokio::spawn(async move {
                    kv.commit(vec![put(Table::Messages, &format!("m{i:04}"), "body")])
                        .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let stats = kv.stats();
        assert_eq!(stats.requests, 400);
        assert_eq!(stats.ops, 400);
        assert!(
            stats.syncs < stats.requests,
            "expected grouped syncs, got {stats:?}"
        );
        assert_eq!(dump(&kv, Table::Messages).len(), 400);
    }

    #[tokio::test]
    async fn commit_later_is_durable_after_a_later_commit() {
        let dir = tempfile::tempdir().unwrap();
        {
            let kv = Kv::open(dir.path()).unwrap();
            kv.commit_later(vec![put(Table::Messages, "m1", "received=1")]);
            kv.commit_later(vec![put(Table::Messages, "m1", "received=2")]);
            kv.commit(vec![put(Table::Queues, "q", "x")]).await.unwrap();
            // The deferred writes went out in this durable group or an earlier one.
            let stats = kv.stats();
            assert_eq!((stats.requests, stats.ops), (3, 3));
            assert!(stats.syncs >= 1);
            // Still visible even though nothing waited on it.
            assert_eq!(dump(&kv, Table::Messages), vec![pair("m1", "received=2")]);
        }
        let kv = Kv::open(dir.path()).unwrap();
        assert_eq!(dump(&kv, Table::Messages), vec![pair("m1", "received=2")]);
    }

    #[tokio::test]
    async fn scan_returns_keys_in_byte_order() {
        let dir = tempfile::tempdir().unwrap();
        let kv = Kv::open(dir.path()).unwrap();
        kv.commit(vec![
            put(Table::Dedup, "b", "2"),
            put(Table::Dedup, "a", "1"),
            put(Table::Dedup, "ab", "3"),
            put(Table::Dedup, "B", "0"),
        ])
        .await
        .unwrap();
        let keys: Vec<_> = dump(&kv, Table::Dedup)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["B", "a", "ab", "b"]);
    }

    #[tokio::test]
    async fn ops_apply_in_submission_order_across_split_transactions() {
        let dir = tempfile::tempdir().unwrap();
        let kv = Kv::open(dir.path()).unwrap();
        // Enough requests to need several transactions in one group; the last write wins.
        let big: Vec<Op> = (0..MAX_TXN_OPS)
            .map(|i| put(Table::Tasks, &format!("k{i:05}"), "old"))
            .collect();
        kv.commit_later(big);
        kv.commit_later(vec![put(Table::Tasks, "k00000", "mid")]);
        kv.commit_later(vec![del(Table::Tasks, "k00001")]);
        kv.commit(vec![put(Table::Tasks, "k00000", "new")])
            .await
            .unwrap();
        let rows = dump(&kv, Table::Tasks);
        assert_eq!(rows.len(), MAX_TXN_OPS - 1);
        assert_eq!(rows[0], pair("k00000", "new"));
        assert_eq!(rows[1], pair("k00002", "old"));
    }

    #[tokio::test]
    async fn submit_queues_before_the_future_is_polled() {
        let dir = tempfile::tempdir().unwrap();
        let kv = Kv::open(dir.path()).unwrap();
        let first = kv.submit(vec![put(Table::Queues, "q", "first")]);
        let second = kv.submit(vec![put(Table::Queues, "q", "second")]);
        // Awaited in the opposite order; applied in submission order all the same.
        second.await.unwrap();
        first.await.unwrap();
        assert_eq!(dump(&kv, Table::Queues), vec![pair("q", "second")]);
    }

    #[tokio::test]
    async fn commit_after_close_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let kv = Kv::open(dir.path()).unwrap();
        kv.commit_later(vec![put(Table::Queues, "q", "1")]);
        kv.close();
        assert!(matches!(
            kv.commit(vec![put(Table::Queues, "q", "2")]).await,
            Err(KvError::Closed)
        ));
        // close flushed the deferred write.
        assert_eq!(dump(&kv, Table::Queues), vec![pair("q", "1")]);
    }
}
