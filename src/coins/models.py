"""Every table, imported in one place so Alembic and the test harness see the whole schema."""

from coins.accounts.models import PasswordResetToken, User
from coins.analytics.models import IdeaOutcome
from coins.campaigns.models import Campaign, CampaignMember, Invitation, Tag
from coins.coins.models import CoinAllocation, CoinBalance, CoinRequest, LedgerEntry
from coins.ideas.models import Idea, IdeaStatusChange, IdeaTag, IdeaVersion
from coins.lib.audit import AuditEvent
from coins.mail.models import EmailMessage
from coins.notifications.models import (
    DigestRun,
    IdeaCoinNotice,
    Notification,
    NotificationFanout,
    NotificationPreference,
)
from coins.platforms.models import (
    Permalink,
    Platform,
    PlatformCampaign,
    PlatformIdea,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookThresholdCrossing,
)

__all__ = [
    "AuditEvent",
    "Campaign",
    "CampaignMember",
    "CoinAllocation",
    "CoinBalance",
    "CoinRequest",
    "DigestRun",
    "EmailMessage",
    "Idea",
    "IdeaCoinNotice",
    "IdeaOutcome",
    "IdeaStatusChange",
    "IdeaTag",
    "IdeaVersion",
    "Invitation",
    "LedgerEntry",
    "Notification",
    "NotificationFanout",
    "NotificationPreference",
    "PasswordResetToken",
    "Permalink",
    "Platform",
    "PlatformCampaign",
    "PlatformIdea",
    "Tag",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookThresholdCrossing",
]
