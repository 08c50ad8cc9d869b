//! How SNS's actions are spelled in the query protocol (API version 2010-03-31).
//!
//! Member names are the model's; maps are `Name.entry.N.key` / `Name.entry.N.value`, except
//! message attributes (`MessageAttributes.entry.N.Name` / `….Value.DataType`), and lists are
//! `Name.member.N` (`Tags.member.N.Key`, `PublishBatchRequestEntries.member.N.Id`).

use crate::wire::query::{Field, Operation, Shape};

static STRING: Shape = Shape::String;
static BOOLEAN: Shape = Shape::Boolean;
static BLOB: Shape = Shape::Blob;

/// Topic and subscription attributes: `Attributes.entry.N.key` / `.value`.
static ATTRIBUTE_MAP: Shape = Shape::map(&STRING, &STRING);

static TAG: Shape = Shape::Structure(&[Field::new("Key", &STRING), Field::new("Value", &STRING)]);
static TAG_LIST: Shape = Shape::list(&TAG, "member");
static TAG_KEY_LIST: Shape = Shape::list(&STRING, "member");

static MESSAGE_ATTRIBUTE_VALUE: Shape = Shape::Structure(&[
    Field::new("DataType", &STRING),
    Field::new("StringValue", &STRING),
    Field::new("BinaryValue", &BLOB),
]);
static MESSAGE_ATTRIBUTE_MAP: Shape = Shape::Map {
    key: &STRING,
    value: &MESSAGE_ATTRIBUTE_VALUE,
    flattened: false,
    entry_name: "entry",
    key_name: "Name",
    value_name: "Value",
};

static TOPIC_ARN_ONLY: Shape = Shape::Structure(&[Field::new("TopicArn", &STRING)]);
static SUBSCRIPTION_ARN_ONLY: Shape = Shape::Structure(&[Field::new("SubscriptionArn", &STRING)]);
static NEXT_TOKEN_ONLY: Shape = Shape::Structure(&[Field::new("NextToken", &STRING)]);
static ATTRIBUTES_ONLY: Shape = Shape::Structure(&[Field::new("Attributes", &ATTRIBUTE_MAP)]);

// --- Topics

static CREATE_TOPIC_INPUT: Shape = Shape::Structure(&[
    Field::new("Name", &STRING),
    Field::new("Attributes", &ATTRIBUTE_MAP),
    Field::new("Tags", &TAG_LIST),
    Field::new("DataProtectionPolicy", &STRING),
]);
static TOPIC: Shape = Shape::Structure(&[Field::new("TopicArn", &STRING)]);
static TOPICS_LIST: Shape = Shape::list(&TOPIC, "member");
static LIST_TOPICS_OUTPUT: Shape = Shape::Structure(&[
    Field::new("Topics", &TOPICS_LIST),
    Field::new("NextToken", &STRING),
]);
static SET_ATTRIBUTE_INPUT_TOPIC: Shape = Shape::Structure(&[
    Field::new("TopicArn", &STRING),
    Field::new("AttributeName", &STRING),
    Field::new("AttributeValue", &STRING),
]);

// --- Subscriptions

static SUBSCRIBE_INPUT: Shape = Shape::Structure(&[
    Field::new("TopicArn", &STRING),
    Field::new("Protocol", &STRING),
    Field::new("Endpoint", &STRING),
    Field::new("Attributes", &ATTRIBUTE_MAP),
    Field::new("ReturnSubscriptionArn", &BOOLEAN),
]);
static SUBSCRIPTION: Shape = Shape::Structure(&[
    Field::new("SubscriptionArn", &STRING),
    Field::new("Owner", &STRING),
    Field::new("Protocol", &STRING),
    Field::new("Endpoint", &STRING),
    Field::new("TopicArn", &STRING),
]);
static SUBSCRIPTIONS_LIST: Shape = Shape::list(&SUBSCRIPTION, "member");
static LIST_SUBSCRIPTIONS_OUTPUT: Shape = Shape::Structure(&[
    Field::new("Subscriptions", &SUBSCRIPTIONS_LIST),
    Field::new("NextToken", &STRING),
]);
static LIST_SUBSCRIPTIONS_BY_TOPIC_INPUT: Shape = Shape::Structure(&[
    Field::new("TopicArn", &STRING),
    Field::new("NextToken", &STRING),
]);
static SET_ATTRIBUTE_INPUT_SUBSCRIPTION: Shape = Shape::Structure(&[
    Field::new("SubscriptionArn", &STRING),
    Field::new("AttributeName", &STRING),
    Field::new("AttributeValue", &STRING),
]);
static CONFIRM_SUBSCRIPTION_INPUT: Shape = Shape::Structure(&[
    Field::new("TopicArn", &STRING),
    Field::new("Token", &STRING),
    Field::new("AuthenticateOnUnsubscribe", &STRING),
]);

// --- Publish

