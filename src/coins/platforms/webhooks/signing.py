"""Webhook signatures and endpoint secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac

SIGNATURE_HEADER = "Coins-Signature"


SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def endpoint_secret(secret_key: str, salt: str) -> str:
    digest = hmac.new(secret_key.encode(), f"coins-webhook-secret:{salt}".encode(), hashlib.sha256).digest()
    return SECRET_PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"
