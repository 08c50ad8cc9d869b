//! Memory and restart time with many pending conversations: buffers one Z-API text fragment
//! (the payload of tests/fixtures/webhooks/zapi/text.json, parsed by the Z-API adapter the way
//! the webhook route does) for each of N conversations (default 1,000,000) through the engine
//! on the embedded store, with a window long enough that nothing flushes, and reads VmRSS from
//! /proc/self/status before and after. Then it closes the store and times the reopen that
//! `lull serve` does before it listens, in a fresh process so the figure is not blurred by the
//! first process's heap.
//!
//! `cargo run --release --example conversations_1m -- [CONVERSATIONS] [FRAGMENTS_EACH] [DIR]`
//!
//! Human-readable lines go to stderr; one JSON line with every figure goes to stdout.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use lull::clock::{Clock, SystemClock};
use lull::engine::debounce::{Buffered, ConversationKey, DebounceSettings, Fragment};
use lull::engine::Engine;
use lull::store::embedded::EmbeddedStore;
use lull::store::Store;
use lull::webhooks::zapi::ZapiConfig;
use lull::webhooks::{Event, Platform, PlatformConfig};
use serde_json::json;

// The allocator `lull serve` runs with, so resident memory means the same thing.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const APP: &str = "mem";
const FIXTURE: &str = include_str!("../tests/fixtures/webhooks/zapi/text.json");
const TASKS: usize = 64;
const HOUR_MS: u64 = 3_600_000;

fn rss_bytes() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS in /proc/self/status")?;
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .context("VmRSS has no value")?
        .parse()?;
    Ok(kb * 1024)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The fixture's webhook with its message id and phone replaced, parsed by the Z-API adapter.
fn fragment(
    cfg: &PlatformConfig,
    conv: u64,
    n: u64,
) -> anyhow::Result<(ConversationKey, Fragment)> {
    let body = FIXTURE
        .replace("3EB07A61C2F4D09B1E55", &format!("3EB0{conv:010}N{n:04}"))
        .replace("5521912340001", &format!("55{}", 11_900_000_000u64 + conv));
    let mut events = cfg.parse(APP, body.as_bytes())?;
    match events.pop() {
        Some(Event::Message(m)) => {
            let key = ConversationKey::new(APP, m.account.clone(), m.conversation.clone());
            Ok((key, Fragment::from(m)))
        }
        other => bail!("the Z-API fixture did not parse as a message: {other:?}"),
    }
}

/// Child mode: open the store, time it, read RSS, then count what it holds.
async fn reopen(dir: &Path) -> anyhow::Result<()> {
    let rss_empty = rss_bytes()?;
    let clock = SystemClock;
    let opened = Instant::now();
    let store = EmbeddedStore::open(dir, clock.now_ms())?;
    let secs = opened.elapsed().as_secs_f64();
    let rss = rss_bytes()?;
    let buffers = store.list_buffers(APP).await?.len();
    store.close();
    println!(
        "{}",
        json!({ "reopen_seconds": secs, "rss_reopened": rss, "rss_process_start": rss_empty, "buffers": buffers })
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--reopen") {
        let dir = args.get(1).context("--reopen DIR")?;
        return reopen(Path::new(dir)).await;
    }
    let conversations: u64 = args
        .first()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let each: u64 = args
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1)
        .max(1);
    let dir = match args.get(2) {
        Some(d) => PathBuf::from(d),
        None => std::env::temp_dir().join(format!("lull-conversations-{}", std::process::id())),
    };
    if dir.exists() {
        bail!("{} exists; give a fresh directory", dir.display());
    }
    std::fs::create_dir_all(&dir)?;

    let clock = Arc::new(SystemClock);
    let store = Arc::new(EmbeddedStore::open(&dir, clock.now_ms())?);
    let engine = Engine::new(
        store.clone() as Arc<dyn Store>,
        clock.clone(),
        "123456789012",
    );
    let cfg = Arc::new(PlatformConfig::Zapi(ZapiConfig::new(
        "3C91F0A7B2D84E6C9A15E0D2B7F4A831",
        "F00DBABE",
    )));
    // Nothing becomes due while the run lasts.
    let settings = Arc::new(DebounceSettings {
        max_fragments: u32::MAX,
        ..DebounceSettings::fixed(HOUR_MS, HOUR_MS)
    });
    let (_, sample) = fragment(&cfg, 0, 0)?;
    let payload_bytes = serde_json::to_vec(&sample)?.len();
    let rss_before = rss_bytes()?;

    let filled = Instant::now();
    let mut tasks = Vec::with_capacity(TASKS);
    for t in 0..TASKS as u64 {
        let (engine, cfg, settings) = (engine.clone(), cfg.clone(), settings.clone());
        tasks.push(tokio::spawn(async move {
            let mut accepted = 0u64;
            for n in 0..each {
                let mut conv = t;
                while conv < conversations {
                    let (key, f) = fragment(&cfg, conv, n)?;
                    match engine
                        .buffer_fragment(Platform::Zapi, &key, f, &settings)
                        .await?
                    {
                        Buffered::Accepted { .. } => accepted += 1,
                        Buffered::Duplicate => bail!("fragment {conv}/{n} taken for a duplicate"),
                    }
                    conv += TASKS as u64;
                }
            }
            anyhow::Ok(accepted)
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        accepted += task.await??;
    }
    let fill_secs = filled.elapsed().as_secs_f64();
    let rss_after = rss_bytes()?;
    let per_conversation = rss_after.saturating_sub(rss_before) as f64 / conversations as f64;
    eprintln!(
        "buffered {accepted} fragments in {conversations} conversations in {fill_secs:.1} s \
         ({:.0} durable fragments/s); RSS {:.0} MiB -> {:.0} MiB: {per_conversation:.0} bytes \
         per conversation (fragment JSON {payload_bytes} bytes)",
        accepted as f64 / fill_secs,
        mib(rss_before),
        mib(rss_after),
    );

    drop(engine);
    store.close();
    drop(store);
    let store_bytes = dir_size(&dir);

    let child = std::process::Command::new(std::env::current_exe()?)
        .arg("--reopen")
        .arg(&dir)
        .output()?;
    if !child.status.success() {
        bail!(
            "reopen failed: {}",
            String::from_utf8_lossy(&child.stderr).trim()
        );
    }
    let reopened: serde_json::Value = serde_json::from_slice(&child.stdout)?;
    let reopen_secs = reopened["reopen_seconds"].as_f64().unwrap_or(f64::NAN);
    let rss_reopened = reopened["rss_reopened"].as_u64().unwrap_or(0);
    let buffers = reopened["buffers"].as_u64().unwrap_or(0);
    eprintln!(
        "store {:.0} MiB; reopened in {reopen_secs:.2} s with {buffers} pending conversations, \
         RSS {:.0} MiB",
        mib(store_bytes),
        mib(rss_reopened),
    );
    std::fs::remove_dir_all(&dir)?;
    if buffers != conversations {
        bail!("reopened store holds {buffers} conversations, expected {conversations}");
    }

    println!(
        "{}",
        json!({
            "conversations": conversations,
            "fragments_each": each,
            "fragment_json_bytes": payload_bytes,
            "fill_seconds": fill_secs,
            "fill_per_second": accepted as f64 / fill_secs,
            "rss_before_mib": mib(rss_before),
            "rss_after_mib": mib(rss_after),
            "bytes_per_conversation": per_conversation,
            "store_mib": mib(store_bytes),
            "reopen_seconds": reopen_secs,
            "rss_reopened_mib": mib(rss_reopened),
            "buffers_reopened": buffers,
        })
    );
    Ok(())
}
