//! Debounce timer lateness, measured from outside: fragments are posted to `/webhooks/{app}`
//! at a fixed rate, each conversation getting `k` fragments `gap` apart, and readers take the
//! flushed batches from `{app}-inbox.fifo` over SQS JSON.
//!
//! A batch is due `window` after lull received its last fragment; the handler call carries
//! that receive time as `last_at`, and the inbox message's `SentTimestamp` is when the flusher
//! put it there. Lateness is `SentTimestamp − (last_at + window)`, both from lull's clock. A
//! second figure is what a consumer sees: when the reader got the batch minus (when this
//! generator sent the last fragment + window), both from the generator's clock; it adds the
//! request and the long poll's wake-up.
//!
//! A generator that falls behind (the server cannot take the rate) sends late, widening the
//! gaps, and stops one second after the planned end; conversations it did not finish are left
//! out of the split count.
//!
//! Slot `i` (sent at `i / rate`) belongs to conversation `block × W + member` as its fragment
//! `f`, where `W = rate × gap` conversations start per gap, `block = i / (k × W)`,
//! `f = (i mod k × W) / W` and `member = i mod W`; so the rate is steady while every
//! conversation's fragments are exactly `gap` apart.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{BenchError, Result};
use crate::http::{Endpoint, HttpConn};
use crate::sqs::SqsClient;
use crate::webhook::{post, Payload, Platform};

#[derive(Clone, Debug)]
pub struct LatenessPlan {
    pub target: String,
    /// lull's base URL (`http://HOST:PORT`).
    pub url: String,
    pub app: String,
    pub platform: Platform,
    /// Fragments per second.
    pub rate: f64,
    pub duration: Duration,
    /// The app's debounce window (fixed mode), as configured in lull.toml.
    pub window_ms: u64,
    pub fragments_per_conversation: u32,
    pub gap_ms: u64,
    pub connections: u32,
    pub readers: u32,
    pub drain_timeout: Duration,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LatenessResult {
    pub target: String,
    pub platform: String,
    pub rate: f64,
    /// Fragments accepted per second, first to last send.
    pub achieved_rate: f64,
    pub seconds: f64,
    pub window_ms: u64,
    pub fragments_per_conversation: u32,
    pub gap_ms: u64,
    pub connections: u32,
    pub fragments_planned: u64,
    pub fragments_accepted: u64,
    /// Conversations all of whose fragments were accepted.
    pub conversations: u64,
    /// Batches read from the inbox, and the fragments they held.
    pub batches: u64,
    pub fragments_flushed: u64,
    /// Complete conversations that reached the inbox as more than one batch.
    pub split_conversations: u64,
    /// Batches put in the inbox before their due time (should be none).
    pub early: u64,
    pub lateness_p50_ms: f64,
    pub lateness_p99_ms: f64,
    pub lateness_p999_ms: f64,
    pub lateness_max_ms: f64,
    pub seen_p50_ms: f64,
    pub seen_p99_ms: f64,
    pub seen_max_ms: f64,
    pub ingest_p50_ms: f64,
    pub ingest_p99_ms: f64,
    /// How far behind schedule the generator sent (it cannot keep the rate when this grows).
    pub send_lag_p99_ms: f64,
    pub errors: u64,
    pub first_error: Option<String>,
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// How long past the planned end a generator that fell behind keeps sending.
const GRACE: Duration = Duration::from_secs(1);

/// Milliseconds, 0 .. 10 min.
fn ms_histogram() -> Histogram<u64> {
    Histogram::new_with_max(600_000, 3).expect("constant histogram bounds are valid")
}

/// Microseconds, 1 µs .. 10 min.
fn us_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant histogram bounds are valid")
}

struct Schedule {
    rate: f64,
    k: u64,
    per_gap: u64,
    slots: u64,
}

impl Schedule {
    fn new(plan: &LatenessPlan) -> Self {
        let k = u64::from(plan.fragments_per_conversation.max(1));
        let per_gap = ((plan.rate * plan.gap_ms as f64 / 1000.0).round() as u64).max(1);
        let block = k * per_gap;
        let wanted = (plan.rate * plan.duration.as_secs_f64()) as u64;
        Self {
            rate: plan.rate,
            k,
            per_gap,
            // Whole blocks only, so every conversation gets all its fragments.
            slots: (wanted / block).max(1) * block,
        }
    }

    fn conversations(&self) -> u64 {
        self.slots / self.k
    }

    /// (conversation, fragment number) of slot `i`.
    fn slot(&self, i: u64) -> (u64, u64) {
        let block = self.k * self.per_gap;
        let (b, j) = (i / block, i % block);
        (b * self.per_gap + j % self.per_gap, j / self.per_gap)
    }

