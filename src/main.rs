//! The `lull` binary: `lull serve` runs the server; the other commands talk to a running one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use tokio::io::AsyncWriteExt;

use lull::cli::commands::{self, ClientCommand};
use lull::config::Config;
use lull::server::{self, App, OpenError, Settings};

// Many small, short-lived allocations per request (bodies, JSON values, store records).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "lull",
    version,
    about = "Waits for the lull in a conversation, then acts."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The server the people's tools talk to
    #[arg(
        long,
        global = true,
        env = "LULL_ENDPOINT",
        default_value = "http://127.0.0.1:4566"
    )]
    endpoint: String,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (SQS API, and everything configured in lull.toml) on one port
    Serve(ServeArgs),
    #[command(flatten)]
    Client(ClientCommand),
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Configuration file (default: ./lull.toml when it exists)
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:4566; port 0 picks a free port)
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Directory of the embedded store (default ./lull-data)
    #[arg(long)]
    data: Option<PathBuf>,
    /// Share queues with other nodes through PostgreSQL: postgres://user@host/db?schema=lull
    /// (default: the embedded store in --data)
    #[arg(long, env = "LULL_STORE")]
    store: Option<String>,
    /// Region of resources addressed without a signature scope
    #[arg(long)]
    region: Option<String>,
    /// The account id in queue URLs and ARNs
    #[arg(long = "account-id")]
    account_id: Option<String>,
    /// Allow listening beyond loopback without credentials
    #[arg(long)]
    insecure: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LULL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lull: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Client(cmd) => commands::run(&cli.endpoint, cmd).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lull: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config_file = match &args.config {
        Some(path) => Some(path.clone()),
        None if std::path::Path::new("lull.toml").exists() => Some(PathBuf::from("lull.toml")),
        None => None,
    };
    let config = match &config_file {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let s = &config.server;
    let listen: SocketAddr = match (args.listen, &s.listen) {
        (Some(a), _) => a,
        (None, Some(l)) => l.parse().context("server.listen")?,
        (None, None) => SocketAddr::from(([127, 0, 0, 1], 4566)),
    };
    let credentials: Vec<(String, String)> = s
        .credentials
        .iter()
        .map(|c| (c.access_key_id.clone(), c.secret_access_key.clone()))
        .collect();
    if !listen.ip().is_loopback() && credentials.is_empty() && !args.insecure {
        bail!(
            "refusing to listen on {listen} without credentials: add [[server.credentials]] to lull.toml, or pass --insecure"
        );
    }
    let settings = Settings {
        region: args
            .region
            .or(s.region.clone())
            .unwrap_or_else(|| "us-east-1".into()),
        account: args
            .account_id
            .or(s.account_id.clone())
            .unwrap_or_else(|| "123456789012".into()),
        data_dir: args
            .data
            .or(s.data.clone())
            .unwrap_or_else(|| PathBuf::from("lull-data")),
        credentials,
        store_url: args.store.or(s.store.clone()),
        config: std::sync::Arc::new(config.clone()),
    };
    // Where the store is, for messages; a URL's password is not shown.
    let location = match &settings.store_url {
        Some(url) => lull::store::postgres::redacted(url),
        None => settings.data_dir.display().to_string(),
    };
    let started = std::time::Instant::now();
    let app = match App::open(settings).await {
        Ok(app) => app,
        // Declared resources that cannot be applied: the file and each key, as for config errors.
        Err(OpenError::Resources(e)) => {
            let file = config_file.unwrap_or_else(|| PathBuf::from("lull.toml"));
            bail!("{}: {e}", file.display())
        }
        Err(e) => return Err(e).with_context(|| format!("opening the store in {location}")),
    };
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, store = %location, "store opened");
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    // Tests and scripts read this line to learn the port.
    let mut out = tokio::io::stdout();
    out.write_all(format!("lull listening on http://{local}\n").as_bytes())
        .await?;
    out.flush().await?;
    let closer = app.clone();
    server::serve(listener, app, shutdown_signal()).await?;
    closer.close();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutting down");
}
