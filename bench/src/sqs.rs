//! SQS JSON 1.0 scenarios: `POST /` with `X-Amz-Target: AmazonSQS.<Action>`.
//!
//! Every request carries a SigV4-shaped `Authorization` header whose scope
//! names `us-east-1/sqs`: servers that read the region from the scope (moto)
//! need it, and lull ignores it while no credentials are configured. The
//! signature itself is a fixed placeholder, so the load generator spends no
//! CPU on HMACs that nobody verifies.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode};
use http_body_util::Full;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::json;

use crate::error::{BenchError, Result};
use crate::http::{Endpoint, HttpConn};
use crate::workload::{body_of, unique_queue_name, Budget, Plan, RunResult, Scenario, Stats};

/// Empty receives in a row after which a draining worker decides the queue is empty.
const EMPTY_RECEIVES_TO_STOP: u32 = 3;

#[derive(Clone, Copy)]
enum Action {
    CreateQueue,
    DeleteQueue,
    SendMessage,
    SendMessageBatch,
    ReceiveMessage,
    DeleteMessage,
    DeleteMessageBatch,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::CreateQueue => "CreateQueue",
            Action::DeleteQueue => "DeleteQueue",
            Action::SendMessage => "SendMessage",
            Action::SendMessageBatch => "SendMessageBatch",
            Action::ReceiveMessage => "ReceiveMessage",
            Action::DeleteMessage => "DeleteMessage",
            Action::DeleteMessageBatch => "DeleteMessageBatch",
        }
    }
}

pub struct SqsClient {
    endpoint: Endpoint,
    path: String,
    authorization: HeaderValue,
    amz_date: HeaderValue,
}

impl SqsClient {
    pub fn new(endpoint: Endpoint) -> Result<Self> {
        let (date, time) = utc_now();
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=AKIALULLBENCH0000000/{date}/us-east-1/sqs/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={}",
            "0".repeat(64)
        );
        let header = |v: String| {
            HeaderValue::from_str(&v).map_err(|e| BenchError::Usage(format!("header value: {e}")))
        };
        Ok(Self {
            path: endpoint.path("/"),
            endpoint,
            authorization: header(authorization)?,
            amz_date: header(format!("{date}T{time}Z"))?,
        })
    }

    fn request(&self, action: &str, body: Bytes) -> Result<Request<Full<Bytes>>> {
        Ok(Request::post(self.path.as_str())
            .header(http::header::HOST, self.endpoint.authority.as_str())
            .header(http::header::CONTENT_TYPE, "application/x-amz-json-1.0")
            .header("x-amz-target", format!("AmazonSQS.{action}"))
            .header("x-amz-date", self.amz_date.clone())
            .header(http::header::AUTHORIZATION, self.authorization.clone())
            .body(Full::new(body))?)
    }

    async fn call(&self, conn: &mut HttpConn, action: Action, body: Bytes) -> Result<Bytes> {
        self.call_named(conn, action.name(), body).await
    }

    /// Any SQS action by name (the fan-out and gateway benchmarks use a few more).
    pub async fn call_named(
        &self,
        conn: &mut HttpConn,
        action: &'static str,
        body: Bytes,
    ) -> Result<Bytes> {
        let (status, answer) = conn.send(self.request(action, body)?).await?;
        if status != StatusCode::OK {
            return Err(BenchError::Status {
                action,
                status: status.as_u16(),
                body: String::from_utf8_lossy(&answer).chars().take(300).collect(),
            });
        }
        Ok(answer)
    }

    pub async fn create_queue(&self, conn: &mut HttpConn, name: &str) -> Result<String> {
        #[derive(Deserialize)]
        struct Created {
            #[serde(rename = "QueueUrl")]
            queue_url: String,
        }
        let body = serde_json::to_vec(&json!({ "QueueName": name }))?;
        let answer = self
            .call(conn, Action::CreateQueue, Bytes::from(body))
            .await?;
        let created: Created = decode(Action::CreateQueue, &answer)?;
        Ok(created.queue_url)
    }

    pub async fn delete_queue(&self, conn: &mut HttpConn, queue_url: &str) -> Result<()> {
        let body = serde_json::to_vec(&json!({ "QueueUrl": queue_url }))?;
        self.call(conn, Action::DeleteQueue, Bytes::from(body))
            .await
            .map(|_| ())
    }
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
}

