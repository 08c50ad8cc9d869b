"""Queue management over the SQS API with boto3: CreateQueue, GetQueueUrl, ListQueues,
DeleteQueue, Get/SetQueueAttributes, PurgeQueue, tags and permissions.

Expected behaviour is AWS's as documented for API version 2012-11-05; error codes are
the query-protocol codes that boto3 reports for both wire protocols.
"""

import json
import time
from urllib.parse import urlparse

import pytest

from compat_util import ACCOUNT, attrs, queue_arn, raises_code, unique

STANDARD_ATTRS = {
    "QueueArn",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
}
FIFO_ATTRS = STANDARD_ATTRS | {"FifoQueue", "ContentBasedDeduplication"}


# ------------------------------------------------------------------ CreateQueue


def test_create_standard_queue_url_shape(sqs, endpoint, make_queue):
    url, name = make_queue()
    parsed, ep = urlparse(url), urlparse(endpoint)
    assert parsed.scheme == "http"
    assert parsed.netloc == ep.netloc, "queue URL is built from the request's Host"
    assert parsed.path == f"/{ACCOUNT}/{name}"


def test_create_queue_defaults(sqs, make_queue):
    url, name = make_queue()
    a = attrs(sqs, url)
    assert STANDARD_ATTRS <= set(a), f"missing {STANDARD_ATTRS - set(a)}"
    assert a["QueueArn"] == queue_arn(name)
    assert a["VisibilityTimeout"] == "30"
    assert a["MessageRetentionPeriod"] == "345600"
    assert a["DelaySeconds"] == "0"
    assert a["ReceiveMessageWaitTimeSeconds"] == "0"
    # Current SQS default (raised from 256 KiB to 1 MiB in 2025).
    assert a["MaximumMessageSize"] == "1048576"
    assert a["ApproximateNumberOfMessages"] == "0"
    assert a["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert a["ApproximateNumberOfMessagesDelayed"] == "0"
    assert "FifoQueue" not in a
    now = time.time()
    assert abs(int(a["CreatedTimestamp"]) - now) < 120
    assert abs(int(a["LastModifiedTimestamp"]) - now) < 120


def test_create_queue_with_attributes(sqs, make_queue):
    given = {
        "VisibilityTimeout": "45",
        "MessageRetentionPeriod": "3600",
        "DelaySeconds": "5",
        "ReceiveMessageWaitTimeSeconds": "3",
        "MaximumMessageSize": "2048",
    }
    url, _ = make_queue(attributes=given)
    a = attrs(sqs, url, *given)
    assert a == given


def test_create_fifo_queue(sqs, make_queue):
    url, name = make_queue(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    assert url.endswith("/" + name)
    a = attrs(sqs, url)
    assert FIFO_ATTRS <= set(a), f"missing {FIFO_ATTRS - set(a)}"
    assert a["FifoQueue"] == "true"
    assert a["ContentBasedDeduplication"] == "true"
    assert a["QueueArn"] == queue_arn(name)


def test_fifo_queue_defaults(sqs, make_queue):
    url, _ = make_queue(fifo=True)
    a = attrs(sqs, url, "All")
    assert a["ContentBasedDeduplication"] == "false"
    assert a.get("DeduplicationScope", "queue") == "queue"
    assert a.get("FifoThroughputLimit", "perQueue") == "perQueue"


def test_create_queue_idempotent_same_attributes(sqs, make_queue):
    url, name = make_queue(attributes={"VisibilityTimeout": "60"})
    again = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "60"})
    assert again["QueueUrl"] == url
    assert sqs.create_queue(QueueName=name)["QueueUrl"] == url


def test_create_queue_idempotent_fifo(sqs, make_queue):
    url, name = make_queue(fifo=True)
    again = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})
    assert again["QueueUrl"] == url


def test_create_queue_different_attributes_conflicts(sqs, make_queue):
    url, name = make_queue(attributes={"VisibilityTimeout": "60"})
    with raises_code("QueueAlreadyExists", sqs, "QueueNameExists"):
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "61"})
    assert attrs(sqs, url, "VisibilityTimeout")["VisibilityTimeout"] == "60"


@pytest.mark.parametrize(
    "name",
    ["has space", "a" * 81, "dot.name", "slash/name", "star*", "ünïcode", "name.fifo"],
    ids=["space", "81-chars", "dot", "slash", "star", "non-ascii", "fifo-suffix-on-standard"],
)
def test_create_queue_invalid_names(sqs, name):
    with raises_code("InvalidParameterValue"):
        sqs.create_queue(QueueName=name)


