"""Every table, imported in one place so Alembic and the test harness see the whole schema."""

from coins.accounts.models import PasswordResetToken, User
from coins.campaigns.models import Campaign, CampaignMember, Invitation, Tag
from coins.coins.models import CoinBalance, LedgerEntry
from coins.lib.audit import AuditEvent
from coins.notifications.models import EmailMessage

__all__ = [
    "AuditEvent",
    "Campaign",
    "CampaignMember",
    "CoinBalance",
    "EmailMessage",
    "Invitation",
    "LedgerEntry",
    "PasswordResetToken",
    "Tag",
    "User",
]
