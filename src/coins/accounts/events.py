"""What happens to accounts: sign-up, profile and password changes, lock-outs, system roles, activation.

Published by the account services inside the transaction of the change; the audit trail keeps them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from coins.lib.events import AuditEntry, Event


@dataclass(frozen=True, kw_only=True)
class AccountEvent(Event):
    """`action` is the audit trail's name for it (user.registered, user.password_changed, ...)."""

    action: str
    user_id: UUID
    actor_id: UUID | None
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)

    def audit(self) -> AuditEntry:
        return AuditEntry(self.action, "user", self.user_id, self.actor_id, self.before, self.after)


@dataclass(frozen=True, kw_only=True)
class UserRegistered(AccountEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class ProfileUpdated(AccountEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class PasswordChanged(AccountEvent):
    """Changed by its owner, or through a reset link (`action` tells which)."""


@dataclass(frozen=True, kw_only=True)
class UserLockedOut(AccountEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class SystemRoleChanged(AccountEvent):
    """Admin or sponsor granted or revoked (also an admin made or reset from the command line)."""


@dataclass(frozen=True, kw_only=True)
class ActivationChanged(AccountEvent):
    active: bool = True
