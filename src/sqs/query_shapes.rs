//! How SQS's actions are spelled in the query protocol (API version 2012-11-05).
//!
//! Member names are the JSON 1.0 names the actions use; query names, flattening and result
//! wrappers are those of the SQS query API (`Attribute.N.Name/Value`, `Tag.N.Key/Value`,
//! `MessageAttribute.N.Value.StringValue`, `SendMessageBatchRequestEntry.N.Id`, flattened
//! `<Message>` and `<QueueUrl>` elements, …). `MessageSystemAttributeName.N` on
//! ReceiveMessage is the newer spelling of `AttributeName.N`; both are accepted.
//!
//! `scripts/check_query_codec.py` proves the table against botocore 1.31.64, the last SDK
//! release that speaks SQS over the query protocol: its forms decode to the JSON inputs, and
//! it reads the XML answers back as the JSON outputs.

use crate::wire::query::{Field, Operation, Shape};

/// The `Version` SQS query clients send.
pub const API_VERSION: &str = "2012-11-05";

static STRING: Shape = Shape::String;
static INTEGER: Shape = Shape::Integer;
static LONG: Shape = Shape::Long;
static BOOLEAN: Shape = Shape::Boolean;
static BLOB: Shape = Shape::Blob;

static AWS_ACCOUNT_ID_LIST: Shape = Shape::flat_list(&STRING, "AWSAccountId");
static ACTION_NAME_LIST: Shape = Shape::flat_list(&STRING, "ActionName");
static ATTRIBUTE_NAME_LIST: Shape = Shape::flat_list(&STRING, "AttributeName");
static MESSAGE_SYSTEM_ATTRIBUTE_NAME_LIST: Shape =
    Shape::flat_list(&STRING, "MessageSystemAttributeName");
static MESSAGE_ATTRIBUTE_NAME_LIST: Shape = Shape::flat_list(&STRING, "MessageAttributeName");
static QUEUE_URL_LIST: Shape = Shape::flat_list(&STRING, "QueueUrl");
static TAG_KEY_LIST: Shape = Shape::flat_list(&STRING, "TagKey");
static STRING_LIST_VALUES: Shape = Shape::flat_list(&STRING, "StringListValue");
static BINARY_LIST_VALUES: Shape = Shape::flat_list(&BLOB, "BinaryListValue");

/// Queue attributes and message system attributes: `Attribute.N.Name` / `Attribute.N.Value`.
static NAME_VALUE_MAP: Shape = Shape::flat_map(&STRING, &STRING, "Name", "Value");
/// Tags: `Tag.N.Key` / `Tag.N.Value`.
static TAG_MAP: Shape = Shape::flat_map(&STRING, &STRING, "Key", "Value");

/// MessageAttributeValue and MessageSystemAttributeValue (the same members).
static MESSAGE_ATTRIBUTE_VALUE: Shape = Shape::Structure(&[
    Field::new("StringValue", &STRING),
    Field::new("BinaryValue", &BLOB),
    Field::renamed("StringListValues", "StringListValue", &STRING_LIST_VALUES),
    Field::renamed("BinaryListValues", "BinaryListValue", &BINARY_LIST_VALUES),
    Field::new("DataType", &STRING),
]);
static MESSAGE_ATTRIBUTE_MAP: Shape =
    Shape::flat_map(&STRING, &MESSAGE_ATTRIBUTE_VALUE, "Name", "Value");

static BATCH_RESULT_ERROR_ENTRY: Shape = Shape::Structure(&[
    Field::new("Id", &STRING),
    Field::new("SenderFault", &BOOLEAN),
    Field::new("Code", &STRING),
    Field::new("Message", &STRING),
]);
static BATCH_RESULT_ERROR_ENTRY_LIST: Shape =
    Shape::flat_list(&BATCH_RESULT_ERROR_ENTRY, "BatchResultErrorEntry");
static ID_ENTRY: Shape = Shape::Structure(&[Field::new("Id", &STRING)]);

// --- AddPermission, RemovePermission

static ADD_PERMISSION_REQUEST: Shape = Shape::Structure(&[
    Field::new("QueueUrl", &STRING),
    Field::new("Label", &STRING),
    Field::new("AWSAccountIds", &AWS_ACCOUNT_ID_LIST),
    Field::new("Actions", &ACTION_NAME_LIST),
]);
static REMOVE_PERMISSION_REQUEST: Shape = Shape::Structure(&[
    Field::new("QueueUrl", &STRING),
    Field::new("Label", &STRING),
]);

// --- Message move tasks

static CANCEL_MESSAGE_MOVE_TASK_REQUEST: Shape =
    Shape::Structure(&[Field::new("TaskHandle", &STRING)]);
static CANCEL_MESSAGE_MOVE_TASK_RESULT: Shape =
    Shape::Structure(&[Field::new("ApproximateNumberOfMessagesMoved", &LONG)]);
