//! `lull-bench`: drives an SQS JSON 1.0 endpoint, an AMQP 0-9-1 broker or an
//! HTTP `/healthz` with the same scenarios, body size, batch size and
//! connection counts, and prints one JSON line per run plus a table. The chat
//! gateway (webhook ingest, debounce timer lateness) and SNS fan-out have
//! commands of their own.

mod amqp;
mod error;
mod fanout;
mod gateway_report;
mod healthz;
mod http;
mod lateness;
mod report;
mod sns;
mod sqs;
mod webhook;
mod workload;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::error::{BenchError, Result};
use crate::workload::{Plan, RunResult, Scenario};

#[derive(Parser)]
#[command(
    name = "lull-bench",
    version,
    about = "Load generator for lull and its peers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios against one target; one JSON line per run on stdout.
    Run(RunArgs),
    /// Read JSON-lines results and print the markdown comparison.
    Report(ReportArgs),
    /// Debounce timer lateness: fragments at a fixed rate, batches read from the app's inbox.
    Lateness(LatenessArgs),
    /// SNS fan-out: one topic to N SQS queues, publish-to-delivered rate and latency.
    Fanout(FanoutArgs),
    /// Markdown for the chat gateway: webhook ingest vs /healthz, lateness, memory.
    ReportGateway(ReportGatewayArgs),
    /// Markdown for the fan-out runs, lull against a peer.
    ReportFanout(ReportFanoutArgs),
}

#[derive(Args)]
struct RunArgs {
    /// SQS JSON 1.0 endpoint, e.g. http://127.0.0.1:4566
    #[arg(long, group = "endpoint", required = true)]
    sqs: Option<String>,
    /// AMQP 0-9-1 broker, e.g. amqp://guest:guest@127.0.0.1:5672/%2f
    #[arg(long, group = "endpoint", required = true)]
    amqp: Option<String>,
    /// HTTP server whose GET /healthz is the no-op limit, e.g. http://127.0.0.1:4566
    #[arg(long, group = "endpoint", required = true)]
    healthz: Option<String>,
    /// A chat app's webhook, e.g. http://127.0.0.1:4566/webhooks/ingest (one fragment per request)
    #[arg(long, group = "endpoint", required = true)]
    webhook: Option<String>,
    /// Webhook payload shape: zapi or generic
    #[arg(long, default_value = "zapi")]
    platform: webhook::Platform,
    /// Distinct conversations the webhook fragments are spread over
    #[arg(long, default_value_t = 100_000)]
    conversations: u64,
    /// Label written into the results [default: sqs, rabbitmq or lull]
    #[arg(long)]
    target: Option<String>,
    /// Scenarios: send, send-batch, recv, cycle (ignored with --healthz)
    #[arg(
        long,
        alias = "scenarios",
        value_delimiter = ',',
        default_value = "send,send-batch,recv,cycle"
    )]
    scenario: Vec<Scenario>,
    /// Connection counts, each a separate run
    #[arg(long, value_delimiter = ',', default_value = "1,8,32,64")]
    connections: Vec<u32>,
    /// Messages per batch for send-batch, recv and cycle (1..=10)
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10))]
    batch: u32,
    /// Message body size in bytes
    #[arg(long, default_value_t = 256)]
    body_size: usize,
    /// Seconds per measured run
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many messages instead of after --duration
    #[arg(long)]
    messages: Option<u64>,
    /// Messages to load before `recv` [default: --messages, else what batched sends reach in --duration]
    #[arg(long)]
    prefill: Option<u64>,
    /// Also append the JSON lines to this file
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Runtime worker threads for the load generator
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

#[derive(Args)]
struct ReportArgs {
    /// JSON-lines files written by `run`
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Also write the markdown here
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, default_value = "lull")]
    lull: String,
    #[arg(long, default_value = "rabbitmq")]
    rabbitmq: String,
    #[arg(long, default_value = "moto")]
    moto: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(args) => run(args),
        Command::Report(args) => report(args),
        Command::Lateness(args) => run_lateness(args),
        Command::Fanout(args) => run_fanout(args),
        Command::ReportGateway(args) => report_gateway(args),
        Command::ReportFanout(args) => report_fanout(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("lull-bench: {err}");
            ExitCode::FAILURE
        }
    }
}

enum Kind {
    Sqs,
    Amqp,
    Healthz,
    Webhook,
}

