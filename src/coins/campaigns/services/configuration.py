"""Creating a campaign and changing its settings, banner and icon.

Core settings (type, dates, coin policy) are frozen once a campaign is active, except for administrators;
the slug is fixed once it has started.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.auth import CurrentUser
from coins.accounts.services.validation import validate_email
from coins.campaigns.access import CampaignAccess
from coins.campaigns.errors import SettingsFrozen
from coins.campaigns.events import CampaignCreated, CampaignImageChanged, CampaignUpdated
from coins.campaigns.fields import CORE_FIELDS, CampaignFields, campaign_snapshot, validate_fields
from coins.campaigns.models import Campaign
from coins.campaigns.services.invitations import Invitations
from coins.lib.db import commit, flush_unique
from coins.lib.errors import Conflict, InvalidInput, PermissionDenied
from coins.lib.events import EventBus
from coins.lib.markdown import render_markdown
from coins.lib.media import BANNER, ICON, remove_image, store_image

logger = logging.getLogger("coins.campaigns")

DEFAULTS: dict[str, Any] = {
    "description": "",
    "campaign_type": "open",
    "initial_allocation": 100,
    "idea_submission_reward": 0,
    "allow_reallocation": True,
    "allow_recycling": True,
    "min_allocation_amount": 1,
    "pricing": "linear",
}


def _slug_taken() -> Conflict:
    return Conflict(
        "That slug is already used by another campaign.",
        error_code="CAMPAIGN_006",
        details={"fields": {"slug": "Already used by another campaign: choose another."}},
    )


class CampaignConfiguration:
    def __init__(self, session: AsyncSession, events: EventBus, invitations: Invitations) -> None:
        self.db = session
        self.events = events
        self.invitations = invitations

    async def create(self, actor: CurrentUser, data: CampaignFields, manager_emails: list[str]) -> Campaign:
        if not actor.is_admin:
            raise PermissionDenied("Only administrators create campaigns.")
        values = {**DEFAULTS, **data.given()}
        problems = validate_fields(values, current=None)
        bad_emails = [e for e in manager_emails if validate_email(e)]
        if bad_emails:
            problems["manager_emails"] = "Not valid email addresses: " + ", ".join(bad_emails)
        if problems:
            raise InvalidInput("Please correct the highlighted fields.", fields=problems)
        values["title"] = values["title"].strip()
        campaign = Campaign(
            **values,
            description_html=render_markdown(values["description"]),
            status="draft",
            created_by_id=actor.id,
        )
        self.db.add(campaign)
        if not await flush_unique(self.db):
            raise _slug_taken()
        await self.events.publish(
            self.db, CampaignCreated(campaign=campaign, actor_id=actor.id, snapshot=campaign_snapshot(campaign))
        )
        await self.invitations.assign_managers_now(actor, campaign, manager_emails)
        await commit(self.db)
        logger.info("campaign created", extra={"campaign": campaign.slug})
        return campaign

    async def update(self, access: CampaignAccess, data: CampaignFields) -> Campaign:
        access.require_manage()
        campaign = access.campaign
        changes = {k: v for k, v in data.given().items() if getattr(campaign, k) != v}
        if "cost_cents" in changes and not access.is_admin:
            raise PermissionDenied("Only administrators enter a campaign's cost.")
        frozen = sorted(CORE_FIELDS & changes.keys())
        if campaign.status != "draft" and frozen and not access.is_admin:
            raise SettingsFrozen(details={"fields": dict.fromkeys(frozen, "Frozen while the campaign runs.")})
        if "slug" in changes and campaign.status != "draft":
            raise SettingsFrozen("The address (slug) cannot change once a campaign has started.")
        problems = validate_fields(changes, current=campaign)
        if problems:
            raise InvalidInput("Please correct the highlighted fields.", fields=problems)
        if not changes:
            return campaign
        before = campaign_snapshot(campaign)
        for name, value in changes.items():
            setattr(campaign, name, value.strip() if name == "title" else value)
        if "description" in changes:
            campaign.description_html = render_markdown(campaign.description)
        if not await flush_unique(self.db):
            raise _slug_taken()
        actor_id = access.viewer.id if access.viewer else None
        await self.events.publish(
            self.db,
            CampaignUpdated(campaign=campaign, actor_id=actor_id, before=before, after=campaign_snapshot(campaign)),
        )
        await commit(self.db)
        return campaign

    async def set_image(self, access: CampaignAccess, kind: str, data: bytes, media_root: Any) -> Campaign:
        access.require_manage()
        rule = BANNER if kind == "banner" else ICON
        campaign = access.campaign
        path = store_image(media_root, f"campaigns/{campaign.id}", data, rule)
        old = campaign.banner_path if kind == "banner" else campaign.icon_path
        setattr(campaign, f"{kind}_path", path)
        actor_id = access.viewer.id if access.viewer else None
        await self.events.publish(
            self.db, CampaignImageChanged(campaign=campaign, actor_id=actor_id, kind=kind, old_path=old, new_path=path)
        )
        try:
            await commit(self.db)
        except Exception:
            remove_image(media_root, path)
            raise
        remove_image(media_root, old)
        return campaign
