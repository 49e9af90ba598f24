"""The coins part of the JSON API (balance and history; the coin operations come with the ledger)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.auth import login_required, require_user
from coins.campaigns.access import CampaignAccess
from coins.campaigns.services import CampaignService
from coins.coins.schemas import BalanceRead, LedgerEntryRead, LedgerPage
from coins.coins.services import balance_of, history_of
from coins.lib.errors import PermissionDenied


def require_member(access: CampaignAccess) -> CampaignAccess:
    access.require_view()
    if not access.is_member:
        raise PermissionDenied("Only members of this campaign have coins in it.")
    return access


class CoinApiController(Controller):
    path = "/api/campaigns/{slug:str}/coins"
    tags = ["coins"]
    guards = [login_required]

    @get("/balance", summary="Your coins in this campaign")
    async def balance(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
    ) -> BalanceRead:
        viewer = require_user(request)
        access = require_member(await campaigns.access(slug, viewer))
        balance = await balance_of(db_session, campaign_id=access.campaign.id, user_id=viewer.id)
        return BalanceRead(
            granted=balance.granted,
            available=balance.available,
            allocated=balance.allocated,
            expended=balance.expended,
        )

    @get("/history", summary="Your ledger entries in this campaign, newest first")
    async def history(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> LedgerPage:
        viewer = require_user(request)
        access = require_member(await campaigns.access(slug, viewer))
        rows, total = await history_of(
            db_session, campaign_id=access.campaign.id, user_id=viewer.id, limit=limit, offset=offset
        )
        return LedgerPage(
            items=[
                LedgerEntryRead(
                    id=r.id,
                    kind=r.kind,
                    amount=r.amount,
                    votes=r.votes,
                    idea_id=r.idea_id,
                    from_idea_id=r.from_idea_id,
                    reason=r.reason,
                    created_at=r.created_at,
                )
                for r in rows
            ],
            total=total,
            limit=limit,
            offset=offset,
        )
