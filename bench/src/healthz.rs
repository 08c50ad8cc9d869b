//! The no-op limit: `GET /healthz` over the same connections as the SQS
//! scenarios. It measures what the HTTP path alone costs, so SendMessage's
//! rate can be read as a fraction of it.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;

use crate::error::{BenchError, Result};
use crate::http::{Endpoint, HttpConn};
use crate::workload::{Budget, Plan, RunResult, Scenario, Stats};

pub async fn run(plan: &Plan, connections: u32) -> Result<RunResult> {
    let endpoint = Endpoint::parse(&plan.url)?;
    let mut conns = Vec::with_capacity(connections as usize);
    for _ in 0..connections {
        conns.push(HttpConn::connect(&endpoint).await?);
    }
    let start = Instant::now();
    let budget = Arc::new(plan.budget(start));
    let mut tasks = Vec::with_capacity(conns.len());
    for conn in conns {
        tasks.push(tokio::spawn(probe_loop(
            conn,
            endpoint.clone(),
            Arc::clone(&budget),
        )));
    }
    let mut total = Stats::new();
    for task in tasks {
        match task.await {
            Ok(stats) => total.merge(stats),
            Err(err) => total.error(format!("worker panicked: {err}")),
        }
    }
    if let Some(err) = &total.first_error {
        eprintln!("  first error: {err}");
    }
    Ok(RunResult::from_stats(
        &plan.target,
        Scenario::Healthz,
        connections,
        1,
        start,
        &total,
    ))
}

async fn probe_loop(mut conn: HttpConn, endpoint: Endpoint, budget: Arc<Budget>) -> Stats {
    let mut stats = Stats::new();
    let path = endpoint.path("/healthz");
    while budget.take(1) > 0 {
        let started = Instant::now();
        stats.requests += 1;
        let outcome = match probe(&path, &endpoint) {
            Ok(req) => conn.send(req).await,
            Err(err) => Err(err),
        };
        match outcome {
            Ok((StatusCode::OK, _)) => {
                stats.record(started);
                stats.messages += 1;
            }
            Ok((status, body)) => stats.error(BenchError::Status {
                action: "GET /healthz",
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).chars().take(200).collect(),
            }),
            Err(err) => stats.error(err),
        }
    }
    stats
}

fn probe(path: &str, endpoint: &Endpoint) -> Result<Request<Full<Bytes>>> {
    Ok(Request::get(path)
        .header(http::header::HOST, endpoint.authority.as_str())
        .body(Full::new(Bytes::new()))?)
}
