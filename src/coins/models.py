"""Every table, imported in one place so Alembic and the test harness see the whole schema."""

from coins.accounts.models import PasswordResetToken, User
from coins.lib.audit import AuditEvent
from coins.notifications.models import EmailMessage

__all__ = ["AuditEvent", "EmailMessage", "PasswordResetToken", "User"]
