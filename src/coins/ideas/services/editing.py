"""Editing an idea: title, description and tags by its author (until accepted) or managers, context by managers.

Every edit keeps a version (who, when, what changed); supporters hear of changes to the title or description.
The idea's row is locked for the whole edit, so two edits get consecutive version numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.auth import CurrentUser
from coins.campaigns.models import Tag
from coins.ideas.access import IdeaAccess
from coins.ideas.events import IdeaEdited
from coins.ideas.models import Idea, IdeaTag, IdeaVersion
from coins.ideas.services.checks import choosable_tags, text_problems
from coins.ideas.services.reading import IdeaReader
from coins.ideas.shapes import CONTEXT_MAX, IdeaChanges, IdeaView, clean_description, clean_title
from coins.lib.db import commit, rollback
from coins.lib.errors import InvalidInput
from coins.lib.events import EventBus
from coins.lib.markdown import render_markdown


@dataclass(frozen=True)
class _Edit:
    title: str
    description: str
    context_id: str | None
    old_tags: list[Tag]
    tags: list[Tag]
    changed: list[str]


class IdeaEditing:
    def __init__(self, session: AsyncSession, events: EventBus) -> None:
        self.db = session
        self.events = events
        self.reader = IdeaReader(session)

    async def edit(self, idea_id: int, viewer: CurrentUser, changes: IdeaChanges) -> IdeaView:
        """Change title, description, tags (author or managers) or context (managers); keep a version.

        The idea's row is locked for the whole edit, so two edits get consecutive version numbers.
        Nothing is written when nothing changed; any refusal rolls back (and lets go of the lock).
        """
        try:
            access = await self.reader.idea_access(idea_id, viewer, lock=True)
            edit = await self._plan_edit(access, changes)
            if edit is not None:
                await self._write_edit(access.idea, viewer, edit)
                await commit(self.db)
            else:
                await rollback(self.db)
        except Exception:
            await rollback(self.db)
            raise
        return (await self.reader.views([idea_id]))[0]

    async def _plan_edit(self, access: IdeaAccess, changes: IdeaChanges) -> _Edit | None:
        """What the edit changes (None: nothing), after checking who may change it and the new values."""
        idea = access.idea
        current_tags = await self._tags_of(idea.id)
        title = clean_title(changes.title) if changes.title is not None else idea.title
        description = clean_description(changes.description) if changes.description is not None else idea.description
        tag_ids = list(dict.fromkeys(changes.tag_ids)) if changes.tag_ids is not None else None
        context_id = idea.context_id
        if changes.clear_context:
            context_id = None
        elif changes.context_id is not None:
            context_id = changes.context_id.strip() or None
        changed = [
            name
            for name, differs in (
                ("title", title != idea.title),
                ("description", description != idea.description),
                ("tags", tag_ids is not None and set(tag_ids) != {t.id for t in current_tags}),
                ("context_id", context_id != idea.context_id),
            )
            if differs
        ]
        access.check_edit(set(changed))
        if not changed:
            return None
        problems = text_problems(title, description)
        if context_id is not None and len(context_id) > CONTEXT_MAX:
            problems["context_id"] = f"At most {CONTEXT_MAX} characters."
        tags = current_tags
        if "tags" in changed:
            # Retired tags may stay on the idea, but cannot be added to it.
            tags, tag_problem = await choosable_tags(
                self.db, idea.campaign_id, tag_ids or [], keep=[t.id for t in current_tags]
            )
            if tag_problem:
                problems["tag_ids"] = tag_problem
        if problems:
            raise InvalidInput("Please correct the highlighted fields.", fields=problems)
        return _Edit(title, description, context_id, current_tags, tags, changed)

    async def _write_edit(self, idea: Idea, viewer: CurrentUser, edit: _Edit) -> None:
        before = _snapshot(idea, edit.old_tags, edit.changed)
        idea.title = edit.title
        if "description" in edit.changed:
            idea.description = edit.description
            idea.description_html = render_markdown(edit.description)
        idea.context_id = edit.context_id
        idea.updated_at = cast("datetime", func.now())
        if "tags" in edit.changed:
            wanted = {tag.id for tag in edit.tags}
            await self.db.execute(delete(IdeaTag).where(IdeaTag.idea_id == idea.id, IdeaTag.tag_id.not_in(wanted)))
            have = {t.id for t in edit.old_tags}
            self.db.add_all(IdeaTag(idea_id=idea.id, tag_id=tag_id) for tag_id in wanted - have)
        latest = await self.db.scalar(select(func.max(IdeaVersion.number)).where(IdeaVersion.idea_id == idea.id))
        number = int(latest or 0) + 1
        self.db.add(
            IdeaVersion(
                idea_id=idea.id,
                number=number,
                editor_id=viewer.id,
                title=edit.title,
                description=edit.description,
                tag_names=sorted(tag.name for tag in edit.tags),
                changed=edit.changed,
            )
        )
        details = {"version": number, "changed": edit.changed, **_snapshot(idea, edit.tags, edit.changed)}
        await self.events.publish(self.db, IdeaEdited(idea=idea, actor_id=viewer.id, details=details, before=before))

    async def _tags_of(self, idea_id: int) -> list[Tag]:
        return list(
            await self.db.scalars(
                select(Tag)
                .join(IdeaTag, IdeaTag.tag_id == Tag.id)
                .where(IdeaTag.idea_id == idea_id)
                .order_by(func.lower(Tag.name))
            )
        )


def _snapshot(idea: Idea, tags: Sequence[Tag], changed: Sequence[str]) -> dict[str, Any]:
    """The changed fields' values, for the audit trail's before/after."""
    values: dict[str, Any] = {
        "title": idea.title,
        "description": idea.description,
        "tags": sorted(tag.name for tag in tags),
        "context_id": idea.context_id,
    }
    return {name: values[name] for name in changed}
