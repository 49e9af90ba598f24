"""The campaign domain's refusals (statuses from the catalog in `coins.lib.errors`)."""

from __future__ import annotations

from coins.lib.errors import AppError


class CampaignNotActive(AppError):
    error_code = "CAMPAIGN_002"
    default_message = "This campaign is not active."


class InvalidTransition(AppError):
    error_code = "CAMPAIGN_003"
    default_message = "That status change is not possible."


class SettingsFrozen(AppError):
    error_code = "CAMPAIGN_004"
    default_message = "Type, dates and coin policy are frozen once a campaign is active; ask an administrator."


class InvitationInvalid(AppError):
    error_code = "CAMPAIGN_005"
    default_message = "This invitation link is invalid, already used, revoked or expired."
