//! Load measurements of the debouncer on the embedded store (ignored by default; run in
//! release, one at a time):
//!
//! ```sh
//! cargo test --release --test debounce_load -- --ignored --nocapture --test-threads 1
//! ```
//!
//! - `pending_conversations_fit_in_memory`: `LULL_PENDING` (default 1,000,000) conversations
//!   with one text fragment each; the resident memory they add, live and after a restart.
//! - `flusher_is_on_time_under_load`: 10,000 fragments/s for 10 s over 30,000 conversations
//!   (bursts of three, 1 s window) with the real flusher; how late each batch reached its inbox.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lull::clock::{Clock, ManualClock, SystemClock};
use lull::engine::debounce::{Batch, ConversationKey, DebounceSettings, Fragment};
use lull::engine::{Engine, QueueKey, ReceiveRequest};
use lull::store::embedded::EmbeddedStore;
use lull::webhooks::Platform;
use lull::workers::flusher::Flusher;

const ACCOUNT: &str = "123456789012";

// The allocator the `lull` binary runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Resident set size of this process, in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// A Z-API-shaped text message, as an adapter hands it over.
fn fragment(i: u64) -> Fragment {
    let id = format!("3EB0{i:016X}");
    Fragment {
        text: Some("oi, tudo bem? queria saber o preço do plano".into()),
        kind: "text".into(),
        parts: vec![],
        sender_name: Some("Maria".into()),
        at_ms: 0,
        received_ms: 0,
        raw: serde_json::json!({
            "messageId": id, "phone": format!("55119{i:08}"), "fromMe": false,
            "momment": 1_700_000_000_000u64, "status": "RECEIVED", "senderName": "Maria",
            "text": {"message": "oi, tudo bem? queria saber o preço do plano"}
        }),
        id,
    }
}

fn key(i: u64) -> ConversationKey {
    ConversationKey::new("bot", "3C9A1F", format!("55119{i:08}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load measurement"]
async fn pending_conversations_fit_in_memory() {
    let n: u64 = std::env::var("LULL_PENDING")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let settings = DebounceSettings::default();
    let before = rss();
    let started = Instant::now();
    {
        let store = Arc::new(EmbeddedStore::open(dir.path(), clock.now_ms()).unwrap());
        let engine = Engine::new(store.clone(), clock.clone(), ACCOUNT);
        // Many appends in flight at once, as many webhooks would be: they share group commits.
        let mut set = tokio::task::JoinSet::new();
        for i in 0..n {
            let (engine, settings) = (engine.clone(), settings.clone());
            set.spawn(async move {
                engine
                    .buffer_fragment(Platform::Zapi, &key(i), fragment(i), &settings)
                    .await
                    .unwrap()
            });
            if set.len() >= 512 {
                set.join_next().await.unwrap().unwrap();
            }
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
        let live = rss().saturating_sub(before);
        println!(
            "{n} pending conversations buffered in {:.1?}: +{} MiB resident ({} bytes each)",
            started.elapsed(),
            live >> 20,
            live / n
        );
        store.close();
    }
    let before_reopen = rss();
    let reopened = Instant::now();
    let store = Arc::new(EmbeddedStore::open(dir.path(), clock.now_ms()).unwrap());
    let engine = Engine::new(store.clone(), clock.clone(), ACCOUNT);
    let load = reopened.elapsed();
    let after = rss();
    println!(
        "reopened in {load:.1?}; process resident {} MiB (was {} MiB before the reopen)",
        after >> 20,
        before_reopen >> 20
    );
    assert_eq!(engine.conversations("bot").await.unwrap().len() as u64, n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load measurement"]
async fn flusher_is_on_time_under_load() {
    let rate: u64 = std::env::var("LULL_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    const SECONDS: u64 = 10;
    const BURST: u64 = 3;
    const WINDOW_MS: u64 = 1_000;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SystemClock);
    let store = Arc::new(EmbeddedStore::open(dir.path(), clock.now_ms()).unwrap());
    let engine = Engine::new(store.clone(), clock.clone(), ACCOUNT);
    let inbox = QueueKey::new("us-east-1", "bot-inbox.fifo");
    let attrs = [("FifoQueue".to_string(), "true".to_string())].into();
    engine
        .create_queue(inbox.clone(), attrs, Default::default())
        .await
        .unwrap();
    let settings = DebounceSettings::fixed(WINDOW_MS, 60_000);
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let flusher = {
        let s = settings.clone();
        Flusher::new(
            engine.clone(),
            "us-east-1",
            Arc::new(move |_: &str| s.clone()),
        )
    };
    let task = tokio::spawn(flusher.run(shutdown));

    let total = rate * SECONDS;
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    // Waves of 3,000 fragments every 300 ms; three consecutive waves are one set of
    // conversations' three fragments.
    let wave = rate * 3 / 10;
    for n in 0..total {
        let (w, pos) = (n / wave, n % wave);
        let c = (w / BURST) * wave + pos;
        let at = Duration::from_micros(n * 1_000_000 / rate);
        if let Some(wait) = at.checked_sub(start.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        let (engine, settings) = (engine.clone(), settings.clone());
        set.spawn(async move {
            engine
                .buffer_fragment(Platform::Zapi, &key(c), fragment(n), &settings)
                .await
                .unwrap()
        });
        while let Some(r) = set.try_join_next() {
            r.unwrap();
        }
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    let offered = start.elapsed();
    // Let the last windows close and everything be handed on.
    let deadline = Instant::now() + Duration::from_secs(60);
    while engine.next_flush_at().await.unwrap().is_some() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap();

    let mut late = Vec::new();
    let mut fragments = 0;
    let mut conversations = std::collections::HashSet::new();
    loop {
        let got = engine
            .receive(
                &inbox,
                ReceiveRequest {
                    max_messages: Some(10),
                    wait_seconds: Some(0),
                    visibility_timeout: Some(600),
                },
            )
            .await
            .unwrap();
        if got.is_empty() {
            break;
        }
        for r in got {
            let batch = Batch::parse(&r.message.body).unwrap();
            fragments += batch.fragments.len() as u64;
            conversations.insert(batch.key.conversation.clone());
            let due = batch.last_at + WINDOW_MS;
            late.push(r.message.sent_ms as i64 - due as i64);
        }
    }
    late.sort_unstable();
    let pct = |p: f64| late[((late.len() as f64 - 1.0) * p) as usize];
    println!(
        "{total} fragments offered in {offered:.1?} ({:.0}/s); {} batches for {} conversations; \
         lateness ms: p50 {} p99 {} max {} min {}",
        total as f64 / offered.as_secs_f64(),
        late.len(),
        conversations.len(),
        pct(0.5),
        pct(0.99),
        late[late.len() - 1],
        late[0]
    );
    assert_eq!(fragments, total, "every fragment delivered once");
    store.close();
}
