"""Who may see and do what in a campaign (SPEC.md, "People and roles").

Outsiders get 404, not 403, for campaigns they may not see: a closed campaign's existence is itself
private.  Everything else that is refused is a 403 with a sentence saying why.
"""

from __future__ import annotations

from dataclasses import dataclass

from coins.accounts.auth import CurrentUser
from coins.campaigns.models import Campaign
from coins.lib.errors import AppError, PermissionDenied


class CampaignNotFound(AppError):
    error_code = "CAMPAIGN_001"
    default_message = "No such campaign."


@dataclass(frozen=True)
class CampaignAccess:
    campaign: Campaign
    viewer: CurrentUser | None
    # The viewer's active membership role in this campaign, if any ("member" or "manager").
    role: str | None

    @property
    def is_admin(self) -> bool:
        return self.viewer is not None and self.viewer.is_admin

    @property
    def is_sponsor(self) -> bool:
        return self.viewer is not None and self.viewer.is_sponsor

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"

    @property
    def is_member(self) -> bool:
        """Takes part (members and managers both hold coins)."""
        return self.role is not None

    @property
    def can_view(self) -> bool:
        if self.is_admin or self.is_member:
            return True
        if self.campaign.status == "draft":
            return False
        if self.campaign.campaign_type == "closed":
            return self.is_sponsor
        return True

    @property
    def can_manage(self) -> bool:
        """Configure, invite, moderate, manage tags: the campaign's managers and admins."""
        return (self.is_manager or self.is_admin) and self.campaign.status != "archived"

    @property
    def can_see_members(self) -> bool:
        return self.is_manager or self.is_admin or self.is_sponsor

    @property
    def can_join(self) -> bool:
        return (
            self.viewer is not None
            and not self.is_member
            and self.campaign.status == "active"
            and self.campaign.campaign_type in {"open", "mediated"}
        )

    def require_view(self) -> CampaignAccess:
        if not self.can_view:
            raise CampaignNotFound()
        return self

    def require_manage(self) -> CampaignAccess:
        self.require_view()
        if self.campaign.status == "archived" and (self.is_manager or self.is_admin):
            raise PermissionDenied("This campaign is archived: it can no longer be changed.")
        if not self.can_manage:
            raise PermissionDenied("Only this campaign's managers and administrators may do that.")
        return self

    def require_admin(self) -> CampaignAccess:
        self.require_view()
        if not self.is_admin:
            raise PermissionDenied("Only administrators may do that.")
        return self
