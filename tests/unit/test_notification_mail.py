"""Unsubscribe tokens, the MIME message (headers, stable Message-ID) and how aiosmtplib is configured."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import aiosmtplib
import pytest

from coins.mail.delivery import build_mime, deliver_many, smtp_options, wire_bytes
from coins.mail.models import EmailMessage
from coins.notifications.tokens import BadToken, make_unsubscribe_token, read_unsubscribe_token
from coins.settings import SmtpSettings

SECRET = "a-test-secret-that-is-long-enough-0123456789"


def test_unsubscribe_tokens_round_trip_and_refuse_tampering() -> None:
    user = uuid4()
    token = make_unsubscribe_token(SECRET, user, "idea_accepted")
    assert read_unsubscribe_token(SECRET, token) == (user, "idea_accepted")
    assert token.isascii() and "/" not in token and "=" not in token  # fits in a URL path as is
    assert make_unsubscribe_token(SECRET, user, "idea_accepted") == token  # stable: old emails keep working
    payload, _, signature = token.partition(".")
    other = make_unsubscribe_token(SECRET, user, "invitation")
    for forged in (
        f"{other.partition('.')[0]}.{signature}",  # another event type under this signature
        f"{payload}.{signature[:-2]}AA",
        make_unsubscribe_token("another-secret-that-is-long-enough-0123456", user, "idea_accepted"),
        "",
        "no-dot",
        "%%%.***",
    ):
        with pytest.raises(BadToken):
            read_unsubscribe_token(SECRET, forged)


def test_mime_carries_the_extra_headers_and_a_message_id_that_never_changes() -> None:
    message = EmailMessage(
        id=uuid4(),
        to_address="ada@example.org",
        kind="idea_accepted",
        subject="“Solar panels” was accepted",
        body_text="Hello Ada",
        body_html="<p>Hello Ada</p>",
        headers={
            "List-Unsubscribe": "<https://coins.example/notifications/unsubscribe/abc.def>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    sender = "Coins for Change <noreply@coins.example>"
    first, again = build_mime(message, sender), build_mime(message, sender)
    assert first["Message-ID"] == again["Message-ID"] == f"<{message.id}@coins.example>"
    assert first["List-Unsubscribe"] == "<https://coins.example/notifications/unsubscribe/abc.def>"
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first.get_content_type() == "multipart/alternative"
    # On the wire the URL stays one plain line (not folded into encoded words a mail client cannot use).
    wire = wire_bytes(first)
    assert b"\r\nList-Unsubscribe: <https://coins.example/notifications/unsubscribe/abc.def>\r\n" in wire


def test_a_long_unsubscribe_url_is_never_encoded_or_folded() -> None:
    url = "https://coins.example/notifications/unsubscribe/" + "A" * 60 + "." + "B" * 22
    message = EmailMessage(id=uuid4(), to_address="a@example.org", kind="k", subject="“Quoted” subject",
                           body_text="Grüße “x”", body_html="", headers={"List-Unsubscribe": f"<{url}>"})  # fmt: skip
    wire = wire_bytes(build_mime(message, "noreply@coins.example"))
    assert f"\r\nList-Unsubscribe: <{url}>\r\n".encode() in wire
    assert b"Subject: =?utf-8?" in wire  # a non-ASCII subject is still encoded as it should be
    assert wire.isascii()  # 7-bit throughout: no server needs 8BITMIME for it


def test_smtp_options_log_in_only_with_a_password_and_use_tls_as_configured() -> None:
    plain = smtp_options(SmtpSettings(host="mail.local", port=25, username="relay", password=""))
    assert (plain["username"], plain["password"]) == (None, None)  # an empty password: no AUTH at all
    assert (plain["start_tls"], plain["use_tls"], plain["port"]) == (False, False, 25)
    login = smtp_options(SmtpSettings(host="mail.local", username="me", password="pw", starttls=True))
    assert (login["username"], login["password"], login["start_tls"], login["use_tls"]) == ("me", "pw", True, False)
    implicit = smtp_options(SmtpSettings(host="mail.local", port=465, use_tls=True))
    assert (implicit["use_tls"], implicit["start_tls"], implicit["port"]) == (True, False, 465)


async def test_a_batch_with_nothing_to_send_opens_no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages already sent (or in flight elsewhere) are skipped without touching the SMTP server."""
    made: list[dict[str, Any]] = []

    class FakeSMTP:
        def __init__(self, **options: Any) -> None:
            made.append(options)

    class NoSession:
        async def execute(self, *_: Any, **__: Any) -> Any:
            class Result:
                def scalars(self) -> list[Any]:
                    return []  # nothing still pending

            return Result()

        async def commit(self) -> None:
            return None

    monkeypatch.setattr(aiosmtplib, "SMTP", FakeSMTP)
    counts = await deliver_many(NoSession(), object(), [uuid4(), uuid4()])  # type: ignore[arg-type]
    assert counts == {"sent": 0, "skipped": 2, "failed": 0}
    assert made == []  # nothing to send: no connection at all
