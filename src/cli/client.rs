//! A small SQS client for the people's tools (`lull queues`, `send`, `receive`, ...).
//!
//! It speaks the SQS JSON 1.0 protocol: every action is one `POST /` with
//! `X-Amz-Target: AmazonSQS.<Action>` and a JSON body; a failure answers with
//! `{"__type": "<namespace>#<Code>", "message": "..."}`. Requests are unsigned, which a
//! lull server without configured credentials accepts. It talks to any SQS endpoint that
//! speaks JSON 1.0, so the tools work against other compatible servers too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// What can go wrong talking to the server; each Display is one line meant for a person.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server understood the request and refused it with an SQS error code.
    #[error("{code}: {message}")]
    Service { code: String, message: String },
    /// No HTTP answer at all (refused connection, reset, timeout).
    #[error("cannot reach {endpoint}: {reason}")]
    Transport { endpoint: String, reason: String },
    /// An answer that is not the SQS JSON protocol.
    #[error("unexpected answer from {endpoint} to {action} (HTTP {status}): {detail}")]
    Protocol {
        endpoint: String,
        action: String,
        status: u16,
        detail: String,
    },
    /// The endpoint is not something we can send a request to.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    Endpoint { endpoint: String, reason: String },
}

impl ClientError {
    /// The SQS error code, when the server answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Service { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// One queue's message counts, as `GetQueueAttributes` reports them (approximate by nature).
#[derive(Debug, Clone, Default, Serialize)]
pub struct QueueCounts {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

/// A message to send; optional fields are left out of the request when unset.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessage {
    pub queue_url: String,
    pub message_body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_deduplication_id: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub message_attributes: BTreeMap<String, MessageAttribute>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageAttribute {
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_value: Option<String>,
}

impl MessageAttribute {
    pub fn string(value: impl Into<String>) -> Self {
        MessageAttribute {
            data_type: "String".to_string(),
            string_value: Some(value.into()),
            binary_value: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SentMessage {
    pub message_id: String,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiveMessage {
    pub queue_url: String,
    pub max_number_of_messages: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_time_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visibility_timeout: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Message {
    pub message_id: String,
    pub receipt_handle: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub message_attributes: BTreeMap<String, MessageAttribute>,
}

impl Message {
    pub fn receive_count(&self) -> Option<u64> {
        self.attributes
            .get("ApproximateReceiveCount")
            .and_then(|n| n.parse().ok())
    }
}

/// One entry of `ListMessageMoveTasks`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MoveTask {
    #[serde(default)]
    pub task_handle: Option<String>,
    pub status: String,
    #[serde(default)]
    pub destination_arn: Option<String>,
    #[serde(default)]
    pub approximate_number_of_messages_moved: u64,
    #[serde(default)]
    pub failure_reason: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SqsClient {
    http: reqwest::Client,
    endpoint: String,
}

impl SqsClient {
    pub fn new(endpoint: &str) -> Result<Self, ClientError> {
        let endpoint = endpoint.trim_end_matches('/').to_string();
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(ClientError::Endpoint {
                endpoint,
                reason: "expected a URL such as http://127.0.0.1:4566".to_string(),
            });
        }
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| ClientError::Endpoint {
                endpoint: endpoint.clone(),
                reason: root_cause(&e),
            })?;
        Ok(SqsClient { http, endpoint })
    }

    /// Performs one action and returns the decoded JSON answer (an empty object when the
    /// action has no output).
    pub async fn call(&self, action: &str, input: &impl Serialize) -> Result<Value, ClientError> {
        let body =
            serde_json::to_vec(input).map_err(|e| self.protocol(action, 0, e.to_string()))?;
        let response = self
            .http
            .post(format!("{}/", self.endpoint))
            .header("X-Amz-Target", format!("AmazonSQS.{action}"))
            .header("Content-Type", CONTENT_TYPE)
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport(&e))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| self.transport(&e))?;

        if (200..300).contains(&status) {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(Value::Object(Default::default()));
            }
            return serde_json::from_slice(&bytes)
                .map_err(|e| self.protocol(action, status, format!("not JSON ({e})")));
        }
        Err(self.error_from(action, status, &bytes))
    }

    async fn call_as<T: serde::de::DeserializeOwned>(
        &self,
        action: &str,
        input: &impl Serialize,
    ) -> Result<T, ClientError> {
        let value = self.call(action, input).await?;
        serde_json::from_value(value).map_err(|e| self.protocol(action, 200, e.to_string()))
    }

