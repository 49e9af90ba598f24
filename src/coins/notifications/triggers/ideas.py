"""Idea news for its author, its supporters and the campaign's managers, and reward coins."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.models import User
from coins.campaigns.models import Campaign
from coins.ideas.models import Idea
from coins.notifications.audiences import Audience
from coins.notifications.notify import Notifier, notify
from coins.notifications.triggers.links import quoted

# Status events that the submitter and the idea's supporters hear about: (event type, title, body).
_STATUS_NEWS = {
    "approved": ("idea_approved", "{idea} is approved and competing for coins", ""),
    "accepted": ("idea_accepted", "{idea} was accepted", "It will be implemented."),
    "started": ("idea_started", "Work started on {idea}", ""),
    "completed": ("idea_completed", "{idea} is implemented", ""),
}


async def notify_idea_event(
    session: AsyncSession,
    notifier: Notifier,
    event: str,
    idea: Idea,
    actor_id: UUID | None,
    details: dict[str, Any],
) -> None:
    """The notifications of one idea event, as the ideas domain publishes it (`coins.ideas.events`).

    Call it inside the transaction of the change, after the coins have moved (close_idea, move_on_merge):
    supporters of a closed or merged idea are read from the ledger entries that moved their coins.

    - submitted: the campaign's managers, when the idea waits for approval (mediated campaigns);
    - approved / accepted / started / completed: the submitter and everyone with coins on the idea;
    - rejected: the submitter, with the reason;
    - merged: the submitter and the supporters whose coins moved, linking to the idea it joined;
    - edited (title or description): the supporters;
    - accepted, withdrawn, rejected: each supporter also hears what happened to their own coins
      (coins_expended / coins_recycled, with their amount);
    - details["reward"] > 0 (submitted, approved): the submitter hears of the reward coins.
    The actor never hears about their own action (except of a reward they received).
    """
    campaign = await session.get_one(Campaign, idea.campaign_id)
    name = quoted(idea.title)
    common: dict[str, Any] = {
        "campaign_id": campaign.id,
        "idea_id": idea.id,
        "actor_id": actor_id,
        "link": notifier.links.path("idea.link", idea_id=idea.id),
    }
    context = {"campaign_title": campaign.title, "idea_title": idea.title}
    author = (idea.author_id,) if idea.author_id is not None else ()

    if event == "submitted":
        if details.get("status") == "pending":
            author_name = await session.scalar(select(User.full_name).where(User.id == idea.author_id)) or "Someone"
            await notify(
                session,
                notifier,
                event="idea_submitted",
                recipients=Audience("campaign_managers", campaign_id=campaign.id),
                title=f"New idea to review in {quoted(campaign.title)}: {name}",
                body=f"{author_name} submitted it; it waits for your approval.",
                context=context,
                **common,
            )
    elif event in _STATUS_NEWS:
        kind, title, body = _STATUS_NEWS[event]
        await notify(
            session,
            notifier,
            event=kind,
            recipients=Audience("idea_supporters", idea_id=idea.id, users=author),
            title=title.format(idea=name),
            body=body,
            context=context,
            **common,
        )
    elif event == "rejected":
        reason = str(details.get("reason") or "").strip()
        await notify(
            session,
            notifier,
            event="idea_rejected",
            recipients=Audience("users", users=author),
            title=f"{name} was not approved",
            body=f"Reason: {reason}" if reason else "",
            context={**context, "reason": reason},
            **common,
        )
    elif event == "merged":
        target_id = details.get("merged_into")
        target_title = await session.scalar(select(Idea.title).where(Idea.id == target_id)) if target_id else None
        into = quoted(target_title) if target_title else "another idea"
        await notify(
            session,
            notifier,
            event="idea_merged",
            recipients=Audience("idea_merged", idea_id=idea.id, users=author),
            title=f"{name} was merged into {into}",
            body="Coins on it moved along with it: you now back the idea it joined.",
            context=context,
            **{**common, "link": notifier.links.path("idea.link", idea_id=int(target_id) if target_id else idea.id)},
        )
    elif event == "edited":
        changed = [c for c in details.get("changed", []) if c in {"title", "description"}]
        if changed:
            await notify(
                session,
                notifier,
                event="idea_edited",
                recipients=Audience("idea_supporters", idea_id=idea.id),
                title=f"{name} was changed",
                body=f"Its {' and '.join(changed)} changed since you put coins on it.",
                context=context,
                **common,
            )

    settlement = details.get("settlement")
    if event in {"accepted", "withdrawn", "rejected"} and settlement:
        if settlement == "expend":
            kind, title, body = (
                "coins_expended",
                f"Your coins on {name} are spent: {{coins}}",
                "The idea was accepted: the coins you put on it are now expended for good.",
            )
        elif settlement == "recycle":
            kind, title, body = (
                "coins_recycled",
                f"Your coins on {name} are back: {{coins}}",
                f"The idea was {event}: the coins you put on it are available again.",
            )
        else:
            kind, title, body = (
                "coins_recycled",
                f"Your coins on {name} are forfeited: {{coins}}",
                f"The idea was {event}, and this campaign does not return coins: they count as spent.",
            )
        await notify(
            session,
            notifier,
            event=kind,
            recipients=Audience("idea_settled", idea_id=idea.id),
            title=title,
            body=body,
            context=context,
            **common,
        )

    reward = int(details.get("reward") or 0)
    if reward > 0 and idea.author_id is not None:
        await notify_reward(session, notifier, user_id=idea.author_id, amount=reward, campaign=campaign, idea=idea)


async def notify_reward(
    session: AsyncSession,
    notifier: Notifier,
    *,
    user_id: UUID,
    amount: int,
    campaign: Campaign,
    idea: Idea | None = None,
) -> None:
    """Balance changed by a reward: tell the member who got it."""
    what = f"for your idea {quoted(idea.title)}" if idea is not None else "as a reward"
    await notify(
        session,
        notifier,
        event="coins_rewarded",
        recipients=[user_id],
        campaign_id=campaign.id,
        idea_id=idea.id if idea is not None else None,
        title=f"You received {amount} reward coins in {quoted(campaign.title)}",
        body=f"They came {what} and are ready to put on ideas.",
        link=notifier.links.path("idea.link", idea_id=idea.id)
        if idea is not None
        else notifier.links.path("campaign", slug=campaign.slug),
        context={"campaign_title": campaign.title, "amount": amount},
        exclude_actor=False,
    )
