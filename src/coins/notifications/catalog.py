"""The event types a user can hear about, with their defaults (SPEC.md "Notifications").

A user's preference rows override these per event type; without a row the defaults apply, so adding an
event type needs no data migration.  The keys are stored in `notifications.event` and
`notification_preferences.event`, and name the email templates (`templates/emails/<event>.*`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    key: str
    label: str
    description: str
    in_app: bool = True
    email_mode: str = "immediate"  # immediate | digest | never
    group: str = "Campaigns"


EVENT_TYPES: tuple[EventType, ...] = (
    EventType("invitation", "Invitations", "You are invited to a campaign or made one of its managers."),
    EventType("campaign_activated", "Campaign started", "A campaign you belong to opens for ideas and coins."),
    EventType("campaign_ending", "Campaign ending soon", "A campaign you belong to ends within 48 hours."),
    EventType("campaign_completed", "Campaign completed", "A campaign you belong to has ended."),
    EventType(
        "idea_submitted",
        "New idea to review",
        "Someone submitted an idea that waits for your approval (campaigns you manage).",
        group="Ideas",
    ),
    EventType("idea_approved", "Idea approved", "An idea you submitted or support was approved.", group="Ideas"),
    EventType(
        "idea_rejected",
        "Idea rejected",
        "An idea you submitted was not approved, with the managers' reason.",
        group="Ideas",
    ),
    EventType("idea_accepted", "Idea accepted", "An idea you submitted or support was accepted.", group="Ideas"),
    EventType("idea_started", "Work started", "Work started on an idea you submitted or support.", group="Ideas"),
    EventType("idea_completed", "Idea implemented", "An idea you submitted or support is complete.", group="Ideas"),
    EventType(
        "idea_merged",
        "Idea merged",
        "An idea you submitted or support was merged into another.",
        group="Ideas",
    ),
    EventType(
        "idea_edited",
        "Idea changed",
        "The title or description of an idea you support changed.",
        email_mode="digest",
        group="Ideas",
    ),
    EventType(
        "coins_received",
        "Coins for your idea",
        "Members put coins on an idea you submitted (at most one email per idea an hour).",
        group="Coins",
    ),
    EventType(
        "coins_expended",
        "Your coins spent",
        "An idea you put coins on was accepted: those coins are spent on it.",
        email_mode="digest",
        group="Coins",
    ),
    EventType(
        "coins_recycled",
        "Your coins returned",
        "An idea you put coins on was withdrawn or rejected: your coins came back (or were forfeited).",
        email_mode="digest",
        group="Coins",
    ),
    EventType(
        "coins_rewarded",
        "Reward coins",
        "You received reward coins, e.g. for submitting an idea.",
        group="Coins",
    ),
)
EVENTS: dict[str, EventType] = {event.key: event for event in EVENT_TYPES}
EMAIL_MODE_LABELS = {"immediate": "Immediately", "digest": "Daily digest", "never": "Never"}
# The daily digest's unsubscribe link turns off every event type the user gets in the digest.
DIGEST = "digest"


def event_type(key: str) -> EventType:
    try:
        return EVENTS[key]
    except KeyError:
        raise ValueError(f"unknown notification event {key!r}") from None