def test_create_queue_name_limits(sqs, make_queue):
    name = unique("x") + "_-" + "a" * 40
    name = name[:80]
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    try:
        assert url.endswith("/" + name)
    finally:
        sqs.delete_queue(QueueUrl=url)
    fifo = (unique("f") + "a" * 80)[:75] + ".fifo"
    assert len(fifo) == 80
    url = sqs.create_queue(QueueName=fifo, Attributes={"FifoQueue": "true"})["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    with raises_code("InvalidParameterValue"):
        sqs.create_queue(
            QueueName=(unique("f") + "a" * 80)[:76] + ".fifo", Attributes={"FifoQueue": "true"}
        )


def test_create_fifo_attribute_requires_fifo_suffix(sqs):
    with raises_code("InvalidParameterValue"):
        sqs.create_queue(QueueName=unique("nofifo"), Attributes={"FifoQueue": "true"})


@pytest.mark.parametrize(
    "attr,value",
    [
        ("VisibilityTimeout", "43201"),
        ("VisibilityTimeout", "-1"),
        ("VisibilityTimeout", "abc"),
        ("MessageRetentionPeriod", "59"),
        ("MessageRetentionPeriod", "1209601"),
        ("DelaySeconds", "901"),
        ("ReceiveMessageWaitTimeSeconds", "21"),
        ("MaximumMessageSize", "1023"),
        ("MaximumMessageSize", "1048577"),
    ],
)
def test_create_queue_invalid_attribute_values(sqs, attr, value):
    name = unique("badattr")
    with raises_code("InvalidAttributeValue"):
        sqs.create_queue(QueueName=name, Attributes={attr: value})
    with raises_code("AWS.SimpleQueueService.NonExistentQueue"):
        sqs.get_queue_url(QueueName=name)


@pytest.mark.parametrize(
    "attr,value",
    [
        ("VisibilityTimeout", "0"),
        ("VisibilityTimeout", "43200"),
        ("MessageRetentionPeriod", "60"),
        ("MessageRetentionPeriod", "1209600"),
        ("DelaySeconds", "900"),
        ("ReceiveMessageWaitTimeSeconds", "20"),
        ("MaximumMessageSize", "1024"),
        ("MaximumMessageSize", "1048576"),
    ],
)
def test_create_queue_attribute_bounds_accepted(sqs, make_queue, attr, value):
    url, _ = make_queue(attributes={attr: value})
    assert attrs(sqs, url, attr)[attr] == value


def test_create_queue_unknown_attribute(sqs):
    with raises_code("InvalidAttributeName"):
        sqs.create_queue(QueueName=unique("unknown"), Attributes={"NoSuchAttribute": "1"})


def test_create_queue_with_tags(sqs, make_queue):
    url, _ = make_queue(tags={"team": "core", "env": "test"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "core", "env": "test"}


# ------------------------------------------------------------------ GetQueueUrl


def test_get_queue_url(sqs, make_queue):
    url, name = make_queue()
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    owned = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=ACCOUNT)
    assert owned["QueueUrl"] == url


def test_get_queue_url_nonexistent(sqs):
    with raises_code("AWS.SimpleQueueService.NonExistentQueue", sqs, "QueueDoesNotExist", 400):
        sqs.get_queue_url(QueueName=unique("missing"))


# ------------------------------------------------------------------ ListQueues


def test_list_queues_prefix(sqs, make_queue):
    prefix = unique("lp")
    urls = {make_queue(prefix=prefix)[0] for _ in range(3)}
    other, _ = make_queue(prefix=unique("other"))
    listed = sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    assert set(listed) == urls
    assert other not in listed
    everything = []
    token = None
    while True:
        kw = {"MaxResults": 1000}
        if token:
            kw["NextToken"] = token
        page = sqs.list_queues(**kw)
        everything += page.get("QueueUrls", [])
        token = page.get("NextToken")
        if not token:
            break
    assert urls | {other} <= set(everything)


def test_list_queues_no_match(sqs):
    resp = sqs.list_queues(QueueNamePrefix=unique("nomatch"))
    assert resp.get("QueueUrls", []) == []
    assert "NextToken" not in resp


def test_list_queues_pagination(sqs, make_queue):
    prefix = unique("pg")
    urls = {make_queue(prefix=prefix)[0] for _ in range(5)}
    seen = []
    token = None
    pages = 0
    while True:
        kw = {"QueueNamePrefix": prefix, "MaxResults": 2}
        if token:
            kw["NextToken"] = token
        page = sqs.list_queues(**kw)
        pages += 1
        got = page.get("QueueUrls", [])
        assert len(got) <= 2
        seen += got
        token = page.get("NextToken")
        if not token:
            break
        assert pages < 10, "pagination does not terminate"
    assert sorted(seen) == sorted(urls), "every queue exactly once"
    assert pages >= 3


def test_list_queues_paginator(sqs, make_queue):
    prefix = unique("pgn")
    urls = {make_queue(prefix=prefix)[0] for _ in range(3)}
    paginator = sqs.get_paginator("list_queues")
    seen = []
    for page in paginator.paginate(QueueNamePrefix=prefix, PaginationConfig={"PageSize": 1}):
        seen += page.get("QueueUrls", [])
    assert sorted(seen) == sorted(urls)


# ------------------------------------------------------------------ DeleteQueue


def test_delete_queue(sqs, queue_name):
    name = queue_name("del")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="bye")
    sqs.delete_queue(QueueUrl=url)
    with raises_code("AWS.SimpleQueueService.NonExistentQueue", sqs, "QueueDoesNotExist"):
        sqs.get_queue_url(QueueName=name)
    assert url not in sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", [])
    with raises_code("AWS.SimpleQueueService.NonExistentQueue", sqs, "QueueDoesNotExist"):
        sqs.send_message(QueueUrl=url, MessageBody="x")
    with raises_code("AWS.SimpleQueueService.NonExistentQueue", sqs, "QueueDoesNotExist"):
        sqs.delete_queue(QueueUrl=url)