static LIST_MESSAGE_MOVE_TASKS_REQUEST: Shape = Shape::Structure(&[
    Field::new("SourceArn", &STRING),
    Field::new("MaxResults", &INTEGER),
]);
static LIST_MESSAGE_MOVE_TASKS_RESULT_ENTRY: Shape = Shape::Structure(&[
    Field::new("TaskHandle", &STRING),
    Field::new("Status", &STRING),
    Field::new("SourceArn", &STRING),
    Field::new("DestinationArn", &STRING),
    Field::new("MaxNumberOfMessagesPerSecond", &INTEGER),
    Field::new("ApproximateNumberOfMessagesMoved", &LONG),
    Field::new("ApproximateNumberOfMessagesToMove", &LONG),
    Field::new("FailureReason", &STRING),
    Field::new("StartedTimestamp", &LONG),
]);
static LIST_MESSAGE_MOVE_TASKS_RESULT_ENTRY_LIST: Shape = Shape::flat_list(
    &LIST_MESSAGE_MOVE_TASKS_RESULT_ENTRY,
    "ListMessageMoveTasksResultEntry",
);
static LIST_MESSAGE_MOVE_TASKS_RESULT: Shape = Shape::Structure(&[Field::new(
    "Results",
    &LIST_MESSAGE_MOVE_TASKS_RESULT_ENTRY_LIST,
)]);
static START_MESSAGE_MOVE_TASK_REQUEST: Shape = Shape::Structure(&[
    Field::new("SourceArn", &STRING),
    Field::new("DestinationArn", &STRING),
    Field::new("MaxNumberOfMessagesPerSecond", &INTEGER),
]);
static START_MESSAGE_MOVE_TASK_RESULT: Shape =
    Shape::Structure(&[Field::new("TaskHandle", &STRING)]);

// --- Visibility

static CHANGE_MESSAGE_VISIBILITY_REQUEST: Shape = Shape::Structure(&[
    Field::new("QueueUrl", &STRING),
    Field::new("ReceiptHandle", &STRING),
    Field::new("VisibilityTimeout", &INTEGER),
]);
static CHANGE_MESSAGE_VISIBILITY_BATCH_REQUEST_ENTRY: Shape = Shape::Structure(&[
    Field::new("Id", &STRING),
    Field::new("ReceiptHandle", &STRING),
    Field::new("VisibilityTimeout", &INTEGER),
]);
static CHANGE_MESSAGE_VISIBILITY_BATCH_REQUEST_ENTRY_LIST: Shape = Shape::flat_list(
    &CHANGE_MESSAGE_VISIBILITY_BATCH_REQUEST_ENTRY,
    "ChangeMessageVisibilityBatchRequestEntry",
);
static CHANGE_MESSAGE_VISIBILITY_BATCH_REQUEST: Shape = Shape::Structure(&[
    Field::new("QueueUrl", &STRING),
    Field::new(
        "Entries",
        &CHANGE_MESSAGE_VISIBILITY_BATCH_REQUEST_ENTRY_LIST,
    ),
]);
static CHANGE_MESSAGE_VISIBILITY_BATCH_RESULT_ENTRY_LIST: Shape =
    Shape::flat_list(&ID_ENTRY, "ChangeMessageVisibilityBatchResultEntry");
static CHANGE_MESSAGE_VISIBILITY_BATCH_RESULT: Shape = Shape::Structure(&[
    Field::new(
        "Successful",
        &CHANGE_MESSAGE_VISIBILITY_BATCH_RESULT_ENTRY_LIST,
    ),
    Field::new("Failed", &BATCH_RESULT_ERROR_ENTRY_LIST),
]);

// --- Queue administration

static CREATE_QUEUE_REQUEST: Shape = Shape::Structure(&[
    Field::new("QueueName", &STRING),
    Field::renamed("Attributes", "Attribute", &NAME_VALUE_MAP),
    Field::renamed("tags", "Tag", &TAG_MAP),
]);
static QUEUE_URL_RESULT: Shape = Shape::Structure(&[Field::new("QueueUrl", &STRING)]);
static QUEUE_URL_REQUEST: Shape = Shape::Structure(&[Field::new("QueueUrl", &STRING)]);
static GET_QUEUE_ATTRIBUTES_REQUEST: Shape = Shape::Structure(&[
    Field::new("QueueUrl", &STRING),
    Field::new("AttributeNames", &ATTRIBUTE_NAME_LIST),
]);
static GET_QUEUE_ATTRIBUTES_RESULT: Shape =
    Shape::Structure(&[Field::renamed("Attributes", "Attribute", &NAME_VALUE_MAP)]);
static GET_QUEUE_URL_REQUEST: Shape = Shape::Structure(&[
    Field::new("QueueName", &STRING),
    Field::new("QueueOwnerAWSAccountId", &STRING),
]);
static LIST_DEAD_LETTER_SOURCE_QUEUES_REQUEST: Shape = Shape::Structure(&[
    Field::new("QueueUrl", &STRING),
    Field::new("NextToken", &STRING),
    Field::new("MaxResults", &INTEGER),
]);
static LIST_DEAD_LETTER_SOURCE_QUEUES_RESULT: Shape = Shape::Structure(&[
    Field::new("queueUrls", &QUEUE_URL_LIST),
    Field::new("NextToken", &STRING),
]);
static LIST_QUEUE_TAGS_RESULT: Shape = Shape::Structure(&[Field::renamed("Tags", "Tag", &TAG_MAP)]);
static LIST_QUEUES_REQUEST: Shape = Shape::Structure(&[
    Field::new("QueueNamePrefix", &STRING),
    Field::new("NextToken", &STRING),
    Field::new("MaxResults", &INTEGER),
]);
static LIST_QUEUES_RESULT: Shape = Shape::Structure(&[
    Field::new("QueueUrls", &QUEUE_URL_LIST),
    Field::new("NextToken", &STRING),
]);
static SET_QUEUE_ATTRIBUTES_REQUEST: Shape = Shape::Structure(&[
    Field::new("QueueUrl", &STRING),
    Field::renamed("Attributes", "Attribute", &NAME_VALUE_MAP),
]);
static TAG_QUEUE_REQUEST: Shape = Shape::Structure(&[
    Field::new("QueueUrl", &STRING),
    Field::renamed("Tags", "Tag", &TAG_MAP),
]);
static UNTAG_QUEUE_REQUEST: Shape = Shape::Structure(&[
    Field::new("QueueUrl", &STRING),
    Field::new("TagKeys", &TAG_KEY_LIST),
]);

