"""RegisterNewClientFunction (seed: src/app.py): stores each new customer from the
NewClientFunctionSQS queue in the `costumers` table.

lull runs it as a command function: the Lambda SQS event arrives on stdin, the answer goes
to stdout. `lambda_handler` is the seed's entry point unchanged in shape, so the same file
still deploys to Lambda.

A record whose body is not a customer (not JSON, or a field missing or empty) is reported in
`batchItemFailures`: lull makes it visible again, and after the queue's `max_receives` moves
it to NewClientDLQ. Good records in the same batch are committed and not retried.
"""

import json
import sys

from connection_postgresql import connect

FIELDS = ("name_costumer", "email", "phone")


class MalformedCustomer(ValueError):
    pass


def parse_customer(body: str) -> dict:
    try:
        customer = json.loads(body)
    except json.JSONDecodeError as e:
        raise MalformedCustomer(f"not JSON: {e}") from e
    if not isinstance(customer, dict):
        raise MalformedCustomer("not a JSON object")
    for field in FIELDS:
        value = customer.get(field)
        if not isinstance(value, str) or not value.strip():
            raise MalformedCustomer(f"{field} missing or empty")
        if len(value) > 256:
            raise MalformedCustomer(f"{field} longer than 256 characters")
    return customer


def lambda_handler(event, context=None):
    failures = []
    with connect() as conn:
        for record in event["Records"]:
            try:
                customer = parse_customer(record["body"])
                # One transaction per record: a failed insert fails only its own record.
                with conn.transaction():
                    conn.execute(
                        "INSERT INTO costumers (name_costumer, email, phone) VALUES (%s, %s, %s)",
                        [customer[f] for f in FIELDS],
                    )
            except Exception as e:  # noqa: BLE001 - every failure is reported per record
                print(f"record {record['messageId']} failed: {e}", file=sys.stderr)
                failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


if __name__ == "__main__":
    json.dump(lambda_handler(json.load(sys.stdin)), sys.stdout)
