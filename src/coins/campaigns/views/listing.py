"""The campaigns list, and creating a campaign (administrators)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from coins.accounts.auth import current_user, login_required
from coins.campaigns.page import CHOICES
from coins.campaigns.services.configuration import CampaignConfiguration
from coins.campaigns.services.invitations import parse_email_list
from coins.campaigns.services.reading import CampaignReader
from coins.campaigns.views.forms import DATETIME_FORMAT, PAGE_SIZE, fields_from_form, require_admin
from coins.lib.errors import AppError, InvalidInput
from coins.lib.forms import form_data, form_errors, redirect_to, render_form
from coins.lib.sessions import flash


class CampaignListPages(Controller):
    path = "/campaigns"
    include_in_schema = False

    @get("/", name="campaigns")
    async def index(
        self,
        request: Request[Any, Any, Any],
        campaign_reader: NamedDependency[CampaignReader],
        mine: FromQuery[bool] = False,
        status: FromQuery[str | None] = None,
        page: FromQuery[int] = 1,
    ) -> Template:
        page = max(1, page)
        viewer = current_user(request)
        status = status if status in {"draft", "active", "completed", "archived"} else None
        result = await campaign_reader.list_visible(
            viewer,
            status=status,
            mine=mine and viewer is not None,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        return Template(
            "campaigns/index.html",
            context={
                "rows": result.items,
                "total": result.total,
                "mine": mine,
                "status": status or "",
                "page": page,
                "pages": max(1, -(-result.total // PAGE_SIZE)),
            },
        )

    @get("/new", name="campaigns.new", guards=[login_required])
    async def new(self, request: Request[Any, Any, Any]) -> Template:
        require_admin(request)
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        defaults = {
            "campaign_type": "open",
            "starts_at": now.strftime(DATETIME_FORMAT),
            "ends_at": now.replace(year=now.year + (1 if now.month == 12 else 0), month=(now.month % 12) + 1).strftime(
                DATETIME_FORMAT
            ),
            "initial_allocation": "100",
            "idea_submission_reward": "0",
            "min_allocation_amount": "1",
            "allow_reallocation": "on",
            "allow_recycling": "on",
            "pricing": "linear",
        }
        return render_form("campaigns/new.html", values=defaults, **CHOICES)

    @post("/new", name="campaigns.create", guards=[login_required])
    async def create(
        self, request: Request[Any, Any, Any], campaign_configuration: NamedDependency[CampaignConfiguration]
    ) -> Template | Redirect:
        viewer = require_admin(request)
        values = await form_data(request)
        data, problems = fields_from_form({**values, "policy_form": "1"}, include_slug=True)
        managers = parse_email_list(values.get("manager_emails", ""))
        try:
            if problems:
                raise InvalidInput("Please correct the highlighted fields.", fields=problems)
            campaign = await campaign_configuration.create(viewer, data, managers)
        except AppError as error:
            return render_form(
                "campaigns/new.html", values=values, errors=form_errors(error), status_code=422, **CHOICES
            )
        flash(request, f"“{campaign.title}” is created as a draft.", "success")
        return redirect_to(request, "campaign.settings", slug=campaign.slug)
