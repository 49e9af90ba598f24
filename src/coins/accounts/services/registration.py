"""Signing up: email, name and a strong password (Argon2id)."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.events import UserRegistered
from coins.accounts.models import User
from coins.accounts.passwords import hash_password
from coins.accounts.services.validation import (
    normalise_email,
    validate_email,
    validate_full_name,
    validate_new_password,
)
from coins.lib.db import commit, flush_unique
from coins.lib.errors import Conflict, InvalidInput
from coins.lib.events import EventBus

logger = logging.getLogger("coins.accounts")


class Registration:
    def __init__(self, session: AsyncSession, events: EventBus) -> None:
        self.db = session
        self.events = events

    async def account_exists(self, email: str) -> bool:
        return await self.db.scalar(select(User.id).where(User.email == normalise_email(email))) is not None

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
        await self.events.publish(
            self.db,
            UserRegistered(action="user.registered", user_id=user.id, actor_id=user.id, after={"email": user.email}),
        )
        await commit(self.db)
        logger.info("user registered", extra={"user_id": str(user.id)})
        return user