#[derive(Deserialize)]
struct BatchAnswer {
    #[serde(rename = "Successful", default)]
    successful: Vec<IgnoredAny>,
    #[serde(rename = "Failed", default)]
    failed: Vec<IgnoredAny>,
}

fn decode<'a, T: Deserialize<'a>>(action: Action, bytes: &'a [u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| BenchError::Decode {
        action: action.name(),
        source,
    })
}

/// What every worker of one run shares. Request bodies that never change are
/// encoded once, up front.
struct Shared {
    client: SqsClient,
    queue_url: String,
    batch: u32,
    body: String,
    send_body: Bytes,
    batch_body: Bytes,
    receive_body: Bytes,
    budget: Budget,
    /// Messages deleted so far (recv: stop once the pre-filled count is drained).
    drained: AtomicU64,
    drain_target: u64,
}

impl Shared {
    fn batch_body(&self, n: u32) -> Result<Bytes> {
        if n == self.batch {
            return Ok(self.batch_body.clone());
        }
        send_batch_body(&self.queue_url, &self.body, n)
    }
}

fn send_batch_body(queue_url: &str, body: &str, n: u32) -> Result<Bytes> {
    let entries: Vec<_> = (0..n)
        .map(|i| json!({ "Id": format!("m{i}"), "MessageBody": body }))
        .collect();
    Ok(Bytes::from(serde_json::to_vec(
        &json!({ "QueueUrl": queue_url, "Entries": entries }),
    )?))
}

/// Runs one scenario at one connection count on a queue of its own, then deletes the queue.
pub async fn run(plan: &Plan, scenario: Scenario, connections: u32) -> Result<RunResult> {
    let endpoint = Endpoint::parse(&plan.url)?;
    let client = SqsClient::new(endpoint.clone())?;
    let mut admin = HttpConn::connect(&endpoint).await?;
    let name = unique_queue_name(scenario, connections);
    let queue_url = client.create_queue(&mut admin, &name).await?;

    let mut conns = Vec::with_capacity(connections as usize);
    for _ in 0..connections {
        conns.push(HttpConn::connect(&endpoint).await?);
    }

    let batch = scenario.effective_batch(plan.batch).clamp(1, 10);
    let body = body_of(plan.body_size);
    let send_body = Bytes::from(serde_json::to_vec(
        &json!({ "QueueUrl": queue_url, "MessageBody": body }),
    )?);
    let batch_body = send_batch_body(&queue_url, &body, batch)?;
    let receive_body = Bytes::from(serde_json::to_vec(&json!({
        "QueueUrl": queue_url,
        "MaxNumberOfMessages": batch,
        "WaitTimeSeconds": 0,
    }))?);
    let make_shared = |client: SqsClient, budget: Budget, drain_target: u64| Shared {
        client,
        queue_url: queue_url.clone(),
        batch,
        body: body.clone(),
        send_body: send_body.clone(),
        batch_body: batch_body.clone(),
        receive_body: receive_body.clone(),
        budget,
        drained: AtomicU64::new(0),
        drain_target,
    };

    let mut drain_target = u64::MAX;
    if scenario == Scenario::Recv {
        // Fill the queue first with batched sends; that phase is not measured.
        let start = Instant::now();
        let budget = plan.prefill_budget(start);
        let shared = Arc::new(make_shared(SqsClient::new(endpoint.clone())?, budget, 0));
        let (back, stats) = run_workers(conns, &shared, Scenario::SendBatch).await;
        conns = back;
        drain_target = stats.messages;
        eprintln!(
            "  prefilled {} messages in {:.1}s ({} errors)",
            stats.messages,
            start.elapsed().as_secs_f64(),
            stats.errors
        );
    }

    let start = Instant::now();
    let shared = Arc::new(make_shared(client, plan.budget(start), drain_target));
    let (_conns, stats) = run_workers(conns, &shared, scenario).await;
    let result = RunResult::from_stats(&plan.target, scenario, connections, batch, start, &stats);
    if let Some(err) = &stats.first_error {
        eprintln!("  first error: {err}");
    }
    if let Err(err) = shared.client.delete_queue(&mut admin, &queue_url).await {
        eprintln!("  could not delete queue {name}: {err}");
    }
    Ok(result)
}