@pytest.mark.parametrize(
    "op,kw",
    [
        ("send_message", {"MessageBody": "x"}),
        ("receive_message", {}),
        ("get_queue_attributes", {"AttributeNames": ["All"]}),
        ("set_queue_attributes", {"Attributes": {"VisibilityTimeout": "5"}}),
        ("purge_queue", {}),
        ("list_queue_tags", {}),
    ],
)
def test_operations_on_missing_queue(sqs, endpoint, op, kw):
    url = f"{endpoint}/{ACCOUNT}/{unique('ghost')}"
    with raises_code("AWS.SimpleQueueService.NonExistentQueue", sqs, "QueueDoesNotExist"):
        getattr(sqs, op)(QueueUrl=url, **kw)


# ------------------------------------------------------------------ Get/SetQueueAttributes


@pytest.mark.parametrize("name", sorted(STANDARD_ATTRS))
def test_get_single_attribute(sqs, make_queue, name):
    url, _ = make_queue()
    a = attrs(sqs, url, name)
    assert set(a) == {name}


def test_get_attributes_no_names_returns_none(sqs, make_queue):
    url, _ = make_queue()
    resp = sqs.get_queue_attributes(QueueUrl=url)
    assert resp.get("Attributes", {}) == {}


def test_get_unknown_attribute_name(sqs, make_queue):
    url, _ = make_queue()
    with raises_code("InvalidAttributeName"):
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["NotAnAttribute"])


def test_set_queue_attributes(sqs, make_queue):
    url, _ = make_queue()
    new = {
        "VisibilityTimeout": "100",
        "DelaySeconds": "10",
        "MessageRetentionPeriod": "86400",
        "ReceiveMessageWaitTimeSeconds": "15",
        "MaximumMessageSize": "4096",
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes=new)
    assert attrs(sqs, url, *new) == new


def test_set_queue_attributes_invalid_leaves_queue_unchanged(sqs, make_queue):
    url, _ = make_queue(attributes={"VisibilityTimeout": "40"})
    with raises_code("InvalidAttributeValue"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "43201"})
    with raises_code("InvalidAttributeValue"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "59"})
    with raises_code("InvalidAttributeName"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Bogus": "1"})
    assert attrs(sqs, url, "VisibilityTimeout")["VisibilityTimeout"] == "40"


def test_approximate_counts(sqs, make_queue):
    url, _ = make_queue()
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=60)
    assert len(got["Messages"]) == 1
    a = attrs(
        sqs,
        url,
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    )
    assert a == {
        "ApproximateNumberOfMessages": "2",
        "ApproximateNumberOfMessagesNotVisible": "1",
        "ApproximateNumberOfMessagesDelayed": "1",
    }
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got["Messages"][0]["ReceiptHandle"])
    assert attrs(sqs, url, "ApproximateNumberOfMessagesNotVisible") == {
        "ApproximateNumberOfMessagesNotVisible": "0"
    }


# ------------------------------------------------------------------ PurgeQueue


