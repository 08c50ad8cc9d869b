//! Webhook ingest: `POST /webhooks/{app}` with Z-API or generic JSON payloads, each with a
//! message id no other request uses, spread over many conversations. A fragment counts once
//! the server answers 2xx, which lull gives only after the fragment is durable.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;

use crate::error::{BenchError, Result};
use crate::http::{Endpoint, HttpConn};
use crate::workload::{Budget, Plan, RunResult, Scenario, Stats};

/// The payload shape posted to the webhook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// Z-API `ReceivedCallback` (the shape of tests/fixtures/webhooks/zapi/text.json).
    Zapi,
    /// A generic JSON source (tests/fixtures/webhooks/generic/message.json); the app maps it
    /// with `conversation = "/data/from/id"`, `message_id = "/data/id"`, `text = "/data/body"`.
    Generic,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Platform::Zapi => "zapi",
            Platform::Generic => "generic",
        })
    }
}

impl FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "zapi" => Ok(Platform::Zapi),
            "generic" => Ok(Platform::Generic),
            other => Err(format!("unknown platform `{other}` (zapi, generic)")),
        }
    }
}

/// What people type in bursts; the texts vary so bodies are not all alike.
const TEXTS: [&str; 6] = [
    "oi",
    "tudo bem?",
    "quanto custa o plano anual?",
    "e tem desconto pra pagar no pix?",
    "queria saber se vocês entregam em Niterói",
    "obrigada!",
];

/// Builds webhook bodies. Message ids are `{tag}-{seq}`, unique per run and request.
#[derive(Clone, Debug)]
pub struct Payload {
    pub platform: Platform,
    tag: String,
}

impl Payload {
    pub fn new(platform: Platform) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Self {
            platform,
            tag: format!("B{}X{}", std::process::id(), nanos % 1_000_000_000_000),
        }
    }

    /// Whether a message id was made by this payload builder (this run).
    pub fn owns(&self, id: &str) -> bool {
        id.strip_prefix(self.tag.as_str())
            .is_some_and(|rest| rest.starts_with('-'))
    }

    /// The conversation key lull derives from fragment `conv`'s payload (Z-API: the phone).
    pub fn conversation(&self, conv: u64) -> String {
        match self.platform {
            Platform::Zapi => format!("55{}", 11_900_000_000u64 + conv),
            Platform::Generic => format!("visitor-{conv}"),
        }
    }

    /// The index `conversation` was made from, if it is one of ours.
    pub fn conversation_index(&self, conversation: &str) -> Option<u64> {
        match self.platform {
            Platform::Zapi => conversation
                .strip_prefix("55")?
                .parse::<u64>()
                .ok()?
                .checked_sub(11_900_000_000),
            Platform::Generic => conversation.strip_prefix("visitor-")?.parse().ok(),
        }
    }

    /// The body of message `seq` in conversation `conv`, stamped `now_ms` by the "platform".
    pub fn body(&self, conv: u64, seq: u64) -> Bytes {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let text = TEXTS[(seq % TEXTS.len() as u64) as usize];
        let id = format!("{}-{seq}", self.tag);
        let who = self.conversation(conv);
        let body = match self.platform {
            Platform::Zapi => format!(
                r#"{{"isStatusReply":false,"senderLid":"{conv}@lid","connectedPhone":"5511930001000","waitingMessage":false,"isEdit":false,"isGroup":false,"isNewsletter":false,"instanceId":"3C91F0A7B2D84E6C9A15E0D2B7F4A831","messageId":"{id}","phone":"{who}","fromMe":false,"momment":{now_ms},"status":"RECEIVED","chatName":"Marina Costa","senderPhoto":"https://cdn.example.net/photos/marina.jpg","senderName":"Marina Costa","participantPhone":null,"participantLid":null,"photo":"https://cdn.example.net/photos/marina.jpg","broadcast":false,"type":"ReceivedCallback","text":{{"message":"{text}"}}}}"#
            ),
            Platform::Generic => format!(
                r#"{{"event":"message","channel":"site-chat","data":{{"id":"{id}","from":{{"id":"{who}","name":"Ana Beatriz"}},"body":"{text}","sent_at":{}}}}}"#,
                now_ms / 1000
            ),
        };
        Bytes::from(body)
    }

    pub fn request(
        &self,
        endpoint: &Endpoint,
        path: &str,
        conv: u64,
        seq: u64,
    ) -> Result<Request<Full<Bytes>>> {
        Ok(Request::post(path)
            .header(http::header::HOST, endpoint.authority.as_str())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(self.body(conv, seq)))?)
    }
}