    /// All queue URLs whose names start with `prefix`, following `NextToken` pages.
    pub async fn list_queues(&self, prefix: Option<&str>) -> Result<Vec<String>, ClientError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Page {
            #[serde(default)]
            queue_urls: Vec<String>,
            #[serde(default)]
            next_token: Option<String>,
        }
        let mut urls = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut input = serde_json::json!({ "MaxResults": 1000 });
            if let Some(prefix) = prefix {
                input["QueueNamePrefix"] = Value::from(prefix);
            }
            if let Some(token) = &token {
                input["NextToken"] = Value::from(token.as_str());
            }
            let page: Page = self.call_as("ListQueues", &input).await?;
            urls.extend(page.queue_urls);
            match page.next_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(urls),
            }
        }
    }

    pub async fn get_queue_url(&self, name: &str) -> Result<String, ClientError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Output {
            queue_url: String,
        }
        let out: Output = self
            .call_as("GetQueueUrl", &serde_json::json!({ "QueueName": name }))
            .await?;
        Ok(out.queue_url)
    }

    pub async fn queue_attributes(
        &self,
        queue_url: &str,
        names: &[&str],
    ) -> Result<BTreeMap<String, String>, ClientError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Output {
            #[serde(default)]
            attributes: BTreeMap<String, String>,
        }
        let out: Output = self
            .call_as(
                "GetQueueAttributes",
                &serde_json::json!({ "QueueUrl": queue_url, "AttributeNames": names }),
            )
            .await?;
        Ok(out.attributes)
    }

    pub async fn queue_counts(&self, queue_url: &str) -> Result<QueueCounts, ClientError> {
        let attrs = self
            .queue_attributes(
                queue_url,
                &[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )
            .await?;
        let count = |name: &str| attrs.get(name).and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(QueueCounts {
            visible: count("ApproximateNumberOfMessages"),
            in_flight: count("ApproximateNumberOfMessagesNotVisible"),
            delayed: count("ApproximateNumberOfMessagesDelayed"),
        })
    }

    pub async fn queue_arn(&self, queue_url: &str) -> Result<String, ClientError> {
        let attrs = self.queue_attributes(queue_url, &["QueueArn"]).await?;
        attrs
            .get("QueueArn")
            .cloned()
            .ok_or_else(|| self.protocol("GetQueueAttributes", 200, "no QueueArn".to_string()))
    }

    pub async fn send_message(&self, input: &SendMessage) -> Result<SentMessage, ClientError> {
        self.call_as("SendMessage", input).await
    }

    pub async fn receive_message(
        &self,
        input: &ReceiveMessage,
    ) -> Result<Vec<Message>, ClientError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Output {
            #[serde(default)]
            messages: Vec<Message>,
        }
        // Both spellings of the attribute list: newer servers read
        // MessageSystemAttributeNames, older ones only AttributeNames.
        let mut body = serde_json::to_value(input)
            .map_err(|e| self.protocol("ReceiveMessage", 0, e.to_string()))?;
        body["MessageSystemAttributeNames"] = serde_json::json!(["All"]);
        body["AttributeNames"] = serde_json::json!(["All"]);
        body["MessageAttributeNames"] = serde_json::json!(["All"]);
        let out: Output = self.call_as("ReceiveMessage", &body).await?;
        Ok(out.messages)
    }

    /// Deletes by receipt handle in batches of ten; returns the failures as
    /// `(receipt handle, "Code: message")`.
    pub async fn delete_messages(
        &self,
        queue_url: &str,
        receipt_handles: &[String],
    ) -> Result<Vec<(String, String)>, ClientError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Failed {
            id: String,
            #[serde(default)]
            code: String,
            #[serde(default)]
            message: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Output {
            #[serde(default)]
            failed: Vec<Failed>,
        }
        let mut failures = Vec::new();
        for chunk in receipt_handles.chunks(10) {
            let entries: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, handle)| serde_json::json!({ "Id": i.to_string(), "ReceiptHandle": handle }))
                .collect();
            let out: Output = self
                .call_as(
                    "DeleteMessageBatch",
                    &serde_json::json!({ "QueueUrl": queue_url, "Entries": entries }),
                )
                .await?;
            for failed in out.failed {
                let handle = failed
                    .id
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| chunk.get(i))
                    .cloned()
                    .unwrap_or(failed.id);
                let reason = match failed.message {
                    Some(message) => format!("{}: {message}", failed.code),
                    None => failed.code,
                };
                failures.push((handle, reason));
            }
        }
        Ok(failures)
    }

    pub async fn purge_queue(&self, queue_url: &str) -> Result<(), ClientError> {
        self.call("PurgeQueue", &serde_json::json!({ "QueueUrl": queue_url }))
            .await
            .map(drop)
    }

    /// Starts moving messages out of `source_arn` (a dead-letter queue); without a
    /// destination they go back to the queues they were dead-lettered from.
    pub async fn start_message_move_task(
        &self,
        source_arn: &str,
        destination_arn: Option<&str>,
    ) -> Result<String, ClientError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Output {
            task_handle: String,
        }
        let mut input = serde_json::json!({ "SourceArn": source_arn });
        if let Some(destination) = destination_arn {
            input["DestinationArn"] = Value::from(destination);
        }
        let out: Output = self.call_as("StartMessageMoveTask", &input).await?;
        Ok(out.task_handle)
    }

    pub async fn list_message_move_tasks(
        &self,
        source_arn: &str,
    ) -> Result<Vec<MoveTask>, ClientError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Output {
            #[serde(default)]
            results: Vec<MoveTask>,
        }
        let out: Output = self
            .call_as(
                "ListMessageMoveTasks",
                &serde_json::json!({ "SourceArn": source_arn, "MaxResults": 10 }),
            )
            .await?;
        Ok(out.results)
    }

    /// Turns a non-2xx answer into the SQS error it carries, or a protocol error when
    /// the body is not an SQS error document.
    fn error_from(&self, action: &str, status: u16, bytes: &[u8]) -> ClientError {
        // Read loosely: servers spell the message field "message" or "Message" (or both).
        let parsed: Option<Value> = serde_json::from_slice(bytes).ok();
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(name))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        if let Some(kind) = field("__type") {
            // "com.amazonaws.sqs#QueueDoesNotExist" → "QueueDoesNotExist".
            let code = kind.rsplit('#').next().unwrap_or(&kind).to_string();
            let message = field("message")
                .or_else(|| field("Message"))
                .map(|m| one_line(&m))
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| format!("HTTP {status}"));
            return ClientError::Service { code, message };
        }
        let text = String::from_utf8_lossy(bytes);
        let detail = one_line(&text);
        let detail = if detail.is_empty() {
            "empty body".to_string()
        } else {
            truncate(&detail, 200)
        };
        self.protocol(action, status, detail)
    }

    fn transport(&self, error: &reqwest::Error) -> ClientError {
        ClientError::Transport {
            endpoint: self.endpoint.clone(),
            reason: root_cause(error),
        }
    }

    fn protocol(&self, action: &str, status: u16, detail: String) -> ClientError {
        ClientError::Protocol {
            endpoint: self.endpoint.clone(),
            action: action.to_string(),
            status,
            detail,
        }
    }
}

