"""The coins part of the JSON API: balance, history, my allocations, and the three coin operations.

Coin POSTs honour an `Idempotency-Key` header: a repeat (also one racing the original) answers with the
first result, marked `Idempotent-Replayed: true`, and moves nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from coins.accounts.auth import CLAIMS_ONLY, login_required, require_user, verified_user
from coins.campaigns.access import CampaignAccess, CampaignNotFound
from coins.campaigns.services.reading import CampaignReader
from coins.coins.errors import CoinError
from coins.coins.gateway import CoinGateway
from coins.coins.schemas import (
    AllocateRequest,
    AllocationList,
    AllocationRead,
    BalanceRead,
    LedgerEntryRead,
    LedgerPage,
    ReallocateRequest,
    ReleaseRequest,
)
from coins.coins.services.member import MemberCoins, MemberResult
from coins.coins.services.reading import CoinReader
from coins.lib.errors import AuthenticationFailed, InvalidInput, PermissionDenied
from coins.lib.metrics import COIN_ALLOCATION_FAILURES

MAX_KEY_LENGTH = 200


def require_member(access: CampaignAccess) -> CampaignAccess:
    access.require_view()
    if not access.is_member:
        raise PermissionDenied("Only members of this campaign have coins in it.")
    return access


def idempotency_key(request: Request[Any, Any, Any]) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} printable characters.",
            fields={"Idempotency-Key": "invalid"},
        )
    return key


def balance_response(result: MemberResult) -> Response[BalanceRead]:
    headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
    return Response(BalanceRead(**result.balance), headers=headers)


class CoinApiController(Controller):
    path = "/api/campaigns/{slug:str}/coins"
    tags = ["coins"]
    guards = [login_required]

    async def _operate(
        self, request: Request[Any, Any, Any], slug: str, operation: str, **arguments: int
    ) -> Response[BalanceRead]:
        viewer = require_user(request)
        key = idempotency_key(request)
        gateway: CoinGateway = request.app.state.coin_gateway
        campaign = await gateway.campaign(slug)
        if campaign is None:
            raise CampaignNotFound()
        coins = MemberCoins(gateway, request.app.state.events)
        stamp = viewer.security_stamp if viewer.via == "token" else None
        try:
            if operation == "allocate":
                result = await coins.allocate(campaign, user_id=viewer.id, key=key, stamp=stamp, **arguments)
            elif operation == "release":
                result = await coins.release(campaign, user_id=viewer.id, key=key, stamp=stamp, **arguments)
            else:
                result = await coins.reallocate(campaign, user_id=viewer.id, key=key, stamp=stamp, **arguments)
        except CoinError as error:
            COIN_ALLOCATION_FAILURES.labels(operation, error.error_code).inc()
            if error.error_code == "AUTH_001":
                raise AuthenticationFailed(error.message) from None
            # Refusals are the cold path: only now find out whether the caller may even see the campaign, so
            # outsiders get 404 for a closed or draft campaign instead of learning that it exists.
            full = await verified_user(request.scope, viewer)
            async with request.app.state.db_config.get_session() as session:
                await CampaignReader(session).visible(slug, full)
            raise
        return balance_response(result)

    @post(
        "/allocate",
        status_code=200,
        opt={CLAIMS_ONLY: True},
        summary="Put coins (votes, under quadratic pricing) on a competing idea",
    )
    async def allocate(
        self, request: Request[Any, Any, Any], slug: FromPath[str], data: JSONBody[AllocateRequest]
    ) -> Response[BalanceRead]:
        return await self._operate(request, slug, "allocate", idea_id=data.idea_id, amount=data.amount)

    @post(
        "/release",
        status_code=200,
        opt={CLAIMS_ONLY: True},
        summary="Take coins back from an idea (if the campaign allows it)",
    )
    async def release(
        self, request: Request[Any, Any, Any], slug: FromPath[str], data: JSONBody[ReleaseRequest]
    ) -> Response[BalanceRead]:
        return await self._operate(request, slug, "release", idea_id=data.idea_id, amount=data.amount)

    @post(
        "/reallocate",
        status_code=200,
        opt={CLAIMS_ONLY: True},
        summary="Move coins from one competing idea to another",
    )
    async def reallocate(
        self, request: Request[Any, Any, Any], slug: FromPath[str], data: JSONBody[ReallocateRequest]
    ) -> Response[BalanceRead]:
        return await self._operate(
            request,
            slug,
            "reallocate",
            from_idea_id=data.from_idea_id,
            to_idea_id=data.to_idea_id,
            amount=data.amount,
        )

    @get("/balance", summary="Your coins in this campaign")
    async def balance(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        coin_reader: NamedDependency[CoinReader],
    ) -> BalanceRead:
        viewer = require_user(request)
        access = require_member(await campaign_reader.access(slug, viewer))
        balance = await coin_reader.balance(campaign_id=access.campaign.id, user_id=viewer.id)
        return BalanceRead(
            granted=balance.granted,
            available=balance.available,
            allocated=balance.allocated,
            expended=balance.expended,
        )

    @get("/allocations", summary="Your coins on each idea")
    async def allocations(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        coin_reader: NamedDependency[CoinReader],
    ) -> AllocationList:
        viewer = require_user(request)
        access = require_member(await campaign_reader.access(slug, viewer))
        rows = await coin_reader.allocations(campaign_id=access.campaign.id, user_id=viewer.id)
        return AllocationList(
            items=[
                AllocationRead(
                    idea_id=r.idea_id, title=r.title, status=r.status, coins=r.coins, votes=r.votes,
                    idea_coins=r[5],
                )
                for r in rows
            ],
            total=len(rows),
        )  # fmt: skip

    @get("/history", summary="Your ledger entries in this campaign, newest first")
    async def history(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        coin_reader: NamedDependency[CoinReader],
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> LedgerPage:
        viewer = require_user(request)
        access = require_member(await campaign_reader.access(slug, viewer))
        rows, total = await coin_reader.history(
            campaign_id=access.campaign.id, user_id=viewer.id, limit=limit, offset=offset
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