static PUBLISH_INPUT: Shape = Shape::Structure(&[
    Field::new("TopicArn", &STRING),
    Field::new("TargetArn", &STRING),
    Field::new("PhoneNumber", &STRING),
    Field::new("Message", &STRING),
    Field::new("Subject", &STRING),
    Field::new("MessageStructure", &STRING),
    Field::new("MessageAttributes", &MESSAGE_ATTRIBUTE_MAP),
    Field::new("MessageDeduplicationId", &STRING),
    Field::new("MessageGroupId", &STRING),
]);
static PUBLISH_OUTPUT: Shape = Shape::Structure(&[
    Field::new("MessageId", &STRING),
    Field::new("SequenceNumber", &STRING),
]);
static PUBLISH_BATCH_REQUEST_ENTRY: Shape = Shape::Structure(&[
    Field::new("Id", &STRING),
    Field::new("Message", &STRING),
    Field::new("Subject", &STRING),
    Field::new("MessageStructure", &STRING),
    Field::new("MessageAttributes", &MESSAGE_ATTRIBUTE_MAP),
    Field::new("MessageDeduplicationId", &STRING),
    Field::new("MessageGroupId", &STRING),
]);
static PUBLISH_BATCH_REQUEST_ENTRY_LIST: Shape =
    Shape::list(&PUBLISH_BATCH_REQUEST_ENTRY, "member");
static PUBLISH_BATCH_INPUT: Shape = Shape::Structure(&[
    Field::new("TopicArn", &STRING),
    Field::new(
        "PublishBatchRequestEntries",
        &PUBLISH_BATCH_REQUEST_ENTRY_LIST,
    ),
]);
static PUBLISH_BATCH_RESULT_ENTRY: Shape = Shape::Structure(&[
    Field::new("Id", &STRING),
    Field::new("MessageId", &STRING),
    Field::new("SequenceNumber", &STRING),
]);
static PUBLISH_BATCH_RESULT_ENTRY_LIST: Shape = Shape::list(&PUBLISH_BATCH_RESULT_ENTRY, "member");
static BATCH_RESULT_ERROR_ENTRY: Shape = Shape::Structure(&[
    Field::new("Id", &STRING),
    Field::new("Code", &STRING),
    Field::new("Message", &STRING),
    Field::new("SenderFault", &BOOLEAN),
]);
static BATCH_RESULT_ERROR_ENTRY_LIST: Shape = Shape::list(&BATCH_RESULT_ERROR_ENTRY, "member");
static PUBLISH_BATCH_OUTPUT: Shape = Shape::Structure(&[
    Field::new("Successful", &PUBLISH_BATCH_RESULT_ENTRY_LIST),
    Field::new("Failed", &BATCH_RESULT_ERROR_ENTRY_LIST),
]);

// --- Tags

static RESOURCE_ARN_ONLY: Shape = Shape::Structure(&[Field::new("ResourceArn", &STRING)]);
static TAG_RESOURCE_INPUT: Shape = Shape::Structure(&[
    Field::new("ResourceArn", &STRING),
    Field::new("Tags", &TAG_LIST),
]);
static UNTAG_RESOURCE_INPUT: Shape = Shape::Structure(&[
    Field::new("ResourceArn", &STRING),
    Field::new("TagKeys", &TAG_KEY_LIST),
]);
static TAGS_ONLY: Shape = Shape::Structure(&[Field::new("Tags", &TAG_LIST)]);
static EMPTY: Shape = Shape::Structure(&[]);

// --- Permissions and data protection

static STRING_LIST: Shape = Shape::list(&STRING, "member");
static ADD_PERMISSION_INPUT: Shape = Shape::Structure(&[
    Field::new("TopicArn", &STRING),
    Field::new("Label", &STRING),
    Field::new("AWSAccountId", &STRING_LIST),
    Field::new("ActionName", &STRING_LIST),
]);
static REMOVE_PERMISSION_INPUT: Shape = Shape::Structure(&[
    Field::new("TopicArn", &STRING),
    Field::new("Label", &STRING),
]);
static PUT_DATA_PROTECTION_POLICY_INPUT: Shape = Shape::Structure(&[
    Field::new("ResourceArn", &STRING),
    Field::new("DataProtectionPolicy", &STRING),
]);
static DATA_PROTECTION_POLICY_ONLY: Shape =
    Shape::Structure(&[Field::new("DataProtectionPolicy", &STRING)]);

const fn op(
    name: &'static str,
    input: &'static Shape,
    output: Option<&'static Shape>,
    result_wrapper: Option<&'static str>,
) -> Operation {
    Operation {
        name,
        input,
        output,
        result_wrapper,
    }
}

