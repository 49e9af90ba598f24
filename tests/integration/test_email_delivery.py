"""Email over real SMTP (aiosmtpd) delivered by a real SAQ worker process, retries included."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.app import create_app
from coins.mail.models import EmailMessage
from coins.settings import Settings
from tests.conftest import register
from tests.support.servers import PROJECT_ROOT, unique_email
from tests.support.smtp import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def worker(app_env: Callable[..., dict[str, str]], smtp: SmtpServer, clean: None) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, **app_env(SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp.port), LOG_LEVEL="INFO")}
    process = subprocess.Popen([sys.executable, "-m", "coins", "worker"], cwd=PROJECT_ROOT, env=env)
    yield process
    process.terminate()
    process.wait(timeout=30)


async def wait_for_status(db_engine: AsyncEngine, to: str, status: str, timeout: float = 30.0) -> EmailMessage:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with db_engine.connect() as conn:
            row = (await conn.execute(select(EmailMessage).where(EmailMessage.to_address == to))).first()
        if row is not None and row.status == status:
            return row  # type: ignore[return-value]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"email to {to} never reached {status!r}; last row: {row}")
        await asyncio.sleep(0.2)


async def test_reset_email_goes_over_smtp(
    make_settings: Callable[..., Settings],
    smtp: SmtpServer,
    worker: subprocess.Popen[bytes],
    db_engine: AsyncEngine,
) -> None:
    app = create_app(make_settings(smtp={"host": "127.0.0.1", "port": smtp.port}))
    email = unique_email()
    async with AsyncTestClient(app=app) as client:
        await register(client, email=email, name="Mary Somerville")
        assert (await client.post("/api/auth/password-reset", json={"email": email})).status_code == 202

    row = await wait_for_status(db_engine, email, "sent")
    assert row.attempts == 1
    assert len(smtp.mailbox.messages) == 1
    message = smtp.mailbox.messages[0]
    assert message["To"] == email
    assert message["Subject"] == "Reset your Coins for Change password"
    assert message["Message-ID"]
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk()
        if not part.is_multipart()
    }
    assert "Hello Mary Somerville" in parts["text/plain"]
    assert "/password/reset/" in parts["text/plain"]
    assert "/password/reset/" in parts["text/html"]


async def test_smtp_outage_is_retried_and_nothing_is_lost(
    make_settings: Callable[..., Settings],
    smtp: SmtpServer,
    worker: subprocess.Popen[bytes],
    db_engine: AsyncEngine,
) -> None:
    smtp.stop()  # the mail server is down when the email is sent
    app = create_app(make_settings(smtp={"host": "127.0.0.1", "port": smtp.port}))
    email = unique_email()
    async with AsyncTestClient(app=app) as client:
        await register(client, email=email)
        await client.post("/api/auth/password-reset", json={"email": email})

    deadline = asyncio.get_running_loop().time() + 20
    while True:
        async with db_engine.connect() as conn:
            row = (await conn.execute(select(EmailMessage).where(EmailMessage.to_address == email))).one()
        if row.attempts >= 1 and row.last_error:
            break
        assert asyncio.get_running_loop().time() < deadline, "the worker never tried to deliver"
        await asyncio.sleep(0.2)
    assert row.status == "pending"
    assert "Connect" in row.last_error or "refused" in row.last_error.lower()

    smtp.start()  # the server comes back; the job's retry (exponential backoff) delivers it
    delivered = await wait_for_status(db_engine, email, "sent", timeout=40)
    assert delivered.attempts >= 2
    assert [m["To"] for m in smtp.mailbox.messages] == [email]  # exactly once
