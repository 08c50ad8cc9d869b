//! Durable key-value store under the embedded backend, on SQLite (WAL mode, `synchronous=FULL`).
//!
//! The queue engine keeps its hot state in memory and writes every change here; at start it
//! rebuilds memory with one [`Kv::scan`] per table. Why SQLite: see `docs/storage-choice.md`
//! (durable commits as fast as the alternatives at the group sizes we see, the fastest start-up
//! and crash recovery, and a file that stays small under churn).
//!
//! Group commit: every caller sends its ops down one channel; a single writer thread takes
//! everything pending, applies it in as few transactions as possible, makes the result durable
//! with one sync, and only then completes the waiters. Under load many requests share one sync,
//! which is what makes "durable before the HTTP answer" affordable.
//!
//! A group is split into transactions of at most [`MAX_TXN_OPS`] ops (a single request's ops
//! are never split, so each `commit` call is atomic). All but the last transaction of a group
//! commit with `synchronous=NORMAL` (written to the WAL, not synced); the last commits with
//! `synchronous=FULL`, whose sync of the WAL covers the earlier frames too — so a group costs one
//! sync however many transactions it needed. After a crash SQLite recovers a prefix of the
//! committed transactions, so submission order holds there too.
//!
//! If a group fails, every waiter in it gets the error, even those whose transaction went
//! through: the caller answers with an error and the client retries (at-least-once).

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use parking_lot::Mutex;
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

/// Most ops one transaction holds; larger groups are split (one sync for the whole group).
pub const MAX_TXN_OPS: usize = 4096;
/// Most ops one group takes before its waiters are answered, so that a steady flood of
/// writes cannot postpone the first waiter's answer indefinitely.
pub const MAX_GROUP_OPS: usize = 256 * 1024;

const FILE_NAME: &str = "lull.sqlite3";
/// Held (advisory lock) while the store is open: two servers on one data dir would each keep
/// their own memory state and overwrite each other.
const LOCK_NAME: &str = "lull.lock";

/// The store's tables; each is its own SQLite table of byte keys and byte values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    Queues,
    Messages,
    Dedup,
    Tasks,
    Topics,
    TopicDedup,
    /// Debounce buffers, fragments, cadences and seen message ids (`buffers.rs`).
    Buffers,
}

impl Table {
    pub const ALL: [Table; 7] = [
        Table::Queues,
        Table::Messages,
        Table::Dedup,
        Table::Tasks,
        Table::Topics,
        Table::TopicDedup,
        Table::Buffers,
    ];

    fn name(self) -> &'static str {
        match self {
            Table::Queues => "queues",
            Table::Messages => "messages",
            Table::Dedup => "dedup",
            Table::Tasks => "tasks",
            Table::Topics => "topics",
            Table::TopicDedup => "topic_dedup",
            Table::Buffers => "buffers",
        }
    }

    fn put_sql(self) -> &'static str {
        match self {
            Table::Queues => "INSERT OR REPLACE INTO queues (k, v) VALUES (?1, ?2)",
            Table::Messages => "INSERT OR REPLACE INTO messages (k, v) VALUES (?1, ?2)",
            Table::Dedup => "INSERT OR REPLACE INTO dedup (k, v) VALUES (?1, ?2)",
            Table::Tasks => "INSERT OR REPLACE INTO tasks (k, v) VALUES (?1, ?2)",
            Table::Topics => "INSERT OR REPLACE INTO topics (k, v) VALUES (?1, ?2)",
            Table::TopicDedup => "INSERT OR REPLACE INTO topic_dedup (k, v) VALUES (?1, ?2)",
            Table::Buffers => "INSERT OR REPLACE INTO buffers (k, v) VALUES (?1, ?2)",
        }
    }

    fn delete_sql(self) -> &'static str {
        match self {
            Table::Queues => "DELETE FROM queues WHERE k = ?1",
            Table::Messages => "DELETE FROM messages WHERE k = ?1",
            Table::Dedup => "DELETE FROM dedup WHERE k = ?1",
            Table::Tasks => "DELETE FROM tasks WHERE k = ?1",
            Table::Topics => "DELETE FROM topics WHERE k = ?1",
            Table::TopicDedup => "DELETE FROM topic_dedup WHERE k = ?1",
            Table::Buffers => "DELETE FROM buffers WHERE k = ?1",
        }
    }

    fn scan_sql(self) -> &'static str {
        match self {
            Table::Queues => "SELECT k, v FROM queues ORDER BY k",
            Table::Messages => "SELECT k, v FROM messages ORDER BY k",
            Table::Dedup => "SELECT k, v FROM dedup ORDER BY k",
            Table::Tasks => "SELECT k, v FROM tasks ORDER BY k",
            Table::Topics => "SELECT k, v FROM topics ORDER BY k",
            Table::TopicDedup => "SELECT k, v FROM topic_dedup ORDER BY k",
            Table::Buffers => "SELECT k, v FROM buffers ORDER BY k",
        }
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