def test_purge_queue(sqs, make_queue):
    url, _ = make_queue()
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"p{i}")
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=60)
    sqs.purge_queue(QueueUrl=url)
    # AWS documents up to 60 s for a purge to finish; a local broker does it at once.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        a = attrs(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
        if a == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}:
            break
        time.sleep(0.2)
    assert a == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    # New messages after the purge are kept.
    sqs.send_message(QueueUrl=url, MessageBody="after")
    msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages", [])
    assert [m["Body"] for m in msgs] == ["after"]


def test_purge_twice_within_60s(sqs, make_queue):
    url, _ = make_queue()
    sqs.purge_queue(QueueUrl=url)
    with raises_code("AWS.SimpleQueueService.PurgeQueueInProgress", sqs, "PurgeQueueInProgress"):
        sqs.purge_queue(QueueUrl=url)


# ------------------------------------------------------------------ tags


def test_tag_untag_list(sqs, make_queue):
    url, _ = make_queue()
    assert sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) == {}
    sqs.tag_queue(QueueUrl=url, Tags={"a": "1", "b": "2"})
    sqs.tag_queue(QueueUrl=url, Tags={"b": "two", "c": "3"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"a": "1", "b": "two", "c": "3"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["a", "c", "not-there"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"b": "two"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["b"])
    assert sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) == {}


def test_tag_values_unicode_and_empty(sqs, make_queue):
    url, _ = make_queue()
    sqs.tag_queue(QueueUrl=url, Tags={"owner": "José Ñ", "empty": ""})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"owner": "José Ñ", "empty": ""}


# ------------------------------------------------------------------ permissions


def _policy(sqs, url):
    raw = attrs(sqs, url, "Policy").get("Policy")
    return json.loads(raw) if raw else None


def _as_list(v):
    return v if isinstance(v, list) else [v]


def test_add_remove_permission(sqs, make_queue):
    url, name = make_queue()
    assert _policy(sqs, url) is None
    sqs.add_permission(
        QueueUrl=url,
        Label="send-from-partner",
        AWSAccountIds=["111122223333"],
        Actions=["SendMessage"],
    )
    sqs.add_permission(
        QueueUrl=url,
        Label="read-from-other",
        AWSAccountIds=["444455556666", "777788889999"],
        Actions=["ReceiveMessage", "DeleteMessage"],
    )
    policy = _policy(sqs, url)
    assert policy["Version"] == "2012-10-17"
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert set(by_sid) == {"send-from-partner", "read-from-other"}
    s1 = by_sid["send-from-partner"]
    assert s1["Effect"] == "Allow"
    assert _as_list(s1["Principal"]["AWS"]) == ["arn:aws:iam::111122223333:root"]
    assert _as_list(s1["Action"]) == ["SQS:SendMessage"]
    assert s1["Resource"] == queue_arn(name)
    s2 = by_sid["read-from-other"]
    assert sorted(_as_list(s2["Principal"]["AWS"])) == [
        "arn:aws:iam::444455556666:root",
        "arn:aws:iam::777788889999:root",
    ]
    assert sorted(_as_list(s2["Action"])) == ["SQS:DeleteMessage", "SQS:ReceiveMessage"]

    sqs.remove_permission(QueueUrl=url, Label="send-from-partner")
    policy = _policy(sqs, url)
    assert [s["Sid"] for s in policy["Statement"]] == ["read-from-other"]
    sqs.remove_permission(QueueUrl=url, Label="read-from-other")
    remaining = _policy(sqs, url)
    assert remaining is None or remaining.get("Statement", []) == []


def test_add_permission_duplicate_label(sqs, make_queue):
    url, _ = make_queue()
    sqs.add_permission(QueueUrl=url, Label="dup", AWSAccountIds=[ACCOUNT], Actions=["*"])
    with raises_code("InvalidParameterValue"):
        sqs.add_permission(QueueUrl=url, Label="dup", AWSAccountIds=[ACCOUNT], Actions=["*"])


def test_remove_unknown_permission(sqs, make_queue):
    url, _ = make_queue()
    with raises_code("InvalidParameterValue"):
        sqs.remove_permission(QueueUrl=url, Label="never-added")


def test_policy_attribute_set_directly(sqs, make_queue):
    url, name = make_queue()
    policy = {
        "Version": "2012-10-17",
        "Id": "p1",
        "Statement": [
            {
                "Sid": "all",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "sqs:SendMessage",
                "Resource": queue_arn(name),
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    assert _policy(sqs, url) == policy
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    assert _policy(sqs, url) is None