fn run(args: RunArgs) -> Result<()> {
    let (kind, url, default_label) = match (&args.sqs, &args.amqp, &args.healthz, &args.webhook) {
        (Some(u), _, _, _) => (Kind::Sqs, u.clone(), "sqs"),
        (_, Some(u), _, _) => (Kind::Amqp, u.clone(), "rabbitmq"),
        (_, _, Some(u), _) => (Kind::Healthz, u.clone(), "lull"),
        (_, _, _, Some(u)) => (Kind::Webhook, u.clone(), "lull"),
        _ => {
            return Err(BenchError::Usage(
                "give --sqs, --amqp, --healthz or --webhook".into(),
            ))
        }
    };
    if !(args.duration.is_finite() && args.duration > 0.0) {
        return Err(BenchError::Usage("--duration must be positive".into()));
    }
    if args.connections.contains(&0) {
        return Err(BenchError::Usage("--connections must be at least 1".into()));
    }
    let plan = Plan {
        target: args.target.clone().unwrap_or_else(|| default_label.into()),
        url,
        batch: args.batch,
        body_size: args.body_size,
        duration: Duration::from_secs_f64(args.duration),
        messages: args.messages,
        prefill: args.prefill,
    };
    let scenarios = match kind {
        Kind::Healthz => vec![Scenario::Healthz],
        Kind::Webhook => vec![Scenario::Webhook],
        _ => args.scenario.clone(),
    };
    let ingest = webhook::Ingest {
        platform: args.platform,
        conversations: args.conversations,
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    let mut json_out = match &args.json_out {
        Some(path) => Some(OpenOptions::new().create(true).append(true).open(path)?),
        None => None,
    };

    let mut results: Vec<RunResult> = Vec::new();
    let mut failures = 0;
    for &scenario in &scenarios {
        for &conns in &args.connections {
            eprintln!(
                "{} {} connections={} batch={} ...",
                plan.target,
                scenario,
                conns,
                scenario.effective_batch(plan.batch)
            );
            let outcome = runtime.block_on(async {
                match kind {
                    Kind::Sqs => sqs::run(&plan, scenario, conns).await,
                    Kind::Amqp => amqp::run(&plan, scenario, conns).await,
                    Kind::Healthz => healthz::run(&plan, conns).await,
                    Kind::Webhook => webhook::run(&plan, &ingest, conns).await,
                }
            });
            match outcome {
                Ok(result) => {
                    let line = serde_json::to_string(&result)?;
                    println!("{line}");
                    std::io::stdout().flush()?;
                    if let Some(file) = json_out.as_mut() {
                        writeln!(file, "{line}")?;
                    }
                    results.push(result);
                }
                Err(err) => {
                    failures += 1;
                    eprintln!("  run failed: {err}");
                }
            }
        }
    }
    eprint!("\n{}", report::plain_table(&results));
    if failures > 0 {
        return Err(BenchError::Usage(format!("{failures} run(s) failed")));
    }
    Ok(())
}

fn report(args: ReportArgs) -> Result<()> {
    let mut results = Vec::new();
    for path in &args.files {
        let text = std::fs::read_to_string(path)?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            results.push(serde_json::from_str::<RunResult>(line)?);
        }
    }
    let labels = report::Labels {
        lull: &args.lull,
        rabbitmq: &args.rabbitmq,
        moto: &args.moto,
    };
    let md = report::markdown(&results, &labels);
    print!("{md}");
    if let Some(out) = &args.out {
        std::fs::write(out, &md)?;
    }
    Ok(())
}

#[derive(Args)]
struct LatenessArgs {
    /// lull's base URL, e.g. http://127.0.0.1:4566
    #[arg(long)]
    url: String,
    /// The app whose webhook takes the fragments (its debounce must be a fixed window)
    #[arg(long, default_value = "timer")]
    app: String,
    /// Webhook payload shape: zapi or generic
    #[arg(long, default_value = "zapi")]
    platform: webhook::Platform,
    /// The app's debounce window in milliseconds, as configured
    #[arg(long, default_value_t = 200)]
    window_ms: u64,
    /// Fragments per second
    #[arg(long, default_value_t = 10_000.0)]
    rate: f64,
    /// Seconds of sending
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Fragments each conversation gets
    #[arg(long, default_value_t = 3)]
    fragments: u32,
    /// Milliseconds between a conversation's fragments (keep it under the window)
    #[arg(long, default_value_t = 50)]
    gap_ms: u64,
    /// Connections posting fragments
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// Connections reading the inbox
    #[arg(long, default_value_t = 4)]
    readers: u32,
    /// Seconds to wait for the last batches after sending ends
    #[arg(long, default_value_t = 30.0)]
    drain_timeout: f64,
    #[arg(long, default_value = "lull")]
    target: String,
    #[arg(long)]
    json_out: Option<PathBuf>,
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

#[derive(Args)]
struct FanoutArgs {
    /// Endpoint serving both SQS JSON 1.0 and SNS query on one port
    #[arg(long)]
    url: String,
    #[arg(long, default_value = "lull")]
    target: String,
    /// Queue counts subscribed to the topic, each a separate run
    #[arg(long, value_delimiter = ',', default_value = "1,10,100")]
    queues: Vec<u32>,
    /// Connections publishing
    #[arg(long, default_value_t = 8)]
    publishers: u32,
    /// Seconds of publishing per run
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Publishes per second (paced); without it publishers go as fast as answers come back
    #[arg(long)]
    rate: Option<f64>,
    #[arg(long, default_value_t = 256)]
    body_size: usize,
    /// Deliver the SNS JSON envelope instead of the raw message
    #[arg(long)]
    envelope: bool,
    /// Seconds consumers may keep draining after the last publish
    #[arg(long, default_value_t = 120.0)]
    drain_timeout: f64,
    #[arg(long)]
    json_out: Option<PathBuf>,
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

#[derive(Args)]
struct ReportGatewayArgs {
    /// JSON lines of `run --webhook` and `run --healthz`
    #[arg(long)]
    runs: Option<PathBuf>,
    /// JSON lines of `lateness`
    #[arg(long)]
    lateness: Option<PathBuf>,
    /// JSON lines printed by examples/conversations_1m.rs
    #[arg(long)]
    memory: Option<PathBuf>,
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct ReportFanoutArgs {
    /// JSON lines of `fanout`
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[arg(long, default_value = "lull")]
    lull: String,
    #[arg(long, default_value = "moto")]
    peer: String,
    #[arg(long)]
    out: Option<PathBuf>,
}

fn runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?)
}

fn positive_secs(name: &str, secs: f64) -> Result<Duration> {
    if secs.is_finite() && secs > 0.0 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(BenchError::Usage(format!("--{name} must be positive")))
    }
}

