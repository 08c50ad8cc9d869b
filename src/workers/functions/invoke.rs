//! Running a function once: an HTTP POST or a command, bounded by the function's timeout, and
//! reading its answer the way Lambda reads an SQS handler's return value.
//!
//! A handler that crashes, exits non-zero, answers non-2xx, runs past its timeout (a command is
//! then killed) or, when it reports item failures, answers something that is not a valid
//! response, has failed: its messages stay in the queue and come back after their visibility
//! timeout.

use std::collections::{BTreeMap, HashSet};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::config::resources::FunctionTarget;

/// Lambda's limit on a synchronous answer.
pub const MAX_ANSWER: usize = 6 * 1024 * 1024;
/// How much of a command's stderr is kept for the log.
const MAX_STDERR: usize = 16 * 1024;

/// How a function runs.
pub struct Invoker {
    pub name: String,
    pub target: FunctionTarget,
    pub timeout: Duration,
    pub environment: BTreeMap<String, String>,
    pub http: reqwest::Client,
}

/// A failed invocation, in words for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Failed(pub String);

impl Invoker {
    /// Runs the function with `event`; answers what it answered on success (2xx / exit 0).
    pub async fn invoke(&self, event: &[u8]) -> Result<Vec<u8>, Failed> {
        match &self.target {
            FunctionTarget::Http(url) => self.post(url, event).await,
            FunctionTarget::Command(argv) => self.run(argv, event).await,
        }
    }

    async fn post(&self, url: &str, event: &[u8]) -> Result<Vec<u8>, Failed> {
        let request = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .timeout(self.timeout)
            .body(event.to_vec());
        let call =
            async {
                let mut resp = request
                    .send()
                    .await
                    .map_err(|e| Failed(format!("POST {url}: {}", describe(&e))))?;
                let status = resp.status();
                let mut body = Vec::new();
                while let Some(chunk) = resp.chunk().await.map_err(|e| {
                    Failed(format!("POST {url}: reading the answer: {}", describe(&e)))
                })? {
                    if body.len() + chunk.len() > MAX_ANSWER {
                        return Err(Failed(format!(
                            "POST {url}: the answer is larger than {MAX_ANSWER} bytes"
                        )));
                    }
                    body.extend_from_slice(&chunk);
                }
                if !status.is_success() {
                    return Err(Failed(format!(
                        "POST {url} answered {status}: {}",
                        snippet(&body)
                    )));
                }
                Ok(body)
            };
        // reqwest's timeout covers the whole exchange; this one also bounds a slow body.
        match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(Failed(format!(
                "POST {url}: no answer within {:?}",
                self.timeout
            ))),
        }
    }

    async fn run(&self, argv: &[String], event: &[u8]) -> Result<Vec<u8>, Failed> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| Failed("the command is empty".into()))?;
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .envs(&self.environment)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Failed(format!("cannot start {program:?}: {e}")))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let feed = async {
            if let Some(mut s) = stdin {
                // A command that exits without reading its input is judged by its exit code.
                let _ = s.write_all(event).await;
                let _ = s.shutdown().await;
            }
        };
        let run = async {
            let (_, out, err) = tokio::join!(
                feed,
                read_capped(stdout, MAX_ANSWER),
                read_capped(stderr, MAX_STDERR)
            );
            (child.wait().await, out, err)
        };
        let (status, (out, out_overflow), (err, _)) =
            match tokio::time::timeout(self.timeout, run).await {
                Ok(done) => done,
                Err(_) => {
                    let _ = child.kill().await;
                    return Err(Failed(format!(
                        "{program:?} did not finish within {:?} and was killed",
                        self.timeout
                    )));
                }
            };
        let status = status.map_err(|e| Failed(format!("waiting for {program:?}: {e}")))?;
        if !err.is_empty() {
            tracing::debug!(function = %self.name, stderr = %String::from_utf8_lossy(&err), "function stderr");
        }
        if !status.success() {
            return Err(Failed(format!(
                "{program:?} {status}; stderr: {}",
                snippet(&err)
            )));
        }
        if out_overflow {
            return Err(Failed(format!(
                "{program:?} wrote more than {MAX_ANSWER} bytes"
            )));
        }
        Ok(out)
    }
}

/// Reads up to `cap` bytes and drains the rest (so the writer is never blocked); answers the
/// bytes and whether there were more.
async fn read_capped(reader: Option<impl AsyncRead + Unpin>, cap: usize) -> (Vec<u8>, bool) {
    let Some(mut reader) = reader else {
        return (Vec::new(), false);
    };
    let mut kept = Vec::new();
    let _ = (&mut reader).take(cap as u64).read_to_end(&mut kept).await;
    let more = tokio::io::copy(&mut reader, &mut tokio::io::sink())
        .await
        .unwrap_or(0);
    (kept, more > 0)
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        format!("cannot connect ({e})")
    } else {
        e.to_string()
    }
}

