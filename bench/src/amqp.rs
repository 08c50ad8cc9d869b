//! AMQP 0-9-1 scenarios against RabbitMQ, doing the same durable work as the
//! SQS scenarios: a durable queue, persistent messages (delivery mode 2), a
//! send counts only once its publisher confirm is back (a batch publishes N
//! and then waits for all N confirms), and consumers ack by hand with a
//! prefetch equal to the batch size. Each worker has its own connection and
//! one channel, mirroring one HTTP connection per SQS worker.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer};

use crate::error::{BenchError, Result};
use crate::workload::{body_of, unique_queue_name, Budget, Plan, RunResult, Scenario, Stats};

/// Persistent: the broker writes the message to disk before confirming it.
const PERSISTENT: u8 = 2;

/// How long a consumer waits for a first delivery before it calls the queue empty.
const FIRST_DELIVERY_WAIT: Duration = Duration::from_secs(1);

struct Worker {
    conn: Connection,
    channel: Channel,
    consumer: Option<Consumer>,
}

struct Shared {
    queue: String,
    body: Vec<u8>,
    batch: u32,
    budget: Budget,
    drained: AtomicU64,
    drain_target: u64,
}

pub async fn run(plan: &Plan, scenario: Scenario, connections: u32) -> Result<RunResult> {
    if scenario == Scenario::Healthz {
        return Err(BenchError::Usage(
            "healthz is an HTTP probe, not an AMQP scenario".into(),
        ));
    }
    let admin = Connection::connect(&plan.url, ConnectionProperties::default()).await?;
    let admin_channel = admin.create_channel().await?;
    let queue = unique_queue_name(scenario, connections);
    admin_channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;

    // Same batch limit as SQS (1..=10) so both sides move the same units.
    let batch = scenario.effective_batch(plan.batch).clamp(1, 10);
    let mut workers = Vec::with_capacity(connections as usize);
    for _ in 0..connections {
        let conn = Connection::connect(&plan.url, ConnectionProperties::default()).await?;
        let channel = conn.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        channel
            .basic_qos(batch as u16, BasicQosOptions::default())
            .await?;
        workers.push(Worker {
            conn,
            channel,
            consumer: None,
        });
    }

    let body = body_of(plan.body_size).into_bytes();
    let make_shared = |budget: Budget, drain_target: u64| Shared {
        queue: queue.clone(),
        body: body.clone(),
        batch,
        budget,
        drained: AtomicU64::new(0),
        drain_target,
    };

    let mut drain_target = u64::MAX;
    if scenario == Scenario::Recv {
        let start = Instant::now();
        let shared = Arc::new(make_shared(plan.prefill_budget(start), 0));
        let (back, stats) = run_workers(workers, &shared, Scenario::SendBatch).await;
        workers = back;
        drain_target = stats.messages;
        eprintln!(
            "  prefilled {} messages in {:.1}s ({} errors)",
            stats.messages,
            start.elapsed().as_secs_f64(),
            stats.errors
        );
    }

    if matches!(scenario, Scenario::Recv | Scenario::Cycle) {
        for (i, worker) in workers.iter_mut().enumerate() {
            let consumer = worker
                .channel
                .basic_consume(
                    queue.as_str().into(),
                    format!("lull-bench-{i}").into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            worker.consumer = Some(consumer);
        }
    }

    let start = Instant::now();
    let shared = Arc::new(make_shared(plan.budget(start), drain_target));
    let (workers, stats) = run_workers(workers, &shared, scenario).await;
    let result = RunResult::from_stats(&plan.target, scenario, connections, batch, start, &stats);
    if let Some(err) = &stats.first_error {
        eprintln!("  first error: {err}");
    }

    for worker in workers {
        // Closing is best effort: the figures are already taken.
        let _ = worker.conn.close(200, "bench done".into()).await;
    }
    if let Err(err) = admin_channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
    {
        eprintln!("  could not delete queue {queue}: {err}");
    }
    let _ = admin.close(200, "bench done".into()).await;
    Ok(result)
}

async fn run_workers(
    workers: Vec<Worker>,
    shared: &Arc<Shared>,
    scenario: Scenario,
) -> (Vec<Worker>, Stats) {
    let mut tasks = Vec::with_capacity(workers.len());
    for worker in workers {
        let shared = Arc::clone(shared);
        tasks.push(tokio::spawn(work(worker, shared, scenario)));
    }
    let mut total = Stats::new();
    let mut back = Vec::with_capacity(tasks.len());
    for task in tasks {
        match task.await {
            Ok((worker, stats)) => {
                back.push(worker);
                total.merge(stats);
            }
            Err(err) => total.error(format!("worker panicked: {err}")),
        }
    }
    (back, total)
}

async fn work(mut worker: Worker, shared: Arc<Shared>, scenario: Scenario) -> (Worker, Stats) {
    let mut stats = Stats::new();
    match scenario {
        Scenario::Send => publish_loop(&worker, &shared, &mut stats, 1).await,
        Scenario::SendBatch => publish_loop(&worker, &shared, &mut stats, shared.batch).await,
        Scenario::Recv => consume_loop(&mut worker, &shared, &mut stats).await,
        Scenario::Cycle => cycle_loop(&mut worker, &shared, &mut stats).await,
        Scenario::Healthz | Scenario::Webhook => {
            stats.error(format!("{scenario} is not an AMQP scenario"))
        }
    }
    (worker, stats)
}

/// Publishes `n` persistent messages, then waits for every confirm.
async fn publish(channel: &Channel, shared: &Shared, n: u32) -> Result<()> {
    let mut confirms = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let confirm = channel
            .basic_publish(
                "".into(),
                shared.queue.as_str().into(),
                BasicPublishOptions::default(),
                &shared.body,
                BasicProperties::default().with_delivery_mode(PERSISTENT),
            )
            .await?;
        confirms.push(confirm);
    }
    for confirm in confirms {
        if !confirm.await?.is_ack() {
            return Err(BenchError::Nack);
        }
    }
    Ok(())
}