// --- Delete

static DELETE_MESSAGE_REQUEST: Shape = Shape::Structure(&[
    Field::new("QueueUrl", &STRING),
    Field::new("ReceiptHandle", &STRING),
]);
static DELETE_MESSAGE_BATCH_REQUEST_ENTRY: Shape = Shape::Structure(&[
    Field::new("Id", &STRING),
    Field::new("ReceiptHandle", &STRING),
]);
static DELETE_MESSAGE_BATCH_REQUEST_ENTRY_LIST: Shape = Shape::flat_list(
    &DELETE_MESSAGE_BATCH_REQUEST_ENTRY,
    "DeleteMessageBatchRequestEntry",
);
static DELETE_MESSAGE_BATCH_REQUEST: Shape = Shape::Structure(&[
    Field::new("QueueUrl", &STRING),
    Field::new("Entries", &DELETE_MESSAGE_BATCH_REQUEST_ENTRY_LIST),
]);
static DELETE_MESSAGE_BATCH_RESULT_ENTRY_LIST: Shape =
    Shape::flat_list(&ID_ENTRY, "DeleteMessageBatchResultEntry");
static DELETE_MESSAGE_BATCH_RESULT: Shape = Shape::Structure(&[
    Field::new("Successful", &DELETE_MESSAGE_BATCH_RESULT_ENTRY_LIST),
    Field::new("Failed", &BATCH_RESULT_ERROR_ENTRY_LIST),
]);

// --- Receive

static RECEIVE_MESSAGE_REQUEST: Shape = Shape::Structure(&[
    Field::new("QueueUrl", &STRING),
    Field::new("AttributeNames", &ATTRIBUTE_NAME_LIST),
    Field::new(
        "MessageSystemAttributeNames",
        &MESSAGE_SYSTEM_ATTRIBUTE_NAME_LIST,
    ),
    Field::new("MessageAttributeNames", &MESSAGE_ATTRIBUTE_NAME_LIST),
    Field::new("MaxNumberOfMessages", &INTEGER),
    Field::new("VisibilityTimeout", &INTEGER),
    Field::new("WaitTimeSeconds", &INTEGER),
    Field::new("ReceiveRequestAttemptId", &STRING),
]);
static MESSAGE: Shape = Shape::Structure(&[
    Field::new("MessageId", &STRING),
    Field::new("ReceiptHandle", &STRING),
    Field::new("MD5OfBody", &STRING),
    Field::new("Body", &STRING),
    Field::renamed("Attributes", "Attribute", &NAME_VALUE_MAP),
    Field::new("MD5OfMessageAttributes", &STRING),
    Field::renamed(
        "MessageAttributes",
        "MessageAttribute",
        &MESSAGE_ATTRIBUTE_MAP,
    ),
]);
static MESSAGE_LIST: Shape = Shape::flat_list(&MESSAGE, "Message");
static RECEIVE_MESSAGE_RESULT: Shape = Shape::Structure(&[Field::new("Messages", &MESSAGE_LIST)]);

// --- Send

static SEND_MESSAGE_REQUEST: Shape = Shape::Structure(&[
    Field::new("QueueUrl", &STRING),
    Field::new("MessageBody", &STRING),
    Field::new("DelaySeconds", &INTEGER),
    Field::renamed(
        "MessageAttributes",
        "MessageAttribute",
        &MESSAGE_ATTRIBUTE_MAP,
    ),
    Field::renamed(
        "MessageSystemAttributes",
        "MessageSystemAttribute",
        &MESSAGE_ATTRIBUTE_MAP,
    ),
    Field::new("MessageDeduplicationId", &STRING),
    Field::new("MessageGroupId", &STRING),
]);
static SEND_MESSAGE_RESULT: Shape = Shape::Structure(&[
    Field::new("MD5OfMessageBody", &STRING),
    Field::new("MD5OfMessageAttributes", &STRING),
    Field::new("MD5OfMessageSystemAttributes", &STRING),
    Field::new("MessageId", &STRING),
    Field::new("SequenceNumber", &STRING),
]);
static SEND_MESSAGE_BATCH_REQUEST_ENTRY: Shape = Shape::Structure(&[
    Field::new("Id", &STRING),
    Field::new("MessageBody", &STRING),
    Field::new("DelaySeconds", &INTEGER),
    Field::renamed(
        "MessageAttributes",
        "MessageAttribute",
        &MESSAGE_ATTRIBUTE_MAP,
    ),
    Field::renamed(
        "MessageSystemAttributes",
        "MessageSystemAttribute",
        &MESSAGE_ATTRIBUTE_MAP,
    ),
    Field::new("MessageDeduplicationId", &STRING),
    Field::new("MessageGroupId", &STRING),
]);
static SEND_MESSAGE_BATCH_REQUEST_ENTRY_LIST: Shape = Shape::flat_list(
    &SEND_MESSAGE_BATCH_REQUEST_ENTRY,
    "SendMessageBatchRequestEntry",
);
static SEND_MESSAGE_BATCH_REQUEST: Shape = Shape::Structure(&[
    Field::new("QueueUrl", &STRING),
    Field::new("Entries", &SEND_MESSAGE_BATCH_REQUEST_ENTRY_LIST),
]);
static SEND_MESSAGE_BATCH_RESULT_ENTRY: Shape = Shape::Structure(&[
    Field::new("Id", &STRING),
    Field::new("MessageId", &STRING),
    Field::new("MD5OfMessageBody", &STRING),
    Field::new("MD5OfMessageAttributes", &STRING),
    Field::new("MD5OfMessageSystemAttributes", &STRING),
    Field::new("SequenceNumber", &STRING),
]);
static SEND_MESSAGE_BATCH_RESULT_ENTRY_LIST: Shape = Shape::flat_list(
    &SEND_MESSAGE_BATCH_RESULT_ENTRY,
    "SendMessageBatchResultEntry",
);
static SEND_MESSAGE_BATCH_RESULT: Shape = Shape::Structure(&[
    Field::new("Successful", &SEND_MESSAGE_BATCH_RESULT_ENTRY_LIST),
    Field::new("Failed", &BATCH_RESULT_ERROR_ENTRY_LIST),
]);

