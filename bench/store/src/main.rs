//! Storage-engine comparison for lull's embedded store.
//!
//! The workload it models: many small durable writes (a key of about 20 bytes, a 400-byte
//! value), most deleted soon after, and one full scan at start-up. Every commit below is
//! durable: redb `Durability::Immediate`, fjall `PersistMode::SyncAll`, SQLite in WAL mode
//! with `synchronous=FULL` (`sqlite-normal` is shown only for reference; it may lose the
//! last commits on power loss).
//!
//! Usage: `storebench ENGINE SCENARIO DIR`
//!   ENGINE   redb | fjall | sqlite-full | sqlite-normal
//!   SCENARIO commits | churn | scan | synccheck | abort | reopen
//!   DIR      an empty scratch directory (it is wiped first)

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

type R<T> = Result<T, Box<dyn Error>>;

const VALUE_LEN: usize = 400;

trait Store {
    /// One durable transaction.
    fn commit(&mut self, puts: &[(Vec<u8>, Vec<u8>)], dels: &[Vec<u8>]) -> R<()>;
    /// Full scan in key order; returns (records, bytes).
    fn scan(&self) -> R<(u64, u64)>;
}

// ---------- redb ----------
const REDB_TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("kv");

struct Redb(redb::Database, bool);

impl Redb {
    fn open(dir: &Path) -> R<Self> {
        let db = redb::Database::create(dir.join("store.redb"))?;
        let tx = db.begin_write()?;
        tx.open_table(REDB_TABLE)?;
        tx.commit()?;
        // REDB_QUICK_REPAIR=1 stores allocator state with every commit (fast start after a crash).
        let quick = std::env::var("REDB_QUICK_REPAIR").is_ok_and(|v| v == "1");
        Ok(Self(db, quick))
    }
}