/// Errors are cheap to clone because one failed group commit answers many waiters.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KvError {
    #[error("storage engine error: {0}")]
    Engine(Arc<rusqlite::Error>),
    #[error("storage I/O error: {0}")]
    Io(Arc<std::io::Error>),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the data directory {0} is in use by another lull process")]
    Locked(String),
    #[error("the store is closed")]
    Closed,
}

impl From<rusqlite::Error> for KvError {
    fn from(e: rusqlite::Error) -> Self {
        KvError::Engine(Arc::new(e))
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
    /// SQLite transactions committed.
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
    /// Scans read through their own connection (WAL readers never block the writer).
    reader: Mutex<Connection>,
    _lock: std::fs::File,
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
    /// Opens (or creates) the store in `dir`. After an unclean stop SQLite rolls the WAL
    /// forward here, keeping every transaction that was committed.
    pub fn open(dir: &Path) -> Result<Kv, KvError> {
        std::fs::create_dir_all(dir)?;
        let lock = std::fs::File::create(dir.join(LOCK_NAME))?;
        if lock.try_lock().is_err() {
            return Err(KvError::Locked(dir.display().to_string()));
        }

        let path = dir.join(FILE_NAME);
        let writer = open_writer(&path)?;
        // A new file's directory entry (and the WAL's) must survive a power loss too.
        sync_dir(dir)?;

        let reader = Connection::open(&path)?;
        reader.busy_timeout(std::time::Duration::from_secs(10))?;

        let counters = Arc::new(Counters::default());
        let (sender, receiver) = mpsc::channel();
        let writer = {
            let counters = Arc::clone(&counters);
            std::thread::Builder::new()
                .name("lull-store-writer".into())
                .spawn(move || write_loop(writer, &receiver, &counters))?
        };
        Ok(Kv {
            inner: Arc::new(Inner {
                reader: Mutex::new(reader),
                _lock: lock,
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
        let reader = self.inner.reader.lock();
        let mut statement = reader.prepare(table.scan_sql())?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let key = row.get_ref(0)?.as_blob().map_err(corrupt)?;
            let value = row.get_ref(1)?.as_blob().map_err(corrupt)?;
            f(key, value)?;
        }
        Ok(())
    }

    /// The rows of one table whose key starts with `prefix`, in key order. Reads what is
    /// committed: ops submitted but not yet written are not seen.
    pub fn scan_prefix(
        &self,
        table: Table,
        prefix: &[u8],
        f: &mut ScanFn<'_>,
    ) -> Result<(), KvError> {
        // Upper bound: the prefix with its last byte incremented (carrying over 0xff).
        let mut end = prefix.to_vec();
        while end.last() == Some(&0xff) {
            end.pop();
        }
        if let Some(last) = end.last_mut() {
            *last += 1;
        }
        let reader = self.inner.reader.lock();
        let sql = if end.is_empty() {
            format!("SELECT k, v FROM {} WHERE k >= ?1 ORDER BY k", table.name())
        } else {
            format!(
                "SELECT k, v FROM {} WHERE k >= ?1 AND k < ?2 ORDER BY k",
                table.name()
            )
        };
        let mut statement = reader.prepare_cached(&sql)?;
        let mut rows = if end.is_empty() {
            statement.query([prefix])?
        } else {
            statement.query([prefix, end.as_slice()])?
        };
        while let Some(row) = rows.next()? {
            let key = row.get_ref(0)?.as_blob().map_err(corrupt)?;
            let value = row.get_ref(1)?.as_blob().map_err(corrupt)?;
            f(key, value)?;
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

/// The writer's connection: WAL, every commit synced, every table created.
fn open_writer(path: &Path) -> Result<Connection, KvError> {
    let conn = Connection::open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(KvError::Corrupt(format!(
            "{} refused WAL mode (journal_mode={mode})",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    for table in Table::ALL {
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {} (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID",
            table.name()
        ))?;
    }
    Ok(conn)
}

fn corrupt(e: rusqlite::types::FromSqlError) -> KvError {
    KvError::Corrupt(format!("a stored key or value is not a blob: {e}"))
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
fn write_loop(conn: Connection, receiver: &mpsc::Receiver<Request>, counters: &Counters) {
    let mut writer = Writer {
        conn,
        relaxed: false,
    };
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

        let result = writer.apply_group(&group, counters);
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

struct Writer {
    conn: Connection,
    /// `synchronous=NORMAL` is in force (inside a multi-transaction group).
    relaxed: bool,
}

impl Writer {
    /// Applies a group in order: transactions of whole requests, the last one synced.
    fn apply_group(&mut self, group: &[Request], counters: &Counters) -> Result<(), KvError> {
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
            // Set on every last transaction, so that a group that failed half-way cannot
            // leave the next one unsynced.
            self.set_full_sync(last)?;
            self.apply_txn(&group[start..end])?;
            counters.transactions.fetch_add(1, Ordering::Relaxed);
            counters.ops.fetch_add(ops as u64, Ordering::Relaxed);
            if last {
                counters.syncs.fetch_add(1, Ordering::Relaxed);
            }
            start = end;
        }
        Ok(())
    }

    fn set_full_sync(&mut self, full: bool) -> Result<(), KvError> {
        if self.relaxed == full {
            let mode = if full { "FULL" } else { "NORMAL" };
            self.conn.pragma_update(None, "synchronous", mode)?;
            self.relaxed = !full;
        }
        Ok(())
    }

    fn apply_txn(&mut self, requests: &[Request]) -> Result<(), KvError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for op in requests.iter().flat_map(|r| &r.ops) {
            match op {
                Op::Put { table, key, value } => {
                    tx.prepare_cached(table.put_sql())?.execute((key, value))?;
                }
                Op::Delete { table, key } => {
                    tx.prepare_cached(table.delete_sql())?.execute([key])?;
                }
            }
        }
        // Dropping an uncommitted transaction on error rolls it back.
        tx.commit()?;
        Ok(())
    }
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
        assert!(dump(&kv, Table::Topics).is_empty());
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
    async fn scan_prefix_returns_only_that_prefix_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let kv = Kv::open(dir.path()).unwrap();
        kv.commit(vec![
            put(Table::Buffers, "ab\u{1}", "x"),
            put(Table::Buffers, "ab\u{0}2", "2"),
            put(Table::Buffers, "ab\u{0}1", "1"),
            put(Table::Buffers, "ab", "y"),
            put(Table::Buffers, "a", "z"),
        ])
        .await
        .unwrap();
        let mut got = Vec::new();
        kv.scan_prefix(Table::Buffers, b"ab\0", &mut |k, v| {
            got.push((k.to_vec(), v.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            got,
            [
                (b"ab\x001".to_vec(), b"1".to_vec()),
                (b"ab\x002".to_vec(), b"2".to_vec())
            ]
        );
        let mut all = 0;
        kv.scan_prefix(Table::Buffers, b"", &mut |_, _| {
            all += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(all, 5);
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

    #[test]
    fn a_large_group_is_split_into_transactions_with_one_sync() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = Writer {
            conn: open_writer(&dir.path().join(FILE_NAME)).unwrap(),
            relaxed: false,
        };
        let request = |ops| Request { ops, done: None };
        let group = vec![
            request(
                (0..MAX_TXN_OPS - 1)
                    .map(|i| put(Table::Tasks, &format!("k{i:05}"), "old"))
                    .collect(),
            ),
            request(vec![
                put(Table::Tasks, "k00000", "mid"),
                del(Table::Tasks, "k00001"),
            ]),
            request(vec![put(Table::Tasks, "k00000", "new")]),
        ];
        let counters = Counters::default();
        writer.apply_group(&group, &counters).unwrap();
        assert_eq!(counters.transactions.load(Ordering::Relaxed), 2);
        assert_eq!(counters.syncs.load(Ordering::Relaxed), 1);
        // The last transaction ran, and the next group starts, with full sync.
        assert!(!writer.relaxed);
        let sync: i64 = writer
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        let (count, first): (i64, String) = writer
            .conn
            .query_row(
                "SELECT count(*), (SELECT CAST(v AS TEXT) FROM tasks WHERE k = CAST('k00000' AS BLOB)) FROM tasks",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((count, first.as_str()), (MAX_TXN_OPS as i64 - 2, "new"));
    }

    #[test]
    fn a_second_open_of_the_same_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let kv = Kv::open(dir.path()).unwrap();
        assert!(matches!(Kv::open(dir.path()), Err(KvError::Locked(_))));
        kv.close();
        drop(kv);
        Kv::open(dir.path()).unwrap();
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
