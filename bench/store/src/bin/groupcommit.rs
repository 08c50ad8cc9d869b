//! Group-commit throughput of lull's own store (`src/store/embedded/kv.rs`): N tasks each
//! loop on a durable `commit` of one 400-byte put plus the delete of their previous message.
//!
//! Usage: `groupcommit DIR`

#[path = "../../../../src/store/embedded/kv.rs"]
#[allow(dead_code)]
mod kv;

use std::time::{Duration, Instant};

use kv::{Kv, Op, Table};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).ok_or("usage: groupcommit DIR")?);
    for &tasks in &[1usize, 8, 64, 256] {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        let kv = Kv::open(&dir)?;
        let budget = Duration::from_secs(4);
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let kv = kv.clone();
                tokio::spawn(async move {
                    let (mut n, mut waited) = (0u64, Duration::ZERO);
                    while start.elapsed() < budget {
                        let key = |i: u64| format!("q1/{t:04}/{i:012}").into_bytes();
                        let mut ops = vec![Op::Put { table: Table::Messages, key: key(n), value: vec![b'x'; 400] }];
                        if n > 0 {
                            ops.push(Op::Delete { table: Table::Messages, key: key(n - 1) });
                        }
                        let t0 = Instant::now();
                        kv.commit(ops).await?;
                        waited += t0.elapsed();
                        n += 1;
                    }
                    Ok::<_, kv::KvError>((n, waited))
                })
            })
            .collect();
        let (mut n, mut waited) = (0u64, Duration::ZERO);
        for h in handles {
            let (a, b) = h.await??;
            n += a;
            waited += b;
        }
        let secs = start.elapsed().as_secs_f64();
        let s = kv.stats();
        kv.close();
        println!(
            "kv\tgroupcommit\ttasks={tasks}\tcommits/s={:.0}\tsyncs/s={:.0}\tcommits_per_sync={:.1}\tmean_latency_ms={:.2}",
            n as f64 / secs,
            s.syncs as f64 / secs,
            n as f64 / s.syncs.max(1) as f64,
            waited.as_secs_f64() * 1000.0 / n.max(1) as f64
        );
    }
    Ok(())
}