/// reqwest's own Display is "error sending request for url (...)"; the innermost cause
/// ("Connection refused") is what a person needs.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    one_line(&cause.to_string())
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> SqsClient {
        SqsClient::new("http://127.0.0.1:1").unwrap()
    }

    #[test]
    fn error_body_becomes_code_and_message() {
        let body = br#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#;
        let err = client().error_from("GetQueueUrl", 400, body);
        assert_eq!(err.code(), Some("QueueDoesNotExist"));
        assert_eq!(
            err.to_string(),
            "QueueDoesNotExist: The specified queue does not exist."
        );
    }

    #[test]
    fn error_type_without_namespace_and_capitalised_message() {
        let body = br#"{"__type":"InvalidParameterValue","Message":"bad\nvalue"}"#;
        let err = client().error_from("SendMessage", 400, body);
        assert_eq!(err.to_string(), "InvalidParameterValue: bad value");
        let body =
            br#"{"__type":"a#InvalidParameterValue","message":"bad value","Message":"bad value"}"#;
        let err = client().error_from("SendMessage", 400, body);
        assert_eq!(err.to_string(), "InvalidParameterValue: bad value");
    }

    #[test]
    fn non_json_error_is_a_protocol_error_on_one_line() {
        let err = client().error_from("ListQueues", 502, b"<html>\nBad gateway\n</html>");
        assert_eq!(err.code(), None);
        let text = err.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.contains("HTTP 502"), "{text}");
    }

    #[test]
    fn endpoint_must_be_a_url() {
        assert!(SqsClient::new("127.0.0.1:4566").is_err());
        assert!(SqsClient::new("http://127.0.0.1:4566/").is_ok());
    }

    #[test]
    fn send_request_leaves_out_unset_fields() {
        let mut input = SendMessage {
            queue_url: "http://h/1/q".to_string(),
            message_body: "hi".to_string(),
            ..Default::default()
        };
        let json = serde_json::to_value(&input).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "QueueUrl": "http://h/1/q", "MessageBody": "hi" })
        );
        input
            .message_attributes
            .insert("k".to_string(), MessageAttribute::string("v"));
        let json = serde_json::to_value(&input).unwrap();
        assert_eq!(
            json["MessageAttributes"],
            serde_json::json!({ "k": { "DataType": "String", "StringValue": "v" } })
        );
    }
}