    fn at(&self, i: u64) -> Duration {
        Duration::from_secs_f64(i as f64 / self.rate)
    }
}

struct Shared {
    plan: LatenessPlan,
    schedule: Schedule,
    payload: Payload,
    endpoint: Endpoint,
    webhook_path: String,
    sqs: SqsClient,
    origin: Instant,
    next: AtomicU64,
    /// Per conversation: the generator's wall clock (ms) when it sent the last fragment.
    last_sent: Vec<AtomicU64>,
    /// Per conversation: fragments accepted, and batches read from the inbox.
    accepted_of: Vec<AtomicU32>,
    batches_of: Vec<AtomicU32>,
    accepted: AtomicU64,
    sending_done: AtomicBool,
    flushed: AtomicU64,
}

struct SendTally {
    ingest: Histogram<u64>,
    lag: Histogram<u64>,
    accepted: u64,
    errors: u64,
    first_error: Option<String>,
    first: Option<Instant>,
    last: Option<Instant>,
}

struct ReadTally {
    lateness: Histogram<u64>,
    seen: Histogram<u64>,
    batches: u64,
    fragments: u64,
    early: u64,
    errors: u64,
    first_error: Option<String>,
}

pub async fn run(plan: &LatenessPlan) -> Result<LatenessResult> {
    let rate_ok = plan.rate.is_finite() && plan.rate > 0.0;
    if !rate_ok || plan.connections == 0 || plan.readers == 0 {
        return Err(BenchError::Usage(
            "--rate, --connections and --readers must be positive".into(),
        ));
    }
    let endpoint = Endpoint::parse(&plan.url)?;
    let schedule = Schedule::new(plan);
    let conversations = schedule.conversations();
    let mut senders = Vec::with_capacity(plan.connections as usize);
    for _ in 0..plan.connections {
        senders.push(HttpConn::connect(&endpoint).await?);
    }
    let mut readers = Vec::with_capacity(plan.readers as usize);
    for _ in 0..plan.readers {
        readers.push(HttpConn::connect(&endpoint).await?);
    }
    let shared = Arc::new(Shared {
        plan: plan.clone(),
        payload: Payload::new(plan.platform),
        webhook_path: endpoint.path(&format!("/webhooks/{}", plan.app)),
        sqs: SqsClient::new(endpoint.clone())?,
        endpoint,
        schedule,
        origin: Instant::now(),
        next: AtomicU64::new(0),
        last_sent: (0..conversations).map(|_| AtomicU64::new(0)).collect(),
        accepted_of: (0..conversations).map(|_| AtomicU32::new(0)).collect(),
        batches_of: (0..conversations).map(|_| AtomicU32::new(0)).collect(),
        accepted: AtomicU64::new(0),
        sending_done: AtomicBool::new(false),
        flushed: AtomicU64::new(0),
    });

    let inbox = inbox_url(&shared, &mut readers[0]).await?;
    let read_tasks: Vec<_> = readers
        .into_iter()
        .map(|conn| tokio::spawn(read_loop(conn, Arc::clone(&shared), inbox.clone())))
        .collect();
    let send_tasks: Vec<_> = senders
        .into_iter()
        .map(|conn| tokio::spawn(send_loop(conn, Arc::clone(&shared))))
        .collect();

    let mut sent = SendTally {
        ingest: us_histogram(),
        lag: us_histogram(),
        accepted: 0,
        errors: 0,
        first_error: None,
        first: None,
        last: None,
    };
    for task in send_tasks {
        match task.await {
            Ok(t) => {
                let _ = sent.ingest.add(&t.ingest);
                let _ = sent.lag.add(&t.lag);
                sent.accepted += t.accepted;
                sent.errors += t.errors;
                sent.first_error = sent.first_error.or(t.first_error);
                sent.first = match (sent.first, t.first) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                sent.last = sent.last.max(t.last);
            }
            Err(err) => {
                sent.errors += 1;
                sent.first_error = sent.first_error.or(Some(format!("sender panicked: {err}")));
            }
        }
    }
    shared.sending_done.store(true, Ordering::SeqCst);

    let mut read = ReadTally {
        lateness: ms_histogram(),
        seen: ms_histogram(),
        batches: 0,
        fragments: 0,
        early: 0,
        errors: 0,
        first_error: None,
    };
    for task in read_tasks {
        match task.await {
            Ok(t) => {
                let _ = read.lateness.add(&t.lateness);
                let _ = read.seen.add(&t.seen);
                read.batches += t.batches;
                read.fragments += t.fragments;
                read.early += t.early;
                read.errors += t.errors;
                read.first_error = read.first_error.or(t.first_error);
            }
            Err(err) => {
                read.errors += 1;
                read.first_error = read.first_error.or(Some(format!("reader panicked: {err}")));
            }
        }
    }

    let k = shared.schedule.k as u32;
    let complete = shared
        .accepted_of
        .iter()
        .zip(&shared.batches_of)
        .map(|(a, b)| (a.load(Ordering::SeqCst), b.load(Ordering::SeqCst)))
        .filter(|(a, _)| *a == k);
    let (complete_count, split) =
        complete.fold((0u64, 0u64), |(n, s), (_, b)| (n + 1, s + u64::from(b > 1)));
    let send_secs = match (sent.first, sent.last) {
        (Some(a), Some(b)) => b.duration_since(a).as_secs_f64().max(1e-9),
        _ => 1e-9,
    };
    let q = |h: &Histogram<u64>, q: f64, scale: f64| {
        if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(q) as f64 / scale
        }
    };
    let max = |h: &Histogram<u64>| if h.is_empty() { 0.0 } else { h.max() as f64 };
    Ok(LatenessResult {
        target: plan.target.clone(),
        platform: plan.platform.to_string(),
        rate: plan.rate,
        achieved_rate: (sent.accepted as f64 / send_secs).round(),
        seconds: (send_secs * 1000.0).round() / 1000.0,
        window_ms: plan.window_ms,
        fragments_per_conversation: plan.fragments_per_conversation,
        gap_ms: plan.gap_ms,
        connections: plan.connections,
        fragments_planned: shared.schedule.slots,
        fragments_accepted: sent.accepted,
        conversations: complete_count,
        batches: read.batches,
        fragments_flushed: read.fragments,
        split_conversations: split,
        early: read.early,
        lateness_p50_ms: q(&read.lateness, 0.5, 1.0),
        lateness_p99_ms: q(&read.lateness, 0.99, 1.0),
        lateness_p999_ms: q(&read.lateness, 0.999, 1.0),
        lateness_max_ms: max(&read.lateness),
        seen_p50_ms: q(&read.seen, 0.5, 1.0),
        seen_p99_ms: q(&read.seen, 0.99, 1.0),
        seen_max_ms: max(&read.seen),
        ingest_p50_ms: q(&sent.ingest, 0.5, 1000.0),
        ingest_p99_ms: q(&sent.ingest, 0.99, 1000.0),
        send_lag_p99_ms: q(&sent.lag, 0.99, 1000.0),
        errors: sent.errors + read.errors,
        first_error: sent.first_error.or(read.first_error),
    })
}

