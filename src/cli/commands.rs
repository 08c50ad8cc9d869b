//! The people's tools: `lull queues | send | receive | purge | redrive | conversations`
//! against a running server (or any SQS JSON 1.0 endpoint; `conversations` needs lull's admin
//! API). Results go to stdout, one error line to stderr.
//!
//! A queue argument is a name or a full queue URL; a name is resolved with `GetQueueUrl`
//! so the URL is whatever the server hands out for its own host.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Serialize;

use super::client::{
    ClientError, Message, MessageAttribute, MoveTask, QueueCounts, ReceiveMessage, SendMessage,
    SqsClient,
};

/// How often `redrive` asks for the move task's progress.
const REDRIVE_POLL: Duration = Duration::from_millis(500);
/// How long `redrive` tolerates a listing that does not show its task before giving up.
const REDRIVE_LOST_AFTER: Duration = Duration::from_secs(10);
/// How many `GetQueueAttributes` calls `queues` keeps in flight at once.
const COUNT_CONCURRENCY: usize = 16;

#[derive(clap::Subcommand, Debug)]
pub enum ClientCommand {
    /// List queues with visible / in-flight / delayed counts (a table; --json for JSON)
    Queues {
        /// Only queues whose names start with this
        #[arg(long)]
        prefix: Option<String>,
        /// Print a JSON array instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Send a message; prints its message id
    Send {
        /// Queue name or URL
        queue: String,
        /// Message body, or `-` to read it verbatim from stdin
        body: String,
        /// Message group id (required by FIFO queues)
        #[arg(long)]
        group: Option<String>,
        /// Deduplication id (FIFO queues without content-based deduplication)
        #[arg(long = "dedup-id")]
        dedup_id: Option<String>,
        /// Delay delivery by this many seconds (0-900)
        #[arg(long, value_parser = clap::value_parser!(u32).range(0..=900))]
        delay: Option<u32>,
        /// A String message attribute, NAME=VALUE (repeatable)
        #[arg(long = "attr", value_name = "NAME=VALUE", value_parser = parse_attr)]
        attrs: Vec<(String, String)>,
    },
    /// Receive messages and print each (id, receive count, body); --delete deletes them
    Receive {
        /// Queue name or URL
        queue: String,
        /// Receive up to this many messages (1-10)
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10))]
        max: u32,
        /// Long-poll for up to this many seconds (0-20)
        #[arg(long, value_parser = clap::value_parser!(u32).range(0..=20))]
        wait: Option<u32>,
        /// Hide the received messages for this many seconds (0-43200)
        #[arg(long, value_parser = clap::value_parser!(u32).range(0..=43200))]
        visibility: Option<u32>,
        /// Delete the messages once printed
        #[arg(long)]
        delete: bool,
        /// Print a JSON array instead of text
        #[arg(long)]
        json: bool,
    },
    /// Delete every message in a queue
    Purge {
        /// Queue name or URL
        queue: String,
    },
    /// List the conversations an app is holding: fragments, due time, learned cadence
    Conversations {
        /// The app's name in lull.toml
        app: String,
        /// Print the admin API's JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Move a dead-letter queue's messages back to their source queue (or --to QUEUE);
    /// waits until done and prints how many moved
    Redrive {
        /// The dead-letter queue, name or URL
        dlq: String,
        /// Move to this queue instead of the queues the messages came from
        #[arg(long)]
        to: Option<String>,
    },
}

pub async fn run(endpoint: &str, cmd: ClientCommand) -> anyhow::Result<()> {
    let client = SqsClient::new(endpoint)?;
    match cmd {
        ClientCommand::Queues { prefix, json } => queues(&client, prefix.as_deref(), json).await,
        ClientCommand::Send {
            queue,
            body,
            group,
            dedup_id,
            delay,
            attrs,
        } => {
            let body = if body == "-" { read_stdin()? } else { body };
            let input = SendMessage {
                queue_url: resolve(&client, &queue).await?,
                message_body: body,
                delay_seconds: delay,
                message_group_id: group,
                message_deduplication_id: dedup_id,
                message_attributes: attrs
                    .into_iter()
                    .map(|(name, value)| (name, MessageAttribute::string(value)))
                    .collect(),
            };
            let sent = client.send_message(&input).await?;
            println!("{}", sent.message_id);
            Ok(())
        }
        ClientCommand::Receive {
            queue,
            max,
            wait,
            visibility,
            delete,
            json,
        } => {
            let input = ReceiveMessage {
                queue_url: resolve(&client, &queue).await?,
                max_number_of_messages: max,
                wait_time_seconds: wait,
                visibility_timeout: visibility,
            };
            receive(&client, input, delete, json).await
        }
        ClientCommand::Purge { queue } => {
            let url = resolve(&client, &queue).await?;
            client.purge_queue(&url).await?;
            println!("purged {}", queue_name(&url));
            Ok(())
        }
        ClientCommand::Redrive { dlq, to } => redrive(&client, &dlq, to.as_deref()).await,
        ClientCommand::Conversations { app, json } => {
            super::conversations::run(endpoint, &app, json).await
        }
    }
}