async fn run_workers(
    conns: Vec<HttpConn>,
    shared: &Arc<Shared>,
    scenario: Scenario,
) -> (Vec<HttpConn>, Stats) {
    let mut tasks = Vec::with_capacity(conns.len());
    for conn in conns {
        let shared = Arc::clone(shared);
        tasks.push(tokio::spawn(worker(conn, shared, scenario)));
    }
    let mut total = Stats::new();
    let mut back = Vec::with_capacity(tasks.len());
    for task in tasks {
        match task.await {
            Ok((conn, stats)) => {
                back.push(conn);
                total.merge(stats);
            }
            Err(err) => total.error(format!("worker panicked: {err}")),
        }
    }
    (back, total)
}

async fn worker(mut conn: HttpConn, shared: Arc<Shared>, scenario: Scenario) -> (HttpConn, Stats) {
    let mut stats = Stats::new();
    match scenario {
        Scenario::Send => send_loop(&mut conn, &shared, &mut stats).await,
        Scenario::SendBatch => send_batch_loop(&mut conn, &shared, &mut stats).await,
        Scenario::Recv => recv_loop(&mut conn, &shared, &mut stats).await,
        Scenario::Cycle => cycle_loop(&mut conn, &shared, &mut stats).await,
        Scenario::Healthz | Scenario::Webhook => {
            stats.error(format!("{scenario} is not an SQS scenario"))
        }
    }
    (conn, stats)
}

async fn send_loop(conn: &mut HttpConn, shared: &Shared, stats: &mut Stats) {
    while shared.budget.take(1) > 0 {
        let started = Instant::now();
        let outcome = shared
            .client
            .call(conn, Action::SendMessage, shared.send_body.clone())
            .await;
        stats.requests += 1;
        match outcome {
            Ok(_) => {
                stats.record(started);
                stats.messages += 1;
            }
            Err(err) => stats.error(err),
        }
    }
}

/// Sends `n` messages in one SendMessageBatch; returns how many were accepted.
async fn send_batch(conn: &mut HttpConn, shared: &Shared, n: u32) -> Result<(u64, u64)> {
    let answer = shared
        .client
        .call(conn, Action::SendMessageBatch, shared.batch_body(n)?)
        .await?;
    let parsed: BatchAnswer = decode(Action::SendMessageBatch, &answer)?;
    Ok((parsed.successful.len() as u64, parsed.failed.len() as u64))
}

async fn send_batch_loop(conn: &mut HttpConn, shared: &Shared, stats: &mut Stats) {
    loop {
        let n = shared.budget.take(shared.batch);
        if n == 0 {
            break;
        }
        let started = Instant::now();
        let outcome = send_batch(conn, shared, n).await;
        stats.requests += 1;
        match outcome {
            Ok((ok, failed)) => {
                stats.record(started);
                stats.messages += ok;
                if failed > 0 {
                    stats.errors += failed;
                }
            }
            Err(err) => stats.error(err),
        }
    }
}

/// One ReceiveMessage; returns the receipt handles.
async fn receive(conn: &mut HttpConn, shared: &Shared) -> Result<Vec<String>> {
    let answer = shared
        .client
        .call(conn, Action::ReceiveMessage, shared.receive_body.clone())
        .await?;
    let parsed: Received = decode(Action::ReceiveMessage, &answer)?;
    Ok(parsed
        .messages
        .into_iter()
        .map(|m| m.receipt_handle)
        .collect())
}

