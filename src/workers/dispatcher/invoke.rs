//! One handler call: `POST` the JSON to the handler's URL, or run its command with the JSON on
//! stdin. Success is a 2xx answer or exit status 0; the answer body (stdout) is returned for
//! its replies. Anything else, including the timeout, is a failure with a reason for the log.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::config::apps::Handler;
use crate::workers::redelivery::error_chain;

/// How much of a failing handler's answer or stderr goes into the log line.
const EXCERPT: usize = 300;

#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub app: &'a str,
    pub body: &'a str,
    /// 1 for the first delivery.
    pub attempt: u32,
    pub timeout: Duration,
    /// Where lull serves, given to commands as `LULL_ENDPOINT`.
    pub endpoint: &'a str,
}

pub async fn invoke(
    http: &reqwest::Client,
    handler: &Handler,
    call: &Call<'_>,
) -> Result<Vec<u8>, String> {
    match handler {
        Handler::Url(url) => post(http, url, call).await,
        Handler::Command(argv) => run(argv, call).await,
    }
}

async fn post(http: &reqwest::Client, url: &str, call: &Call<'_>) -> Result<Vec<u8>, String> {
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", concat!("lull/", env!("CARGO_PKG_VERSION")))
        .header("x-lull-app", call.app)
        .header("x-lull-attempt", call.attempt.to_string())
        .body(call.body.to_owned())
        .timeout(call.timeout)
        .send()
        .await
        .map_err(|e| describe(&e, call.timeout))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| describe(&e, call.timeout))?;
    if status.is_success() {
        Ok(body.to_vec())
    } else {
        Err(format!("handler answered {status}: {}", excerpt(&body)))
    }
}

fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("handler did not answer within {} ms", timeout.as_millis())
    } else {
        format!("handler unreachable: {}", error_chain(e))
    }
}

async fn run(argv: &[String], call: &Call<'_>) -> Result<Vec<u8>, String> {
    let (program, args) = argv.split_first().ok_or("empty handler command")?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env("LULL_APP", call.app)
        .env("LULL_ATTEMPT", call.attempt.to_string())
        .env("LULL_ENDPOINT", call.endpoint)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A command still running at the timeout is killed when its handle is dropped.
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run handler command {program:?}: {e}"))?;
    let stdin = child.stdin.take();
    let body = call.body.as_bytes().to_vec();
    let feed = async move {
        if let Some(mut stdin) = stdin {
            // A command that exits without reading its input is not an error of ours.
            let _ = stdin.write_all(&body).await;
            let _ = stdin.shutdown().await;
        }
    };
    let work = async {
        let (_, output) = tokio::join!(feed, child.wait_with_output());
        output
    };
    let output = tokio::time::timeout(call.timeout, work)
        .await
        .map_err(|_| {
            format!(
                "handler command did not finish within {} ms (killed)",
                call.timeout.as_millis()
            )
        })?
        .map_err(|e| format!("handler command failed: {e}"))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(format!(
            "handler command exited with {}: {}",
            output.status,
            excerpt(&output.stderr)
        ))
    }
}

fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    let mut out: String = text.chars().take(EXCERPT).collect();
    if text.chars().count() > EXCERPT {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(body: &str, timeout_ms: u64) -> Call<'_> {
        Call {
            app: "bot",
            body,
            attempt: 2,
            timeout: Duration::from_millis(timeout_ms),
            endpoint: "http://127.0.0.1:4566",
        }
    }

    fn sh(script: &str) -> Handler {
        Handler::Command(vec!["sh".into(), "-c".into(), script.into()])
    }

    #[tokio::test]
    async fn a_command_gets_the_json_on_stdin_and_answers_on_stdout() {
        let http = reqwest::Client::new();
        let out = invoke(
            &http,
            &sh("printf '%s|%s|' \"$LULL_APP\" \"$LULL_ATTEMPT\"; cat"),
            &call("{\"text\":\"oi\"}", 5_000),
        )
        .await
        .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "bot|2|{\"text\":\"oi\"}");
    }

    #[tokio::test]
    async fn a_failing_command_reports_its_status_and_stderr() {
        let http = reqwest::Client::new();
        let err = invoke(&http, &sh("echo broken >&2; exit 3"), &call("{}", 5_000))
            .await
            .unwrap_err();
        assert!(
            err.contains("exit status: 3") && err.contains("broken"),
            "{err}"
        );
        let err = invoke(
            &http,
            &Handler::Command(vec!["/nonexistent/lull-handler".into()]),
            &call("{}", 5_000),
        )
        .await
        .unwrap_err();
        assert!(err.contains("cannot run handler command"), "{err}");
    }

    #[tokio::test]
    async fn a_slow_command_is_killed_at_the_timeout() {
        let http = reqwest::Client::new();
        let started = std::time::Instant::now();
        let err = invoke(&http, &sh("sleep 5"), &call("{}", 200))
            .await
            .unwrap_err();
        assert!(err.contains("did not finish within 200 ms"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}
