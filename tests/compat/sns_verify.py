"""Verifies SNS message signatures the way subscribers' own code does: fetch the certificate
at SigningCertURL, rebuild the canonical string to sign, and check the RSA PKCS#1 v1.5
signature (SHA1 for SignatureVersion 1, SHA256 for 2) with `cryptography`."""

from __future__ import annotations

import base64

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

# The fields SNS signs, in order, per message type.
SIGNED_FIELDS = {
    "Notification": ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
    "SubscriptionConfirmation": [
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ],
}
SIGNED_FIELDS["UnsubscribeConfirmation"] = SIGNED_FIELDS["SubscriptionConfirmation"]

_certificates: dict[str, x509.Certificate] = {}


def string_to_sign(doc: dict) -> bytes:
    out = []
    for field in SIGNED_FIELDS[doc["Type"]]:
        value = doc.get(field)
        if value is not None:
            out.append(f"{field}\n{value}\n")
    return "".join(out).encode("utf-8")


def certificate(url: str) -> x509.Certificate:
    if url not in _certificates:
        r = requests.get(url, timeout=10)
        assert r.status_code == 200, f"GET {url}: {r.status_code}"
        _certificates[url] = x509.load_pem_x509_certificate(r.content)
    return _certificates[url]


def verify(doc: dict) -> None:
    """Raises if `doc` (a notification, a confirmation, or a Lambda record's `Sns`) does not
    carry a valid signature."""
    cert_url = doc.get("SigningCertURL") or doc.get("SigningCertUrl")
    assert cert_url, f"no certificate URL in {doc}"
    digest = {"1": hashes.SHA1(), "2": hashes.SHA256()}[doc["SignatureVersion"]]
    signature = base64.b64decode(doc["Signature"])
    certificate(cert_url).public_key().verify(
        signature, string_to_sign(doc), padding.PKCS1v15(), digest
    )