/// Prints a record as one JSON line and appends it to `json_out` if given.
fn emit(record: &impl serde::Serialize, json_out: Option<&PathBuf>) -> Result<()> {
    let line = serde_json::to_string(record)?;
    println!("{line}");
    std::io::stdout().flush()?;
    if let Some(path) = json_out {
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        writeln!(file, "{line}")?;
    }
    Ok(())
}

fn read_lines<T: serde::de::DeserializeOwned>(path: &PathBuf) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(path)?;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        out.push(serde_json::from_str(line)?);
    }
    Ok(out)
}

fn run_lateness(args: LatenessArgs) -> Result<()> {
    let plan = lateness::LatenessPlan {
        target: args.target,
        url: args.url,
        app: args.app,
        platform: args.platform,
        rate: args.rate,
        duration: positive_secs("duration", args.duration)?,
        window_ms: args.window_ms,
        fragments_per_conversation: args.fragments,
        gap_ms: args.gap_ms,
        connections: args.connections,
        readers: args.readers,
        drain_timeout: positive_secs("drain-timeout", args.drain_timeout)?,
    };
    eprintln!(
        "{} lateness: {} fragments/s for {:.0}s, window {} ms ...",
        plan.target,
        plan.rate,
        plan.duration.as_secs_f64(),
        plan.window_ms
    );
    let result = runtime(args.threads)?.block_on(lateness::run(&plan))?;
    if let Some(err) = &result.first_error {
        eprintln!("  first error: {err}");
    }
    emit(&result, args.json_out.as_ref())?;
    eprint!("\n{}", lateness::markdown(std::slice::from_ref(&result)));
    Ok(())
}

fn run_fanout(args: FanoutArgs) -> Result<()> {
    let rt = runtime(args.threads)?;
    let mut results = Vec::new();
    let mut failures = 0;
    for &queues in &args.queues {
        let plan = fanout::FanoutPlan {
            target: args.target.clone(),
            url: args.url.clone(),
            queues,
            publishers: args.publishers,
            duration: positive_secs("duration", args.duration)?,
            rate: args.rate,
            body_size: args.body_size,
            raw: !args.envelope,
            drain_timeout: positive_secs("drain-timeout", args.drain_timeout)?,
        };
        eprintln!(
            "{} fan-out to {queues} queue(s), {} publishers{} ...",
            plan.target,
            plan.publishers,
            plan.rate
                .map_or_else(String::new, |r| format!(", {r} publishes/s"))
        );
        match rt.block_on(fanout::run(&plan)) {
            Ok(result) => {
                if let Some(err) = &result.first_error {
                    eprintln!("  first error: {err}");
                }
                emit(&result, args.json_out.as_ref())?;
                results.push(result);
            }
            Err(err) => {
                failures += 1;
                eprintln!("  run failed: {err}");
            }
        }
    }
    eprint!("\n{}", fanout::markdown(&results, &args.target, "-"));
    if failures > 0 {
        return Err(BenchError::Usage(format!("{failures} run(s) failed")));
    }
    Ok(())
}

fn report_gateway(args: ReportGatewayArgs) -> Result<()> {
    let runs = match &args.runs {
        Some(p) => read_lines(p)?,
        None => Vec::new(),
    };
    let late = match &args.lateness {
        Some(p) => read_lines(p)?,
        None => Vec::new(),
    };
    let memory = match &args.memory {
        Some(p) => read_lines(p)?,
        None => Vec::new(),
    };
    let md = gateway_report::markdown(&runs, &late, &memory);
    print!("{md}");
    if let Some(out) = &args.out {
        std::fs::write(out, &md)?;
    }
    Ok(())
}

fn report_fanout(args: ReportFanoutArgs) -> Result<()> {
    let mut results = Vec::new();
    for path in &args.files {
        results.extend(read_lines::<fanout::FanoutResult>(path)?);
    }
    let md = fanout::markdown(&results, &args.lull, &args.peer);
    print!("{md}");
    if let Some(out) = &args.out {
        std::fs::write(out, &md)?;
    }
    Ok(())
}
