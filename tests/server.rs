//! The server started in-process through `serve(listener, app, shutdown)`, the same entry the
//! binary uses, over a real socket on an ephemeral port.

use std::time::{Duration, Instant};

use lull::server::{serve, App, Settings};
use serde_json::{json, Value};

struct Running {
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn start() -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = App::open(Settings {
        region: "us-east-1".into(),
        account: "123456789012".into(),
        data_dir: dir.path().to_path_buf(),
        credentials: vec![],
        store_url: None,
        config: Default::default(),
    })
    .await
    .expect("open app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(serve(listener, app, async {
        let _ = stopped.await;
    }));
    Running {
        base,
        stop,
        done,
        _dir: dir,
    }
}

async fn sqs(base: &str, action: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(base)
        .header("x-amz-target", format!("AmazonSQS.{action}"))
        .header("content-type", "application/x-amz-json-1.0")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn healthz_and_a_json_round_trip() {
    let s = start().await;
    let ok = reqwest::get(format!("{}/healthz", s.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(ok, "ok");
    let (status, out) = sqs(&s.base, "CreateQueue", json!({"QueueName": "inproc"})).await;
    assert_eq!(status, 200);
    let url = out["QueueUrl"].as_str().unwrap().to_string();
    assert!(url.ends_with("/123456789012/inproc"), "{url}");
    let (_, sent) = sqs(
        &s.base,
        "SendMessage",
        json!({"QueueUrl": url, "MessageBody": "hi"}),
    )
    .await;
    assert_eq!(sent["MD5OfMessageBody"], "49f68a5c8493ec2c0bf489821c21fc3b");
    let (_, got) = sqs(&s.base, "ReceiveMessage", json!({"QueueUrl": url})).await;
    assert_eq!(got["Messages"][0]["Body"], "hi");
    let metrics = reqwest::get(format!("{}/metrics", s.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "lull_queue_messages{region=\"us-east-1\",queue=\"inproc\",state=\"in_flight\"} 1"
        ),
        "{metrics}"
    );
    let (status, err) = sqs(&s.base, "GetQueueUrl", json!({"QueueName": "missing"})).await;
    assert_eq!(status, 400);
    assert_eq!(err["__type"], "com.amazonaws.sqs#QueueDoesNotExist");
    let _ = s.stop.send(());
}

#[tokio::test]
async fn shutdown_ends_long_polls_at_once() {
    let s = start().await;
    let (_, out) = sqs(&s.base, "CreateQueue", json!({"QueueName": "idle"})).await;
    let url = out["QueueUrl"].as_str().unwrap().to_string();
    let base = s.base.clone();
    let poll = tokio::spawn(async move {
        sqs(
            &base,
            "ReceiveMessage",
            json!({"QueueUrl": url, "WaitTimeSeconds": 20}),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = Instant::now();
    let _ = s.stop.send(());
    let (status, got) = poll.await.unwrap();
    assert_eq!(status, 200);
    assert!(got.get("Messages").is_none());
    s.done.await.unwrap().unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        asked.elapsed()
    );
}