/// The start of an answer, for a log line.
fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// What an answer means for the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every message is done.
    Success,
    /// These message ids failed (and, on a FIFO queue, every later one of the batch).
    ItemsFailed(Vec<String>),
    /// The whole batch failed.
    Failed(String),
}

/// Reads a successful invocation's answer. Without `report_item_failures` the answer is not
/// read (Lambda ignores it). With it, Lambda's rules: no answer, `null`, `{}`, or an empty or
/// null `batchItemFailures` is success; an answer that is not JSON, or a failure entry without
/// a non-empty `itemIdentifier` that names a message of the batch, fails the whole batch.
pub fn verdict(answer: &[u8], report_item_failures: bool, batch_ids: &[&str]) -> Verdict {
    if !report_item_failures {
        return Verdict::Success;
    }
    let text = String::from_utf8_lossy(answer);
    if text.trim().is_empty() {
        return Verdict::Success;
    }
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) => return Verdict::Failed(format!("the answer is not JSON: {}", snippet(answer))),
    };
    let failures = match value.get("batchItemFailures") {
        None | Some(serde_json::Value::Null) => return Verdict::Success,
        Some(serde_json::Value::Array(items)) => items,
        Some(other) => return Verdict::Failed(format!("batchItemFailures is not a list: {other}")),
    };
    let known: HashSet<&str> = batch_ids.iter().copied().collect();
    let mut failed = Vec::new();
    for item in failures {
        match item.get("itemIdentifier").and_then(|i| i.as_str()) {
            Some(id) if !id.is_empty() && known.contains(id) => failed.push(id.to_string()),
            _ => {
                return Verdict::Failed(format!(
                    "batchItemFailures entry {item} does not name a message of the batch"
                ))
            }
        }
    }
    if failed.is_empty() {
        Verdict::Success
    } else {
        Verdict::ItemsFailed(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: &[&str] = &["a", "b", "c"];

    #[test]
    fn answers_are_read_only_when_item_failures_are_reported() {
        assert_eq!(verdict(b"garbage", false, IDS), Verdict::Success);
        assert_eq!(verdict(b"", true, IDS), Verdict::Success);
        assert_eq!(verdict(b"null", true, IDS), Verdict::Success);
        assert_eq!(verdict(b"{}", true, IDS), Verdict::Success);
        assert_eq!(
            verdict(br#"{"batchItemFailures": []}"#, true, IDS),
            Verdict::Success
        );
        assert_eq!(
            verdict(br#"{"batchItemFailures": null}"#, true, IDS),
            Verdict::Success
        );
        assert_eq!(
            verdict(
                br#"{"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "c"}]}"#,
                true,
                IDS
            ),
            Verdict::ItemsFailed(vec!["b".into(), "c".into()])
        );
    }

    #[test]
    fn malformed_failure_reports_fail_the_whole_batch() {
        for bad in [
            &b"garbage"[..],
            br#"{"batchItemFailures": "b"}"#,
            br#"{"batchItemFailures": [{"itemIdentifier": ""}]}"#,
            br#"{"batchItemFailures": [{"itemIdentifier": null}]}"#,
            br#"{"batchItemFailures": [{"id": "b"}]}"#,
            br#"{"batchItemFailures": [{"itemIdentifier": "zzz"}]}"#,
        ] {
            assert!(
                matches!(verdict(bad, true, IDS), Verdict::Failed(_)),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    fn command(argv: &[&str], timeout_ms: u64) -> Invoker {
        Invoker {
            name: "f".into(),
            target: FunctionTarget::Command(argv.iter().map(|s| s.to_string()).collect()),
            timeout: Duration::from_millis(timeout_ms),
            environment: BTreeMap::from([("LULL_TEST_VALUE".to_string(), "42".to_string())]),
            http: reqwest::Client::new(),
        }
    }

    #[tokio::test]
    async fn a_command_gets_the_event_on_stdin_and_answers_on_stdout() {
        let out = command(&["sh", "-c", "cat; printf \" $LULL_TEST_VALUE\""], 5_000)
            .invoke(b"{\"Records\":[]}")
            .await
            .unwrap();
        assert_eq!(out, b"{\"Records\":[]} 42");
    }

    #[tokio::test]
    async fn crashes_and_timeouts_are_failures() {
        let e = command(&["sh", "-c", "echo boom >&2; exit 3"], 5_000)
            .invoke(b"{}")
            .await
            .unwrap_err();
        assert!(
            e.0.contains("exit status: 3") && e.0.contains("boom"),
            "{e}"
        );
        let started = std::time::Instant::now();
        let e = command(&["sleep", "30"], 200)
            .invoke(b"{}")
            .await
            .unwrap_err();
        assert!(e.0.contains("killed"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let e = command(&["/nonexistent/handler"], 1_000)
            .invoke(b"{}")
            .await
            .unwrap_err();
        assert!(e.0.contains("cannot start"), "{e}");
    }
}
