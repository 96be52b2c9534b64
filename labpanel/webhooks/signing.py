"""Signatures in the Standard Webhooks scheme (https://www.standardwebhooks.com).

The secret is ``whsec_`` followed by base64 of the key bytes; the signed content is
``"{webhook-id}.{webhook-timestamp}.{body}"``; the ``Webhook-Signature`` header is ``v1,`` and
the base64 HMAC-SHA256 of it. Receivers verify with any Standard Webhooks library or the few
lines of the README.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - the scheme's prefix, not a secret


def secret_generate() -> str:
    """A new subscription secret: 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``Webhook-Signature`` header value for ``body`` sent as ``message_id`` at
    ``timestamp`` (Unix seconds)."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_verify(
    *, secret: str, message_id: str, timestamp: int, body: bytes, header: str
) -> bool:
    """Whether one of the space-separated signatures of ``header`` signs ``body``."""
    expected = signature(secret=secret, message_id=message_id, timestamp=timestamp, body=body)
    return any(hmac.compare_digest(expected, given) for given in header.split())