/// Deletes received messages: DeleteMessage for one, DeleteMessageBatch for more.
/// Returns (deleted, failed).
async fn delete(conn: &mut HttpConn, shared: &Shared, handles: &[String]) -> Result<(u64, u64)> {
    if let [handle] = handles {
        let body =
            serde_json::to_vec(&json!({ "QueueUrl": shared.queue_url, "ReceiptHandle": handle }))?;
        shared
            .client
            .call(conn, Action::DeleteMessage, Bytes::from(body))
            .await?;
        return Ok((1, 0));
    }
    let entries: Vec<_> = handles
        .iter()
        .enumerate()
        .map(|(i, h)| json!({ "Id": format!("d{i}"), "ReceiptHandle": h }))
        .collect();
    let body = serde_json::to_vec(&json!({ "QueueUrl": shared.queue_url, "Entries": entries }))?;
    let answer = shared
        .client
        .call(conn, Action::DeleteMessageBatch, Bytes::from(body))
        .await?;
    let parsed: BatchAnswer = decode(Action::DeleteMessageBatch, &answer)?;
    Ok((parsed.successful.len() as u64, parsed.failed.len() as u64))
}

async fn recv_loop(conn: &mut HttpConn, shared: &Shared, stats: &mut Stats) {
    let mut empty_in_a_row = 0;
    while !shared.budget.expired() && shared.drained.load(Ordering::Relaxed) < shared.drain_target {
        let started = Instant::now();
        stats.requests += 1;
        let handles = match receive(conn, shared).await {
            Ok(h) => h,
            Err(err) => {
                stats.error(err);
                continue;
            }
        };
        if handles.is_empty() {
            empty_in_a_row += 1;
            if empty_in_a_row >= EMPTY_RECEIVES_TO_STOP {
                break;
            }
            continue;
        }
        empty_in_a_row = 0;
        stats.requests += 1;
        match delete(conn, shared, &handles).await {
            Ok((deleted, failed)) => {
                stats.record(started);
                stats.messages += deleted;
                stats.errors += failed;
                shared.drained.fetch_add(deleted, Ordering::Relaxed);
            }
            Err(err) => stats.error(err),
        }
    }
}

/// Send, receive, delete: the whole life of a message, per worker in turn.
async fn cycle_loop(conn: &mut HttpConn, shared: &Shared, stats: &mut Stats) {
    loop {
        let n = shared.budget.take(shared.batch);
        if n == 0 {
            break;
        }
        let started = Instant::now();
        stats.requests += 1;
        let sent = if n == 1 {
            shared
                .client
                .call(conn, Action::SendMessage, shared.send_body.clone())
                .await
                .map(|_| ())
        } else {
            send_batch(conn, shared, n).await.map(|_| ())
        };
        if let Err(err) = sent {
            stats.error(err);
            continue;
        }
        stats.requests += 1;
        let handles = match receive(conn, shared).await {
            Ok(h) => h,
            Err(err) => {
                stats.error(err);
                continue;
            }
        };
        if handles.is_empty() {
            // Another worker took them; its delete counts them.
            stats.record(started);
            continue;
        }
        stats.requests += 1;
        match delete(conn, shared, &handles).await {
            Ok((deleted, failed)) => {
                stats.record(started);
                stats.messages += deleted;
                stats.errors += failed;
            }
            Err(err) => stats.error(err),
        }
    }
}

/// Today's date (`YYYYMMDD`) and time (`HHMMSS`) in UTC, for `X-Amz-Date` and the scope.
pub fn utc_now() -> (String, String) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    (
        format!("{y:04}{m:02}{d:02}"),
        format!("{:02}{:02}{:02}", rem / 3600, (rem % 3600) / 60, rem % 60),
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn authorization_header_has_sqs_scope() {
        let client = SqsClient::new(Endpoint::parse("http://127.0.0.1:1").unwrap()).unwrap();
        let auth = client.authorization.to_str().unwrap();
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential="));
        assert!(auth.contains("/us-east-1/sqs/aws4_request, SignedHeaders="));
    }
}
