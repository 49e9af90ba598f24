"""Passwords: changing one's own, and resetting it by an emailed single-use link valid one hour."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.events import PasswordChanged
from coins.accounts.models import PasswordResetToken, User
from coins.accounts.passwords import hash_password, verify_password
from coins.accounts.services.validation import normalise_email, validate_email, validate_new_password
from coins.lib.db import commit, rollback
from coins.lib.errors import AppError, InvalidInput
from coins.lib.events import EventBus
from coins.mail.mailer import Mailer
from coins.settings import SecuritySettings

logger = logging.getLogger("coins.accounts")


class ResetTokenInvalid(AppError):
    error_code = "ACCOUNT_002"
    default_message = "This password reset link is invalid, already used, or expired. Ask for a new one."


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def set_password(user: User, password: str) -> None:
    """A new password ends every other session and token (the security stamp moves) and lifts a lock-out."""
    user.password_hash = await hash_password(password)
    user.password_changed_at = datetime.now(UTC)
    user.security_stamp += 1
    user.failed_login_count = 0
    user.locked_until = None


class Passwords:
    def __init__(
        self, session: AsyncSession, events: EventBus, security: SecuritySettings, mailer: Mailer | None = None
    ) -> None:
        self.db = session
        self.events = events
        self.security = security
        self.mailer = mailer

    async def change_password(self, user_id: UUID, *, current: str, new: str) -> User:
        user = await self.db.get_one(User, user_id)
        if not await verify_password(user.password_hash, current):
            raise InvalidInput(
                "Please correct the highlighted fields.",
                fields={"current_password": "That is not your current password."},
            )
        if problem := validate_new_password(new):
            raise InvalidInput("Please correct the highlighted fields.", fields={"new_password": problem})
        await set_password(user, new)
        await self.events.publish(
            self.db, PasswordChanged(action="user.password_changed", user_id=user.id, actor_id=user.id)
        )
        await commit(self.db)
        return user

    async def request_password_reset(self, email: str) -> None:
        """Send a reset link if the account exists; say nothing either way (no account discovery)."""
        if validate_email(email):
            return
        user = await self.db.scalar(select(User).where(User.email == normalise_email(email)))
        if user is None or not user.is_active:
            logger.info("password reset asked for an unknown or inactive address")
            return
        token = secrets.token_urlsafe(32)
        self.db.add(
            PasswordResetToken(
                user_id=user.id,
                token_hash=_token_hash(token),
                expires_at=datetime.now(UTC) + timedelta(seconds=self.security.password_reset_ttl),
            )
        )
        if self.mailer is not None:
            self.mailer.send(
                self.db,
                to=user.email,
                user_id=user.id,
                template="password_reset",
                context={
                    "user": user,
                    "reset_url": self.mailer.links.url("password.reset", token=token),
                    "valid_minutes": self.security.password_reset_ttl // 60,
                },
            )
        await commit(self.db)

    async def check_reset_token(self, token: str) -> PasswordResetToken:
        found = await self.db.scalar(
            select(PasswordResetToken).where(
                PasswordResetToken.token_hash == _token_hash(token),
                PasswordResetToken.used_at.is_(None),
                PasswordResetToken.expires_at > func.now(),
            )
        )
        if found is None:
            raise ResetTokenInvalid()
        return found

    async def reset_password(self, token: str, new_password: str) -> User:
        if problem := validate_new_password(new_password):
            raise InvalidInput("Please correct the highlighted fields.", fields={"password": problem})
        # Claim the token in one statement: two tabs submitting the same link cannot both use it.
        claimed = await self.db.execute(
            update(PasswordResetToken)
            .where(
                PasswordResetToken.token_hash == _token_hash(token),
                PasswordResetToken.used_at.is_(None),
                PasswordResetToken.expires_at > func.now(),
            )
            .values(used_at=func.now())
            .returning(PasswordResetToken.user_id)
        )
        row = claimed.first()
        if row is None:
            await rollback(self.db)
            raise ResetTokenInvalid()
        user = await self.db.get_one(User, row.user_id)
        await set_password(user, new_password)
        await self.events.publish(
            self.db, PasswordChanged(action="user.password_reset", user_id=user.id, actor_id=user.id)
        )
        await commit(self.db)
        return user
