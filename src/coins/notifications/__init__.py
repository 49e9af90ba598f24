"""Notifications: email delivery (SMTP or the local outbox) and, later, the in-app centre."""
