"""Who sees analytics (SPEC.md, "People and roles"): a campaign's managers, every sponsor, every admin.

Refusals follow the campaign pages: whoever may not even see the campaign (a closed or draft campaign
they are not part of) gets 404 CAMPAIGN_001, so its existence stays private; people who see the campaign
but not its analytics (members, visitors) get 403 AUTH_002.  Sponsors see every campaign's analytics,
drafts and closed campaigns included, read-only; recording outcomes is for managers and admins.
"""

from __future__ import annotations

from coins.campaigns.access import CampaignAccess
from coins.lib.errors import PermissionDenied


def can_see_analytics(access: CampaignAccess) -> bool:
    return access.is_manager or access.is_sponsor or access.is_admin


def require_analytics(access: CampaignAccess) -> CampaignAccess:
    if can_see_analytics(access):
        return access
    access.require_view()  # 404 for those who may not know the campaign exists
    raise PermissionDenied("Only this campaign's managers, sponsors and administrators see its analytics.")


def require_outcome_writer(access: CampaignAccess) -> CampaignAccess:
    require_analytics(access)
    if not (access.is_manager or access.is_admin):
        raise PermissionDenied("Only this campaign's managers and administrators record outcomes.")
    return access
