"""Who may see, edit and move an idea (SPEC.md, "Ideas" and "People and roles").

An idea the viewer may not see is "not found" (404), like the closed campaigns it lives in: pending and
rejected ideas are private to their authors and the campaign's managers.  Refusals are checked in a
fixed order so the answer is predictable: the actor (403), then whether the idea's status allows the
change (409), then whether the campaign's status does (409).
"""

from __future__ import annotations

from dataclasses import dataclass

from coins.campaigns.access import CampaignAccess
from coins.campaigns.errors import CampaignNotActive
from coins.ideas.models import Idea
from coins.lib.errors import AppError, PermissionDenied

# Visible to anyone who sees the campaign / only to the author and the campaign's managers.
PUBLIC_STATUSES = ("competing", "accepted", "in_progress", "complete", "withdrawn", "merged")
PRIVATE_STATUSES = ("pending", "rejected")
ACCEPTED_STATUSES = ("accepted", "in_progress", "complete")
# What the author may still edit (managers edit any idea except a merged one).
AUTHOR_EDITABLE = ("pending", "competing")


class IdeaNotFound(AppError):
    error_code = "IDEA_001"
    default_message = "No such idea."


class InvalidIdeaTransition(AppError):
    error_code = "IDEA_002"
    default_message = "That status change is not possible."


class IdeaNotCompeting(AppError):
    error_code = "IDEA_003"
    default_message = "This idea is not competing."


class IdeaAlreadyAccepted(AppError):
    error_code = "IDEA_004"
    default_message = "This idea has already been accepted."


class IdeaLocked(AppError):
    error_code = "IDEA_005"
    default_message = "This idea can no longer be edited."


@dataclass(frozen=True)
class Transition:
    """One arrow of the idea workflow: the event it is, where it may start, who and when."""

    event: str
    sources: tuple[str, ...]
    actor: str  # "manager" (the campaign's managers and admins) or "author"
    campaign_statuses: tuple[str, ...]


# Target status -> the transition (SPEC.md "Ideas").  Anything that moves coins or makes an idea compete
# needs an active campaign; starting and completing accepted work may go on after the campaign completed.
TRANSITIONS: dict[str, Transition] = {
    "competing": Transition("approved", ("pending",), "manager", ("active",)),
    "rejected": Transition("rejected", ("pending",), "manager", ("active",)),
    "accepted": Transition("accepted", ("competing",), "manager", ("active",)),
    "in_progress": Transition("started", ("accepted",), "manager", ("active", "completed")),
    "complete": Transition("completed", ("in_progress",), "manager", ("active", "completed")),
    "withdrawn": Transition("withdrawn", ("pending", "competing"), "author", ("active",)),
    "merged": Transition("merged", ("competing",), "manager", ("active",)),
}


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def describe_impossible(current: str, target: str) -> str:
    transition = TRANSITIONS.get(target)
    if transition is None:
        return f"That status change is not possible: no idea can be moved to {target!r}."
    sources = " or ".join(transition.sources)
    return (
        f"That status change is not possible: {_article(current)} {current} idea cannot become {target} "
        f"(only {_article(sources)} {sources} one can)."
    )


@dataclass(frozen=True)
class IdeaAccess:
    access: CampaignAccess
    idea: Idea

    @property
    def is_author(self) -> bool:
        viewer = self.access.viewer
        return viewer is not None and self.idea.author_id == viewer.id

    @property
    def is_moderator(self) -> bool:
        """The campaign's managers and admins (whether or not the campaign may still change)."""
        return self.access.is_manager or self.access.is_admin

    @property
    def can_view(self) -> bool:
        if not self.access.can_view:
            return False
        return self.idea.status not in PRIVATE_STATUSES or self.is_moderator or self.is_author

    def require_view(self) -> IdeaAccess:
        if not self.can_view:
            raise IdeaNotFound()
        return self

    # Editing ----------------------------------------------------------------------------------------------

    def check_edit(self, fields: set[str]) -> None:
        """Raise unless the viewer may change these fields now."""
        idea = self.idea
        if idea.status == "merged":
            raise IdeaLocked(
                f"This idea was merged into idea {idea.merged_into_id}: edit that one instead.",
                details={"merged_into": idea.merged_into_id},
            )
        if self.is_moderator:
            self.access.require_manage()
            return
        if not self.is_author:
            raise PermissionDenied("Only the idea's author and the campaign's managers may edit it.")
        if "context_id" in fields:
            raise PermissionDenied("Only the campaign's managers may change an idea's context.")
        if idea.status in ACCEPTED_STATUSES:
            raise IdeaAlreadyAccepted("This idea has been accepted: only the campaign's managers may edit it now.")
        if idea.status not in AUTHOR_EDITABLE:
            raise IdeaLocked(f"{_article(idea.status).capitalize()} {idea.status} idea can no longer be edited.")
        if self.access.campaign.status != "active":
            raise CampaignNotActive("Ideas can be edited by their authors while the campaign is active.")

    @property
    def can_edit(self) -> bool:
        try:
            self.check_edit(set())
        except AppError:
            return False
        return True

    # The workflow ---------------------------------------------------------------------------------------

    def check_transition(self, target: str) -> Transition:
        """The transition to `target`, or the refusal: actor (403), idea status (409), campaign (409)."""
        transition = TRANSITIONS.get(target)
        if transition is None:
            raise InvalidIdeaTransition(describe_impossible(self.idea.status, target))
        if transition.actor == "author":
            if not self.is_author:
                raise PermissionDenied("Only the idea's author may withdraw it.")
        elif not self.is_moderator:
            raise PermissionDenied("Only the campaign's managers may do that.")
        else:
            self.access.require_manage()
        current = self.idea.status
        if current not in transition.sources:
            if target == "accepted" and current in ACCEPTED_STATUSES:
                raise IdeaAlreadyAccepted(
                    f"This idea has already been accepted (it is {current}).",
                    details={"status": current, "requested": target},
                )
            raise InvalidIdeaTransition(
                describe_impossible(current, target), details={"status": current, "requested": target}
            )
        campaign_status = self.access.campaign.status
        if campaign_status not in transition.campaign_statuses:
            allowed = " or ".join(transition.campaign_statuses)
            raise CampaignNotActive(
                f"Ideas can be {transition.event} only while the campaign is {allowed} (it is {campaign_status}).",
                details={"campaign_status": campaign_status},
            )
        return transition

    def allowed_statuses(self) -> list[str]:
        """The statuses the viewer could move this idea to right now (for buttons, not a promise)."""
        allowed = []
        for target in TRANSITIONS:
            try:
                self.check_transition(target)
            except AppError:
                continue
            allowed.append(target)
        return allowed
