"""How a notification quotes a title (links are built by route name: `Notifier.links`)."""

from __future__ import annotations


def quoted(title: str, limit: int = 120) -> str:
    return f"“{title if len(title) <= limit else title[: limit - 1] + '…'}”"
