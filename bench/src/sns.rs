//! SNS query protocol (`POST /`, form-encoded, XML answers): just the actions the fan-out
//! benchmark needs. Like the SQS client, requests carry a SigV4-shaped `Authorization` header
//! whose scope names `us-east-1/sns` (moto reads the region from it, lull routes on it) and a
//! placeholder signature.

use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode};
use http_body_util::Full;

use crate::error::{BenchError, Result};
use crate::http::{Endpoint, HttpConn};
use crate::sqs::utc_now;

pub struct SnsClient {
    endpoint: Endpoint,
    path: String,
    authorization: HeaderValue,
    amz_date: HeaderValue,
}

impl SnsClient {
    pub fn new(endpoint: Endpoint) -> Result<Self> {
        let (date, time) = utc_now();
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=AKIALULLBENCH0000000/{date}/us-east-1/sns/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, Signature={}",
            "0".repeat(64)
        );
        let header = |v: String| {
            HeaderValue::from_str(&v).map_err(|e| BenchError::Usage(format!("header value: {e}")))
        };
        Ok(Self {
            path: endpoint.path("/"),
            endpoint,
            authorization: header(authorization)?,
            amz_date: header(format!("{date}T{time}Z"))?,
        })
    }

    /// One action; `params` are the form fields after `Action` and `Version`.
    pub async fn call(
        &self,
        conn: &mut HttpConn,
        action: &'static str,
        params: &[(&str, &str)],
    ) -> Result<String> {
        let mut form = format!("Action={action}&Version=2010-03-31");
        for (k, v) in params {
            form.push('&');
            form.push_str(&encode(k));
            form.push('=');
            form.push_str(&encode(v));
        }
        let req = Request::post(self.path.as_str())
            .header(http::header::HOST, self.endpoint.authority.as_str())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .header("x-amz-date", self.amz_date.clone())
            .header(http::header::AUTHORIZATION, self.authorization.clone())
            .body(Full::new(Bytes::from(form)))?;
        let (status, answer) = conn.send(req).await?;
        let text = String::from_utf8_lossy(&answer).into_owned();
        if status != StatusCode::OK {
            return Err(BenchError::Status {
                action,
                status: status.as_u16(),
                body: text.chars().take(300).collect(),
            });
        }
        Ok(text)
    }

    pub async fn create_topic(&self, conn: &mut HttpConn, name: &str) -> Result<String> {
        let answer = self.call(conn, "CreateTopic", &[("Name", name)]).await?;
        xml_field(&answer, "TopicArn").ok_or_else(|| missing("CreateTopic", "TopicArn", &answer))
    }

    /// Subscribes an SQS queue; `raw` asks for the bare message instead of the JSON envelope.
    pub async fn subscribe_queue(
        &self,
        conn: &mut HttpConn,
        topic_arn: &str,
        queue_arn: &str,
        raw: bool,
    ) -> Result<String> {
        let mut params = vec![
            ("TopicArn", topic_arn),
            ("Protocol", "sqs"),
            ("Endpoint", queue_arn),
        ];
        if raw {
            params.push(("Attributes.entry.1.key", "RawMessageDelivery"));
            params.push(("Attributes.entry.1.value", "true"));
        }
        let answer = self.call(conn, "Subscribe", &params).await?;
        xml_field(&answer, "SubscriptionArn")
            .ok_or_else(|| missing("Subscribe", "SubscriptionArn", &answer))
    }

    pub async fn publish(&self, conn: &mut HttpConn, topic_arn: &str, message: &str) -> Result<()> {
        self.call(
            conn,
            "Publish",
            &[("TopicArn", topic_arn), ("Message", message)],
        )
        .await
        .map(|_| ())
    }

    pub async fn delete_topic(&self, conn: &mut HttpConn, topic_arn: &str) -> Result<()> {
        self.call(conn, "DeleteTopic", &[("TopicArn", topic_arn)])
            .await
            .map(|_| ())
    }
}

fn missing(action: &'static str, field: &str, answer: &str) -> BenchError {
    BenchError::Status {
        action,
        status: 200,
        body: format!(
            "no <{field}> in answer: {}",
            answer.chars().take(200).collect::<String>()
        ),
    }
}

/// The text of the first `<name>…</name>` element (ARNs need no entity decoding).
pub fn xml_field(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    Some(xml[start..start + len].trim().to_string())
}

/// `application/x-www-form-urlencoded` for one key or value: unreserved bytes as they are,
/// everything else percent-encoded.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_field_finds_the_first_element() {
        let xml = "<CreateTopicResponse><CreateTopicResult><TopicArn>arn:aws:sns:us-east-1:1:t</TopicArn></CreateTopicResult></CreateTopicResponse>";
        assert_eq!(
            xml_field(xml, "TopicArn").as_deref(),
            Some("arn:aws:sns:us-east-1:1:t")
        );
        assert_eq!(xml_field(xml, "SubscriptionArn"), None);
    }

    #[test]
    fn form_encoding_escapes_reserved_bytes() {
        assert_eq!(encode("a b&c=d:é"), "a%20b%26c%3Dd%3A%C3%A9");
        assert_eq!(encode("Az09-_.~"), "Az09-_.~");
    }
}
