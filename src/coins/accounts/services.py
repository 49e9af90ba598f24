"""Account rules: sign-up, log-in with lock-out, passwords, resets, profile, roles.

Both front doors (the JSON API and the pages) call these methods; none of these rules live in a
controller.  Every method that changes data commits explicitly.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy import case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.models import PasswordResetToken, User
from coins.accounts.passwords import (
    describe_password_problems,
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)
from coins.lib import audit
from coins.lib.db import commit, flush_unique, rollback
from coins.lib.errors import (
    AccountInactive,
    AccountLocked,
    AppError,
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from coins.notifications.mail import Mailer
from coins.settings import SecuritySettings

logger = logging.getLogger("coins.accounts")

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
SystemRole = Literal["admin", "sponsor"]
SYSTEM_ROLES: tuple[SystemRole, ...] = ("admin", "sponsor")


class ResetTokenInvalid(AppError):
    error_code = "ACCOUNT_002"
    status_code = 400
    default_message = "This password reset link is invalid, already used, or expired. Ask for a new one."


def normalise_email(raw: str) -> str:
    return raw.strip().lower()


def validate_email(raw: str) -> str | None:
    email = normalise_email(raw)
    if not email:
        return "Enter your email address."
    if len(email) > 320 or not EMAIL_RE.match(email):
        return "Enter a valid email address, like name@example.org."
    return None


def validate_full_name(raw: str) -> str | None:
    name = raw.strip()
    if not name:
        return "Enter your name."
    if len(name) > 200:
        return "Keep your name under 200 characters."
    return None


def validate_new_password(password: str) -> str | None:
    problems = password_problems(password)
    return describe_password_problems(problems) if problems else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserRepository(SQLAlchemyAsyncRepository[User]):
    model_type = User


@dataclass(frozen=True)
class UserPage:
    items: list[User]
    total: int


class AccountService(SQLAlchemyAsyncRepositoryService[User, UserRepository]):
    repository_type = UserRepository

    def __init__(self, session: AsyncSession, security: SecuritySettings, mailer: Mailer | None = None) -> None:
        super().__init__(session=session)
        self.db = session
        self.security = security
        self.mailer = mailer

    # Sign-up and log-in ------------------------------------------------------------------------------

    async def register(self, *, email: str, full_name: str, password: str) -> User:
        fields = {}
        if problem := validate_email(email):
            fields["email"] = problem
        if problem := validate_full_name(full_name):
            fields["full_name"] = problem
        if problem := validate_new_password(password):
            fields["password"] = problem
        if fields:
            raise InvalidInput("Please correct the highlighted fields.", fields=fields)
        user = User(
            email=normalise_email(email),
            full_name=full_name.strip(),
            password_hash=await hash_password(password),
        )
        self.db.add(user)
        if not await flush_unique(self.db):
            raise Conflict(
                "An account with this email address already exists. Log in or reset your password.",
                error_code="ACCOUNT_001",
                details={"fields": {"email": "An account with this email address already exists."}},
            )
        audit.record(
            self.db,
            actor_id=user.id,
            action="user.registered",
            entity_type="user",
            entity_id=user.id,
            after={"email": user.email},
        )
        await commit(self.db)
        logger.info("user registered", extra={"user_id": str(user.id)})
        return user

    async def authenticate(self, *, email: str, password: str) -> User:
        user = await self.get_one_or_none(email=normalise_email(email))
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
            audit.record(
                self.db,
                actor_id=None,
                action="user.locked_out",
                entity_type="user",
                entity_id=user.id,
                after={"failed_logins": row.failed_login_count, "locked_until": row.locked_until.isoformat()},
            )
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

    # Profile and password ----------------------------------------------------------------------------

    async def update_profile(self, user_id: UUID, *, full_name: str, email: str) -> User:
        fields = {}
        if problem := validate_full_name(full_name):
            fields["full_name"] = problem
        if problem := validate_email(email):
            fields["email"] = problem
        if fields:
            raise InvalidInput("Please correct the highlighted fields.", fields=fields)
        user = await self.get(user_id)
        before = {"full_name": user.full_name, "email": user.email}
        user.full_name = full_name.strip()
        user.email = normalise_email(email)
        if not await flush_unique(self.db):
            raise InvalidInput(
                "Please correct the highlighted fields.",
                fields={"email": "Another account already uses this email address."},
            )
        audit.record(
            self.db,
            actor_id=user.id,
            action="user.profile_updated",
            entity_type="user",
            entity_id=user.id,
            before=before,
            after={"full_name": user.full_name, "email": user.email},
        )
        await commit(self.db)
        return user

    async def change_password(self, user_id: UUID, *, current: str, new: str) -> User:
        user = await self.get(user_id)
        if not await verify_password(user.password_hash, current):
            raise InvalidInput(
                "Please correct the highlighted fields.",
                fields={"current_password": "That is not your current password."},
            )
        if problem := validate_new_password(new):
            raise InvalidInput("Please correct the highlighted fields.", fields={"new_password": problem})
        await self._set_password(user, new)
        audit.record(self.db, actor_id=user.id, action="user.password_changed", entity_type="user", entity_id=user.id)
        await commit(self.db)
        return user

    async def _set_password(self, user: User, password: str) -> None:
        user.password_hash = await hash_password(password)
        user.password_changed_at = datetime.now(UTC)
        user.security_stamp += 1
        user.failed_login_count = 0
        user.locked_until = None

    async def request_password_reset(self, email: str) -> None:
        """Send a reset link if the account exists; say nothing either way (no account discovery)."""
        if validate_email(email):
            return
        user = await self.get_one_or_none(email=normalise_email(email))
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
                    "reset_url": f"{self.mailer.settings.public_url}/password/reset/{token}",
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
        user = await self.get(row.user_id)
        await self._set_password(user, new_password)
        audit.record(self.db, actor_id=user.id, action="user.password_reset", entity_type="user", entity_id=user.id)
        await commit(self.db)
        return user

    # Administration ----------------------------------------------------------------------------------

    async def search(self, *, query: str = "", limit: int = 50, offset: int = 0) -> UserPage:
        statement = select(User)
        if query.strip():
            pattern = f"%{query.strip().lower()}%"
            statement = statement.where(or_(User.email.like(pattern), func.lower(User.full_name).like(pattern)))
        total = await self.db.scalar(select(func.count()).select_from(statement.subquery())) or 0
        items = await self.db.scalars(statement.order_by(User.created_at.desc()).limit(limit).offset(offset))
        return UserPage(items=list(items), total=total)

    async def set_role(self, actor_id: UUID, user_id: UUID, role: SystemRole, *, granted: bool) -> User:
        if role not in SYSTEM_ROLES:
            raise InvalidInput(f"Unknown role {role!r}.", fields={"role": "Choose admin or sponsor."})
        user = await self.get_user(user_id)
        if role == "admin" and not granted and user.id == actor_id:
            raise PermissionDenied("You cannot remove your own admin role; ask another admin.")
        attribute = "is_admin" if role == "admin" else "is_sponsor"
        before = getattr(user, attribute)
        setattr(user, attribute, granted)
        audit.record(
            self.db,
            actor_id=actor_id,
            action=f"user.role_{'granted' if granted else 'revoked'}",
            entity_type="user",
            entity_id=user.id,
            before={role: before},
            after={role: granted},
        )
        await commit(self.db)
        logger.info("role %s %s", role, "granted" if granted else "revoked", extra={"user_id": str(user.id)})
        return user

    async def set_active(self, actor_id: UUID, user_id: UUID, *, active: bool) -> User:
        user = await self.get_user(user_id)
        if not active and user.id == actor_id:
            raise PermissionDenied("You cannot deactivate your own account.")
        before = user.is_active
        user.is_active = active
        audit.record(
            self.db,
            actor_id=actor_id,
            action="user.activated" if active else "user.deactivated",
            entity_type="user",
            entity_id=user.id,
            before={"is_active": before},
            after={"is_active": active},
        )
        await commit(self.db)
        return user

    async def get_user(self, user_id: UUID) -> User:
        user = await self.get_one_or_none(id=user_id)
        if user is None:
            raise NotFound("No such user.")
        return user

    async def ensure_admin(self, *, email: str, password: str, full_name: str = "Administrator") -> tuple[User, bool]:
        """Create an admin, or make an existing account admin with this password; returns (user, created)."""
        if problem := validate_email(email):
            raise InvalidInput(problem, fields={"email": problem})
        if problem := validate_new_password(password):
            raise InvalidInput(problem, fields={"password": problem})
        user = await self.get_one_or_none(email=normalise_email(email))
        created = user is None
        if user is None:
            user = User(
                email=normalise_email(email),
                full_name=full_name,
                password_hash="",
                security_stamp=0,
                failed_login_count=0,
            )
            self.db.add(user)
        await self._set_password(user, password)
        user.is_admin = True
        user.is_active = True
        await self.db.flush()
        audit.record(
            self.db,
            actor_id=None,
            action="user.admin_created" if created else "user.admin_reset",
            entity_type="user",
            entity_id=user.id,
            after={"email": user.email, "admin": True},
        )
        await commit(self.db)
        return user, created

    async def any_admin(self) -> bool:
        return bool(await self.db.scalar(select(func.count()).select_from(User).where(User.is_admin)))
