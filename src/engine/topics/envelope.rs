//! The JSON documents SNS delivers: the `Notification` a subscriber without raw delivery gets,
//! the `SubscriptionConfirmation` an HTTP/S endpoint gets when subscribed, and the SNS event
//! record a Lambda function gets. Each is signed (see `signing`); the links in them point back
//! at this server.

use serde::Serialize;
use std::collections::BTreeMap;

use super::signing::{string_to_sign, SignatureVersion, SigningKey};
use crate::clock::Millis;
use crate::engine::message::{AttributeValue, Attributes};

/// Where the signing certificate is served.
pub const CERT_PATH: &str = "/sns/SimpleNotificationService.pem";
/// Where the confirmation and unsubscribe links lead (`?Action=…`, as SNS's do).
pub const LINK_PATH: &str = "/sns/";

fn encode(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

fn base(endpoint: &str) -> &str {
    endpoint.trim_end_matches('/')
}

pub fn signing_cert_url(endpoint: &str) -> String {
    format!("{}{CERT_PATH}", base(endpoint))
}

pub fn unsubscribe_url(endpoint: &str, subscription_arn: &str) -> String {
    format!(
        "{}{LINK_PATH}?Action=Unsubscribe&SubscriptionArn={}",
        base(endpoint),
        encode(subscription_arn)
    )
}

pub fn subscribe_url(endpoint: &str, topic_arn: &str, token: &str) -> String {
    format!(
        "{}{LINK_PATH}?Action=ConfirmSubscription&TopicArn={}&Token={}",
        base(endpoint),
        encode(topic_arn),
        encode(token)
    )
}

#[derive(Debug, Serialize)]
struct EnvelopeAttribute {
    #[serde(rename = "Type")]
    data_type: String,
    #[serde(rename = "Value")]
    value: String,
}

fn envelope_attributes(attributes: &Attributes) -> BTreeMap<&str, EnvelopeAttribute> {
    attributes
        .iter()
        .map(|(name, v)| {
            (
                name.as_str(),
                EnvelopeAttribute {
                    data_type: v.data_type.clone(),
                    value: attribute_text(v),
                },
            )
        })
        .collect()
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Notification<'a> {
    #[serde(rename = "Type")]
    kind: &'static str,
    message_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<&'a str>,
    topic_arn: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    message: &'a str,
    timestamp: String,
    signature_version: &'static str,
    signature: &'a str,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: String,
    #[serde(rename = "UnsubscribeURL")]
    unsubscribe_url: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    message_attributes: BTreeMap<&'a str, EnvelopeAttribute>,
}

/// One published message as every subscriber's document describes it.
pub struct Publication<'a> {
    pub message_id: &'a str,
    pub sequence_number: Option<&'a str>,
    pub topic_arn: &'a str,
    pub subject: Option<&'a str>,
    pub published_ms: Millis,
    pub attributes: &'a Attributes,
    /// Where the server is reached (`http://HOST`), for the unsubscribe and certificate links.
    pub endpoint: &'a str,
    pub signature_version: SignatureVersion,
}

/// A message (the text for the subscriber's protocol) with its signature.
pub struct Signed<'a> {
    pub message: &'a str,
    pub signature: &'a str,
}