/// The app's inbox queue; the gateway creates it at start, so a short wait covers a server
/// that is still setting up.
async fn inbox_url(shared: &Shared, conn: &mut HttpConn) -> Result<String> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(rename = "QueueUrl")]
        queue_url: String,
    }
    let name = format!("{}-inbox.fifo", shared.plan.app);
    let body = Bytes::from(serde_json::to_vec(&json!({ "QueueName": name }))?);
    let mut last_err = None;
    for _ in 0..50 {
        match shared
            .sqs
            .call_named(conn, "GetQueueUrl", body.clone())
            .await
        {
            Ok(answer) => {
                let parsed: Answer =
                    serde_json::from_slice(&answer).map_err(|source| BenchError::Decode {
                        action: "GetQueueUrl",
                        source,
                    })?;
                return Ok(parsed.queue_url);
            }
            Err(err) => last_err = Some(err),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(last_err.unwrap_or_else(|| BenchError::Usage(format!("no queue {name}"))))
}

async fn send_loop(mut conn: HttpConn, shared: Arc<Shared>) -> SendTally {
    let mut t = SendTally {
        ingest: us_histogram(),
        lag: us_histogram(),
        accepted: 0,
        errors: 0,
        first_error: None,
        first: None,
        last: None,
    };
    let s = &shared.schedule;
    let end = shared.origin + s.at(s.slots) + GRACE;
    loop {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        if i >= s.slots || Instant::now() > end {
            break;
        }
        let due = shared.origin + s.at(i);
        tokio::time::sleep_until(due.into()).await;
        let started = Instant::now();
        let _ = t.lag.record(
            started
                .duration_since(due)
                .as_micros()
                .clamp(1, 600_000_000) as u64,
        );
        let (conv, f) = s.slot(i);
        let sent_ms = wall_ms();
        let outcome = match shared
            .payload
            .request(&shared.endpoint, &shared.webhook_path, conv, i)
        {
            Ok(req) => post(&mut conn, req).await,
            Err(err) => Err(err),
        };
        match outcome {
            Ok(()) => {
                let now = Instant::now();
                let _ = t.ingest.record(
                    now.duration_since(started)
                        .as_micros()
                        .clamp(1, 600_000_000) as u64,
                );
                t.accepted += 1;
                shared.accepted.fetch_add(1, Ordering::Relaxed);
                t.first = t.first.or(Some(started));
                t.last = Some(now);
                if let Some(n) = shared.accepted_of.get(conv as usize) {
                    n.fetch_add(1, Ordering::SeqCst);
                }
                if f + 1 == s.k {
                    if let Some(slot) = shared.last_sent.get(conv as usize) {
                        slot.store(sent_ms, Ordering::Relaxed);
                    }
                }
            }
            Err(err) => {
                t.errors += 1;
                t.first_error = t.first_error.or(Some(err.to_string()));
            }
        }
    }
    t
}

#[derive(Deserialize)]
struct Received {
    #[serde(rename = "Messages", default)]
    messages: Vec<InboxMessage>,
}

#[derive(Deserialize)]
struct InboxMessage {
    #[serde(rename = "ReceiptHandle")]
    receipt_handle: String,
    #[serde(rename = "Body")]
    body: String,
    #[serde(rename = "Attributes", default)]
    attributes: std::collections::HashMap<String, String>,
}

#[derive(Deserialize)]
struct HandlerCall {
    conversation: String,
    last_at: String,
    messages: Vec<CallMessage>,
}

#[derive(Deserialize)]
struct CallMessage {
    id: String,
}

async fn read_loop(mut conn: HttpConn, shared: Arc<Shared>, inbox: String) -> ReadTally {
    let mut t = ReadTally {
        lateness: ms_histogram(),
        seen: ms_histogram(),
        batches: 0,
        fragments: 0,
        early: 0,
        errors: 0,
        first_error: None,
    };
    let receive = Bytes::from(
        json!({
            "QueueUrl": inbox,
            "MaxNumberOfMessages": 10,
            "WaitTimeSeconds": 1,
            "AttributeNames": ["SentTimestamp"],
            "MessageSystemAttributeNames": ["SentTimestamp"],
        })
        .to_string(),
    );
    let window = shared.plan.window_ms;
    let mut drain_deadline: Option<Instant> = None;
    loop {
        if shared.sending_done.load(Ordering::SeqCst) {
            if shared.flushed.load(Ordering::SeqCst) >= shared.accepted.load(Ordering::SeqCst) {
                break;
            }
            let deadline =
                *drain_deadline.get_or_insert_with(|| Instant::now() + shared.plan.drain_timeout);
            if Instant::now() >= deadline {
                break;
            }
        }
        let answer = match shared
            .sqs
            .call_named(&mut conn, "ReceiveMessage", receive.clone())
            .await
        {
            Ok(a) => a,
            Err(err) => {
                t.errors += 1;
                t.first_error = t.first_error.or(Some(err.to_string()));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let seen_ms = wall_ms();
        let parsed: Received = match serde_json::from_slice(&answer) {
            Ok(p) => p,
            Err(err) => {
                t.errors += 1;
                t.first_error = t
                    .first_error
                    .or(Some(format!("decoding ReceiveMessage: {err}")));
                continue;
            }
        };
        if parsed.messages.is_empty() {
            continue;
        }
        let mut entries = Vec::with_capacity(parsed.messages.len());
        for (n, m) in parsed.messages.iter().enumerate() {
            entries.push(json!({ "Id": format!("d{n}"), "ReceiptHandle": m.receipt_handle }));
            let call: HandlerCall = match serde_json::from_str(&m.body) {
                Ok(c) => c,
                Err(err) => {
                    t.errors += 1;
                    t.first_error = t
                        .first_error
                        .or(Some(format!("inbox message is not a handler call: {err}")));
                    continue;
                }
            };
            if !call.messages.iter().all(|f| shared.payload.owns(&f.id)) {
                continue; // another run's batch
            }
            t.batches += 1;
            t.fragments += call.messages.len() as u64;
            shared
                .flushed
                .fetch_add(call.messages.len() as u64, Ordering::SeqCst);
            let conv = shared.payload.conversation_index(&call.conversation);
            if let Some(n) = conv.and_then(|c| shared.batches_of.get(c as usize)) {
                n.fetch_add(1, Ordering::SeqCst);
            }
            let sent_at = m
                .attributes
                .get("SentTimestamp")
                .and_then(|v| v.parse::<u64>().ok());
            match (sent_at, parse_iso8601_ms(&call.last_at)) {
                (Some(sent_at), Some(last_at)) => {
                    let due = last_at + window;
                    if sent_at < due {
                        t.early += 1;
                    }
                    let _ = t.lateness.record(sent_at.saturating_sub(due).min(600_000));
                }
                _ => {
                    t.errors += 1;
                    t.first_error = t.first_error.or(Some(format!(
                        "no SentTimestamp or last_at on an inbox message: {:?} {}",
                        m.attributes, call.last_at
                    )));
                }
            }
            // Only whole conversations: a split's first part was not waiting on the last send.
            let whole = call.messages.len() as u64 == shared.schedule.k;
            let last_sent = conv
                .filter(|_| whole)
                .and_then(|c| shared.last_sent.get(c as usize))
                .map(|a| a.load(Ordering::Relaxed))
                .filter(|&ms| ms > 0);
            if let Some(last_sent) = last_sent {
                let _ = t
                    .seen
                    .record(seen_ms.saturating_sub(last_sent + window).min(600_000));
            }
        }
        let body = json!({ "QueueUrl": inbox, "Entries": entries }).to_string();
        if let Err(err) = shared
            .sqs
            .call_named(&mut conn, "DeleteMessageBatch", Bytes::from(body))
            .await
        {
            t.errors += 1;
            t.first_error = t.first_error.or(Some(err.to_string()));
        }
    }
    t
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (what lull writes) to epoch milliseconds.
pub fn parse_iso8601_ms(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !s.ends_with('Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let millis = match s.get(19..s.len() - 1)? {
        "" => 0,
        frac => {
            let digits = frac.strip_prefix('.')?;
            let padded = format!("{digits:0<3}");
            padded.get(..3)?.parse::<u64>().ok()?
        }
    };
    let days = days_from_civil(y as i64, mo as i64, d as i64);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + mi * 60 + sec;
    Some(secs * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The lateness table in markdown.
pub fn markdown(results: &[LatenessResult]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| fragments/s (asked → done) | window | fragments × gap | conversations | batches | split | early | lateness p50 | p99 | p99.9 | max | seen by a reader p50 | p99 | max | ingest p99 | errors |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in results {
        let _ = writeln!(
            out,
            "| {:.0} → {:.0} | {} ms | {} × {} ms | {} | {} | {} | {} | {:.0} ms | **{:.0} ms** | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {:.2} ms | {} |",
            r.rate,
            r.achieved_rate,
            r.window_ms,
            r.fragments_per_conversation,
            r.gap_ms,
            r.conversations,
            r.batches,
            r.split_conversations,
            r.early,
            r.lateness_p50_ms,
            r.lateness_p99_ms,
            r.lateness_p999_ms,
            r.lateness_max_ms,
            r.seen_p50_ms,
            r.seen_p99_ms,
            r.seen_max_ms,
            r.ingest_p99_ms,
            r.errors
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(rate: f64, secs: u64, k: u32, gap_ms: u64) -> LatenessPlan {
        LatenessPlan {
            target: "lull".into(),
            url: "http://127.0.0.1:1".into(),
            app: "timer".into(),
            platform: Platform::Zapi,
            rate,
            duration: Duration::from_secs(secs),
            window_ms: 200,
            fragments_per_conversation: k,
            gap_ms,
            connections: 1,
            readers: 1,
            drain_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn every_conversation_gets_k_fragments_gap_apart() {
        let s = Schedule::new(&plan(1000.0, 1, 3, 50));
        assert_eq!(s.per_gap, 50);
        assert_eq!(s.slots % 150, 0);
        let mut times: std::collections::BTreeMap<u64, Vec<(u64, Duration)>> = Default::default();
        for i in 0..s.slots {
            let (c, f) = s.slot(i);
            times.entry(c).or_default().push((f, s.at(i)));
        }
        assert_eq!(times.len() as u64, s.conversations());
        for frags in times.values() {
            assert_eq!(frags.iter().map(|f| f.0).collect::<Vec<_>>(), vec![0, 1, 2]);
            for pair in frags.windows(2) {
                let gap = pair[1].1 - pair[0].1;
                assert!((gap.as_secs_f64() - 0.05).abs() < 1e-6, "{gap:?}");
            }
        }
    }

    #[test]
    fn iso8601_round_trips_lulls_format() {
        assert_eq!(parse_iso8601_ms("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            parse_iso8601_ms("2024-05-01T12:00:00.123Z"),
            Some(1_714_564_800_123)
        );
        assert_eq!(
            parse_iso8601_ms("2024-02-29T00:00:01Z"),
            Some(1_709_164_801_000)
        );
        assert_eq!(parse_iso8601_ms("not a date"), None);
    }
}