/// A queue URL from a name or a URL.
async fn resolve(client: &SqsClient, queue: &str) -> Result<String, ClientError> {
    if queue.starts_with("http://") || queue.starts_with("https://") {
        Ok(queue.to_string())
    } else {
        client.get_queue_url(queue).await
    }
}

/// The last path segment of a queue URL (or of an ARN), which is the queue's name.
fn queue_name(url_or_arn: &str) -> &str {
    url_or_arn
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or(url_or_arn)
}

fn parse_attr(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("expected NAME=VALUE, got {raw:?}")),
    }
}

fn read_stdin() -> anyhow::Result<String> {
    let mut body = String::new();
    std::io::stdin()
        .read_to_string(&mut body)
        .context("reading the message body from stdin")?;
    Ok(body)
}

#[derive(Debug, Serialize)]
struct QueueRow {
    name: String,
    url: String,
    #[serde(flatten)]
    counts: QueueCounts,
}

async fn queues(client: &SqsClient, prefix: Option<&str>, json: bool) -> anyhow::Result<()> {
    let urls = client.list_queues(prefix).await?;
    let mut rows = Vec::with_capacity(urls.len());
    for chunk in urls.chunks(COUNT_CONCURRENCY) {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, url) in chunk.iter().enumerate() {
            let client = client.clone();
            let url = url.clone();
            tasks.spawn(async move { (i, client.queue_counts(&url).await) });
        }
        let mut counted: Vec<Option<QueueCounts>> = vec![None; chunk.len()];
        while let Some(joined) = tasks.join_next().await {
            let (i, result) = joined.context("counting messages")?;
            match result {
                Ok(counts) => counted[i] = Some(counts),
                // Deleted between the listing and the count: just leave it out.
                Err(e) if e.code() == Some("QueueDoesNotExist") => {}
                Err(e) => return Err(e.into()),
            }
        }
        for (url, counts) in chunk.iter().zip(counted) {
            if let Some(counts) = counts {
                rows.push(QueueRow {
                    name: queue_name(url).to_string(),
                    url: url.clone(),
                    counts,
                });
            }
        }
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));

    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else if rows.is_empty() {
        eprintln!("no queues");
    } else {
        out.write_all(queue_table(&rows).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

fn queue_table(rows: &[QueueRow]) -> String {
    let header = ["QUEUE", "VISIBLE", "IN-FLIGHT", "DELAYED"];
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.counts.visible.to_string(),
                r.counts.in_flight.to_string(),
                r.counts.delayed.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut table = format!(
        "{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}\n",
        header[0],
        header[1],
        header[2],
        header[3],
        w0 = widths[0],
        w1 = widths[1],
        w2 = widths[2],
        w3 = widths[3],
    );
    for row in &cells {
        table.push_str(&format!(
            "{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}\n",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        ));
    }
    table
}

#[derive(Debug, Serialize)]
struct ReceivedRow<'a> {
    id: &'a str,
    receive_count: Option<u64>,
    body: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    attributes: &'a BTreeMap<String, String>,
    message_attributes: BTreeMap<&'a str, &'a str>,
    receipt_handle: &'a str,
    deleted: bool,
}

async fn receive(
    client: &SqsClient,
    input: ReceiveMessage,
    delete: bool,
    json: bool,
) -> anyhow::Result<()> {
    let messages = client.receive_message(&input).await?;
    // Print before deleting: if the delete fails the messages come back, never lost.
    let mut out = std::io::stdout().lock();
    if json {
        let rows: Vec<ReceivedRow<'_>> = messages.iter().map(|m| received_row(m, delete)).collect();
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else if messages.is_empty() {
        eprintln!("no messages");
    } else {
        for (i, message) in messages.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            out.write_all(describe(message).as_bytes())?;
        }
    }
    out.flush()?;
    drop(out);

    if delete && !messages.is_empty() {
        let handles: Vec<String> = messages.iter().map(|m| m.receipt_handle.clone()).collect();
        let failures = client.delete_messages(&input.queue_url, &handles).await?;
        if let Some((_, reason)) = failures.first() {
            bail!(
                "{} of {} messages were not deleted: {reason}",
                failures.len(),
                messages.len()
            );
        }
    }
    Ok(())
}

fn received_row(message: &Message, deleted: bool) -> ReceivedRow<'_> {
    ReceivedRow {
        id: &message.message_id,
        receive_count: message.receive_count(),
        body: &message.body,
        group: message.attributes.get("MessageGroupId").map(String::as_str),
        attributes: &message.attributes,
        message_attributes: message
            .message_attributes
            .iter()
            .map(|(name, attr)| {
                let value = attr
                    .string_value
                    .as_deref()
                    .or(attr.binary_value.as_deref())
                    .unwrap_or("");
                (name.as_str(), value)
            })
            .collect(),
        receipt_handle: &message.receipt_handle,
        deleted,
    }
}

