//! Measures how long the embedded store takes to open with many stored messages: fills a store
//! with N messages (default 1,000,000, 256-byte bodies) through the store API in batches, closes
//! it, then times `EmbeddedStore::open` — the work `lull serve` does before it listens.
//!
//! `cargo run --release --example startup_1m -- [MESSAGES] [DIR]`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use lull::clock::{Clock, SystemClock};
use lull::engine::{Engine, QueueKey, SendRequest};
use lull::store::embedded::EmbeddedStore;
use lull::store::Store;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let dir = match args.next() {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("lull-startup-{}", std::process::id())),
    };
    let clock = Arc::new(SystemClock);
    let store = Arc::new(EmbeddedStore::open(&dir, clock.now_ms())?);
    let engine = Engine::new(
        store.clone() as Arc<dyn Store>,
        clock.clone(),
        "123456789012",
    );
    let key = QueueKey::new("us-east-1", "startup");
    engine
        .create_queue(key.clone(), BTreeMap::new(), BTreeMap::new())
        .await?;
    let body = "x".repeat(256);
    let filled = Instant::now();
    let mut tasks = Vec::new();
    let per_task = n / 8;
    for _ in 0..8 {
        let (engine, key, body) = (engine.clone(), key.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut sent = 0;
            while sent < per_task {
                let batch: Vec<SendRequest> = (0..10.min(per_task - sent))
                    .map(|_| SendRequest {
                        body: body.clone(),
                        ..Default::default()
                    })
                    .collect();
                sent += batch.len();
                engine.send(&key, batch).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let fill_secs = filled.elapsed().as_secs_f64();
    println!(
        "filled {} messages in {:.1} s ({:.0} msg/s durable sends)",
        per_task * 8,
        fill_secs,
        (per_task * 8) as f64 / fill_secs
    );
    drop(engine);
    store.close();
    drop(store);
    let size: u64 = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    let opened = Instant::now();
    let store = EmbeddedStore::open(&dir, clock.now_ms())?;
    let open_secs = opened.elapsed().as_secs_f64();
    let counts = store
        .counts(&key, clock.now_ms())
        .await?
        .unwrap_or_default();
    println!(
        "reopened in {:.2} s with {} visible messages; store file {:.0} MiB",
        open_secs,
        counts.visible,
        size as f64 / 1048576.0
    );
    store.close();
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
