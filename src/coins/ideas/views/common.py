"""What the idea pages share: the words they show for statuses, sorts and actions, and small form readers."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request

from coins.campaigns.access import CampaignAccess
from coins.ideas.services.board import IdeaBoard
from coins.ideas.shapes import BoardQuery

STATUS_LABELS = {
    "pending": "Waiting for approval",
    "competing": "Competing",
    "rejected": "Rejected",
    "accepted": "Accepted",
    "in_progress": "In progress",
    "complete": "Complete",
    "withdrawn": "Withdrawn",
    "merged": "Merged",
}
SORT_LABELS = {
    "coins": "Most coins",
    "supporters": "Most supporters",
    "newest": "Newest",
    "trending": "Trending (coins in the last 7 days)",
}
# Target status -> (button, what the flash says afterwards).
ACTIONS = {
    "competing": ("Approve", "The idea is approved: it competes for coins now."),
    "rejected": ("Reject", "The idea is rejected; its author sees your reason."),
    "accepted": ("Accept", "The idea is accepted: the coins on it are spent."),
    "in_progress": ("Start work", "Work on the idea has started."),
    "complete": ("Mark complete", "The idea is complete."),
    "withdrawn": ("Withdraw my idea", "Your idea is withdrawn."),
    "merged": ("Merge", "The idea is merged; its coins moved with it."),
}
LABELS: dict[str, Any] = {"statuses": STATUS_LABELS, "sorts": SORT_LABELS, "actions": ACTIONS}


def parse_int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except ValueError:
        return None


def page_number(raw: str | None) -> int:
    number = parse_int(raw)
    return number if number is not None and number >= 1 else 1


async def chosen_tags(request: Request[Any, Any, Any]) -> tuple[list[UUID], str | None]:
    """The tag ids ticked on an idea form (a message instead when one is not an id)."""
    form = await request.form()
    ids: list[UUID] = []
    for raw in form.getall("tag_ids") if "tag_ids" in form else []:
        try:
            ids.append(UUID(str(raw)))
        except ValueError:
            return [], "Choose tags from the list."
    return ids, None


async def pending_count(board: IdeaBoard, access: CampaignAccess) -> int | None:
    """How many ideas wait for approval (managers of mediated campaigns; None for everyone else)."""
    if not access.can_manage or access.campaign.campaign_type != "mediated":
        return None
    return (await board.board(access, BoardQuery(statuses=["pending"], limit=1))).total
