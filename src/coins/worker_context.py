"""What background jobs find in their context: built once per worker by `coins.worker`, typed here so that a
domain's tasks can name it without importing the worker (which imports every domain's tasks)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from saq.types import Context

if TYPE_CHECKING:
    from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
    from jinja2 import Environment
    from valkey.asyncio import Valkey

    from coins.lib.events import EventBus
    from coins.mail.mailer import Mailer
    from coins.settings import Settings


class JobContext(Context, total=False):
    settings: Settings
    # The database config: the worker's own pool, or the web app's when the worker runs in-process.
    db: SQLAlchemyAsyncConfig
    owns_db: bool
    templates: Environment
    valkey: Valkey
    mailer: Mailer
    # The same listeners as the web app's: a job's changes reach notifications, webhooks and the audit trail.
    events: EventBus
