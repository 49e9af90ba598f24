"""Where a notification links to, and how it quotes a title."""

from __future__ import annotations


def idea_path(idea_id: int) -> str:
    return f"/ideas/{idea_id}"


def campaign_path(slug: str) -> str:
    return f"/campaigns/{slug}"


def quoted(title: str, limit: int = 120) -> str:
    return f"“{title if len(title) <= limit else title[: limit - 1] + '…'}”"