const fn no_output(name: &'static str, input: &'static Shape) -> Operation {
    Operation {
        name,
        input,
        output: None,
        result_wrapper: None,
    }
}

const fn with_output(
    name: &'static str,
    input: &'static Shape,
    output: &'static Shape,
    result_wrapper: &'static str,
) -> Operation {
    Operation {
        name,
        input,
        output: Some(output),
        result_wrapper: Some(result_wrapper),
    }
}

/// Every SQS action, in the model's (alphabetical) order.
pub static OPERATIONS: [Operation; 23] = [
    no_output("AddPermission", &ADD_PERMISSION_REQUEST),
    with_output(
        "CancelMessageMoveTask",
        &CANCEL_MESSAGE_MOVE_TASK_REQUEST,
        &CANCEL_MESSAGE_MOVE_TASK_RESULT,
        "CancelMessageMoveTaskResult",
    ),
    no_output(
        "ChangeMessageVisibility",
        &CHANGE_MESSAGE_VISIBILITY_REQUEST,
    ),
    with_output(
        "ChangeMessageVisibilityBatch",
        &CHANGE_MESSAGE_VISIBILITY_BATCH_REQUEST,
        &CHANGE_MESSAGE_VISIBILITY_BATCH_RESULT,
        "ChangeMessageVisibilityBatchResult",
    ),
    with_output(
        "CreateQueue",
        &CREATE_QUEUE_REQUEST,
        &QUEUE_URL_RESULT,
        "CreateQueueResult",
    ),
    no_output("DeleteMessage", &DELETE_MESSAGE_REQUEST),
    with_output(
        "DeleteMessageBatch",
        &DELETE_MESSAGE_BATCH_REQUEST,
        &DELETE_MESSAGE_BATCH_RESULT,
        "DeleteMessageBatchResult",
    ),
    no_output("DeleteQueue", &QUEUE_URL_REQUEST),
    with_output(
        "GetQueueAttributes",
        &GET_QUEUE_ATTRIBUTES_REQUEST,
        &GET_QUEUE_ATTRIBUTES_RESULT,
        "GetQueueAttributesResult",
    ),
    with_output(
        "GetQueueUrl",
        &GET_QUEUE_URL_REQUEST,
        &QUEUE_URL_RESULT,
        "GetQueueUrlResult",
    ),
    with_output(
        "ListDeadLetterSourceQueues",
        &LIST_DEAD_LETTER_SOURCE_QUEUES_REQUEST,
        &LIST_DEAD_LETTER_SOURCE_QUEUES_RESULT,
        "ListDeadLetterSourceQueuesResult",
    ),
    with_output(
        "ListMessageMoveTasks",
        &LIST_MESSAGE_MOVE_TASKS_REQUEST,
        &LIST_MESSAGE_MOVE_TASKS_RESULT,
        "ListMessageMoveTasksResult",
    ),
    with_output(
        "ListQueueTags",
        &QUEUE_URL_REQUEST,
        &LIST_QUEUE_TAGS_RESULT,
        "ListQueueTagsResult",
    ),
    with_output(
        "ListQueues",
        &LIST_QUEUES_REQUEST,
        &LIST_QUEUES_RESULT,
        "ListQueuesResult",
    ),
    no_output("PurgeQueue", &QUEUE_URL_REQUEST),
    with_output(
        "ReceiveMessage",
        &RECEIVE_MESSAGE_REQUEST,
        &RECEIVE_MESSAGE_RESULT,
        "ReceiveMessageResult",
    ),
    no_output("RemovePermission", &REMOVE_PERMISSION_REQUEST),
    with_output(
        "SendMessage",
        &SEND_MESSAGE_REQUEST,
        &SEND_MESSAGE_RESULT,
        "SendMessageResult",
    ),
    with_output(
        "SendMessageBatch",
        &SEND_MESSAGE_BATCH_REQUEST,
        &SEND_MESSAGE_BATCH_RESULT,
        "SendMessageBatchResult",
    ),
    no_output("SetQueueAttributes", &SET_QUEUE_ATTRIBUTES_REQUEST),
    with_output(
        "StartMessageMoveTask",
        &START_MESSAGE_MOVE_TASK_REQUEST,
        &START_MESSAGE_MOVE_TASK_RESULT,
        "StartMessageMoveTaskResult",
    ),
    no_output("TagQueue", &TAG_QUEUE_REQUEST),
    no_output("UntagQueue", &UNTAG_QUEUE_REQUEST),
];

/// The query description of the SQS action `name` (`SendMessage`), if there is one.
pub fn operation(name: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.name == name)
}

