//! The JSON document SNS delivers to a subscriber without raw delivery: the message and what
//! it was published with, wrapped in a `Notification`.

use serde::Serialize;
use std::collections::BTreeMap;

use crate::clock::Millis;
use crate::engine::message::{AttributeValue, Attributes};

#[derive(Debug, Serialize)]
struct EnvelopeAttribute {
    #[serde(rename = "Type")]
    data_type: String,
    #[serde(rename = "Value")]
    value: String,
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
    signature: &'static str,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: String,
    #[serde(rename = "UnsubscribeURL")]
    unsubscribe_url: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    message_attributes: BTreeMap<&'a str, EnvelopeAttribute>,
}

/// What goes into one notification.
pub struct EnvelopeParts<'a> {
    pub message_id: &'a str,
    pub sequence_number: Option<&'a str>,
    pub topic_arn: &'a str,
    pub subject: Option<&'a str>,
    pub message: &'a str,
    pub published_ms: Millis,
    pub subscription_arn: &'a str,
    /// Where the server is reached (`http://HOST`), for the unsubscribe and certificate links.
    pub endpoint: &'a str,
    pub attributes: &'a Attributes,
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

/// The notification JSON. Signing comes with HTTP delivery: until then `Signature` is empty.
pub fn notification(p: &EnvelopeParts<'_>) -> String {
    let endpoint = p.endpoint.trim_end_matches('/');
    let unsubscribe_url = format!(
        "{endpoint}/?Action=Unsubscribe&SubscriptionArn={}",
        form_urlencoded::byte_serialize(p.subscription_arn.as_bytes()).collect::<String>()
    );
    let doc = Notification {
        kind: "Notification",
        message_id: p.message_id,
        sequence_number: p.sequence_number,
        topic_arn: p.topic_arn,
        subject: p.subject,
        message: p.message,
        timestamp: iso8601_ms(p.published_ms),
        signature_version: "1",
        signature: "",
        signing_cert_url: format!("{endpoint}/lull-sns-signing-cert.pem"),
        unsubscribe_url,
        message_attributes: p
            .attributes
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
            .collect(),
    };
    // Serialising plain strings and maps of strings cannot fail.
    serde_json::to_string(&doc).unwrap_or_default()
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

    #[test]
    fn timestamps_are_iso_8601_with_milliseconds() {
        assert_eq!(iso8601_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso8601_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn notification_has_the_sns_fields() {
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
        let doc = notification(&EnvelopeParts {
            message_id: "m-1",
            sequence_number: None,
            topic_arn: "arn:aws:sns:us-east-1:123456789012:t",
            subject: Some("hi"),
            message: "hello",
            published_ms: 0,
            subscription_arn: "arn:aws:sns:us-east-1:123456789012:t:abc",
            endpoint: "http://localhost:4566/",
            attributes: &attrs,
        });
        let v: serde_json::Value = serde_json::from_str(&doc).expect("json");
        assert_eq!(v["Type"], "Notification");
        assert_eq!(v["MessageId"], "m-1");
        assert_eq!(v["Subject"], "hi");
        assert_eq!(v["Message"], "hello");
        assert_eq!(v["Timestamp"], "1970-01-01T00:00:00.000Z");
        assert_eq!(v["SignatureVersion"], "1");
        assert!(v.get("SequenceNumber").is_none());
        assert_eq!(
            v["UnsubscribeURL"],
            "http://localhost:4566/?Action=Unsubscribe&SubscriptionArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3At%3Aabc"
        );
        assert_eq!(v["MessageAttributes"]["color"]["Type"], "String");
        assert_eq!(v["MessageAttributes"]["color"]["Value"], "red");
        assert_eq!(v["MessageAttributes"]["blob"]["Value"], "AQID");
    }
}