static OPERATIONS: &[Operation] = &[
    op(
        "CreateTopic",
        &CREATE_TOPIC_INPUT,
        Some(&TOPIC),
        Some("CreateTopicResult"),
    ),
    op("DeleteTopic", &TOPIC_ARN_ONLY, None, None),
    op(
        "ListTopics",
        &NEXT_TOKEN_ONLY,
        Some(&LIST_TOPICS_OUTPUT),
        Some("ListTopicsResult"),
    ),
    op(
        "GetTopicAttributes",
        &TOPIC_ARN_ONLY,
        Some(&ATTRIBUTES_ONLY),
        Some("GetTopicAttributesResult"),
    ),
    op("SetTopicAttributes", &SET_ATTRIBUTE_INPUT_TOPIC, None, None),
    op(
        "Subscribe",
        &SUBSCRIBE_INPUT,
        Some(&SUBSCRIPTION_ARN_ONLY),
        Some("SubscribeResult"),
    ),
    op(
        "ConfirmSubscription",
        &CONFIRM_SUBSCRIPTION_INPUT,
        Some(&SUBSCRIPTION_ARN_ONLY),
        Some("ConfirmSubscriptionResult"),
    ),
    op("Unsubscribe", &SUBSCRIPTION_ARN_ONLY, None, None),
    op(
        "ListSubscriptions",
        &NEXT_TOKEN_ONLY,
        Some(&LIST_SUBSCRIPTIONS_OUTPUT),
        Some("ListSubscriptionsResult"),
    ),
    op(
        "ListSubscriptionsByTopic",
        &LIST_SUBSCRIPTIONS_BY_TOPIC_INPUT,
        Some(&LIST_SUBSCRIPTIONS_OUTPUT),
        Some("ListSubscriptionsByTopicResult"),
    ),
    op(
        "GetSubscriptionAttributes",
        &SUBSCRIPTION_ARN_ONLY,
        Some(&ATTRIBUTES_ONLY),
        Some("GetSubscriptionAttributesResult"),
    ),
    op(
        "SetSubscriptionAttributes",
        &SET_ATTRIBUTE_INPUT_SUBSCRIPTION,
        None,
        None,
    ),
    op(
        "Publish",
        &PUBLISH_INPUT,
        Some(&PUBLISH_OUTPUT),
        Some("PublishResult"),
    ),
    op(
        "PublishBatch",
        &PUBLISH_BATCH_INPUT,
        Some(&PUBLISH_BATCH_OUTPUT),
        Some("PublishBatchResult"),
    ),
    op(
        "TagResource",
        &TAG_RESOURCE_INPUT,
        Some(&EMPTY),
        Some("TagResourceResult"),
    ),
    op(
        "UntagResource",
        &UNTAG_RESOURCE_INPUT,
        Some(&EMPTY),
        Some("UntagResourceResult"),
    ),
    op(
        "ListTagsForResource",
        &RESOURCE_ARN_ONLY,
        Some(&TAGS_ONLY),
        Some("ListTagsForResourceResult"),
    ),
    op("AddPermission", &ADD_PERMISSION_INPUT, None, None),
    op("RemovePermission", &REMOVE_PERMISSION_INPUT, None, None),
    op(
        "GetDataProtectionPolicy",
        &RESOURCE_ARN_ONLY,
        Some(&DATA_PROTECTION_POLICY_ONLY),
        Some("GetDataProtectionPolicyResult"),
    ),
    op(
        "PutDataProtectionPolicy",
        &PUT_DATA_PROTECTION_POLICY_INPUT,
        None,
        None,
    ),
];

/// The operation named `action`, if SNS has it here.
pub fn operation(action: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|o| o.name == action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::query::{decode_input, encode_output, parse_form};
    use serde_json::json;

    #[test]
    fn publish_form_with_message_attributes_decodes() {
        let params = parse_form(
            b"Action=Publish&TopicArn=arn&Message=hi\
              &MessageAttributes.entry.1.Name=color&MessageAttributes.entry.1.Value.DataType=String\
              &MessageAttributes.entry.1.Value.StringValue=red\
              &MessageAttributes.entry.2.Name=raw&MessageAttributes.entry.2.Value.DataType=Binary\
              &MessageAttributes.entry.2.Value.BinaryValue=AAE%3D",
        );
        let got = decode_input(operation("Publish").unwrap(), &params).unwrap();
        assert_eq!(
            got,
            json!({"TopicArn": "arn", "Message": "hi", "MessageAttributes": {
                "color": {"DataType": "String", "StringValue": "red"},
                "raw": {"DataType": "Binary", "BinaryValue": "AAE="},
            }})
        );
    }

    #[test]
    fn create_topic_attributes_and_tags_decode() {
        let params = parse_form(
            b"Action=CreateTopic&Name=t&Attributes.entry.1.key=FifoTopic\
              &Attributes.entry.1.value=true&Tags.member.1.Key=k&Tags.member.1.Value=v",
        );
        let got = decode_input(operation("CreateTopic").unwrap(), &params).unwrap();
        assert_eq!(
            got,
            json!({"Name": "t", "Attributes": {"FifoTopic": "true"},
                   "Tags": [{"Key": "k", "Value": "v"}]})
        );
    }

    #[test]
    fn list_output_encodes_members() {
        let xml = encode_output(
            operation("ListTopics").unwrap(),
            &json!({"Topics": [{"TopicArn": "a"}], "NextToken": "n"}),
            crate::sns::XMLNS,
            "r",
        );
        assert!(xml.contains(
            "<ListTopicsResult><Topics><member><TopicArn>a</TopicArn></member></Topics>\
             <NextToken>n</NextToken></ListTopicsResult>"
        ));
        assert!(operation("SendMessage").is_none());
    }
}
