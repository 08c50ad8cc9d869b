//! SNS fan-out: one topic, N SQS queues subscribed to it, publishers on the SNS query API and
//! one consumer per queue on the SQS JSON API. Measures publishes/s, deliveries/s (a delivery
//! is one message received from one queue and deleted) and publish-to-receive latency.
//!
//! Each message body starts with its sequence number and the microsecond (since the run's
//! origin) its `Publish` was sent; the consumer reads both back, so latency is measured by one
//! clock and duplicates are told apart from deliveries. Envelope (non-raw) deliveries are
//! unwrapped first.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{BenchError, Result};
use crate::http::{Endpoint, HttpConn};
use crate::sns::SnsClient;
use crate::sqs::SqsClient;
use crate::workload::body_of;

/// Longest latency the histograms hold (a slow peer's backlog can reach minutes).
const MAX_MICROS: u64 = 600_000_000;
/// Long-poll wait of each consumer's `ReceiveMessage`.
const WAIT_SECONDS: u32 = 1;

#[derive(Clone, Debug)]
pub struct FanoutPlan {
    pub target: String,
    pub url: String,
    pub queues: u32,
    pub publishers: u32,
    pub duration: Duration,
    /// Publishes per second across all publishers; `None`: as fast as answers come back.
    pub rate: Option<f64>,
    pub body_size: usize,
    /// Raw message delivery (the bare message) instead of the SNS JSON envelope.
    pub raw: bool,
    /// How long consumers may keep draining after the last publish.
    pub drain_timeout: Duration,
}

/// One line of output per fan-out run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FanoutResult {
    pub target: String,
    pub queues: u32,
    pub publishers: u32,
    /// `saturate` (closed loop) or `paced` (fixed publish rate).
    pub mode: String,
    pub rate: Option<f64>,
    pub raw: bool,
    pub published: u64,
    /// `published × queues`: what the consumers must see.
    pub expected: u64,
    /// Distinct messages received and deleted, over all queues.
    pub delivered: u64,
    pub duplicates: u64,
    /// From the first publish to the last publish answered.
    pub publish_seconds: f64,
    /// From the first publish to the last delivery.
    pub seconds: f64,
    pub publish_per_s: f64,
    pub delivered_per_s: f64,
    pub publish_p50_ms: f64,
    pub publish_p99_ms: f64,
    pub delivery_p50_ms: f64,
    pub delivery_p99_ms: f64,
    pub delivery_max_ms: f64,
    pub errors: u64,
    pub first_error: Option<String>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("constant histogram bounds are valid")
}

fn record(hist: &mut Histogram<u64>, micros: u64) {
    let _ = hist.record(micros.clamp(1, MAX_MICROS));
}

fn ms(hist: &Histogram<u64>, q: f64) -> f64 {
    if hist.is_empty() {
        return 0.0;
    }
    hist.value_at_quantile(q) as f64 / 1000.0
}

/// Counters one worker keeps and hands back at the end.
struct Tally {
    hist: Histogram<u64>,
    count: u64,
    duplicates: u64,
    errors: u64,
    first_error: Option<String>,
    last: Option<Instant>,
}

impl Tally {
    fn new() -> Self {
        Self {
            hist: histogram(),
            count: 0,
            duplicates: 0,
            errors: 0,
            first_error: None,
            last: None,
        }
    }

    fn error(&mut self, err: impl std::fmt::Display) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(err.to_string());
        }
    }

    fn merge(&mut self, other: Tally) {
        let _ = self.hist.add(&other.hist);
        self.count += other.count;
        self.duplicates += other.duplicates;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.last = self.last.max(other.last);
    }
}

/// What publishers and consumers share.
struct Shared {
    sqs: SqsClient,
    sns: SnsClient,
    topic_arn: String,
    origin: Instant,
    deadline: Instant,
    rate: Option<f64>,
    filler: String,
    next_seq: AtomicU64,
    /// Publishes answered 200 so far; final once `publishing_done` is set.
    published: AtomicU64,
    publishing_done: AtomicBool,
    drain_timeout: Duration,
}

