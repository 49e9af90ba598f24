"""Notifications end to end: a real SMTP server (aiosmtpd), real `coins worker` processes, the real app.

Campaign events reach exactly the right people on the right channels; one-click unsubscribe works from the
header of a delivered email; an SMTP outage costs nothing; a worker SIGKILLed in the middle of a fan-out
batch is resumed by another without duplicates; two workers racing on the digest send it once; SMTP log-in
happens only with a password.  The 10,000-supporter fan-out is measured and written to
test-artifacts/fanout.txt.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message
from typing import Any
from uuid import UUID

import aiosmtplib
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from saq.queue import Queue
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.app import create_app
from coins.campaigns.locks import lock_campaign_exclusive
from coins.campaigns.models import Campaign
from coins.coins.ledger import Policy
from coins.coins.services.settlement import CoinSettlement
from coins.ideas.models import Idea
from coins.lib.db import commit
from coins.mail import delivery as mail
from coins.notifications.notify import notify
from coins.notifications.tasks import requeue_stalled_fanouts
from coins.notifications.triggers.ideas import notify_idea_event
from coins.settings import Settings
from coins.wiring import job_queue
from tests.support.factories import Actors, create_campaign
from tests.support.notifications import add_idea, bulk_members, emails, notifier_session, support, told, user_id
from tests.support.servers import PROJECT_ROOT
from tests.support.smtp import SmtpServer

ARTIFACTS = PROJECT_ROOT / "test-artifacts"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


class Workers:
    """`coins worker` processes, as production runs them; all are stopped (or killed) after the test."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, **extra: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "coins", "worker"],
            cwd=PROJECT_ROOT,
            env={**os.environ, **self.env, **extra},
            stdout=subprocess.DEVNULL,
        )
        self.running.append(process)
        return process

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        """SIGTERM, and SIGKILL for one still finishing its jobs after 3 s (the next test starts afresh)."""
        for process in self.running:
            if process.poll() is None:
                process.terminate()
        for process in self.running:
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.kill(process)


@pytest.fixture
def workers(app_env: Callable[..., dict[str, str]], smtp: SmtpServer, clean: None) -> Iterator[Workers]:
    env = app_env(
        SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp.port), LOG_LEVEL="WARNING", WORKER_METRICS_PORT="0",
        BASE_URL="http://coins.test",
    )  # fmt: skip
    pool = Workers(env)
    yield pool
    pool.stop_all()


@pytest.fixture
def smtp_settings(make_settings: Callable[..., Settings], smtp: SmtpServer) -> Settings:
    return make_settings(smtp={"host": "127.0.0.1", "port": smtp.port}, app={"base_url": "http://coins.test"})


