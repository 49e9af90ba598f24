"""Submitting an idea: pending in mediated campaigns (a manager approves it), competing elsewhere.

The idea, its tags, its first version and its first status-history row are written in one transaction with
the `IdeaSubmitted` event, whose listeners reward the author (coins), tell managers (mediated campaigns),
link a platform's idea to its permalink, and keep the audit trail.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from coins.campaigns.access import CampaignAccess
from coins.campaigns.errors import CampaignNotActive
from coins.ideas.events import IdeaSubmitted
from coins.ideas.models import Idea, IdeaStatusChange, IdeaTag, IdeaVersion
from coins.ideas.services.checks import choosable_tags, lock_campaign, text_problems
from coins.ideas.services.reading import IdeaReader
from coins.ideas.shapes import CONTEXT_MAX, SOURCES, IdeaInput, IdeaView, clean_description, clean_title
from coins.lib.db import commit, rollback
from coins.lib.errors import AuthenticationFailed, InvalidInput, PermissionDenied
from coins.lib.events import EventBus
from coins.lib.markdown import render_markdown


class IdeaSubmission:
    def __init__(self, session: AsyncSession, events: EventBus) -> None:
        self.db = session
        self.events = events

    async def submit(
        self, access: CampaignAccess, data: IdeaInput, *, source: str = "web", origin: object | None = None
    ) -> IdeaView:
        """A member's new idea.  `origin` says who brought it when not the idea form (a platform's permalink);
        it travels on the event to whoever put it there."""
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
        problems = text_problems(title, description)
        context_id = (data.context_id or "").strip() or None
        if context_id is not None and len(context_id) > CONTEXT_MAX:
            problems["context_id"] = f"At most {CONTEXT_MAX} characters."
        if source not in SOURCES:
            problems["source"] = f"One of {', '.join(SOURCES)}."
        tags, tag_problem = await choosable_tags(self.db, campaign.id, data.tag_ids)
        if tag_problem:
            problems["tag_ids"] = tag_problem
        if problems:
            raise InvalidInput("Please correct the highlighted fields.", fields=problems)

        status = "pending" if campaign.campaign_type == "mediated" else "competing"
        try:
            await lock_campaign(self.db, campaign, ("active",), "submitted")
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
            details = {"title": title, "status": status, "tags": tag_names, "source": source, "context_id": context_id}
            await self.events.publish(
                self.db, IdeaSubmitted(idea=idea, actor_id=viewer.id, details=details, origin=origin)
            )
            await commit(self.db)
        except Exception:
            await rollback(self.db)
            raise
        return (await IdeaReader(self.db).views([idea.id]))[0]