/// A message for a person: a header line, one line per attribute, then the body as is.
fn describe(message: &Message) -> String {
    let mut text = format!("message {}", message.message_id);
    if let Some(count) = message.receive_count() {
        text.push_str(&format!("  receives {count}"));
    }
    if let Some(group) = message.attributes.get("MessageGroupId") {
        text.push_str(&format!("  group {group}"));
    }
    text.push('\n');
    for (name, attr) in &message.message_attributes {
        let value = attr
            .string_value
            .as_deref()
            .or(attr.binary_value.as_deref())
            .unwrap_or("");
        text.push_str(&format!("  {name} = {value}\n"));
    }
    text.push_str(&message.body);
    if !message.body.ends_with('\n') {
        text.push('\n');
    }
    text
}

async fn redrive(client: &SqsClient, dlq: &str, to: Option<&str>) -> anyhow::Result<()> {
    let dlq_url = resolve(client, dlq).await?;
    let source_arn = client.queue_arn(&dlq_url).await?;
    let destination_arn = match to {
        Some(queue) => Some(client.queue_arn(&resolve(client, queue).await?).await?),
        None => None,
    };
    let handle = client
        .start_message_move_task(&source_arn, destination_arn.as_deref())
        .await?;

    let started = Instant::now();
    let task = loop {
        let tasks = client.list_message_move_tasks(&source_arn).await?;
        match find_task(&tasks, &handle) {
            Some(task) if task.status != "RUNNING" && task.status != "CANCELLING" => {
                break task.clone()
            }
            Some(_) => {}
            None if started.elapsed() > REDRIVE_LOST_AFTER => {
                bail!(
                    "the move task for {} no longer appears in ListMessageMoveTasks",
                    queue_name(&dlq_url)
                )
            }
            None => {}
        }
        tokio::time::sleep(REDRIVE_POLL).await;
    };

    let moved = task.approximate_number_of_messages_moved;
    let noun = if moved == 1 { "message" } else { "messages" };
    let destination = match destination_arn
        .as_deref()
        .or(task.destination_arn.as_deref())
    {
        Some(arn) => queue_name(arn).to_string(),
        None => "their source queues".to_string(),
    };
    match task.status.as_str() {
        "COMPLETED" => {
            println!(
                "moved {moved} {noun} from {} to {destination}",
                queue_name(&dlq_url)
            );
            Ok(())
        }
        status => {
            let reason = task
                .failure_reason
                .unwrap_or_else(|| "no reason given".to_string());
            bail!(
                "redrive {}: {moved} {noun} moved to {destination}, then {reason}",
                status.to_lowercase()
            )
        }
    }
}

/// Our task in a listing: by handle, or — for servers that leave handles out of
/// finished tasks — the newest one, which the listing puts first.
fn find_task<'a>(tasks: &'a [MoveTask], handle: &str) -> Option<&'a MoveTask> {
    tasks
        .iter()
        .find(|t| t.task_handle.as_deref() == Some(handle))
        .or_else(|| tasks.first().filter(|t| t.task_handle.is_none()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_name_from_url_and_arn() {
        assert_eq!(
            queue_name("http://127.0.0.1:4566/123456789012/orders"),
            "orders"
        );
        assert_eq!(queue_name("http://h/123456789012/jobs.fifo/"), "jobs.fifo");
        assert_eq!(queue_name("arn:aws:sqs:us-east-1:123456789012:dlq"), "dlq");
    }

    #[test]
    fn attr_needs_a_name_and_an_equals_sign() {
        assert_eq!(
            parse_attr("kind=a=b"),
            Ok(("kind".to_string(), "a=b".to_string()))
        );
        assert_eq!(
            parse_attr("empty="),
            Ok(("empty".to_string(), String::new()))
        );
        assert!(parse_attr("=v").is_err());
        assert!(parse_attr("novalue").is_err());
    }

    #[test]
    fn table_aligns_columns() {
        let rows = vec![
            QueueRow {
                name: "a".to_string(),
                url: String::new(),
                counts: QueueCounts {
                    visible: 12,
                    in_flight: 0,
                    delayed: 3,
                },
            },
            QueueRow {
                name: "longer-name".to_string(),
                url: String::new(),
                counts: QueueCounts::default(),
            },
        ];
        let table = queue_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "QUEUE        VISIBLE  IN-FLIGHT  DELAYED");
        assert_eq!(lines[1], "a                 12          0        3");
        assert_eq!(lines[2], "longer-name        0          0        0");
    }

    #[test]
    fn describe_shows_id_count_group_attributes_and_body() {
        let message: Message = serde_json::from_value(serde_json::json!({
            "MessageId": "m1",
            "ReceiptHandle": "r1",
            "Body": "hello",
            "Attributes": { "ApproximateReceiveCount": "2", "MessageGroupId": "g" },
            "MessageAttributes": { "kind": { "DataType": "String", "StringValue": "x" } }
        }))
        .unwrap();
        assert_eq!(
            describe(&message),
            "message m1  receives 2  group g\n  kind = x\nhello\n"
        );
    }
}
