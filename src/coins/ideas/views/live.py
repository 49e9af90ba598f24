"""The board's live stream: `event: ranking` whenever the campaign's ideas change (at most once a second).

Changes travel over Valkey pub/sub (`coins.lib.live`), one subscription per process, so a change made through
any replica reaches every browser watching.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from coins.accounts.auth import current_user
from coins.ideas.services.reading import IdeaReader
from coins.ideas.views.common import parse_int
from coins.lib import live

# At most one `ranking` event a second per connection, a comment every 15 s so proxies and browsers keep the
# connection, and the browser's reconnection delay.
RANKING_INTERVAL = 1.0
KEEPALIVE_SECONDS = 15.0
RETRY_MS = 2000
# A stream ends after this long and the browser reconnects (with Last-Event-ID, so nothing is missed):
# no stream outlives a deploy or pins a browser to one replica for long.
STREAM_LIFETIME = 300.0


class LiveRankingPages(Controller):
    path = "/campaigns/{slug:str}"
    include_in_schema = False

    @get("/live", name="campaign.live")
    async def live_ranking(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        idea_reader: NamedDependency[IdeaReader],
        since: FromQuery[str] = "",
    ) -> ServerSentEvent:
        """`event: ranking` whenever the campaign's ideas change (at most once a second), for the board.

        Whoever may see the board may listen.  The events carry no data: the board re-reads itself with its
        own filters and permissions.  Each event's id is the change's time, so a browser that reconnects
        (it sends Last-Event-ID) hears at once of a change it missed meanwhile.
        """
        access = await idea_reader.campaign_access(slug, current_user(request))
        hub: live.TopicHub = request.app.state.live_hub
        valkey = request.app.state.valkey
        topic = live.campaign_topic(access.campaign.id)
        seen = max(parse_int(since) or 0, parse_int(request.headers.get("last-event-id")) or 0)

        async def stream() -> AsyncIterator[ServerSentEventMessage]:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + STREAM_LIFETIME
            sent_at = -RANKING_INTERVAL
            async with hub.listen(topic) as changes:
                # Say so once this process listens: from then on no change is missed.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(2.0):
                        await hub.wait_connected()
                yield ServerSentEventMessage(comment="listening", data=None)
                # Anything since the page was rendered, or since the last event this browser saw?
                latest = await live.last_change(valkey, topic) if seen else 0
                pending = latest > seen
                while (left := deadline - loop.time()) > 0:
                    if pending and loop.time() - sent_at >= RANKING_INTERVAL:
                        yield ServerSentEventMessage(event="ranking", data="changed", id=latest or live.now_ms())
                        sent_at, pending = loop.time(), False
                        continue
                    wait = sent_at + RANKING_INTERVAL - loop.time() if pending else KEEPALIVE_SECONDS
                    try:
                        change = await asyncio.wait_for(changes.get(), timeout=max(0.0, min(wait, left)))
                    except TimeoutError:
                        if not pending:
                            yield ServerSentEventMessage(comment="keep-alive", data=None)
                        continue
                    if change is None:  # the process is shutting down: end cleanly, the browser reconnects
                        return
                    latest, pending = max(latest, change.stamp), True

        return ServerSentEvent(
            stream(),
            retry_duration=RETRY_MS,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