async fn publish_loop(worker: &Worker, shared: &Shared, stats: &mut Stats, batch: u32) {
    loop {
        let n = shared.budget.take(batch);
        if n == 0 {
            break;
        }
        let started = Instant::now();
        stats.requests += 1;
        match publish(&worker.channel, shared, n).await {
            Ok(()) => {
                stats.record(started);
                stats.messages += u64::from(n);
            }
            Err(err) => stats.error(err),
        }
    }
}

/// Waits for one delivery, then takes whatever else is already buffered up to
/// `batch` (like a short-poll receive), and acks them all with one
/// `basic.ack multiple`. Returns how many were taken; 0 if none came in time.
async fn take_and_ack(worker: &mut Worker, batch: u32) -> Result<u32> {
    let Some(consumer) = worker.consumer.as_mut() else {
        return Err(BenchError::ConsumerEnded);
    };
    let first = match tokio::time::timeout(FIRST_DELIVERY_WAIT, consumer.next()).await {
        Err(_) => return Ok(0),
        Ok(None) => return Err(BenchError::ConsumerEnded),
        Ok(Some(delivery)) => delivery?,
    };
    let mut last_tag = first.delivery_tag;
    let mut count = 1;
    while count < batch {
        match consumer.next().now_or_never() {
            Some(Some(delivery)) => {
                last_tag = delivery?.delivery_tag;
                count += 1;
            }
            Some(None) => return Err(BenchError::ConsumerEnded),
            None => break,
        }
    }
    worker
        .channel
        .basic_ack(last_tag, BasicAckOptions { multiple: true })
        .await?;
    Ok(count)
}

async fn consume_loop(worker: &mut Worker, shared: &Shared, stats: &mut Stats) {
    while !shared.budget.expired() && shared.drained.load(Ordering::Relaxed) < shared.drain_target {
        let started = Instant::now();
        match take_and_ack(worker, shared.batch).await {
            Ok(0) => break,
            Ok(n) => {
                // One "receive" and one "delete", as on the SQS side.
                stats.requests += 2;
                stats.record(started);
                stats.messages += u64::from(n);
                shared.drained.fetch_add(u64::from(n), Ordering::Relaxed);
            }
            Err(err) => {
                stats.error(err);
                break;
            }
        }
    }
}

async fn cycle_loop(worker: &mut Worker, shared: &Shared, stats: &mut Stats) {
    loop {
        let n = shared.budget.take(shared.batch);
        if n == 0 {
            break;
        }
        let started = Instant::now();
        stats.requests += 1;
        if let Err(err) = publish(&worker.channel, shared, n).await {
            stats.error(err);
            continue;
        }
        match take_and_ack(worker, shared.batch).await {
            Ok(0) => stats.requests += 1,
            Ok(got) => {
                stats.requests += 2;
                stats.record(started);
                stats.messages += u64::from(got);
            }
            Err(err) => {
                stats.error(err);
                break;
            }
        }
    }
}
