"""Coin pages and widgets: "my coins", and the allocation control used on the idea board and idea pages.

Browser forms post here (they work without JavaScript: post, flash, redirect back; so do boosted forms).  With
htmx the answer is the changed control plus the balance widget swapped out of band, and an
`HX-Trigger: coinsChanged` event: the "my coins" page's ledger and move form (`COIN_ACTIVITY`) listen for it
and re-read themselves.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from coins.accounts.auth import login_required, require_user
from coins.campaigns.page import campaign_context
from coins.campaigns.services.reading import CampaignReader
from coins.coins import ledger
from coins.coins.errors import CoinError
from coins.coins.gateway import CampaignPolicy
from coins.coins.services.member import MemberCoins
from coins.coins.widgets import CoinStanding
from coins.lib.errors import PermissionDenied
from coins.lib.forms import form_data, redirect, safe_next, url_path
from coins.lib.htmx import COINS_CHANGED, is_partial, trigger, wants_fragment
from coins.lib.metrics import COIN_ALLOCATION_FAILURES
from coins.lib.sessions import flash

OPERATIONS = ("allocate", "release", "reallocate")
COIN_ACTIVITY = "coin-activity"  # "my coins": the move form and the ledger, re-read on `coinsChanged`


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except ValueError:
        return None


class CoinPages(Controller):
    path = "/campaigns/{slug:str}/coins"
    include_in_schema = False
    guards = [login_required]

    @get("/", name="campaign.coins")
    async def my_coins(
        self,
        request: HTMXRequest,
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        standing: NamedDependency[CoinStanding],
    ) -> Template:
        viewer = require_user(request)
        access = (await campaign_reader.access(slug, viewer)).require_view()
        if not access.is_member:
            raise PermissionDenied("Only members of this campaign have coins in it.")
        context = await campaign_context(access, campaign_reader, standing)
        coins = standing.reader
        context["allocations"] = await coins.allocations(campaign_id=access.campaign.id, user_id=viewer.id)
        context["history"], context["history_total"] = await coins.history(
            campaign_id=access.campaign.id, user_id=viewer.id, limit=50, offset=0
        )
        context["targets"] = await coins.competing_ideas(access.campaign.id)
        context["policy"] = ledger.Policy.of(access.campaign)
        template = "coins/_activity.html" if wants_fragment(request, COIN_ACTIVITY) else "coins/mine.html"
        return Template(template, context=context)

    @get("/quote", name="campaign.coins.quote")
    async def quote(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        standing: NamedDependency[CoinStanding],
        idea_id: FromQuery[int],
        amount: FromQuery[int] = 1,
    ) -> Template:
        """What adding `amount` votes to an idea would cost: shown before the member confirms (quadratic)."""
        access = (await campaign_reader.access(slug, require_user(request))).require_view()
        widget = await standing.control(access, idea_id)
        policy = ledger.Policy.of(access.campaign)
        try:
            change = ledger.plan_allocation(policy, amount=max(1, amount), current_coins=widget["my_coins"])
            cost, problem = change.coins, None
        except ledger.RuleViolation as violation:
            cost, problem = None, violation.message
        return Template("coins/_quote.html", context={**widget, "amount": amount, "cost": cost, "problem": problem})

    @post("/{operation:str}", name="campaign.coins.operate")
    async def operate(
        self,
        request: HTMXRequest,
        slug: FromPath[str],
        operation: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        standing: NamedDependency[CoinStanding],
        member_coins: NamedDependency[MemberCoins],
    ) -> Template | Redirect | Response[Any]:
        viewer = require_user(request)
        access = (await campaign_reader.access(slug, viewer)).require_view()
        values = await form_data(request)
        amount = _int(values.get("amount")) or 0
        idea_id = _int(values.get("idea_id"))
        target_id = _int(values.get("to_idea_id"))
        coins, campaign = member_coins, CampaignPolicy.of(access.campaign)
        message, category = "", "success"
        try:
            if operation not in OPERATIONS or idea_id is None or (operation == "reallocate" and target_id is None):
                raise CoinError("VALIDATION_001", "Choose an idea and an amount.")
            if operation == "allocate":
                await coins.allocate(campaign, user_id=viewer.id, idea_id=idea_id, amount=amount, key=None)
                message = f"You put {amount} {'vote' if amount == 1 else 'votes'} on this idea."
            elif operation == "release":
                await coins.release(campaign, user_id=viewer.id, idea_id=idea_id, amount=amount, key=None)
                message = f"You took {amount} back."
            else:
                assert target_id is not None
                await coins.reallocate(
                    campaign, user_id=viewer.id, from_idea_id=idea_id, to_idea_id=target_id, amount=amount,
                    key=None,
                )  # fmt: skip
                message = f"You moved {amount} to the other idea."
        except CoinError as error:
            COIN_ALLOCATION_FAILURES.labels(operation, error.error_code).inc()
            message, category = error.message, "error"
        if not is_partial(request):
            # A plain form, or a boosted one (the move form): post, flash, redirect.
            flash(request, message, category)
            return redirect(safe_next(values.get("next"), url_path(request, "campaign.coins", slug=slug)))
        # htmx: the idea's control (or the "my coins" table), with the balance swapped out of band.
        balance = await standing.balance(campaign_id=access.campaign.id, user_id=viewer.id)
        headers = trigger(COINS_CHANGED)
        if values.get("view") == "mine":
            allocations = await standing.reader.allocations(campaign_id=access.campaign.id, user_id=viewer.id)
            context = {"allocations": allocations, "campaign": access.campaign, "access": access}
            template = "coins/_mine_table.html"
        else:
            context = await standing.control(access, idea_id or 0)
            template = "coins/_allocate.html"
        context.update(balance=balance, message=message, category=category, oob_balance=True)
        return Template(template, context=context, headers=headers, status_code=200 if category != "error" else 422)
