"""A real SMTP server (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import email
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from coins.lib.embedded import free_port


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


class SmtpServer:
    """With `credentials`, the server offers AUTH (over plain text, as a local test server may) and records
    every log-in attempt in `logins`; without, it knows no AUTH at all, like an open relay."""

    def __init__(self, port: int | None = None, credentials: tuple[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.mailbox = Mailbox()
        self.controller: Controller | None = None
        self.credentials = credentials
        self.logins: list[tuple[str, str]] = []

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        login = (data.login.decode(), data.password.decode())
        self.logins.append(login)
        return AuthResult(success=login == self.credentials, handled=False)

    def start(self) -> SmtpServer:
        options: dict[str, Any] = {}
        if self.credentials is not None:
            options = {"authenticator": self._authenticate, "auth_require_tls": False}
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