pub async fn run(plan: &FanoutPlan) -> Result<FanoutResult> {
    if plan.queues == 0 || plan.publishers == 0 {
        return Err(BenchError::Usage(
            "--queues and --publishers must be at least 1".into(),
        ));
    }
    let endpoint = Endpoint::parse(&plan.url)?;
    let sqs = SqsClient::new(endpoint.clone())?;
    let sns = SnsClient::new(endpoint.clone())?;
    let mut admin = HttpConn::connect(&endpoint).await?;
    let prefix = unique_prefix(plan.queues);

    let topic_arn = sns.create_topic(&mut admin, &prefix).await?;
    let mut queue_urls = Vec::with_capacity(plan.queues as usize);
    for i in 0..plan.queues {
        let url = sqs
            .create_queue(&mut admin, &format!("{prefix}-{i}"))
            .await?;
        let arn = queue_arn(&sqs, &mut admin, &url).await?;
        sns.subscribe_queue(&mut admin, &topic_arn, &arn, plan.raw)
            .await?;
        queue_urls.push(url);
    }

    let mut consumer_conns = Vec::with_capacity(queue_urls.len());
    for _ in &queue_urls {
        consumer_conns.push(HttpConn::connect(&endpoint).await?);
    }
    let mut publisher_conns = Vec::with_capacity(plan.publishers as usize);
    for _ in 0..plan.publishers {
        publisher_conns.push(HttpConn::connect(&endpoint).await?);
    }

    let origin = Instant::now();
    let shared = Arc::new(Shared {
        sqs,
        sns,
        topic_arn: topic_arn.clone(),
        origin,
        deadline: origin + plan.duration,
        rate: plan.rate,
        // The marker is 26 bytes ("sssssssssss uuuuuuuuuuuuuu "); the filler makes up the rest.
        filler: body_of(plan.body_size.saturating_sub(26)),
        next_seq: AtomicU64::new(0),
        published: AtomicU64::new(0),
        publishing_done: AtomicBool::new(false),
        drain_timeout: plan.drain_timeout,
    });

    let consumers: Vec<_> = consumer_conns
        .into_iter()
        .zip(queue_urls.iter().cloned())
        .map(|(conn, url)| tokio::spawn(consume(conn, Arc::clone(&shared), url, plan.raw)))
        .collect();
    let publishers: Vec<_> = publisher_conns
        .into_iter()
        .map(|conn| tokio::spawn(publish_loop(conn, Arc::clone(&shared))))
        .collect();

    let mut pubs = Tally::new();
    for task in publishers {
        match task.await {
            Ok(t) => pubs.merge(t),
            Err(err) => pubs.error(format!("publisher panicked: {err}")),
        }
    }
    shared.published.store(pubs.count, Ordering::SeqCst);
    shared.publishing_done.store(true, Ordering::SeqCst);
    let mut subs = Tally::new();
    for task in consumers {
        match task.await {
            Ok(t) => subs.merge(t),
            Err(err) => subs.error(format!("consumer panicked: {err}")),
        }
    }

    for url in &queue_urls {
        let _ = shared.sqs.delete_queue(&mut admin, url).await;
    }
    let _ = shared.sns.delete_topic(&mut admin, &topic_arn).await;

    let since =
        |t: Option<Instant>| t.map_or(1e-9, |t| t.duration_since(origin).as_secs_f64().max(1e-9));
    let publish_seconds = since(pubs.last);
    let seconds = since(subs.last);
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    let first_error = pubs.first_error.clone().or(subs.first_error.clone());
    Ok(FanoutResult {
        target: plan.target.clone(),
        queues: plan.queues,
        publishers: plan.publishers,
        mode: if plan.rate.is_some() {
            "paced"
        } else {
            "saturate"
        }
        .into(),
        rate: plan.rate,
        raw: plan.raw,
        published: pubs.count,
        expected: pubs.count * u64::from(plan.queues),
        delivered: subs.count,
        duplicates: subs.duplicates,
        publish_seconds: round(publish_seconds),
        seconds: round(seconds),
        publish_per_s: round(pubs.count as f64 / publish_seconds),
        delivered_per_s: (subs.count as f64 / seconds).round(),
        publish_p50_ms: ms(&pubs.hist, 0.5),
        publish_p99_ms: ms(&pubs.hist, 0.99),
        delivery_p50_ms: ms(&subs.hist, 0.5),
        delivery_p99_ms: ms(&subs.hist, 0.99),
        delivery_max_ms: if subs.hist.is_empty() {
            0.0
        } else {
            subs.hist.max() as f64 / 1000.0
        },
        errors: pubs.errors + subs.errors,
        first_error,
    })
}