#[cfg(test)]
mod tests {
    use super::super::XMLNS;
    use super::*;
    use crate::wire::query::{decode_input, encode_error, encode_output, parse_form};
    use serde_json::{json, Value};

    // Generated by scripts/check_query_codec.py --print-fixtures (botocore 1.31.64):
    // (action, form body botocore sends, JSON input the action must receive).
    const BOTOCORE_FORMS: &[(&str, &str, &str)] = &[
        (
            "AddPermission",
            r#"Action=AddPermission&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders&Label=allow-peers&AWSAccountId.1=111122223333&AWSAccountId.2=444455556666&ActionName.1=SendMessage&ActionName.2=ReceiveMessage"#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders","Label":"allow-peers","AWSAccountIds":["111122223333","444455556666"],"Actions":["SendMessage","ReceiveMessage"]}"#,
        ),
        (
            "CancelMessageMoveTask",
            r#"Action=CancelMessageMoveTask&Version=2012-11-05&TaskHandle=eyJ0YXNrSWQiOiIxIn0%3D"#,
            r#"{"TaskHandle":"eyJ0YXNrSWQiOiIxIn0="}"#,
        ),
        (
            "ChangeMessageVisibility",
            r#"Action=ChangeMessageVisibility&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders&ReceiptHandle=AQEB%2B%2Fr%3Dh%26x&VisibilityTimeout=45"#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders","ReceiptHandle":"AQEB+/r=h&x","VisibilityTimeout":45}"#,
        ),
        (
            "ChangeMessageVisibilityBatch",
            r#"Action=ChangeMessageVisibilityBatch&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders&ChangeMessageVisibilityBatchRequestEntry.1.Id=a&ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle=rh-a&ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout=0&ChangeMessageVisibilityBatchRequestEntry.2.Id=b&ChangeMessageVisibilityBatchRequestEntry.2.ReceiptHandle=rh-b"#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders","Entries":[{"Id":"a","ReceiptHandle":"rh-a","VisibilityTimeout":0},{"Id":"b","ReceiptHandle":"rh-b"}]}"#,
        ),
        (
            "CreateQueue",
            r#"Action=CreateQueue&Version=2012-11-05&QueueName=orders.fifo&Attribute.1.Name=FifoQueue&Attribute.1.Value=true&Attribute.2.Name=VisibilityTimeout&Attribute.2.Value=30&Attribute.3.Name=RedrivePolicy&Attribute.3.Value=%7B%22deadLetterTargetArn%22%3A%22arn%3Aaws%3Asqs%3Aus-east-1%3A123456789012%3Aorders-dlq%22%2C%22maxReceiveCount%22%3A%223%22%7D&Tag.1.Key=team&Tag.1.Value=core&Tag.2.Key=env&Tag.2.Value=a+b%26c%3Dd"#,
            r#"{"QueueName":"orders.fifo","Attributes":{"FifoQueue":"true","VisibilityTimeout":"30","RedrivePolicy":"{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:123456789012:orders-dlq\",\"maxReceiveCount\":\"3\"}"},"tags":{"team":"core","env":"a b&c=d"}}"#,
        ),
        (
            "CreateQueue",
            r#"Action=CreateQueue&Version=2012-11-05&QueueName=plain"#,
            r#"{"QueueName":"plain"}"#,
        ),
        (
            "DeleteMessage",
            r#"Action=DeleteMessage&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders&ReceiptHandle=rh+1%2B2"#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders","ReceiptHandle":"rh 1+2"}"#,
        ),
        (
            "DeleteMessageBatch",
            r#"Action=DeleteMessageBatch&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders&DeleteMessageBatchRequestEntry.1.Id=1&DeleteMessageBatchRequestEntry.1.ReceiptHandle=r1&DeleteMessageBatchRequestEntry.2.Id=2&DeleteMessageBatchRequestEntry.2.ReceiptHandle=r2"#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders","Entries":[{"Id":"1","ReceiptHandle":"r1"},{"Id":"2","ReceiptHandle":"r2"}]}"#,
        ),
        (
            "DeleteQueue",
            r#"Action=DeleteQueue&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders"#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders"}"#,
        ),
        (
            "GetQueueAttributes",
            r#"Action=GetQueueAttributes&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders&AttributeName.1=All"#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders","AttributeNames":["All"]}"#,
        ),
        (
            "GetQueueAttributes",
            r#"Action=GetQueueAttributes&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders&AttributeName.1=VisibilityTimeout&AttributeName.2=QueueArn&AttributeName.3=ApproximateNumberOfMessages"#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders","AttributeNames":["VisibilityTimeout","QueueArn","ApproximateNumberOfMessages"]}"#,
        ),
        (
            "GetQueueAttributes",
            r#"Action=GetQueueAttributes&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders&AttributeNames="#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders","AttributeNames":[]}"#,
        ),
        (
            "GetQueueUrl",
            r#"Action=GetQueueUrl&Version=2012-11-05&QueueName=orders&QueueOwnerAWSAccountId=123456789012"#,
            r#"{"QueueName":"orders","QueueOwnerAWSAccountId":"123456789012"}"#,
        ),
        (
            "ListDeadLetterSourceQueues",
            r#"Action=ListDeadLetterSourceQueues&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders&NextToken=t%2F1%3D&MaxResults=10"#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders","NextToken":"t/1=","MaxResults":10}"#,
        ),
        (
            "ListMessageMoveTasks",
            r#"Action=ListMessageMoveTasks&Version=2012-11-05&SourceArn=arn%3Aaws%3Asqs%3Aus-east-1%3A123456789012%3Aorders&MaxResults=5"#,
            r#"{"SourceArn":"arn:aws:sqs:us-east-1:123456789012:orders","MaxResults":5}"#,
        ),
        (
            "ListQueueTags",
            r#"Action=ListQueueTags&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders"#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders"}"#,
        ),
        (
            "ListQueues",
            r#"Action=ListQueues&Version=2012-11-05"#,
            r#"{}"#,
        ),
        (
            "ListQueues",
            r#"Action=ListQueues&Version=2012-11-05&QueueNamePrefix=ord&MaxResults=1000&NextToken=abc"#,
            r#"{"QueueNamePrefix":"ord","MaxResults":1000,"NextToken":"abc"}"#,
        ),
        (
            "PurgeQueue",
            r#"Action=PurgeQueue&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders"#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders"}"#,
        ),
        (
            "ReceiveMessage",
            r#"Action=ReceiveMessage&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders&AttributeName.1=All&MessageAttributeName.1=All&MessageAttributeName.2=trace.%2A&MaxNumberOfMessages=10&VisibilityTimeout=0&WaitTimeSeconds=20&ReceiveRequestAttemptId=try-1"#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders","AttributeNames":["All"],"MessageAttributeNames":["All","trace.*"],"MaxNumberOfMessages":10,"VisibilityTimeout":0,"WaitTimeSeconds":20,"ReceiveRequestAttemptId":"try-1"}"#,
        ),
        (
            "RemovePermission",
            r#"Action=RemovePermission&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders&Label=allow-peers"#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders","Label":"allow-peers"}"#,
        ),
        (
            "SendMessage",
            r#"Action=SendMessage&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders&MessageBody=line1%0D%0Aline2%0Dline3%0A%3Ctag+attr%3D%22v%22%3E%26amp%3B+%27q%27+%F0%9F%98%80+%C3%BC%09+end+%5D%5D%3E+&DelaySeconds=5&MessageAttribute.1.Name=text&MessageAttribute.1.Value.DataType=String&MessageAttribute.1.Value.StringValue=v%0D%0A%3C%26%3E%F0%9F%98%80&MessageAttribute.2.Name=count&MessageAttribute.2.Value.DataType=Number&MessageAttribute.2.Value.StringValue=-1.5e3&MessageAttribute.3.Name=blob&MessageAttribute.3.Value.DataType=Binary&MessageAttribute.3.Value.BinaryValue=AP8NCjwmPmJpbmFyeQ%3D%3D&MessageAttribute.4.Name=lists&MessageAttribute.4.Value.DataType=String.custom&MessageAttribute.4.Value.StringListValue.1=a&MessageAttribute.4.Value.StringListValue.2=b+c&MessageAttribute.4.Value.BinaryListValue.1=AQ%3D%3D&MessageAttribute.4.Value.BinaryListValue.2=AgM%3D&MessageSystemAttribute.1.Name=AWSTraceHeader&MessageSystemAttribute.1.Value.DataType=String&MessageSystemAttribute.1.Value.StringValue=Root%3D1-5759e988-bd862e3fe1be46a994272793&MessageDeduplicationId=dedup-1&MessageGroupId=group-1"#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders","MessageBody":"line1\r\nline2\rline3\n<tag attr=\"v\">&amp; 'q' 😀 ü\t end ]]> ","DelaySeconds":5,"MessageAttributes":{"text":{"DataType":"String","StringValue":"v\r\n<&>😀"},"count":{"DataType":"Number","StringValue":"-1.5e3"},"blob":{"DataType":"Binary","BinaryValue":"AP8NCjwmPmJpbmFyeQ=="},"lists":{"DataType":"String.custom","StringListValues":["a","b c"],"BinaryListValues":["AQ==","AgM="]}},"MessageSystemAttributes":{"AWSTraceHeader":{"DataType":"String","StringValue":"Root=1-5759e988-bd862e3fe1be46a994272793"}},"MessageDeduplicationId":"dedup-1","MessageGroupId":"group-1"}"#,
        ),
        (
            "SendMessage",
            r#"Action=SendMessage&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders&MessageBody=x"#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders","MessageBody":"x"}"#,
        ),
        (
            "SendMessageBatch",
            r#"Action=SendMessageBatch&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders&SendMessageBatchRequestEntry.1.Id=m1&SendMessageBatchRequestEntry.1.MessageBody=line1%0D%0Aline2%0Dline3%0A%3Ctag+attr%3D%22v%22%3E%26amp%3B+%27q%27+%F0%9F%98%80+%C3%BC%09+end+%5D%5D%3E+&SendMessageBatchRequestEntry.1.DelaySeconds=1&SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=a&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=String&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=1&SendMessageBatchRequestEntry.1.MessageAttribute.2.Name=b&SendMessageBatchRequestEntry.1.MessageAttribute.2.Value.DataType=Binary&SendMessageBatchRequestEntry.1.MessageAttribute.2.Value.BinaryValue=AP8NCjwmPmJpbmFyeQ%3D%3D&SendMessageBatchRequestEntry.1.MessageSystemAttribute.1.Name=AWSTraceHeader&SendMessageBatchRequestEntry.1.MessageSystemAttribute.1.Value.DataType=String&SendMessageBatchRequestEntry.1.MessageSystemAttribute.1.Value.StringValue=Root%3D1-a&SendMessageBatchRequestEntry.1.MessageDeduplicationId=d1&SendMessageBatchRequestEntry.1.MessageGroupId=g1&SendMessageBatchRequestEntry.2.Id=m2&SendMessageBatchRequestEntry.2.MessageBody=second"#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders","Entries":[{"Id":"m1","MessageBody":"line1\r\nline2\rline3\n<tag attr=\"v\">&amp; 'q' 😀 ü\t end ]]> ","DelaySeconds":1,"MessageAttributes":{"a":{"DataType":"String","StringValue":"1"},"b":{"DataType":"Binary","BinaryValue":"AP8NCjwmPmJpbmFyeQ=="}},"MessageSystemAttributes":{"AWSTraceHeader":{"DataType":"String","StringValue":"Root=1-a"}},"MessageDeduplicationId":"d1","MessageGroupId":"g1"},{"Id":"m2","MessageBody":"second"}]}"#,
        ),
        (
            "SetQueueAttributes",
            r#"Action=SetQueueAttributes&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders&Attribute.1.Name=DelaySeconds&Attribute.1.Value=10&Attribute.2.Name=Policy&Attribute.2.Value=%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders","Attributes":{"DelaySeconds":"10","Policy":"{\"Version\":\"2012-10-17\",\"Statement\":[]}"}}"#,
        ),
        (
            "StartMessageMoveTask",
            r#"Action=StartMessageMoveTask&Version=2012-11-05&SourceArn=arn%3Aaws%3Asqs%3Aus-east-1%3A123456789012%3Aorders-dlq&DestinationArn=arn%3Aaws%3Asqs%3Aus-east-1%3A123456789012%3Aorders&MaxNumberOfMessagesPerSecond=50"#,
            r#"{"SourceArn":"arn:aws:sqs:us-east-1:123456789012:orders-dlq","DestinationArn":"arn:aws:sqs:us-east-1:123456789012:orders","MaxNumberOfMessagesPerSecond":50}"#,
        ),
        (
            "TagQueue",
            r#"Action=TagQueue&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders&Tag.1.Key=team&Tag.1.Value=core&Tag.2.Key=cost-center&Tag.2.Value=42"#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders","Tags":{"team":"core","cost-center":"42"}}"#,
        ),
        (
            "UntagQueue",
            r#"Action=UntagQueue&Version=2012-11-05&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F123456789012%2Forders&TagKey.1=team&TagKey.2=cost-center"#,
            r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/orders","TagKeys":["team","cost-center"]}"#,
        ),
    ];

