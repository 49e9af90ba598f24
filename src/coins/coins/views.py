"""Coin pages and widgets: "my coins", and the allocation control used on the idea board and idea pages.

Browser forms post here (they work without JavaScript: post, flash, redirect back).  With htmx the answer is
the changed control plus the balance widget swapped out of band, and an `HX-Trigger: coinsChanged` event
so other widgets on the page refresh themselves.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.auth import login_required, require_user
from coins.campaigns.access import CampaignAccess, CampaignNotFound
from coins.campaigns.services import CampaignService
from coins.campaigns.views import campaign_context
from coins.coins import ledger
from coins.coins.announce import announce_member_move
from coins.coins.gateway import CoinGateway
from coins.coins.models import CoinAllocation
from coins.coins.services import CoinError, MemberCoins, allocations_of, balance_of, history_of, policy_of
from coins.ideas.models import Idea
from coins.lib.errors import PermissionDenied
from coins.lib.forms import form_data, safe_next
from coins.lib.metrics import COIN_ALLOCATION_FAILURES
from coins.lib.sessions import flash

OPERATIONS = ("allocate", "release", "reallocate")


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except ValueError:
        return None


async def allocation_widget(db: AsyncSession, access: CampaignAccess, idea_id: int) -> dict[str, Any]:
    """Everything the allocation control of one idea shows."""
    viewer = access.viewer
    idea = await db.get(Idea, idea_id)
    if idea is None or idea.campaign_id != access.campaign.id:
        raise CampaignNotFound("No such idea in this campaign.")
    mine = 0
    if viewer is not None:
        mine = int(
            await db.scalar(
                select(CoinAllocation.coins).where(
                    CoinAllocation.idea_id == idea_id, CoinAllocation.user_id == viewer.id
                )
            )
            or 0
        )
    policy = policy_of(access.campaign)
    return {
        "idea": idea,
        "campaign": access.campaign,
        "access": access,
        "my_coins": mine,
        "my_votes": ledger.votes_for(mine, policy.pricing),
        "next_vote_cost": ledger.cost_of_votes(ledger.votes_for(mine, policy.pricing) + 1, policy.pricing) - mine,
        "can_allocate": access.is_member and access.campaign.status == "active" and idea.status == "competing",
    }


class CoinPages(Controller):
    path = "/campaigns/{slug:str}/coins"
    include_in_schema = False
    guards = [login_required]

    @get("/", name="campaign.coins")
    async def my_coins(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
    ) -> Template:
        viewer = require_user(request)
        access = (await campaigns.access(slug, viewer)).require_view()
        if not access.is_member:
            raise PermissionDenied("Only members of this campaign have coins in it.")
        context = await campaign_context(access, campaigns, db_session)
        context["allocations"] = await allocations_of(db_session, campaign_id=access.campaign.id, user_id=viewer.id)
        context["history"], context["history_total"] = await history_of(
            db_session, campaign_id=access.campaign.id, user_id=viewer.id, limit=50, offset=0
        )
        context["targets"] = list(
            await db_session.execute(
                select(Idea.id, Idea.title)
                .where(Idea.campaign_id == access.campaign.id, Idea.status == "competing")
                .order_by(Idea.title)
                .limit(500)
            )
        )
        context["policy"] = policy_of(access.campaign)
        return Template("coins/mine.html", context=context)

    @get("/quote", name="campaign.coins.quote")
    async def quote(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
        idea_id: FromQuery[int],
        amount: FromQuery[int] = 1,
    ) -> Template:
        """What adding `amount` votes to an idea would cost: shown before the member confirms (quadratic)."""
        access = (await campaigns.access(slug, require_user(request))).require_view()
        widget = await allocation_widget(db_session, access, idea_id)
        policy = policy_of(access.campaign)
        try:
            change = ledger.plan_allocation(policy, amount=max(1, amount), current_coins=widget["my_coins"])
            cost, problem = change.coins, None
        except ledger.RuleViolation as violation:
            cost, problem = None, violation.message
        return Template("coins/_quote.html", context={**widget, "amount": amount, "cost": cost, "problem": problem})

    @post("/{operation:str}", name="campaign.coins.operate")
    async def operate(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        operation: FromPath[str],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
    ) -> Template | Redirect | Response[Any]:
        viewer = require_user(request)
        access = (await campaigns.access(slug, viewer)).require_view()
        values = await form_data(request)
        amount = _int(values.get("amount")) or 0
        idea_id = _int(values.get("idea_id"))
        target_id = _int(values.get("to_idea_id"))
        gateway: CoinGateway = request.app.state.coin_gateway
        coins = MemberCoins(gateway)
        message, category = "", "success"
        try:
            if operation not in OPERATIONS or idea_id is None or (operation == "reallocate" and target_id is None):
                raise CoinError("VALIDATION_001", "Choose an idea and an amount.")
            if operation == "allocate":
                await coins.allocate(access.campaign, user_id=viewer.id, idea_id=idea_id, amount=amount, key=None)
                message = f"You put {amount} {'vote' if amount == 1 else 'votes'} on this idea."
            elif operation == "release":
                await coins.release(access.campaign, user_id=viewer.id, idea_id=idea_id, amount=amount, key=None)
                message = f"You took {amount} back."
            else:
                assert target_id is not None
                await coins.reallocate(
                    access.campaign, user_id=viewer.id, from_idea_id=idea_id, to_idea_id=target_id, amount=amount,
                    key=None,
                )  # fmt: skip
                message = f"You moved {amount} to the other idea."
            await announce_member_move(
                request.app.state,
                campaign_id=access.campaign.id,
                operation=operation,
                idea_id={"allocate": idea_id, "reallocate": target_id}.get(operation),
            )
        except CoinError as error:
            COIN_ALLOCATION_FAILURES.labels(operation, error.error_code).inc()
            message, category = error.message, "error"
        if not request.headers.get("hx-request"):
            flash(request, message, category)
            return Redirect(path=safe_next(values.get("next"), f"/campaigns/{slug}/coins"), status_code=303)
        # htmx: the idea's control (or the "my coins" table), with the balance swapped out of band.
        balance = await balance_of(db_session, campaign_id=access.campaign.id, user_id=viewer.id)
        headers = {"HX-Trigger": "coinsChanged", "Vary": "HX-Request"}
        if values.get("view") == "mine":
            allocations = await allocations_of(db_session, campaign_id=access.campaign.id, user_id=viewer.id)
            context = {"allocations": allocations, "campaign": access.campaign, "access": access}
            template = "coins/_mine_table.html"
        else:
            context = await allocation_widget(db_session, access, idea_id or 0)
            template = "coins/_allocate.html"
        context.update(balance=balance, message=message, category=category, oob_balance=True)
        return Template(template, context=context, headers=headers, status_code=200 if category != "error" else 422)