/// Posts one fragment; Ok when the server answered 2xx.
pub async fn post(conn: &mut HttpConn, req: Request<Full<Bytes>>) -> Result<()> {
    let (status, body) = conn.send(req).await?;
    if status.is_success() {
        Ok(())
    } else {
        Err(BenchError::Status {
            action: "POST /webhooks",
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body).chars().take(300).collect(),
        })
    }
}

/// How the ingest run spreads its fragments.
#[derive(Clone, Debug)]
pub struct Ingest {
    pub platform: Platform,
    /// Fragment `seq` goes to conversation `seq % conversations`.
    pub conversations: u64,
}

/// Ingest at one connection count: every connection posts fragments back to back until the
/// budget runs out. `plan.url` is the webhook URL (`http://HOST:PORT/webhooks/APP`).
pub async fn run(plan: &Plan, ingest: &Ingest, connections: u32) -> Result<RunResult> {
    let endpoint = Endpoint::parse(&plan.url)?;
    let path = endpoint.path("");
    let payload = Arc::new(Payload::new(ingest.platform));
    let mut conns = Vec::with_capacity(connections as usize);
    for _ in 0..connections {
        conns.push(HttpConn::connect(&endpoint).await?);
    }
    let start = Instant::now();
    let budget = Arc::new(plan.budget(start));
    let next = Arc::new(AtomicU64::new(0));
    let conversations = ingest.conversations.max(1);
    let mut tasks = Vec::with_capacity(conns.len());
    for conn in conns {
        let (endpoint, path, payload, budget, next) = (
            endpoint.clone(),
            path.clone(),
            Arc::clone(&payload),
            Arc::clone(&budget),
            Arc::clone(&next),
        );
        tasks.push(tokio::spawn(async move {
            post_loop(
                conn,
                &endpoint,
                &path,
                &payload,
                &budget,
                &next,
                conversations,
            )
            .await
        }));
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
        Scenario::Webhook,
        connections,
        1,
        start,
        &total,
    ))
}

async fn post_loop(
    mut conn: HttpConn,
    endpoint: &Endpoint,
    path: &str,
    payload: &Payload,
    budget: &Budget,
    next: &AtomicU64,
    conversations: u64,
) -> Stats {
    let mut stats = Stats::new();
    while budget.take(1) > 0 {
        let seq = next.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        stats.requests += 1;
        let outcome = match payload.request(endpoint, path, seq % conversations, seq) {
            Ok(req) => post(&mut conn, req).await,
            Err(err) => Err(err),
        };
        match outcome {
            Ok(()) => {
                stats.record(started);
                stats.messages += 1;
            }
            Err(err) => stats.error(err),
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_json_with_unique_ids_and_the_right_conversation() {
        for platform in [Platform::Zapi, Platform::Generic] {
            let p = Payload::new(platform);
            let a: serde_json::Value = serde_json::from_slice(&p.body(7, 1)).unwrap();
            let b: serde_json::Value = serde_json::from_slice(&p.body(7, 2)).unwrap();
            let (id, conv) = match platform {
                Platform::Zapi => ("/messageId", "/phone"),
                Platform::Generic => ("/data/id", "/data/from/id"),
            };
            assert_ne!(a.pointer(id), b.pointer(id));
            assert!(p.owns(a.pointer(id).and_then(|v| v.as_str()).unwrap()));
            assert!(!Payload::new(platform).owns("B1X2-3"));
            let who = a.pointer(conv).and_then(|v| v.as_str()).unwrap();
            assert_eq!(p.conversation_index(who), Some(7));
        }
    }

    #[test]
    fn zapi_body_keeps_the_fixture_shape() {
        let p = Payload::new(Platform::Zapi);
        let v: serde_json::Value = serde_json::from_slice(&p.body(0, 0)).unwrap();
        assert_eq!(v["type"], "ReceivedCallback");
        assert_eq!(v["text"]["message"], "oi");
        assert_eq!(v["phone"], "5511900000000");
    }
}