fn unique_prefix(queues: u32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "lull-bench-fanout-q{queues}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000_000
    )
}

async fn queue_arn(sqs: &SqsClient, conn: &mut HttpConn, url: &str) -> Result<String> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(rename = "Attributes", default)]
        attributes: std::collections::HashMap<String, String>,
    }
    let body = serde_json::to_vec(&json!({ "QueueUrl": url, "AttributeNames": ["QueueArn"] }))?;
    let answer = sqs
        .call_named(conn, "GetQueueAttributes", Bytes::from(body))
        .await?;
    let parsed: Answer = serde_json::from_slice(&answer).map_err(|source| BenchError::Decode {
        action: "GetQueueAttributes",
        source,
    })?;
    parsed
        .attributes
        .get("QueueArn")
        .cloned()
        .ok_or_else(|| BenchError::Usage(format!("no QueueArn for {url}")))
}

async fn publish_loop(mut conn: HttpConn, shared: Arc<Shared>) -> Tally {
    let mut tally = Tally::new();
    loop {
        let seq = shared.next_seq.fetch_add(1, Ordering::Relaxed);
        if let Some(rate) = shared.rate {
            let due = shared.origin + Duration::from_secs_f64(seq as f64 / rate);
            if due >= shared.deadline {
                break;
            }
            tokio::time::sleep_until(due.into()).await;
        } else if Instant::now() >= shared.deadline {
            break;
        }
        let started = Instant::now();
        let micros = started.duration_since(shared.origin).as_micros() as u64;
        let message = format!("{seq:011} {micros:014} {}", shared.filler);
        match shared
            .sns
            .publish(&mut conn, &shared.topic_arn, &message)
            .await
        {
            Ok(()) => {
                let now = Instant::now();
                record(
                    &mut tally.hist,
                    now.duration_since(started).as_micros() as u64,
                );
                tally.count += 1;
                tally.last = Some(now);
            }
            Err(err) => tally.error(err),
        }
    }
    tally
}

#[derive(Deserialize)]
struct Received {
    #[serde(rename = "Messages", default)]
    messages: Vec<ReceivedMessage>,
}

#[derive(Deserialize)]
struct ReceivedMessage {
    #[serde(rename = "ReceiptHandle")]
    receipt_handle: String,
    #[serde(rename = "Body")]
    body: String,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Message")]
    message: String,
}

/// The sequence number and publish time a message body starts with.
fn marker(body: &str) -> Option<(u64, u64)> {
    let mut words = body.split(' ');
    let seq = words.next()?.parse().ok()?;
    let micros = words.next()?.parse().ok()?;
    Some((seq, micros))
}

/// Which sequence numbers one queue has delivered.
#[derive(Default)]
struct Seen(Vec<u64>);

impl Seen {
    /// True the first time `seq` is seen.
    fn insert(&mut self, seq: u64) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if word >= self.0.len() {
            self.0.resize(word + 1, 0);
        }
        let fresh = self.0[word] & (1 << bit) == 0;
        self.0[word] |= 1 << bit;
        fresh
    }
}

