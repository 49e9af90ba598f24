"""Idea rules: submission, editing with versions, the moderation workflow, similar ideas, the board.

Both front doors (JSON API and pages) call these.  Every change commits explicitly and writes, in the same
transaction, its status-change row or version, the audit record (through `coins.ideas.events.record`,
where notifications will plug in) and the coin movements it causes (`coins.coins.services`); search
indexing jobs are sent only after the commit.

Locks: the campaign's advisory lock and its row (FOR SHARE, so completing the campaign waits for us or we
see it completed), then ideas by ascending id, then balances.  A status change takes the advisory lock
exclusively: settling an idea's coins locks the idea before many members' rows, while a member's own
coin operation locks its rows before the idea (see `coins.coins.services`), so the two must never overlap.
Status changes are conditional UPDATEs (`WHERE id = :id AND status = :expected`): of two managers clicking
at once, one wins and the other is told the status changed meanwhile.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast
from uuid import UUID

from saq.queue import Queue
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from coins.accounts.auth import CurrentUser
from coins.accounts.models import User
from coins.campaigns.access import CampaignAccess
from coins.campaigns.models import Campaign, CampaignMember, Tag
from coins.campaigns.services import CampaignNotActive, CampaignService, Page
from coins.coins.services import close_idea, lock_campaign_exclusive, lock_campaign_shared, move_on_merge, reward
from coins.ideas import events
from coins.ideas.access import (
    PRIVATE_STATUSES,
    IdeaAccess,
    IdeaNotCompeting,
    IdeaNotFound,
    InvalidIdeaTransition,
    describe_impossible,
)
from coins.ideas.models import IDEA_STATUSES, Idea, IdeaStatusChange, IdeaTag, IdeaVersion
from coins.lib.db import commit, rollback
from coins.lib.errors import AuthenticationFailed, InvalidInput, PermissionDenied
from coins.lib.jobs import enqueue_after_commit
from coins.lib.markdown import render_markdown
from coins.notifications.mail import Mailer
from coins.search.base import SIMILAR_THRESHOLD, SORTS, IdeaFilters, SearchBackend, Sort
from coins.search.postgres import PostgresSearch

TITLE_MAX = 255
DESCRIPTION_MAX = 5_000
CONTEXT_MAX = 200
REASON_MAX = 1_000
MAX_TAGS = 10
PAGE_MAX = 100
SIMILAR_MAX = 20
SOURCES = ("web", "api", "permalink")
# The board shows these unless asked for others; pending ideas only to managers and their authors.
BOARD_DEFAULT = ("competing", "accepted", "in_progress", "complete")
# Ideas that could be what someone is about to submit again (not withdrawn, rejected or merged).
SIMILAR_STATUSES = ("pending", "competing", "accepted", "in_progress", "complete")
BIGINT_MAX = 2**63 - 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def clean_title(raw: str) -> str:
    """Plain text on one line: control characters and runs of white space become one space."""
    return " ".join(_CONTROL.sub(" ", raw).split())


def clean_description(raw: str) -> str:
    return raw.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n").strip()


def field_diff(name: str, before: str, after: str, old: int, new: int) -> str:
    """A unified diff of one field between two versions ('' when equal)."""
    lines = difflib.unified_diff(
        before.splitlines(),
        after.splitlines(),
        fromfile=f"v{old}/{name}",
        tofile=f"v{new}/{name}",
        lineterm="",
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class IdeaInput:
    title: str
    description: str
    tag_ids: Sequence[UUID] = ()
    context_id: str | None = None


@dataclass(frozen=True)
class IdeaChanges:
    """An edit; None leaves a field as it is (`clear_context` removes the context)."""

    title: str | None = None
    description: str | None = None
    tag_ids: Sequence[UUID] | None = None
    context_id: str | None = None
    clear_context: bool = False


@dataclass(frozen=True)
class _Edit:
    title: str
    description: str
    context_id: str | None
    old_tags: list[Tag]
    tags: list[Tag]
    changed: list[str]


@dataclass(frozen=True)
class BoardQuery:
    tags: Sequence[str] = ()  # tag ids or names; an idea must carry all of them
    statuses: Sequence[str] = ()
    min_coins: int | None = None
    max_coins: int | None = None
    text: str | None = None
    sort: str = "coins"
    limit: int = 50
    offset: int = 0
    context_id: str | None = None


@dataclass(frozen=True)
class IdeaView:
    idea: Idea
    campaign_slug: str
    tags: list[Tag]
    author_name: str | None


@dataclass(frozen=True)
class StatusEntry:
    from_status: str | None
    to_status: str
    actor_id: UUID | None
    actor_name: str | None
    reason: str
    details: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class VersionEntry:
    number: int
    editor_id: UUID | None
    editor_name: str | None
    created_at: datetime
    title: str
    description: str
    tag_names: list[str]
    changed: list[str]
    # Field name -> unified diff against the version before (empty for the first version).
    diff: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IdeaRef:
    id: int
    title: str
    status: str


@dataclass(frozen=True)
class IdeaDetail:
    view: IdeaView
    history: list[StatusEntry]
    versions: list[VersionEntry]
    merged_into: IdeaRef | None
    merged_from: list[IdeaRef]
    can_edit: bool
    allowed_statuses: list[str]


@dataclass(frozen=True)
class SimilarIdea:
    id: int
    title: str
    status: str
    coins: int
    supporters: int
    score: float


class IdeaService:
    def __init__(
        self,
        session: AsyncSession,
        mailer: Mailer,
        queue: Queue | None = None,
        search: SearchBackend | None = None,
    ) -> None:
        self.db = session
        self.mailer = mailer
        self.queue = queue
        self.postgres = PostgresSearch(session)
        self.search: SearchBackend = search or self.postgres

    # Access -------------------------------------------------------------------------------------------

    async def campaign_access(self, slug: str, viewer: CurrentUser | None) -> CampaignAccess:
        return (await CampaignService(self.db, self.mailer).access(slug, viewer)).require_view()

    async def idea_access(self, idea_id: int, viewer: CurrentUser | None, *, lock: bool = False) -> IdeaAccess:
        """The idea and what the viewer may do with it; IDEA_001 when it does not exist for them."""
        if not 0 < idea_id <= BIGINT_MAX:
            raise IdeaNotFound()
        query = select(Idea).options(defer(Idea.search_vector)).where(Idea.id == idea_id)
        if lock:
            query = query.with_for_update()
        idea = await self.db.scalar(query.execution_options(populate_existing=True))
        if idea is None:
            raise IdeaNotFound()
        campaign = await self.db.get_one(Campaign, idea.campaign_id, populate_existing=True)
        role = None
        if viewer is not None:
            role = await self.db.scalar(
                select(CampaignMember.role).where(
                    CampaignMember.campaign_id == campaign.id,
                    CampaignMember.user_id == viewer.id,
                    CampaignMember.left_at.is_(None),
                )
            )
        return IdeaAccess(CampaignAccess(campaign=campaign, viewer=viewer, role=role), idea).require_view()

    def _filters(self, access: CampaignAccess, requested: Sequence[str], **narrowing: Any) -> IdeaFilters:
        """What of `requested` the viewer may see: private statuses only as a manager or for own ideas."""
        if access.is_manager or access.is_admin:
            return IdeaFilters(statuses=tuple(requested), **narrowing)
        viewer = access.viewer
        return IdeaFilters(
            statuses=tuple(s for s in requested if s not in PRIVATE_STATUSES),
            own_statuses=tuple(s for s in requested if s in PRIVATE_STATUSES) if viewer else (),
            author_id=viewer.id if viewer else None,
            **narrowing,
        )

    async def _lock_campaign(
        self, campaign: Campaign, allowed: Sequence[str], action: str, *, exclusive: bool = False
    ) -> None:
        """The campaign's locks in the coin order, then its status re-read under them."""
        if exclusive:
            # Coin operations in the campaign wait until this status change commits (a few ms; an accept
            # with 10,000 supporters about half a second).
            await lock_campaign_exclusive(self.db, campaign.id)
        else:
            await lock_campaign_shared(self.db, campaign.id)
        status = await self.db.scalar(
            select(Campaign.status).where(Campaign.id == campaign.id).with_for_update(read=True)
        )
        if status not in allowed:
            raise CampaignNotActive(
                f"Ideas can be {action} only while the campaign is {' or '.join(allowed)} (it is {status}).",
                details={"campaign_status": status},
            )

    def _after_change(self, *idea_ids: int) -> None:
        """Keep an external search index in step, once the change has committed."""
        if not self.search.needs_indexing:
            return
        for idea_id in dict.fromkeys(idea_ids):
            enqueue_after_commit(self.db, self.queue, "index_idea", idea_id=idea_id)

    # Validation ---------------------------------------------------------------------------------------

    @staticmethod
    def _text_problems(title: str | None, description: str | None) -> dict[str, str]:
        problems: dict[str, str] = {}
        if title is not None and not 1 <= len(title) <= TITLE_MAX:
            problems["title"] = f"Give the idea a title of 1 to {TITLE_MAX} characters."
        if description is not None and not 1 <= len(description) <= DESCRIPTION_MAX:
            problems["description"] = f"Describe the idea in 1 to {DESCRIPTION_MAX:,} characters."
        return problems

    async def _choosable_tags(
        self, campaign_id: UUID, tag_ids: Sequence[UUID], *, keep: Sequence[UUID] = ()
    ) -> tuple[list[Tag], str | None]:
        """The chosen tags if all are active tags of the campaign (or already on the idea: `keep`)."""
        ids = list(dict.fromkeys(tag_ids))
        if len(ids) > MAX_TAGS:
            return [], f"Choose at most {MAX_TAGS} tags."
        if not ids:
            return [], None
        found = {
            tag.id: tag
            for tag in await self.db.scalars(select(Tag).where(Tag.campaign_id == campaign_id, Tag.id.in_(ids)))
        }
        unknown = [str(i) for i in ids if i not in found]
        if unknown:
            return [], f"Choose tags of this campaign; not one of its tags: {', '.join(unknown)}."
        retired = [found[i].name for i in ids if not found[i].is_active and i not in keep]
        if retired:
            return [], f"Retired tags cannot be chosen: {', '.join(retired)}."
        return [found[i] for i in ids], None

    # Submitting ---------------------------------------------------------------------------------------

    async def submit(self, access: CampaignAccess, data: IdeaInput, *, source: str = "web") -> IdeaView:
        """A member's new idea: pending in mediated campaigns, competing (and rewarded) elsewhere."""
        access.require_view()
        viewer = access.viewer
        if viewer is None:
            raise AuthenticationFailed("Please log in first.")
        if not access.is_member:
            raise PermissionDenied("Join this campaign to submit ideas.")
        campaign = access.campaign
        if campaign.status != "active":
            raise CampaignNotActive("Ideas can be submitted while the campaign is active.")
        title, description = clean_title(data.title), clean_description(data.description)
        problems = self._text_problems(title, description)
        context_id = (data.context_id or "").strip() or None
        if context_id is not None and len(context_id) > CONTEXT_MAX:
            problems["context_id"] = f"At most {CONTEXT_MAX} characters."
        if source not in SOURCES:
            problems["source"] = f"One of {', '.join(SOURCES)}."
        tags, tag_problem = await self._choosable_tags(campaign.id, data.tag_ids)
        if tag_problem:
            problems["tag_ids"] = tag_problem
        if problems:
            raise InvalidInput("Please correct the highlighted fields.", fields=problems)

        status = "pending" if campaign.campaign_type == "mediated" else "competing"
        try:
            await self._lock_campaign(campaign, ("active",), "submitted")
            idea = Idea(
                campaign_id=campaign.id,
                author_id=viewer.id,
                title=title,
                description=description,
                description_html=render_markdown(description),
                status=status,
                context_id=context_id,
                source=source,
                coins=0,
                supporters=0,
            )
            self.db.add(idea)
            await self.db.flush()
            self.db.add_all(IdeaTag(idea_id=idea.id, tag_id=tag.id) for tag in tags)
            tag_names = sorted(tag.name for tag in tags)
            self.db.add(
                IdeaVersion(
                    idea_id=idea.id,
                    number=1,
                    editor_id=viewer.id,
                    title=title,
                    description=description,
                    tag_names=tag_names,
                    changed=[],
                )
            )
            self.db.add(
                IdeaStatusChange(
                    idea_id=idea.id,
                    actor_id=viewer.id,
                    from_status=None,
                    to_status=status,
                    reason="",
                    details={"source": source},
                )
            )
            rewarded = await self._reward_author(campaign, idea) if status == "competing" else 0
            await events.record(
                self.db,
                "submitted",
                idea,
                viewer,
                {
                    "title": title,
                    "status": status,
                    "tags": tag_names,
                    "source": source,
                    "context_id": context_id,
                    "reward": rewarded,
                },
            )
            self._after_change(idea.id)
            await commit(self.db)
        except Exception:
            await rollback(self.db)
            raise
        return (await self._views([idea.id]))[0]

    async def _reward_author(self, campaign: Campaign, idea: Idea) -> int:
        """The campaign's reward for an idea that competes (at once, or on approval)."""
        amount = campaign.idea_submission_reward
        if idea.author_id is None or amount <= 0:
            return 0
        given = await reward(
            self.db,
            campaign_id=campaign.id,
            user_id=idea.author_id,
            amount=amount,
            reason="idea submission",
            idea_id=idea.id,
        )
        return amount if given else 0

    # Editing ------------------------------------------------------------------------------------------

    async def edit(self, idea_id: int, viewer: CurrentUser, changes: IdeaChanges) -> IdeaView:
        """Change title, description, tags (author or managers) or context (managers); keep a version.

        The idea's row is locked for the whole edit, so two edits get consecutive version numbers.
        Nothing is written when nothing changed; any refusal rolls back (and lets go of the lock).
        """
        try:
            access = await self.idea_access(idea_id, viewer, lock=True)
            edit = await self._plan_edit(access, changes)
            if edit is not None:
                await self._write_edit(access.idea, viewer, edit)
                await commit(self.db)
            else:
                await rollback(self.db)
        except Exception:
            await rollback(self.db)
            raise
        return (await self._views([idea_id]))[0]

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
        problems = self._text_problems(title, description)
        if context_id is not None and len(context_id) > CONTEXT_MAX:
            problems["context_id"] = f"At most {CONTEXT_MAX} characters."
        tags = current_tags
        if "tags" in changed:
            # Retired tags may stay on the idea, but cannot be added to it.
            tags, tag_problem = await self._choosable_tags(
                idea.campaign_id, tag_ids or [], keep=[t.id for t in current_tags]
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
        await events.record(
            self.db,
            "edited",
            idea,
            viewer,
            {"version": number, "changed": edit.changed, **_snapshot(idea, edit.tags, edit.changed)},
            before=before,
        )
        self._after_change(idea.id)

    async def _tags_of(self, idea_id: int) -> list[Tag]:
        return list(
            await self.db.scalars(
                select(Tag)
                .join(IdeaTag, IdeaTag.tag_id == Tag.id)
                .where(IdeaTag.idea_id == idea_id)
                .order_by(func.lower(Tag.name))
            )
        )

    # The workflow -----------------------------------------------------------------------------------

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
        access = await self.idea_access(idea_id, viewer)
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
            await self._lock_campaign(campaign, transition.campaign_statuses, transition.event, exclusive=True)
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
            details = await self._settle(campaign, idea, expected, target, viewer, merged_into)
            self.db.add(
                IdeaStatusChange(
                    idea_id=idea.id,
                    actor_id=viewer.id,
                    from_status=expected,
                    to_status=target,
                    reason=reason,
                    details=details,
                )
            )
            await events.record(
                self.db,
                transition.event,
                idea,
                viewer,
                {"status": target, "reason": reason, **details},
                before={"status": expected},
            )
            self._after_change(idea.id, *([merged_into] if merged_into is not None else []))
            await commit(self.db)
        except Exception:
            await rollback(self.db)
            raise
        return (await self._views([idea.id]))[0]

    async def _settle(
        self,
        campaign: Campaign,
        idea: Idea,
        before: str,
        target: str,
        viewer: CurrentUser,
        merged_into: int | None,
    ) -> dict[str, Any]:
        """The coin side of a status change, in this transaction; returns what happened (for the record)."""
        outcome: Literal["accepted", "withdrawn", "rejected"] | None = None
        if target == "accepted":
            outcome = "accepted"
        elif target == "withdrawn" and before == "competing":
            outcome = "withdrawn"
        elif target == "rejected":
            outcome = "rejected"  # a pending idea holds no coins; settled anyway, so none could ever be lost
        if outcome is not None:
            kind, total = await close_idea(
                self.db, campaign=campaign, idea_id=idea.id, outcome=outcome, actor_id=viewer.id
            )
            return {"coins": total, "settlement": kind.value} if total else {}
        if target == "merged":
            assert merged_into is not None
            moved = await move_on_merge(
                self.db, campaign=campaign, source_id=idea.id, target_id=merged_into, actor_id=viewer.id
            )
            return {"merged_into": merged_into, "coins_moved": moved}
        if target == "competing":
            rewarded = await self._reward_author(campaign, idea)
            return {"reward": rewarded} if rewarded else {}
        return {}

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

    # Reading ------------------------------------------------------------------------------------------

    async def view(self, idea_id: int, viewer: CurrentUser | None) -> IdeaView:
        await self.idea_access(idea_id, viewer)
        return (await self._views([idea_id]))[0]

    async def get(self, idea_id: int, viewer: CurrentUser | None) -> IdeaDetail:
        """The idea with its tags, status history, versions and merge links."""
        access = await self.idea_access(idea_id, viewer)
        view = (await self._views([idea_id]))[0]
        history = [
            StatusEntry(
                from_status=change.from_status,
                to_status=change.to_status,
                actor_id=change.actor_id,
                actor_name=name,
                reason=change.reason,
                details=change.details,
                created_at=change.created_at,
            )
            for change, name in await self.db.execute(
                select(IdeaStatusChange, User.full_name)
                .outerjoin(User, User.id == IdeaStatusChange.actor_id)
                .where(IdeaStatusChange.idea_id == idea_id)
                .order_by(IdeaStatusChange.id)
            )
        ]
        versions = [
            VersionEntry(
                number=version.number,
                editor_id=version.editor_id,
                editor_name=name,
                created_at=version.created_at,
                title=version.title,
                description=version.description,
                tag_names=list(version.tag_names),
                changed=list(version.changed),
            )
            for version, name in await self.db.execute(
                select(IdeaVersion, User.full_name)
                .outerjoin(User, User.id == IdeaVersion.editor_id)
                .where(IdeaVersion.idea_id == idea_id)
                .order_by(IdeaVersion.number)
            )
        ]
        merged_into = None
        if view.idea.merged_into_id is not None:
            row = (
                await self.db.execute(
                    select(Idea.id, Idea.title, Idea.status).where(Idea.id == view.idea.merged_into_id)
                )
            ).first()
            merged_into = IdeaRef(id=row.id, title=row.title, status=row.status) if row else None
        merged_from = [
            IdeaRef(id=row.id, title=row.title, status=row.status)
            for row in await self.db.execute(
                select(Idea.id, Idea.title, Idea.status).where(Idea.merged_into_id == idea_id).order_by(Idea.id)
            )
        ]
        return IdeaDetail(
            view=view,
            history=history,
            versions=versions,
            merged_into=merged_into,
            merged_from=merged_from,
            can_edit=access.can_edit,
            allowed_statuses=access.allowed_statuses(),
        )

    async def versions(
        self, idea_id: int, viewer: CurrentUser | None, *, limit: int = 50, offset: int = 0
    ) -> Page[VersionEntry]:
        """Versions, oldest first, each with a unified diff per field against the version before."""
        await self.idea_access(idea_id, viewer)
        condition = IdeaVersion.idea_id == idea_id
        total = int(await self.db.scalar(select(func.count()).select_from(IdeaVersion).where(condition)) or 0)
        # One version more than the page (the one before it), to diff the page's first version against.
        start = max(offset - 1, 0)
        rows = list(
            await self.db.execute(
                select(IdeaVersion, User.full_name)
                .outerjoin(User, User.id == IdeaVersion.editor_id)
                .where(condition)
                .order_by(IdeaVersion.number)
                .offset(start)
                .limit(limit + (offset - start))
            )
        )
        entries: list[VersionEntry] = []
        previous: IdeaVersion | None = None
        for index, (version, name) in enumerate(rows):
            if index >= offset - start:
                entries.append(
                    VersionEntry(
                        number=version.number,
                        editor_id=version.editor_id,
                        editor_name=name,
                        created_at=version.created_at,
                        title=version.title,
                        description=version.description,
                        tag_names=list(version.tag_names),
                        changed=list(version.changed),
                        diff=_version_diff(previous, version),
                    )
                )
            previous = version
        return Page(items=entries, total=total)

    async def similar(self, access: CampaignAccess, title: str, *, limit: int = 5) -> list[SimilarIdea]:
        """Ideas of the campaign that look like `title` (best first, score 0-1), for the submit form."""
        access.require_view()
        title = clean_title(title)
        if len(title) < 3:
            return []
        limit = max(1, min(limit, SIMILAR_MAX))
        filters = self._filters(access, SIMILAR_STATUSES)
        hits = await self.search.similar(access.campaign.id, title, filters, limit=limit, min_score=SIMILAR_THRESHOLD)
        if not hits:
            return []
        rows = {
            row.id: row
            for row in await self.db.execute(
                select(Idea.id, Idea.title, Idea.status, Idea.coins, Idea.supporters, Idea.author_id).where(
                    Idea.id.in_([hit.idea_id for hit in hits]), Idea.campaign_id == access.campaign.id
                )
            )
        }
        result = []
        for hit in hits:
            row = rows.get(hit.idea_id)
            # The index may lag behind the database: check what it says against the rows themselves.
            if row is None or not _visible(filters, row.status, row.author_id):
                continue
            result.append(
                SimilarIdea(
                    id=row.id,
                    title=row.title,
                    status=row.status,
                    coins=row.coins,
                    supporters=row.supporters,
                    score=round(hit.score, 2),
                )
            )
        return result

    async def board(self, access: CampaignAccess, query: BoardQuery) -> Page[IdeaView]:
        """The campaign's ideas, filtered, sorted and paginated, as the viewer may see them."""
        access.require_view()
        problems: dict[str, str] = {}
        statuses = list(dict.fromkeys(query.statuses)) or list(BOARD_DEFAULT)
        unknown = [s for s in statuses if s not in IDEA_STATUSES]
        if unknown:
            problems["status"] = f"Unknown status {', '.join(unknown)}; use {', '.join(IDEA_STATUSES)}."
        if query.sort not in SORTS:
            problems["sort"] = f"Sort by {', '.join(SORTS)}."
        if query.min_coins is not None and query.min_coins < 0:
            problems["min_coins"] = "At least 0."
        if query.max_coins is not None and query.max_coins < 0:
            problems["max_coins"] = "At least 0."
        if query.min_coins is not None and query.max_coins is not None and query.min_coins > query.max_coins:
            problems["max_coins"] = "At least min_coins."
        if not 1 <= query.limit <= PAGE_MAX:
            problems["limit"] = f"Between 1 and {PAGE_MAX}."
        if query.offset < 0:
            problems["offset"] = "At least 0."
        tag_ids, tag_problem = await self._tag_filter(access.campaign.id, query.tags)
        if tag_problem:
            problems["tag"] = tag_problem
        if problems:
            raise InvalidInput("Some filters are not valid.", fields=problems)
        filters = self._filters(
            access,
            statuses,
            tag_ids=tuple(tag_ids),
            min_coins=query.min_coins,
            max_coins=query.max_coins,
            context_id=query.context_id,
        )
        sort = cast("Sort", query.sort)
        text = " ".join((query.text or "").split()) or None
        # Trending ranks by the coin ledger, which only PostgreSQL holds.
        backend = self.postgres if sort == "trending" else self.search
        page = await backend.search_ids(access.campaign.id, text, filters, sort, query.limit, query.offset)
        return Page(items=await self._views(page.ids), total=page.total)

    async def _tag_filter(self, campaign_id: UUID, values: Sequence[str]) -> tuple[list[UUID], str | None]:
        """Tag ids or names (any case) of the campaign, retired ones included, to filter by."""
        if not values:
            return [], None
        by_id: dict[str, UUID] = {}
        by_name: dict[str, UUID] = {}
        for tag_id, name in await self.db.execute(select(Tag.id, Tag.name).where(Tag.campaign_id == campaign_id)):
            by_id[str(tag_id)] = tag_id
            by_name[name.lower()] = tag_id
        ids: list[UUID] = []
        unknown: list[str] = []
        for value in values:
            key = value.strip()
            found = by_id.get(key.lower()) or by_name.get(key.lower())
            if found is None:
                unknown.append(key)
            else:
                ids.append(found)
        if unknown:
            return [], f"No such tag in this campaign: {', '.join(unknown)}."
        return list(dict.fromkeys(ids)), None

    async def _views(self, ids: Sequence[int]) -> list[IdeaView]:
        """Ideas with their campaign slug, author name and tags, in the order of `ids`."""
        if not ids:
            return []
        rows = await self.db.execute(
            select(Idea, User.full_name, Campaign.slug)
            .options(defer(Idea.search_vector))
            .join(Campaign, Campaign.id == Idea.campaign_id)
            .outerjoin(User, User.id == Idea.author_id)
            .where(Idea.id.in_(list(ids)))
            .execution_options(populate_existing=True)
        )
        found = {idea.id: (idea, name, slug) for idea, name, slug in rows}
        tags: dict[int, list[Tag]] = defaultdict(list)
        for idea_id, tag in await self.db.execute(
            select(IdeaTag.idea_id, Tag)
            .join(Tag, Tag.id == IdeaTag.tag_id)
            .where(IdeaTag.idea_id.in_(list(found)))
            .order_by(func.lower(Tag.name))
        ):
            tags[idea_id].append(tag)
        return [
            IdeaView(idea=found[i][0], campaign_slug=found[i][2], tags=tags[i], author_name=found[i][1])
            for i in ids
            if i in found
        ]


def _snapshot(idea: Idea, tags: Sequence[Tag], changed: Sequence[str]) -> dict[str, Any]:
    """The changed fields' values, for the audit trail's before/after."""
    values: dict[str, Any] = {
        "title": idea.title,
        "description": idea.description,
        "tags": sorted(tag.name for tag in tags),
        "context_id": idea.context_id,
    }
    return {name: values[name] for name in changed}


def _version_diff(previous: IdeaVersion | None, version: IdeaVersion) -> dict[str, str]:
    if previous is None:
        return {}
    pairs = {
        "title": (previous.title, version.title),
        "description": (previous.description, version.description),
        "tags": ("\n".join(previous.tag_names), "\n".join(version.tag_names)),
    }
    diffs = {
        name: field_diff(name, before, after, previous.number, version.number)
        for name, (before, after) in pairs.items()
        if before != after
    }
    return {name: text for name, text in diffs.items() if text}


def _visible(filters: IdeaFilters, status: str, author_id: UUID | None) -> bool:
    if status in filters.statuses:
        return True
    return status in filters.own_statuses and author_id is not None and author_id == filters.author_id
