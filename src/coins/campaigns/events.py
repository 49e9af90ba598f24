"""What happens to campaigns: settings, the lifecycle, membership, invitations and tags.

Published by the campaign services inside the transaction of the change.  The coins domain grants the initial
allocation on activation and to members who join a running campaign; notifications tell members and invitees;
the audit trail keeps every one of them that `audit()` describes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from coins.campaigns.models import Campaign, Invitation, Tag
from coins.lib.events import AuditEntry, Event


@dataclass(frozen=True, kw_only=True)
class CampaignEvent(Event):
    campaign: Campaign
    actor_id: UUID | None

    @property
    def campaign_id(self) -> UUID:
        return self.campaign.id

    def _entry(
        self, action: str, before: dict[str, Any] | None = None, after: dict[str, Any] | None = None
    ) -> AuditEntry:
        return AuditEntry(action, "campaign", self.campaign.id, self.actor_id, before or {}, after or {})


@dataclass(frozen=True, kw_only=True)
class CampaignCreated(CampaignEvent):
    snapshot: dict[str, Any] = field(default_factory=dict)

    def audit(self) -> AuditEntry:
        return self._entry("campaign.created", after=self.snapshot)


@dataclass(frozen=True, kw_only=True)
class CampaignUpdated(CampaignEvent):
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)

    def audit(self) -> AuditEntry:
        return self._entry("campaign.updated", self.before, self.after)


@dataclass(frozen=True, kw_only=True)
class CampaignImageChanged(CampaignEvent):
    kind: str = "banner"  # banner or icon
    old_path: str | None = None
    new_path: str | None = None

    def audit(self) -> AuditEntry:
        return self._entry(f"campaign.{self.kind}_uploaded", {self.kind: self.old_path}, {self.kind: self.new_path})


@dataclass(frozen=True, kw_only=True)
class CampaignStatusChanged(CampaignEvent):
    """draft -> active -> completed -> archived; `by_end_date` when the schedule completed it."""

    from_status: str = ""
    to_status: str = ""
    by_end_date: bool = False

    def audit(self) -> AuditEntry:
        after: dict[str, Any] = {"status": self.to_status}
        if self.by_end_date:
            after["by"] = "end date"
        return self._entry(f"campaign.{self.to_status}", {"status": self.from_status}, after)


@dataclass(frozen=True, kw_only=True)
class CampaignEnding(CampaignEvent):
    """The campaign ends within 48 hours (once per campaign); notifications note how many they told."""


@dataclass(frozen=True, kw_only=True)
class MemberAdded(CampaignEvent):
    """A user joined, accepted an invitation, or was made manager (also a returning member)."""

    user_id: UUID | None = None
    role: str = "member"

    def audit(self) -> AuditEntry:
        return self._entry("campaign.member_added", after={"user_id": str(self.user_id), "role": self.role})


@dataclass(frozen=True, kw_only=True)
class MemberLeft(CampaignEvent):
    user_id: UUID | None = None
    role: str | None = None

    def audit(self) -> AuditEntry:
        return self._entry("campaign.member_left", before={"role": self.role})


@dataclass(frozen=True, kw_only=True)
class ManagerAssigned(CampaignEvent):
    """An existing account was made manager by an administrator (audited as the membership it adds)."""

    user_id: UUID | None = None
    actor_name: str = ""


@dataclass(frozen=True, kw_only=True)
class InvitationSent(CampaignEvent):
    """An invitation link (new or renewed) is to reach its address."""

    invitation: Invitation | None = None
    inviter_name: str = ""
    accept_url: str = ""
    expires_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class MembersInvited(CampaignEvent):
    invited: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)
    role: str = "member"

    def audit(self) -> AuditEntry:
        return self._entry(
            "campaign.invited", after={"invited": self.invited, "resent": self.resent, "role": self.role}
        )


@dataclass(frozen=True, kw_only=True)
class InvitationChanged(Event):
    invitation: Invitation
    actor_id: UUID | None
    change: str  # resent or revoked

    def audit(self) -> AuditEntry:
        if self.change == "revoked":
            before, after = {"status": "pending"}, {"status": "revoked"}
        else:
            before, after = {}, {"email": self.invitation.email}
        return AuditEntry(f"invitation.{self.change}", "invitation", self.invitation.id, self.actor_id, before, after)


@dataclass(frozen=True, kw_only=True)
class TagSaved(Event):
    tag: Tag
    actor_id: UUID | None
    before: dict[str, Any]
    after: dict[str, Any]

    def audit(self) -> AuditEntry:
        action = "tag.updated" if self.before else "tag.created"
        return AuditEntry(action, "tag", self.tag.id, self.actor_id, self.before, self.after)
