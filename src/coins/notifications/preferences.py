"""Notification preferences, and one-click unsubscribing from an email's event type."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.models import User
from coins.lib import audit
from coins.notifications.catalog import DIGEST, EVENT_TYPES, EVENTS
from coins.notifications.models import EMAIL_MODES, Notification, NotificationPreference


@dataclass(frozen=True)
class Preference:
    event: str
    label: str
    description: str
    group: str
    in_app: bool
    email_mode: str


class PreferenceError(ValueError):
    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


class Preferences:
    """Per event type: shown in the app or not, and email immediately, in the daily digest, or never."""

    def __init__(self, session: AsyncSession) -> None:
        self.db = session

    async def of(self, user_id: UUID) -> list[Preference]:
        """Every event type with the user's choice (or the default)."""
        stored = {
            row.event: row
            for row in await self.db.scalars(
                select(NotificationPreference).where(NotificationPreference.user_id == user_id)
            )
        }
        result = []
        for kind in EVENT_TYPES:
            row = stored.get(kind.key)
            result.append(
                Preference(
                    event=kind.key,
                    label=kind.label,
                    description=kind.description,
                    group=kind.group,
                    in_app=row.in_app if row is not None else kind.in_app,
                    email_mode=row.email_mode if row is not None else kind.email_mode,
                )
            )
        return result

    async def change(
        self,
        user_id: UUID,
        changes: Sequence[tuple[str, bool | None, str | None]],
        *,
        via: str = "settings",
    ) -> list[Preference]:
        """Apply (event, in_app, email_mode) changes; None leaves that half as it is.  Commits, with what changed
        in the audit trail (`via`: the settings page or API, or an email's unsubscribe link)."""
        problems: dict[str, str] = {}
        for event, _, mode in changes:
            if event not in EVENTS:
                problems[event] = "Unknown event type."
            elif mode is not None and mode not in EMAIL_MODES:
                problems[event] = "Email must be immediate, digest or never."
        if problems:
            raise PreferenceError(problems)
        current = {p.event: p for p in await self.of(user_id)}
        rows: list[dict[str, Any]] = []
        for event, in_app, mode in changes:
            now = current[event]
            rows.append(
                {
                    "user_id": user_id,
                    "event": event,
                    "in_app": now.in_app if in_app is None else in_app,
                    "email_mode": now.email_mode if mode is None else mode,
                }
            )
        changed = {
            row["event"]: row
            for row in rows
            if (row["in_app"], row["email_mode"]) != (current[row["event"]].in_app, current[row["event"]].email_mode)
        }
        if changed:
            before = {e: {"in_app": current[e].in_app, "email": current[e].email_mode} for e in changed}
            after = {e: {"in_app": row["in_app"], "email": row["email_mode"]} for e, row in changed.items()}
            audit.record(
                self.db,
                actor_id=user_id,
                action="notification.preferences_updated",
                entity_type="user",
                entity_id=user_id,
                before=before,
                after={**after, "via": via},
            )
        if rows:
            statement = pg_insert(NotificationPreference).values(rows)
            await self.db.execute(
                statement.on_conflict_do_update(
                    constraint="pk_notification_preferences",
                    set_={
                        "in_app": statement.excluded.in_app,
                        "email_mode": statement.excluded.email_mode,
                        "updated_at": func.now(),
                    },
                )
            )
        await self.db.commit()
        return await self.of(user_id)

    async def unsubscribe(self, user_id: UUID, event: str) -> dict[str, str]:
        """Email off for `event` (or, for the digest's link, every event the user gets in the digest).

        Returns {event: previous mode} for what changed, so the confirmation page can offer to undo it.
        """
        user = await self.db.get(User, user_id)
        if user is None:
            return {}
        current = {p.event: p for p in await self.of(user_id)}
        if event == DIGEST:
            targets = [key for key, p in current.items() if p.email_mode == "digest"]
        elif event in current:
            targets = [event] if current[event].email_mode != "never" else []
        else:
            return {}
        previous = {key: current[key].email_mode for key in targets}
        if targets:
            await self.change(user_id, [(key, None, "never") for key in targets], via="unsubscribe link")
            # Nothing still waiting for a digest goes out for these event types either.
            await self.db.execute(
                update(Notification)
                .where(
                    Notification.user_id == user_id,
                    Notification.emailed == "digest",
                    Notification.event.in_(targets),
                )
                .values(emailed="suppressed")
            )
            await self.db.commit()
        return previous