impl Store for Redb {
    fn commit(&mut self, puts: &[(Vec<u8>, Vec<u8>)], dels: &[Vec<u8>]) -> R<()> {
        let mut tx = self.0.begin_write()?;
        tx.set_durability(redb::Durability::Immediate)?;
        tx.set_quick_repair(self.1);
        {
            let mut t = tx.open_table(REDB_TABLE)?;
            for (k, v) in puts {
                t.insert(k.as_slice(), v.as_slice())?;
            }
            for k in dels {
                t.remove(k.as_slice())?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn scan(&self) -> R<(u64, u64)> {
        use redb::{ReadableDatabase, ReadableTable};
        let tx = self.0.begin_read()?;
        let t = tx.open_table(REDB_TABLE)?;
        let (mut n, mut bytes) = (0u64, 0u64);
        for row in t.iter()? {
            let (k, v) = row?;
            n += 1;
            bytes += (k.value().len() + v.value().len()) as u64;
        }
        Ok((n, bytes))
    }
}

// ---------- fjall ----------
struct Fjall {
    db: fjall::Database,
    ks: fjall::Keyspace,
}

impl Fjall {
    fn open(dir: &Path) -> R<Self> {
        let db = fjall::Database::builder(dir).open()?;
        let ks = db.keyspace("kv", fjall::KeyspaceCreateOptions::default)?;
        Ok(Self { db, ks })
    }
}

impl Store for Fjall {
    fn commit(&mut self, puts: &[(Vec<u8>, Vec<u8>)], dels: &[Vec<u8>]) -> R<()> {
        let mut b = self
            .db
            .batch()
            .durability(Some(fjall::PersistMode::SyncAll));
        for (k, v) in puts {
            b.insert(&self.ks, k.as_slice(), v.as_slice());
        }
        for k in dels {
            b.remove(&self.ks, k.as_slice());
        }
        b.commit()?;
        Ok(())
    }

    fn scan(&self) -> R<(u64, u64)> {
        let (mut n, mut bytes) = (0u64, 0u64);
        for g in self.ks.iter() {
            let (k, v) = g.into_inner()?;
            n += 1;
            bytes += (k.len() + v.len()) as u64;
        }
        Ok((n, bytes))
    }
}

// ---------- SQLite ----------
struct Sqlite(rusqlite::Connection);

impl Sqlite {
    fn open(dir: &Path, sync: &str) -> R<Self> {
        let c = rusqlite::Connection::open(dir.join("store.sqlite"))?;
        let mode: String = c.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        assert_eq!(mode, "wal");
        c.pragma_update(None, "synchronous", sync)?;
        c.execute_batch("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")?;
        Ok(Self(c))
    }
}

impl Store for Sqlite {
    fn commit(&mut self, puts: &[(Vec<u8>, Vec<u8>)], dels: &[Vec<u8>]) -> R<()> {
        let tx = self.0.transaction()?;
        {
            let mut ins = tx.prepare_cached("INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)")?;
            for (k, v) in puts {
                ins.execute((k, v))?;
            }
            let mut del = tx.prepare_cached("DELETE FROM kv WHERE k = ?1")?;
            for k in dels {
                del.execute([k])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn scan(&self) -> R<(u64, u64)> {
        let mut st = self.0.prepare("SELECT k, v FROM kv ORDER BY k")?;
        let mut rows = st.query([])?;
        let (mut n, mut bytes) = (0u64, 0u64);
        while let Some(r) = rows.next()? {
            let k = r.get_ref(0)?.as_blob()?.len();
            let v = r.get_ref(1)?.as_blob()?.len();
            n += 1;
            bytes += (k + v) as u64;
        }
        Ok((n, bytes))
    }
}

fn open(engine: &str, dir: &Path) -> R<Box<dyn Store>> {
    Ok(match engine {
        "redb" => Box::new(Redb::open(dir)?),
        "fjall" => Box::new(Fjall::open(dir)?),
        "sqlite-full" => Box::new(Sqlite::open(dir, "FULL")?),
        "sqlite-normal" => Box::new(Sqlite::open(dir, "NORMAL")?),
        other => return Err(format!("unknown engine {other}").into()),
    })
}

// ---------- workload helpers ----------
fn key(seq: u64) -> Vec<u8> {
    // Shaped like a message key: queue id, then a time-ordered message sequence.
    format!("q00000017/{seq:016x}").into_bytes()
}

/// Incompressible value so that compression does not flatter any engine.
struct Values(u64);
impl Values {
    fn next(&mut self) -> Vec<u8> {
        let mut v = Vec::with_capacity(VALUE_LEN);
        while v.len() < VALUE_LEN {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            v.extend_from_slice(&self.0.to_le_bytes());
        }
        v.truncate(VALUE_LEN);
        v
    }
}

fn fresh(dir: &Path) -> R<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    Ok(())
}

fn disk_bytes(dir: &Path) -> u64 {
    fn walk(p: &Path) -> u64 {
        let Ok(rd) = std::fs::read_dir(p) else { return 0 };
        rd.flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => walk(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    }
    walk(dir)
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

// ---------- scenarios ----------
/// (a) durable commits of batches of N puts.
fn commits(engine: &str, dir: &Path) -> R<()> {
    // BATCHES=1,16 and BUDGET_MS=1000 narrow a run (for interleaved repetitions).
    let batches: Vec<usize> = std::env::var("BATCHES")
        .ok()
        .map(|v| v.split(',').filter_map(|b| b.parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 16, 128, 1024]);
    let budget_ms: u64 = std::env::var("BUDGET_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    for batch in batches {
        fresh(dir)?;
        let mut s = open(engine, dir)?;
        let mut vals = Values(0x9e37_79b9_7f4a_7c15);
        let mut seq = 0u64;
        let (budget, max_ops) = (Duration::from_millis(budget_ms), 300_000u64);
        let start = Instant::now();
        let mut n_commits = 0u64;
        while start.elapsed() < budget && seq < max_ops {
            let puts: Vec<_> = (0..batch)
                .map(|_| {
                    seq += 1;
                    (key(seq), vals.next())
                })
                .collect();
            s.commit(&puts, &[])?;
            n_commits += 1;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{engine}\tcommits\tbatch={batch}\tops/s={:.0}\tcommits/s={:.0}\tmean_ms={:.3}",
            seq as f64 / secs,
            n_commits as f64 / secs,
            secs * 1000.0 / n_commits as f64
        );
    }
    Ok(())
}

/// (b) steady churn: each commit puts 128 new keys and deletes the 128 oldest.
fn churn(engine: &str, dir: &Path) -> R<()> {
    fresh(dir)?;
    let mut vals = Values(0x2545_f491_4f6c_dd1d);
    let backlog = 10_000u64;
    let mut s = open(engine, dir)?;
    let mut next = 0u64;
    while next < backlog {
        let puts: Vec<_> = (0..1000)
            .map(|_| {
                next += 1;
                (key(next), vals.next())
            })
            .collect();
        s.commit(&puts, &[])?;
    }
    let mut oldest = 1u64;
    let mut ops = 0u64;
    let total: u64 = std::env::var("CHURN_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let start = Instant::now();
    while ops < total {
        let puts: Vec<_> = (0..128)
            .map(|_| {
                next += 1;
                (key(next), vals.next())
            })
            .collect();
        let dels: Vec<_> = (0..128)
            .map(|_| {
                oldest += 1;
                key(oldest - 1)
            })
            .collect();
        s.commit(&puts, &dels)?;
        ops += 256;
    }
    let secs = start.elapsed().as_secs_f64();
    let open_size = disk_bytes(dir);
    drop(s);
    let closed_size = disk_bytes(dir);
    let t = Instant::now();
    let s = open(engine, dir)?;
    let (n, _) = s.scan()?;
    let reopen_scan_ms = t.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{engine}\tchurn\tops={ops}\tops/s={:.0}\tlive={n}\treopen_scan_ms={reopen_scan_ms:.0}\tdisk_open_MiB={:.1}\tdisk_closed_MiB={:.1}\tlive_data_MiB={:.1}",
        ops as f64 / secs,
        mib(open_size),
        mib(closed_size),
        mib(n * (VALUE_LEN as u64 + 26))
    );
    Ok(())
}

fn drop_page_cache() -> bool {
    // Needs root; without it the scan below runs with a warm page cache.
    sync_all_files();
    std::fs::write("/proc/sys/vm/drop_caches", "3\n").is_ok()
}

fn sync_all_files() {
    let _ = std::process::Command::new("sync").status();
}

/// (c) start-up: open and scan 1,000,000 records.
fn scan(engine: &str, dir: &Path) -> R<()> {
    fresh(dir)?;
    let total = 1_000_000u64;
    {
        let mut s = open(engine, dir)?;
        let mut vals = Values(0x1234_5678_9abc_def1);
        let mut seq = 0u64;
        let t = Instant::now();
        while seq < total {
            let puts: Vec<_> = (0..10_000)
                .map(|_| {
                    seq += 1;
                    (key(seq), vals.next())
                })
                .collect();
            s.commit(&puts, &[])?;
        }
        eprintln!("{engine}: loaded {total} in {:.1}s", t.elapsed().as_secs_f64());
    }
    let cold = drop_page_cache();
    let t = Instant::now();
    let s = open(engine, dir)?;
    let open_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (n, bytes) = s.scan()?;
    let scan_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let _ = s.scan()?;
    let warm_s = t.elapsed().as_secs_f64();
    println!(
        "{engine}\tscan\trecords={n}\tMiB={:.0}\tcold_cache={cold}\topen_s={open_s:.3}\tscan_s={scan_s:.3}\twarm_rescan_s={warm_s:.3}\tdisk_MiB={:.0}",
        mib(bytes),
        mib(disk_bytes(dir))
    );
    Ok(())
}

/// Crash: open an existing store, commit one batch, then abort without any shutdown.
fn abort(engine: &str, dir: &Path) -> R<()> {
    let mut s = open(engine, dir)?;
    let mut vals = Values(99);
    let puts: Vec<_> = (0..128).map(|i| (key(u64::MAX - i), vals.next())).collect();
    s.commit(&puts, &[])?;
    std::process::abort();
}

/// Time opening and scanning whatever is in DIR (e.g. after `abort`).
fn reopen(engine: &str, dir: &Path) -> R<()> {
    let cold = drop_page_cache();
    let t = Instant::now();
    let s = open(engine, dir)?;
    let open_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (n, _) = s.scan()?;
    println!(
        "{engine}\treopen\trecords={n}\tcold_cache={cold}\topen_s={open_s:.3}\tscan_s={:.3}",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// (d) a fixed number of single-put commits, meant to run under `strace -f -c`.
fn synccheck(engine: &str, dir: &Path) -> R<()> {
    fresh(dir)?;
    let mut s = open(engine, dir)?;
    let mut vals = Values(7);
    for seq in 1..=1000 {
        s.commit(&[(key(seq), vals.next())], &[])?;
    }
    println!("{engine}\tsynccheck\tcommits=1000");
    Ok(())
}

fn main() -> R<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        return Err("usage: storebench ENGINE commits|churn|scan|synccheck|abort|reopen DIR".into());
    }
    let dir = PathBuf::from(&args[3]);
    match args[2].as_str() {
        "commits" => commits(&args[1], &dir),
        "churn" => churn(&args[1], &dir),
        "scan" => scan(&args[1], &dir),
        "synccheck" => synccheck(&args[1], &dir),
        "abort" => abort(&args[1], &dir),
        "reopen" => reopen(&args[1], &dir),
        other => Err(format!("unknown scenario {other}").into()),
    }
}