async fn consume(mut conn: HttpConn, shared: Arc<Shared>, queue_url: String, raw: bool) -> Tally {
    let mut tally = Tally::new();
    let mut seen = Seen::default();
    let receive = match serde_json::to_vec(&json!({
        "QueueUrl": queue_url,
        "MaxNumberOfMessages": 10,
        "WaitTimeSeconds": WAIT_SECONDS,
    })) {
        Ok(b) => Bytes::from(b),
        Err(err) => {
            tally.error(err);
            return tally;
        }
    };
    let mut drain_deadline: Option<Instant> = None;
    loop {
        if shared.publishing_done.load(Ordering::SeqCst) {
            if tally.count >= shared.published.load(Ordering::SeqCst) {
                break;
            }
            let deadline =
                *drain_deadline.get_or_insert_with(|| Instant::now() + shared.drain_timeout);
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
                tally.error(err);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let received_at = Instant::now();
        let now_micros = received_at.duration_since(shared.origin).as_micros() as u64;
        let parsed: Received = match serde_json::from_slice(&answer) {
            Ok(p) => p,
            Err(err) => {
                tally.error(format!("decoding ReceiveMessage: {err}"));
                continue;
            }
        };
        if parsed.messages.is_empty() {
            continue;
        }
        let mut entries = Vec::with_capacity(parsed.messages.len());
        for (i, m) in parsed.messages.iter().enumerate() {
            let text = if raw {
                Some(m.body.clone())
            } else {
                serde_json::from_str::<Envelope>(&m.body)
                    .ok()
                    .map(|e| e.message)
            };
            match text.as_deref().and_then(marker) {
                Some((seq, sent)) => {
                    if seen.insert(seq) {
                        tally.count += 1;
                        record(&mut tally.hist, now_micros.saturating_sub(sent));
                    } else {
                        tally.duplicates += 1;
                    }
                    tally.last = Some(received_at);
                }
                None => tally.error(format!(
                    "unexpected message body: {}",
                    m.body.chars().take(120).collect::<String>()
                )),
            }
            entries.push(json!({ "Id": format!("d{i}"), "ReceiptHandle": m.receipt_handle }));
        }
        let body = match serde_json::to_vec(&json!({ "QueueUrl": queue_url, "Entries": entries })) {
            Ok(b) => Bytes::from(b),
            Err(err) => {
                tally.error(err);
                continue;
            }
        };
        if let Err(err) = shared
            .sqs
            .call_named(&mut conn, "DeleteMessageBatch", body)
            .await
        {
            tally.error(err);
        }
    }
    tally
}

/// The fan-out tables in markdown: saturated throughput and paced latency, lull against a peer.
pub fn markdown(results: &[FanoutResult], lull: &str, peer: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let find = |target: &str, mode: &str, queues: u32| {
        results
            .iter()
            .rev()
            .find(|r| r.target == target && r.mode == mode && r.queues == queues)
    };
    let mut queues: Vec<u32> = results.iter().map(|r| r.queues).collect();
    queues.sort_unstable();
    queues.dedup();
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("**{:.1}×**", a / b),
        _ => "—".into(),
    };
    let num = |x: Option<f64>| x.map_or_else(|| "—".to_string(), |x| format!("{x:.0}"));
    let lat = |x: Option<f64>| x.map_or_else(|| "—".to_string(), |x| format!("{x:.1}"));

    for (mode, title) in [
        (
            "saturate",
            "Saturated: publishers as fast as answers come back",
        ),
        ("paced", "Paced: a fixed publish rate, for latency"),
    ] {
        if !results.iter().any(|r| r.mode == mode) {
            continue;
        }
        let _ = writeln!(out, "### {title}\n");
        let _ = writeln!(
            out,
            "| queues | publishes/s ({lull} / {peer}) | {lull} deliveries/s | p50 ms | p99 ms | {peer} deliveries/s | p50 ms | p99 ms | deliveries ÷ {peer} | p99 {peer} ÷ {lull} |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for &q in &queues {
            let l = find(lull, mode, q);
            let p = find(peer, mode, q);
            if l.is_none() && p.is_none() {
                continue;
            }
            // Paced runs are slow enough that whole numbers would hide the rate.
            let rate = |r: Option<&FanoutResult>| match r {
                Some(r) if r.publish_per_s < 10.0 => format!("{:.1}", r.publish_per_s),
                Some(r) => format!("{:.0}", r.publish_per_s),
                None => "—".into(),
            };
            let pubs = format!("{} / {}", rate(l), rate(p));
            let _ = writeln!(
                out,
                "| {q} | {pubs} | {} | {} | {} | {} | {} | {} | {} | {} |",
                num(l.map(|r| r.delivered_per_s)),
                lat(l.map(|r| r.delivery_p50_ms)),
                lat(l.map(|r| r.delivery_p99_ms)),
                num(p.map(|r| r.delivered_per_s)),
                lat(p.map(|r| r.delivery_p50_ms)),
                lat(p.map(|r| r.delivery_p99_ms)),
                ratio(l.map(|r| r.delivered_per_s), p.map(|r| r.delivered_per_s)),
                ratio(p.map(|r| r.delivery_p99_ms), l.map(|r| r.delivery_p99_ms)),
            );
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "### Every fan-out run\n");
    let _ = writeln!(
        out,
        "| target | mode | queues | publishers | rate | raw | published | delivered | expected | dup | publish s | total s | publish p99 ms | delivery p50 ms | p99 ms | max ms | errors |"
    );
    let _ = writeln!(
        out,
        "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {} |",
            r.target,
            r.mode,
            r.queues,
            r.publishers,
            r.rate.map_or_else(|| "—".to_string(), |x| format!("{x:.0}")),
            r.raw,
            r.published,
            r.delivered,
            r.expected,
            r.duplicates,
            r.publish_seconds,
            r.seconds,
            r.publish_p99_ms,
            r.delivery_p50_ms,
            r.delivery_p99_ms,
            r.delivery_max_ms,
            r.errors
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_reads_sequence_and_time() {
        assert_eq!(
            marker("00000000042 00000001234567 xyz"),
            Some((42, 1_234_567))
        );
        assert_eq!(marker("garbage"), None);
    }

    #[test]
    fn seen_counts_each_sequence_once() {
        let mut seen = Seen::default();
        assert!(seen.insert(0));
        assert!(seen.insert(130));
        assert!(!seen.insert(130));
        assert!(seen.insert(63));
    }

    fn result(target: &str, mode: &str, queues: u32, delivered: f64, p99: f64) -> FanoutResult {
        FanoutResult {
            target: target.into(),
            queues,
            publishers: 8,
            mode: mode.into(),
            rate: None,
            raw: true,
            published: 10,
            expected: 10 * u64::from(queues),
            delivered: 10 * u64::from(queues),
            duplicates: 0,
            publish_seconds: 1.0,
            seconds: 1.0,
            publish_per_s: 10.0,
            delivered_per_s: delivered,
            publish_p50_ms: 1.0,
            publish_p99_ms: 2.0,
            delivery_p50_ms: 1.0,
            delivery_p99_ms: p99,
            delivery_max_ms: p99,
            errors: 0,
            first_error: None,
        }
    }

    #[test]
    fn markdown_puts_lull_and_peer_side_by_side() {
        let md = markdown(
            &[
                result("lull", "saturate", 10, 5000.0, 4.0),
                result("moto", "saturate", 10, 100.0, 400.0),
            ],
            "lull",
            "moto",
        );
        assert!(
            md.contains(
                "| 10 | 10 / 10 | 5000 | 1.0 | 4.0 | 100 | 1.0 | 400.0 | **50.0×** | **100.0×** |"
            ),
            "{md}"
        );
    }
}