    #[test]
    fn every_action_is_described_once() {
        let mut names: Vec<_> = OPERATIONS.iter().map(|op| op.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 23);
        for op in &OPERATIONS {
            assert!(std::ptr::eq(operation(op.name).unwrap(), op));
            assert_eq!(
                op.output.is_some(),
                op.result_wrapper.is_some(),
                "{}",
                op.name
            );
            if let Some(wrapper) = op.result_wrapper {
                assert_eq!(wrapper, format!("{}Result", op.name));
            }
        }
        assert!(operation("Publish").is_none());
        assert!(operation("sendmessage").is_none());
    }

    #[test]
    fn decodes_every_form_botocore_sends() {
        for op in &OPERATIONS {
            assert!(
                BOTOCORE_FORMS.iter().any(|(name, _, _)| *name == op.name),
                "no botocore fixture for {}",
                op.name
            );
        }
        for (name, body, expected) in BOTOCORE_FORMS {
            let op = operation(name).unwrap();
            let params = parse_form(body.as_bytes());
            assert_eq!(params[0], ("Action".to_string(), name.to_string()));
            assert_eq!(params[1], ("Version".to_string(), API_VERSION.to_string()));
            let got = decode_input(op, &params).unwrap_or_else(|e| panic!("{name}: {e}"));
            let want: Value = serde_json::from_str(expected).unwrap();
            assert_eq!(got, want, "{name}: {body}");
        }
    }

