"""The managers' approval queue: ideas of a mediated campaign waiting for approval, newest first."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from coins.accounts.auth import login_required, require_user
from coins.campaigns.access import CampaignAccess
from coins.ideas.pages import IdeaPageParts
from coins.ideas.shapes import BoardQuery
from coins.ideas.views.common import LABELS, page_number

QUEUE_PAGE_SIZE = 25


class ApprovalQueuePages(Controller):
    path = "/campaigns/{slug:str}"
    include_in_schema = False

    @get("/ideas/queue", name="ideas.queue", guards=[login_required])
    async def queue(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        idea_pages: NamedDependency[IdeaPageParts],
        page: FromQuery[str] = "1",
    ) -> Template:
        access = (await idea_pages.reader.campaign_access(slug, require_user(request))).require_manage()
        return await queue_page(access, idea_pages, page_number(page))


async def queue_page(
    access: CampaignAccess,
    pages: IdeaPageParts,
    page: int,
    *,
    failed: int | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    result = await pages.board.board(
        access,
        BoardQuery(statuses=["pending"], sort="newest", limit=QUEUE_PAGE_SIZE, offset=(page - 1) * QUEUE_PAGE_SIZE),
    )
    context = await pages.around(access)
    context.update(
        rows=result.items,
        total=result.total,
        page=page,
        pages=max(1, -(-result.total // QUEUE_PAGE_SIZE)),
        failed=failed,
        errors=errors or {},
        values=values or {},
        labels=LABELS,
    )
    return Template("ideas/queue.html", context=context, status_code=status_code)