impl Publication<'_> {
    /// SNS signs the message, its id, subject, time, topic and type.
    pub fn sign(&self, key: &SigningKey, message: &str) -> String {
        let timestamp = iso8601_ms(self.published_ms);
        let text = string_to_sign(&[
            ("Message", Some(message)),
            ("MessageId", Some(self.message_id)),
            ("Subject", self.subject),
            ("Timestamp", Some(&timestamp)),
            ("TopicArn", Some(self.topic_arn)),
            ("Type", Some("Notification")),
        ]);
        key.sign(self.signature_version, &text)
    }

    /// The `Notification` document for one subscription.
    pub fn notification(&self, m: &Signed<'_>, subscription_arn: &str) -> String {
        let doc = Notification {
            kind: "Notification",
            message_id: self.message_id,
            sequence_number: self.sequence_number,
            topic_arn: self.topic_arn,
            subject: self.subject,
            message: m.message,
            timestamp: iso8601_ms(self.published_ms),
            signature_version: self.signature_version.as_str(),
            signature: m.signature,
            signing_cert_url: signing_cert_url(self.endpoint),
            unsubscribe_url: unsubscribe_url(self.endpoint, subscription_arn),
            message_attributes: envelope_attributes(self.attributes),
        };
        // Serialising plain strings and maps of strings cannot fail.
        serde_json::to_string(&doc).unwrap_or_default()
    }

    /// The SNS event record a Lambda function gets (one of its event's `Records`).
    pub fn lambda_record(&self, m: &Signed<'_>, subscription_arn: &str) -> String {
        let attributes: serde_json::Map<String, serde_json::Value> = self
            .attributes
            .iter()
            .map(|(name, v)| {
                (
                    name.clone(),
                    serde_json::json!({"Type": v.data_type, "Value": attribute_text(v)}),
                )
            })
            .collect();
        serde_json::json!({
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": subscription_arn,
            "Sns": {
                "Type": "Notification",
                "MessageId": self.message_id,
                "TopicArn": self.topic_arn,
                "Subject": self.subject,
                "Message": m.message,
                "Timestamp": iso8601_ms(self.published_ms),
                "SignatureVersion": self.signature_version.as_str(),
                "Signature": m.signature,
                "SigningCertUrl": signing_cert_url(self.endpoint),
                "UnsubscribeUrl": unsubscribe_url(self.endpoint, subscription_arn),
                "MessageAttributes": attributes,
            }
        })
        .to_string()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Confirmation<'a> {
    #[serde(rename = "Type")]
    kind: &'static str,
    message_id: &'a str,
    token: &'a str,
    topic_arn: &'a str,
    message: &'a str,
    #[serde(rename = "SubscribeURL")]
    subscribe_url: &'a str,
    timestamp: &'a str,
    signature_version: &'static str,
    signature: &'a str,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: String,
}

/// What a `SubscriptionConfirmation` is made of.
pub struct ConfirmationParts<'a> {
    pub message_id: &'a str,
    pub topic_arn: &'a str,
    pub token: &'a str,
    pub sent_ms: Millis,
    pub endpoint: &'a str,
    pub signature_version: SignatureVersion,
}

/// The signed `SubscriptionConfirmation` document sent to a new HTTP/S subscriber.
pub fn subscription_confirmation(p: &ConfirmationParts<'_>, key: &SigningKey) -> String {
    let message = format!(
        "You have chosen to subscribe to the topic {}.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
        p.topic_arn
    );
    let subscribe_url = subscribe_url(p.endpoint, p.topic_arn, p.token);
    let timestamp = iso8601_ms(p.sent_ms);
    let kind = "SubscriptionConfirmation";
    let text = string_to_sign(&[
        ("Message", Some(&message)),
        ("MessageId", Some(p.message_id)),
        ("SubscribeURL", Some(&subscribe_url)),
        ("Timestamp", Some(&timestamp)),
        ("Token", Some(p.token)),
        ("TopicArn", Some(p.topic_arn)),
        ("Type", Some(kind)),
    ]);
    let signature = key.sign(p.signature_version, &text);
    let doc = Confirmation {
        kind,
        message_id: p.message_id,
        token: p.token,
        topic_arn: p.topic_arn,
        message: &message,
        subscribe_url: &subscribe_url,
        timestamp: &timestamp,
        signature_version: p.signature_version.as_str(),
        signature: &signature,
        signing_cert_url: signing_cert_url(p.endpoint),
    };
    serde_json::to_string(&doc).unwrap_or_default()
}

/// The value of an attribute as text: binary values are base64, as SNS writes them.
pub fn attribute_text(v: &AttributeValue) -> String {
    use base64::Engine as _;
    match (&v.string_value, &v.binary_value) {
        (Some(s), _) => s.clone(),
        (None, Some(b)) => base64::engine::general_purpose::STANDARD.encode(b),
        (None, None) => String::new(),
    }
}

