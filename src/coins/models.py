"""Every table, imported in one place so Alembic and the test harness see the whole schema."""

from coins.accounts.models import PasswordResetToken, User
from coins.campaigns.models import Campaign, CampaignMember, Invitation, Tag
from coins.coins.models import CoinAllocation, CoinBalance, CoinRequest, LedgerEntry
from coins.ideas.models import Idea, IdeaStatusChange, IdeaTag, IdeaVersion
from coins.lib.audit import AuditEvent
from coins.notifications.models import EmailMessage

__all__ = [
    "AuditEvent",
    "Campaign",
    "CampaignMember",
    "CoinAllocation",
    "CoinBalance",
    "CoinRequest",
    "EmailMessage",
    "Idea",
    "IdeaStatusChange",
    "IdeaTag",
    "IdeaVersion",
    "Invitation",
    "LedgerEntry",
    "PasswordResetToken",
    "Tag",
    "User",
]
