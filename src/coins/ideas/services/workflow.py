"""The moderation workflow (`coins.ideas.access.TRANSITIONS`): approve, reject, accept, start, complete,
withdraw, merge.

A status change takes the campaign's advisory lock exclusively (its coins may be settled by the coins
domain's listener in the same transaction), then changes the status with a conditional UPDATE
(`WHERE id = :id AND status = :expected`): of two managers clicking at once, one wins and the other is told
the status changed meanwhile.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.auth import CurrentUser
from coins.ideas.access import IdeaNotCompeting, InvalidIdeaTransition, describe_impossible
from coins.ideas.events import IdeaStatusChanged
from coins.ideas.models import Idea, IdeaStatusChange
from coins.ideas.services.checks import lock_campaign
from coins.ideas.services.reading import IdeaReader
from coins.ideas.shapes import REASON_MAX, IdeaView
from coins.lib.db import commit, rollback
from coins.lib.errors import InvalidInput
from coins.lib.events import EventBus


class IdeaWorkflow:
    def __init__(self, session: AsyncSession, events: EventBus) -> None:
        self.db = session
        self.events = events
        self.reader = IdeaReader(session)

    async def change_status(
        self,
        idea_id: int,
        viewer: CurrentUser,
        target: str,
        *,
        reason: str = "",
        merged_into: int | None = None,
    ) -> IdeaView:
        """Move an idea along its workflow (see `coins.ideas.access.TRANSITIONS`), settling its coins."""
        access = await self.reader.idea_access(idea_id, viewer)
        transition = access.check_transition(target)
        idea, campaign = access.idea, access.access.campaign
        reason = reason.strip()
        if target == "rejected" and not reason:
            raise InvalidInput(
                "Say why the idea is rejected.", fields={"reason": "Give a reason: the author will see it."}
            )
        if len(reason) > REASON_MAX:
            raise InvalidInput("The reason is too long.", fields={"reason": f"At most {REASON_MAX} characters."})
        if target == "merged":
            if merged_into is None:
                raise InvalidInput(
                    "Choose the idea to merge this one into.",
                    fields={"merged_into": "Choose the idea to merge this one into."},
                )
            if merged_into == idea.id:
                raise InvalidInput(
                    "An idea cannot be merged into itself.",
                    fields={"merged_into": "Choose another idea."},
                )
        expected = idea.status
        try:
            await lock_campaign(self.db, campaign, transition.campaign_statuses, transition.event, exclusive=True)
            if target == "merged":
                assert merged_into is not None
                await self._lock_for_merge(idea.id, merged_into, campaign.id)
            values: dict[str, Any] = {
                "status": target,
                "status_changed_at": func.now(),
                "updated_at": func.now(),
            }
            if target == "rejected":
                values["rejection_reason"] = reason
            if target == "merged":
                values["merged_into_id"] = merged_into
            moved = await self.db.execute(
                update(Idea)
                .where(Idea.id == idea.id, Idea.status == expected)
                .values(**values)
                .returning(Idea.id)
                .execution_options(synchronize_session=False)
            )
            if moved.first() is None:
                now = await self.db.scalar(select(Idea.status).where(Idea.id == idea.id))
                raise InvalidIdeaTransition(
                    describe_impossible(str(now), target) + " Its status changed meanwhile.",
                    details={"status": now, "requested": target},
                )
            record = IdeaStatusChange(
                idea_id=idea.id, actor_id=viewer.id, from_status=expected, to_status=target, reason=reason, details={}
            )
            self.db.add(record)
            event = IdeaStatusChanged(
                idea=idea,
                actor_id=viewer.id,
                details={"status": target, "reason": reason},
                before={"status": expected},
                record=record,
                step=transition.event,
                from_status=expected,
                to_status=target,
                merged_into=merged_into,
            )
            # The coins domain settles the idea's coins here (and notes what it did on the record).
            await self.events.publish(self.db, event)
            await commit(self.db)
        except Exception:
            await rollback(self.db)
            raise
        return (await self.reader.views([idea.id]))[0]

    async def _lock_for_merge(self, source_id: int, target_id: int, campaign_id: UUID) -> None:
        """Lock both ideas, ascending id (the coin order), and check the target can take the merge."""
        rows = {
            row.id: row
            for row in await self.db.execute(
                select(Idea.id, Idea.campaign_id, Idea.status)
                .where(Idea.id.in_([source_id, target_id]))
                .order_by(Idea.id)
                .with_for_update()
            )
        }
        target = rows.get(target_id)
        if target is None or target.campaign_id != campaign_id:
            raise InvalidInput(
                "Ideas can only be merged into an idea of the same campaign.",
                fields={"merged_into": f"No idea {target_id} in this campaign."},
            )
        if target.status != "competing":
            raise IdeaNotCompeting(
                f"Idea {target_id} is {target.status}: ideas can only be merged into a competing idea.",
                details={"merged_into": target_id, "status": target.status},
            )
