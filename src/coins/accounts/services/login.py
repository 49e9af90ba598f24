"""Logging in: Argon2id verification in constant-ish time for unknown addresses too, and a lock-out after
repeated failures (counted in one statement, so parallel guesses cannot slip past the limit)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.events import UserLockedOut
from coins.accounts.models import User
from coins.accounts.passwords import hash_password, needs_rehash, verify_password
from coins.accounts.services.validation import normalise_email
from coins.lib.db import commit
from coins.lib.errors import AccountInactive, AccountLocked, AppError, AuthenticationFailed
from coins.lib.events import EventBus
from coins.settings import SecuritySettings

logger = logging.getLogger("coins.accounts")


class LogIn:
    def __init__(self, session: AsyncSession, events: EventBus, security: SecuritySettings) -> None:
        self.db = session
        self.events = events
        self.security = security

    async def authenticate(self, *, email: str, password: str) -> User:
        user = await self.db.scalar(select(User).where(User.email == normalise_email(email)))
        if user is None:
            await verify_password(None, password)  # same time as a wrong password
            raise AuthenticationFailed("Wrong email or password.")
        now = datetime.now(UTC)
        if user.locked_until is not None and user.locked_until > now:
            raise self._locked(user.locked_until)
        if not await verify_password(user.password_hash, password):
            await self._record_failure(user)
            raise self._failure_error(user)
        if not user.is_active:
            raise AccountInactive()
        user.failed_login_count = 0
        user.locked_until = None
        user.last_login_at = now
        if needs_rehash(user.password_hash):
            user.password_hash = await hash_password(password)
        await commit(self.db)
        return user

    async def _record_failure(self, user: User) -> None:
        """Count the failure in one statement, so parallel guesses cannot slip past the limit."""
        lock_for = timedelta(minutes=self.security.lockout_minutes)
        lock_expired = (User.locked_until.is_not(None)) & (User.locked_until <= func.now())
        new_count = case((lock_expired, 1), else_=User.failed_login_count + 1)
        result = await self.db.execute(
            update(User)
            .where(User.id == user.id)
            .values(
                failed_login_count=new_count,
                locked_until=case(
                    (new_count >= self.security.max_failed_logins, func.now() + lock_for),
                    (lock_expired, None),
                    else_=User.locked_until,
                ),
            )
            .returning(User.failed_login_count, User.locked_until)
        )
        row = result.one()
        if row.failed_login_count == self.security.max_failed_logins:  # this failure locked the account
            await self.events.publish(
                self.db,
                UserLockedOut(
                    action="user.locked_out", user_id=user.id, actor_id=None,
                    after={"failed_logins": row.failed_login_count, "locked_until": row.locked_until.isoformat()},
                ),
            )  # fmt: skip
        await commit(self.db)
        user.failed_login_count, user.locked_until = row.failed_login_count, row.locked_until
        if row.locked_until is not None and row.failed_login_count >= self.security.max_failed_logins:
            logger.warning(
                "account locked after %s failed log-ins",
                row.failed_login_count,
                extra={"user_id": str(user.id), "locked_until": row.locked_until.isoformat()},
            )
        else:
            logger.info("failed log-in", extra={"user_id": str(user.id), "failures": row.failed_login_count})

    def _failure_error(self, user: User) -> AppError:
        if user.locked_until is not None and user.locked_until > datetime.now(UTC):
            return self._locked(user.locked_until)
        left = self.security.max_failed_logins - user.failed_login_count
        message = "Wrong email or password."
        if 0 < left <= 2:
            message += f" {left} attempt{'s' if left > 1 else ''} left before the account is locked for "
            message += f"{self.security.lockout_minutes} minutes."
        return AuthenticationFailed(message)

    def _locked(self, until: datetime) -> AccountLocked:
        minutes = max(1, int((until - datetime.now(UTC)).total_seconds() // 60) + 1)
        return AccountLocked(
            f"Too many failed log-ins: this account is locked until {until:%H:%M} UTC "
            f"(about {minutes} minute{'s' if minutes > 1 else ''}). Try again later or reset your password.",
            details={"locked_until": until.isoformat()},
        )
