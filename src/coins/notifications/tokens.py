"""One-click unsubscribe tokens: who and which event type, signed with the app's secret key.

A link in an email must work without logging in (RFC 8058 mail clients POST to it on their own), so the
token itself is the authority: HMAC-SHA256 over the user id and event type under a key derived from
SECRET_KEY for this purpose only.  It does not expire (an old email's link should still work) and
changes nothing but that user's email setting for that event type.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from uuid import UUID

_PURPOSE = b"coins.notifications.unsubscribe.v1"
_MAC_BYTES = 16


class BadToken(Exception):
    pass


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: bytes) -> bytes:
    key = hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()
    return hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def make_unsubscribe_token(secret: str, user_id: UUID, event: str) -> str:
    payload = user_id.bytes + event.encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def read_unsubscribe_token(secret: str, token: str) -> tuple[UUID, str]:
    """(user id, event type) from a token; BadToken when it was not made with this secret."""
    try:
        encoded, _, signature = token.partition(".")
        payload, mac = _unb64(encoded), _unb64(signature)
    except (ValueError, TypeError):
        raise BadToken("malformed") from None
    if len(payload) <= 16 or not hmac.compare_digest(mac, _mac(secret, payload)):
        raise BadToken("bad signature")
    try:
        return UUID(bytes=payload[:16]), payload[16:].decode()
    except (ValueError, UnicodeDecodeError):
        raise BadToken("malformed") from None