    #[test]
    fn message_body_survives_form_decoding_exactly() {
        let (_, body, _) = BOTOCORE_FORMS
            .iter()
            .find(|(name, _, _)| *name == "SendMessage")
            .unwrap();
        let got = decode_input(
            operation("SendMessage").unwrap(),
            &parse_form(body.as_bytes()),
        )
        .unwrap();
        assert_eq!(
            got["MessageBody"],
            "line1\r\nline2\rline3\n<tag attr=\"v\">&amp; 'q' 😀 ü\t end ]]> "
        );
        assert_eq!(
            got["MessageAttributes"]["blob"]["BinaryValue"],
            "AP8NCjwmPmJpbmFyeQ=="
        );
    }

    #[test]
    fn receive_accepts_the_newer_system_attribute_spelling() {
        let params = parse_form(
            b"Action=ReceiveMessage&QueueUrl=q&MessageSystemAttributeName.1=SentTimestamp\
              &MessageSystemAttributeName.2=MessageGroupId&AttributeName.1=All",
        );
        let got = decode_input(operation("ReceiveMessage").unwrap(), &params).unwrap();
        assert_eq!(
            got,
            json!({
                "QueueUrl": "q",
                "AttributeNames": ["All"],
                "MessageSystemAttributeNames": ["SentTimestamp", "MessageGroupId"],
            })
        );
    }

    #[test]
    fn bad_numbers_name_the_sqs_parameter() {
        let params = parse_form(
            b"Action=SendMessageBatch&QueueUrl=q&SendMessageBatchRequestEntry.1.Id=a\
              &SendMessageBatchRequestEntry.1.MessageBody=b\
              &SendMessageBatchRequestEntry.1.DelaySeconds=soon",
        );
        let err = decode_input(operation("SendMessageBatch").unwrap(), &params).unwrap_err();
        assert_eq!(err.param(), "SendMessageBatchRequestEntry.1.DelaySeconds");
        let params = parse_form(b"Action=ReceiveMessage&QueueUrl=q&WaitTimeSeconds=2.5");
        let err = decode_input(operation("ReceiveMessage").unwrap(), &params).unwrap_err();
        assert_eq!(err.param(), "WaitTimeSeconds");
    }

