"""A user's own profile: name and email address."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.events import ProfileUpdated
from coins.accounts.models import User
from coins.accounts.services.validation import normalise_email, validate_email, validate_full_name
from coins.lib.db import commit, flush_unique
from coins.lib.errors import InvalidInput
from coins.lib.events import EventBus


class Profiles:
    def __init__(self, session: AsyncSession, events: EventBus) -> None:
        self.db = session
        self.events = events

    async def get(self, user_id: UUID) -> User:
        return await self.db.get_one(User, user_id)

    async def update_profile(self, user_id: UUID, *, full_name: str, email: str) -> User:
        fields = {}
        if problem := validate_full_name(full_name):
            fields["full_name"] = problem
        if problem := validate_email(email):
            fields["email"] = problem
        if fields:
            raise InvalidInput("Please correct the highlighted fields.", fields=fields)
        user = await self.db.get_one(User, user_id)
        before = {"full_name": user.full_name, "email": user.email}
        user.full_name = full_name.strip()
        user.email = normalise_email(email)
        if not await flush_unique(self.db):
            raise InvalidInput(
                "Please correct the highlighted fields.",
                fields={"email": "Another account already uses this email address."},
            )
        await self.events.publish(
            self.db,
            ProfileUpdated(
                action="user.profile_updated", user_id=user.id, actor_id=user.id, before=before,
                after={"full_name": user.full_name, "email": user.email},
            ),
        )  # fmt: skip
        await commit(self.db)
        return user