@pytest.fixture
async def client(smtp_settings: Settings, clean: None) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The app recording emails as `pending` and enqueueing their delivery for the worker processes."""
    async with AsyncTestClient(app=create_app(smtp_settings)) as test_client:
        yield test_client


@pytest.fixture
async def queue(smtp_settings: Settings) -> AsyncIterator[Queue]:
    made = job_queue(smtp_settings)
    await made.connect()
    yield made
    await made.disconnect()


async def until(check: Callable[[], Awaitable[Any]], *, timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}: last value {value!r}")
        await asyncio.sleep(0.1)


def all_sent(
    db_engine: AsyncEngine, kind: str | None = None, expected: int | None = None
) -> Callable[[], Awaitable[bool]]:
    """A check: every email (of `kind`) is delivered, and there are `expected` of them."""

    async def check() -> bool:
        async with db_engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT count(*) AS total, count(*) FILTER (WHERE status = 'sent') AS sent FROM email_messages "
                         "WHERE CAST(:kind AS text) IS NULL OR kind = :kind"),
                    {"kind": kind},
                )
            ).one()  # fmt: skip
        return bool(row.total == row.sent and (expected is None or row.sent == expected))

    return check


def subject_of(message: Message) -> str:
    """The decoded subject (non-ASCII subjects travel RFC 2047-encoded)."""
    return str(make_header(decode_header(str(message["Subject"]))))


def received(smtp: SmtpServer, subject: str | None = None) -> Counter[tuple[str, str]]:
    return Counter(
        (str(m["To"]), subject_of(m))
        for m in list(smtp.mailbox.messages)
        if subject is None or subject_of(m).startswith(subject)
    )


def by_recipient(messages: list[Message], subject: str) -> Counter[str]:
    return Counter(str(m["To"]) for m in messages if subject_of(m).startswith(subject))


def mailbox_count(smtp: SmtpServer, subject: str, expected: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return sum(received(smtp, subject).values()) == expected

    return check


async def join(db_engine: AsyncEngine, campaign_id: str, *ids: UUID) -> None:
    async with db_engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO campaign_members (id, campaign_id, user_id, role, joined_at) "
                "SELECT gen_random_uuid(), CAST(:c AS uuid), u, 'member', now() FROM unnest(CAST(:ids AS uuid[])) u"
            ),
            {"c": campaign_id, "ids": list(ids)},
        )


async def test_campaign_events_reach_exactly_the_right_people_and_unsubscribe_works(
    client: AsyncTestClient[Litestar],
    smtp_settings: Settings,
    smtp: SmtpServer,
    workers: Workers,
    queue: Queue,
    db_engine: AsyncEngine,
) -> None:
    workers.start()
    actors = await Actors(client, smtp_settings).setup()
    manager_email, manager = await actors.person("manager", "Grace Manager")
    campaign = await create_campaign(client, actors.admin, slug="rooftop", title="Rooftop garden",
                                     manager_emails=[manager_email])  # fmt: skip
    other = await create_campaign(client, actors.admin, slug="second", title="Second round",
                                  manager_emails=[manager_email])  # fmt: skip
    people: dict[str, tuple[str, dict[str, str], UUID]] = {}
    for name in ("plain", "digest", "quiet"):
        email, auth = await actors.person(name, f"Person {name.title()}")
        people[name] = (email, auth, await user_id(db_engine, email))
    await join(db_engine, campaign["id"], *(p[2] for p in people.values()))
    await join(db_engine, other["id"], people["plain"][2])
    events = ("campaign_activated", "campaign_ending", "campaign_completed")
    await client.put("/api/notifications/preferences", headers=people["digest"][1],
                     json={"items": [{"event": e, "email_mode": "digest"} for e in events]})  # fmt: skip
    await client.put("/api/notifications/preferences", headers=people["quiet"][1],
                     json={"items": [{"event": "campaign_activated", "email_mode": "never"}]})  # fmt: skip
    await until(all_sent(db_engine), what="the managers' emails")
    smtp.mailbox.messages.clear()

    assert (await client.post("/api/campaigns/rooftop/activate", headers=manager)).status_code == 200
    await until(all_sent(db_engine), what="activation emails delivered")
    started = "“Rooftop garden” has started"
    await until(mailbox_count(smtp, started, 1))
    assert received(smtp) == Counter({(people["plain"][0], started): 1})  # not digest, quiet or the manager
    (message,) = list(smtp.mailbox.messages)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(message["List-Unsubscribe"]).strip("<>")
    assert link.startswith("http://coins.test/notifications/unsubscribe/")
    in_app = {row.email for row in await told(db_engine, event="campaign_activated")}
    assert in_app == {people[n][0] for n in ("plain", "digest", "quiet")}

    # The 48-hour notice, by the cron job's task in the worker: members as they chose, the manager too.
    async with db_engine.begin() as conn:
        await conn.execute(text("UPDATE campaigns SET ends_at = now() + interval '47 hours' WHERE slug = 'rooftop'"))
    job = await queue.enqueue("send_campaign_ending_notices")
    assert job is not None
    await job.refresh(until_complete=20)
    ending = "“Rooftop garden” ends in less than 48 hours"
    await until(all_sent(db_engine), what="ending notices delivered")
    await until(mailbox_count(smtp, ending, 3))
    assert {to for (to, s) in received(smtp) if s == ending} == {people["plain"][0], people["quiet"][0], manager_email}

    # One click on the activation email's List-Unsubscribe, as a mail client does it (no session, no CSRF).
    client.cookies.clear()
    response = await client.post(link.removeprefix("http://coins.test"), content=b"List-Unsubscribe=One-Click",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert response.status_code == 200
    assert (await client.post("/api/campaigns/second/activate", headers=manager)).status_code == 200
    assert (await client.post("/api/campaigns/rooftop/complete", headers=manager)).status_code == 200
    await until(all_sent(db_engine), what="completion emails delivered")
    completed = "“Rooftop garden” has ended"
    await until(mailbox_count(smtp, completed, 2))
    counts = received(smtp)
    assert {to for (to, s) in counts if s == completed} == {people["plain"][0], people["quiet"][0]}
    assert not [key for key in counts if key[1] == "“Second round” has started"]  # unsubscribed: in-app only
    assert [row.email for row in await told(db_engine, event="campaign_activated", campaign_id=UUID(other["id"]))] == [
        people["plain"][0]
    ]
    assert max(counts.values()) == 1  # nobody got anything twice


async def test_an_smtp_outage_is_retried_without_losing_anything(
    client: AsyncTestClient[Litestar],
    smtp_settings: Settings,
    smtp: SmtpServer,
    workers: Workers,
    db_engine: AsyncEngine,
) -> None:
    workers.start()
    actors = await Actors(client, smtp_settings).setup()
    manager_email, manager = await actors.person("manager")
    campaign = await create_campaign(client, actors.admin, slug="outage", manager_emails=[manager_email])
    members = await bulk_members(db_engine, campaign["id"], 5, prefix="outage")
    smtp.stop()  # the mail server is down when the event happens
    assert (await client.post("/api/campaigns/outage/activate", headers=manager)).status_code == 200

    async def failed_once() -> bool:
        rows = [m for m in await emails(db_engine, "campaign_activated") if m.attempts >= 1 and m.last_error]
        return bool(rows)

    await until(failed_once, timeout=20, what="a failed delivery attempt")
    assert len(await told(db_engine, event="campaign_activated")) == 5  # the in-app copies are there regardless
    smtp.start()
    await until(all_sent(db_engine), timeout=40, what="delivery after the outage")
    await until(mailbox_count(smtp, "“Greener office” has started", 5), what="the emails after the outage")
    assert by_recipient(list(smtp.mailbox.messages), "“Greener office” has started") == Counter(
        {f"outage-{n}@example.org": 1 for n in range(1, len(members) + 1)}
    )
    assert max(m.attempts for m in await emails(db_engine, "campaign_activated")) >= 2


async def test_a_worker_killed_mid_fan_out_is_resumed_without_duplicates(
    client: AsyncTestClient[Litestar],
    smtp_settings: Settings,
    smtp: SmtpServer,
    workers: Workers,
    queue: Queue,
    db_engine: AsyncEngine,
) -> None:
    actors = await Actors(client, smtp_settings).setup()
    manager_email, manager = await actors.person("manager")
    campaign = await create_campaign(client, actors.admin, slug="crowd", manager_emails=[manager_email])
    total = 1000  # two batches of FANOUT_BATCH: the worker dies while the second is being written
    await bulk_members(db_engine, campaign["id"], total, prefix="crowd")
    smtp.mailbox.messages.clear()
    first = workers.start()
    assert (await client.post("/api/campaigns/crowd/activate", headers=manager)).status_code == 200

    async def notified() -> int:
        async with db_engine.connect() as conn:
            return int(
                await conn.scalar(text("SELECT count(*) FROM notifications WHERE event = 'campaign_activated'")) or 0
            )

    # Kill as soon as the first batch has committed: the second is being written at that moment.
    await until(notified, timeout=30, what="first batch")
    workers.kill(first)
    at_kill = await notified()
    async with db_engine.connect() as conn:
        fanout = (await conn.execute(text("SELECT * FROM notification_fanouts"))).one()
    assert 0 < at_kill < total and fanout.status == "running", (at_kill, fanout.status)

    workers.start()
    async with notifier_session(smtp_settings) as (session, _):  # what the minute's sweeper cron does
        assert await requeue_stalled_fanouts(session, queue, older_than=timedelta(0)) == 1

    async def fanout_done() -> bool:
        async with db_engine.connect() as conn:
            return await conn.scalar(text("SELECT status FROM notification_fanouts")) == "done"

    await until(fanout_done, timeout=40, what="the fan-out to finish")
    # Deliveries the killed worker had in flight stay claimed until the sweeper frees them (15 minutes
    # later): let that time pass, then sweep the way the cron does.
    async with db_engine.begin() as conn:
        stuck = (await conn.execute(text(
            "UPDATE email_messages SET claimed_at = claimed_at - interval '1 hour' WHERE status = 'sending' RETURNING id"
        ))).all()  # fmt: skip
    async with notifier_session(smtp_settings) as (session, _notifier):
        await mail.requeue_stalled(session, queue, older_than=timedelta(0))
    await until(all_sent(db_engine, "campaign_activated", total), timeout=60, what="every email delivered")

    rows = await told(db_engine, event="campaign_activated")
    assert len(rows) == total and len({row.user_id for row in rows}) == total  # exactly once each
    sent = await emails(db_engine, "campaign_activated")
    assert len(sent) == total and len({m.to_address for m in sent}) == total
    delivered = by_recipient(list(smtp.mailbox.messages), "“Greener office” has started")
    assert set(delivered) == {m.to_address for m in sent}
    twice = [to for to, n in delivered.items() if n > 1]
    # At least once: only a message whose delivery was in flight when the worker died can arrive twice (with
    # the same Message-ID); everything else exactly once.
    assert len(twice) <= len(stuck), (twice, stuck)
    print(f"\nfan-out kill: {at_kill}/{total} notified at the kill, {len(stuck)} deliveries in flight, "
          f"{len(twice)} delivered twice")  # fmt: skip


async def test_two_workers_racing_send_each_digest_once(
    client: AsyncTestClient[Litestar],
    smtp_settings: Settings,
    smtp: SmtpServer,
    workers: Workers,
    queue: Queue,
    db_engine: AsyncEngine,
) -> None:
    actors = await Actors(client, smtp_settings).setup()
    manager_email, _ = await actors.person("manager")
    campaign = await create_campaign(client, actors.admin, slug="digest", manager_emails=[manager_email])
    readers = await bulk_members(db_engine, campaign["id"], 250, prefix="reader")
    async with db_engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO notification_preferences (user_id, event, in_app, email_mode) "
                 "SELECT u, 'idea_accepted', true, 'digest' FROM unnest(CAST(:ids AS uuid[])) u"),
            {"ids": readers},
        )  # fmt: skip
    async with notifier_session(smtp_settings) as (session, notifier):
        for number in range(2):
            await notify(
                session, notifier, event="idea_accepted", recipients=readers[:150], title=f"Accepted {number}", link="/"
            )
        # At most 200 at once: written in this transaction, not fanned out.
        await notify(session, notifier, event="idea_accepted", recipients=readers[150:], title="Accepted 2", link="/")
        await session.commit()
    for _ in range(2):
        workers.start(WORKER_CONCURRENCY="1")

    async def both_ready() -> bool:
        return len((await queue.info())["workers"]) == 2

    await until(both_ready, what="two workers")
    smtp.mailbox.messages.clear()
    jobs = await asyncio.gather(*(queue.enqueue("send_daily_digests", timeout=300) for _ in range(2)))
    for job in jobs:
        assert job is not None
        await job.refresh(until_complete=60)
    assert sorted(job.status for job in jobs if job) == ["complete", "complete"]
    assert sum(job.result for job in jobs if job) == 250  # shared between the workers, none twice
    await until(all_sent(db_engine, "digest", 250), timeout=60, what="digests delivered")
    await until(mailbox_count(smtp, "Your Coins for Change digest", 250), what="digests received")
    digests = by_recipient(list(smtp.mailbox.messages), "Your Coins for Change digest")
    assert digests == Counter({f"reader-{n}@example.org": 1 for n in range(1, 251)})
    subjects = Counter(subject_of(m) for m in smtp.mailbox.messages if "digest" in subject_of(m))
    assert subjects == {"Your Coins for Change digest: 2 updates": 150, "Your Coins for Change digest: 1 update": 100}
    print(f"\ndigest race: worker results {[job.result for job in jobs if job]}")


async def test_smtp_logs_in_only_when_a_password_is_set(
    make_settings: Callable[..., Settings], db_engine: AsyncEngine, clean: None
) -> None:
    async def deliver_one(settings: Settings, to: str) -> dict[str, int]:
        async with notifier_session(settings) as (session, notifier):
            message = notifier.mailer.send(
                session, to=to, template="digest", context={"name": "X", "day": "", "count": 0, "more": 0,
                "items": [], "centre_url": "", "unsubscribe_url": "", "preferences_url": ""},
                enqueue_delivery=False,
            )  # fmt: skip
            await session.commit()
            return await mail.deliver_many(session, settings.smtp, [message.id])

    plain = SmtpServer().start()  # an open relay: knows no AUTH
    secured = SmtpServer(credentials=("mailer", "s3cret")).start()
    try:
        relay = make_settings(smtp={"host": "127.0.0.1", "port": plain.port, "username": "mailer", "password": ""})
        assert await deliver_one(relay, "relay@example.org") == {"sent": 1, "skipped": 0, "failed": 0}
        assert [m["To"] for m in plain.mailbox.messages] == ["relay@example.org"]
        login = make_settings(
            smtp={"host": "127.0.0.1", "port": secured.port, "username": "mailer", "password": "s3cret"}
        )
        assert (await deliver_one(login, "login@example.org"))["sent"] == 1
        assert secured.logins == [("mailer", "s3cret")]
        wrong = make_settings(
            smtp={"host": "127.0.0.1", "port": secured.port, "username": "mailer", "password": "nope"}
        )
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            await deliver_one(wrong, "wrong@example.org")
        (row,) = [m for m in await emails(db_engine) if m.to_address == "wrong@example.org"]
        assert row.status == "pending" and row.last_error  # kept for the retry, nothing lost
    finally:
        plain.stop()
        secured.stop()


# 10,000 supporters -----------------------------------------------------------------------------------------


async def test_ten_thousand_supporters_fan_out_measured(
    client: AsyncTestClient[Litestar],
    smtp_settings: Settings,
    smtp: SmtpServer,
    workers: Workers,
    queue: Queue,
    db_engine: AsyncEngine,
) -> None:
    supporters = 10_000
    actors = await Actors(client, smtp_settings).setup()
    manager_email, manager = await actors.person("manager")
    author_email, _ = await actors.person("author", "Ada Author")
    campaign = await create_campaign(client, actors.admin, slug="huge", manager_emails=[manager_email])
    assert (await client.post("/api/campaigns/huge/activate", headers=manager)).status_code == 200
    author_id, manager_id = await user_id(db_engine, author_email), await user_id(db_engine, manager_email)
    setup_started = time.perf_counter()
    members = await bulk_members(db_engine, campaign["id"], supporters, prefix="fan", coins=10)
    idea_id = await add_idea(db_engine, campaign["id"], author_id, title="Four-day week")
    await support(db_engine, campaign["id"], idea_id, members, coins=10)
    setup_seconds = time.perf_counter() - setup_started

    # The accept request's transaction, as IdeaService.change_status runs it: status, coins, event, commit.
    async with notifier_session(smtp_settings, queue=queue) as (session, notifier):
        started = time.perf_counter()
        idea = await session.get_one(Idea, idea_id)
        camp = await session.get_one(Campaign, idea.campaign_id)
        await lock_campaign_exclusive(session, camp.id)
        await session.execute(text("UPDATE ideas SET status = 'accepted' WHERE id = :i"), {"i": idea_id})
        kind, total = await CoinSettlement(session).close_idea(
            campaign_id=camp.id, policy=Policy.of(camp), idea_id=idea_id, outcome="accepted", actor_id=manager_id
        )
        coins_done = time.perf_counter()
        await notify_idea_event(
            session, notifier, "accepted", idea, manager_id, {"coins": total, "settlement": kind.value}
        )
        notify_done = time.perf_counter()
        await commit(session)  # the fan-out jobs go to the queue after it, as in a request
        request_seconds = time.perf_counter() - started
    notify_seconds = notify_done - coins_done
    settle_seconds = coins_done - started
    assert await told(db_engine, event="idea_accepted") == []  # nothing written per recipient in the request
    async with db_engine.connect() as conn:
        fanouts = {row.event: row for row in await conn.execute(text("SELECT * FROM notification_fanouts"))}
    assert fanouts["idea_accepted"].recipients == supporters + 1  # and the author
    assert fanouts["coins_expended"].recipients == supporters

    # One worker doing only this (concurrency 1: delivery jobs wait in the queue until it is done).
    worker_started = time.perf_counter()
    workers.start(WORKER_CONCURRENCY="1")

    async def finished() -> list[Any]:
        async with db_engine.connect() as conn:
            rows = list(await conn.execute(text("SELECT * FROM notification_fanouts")))
        return rows if all(row.status == "done" for row in rows) else []

    done = await until(finished, timeout=120, what="both fan-outs")
    worker_seconds = time.perf_counter() - worker_started
    jobs_seconds = max((r.finished_at - r.started_at).total_seconds() for r in done)
    span = (max(r.finished_at for r in done) - min(r.started_at for r in done)).total_seconds()
    async with db_engine.connect() as conn:
        counts = dict((await conn.execute(text("SELECT event, count(*) FROM notifications GROUP BY event"))).all())
        pending = await conn.scalar(text("SELECT count(*) FROM email_messages WHERE kind = 'idea_accepted'"))
        queued = await conn.scalar(
            text("SELECT count(*) FROM notifications WHERE event = 'idea_accepted' AND email_message_id IS NOT NULL")
        )
    assert counts["idea_accepted"] == supporters + 1 and counts["coins_expended"] == supporters
    assert pending == queued == supporters + 1
    by_fanout = {row.event: row for row in done}
    report = "\n".join(
        [
            f"Fan-out measurement ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC): {supporters:,} supporters of one idea, accepted",
            f"  setup (bulk SQL: users, memberships, balances, allocations): {setup_seconds:.2f} s",
            f"  (a) the accept transaction: {request_seconds * 1000:.0f} ms in all",
            f"      settling the coins (close_idea: {supporters:,} expend entries): {settle_seconds * 1000:.0f} ms",
            f"      notify_idea_event (count the audience, record 2 fan-out rows): {notify_seconds * 1000:.0f} ms",
            f"  (b) the worker (one process, concurrency 1), from its start to both fan-outs done: {worker_seconds:.2f} s",
            f"      jobs busy from the first batch to the last: {span:.2f} s",
            f"      idea_accepted: {by_fanout['idea_accepted'].notified:,} in-app notifications, "
            f"{by_fanout['idea_accepted'].emails:,} emails recorded and queued for delivery, "
            f"{by_fanout['idea_accepted'].batches} batches",
            f"      coins_expended: {by_fanout['coins_expended'].notified:,} in-app notifications "
            f"(email: daily digest by default), {by_fanout['coins_expended'].batches} batches",
            f"      slowest fan-out job alone: {jobs_seconds:.2f} s",
        ]
    )
    print("\n" + report)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "fanout.txt").write_text(report + "\n")
    # The request's notification work does not grow with the audience (a count and two rows).  Settling
    # 10,000 allocations (close_idea, the coin ledger's part of the same transaction) is reported above.
    assert notify_seconds < 0.25, report
