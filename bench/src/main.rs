//! `lull-bench`: drives an SQS JSON 1.0 endpoint, an AMQP 0-9-1 broker or an
//! HTTP `/healthz` with the same scenarios, body size, batch size and
//! connection counts, and prints one JSON line per run plus a table.

mod amqp;
mod error;
mod healthz;
mod http;
mod report;
mod sqs;
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
}

fn run(args: RunArgs) -> Result<()> {
    let (kind, url, default_label) = match (&args.sqs, &args.amqp, &args.healthz) {
        (Some(u), _, _) => (Kind::Sqs, u.clone(), "sqs"),
        (_, Some(u), _) => (Kind::Amqp, u.clone(), "rabbitmq"),
        (_, _, Some(u)) => (Kind::Healthz, u.clone(), "lull"),
        _ => return Err(BenchError::Usage("give --sqs, --amqp or --healthz".into())),
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
        _ => args.scenario.clone(),
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