/// `2026-11-23T10:59:33.123Z`.
pub fn iso8601_ms(ms: Millis) -> String {
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::topics::signing::test_key;

    #[test]
    fn timestamps_are_iso_8601_with_milliseconds() {
        assert_eq!(iso8601_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso8601_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    fn attributes() -> Attributes {
        let mut attrs = Attributes::new();
        attrs.insert(
            "color".into(),
            AttributeValue {
                data_type: "String".into(),
                string_value: Some("red".into()),
                binary_value: None,
            },
        );
        attrs.insert(
            "blob".into(),
            AttributeValue {
                data_type: "Binary".into(),
                string_value: None,
                binary_value: Some(vec![1, 2, 3]),
            },
        );
        attrs
    }

    const SUB: &str = "arn:aws:sns:us-east-1:123456789012:t:abc";

    fn publication(attrs: &Attributes, version: SignatureVersion) -> Publication<'_> {
        Publication {
            message_id: "m-1",
            sequence_number: None,
            topic_arn: "arn:aws:sns:us-east-1:123456789012:t",
            subject: Some("hi"),
            published_ms: 0,
            attributes: attrs,
            endpoint: "http://localhost:4566/",
            signature_version: version,
        }
    }

    #[test]
    fn notification_has_the_sns_fields_and_a_valid_signature() {
        let attrs = attributes();
        let p = publication(&attrs, SignatureVersion::V2);
        let key = test_key();
        let signature = p.sign(key, "hello");
        let doc = p.notification(
            &Signed {
                message: "hello",
                signature: &signature,
            },
            SUB,
        );
        let v: serde_json::Value = serde_json::from_str(&doc).expect("json");
        assert_eq!(v["Type"], "Notification");
        assert_eq!(v["MessageId"], "m-1");
        assert_eq!(v["Subject"], "hi");
        assert_eq!(v["Message"], "hello");
        assert_eq!(v["Timestamp"], "1970-01-01T00:00:00.000Z");
        assert_eq!(v["SignatureVersion"], "2");
        assert!(v.get("SequenceNumber").is_none());
        assert_eq!(
            v["UnsubscribeURL"],
            "http://localhost:4566/sns/?Action=Unsubscribe&SubscriptionArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3At%3Aabc"
        );
        assert_eq!(
            v["SigningCertURL"],
            "http://localhost:4566/sns/SimpleNotificationService.pem"
        );
        assert_eq!(v["MessageAttributes"]["color"]["Type"], "String");
        assert_eq!(v["MessageAttributes"]["color"]["Value"], "red");
        assert_eq!(v["MessageAttributes"]["blob"]["Value"], "AQID");
        let signed = "Message\nhello\nMessageId\nm-1\nSubject\nhi\nTimestamp\n1970-01-01T00:00:00.000Z\nTopicArn\narn:aws:sns:us-east-1:123456789012:t\nType\nNotification\n";
        assert!(key.verifies(
            SignatureVersion::V2,
            signed,
            v["Signature"].as_str().unwrap()
        ));
    }

    #[test]
    fn lambda_records_carry_the_sns_event_fields() {
        let attrs = attributes();
        let mut p = publication(&attrs, SignatureVersion::V1);
        p.subject = None;
        let record = p.lambda_record(
            &Signed {
                message: "hello",
                signature: "c2ln",
            },
            SUB,
        );
        let v: serde_json::Value = serde_json::from_str(&record).expect("json");
        assert_eq!(v["EventSource"], "aws:sns");
        assert_eq!(v["EventVersion"], "1.0");
        assert_eq!(v["EventSubscriptionArn"], SUB);
        assert_eq!(v["Sns"]["Type"], "Notification");
        assert_eq!(v["Sns"]["Message"], "hello");
        assert!(v["Sns"]["Subject"].is_null());
        assert_eq!(v["Sns"]["Signature"], "c2ln");
        assert_eq!(v["Sns"]["SignatureVersion"], "1");
        assert_eq!(v["Sns"]["MessageAttributes"]["blob"]["Type"], "Binary");
        assert!(v["Sns"]["SigningCertUrl"]
            .as_str()
            .unwrap()
            .ends_with(CERT_PATH));
    }

    #[test]
    fn confirmations_link_back_with_their_token_and_are_signed() {
        let key = test_key();
        let doc = subscription_confirmation(
            &ConfirmationParts {
                message_id: "c-1",
                topic_arn: "arn:aws:sns:us-east-1:123456789012:t",
                token: "tok",
                sent_ms: 1_700_000_000_123,
                endpoint: "http://h:1",
                signature_version: SignatureVersion::V1,
            },
            key,
        );
        let v: serde_json::Value = serde_json::from_str(&doc).expect("json");
        assert_eq!(v["Type"], "SubscriptionConfirmation");
        assert_eq!(v["Token"], "tok");
        let url = v["SubscribeURL"].as_str().unwrap();
        assert_eq!(
            url,
            "http://h:1/sns/?Action=ConfirmSubscription&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3At&Token=tok"
        );
        let text = string_to_sign(&[
            ("Message", v["Message"].as_str()),
            ("MessageId", Some("c-1")),
            ("SubscribeURL", Some(url)),
            ("Timestamp", Some("2023-11-14T22:13:20.123Z")),
            ("Token", Some("tok")),
            ("TopicArn", Some("arn:aws:sns:us-east-1:123456789012:t")),
            ("Type", Some("SubscriptionConfirmation")),
        ]);
        assert!(key.verifies(
            SignatureVersion::V1,
            &text,
            v["Signature"].as_str().unwrap()
        ));
        assert!(!key.verifies(
            SignatureVersion::V2,
            &text,
            v["Signature"].as_str().unwrap()
        ));
    }
}
