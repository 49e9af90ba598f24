"""Live unread counts: a channel per user on Valkey pub/sub, read through the process's one subscription.

Whoever records notifications publishes on `live:notifications:<user id>` after the commit (pipelined, one
round trip for any number of users).  The web process's `coins.lib.live.TopicHub` (one pattern subscription
per process, shared with the boards' live rankings) hands each message to that user's open event streams,
whichever replica they landed on.  Messages carry no data that matters: a stream answers by reading the
count itself, so a lost or repeated message costs nothing but a query.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from coins.lib.live import CHANNEL_PREFIX, now_ms

if TYPE_CHECKING:
    from uuid import UUID

    from valkey.asyncio import Valkey

logger = logging.getLogger("coins.notifications.live")

PUBLISH_CHUNK = 1000


def topic(user_id: UUID | str) -> str:
    """The user's topic on the live hub (`TopicHub.listen(topic(user_id))`)."""
    return f"notifications:{user_id}"


def channel(user_id: UUID | str) -> str:
    return CHANNEL_PREFIX + topic(user_id)


async def publish(valkey: Valkey | None, user_ids: Iterable[UUID | str]) -> None:
    """Tell the users' open pages that their notifications changed (pipelined; never raises)."""
    if valkey is None:
        return
    targets = list(dict.fromkeys(str(u) for u in user_ids))
    stamp = str(now_ms())
    try:
        for start in range(0, len(targets), PUBLISH_CHUNK):
            pipe = valkey.pipeline(transaction=False)
            for user_id in targets[start : start + PUBLISH_CHUNK]:
                pipe.publish(channel(user_id), stamp)
            await pipe.execute()
    except Exception as exc:  # a live update is a nicety: the bell also polls
        logger.warning("could not publish notification updates: %s", exc)