    #[test]
    fn receive_result_flattens_messages_and_their_attributes() {
        let xml = encode_output(
            operation("ReceiveMessage").unwrap(),
            &json!({"Messages": [{
                "MessageId": "m1",
                "ReceiptHandle": "r&1",
                "MD5OfBody": "x",
                "Body": "a\r\n<b>",
                "Attributes": {"SentTimestamp": "1"},
                "MessageAttributes": {"k": {"DataType": "Binary", "BinaryValue": "AA=="}},
            }]}),
            XMLNS,
            "rid",
        );
        assert_eq!(
            xml,
            "<?xml version=\"1.0\"?><ReceiveMessageResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">\
             <ReceiveMessageResult><Message><MessageId>m1</MessageId><ReceiptHandle>r&amp;1</ReceiptHandle>\
             <MD5OfBody>x</MD5OfBody><Body>a&#xD;\n&lt;b&gt;</Body>\
             <Attribute><Name>SentTimestamp</Name><Value>1</Value></Attribute>\
             <MessageAttribute><Name>k</Name><Value><BinaryValue>AA==</BinaryValue>\
             <DataType>Binary</DataType></Value></MessageAttribute></Message>\
             </ReceiveMessageResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata>\
             </ReceiveMessageResponse>"
        );
    }

    #[test]
    fn list_and_batch_results_use_flattened_element_names() {
        let xml = encode_output(
            operation("ListQueues").unwrap(),
            &json!({"QueueUrls": ["u1", "u2"]}),
            XMLNS,
            "r",
        );
        assert!(xml.contains(
            "<ListQueuesResult><QueueUrl>u1</QueueUrl><QueueUrl>u2</QueueUrl></ListQueuesResult>"
        ));
        let xml = encode_output(
            operation("SendMessageBatch").unwrap(),
            &json!({
                "Successful": [{"Id": "a", "MessageId": "m", "MD5OfMessageBody": "d"}],
                "Failed": [{"Id": "b", "SenderFault": true, "Code": "C"}],
            }),
            XMLNS,
            "r",
        );
        assert!(xml.contains(
            "<SendMessageBatchResult><SendMessageBatchResultEntry><Id>a</Id><MessageId>m</MessageId>\
             <MD5OfMessageBody>d</MD5OfMessageBody></SendMessageBatchResultEntry>\
             <BatchResultErrorEntry><Id>b</Id><SenderFault>true</SenderFault><Code>C</Code>\
             </BatchResultErrorEntry></SendMessageBatchResult>"
        ));
        let xml = encode_output(
            operation("GetQueueAttributes").unwrap(),
            &json!({"Attributes": {"DelaySeconds": "0"}}),
            XMLNS,
            "r",
        );
        assert!(xml.contains(
            "<GetQueueAttributesResult><Attribute><Name>DelaySeconds</Name><Value>0</Value>\
             </Attribute></GetQueueAttributesResult>"
        ));
        let xml = encode_output(
            operation("ListDeadLetterSourceQueues").unwrap(),
            &json!({"queueUrls": ["u"]}),
            XMLNS,
            "r",
        );
        assert!(xml.contains("<ListDeadLetterSourceQueuesResult><QueueUrl>u</QueueUrl></ListDeadLetterSourceQueuesResult>"));
    }

    /// Driven by scripts/check_query_codec.py, which sets LULL_QUERY_CODEC_CHECK to a file of
    /// forms, outputs and errors; this writes what the codec makes of them to `<file>.out`
    /// for botocore to read back. Without the variable it does nothing.
    #[test]
    fn botocore_check_dump() {
        let Ok(path) = std::env::var("LULL_QUERY_CODEC_CHECK") else {
            return;
        };
        let cases: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let list = |key: &str| cases[key].as_array().cloned().unwrap_or_default();
        let inputs: Vec<Value> = list("inputs")
            .iter()
            .map(|case| {
                let name = case["op"].as_str().unwrap();
                let form = case["form"].as_str().unwrap();
                match decode_input(operation(name).unwrap(), &parse_form(form.as_bytes())) {
                    Ok(decoded) => json!({"op": name, "decoded": decoded}),
                    Err(e) => json!({"op": name, "error": e.to_string()}),
                }
            })
            .collect();
        let outputs: Vec<Value> = list("outputs")
            .iter()
            .enumerate()
            .map(|(i, case)| {
                let name = case["op"].as_str().unwrap();
                let xml = encode_output(
                    operation(name).unwrap(),
                    &case["json"],
                    XMLNS,
                    &format!("req-{i}"),
                );
                json!({"op": name, "xml": xml})
            })
            .collect();
        let errors: Vec<Value> = list("errors")
            .iter()
            .enumerate()
            .map(|(i, case)| {
                let xml = encode_error(
                    case["code"].as_str().unwrap(),
                    case["message"].as_str().unwrap(),
                    case["sender_fault"].as_bool().unwrap(),
                    XMLNS,
                    &format!("err-{i}"),
                );
                json!({ "xml": xml })
            })
            .collect();
        let out = json!({"inputs": inputs, "outputs": outputs, "errors": errors});
        std::fs::write(format!("{path}.out"), out.to_string()).unwrap();
    }
}
