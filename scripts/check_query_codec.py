#!/usr/bin/env python3
"""Checks lull's SQS query-protocol codec against botocore's own query serializer and parser.

botocore 1.31.64 is the last release whose SQS client speaks the query protocol, so it is the
reference: what it sends must decode to the JSON input the actions expect, and what lull
answers must parse back to exactly the JSON output the actions produced.

    scripts/pyenv.sh && .venvs/query/bin/python scripts/check_query_codec.py

Steps:
 1. serialize a sample input for every SQS action with botocore's query serializer;
 2. run the codec's dump test (`cargo test ... botocore_check_dump`), which decodes those
    forms and encodes sample outputs and errors to XML;
 3. compare the decoded JSON with the sample inputs, and botocore's parse of the XML with
    the sample outputs.

`--print-fixtures` prints the form bodies as the Rust fixture table used by the unit tests
in src/sqs/query_shapes.rs (regenerate it when the samples change).
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile

import botocore
import botocore.parsers
import botocore.serialize
import botocore.session
from botocore.awsrequest import AWSRequest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DUMP_TEST = "sqs::query_shapes::tests::botocore_check_dump"
QUEUE = "http://127.0.0.1:4566/123456789012/orders"
ARN = "arn:aws:sqs:us-east-1:123456789012:orders"
# Everything an XML round trip could damage: CR/LF pairs, a lone CR, markup characters,
# quotes, tabs, non-ASCII and a character outside the Basic Multilingual Plane.
BODY = 'line1\r\nline2\rline3\n<tag attr="v">&amp; \'q\' \U0001F600 ü\t end ]]> '
BINARY = b"\x00\xff\r\n<&>binary"

SAMPLE_INPUTS = [
    ("AddPermission", {
        "QueueUrl": QUEUE, "Label": "allow-peers",
        "AWSAccountIds": ["111122223333", "444455556666"],
        "Actions": ["SendMessage", "ReceiveMessage"],
    }),
    ("CancelMessageMoveTask", {"TaskHandle": "eyJ0YXNrSWQiOiIxIn0="}),
    ("ChangeMessageVisibility", {
        "QueueUrl": QUEUE, "ReceiptHandle": "AQEB+/r=h&x", "VisibilityTimeout": 45,
    }),
    ("ChangeMessageVisibilityBatch", {
        "QueueUrl": QUEUE,
        "Entries": [
            {"Id": "a", "ReceiptHandle": "rh-a", "VisibilityTimeout": 0},
            {"Id": "b", "ReceiptHandle": "rh-b"},
        ],
    }),
    ("CreateQueue", {
        "QueueName": "orders.fifo",
        "Attributes": {
            "FifoQueue": "true", "VisibilityTimeout": "30",
            "RedrivePolicy": '{"deadLetterTargetArn":"%s-dlq","maxReceiveCount":"3"}' % ARN,
        },
        "tags": {"team": "core", "env": "a b&c=d"},
    }),
    ("CreateQueue", {"QueueName": "plain"}),
    ("DeleteMessage", {"QueueUrl": QUEUE, "ReceiptHandle": "rh 1+2"}),
    ("DeleteMessageBatch", {
        "QueueUrl": QUEUE,
        "Entries": [{"Id": "1", "ReceiptHandle": "r1"}, {"Id": "2", "ReceiptHandle": "r2"}],
    }),
    ("DeleteQueue", {"QueueUrl": QUEUE}),
    ("GetQueueAttributes", {"QueueUrl": QUEUE, "AttributeNames": ["All"]}),
    ("GetQueueAttributes", {
        "QueueUrl": QUEUE,
        "AttributeNames": ["VisibilityTimeout", "QueueArn", "ApproximateNumberOfMessages"],
    }),
    ("GetQueueAttributes", {"QueueUrl": QUEUE, "AttributeNames": []}),
    ("GetQueueUrl", {"QueueName": "orders", "QueueOwnerAWSAccountId": "123456789012"}),
    ("ListDeadLetterSourceQueues", {"QueueUrl": QUEUE, "NextToken": "t/1=", "MaxResults": 10}),
    ("ListMessageMoveTasks", {"SourceArn": ARN, "MaxResults": 5}),
    ("ListQueueTags", {"QueueUrl": QUEUE}),
    ("ListQueues", {}),
    ("ListQueues", {"QueueNamePrefix": "ord", "MaxResults": 1000, "NextToken": "abc"}),
    ("PurgeQueue", {"QueueUrl": QUEUE}),
    ("ReceiveMessage", {
        "QueueUrl": QUEUE, "AttributeNames": ["All"],
        "MessageAttributeNames": ["All", "trace.*"], "MaxNumberOfMessages": 10,
        "VisibilityTimeout": 0, "WaitTimeSeconds": 20, "ReceiveRequestAttemptId": "try-1",
    }),
    ("RemovePermission", {"QueueUrl": QUEUE, "Label": "allow-peers"}),
    ("SendMessage", {
        "QueueUrl": QUEUE, "MessageBody": BODY, "DelaySeconds": 5,
        "MessageAttributes": {
            "text": {"DataType": "String", "StringValue": "v\r\n<&>\U0001F600"},
            "count": {"DataType": "Number", "StringValue": "-1.5e3"},
            "blob": {"DataType": "Binary", "BinaryValue": BINARY},
            "lists": {"DataType": "String.custom", "StringListValues": ["a", "b c"],
                      "BinaryListValues": [b"\x01", b"\x02\x03"]},
        },
        "MessageSystemAttributes": {
            "AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793"},
        },
        "MessageDeduplicationId": "dedup-1", "MessageGroupId": "group-1",
    }),
    ("SendMessage", {"QueueUrl": QUEUE, "MessageBody": "x"}),
    ("SendMessageBatch", {
        "QueueUrl": QUEUE,
        "Entries": [
            {"Id": "m1", "MessageBody": BODY, "DelaySeconds": 1,
             "MessageAttributes": {
                 "a": {"DataType": "String", "StringValue": "1"},
                 "b": {"DataType": "Binary", "BinaryValue": BINARY},
             },
             "MessageSystemAttributes": {
                 "AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-a"},
             },
             "MessageDeduplicationId": "d1", "MessageGroupId": "g1"},
            {"Id": "m2", "MessageBody": "second"},
        ],
    }),
    ("SetQueueAttributes", {
        "QueueUrl": QUEUE,
        "Attributes": {"DelaySeconds": "10", "Policy": '{"Version":"2012-10-17","Statement":[]}'},
    }),
    ("StartMessageMoveTask", {
        "SourceArn": ARN + "-dlq", "DestinationArn": ARN, "MaxNumberOfMessagesPerSecond": 50,
    }),
    ("TagQueue", {"QueueUrl": QUEUE, "Tags": {"team": "core", "cost-center": "42"}}),
    ("UntagQueue", {"QueueUrl": QUEUE, "TagKeys": ["team", "cost-center"]}),
]

B64 = base64.b64encode(BINARY).decode()
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
# Outputs in the JSON shapes the actions produce (blobs as base64 text).
SAMPLE_OUTPUTS = [
    ("AddPermission", {}),
    ("CancelMessageMoveTask", {"ApproximateNumberOfMessagesMoved": 12345678901}),
    ("ChangeMessageVisibility", {}),
    ("ChangeMessageVisibilityBatch", {
        "Successful": [{"Id": "a"}],
        "Failed": [{"Id": "b", "SenderFault": True, "Code": "ReceiptHandleIsInvalid",
                    "Message": "The input receipt handle \"rh-b\" is <invalid>."}],
    }),
    ("CreateQueue", {"QueueUrl": QUEUE}),
    ("DeleteMessage", {}),
    ("DeleteMessageBatch", {"Successful": [{"Id": "1"}, {"Id": "2"}], "Failed": []}),
    ("DeleteMessageBatch", {"Successful": [], "Failed": [
        {"Id": "1", "SenderFault": False, "Code": "InternalError"}]}),
    ("DeleteQueue", {}),
    ("GetQueueAttributes", {"Attributes": {
        "QueueArn": ARN, "VisibilityTimeout": "30", "ApproximateNumberOfMessages": "0",
        "CreatedTimestamp": "1700000000", "FifoQueue": "true",
        "Policy": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"<*>&"}]}',
        "RedrivePolicy": '{"deadLetterTargetArn":"%s-dlq","maxReceiveCount":3}' % ARN,
    }}),
    ("GetQueueUrl", {"QueueUrl": QUEUE}),
    ("ListDeadLetterSourceQueues", {"queueUrls": [QUEUE, QUEUE + "2"], "NextToken": "n/1"}),
    ("ListMessageMoveTasks", {"Results": [
        {"TaskHandle": "h1", "Status": "RUNNING", "SourceArn": ARN + "-dlq",
         "DestinationArn": ARN, "MaxNumberOfMessagesPerSecond": 10,
         "ApproximateNumberOfMessagesMoved": 5, "ApproximateNumberOfMessagesToMove": 9,
         "StartedTimestamp": 1700000000123},
        {"Status": "FAILED", "SourceArn": ARN + "-dlq", "ApproximateNumberOfMessagesMoved": 0,
         "FailureReason": "AWS.SimpleQueueService.NonExistentQueue", "StartedTimestamp": 1},
    ]}),
    ("ListQueueTags", {"Tags": {"team": "core", "env": "a<b>&c"}}),
    ("ListQueueTags", {}),
    ("ListQueues", {"QueueUrls": [QUEUE, QUEUE + "-dlq", QUEUE + ".fifo"], "NextToken": "tok"}),
    ("ListQueues", {"QueueUrls": [QUEUE]}),
    ("ListQueues", {}),
    ("PurgeQueue", {}),
    ("ReceiveMessage", {"Messages": [
        {"MessageId": "5fea7756-0ea4-451a-a703-a558b933e274",
         "ReceiptHandle": "AQEB+/abc==", "MD5OfBody": MD5, "Body": BODY,
         "Attributes": {"SenderId": "123456789012", "SentTimestamp": "1700000000000",
                        "ApproximateReceiveCount": "1",
                        "ApproximateFirstReceiveTimestamp": "1700000000001",
                        "MessageGroupId": "g&1", "AWSTraceHeader": "Root=1-a"},
         "MD5OfMessageAttributes": MD5,
         "MessageAttributes": {
             "text": {"DataType": "String", "StringValue": "v\r\n<&>\U0001F600"},
             "count": {"DataType": "Number", "StringValue": "-1.5e3"},
             "blob": {"DataType": "Binary", "BinaryValue": B64},
         }},
        {"MessageId": "m2", "ReceiptHandle": "r2", "MD5OfBody": MD5, "Body": ""},
    ]}),
    ("ReceiveMessage", {"Messages": [{"MessageId": "only", "Body": "{\"json\": [1, 2]}"}]}),
    ("ReceiveMessage", {}),
    ("RemovePermission", {}),
    ("SendMessage", {"MD5OfMessageBody": MD5, "MD5OfMessageAttributes": MD5,
                     "MD5OfMessageSystemAttributes": MD5,
                     "MessageId": "5fea7756-0ea4-451a-a703-a558b933e274",
                     "SequenceNumber": "18849496460467696128"}),
    ("SendMessage", {"MD5OfMessageBody": MD5, "MessageId": "m"}),
    ("SendMessageBatch", {
        "Successful": [
            {"Id": "m1", "MessageId": "id1", "MD5OfMessageBody": MD5,
             "MD5OfMessageAttributes": MD5, "MD5OfMessageSystemAttributes": MD5,
             "SequenceNumber": "1"},
            {"Id": "m2", "MessageId": "id2", "MD5OfMessageBody": MD5},
        ],
        "Failed": [{"Id": "m3", "SenderFault": True, "Code": "InvalidMessageContents",
                    "Message": "bad & <worse>"}],
    }),
    ("SetQueueAttributes", {}),
    ("StartMessageMoveTask", {"TaskHandle": "eyJ0YXNrSWQiOiIxIn0="}),
    ("TagQueue", {}),
    ("UntagQueue", {}),
]

SAMPLE_ERRORS = [
    {"code": "AWS.SimpleQueueService.NonExistentQueue",
     "message": "The specified queue does not exist.", "sender_fault": True},
    {"code": "InvalidParameterValue",
     "message": "Value \"x\r\ny\" for parameter <VisibilityTimeout> & more is invalid. \U0001F600",
     "sender_fault": True},
    {"code": "InternalError", "message": "Something broke.", "sender_fault": False},
]


def sqs_model():
    model = botocore.session.get_session().get_service_model("sqs")
    if model.metadata.get("protocol") != "query":
        sys.exit(
            "botocore %s speaks SQS over %s; run this with botocore 1.31.64 "
            "(scripts/pyenv.sh, then .venvs/query/bin/python)"
            % (botocore.__version__, model.metadata.get("protocol"))
        )
    return model


def form_body(model, op_name, params):
    op = model.operation_model(op_name)
    request = botocore.serialize.create_serializer("query").serialize_to_request(params, op)
    body = AWSRequest(method="POST", url="http://localhost/", data=request["body"]).prepare().body
    return body.decode() if isinstance(body, bytes) else body


def to_json_shape(shape, value):
    """botocore-native value (bytes for blobs) -> the JSON 1.0 shape (base64 text)."""
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure":
        return {k: to_json_shape(shape.members[k], v) for k, v in value.items()}
    if kind == "list":
        return [to_json_shape(shape.member, v) for v in value]
    if kind == "map":
        return {k: to_json_shape(shape.value, v) for k, v in value.items()}
    if kind == "blob":
        return base64.b64encode(value).decode()
    return value


def expected_parse(shape, value):
    """What botocore's query parser should return for a JSON output: blobs become bytes, and
    an empty flattened list is no element at all, so botocore reports it as absent."""
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for k, v in value.items():
            member = shape.members[k]
            if member.type_name == "list" and member.serialization.get("flattened") and not v:
                continue
            out[k] = expected_parse(member, v)
        return out
    if kind == "list":
        return [expected_parse(shape.member, v) for v in value]
    if kind == "map":
        return {k: expected_parse(shape.value, v) for k, v in value.items()}
    if kind == "blob":
        return base64.b64decode(value)
    return value


def rust_fixtures(model):
    lines = [
        "// Generated by scripts/check_query_codec.py --print-fixtures (botocore 1.31.64):",
        "// (action, form body botocore sends, JSON input the action must receive).",
        "const BOTOCORE_FORMS: &[(&str, &str, &str)] = &[",
    ]
    for op_name, params in SAMPLE_INPUTS:
        op = model.operation_model(op_name)
        expected = json.dumps(to_json_shape(op.input_shape, params), ensure_ascii=False,
                              separators=(",", ":"))
        lines.append("    (")
        lines.append("        %s," % json.dumps(op_name))
        lines.append("        r#\"%s\"#," % form_body(model, op_name, params))
        lines.append("        r#\"%s\"#," % expected)
        lines.append("    ),")
    lines.append("];")
    return "\n".join(lines)


def run_codec(cases, cargo_args):
    with tempfile.TemporaryDirectory(prefix="lull-query-check-") as tmp:
        path = os.path.join(tmp, "cases.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(cases, f, ensure_ascii=False)
        env = dict(os.environ, LULL_QUERY_CODEC_CHECK=path)
        cmd = ["cargo", "test", "--quiet", *cargo_args, "--", "--exact", DUMP_TEST]
        subprocess.run(cmd, cwd=REPO, env=env, check=True, stdout=sys.stderr)
        with open(path + ".out", encoding="utf-8") as f:
            return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--print-fixtures", action="store_true",
                    help="print the Rust fixture table and exit")
    ap.add_argument("--cargo-args", default=None,
                    help="arguments selecting the test target (default: --lib if src/lib.rs "
                         "exists, else --bin lull)")
    args = ap.parse_args()

    model = sqs_model()
    if args.print_fixtures:
        print(rust_fixtures(model))
        return 0

    covered = {name for name, _ in SAMPLE_INPUTS}
    missing = set(model.operation_names) - covered
    if missing:
        sys.exit("no sample input for: %s" % ", ".join(sorted(missing)))

    if args.cargo_args is not None:
        cargo_args = args.cargo_args.split()
    elif os.path.exists(os.path.join(REPO, "src", "lib.rs")):
        cargo_args = ["--lib"]
    else:
        cargo_args = ["--bin", "lull"]

    cases = {
        "inputs": [{"op": n, "form": form_body(model, n, p)} for n, p in SAMPLE_INPUTS],
        "outputs": [{"op": n, "json": j} for n, j in SAMPLE_OUTPUTS],
        "errors": SAMPLE_ERRORS,
    }
    result = run_codec(cases, cargo_args)
    parser = botocore.parsers.create_parser("query")
    failures = []

    for (op_name, params), got in zip(SAMPLE_INPUTS, result["inputs"]):
        want = to_json_shape(model.operation_model(op_name).input_shape, params)
        if got.get("decoded") != want:
            failures.append("input %s: decoded %r, want %r" % (op_name, got, want))

    for i, ((op_name, output), got) in enumerate(zip(SAMPLE_OUTPUTS, result["outputs"])):
        op = model.operation_model(op_name)
        xml = got["xml"].encode("utf-8")
        parsed = parser.parse({"body": xml, "headers": {}, "status_code": 200}, op.output_shape)
        meta = parsed.pop("ResponseMetadata", {})
        want = expected_parse(op.output_shape, output) if op.output_shape else {}
        if parsed != want:
            failures.append("output %s: botocore read %r, want %r\n  xml: %s"
                            % (op_name, parsed, want, got["xml"]))
        if meta.get("RequestId") != "req-%d" % i:
            failures.append("output %s: request id %r" % (op_name, meta.get("RequestId")))

    any_op = model.operation_model("SendMessage")
    for i, (err, got) in enumerate(zip(SAMPLE_ERRORS, result["errors"])):
        parsed = parser.parse(
            {"body": got["xml"].encode("utf-8"), "headers": {}, "status_code": 400},
            any_op.output_shape,
        )
        e = parsed.get("Error", {})
        want_type = "Sender" if err["sender_fault"] else "Receiver"
        if (e.get("Code"), e.get("Message"), e.get("Type")) != (
            err["code"], err["message"], want_type
        ) or parsed.get("ResponseMetadata", {}).get("RequestId") != "err-%d" % i:
            failures.append("error %s: botocore read %r\n  xml: %s" % (err["code"], parsed, got["xml"]))

    checked = len(SAMPLE_INPUTS) + len(SAMPLE_OUTPUTS) + len(SAMPLE_ERRORS)
    if failures:
        print("\n".join(failures))
        print("FAILED: %d of %d checks" % (len(failures), checked))
        return 1
    print("ok: %d inputs, %d outputs, %d errors read identically by botocore %s"
          % (len(SAMPLE_INPUTS), len(SAMPLE_OUTPUTS), len(SAMPLE_ERRORS), botocore.__version__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
