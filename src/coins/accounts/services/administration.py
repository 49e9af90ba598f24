"""Administering users: search, system roles (admin, sponsor), deactivation, and the first admin."""

from __future__ import annotations

import logging
from typing import Literal
from uuid import UUID

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.events import ActivationChanged, SystemRoleChanged
from coins.accounts.models import User
from coins.accounts.services.passwords import set_password
from coins.accounts.services.validation import normalise_email, validate_email, validate_new_password
from coins.lib.db import commit
from coins.lib.errors import InvalidInput, NotFound, PermissionDenied
from coins.lib.events import EventBus
from coins.lib.pages import Page

logger = logging.getLogger("coins.accounts")

SystemRole = Literal["admin", "sponsor"]
SYSTEM_ROLES: tuple[SystemRole, ...] = ("admin", "sponsor")


class UserAdministration:
    def __init__(self, session: AsyncSession, events: EventBus) -> None:
        self.db = session
        self.events = events

    async def search(self, *, query: str = "", limit: int = 50, offset: int = 0) -> Page[User]:
        statement = select(User)
        if query.strip():
            pattern = f"%{query.strip().lower()}%"
            statement = statement.where(or_(User.email.like(pattern), func.lower(User.full_name).like(pattern)))
        total = await self.db.scalar(select(func.count()).select_from(statement.subquery())) or 0
        items = await self.db.scalars(statement.order_by(User.created_at.desc()).limit(limit).offset(offset))
        return Page(items=list(items), total=total)

    async def set_role(self, actor_id: UUID, user_id: UUID, role: SystemRole, *, granted: bool) -> User:
        if role not in SYSTEM_ROLES:
            raise InvalidInput(f"Unknown role {role!r}.", fields={"role": "Choose admin or sponsor."})
        user = await self.get_user(user_id)
        if role == "admin" and not granted and user.id == actor_id:
            raise PermissionDenied("You cannot remove your own admin role; ask another admin.")
        attribute = "is_admin" if role == "admin" else "is_sponsor"
        before = getattr(user, attribute)
        setattr(user, attribute, granted)
        await self.events.publish(
            self.db,
            SystemRoleChanged(
                action=f"user.role_{'granted' if granted else 'revoked'}", user_id=user.id, actor_id=actor_id,
                before={role: before}, after={role: granted},
            ),
        )  # fmt: skip
        await commit(self.db)
        logger.info("role %s %s", role, "granted" if granted else "revoked", extra={"user_id": str(user.id)})
        return user

    async def set_active(self, actor_id: UUID, user_id: UUID, *, active: bool) -> User:
        user = await self.get_user(user_id)
        if not active and user.id == actor_id:
            raise PermissionDenied("You cannot deactivate your own account.")
        before = user.is_active
        user.is_active = active
        await self.events.publish(
            self.db,
            ActivationChanged(
                action="user.activated" if active else "user.deactivated", user_id=user.id, actor_id=actor_id,
                before={"is_active": before}, after={"is_active": active}, active=active,
            ),
        )  # fmt: skip
        await commit(self.db)
        return user

    async def get_user(self, user_id: UUID) -> User:
        user = await self.db.get(User, user_id)
        if user is None:
            raise NotFound("No such user.")
        return user

    async def ensure_admin(self, *, email: str, password: str, full_name: str = "Administrator") -> tuple[User, bool]:
        """Create an admin, or make an existing account admin with this password; returns (user, created)."""
        if problem := validate_email(email):
            raise InvalidInput(problem, fields={"email": problem})
        if problem := validate_new_password(password):
            raise InvalidInput(problem, fields={"password": problem})
        user = await self.db.scalar(select(User).where(User.email == normalise_email(email)))
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
        await set_password(user, password)
        user.is_admin = True
        user.is_active = True
        await self.db.flush()
        await self.events.publish(
            self.db,
            SystemRoleChanged(
                action="user.admin_created" if created else "user.admin_reset", user_id=user.id, actor_id=None,
                after={"email": user.email, "admin": True},
            ),
        )  # fmt: skip
        await commit(self.db)
        return user, created

    async def any_admin(self) -> bool:
        return bool(await self.db.scalar(select(func.count()).select_from(User).where(User.is_admin)))
