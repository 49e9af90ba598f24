"""The ideas API against the real database: submitting, the XSS corpus, the workflow table (with the coins
each transition moves, or must not move), versions and diffs, the board, visibility, racing clicks."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.coins.ledger import Balance, replay
from coins.settings import Settings
from tests.support.ideas import (
    Cast,
    allocate,
    balances,
    counts,
    idea_row,
    make_campaign,
    make_cast,
    move,
    submit,
)

# Submitting ---------------------------------------------------------------------------------------------


async def test_submit_validates_and_rewards(
    client: AsyncTestClient[Litestar], settings: Settings, db_engine: AsyncEngine
) -> None:
    cast = await make_cast(client, settings, db_engine)
    await make_campaign(cast, "office", reward=3)
    await make_campaign(cast, "elsewhere")
    manager = cast.headers("manager")
    energy = (await client.post("/api/campaigns/office/tags", json={"name": "Energy"}, headers=manager)).json()
    transport = (await client.post("/api/campaigns/office/tags", json={"name": "Transport"}, headers=manager)).json()
    old = (await client.post("/api/campaigns/office/tags", json={"name": "Old"}, headers=manager)).json()
    await client.patch(f"/api/campaigns/office/tags/{old['id']}", json={"is_active": False}, headers=manager)
    foreign = (await client.post("/api/campaigns/elsewhere/tags", json={"name": "Energy"}, headers=manager)).json()
    before = await balances(cast, "office")

    created = await submit(
        cast,
        "office",
        "  More   bike\tracks <b>now</b>\n",
        "We need **more** racks.",
        tag_ids=[transport["id"], energy["id"], energy["id"]],
        context_id="intranet-42",
    )
    assert created["status"] == "competing" and created["coins"] == 0 and created["supporters"] == 0
    assert created["title"] == "More bike racks <b>now</b>"  # plain text: trimmed, one line, not interpreted
    assert created["title_html"] == "More bike racks &lt;b&gt;now&lt;/b&gt;"
    assert created["description_html"] == "<p>We need <strong>more</strong> racks.</p>\n"
    assert [t["name"] for t in created["tags"]] == ["Energy", "Transport"]
    assert created["author"]["name"] == "Author Person"
    assert (created["source"], created["context_id"]) == ("api", "intranet-42")
    granted, available, *_ = (await balances(cast, "office"))["author"]
    assert (granted, available) == (before["author"][0] + 3, before["author"][1] + 3)  # the reward

    detail = (await client.get(f"/api/ideas/{created['id']}")).json()
    assert [(h["from_status"], h["to_status"]) for h in detail["status_history"]] == [(None, "competing")]
    assert [v["number"] for v in detail["versions"]] == [1]
    async with db_engine.connect() as conn:
        audited = await conn.scalar(
            text("SELECT count(*) FROM audit_events WHERE action = 'idea.submitted' AND entity_id = :id"),
            {"id": str(created["id"])},
        )
    assert audited == 1

    # Exactly the limits: a 255-character title and a 5,000-character description pass.
    await submit(cast, "office", "t" * 255, "d" * 5000)

    async def refused(body: dict[str, Any], role: str = "author", slug: str = "office") -> Any:
        payload = {"title": "A fine idea", "description": "Why it matters.", **body}
        response = await client.post(f"/api/campaigns/{slug}/ideas", json=payload, headers=cast.headers(role))
        return response.status_code, response.json()

    cases = [
        ({"title": "   "}, "title"),
        ({"title": "t" * 256}, "title"),
        ({"description": " \n "}, "description"),
        ({"description": "d" * 5001}, "description"),
        ({"tag_ids": [old["id"]]}, "tag_ids"),
        ({"tag_ids": [foreign["id"]]}, "tag_ids"),
        ({"tag_ids": ["01234567-89ab-cdef-0123-456789abcdef"]}, "tag_ids"),
        ({"context_id": "c" * 201}, "context_id"),
    ]
    for body, field_name in cases:
        status, error = await refused(body)
        assert (status, error["error_code"]) == (422, "VALIDATION_001"), (body, error)
        assert field_name in error["details"]["fields"], (body, error)
    status, error = await refused({"tag_ids": [old["id"]]})
    assert "Old" in error["details"]["fields"]["tag_ids"]  # says which tag is retired

    # Who may submit: members of an active campaign only.
    assert (await refused({}, role="outsider"))[1]["error_code"] == "AUTH_002"
    assert (await refused({}, role="sponsor"))[1]["error_code"] == "AUTH_002"
    assert (await refused({}, role="admin"))[0] == 403  # admins moderate; they hold no coins here
    anonymous = await client.post("/api/campaigns/office/ideas", json={"title": "x", "description": "y"})
    assert (anonymous.status_code, anonymous.json()["error_code"]) == (401, "AUTH_001")
    await client.post("/api/campaigns/elsewhere/complete", headers=manager)
    status, error = await refused({}, slug="elsewhere")
    assert (status, error["error_code"]) == (409, "CAMPAIGN_002")
    await make_campaign(cast, "secret", campaign_type="closed", members=("author",))
    assert (await refused({}, role="outsider", slug="secret"))[1]["error_code"] == "CAMPAIGN_001"
    assert (await refused({}, slug="nowhere"))[0] == 404
    # Nothing of the refusals was written.
    async with db_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM ideas")) == 2

    # Mediated: pending, and the reward waits for the approval.
    await make_campaign(cast, "moderated", campaign_type="mediated", reward=5)
    before = (await balances(cast, "moderated"))["author"]
    pending = await submit(cast, "moderated", "Quiet room")
    assert pending["status"] == "pending"
    assert (await balances(cast, "moderated"))["author"] == before
    approved = await move(cast, pending["id"], "competing")
    assert approved.json()["status"] == "competing"
    assert (await balances(cast, "moderated"))["author"][0] == before[0] + 5


# The XSS corpus -----------------------------------------------------------------------------------------

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=http://xss.example/xss.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    '"><script>alert(document.cookie)</script>',
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"jav&#x09;ascript:alert('XSS');\">",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
    "<body onload=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>",
    '<a href="http://ok.example" onclick="alert(1)">ok</a>',
    '<a href="jav&#x0A;ascript:alert(1)">x</a>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<p style="width: expression(alert(1))">x</p>',
    "<style>@import 'javascript:alert(1)';</style>",
    '<base href="javascript:alert(1)//">',
    '<form action="javascript:alert(1)"><button>x</button></form>',
    '<link rel=stylesheet href="javascript:alert(1)">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](&#x6A;avascript:alert(1))",
    "[click](javascript&colon;alert(1))",
    "[click](java&#x09;script:alert(1))",
    "[click](<javascript:alert(1)>)",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![img](javascript:alert(1))",
    "![img](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '![img](http://ok.example/x.png "onerror=alert(1)")',
    '[ok](http://ok.example "x onmouseover=alert(1)")',
    "[ref][x]\n\n[x]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "<http://ok.example/?q=<script>alert(1)</script>>",
]
DANGEROUS_TAGS = {
    "script", "iframe", "object", "embed", "svg", "math", "style", "img", "form", "input", "base",
    "link", "meta", "body", "details", "button", "frame", "frameset", "applet", "audio", "video",
}  # fmt: skip
_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "background", "poster"}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    handle_startendtag = handle_starttag


def unsafe_parts(markup: str) -> list[str]:
    """What in rendered HTML could run script: tags, event handlers, style, script/data URLs."""
    problems = []
    if "<script" in markup.lower():
        problems.append("a <script tag")
    parser = _Elements()
    parser.feed(markup)
    parser.close()
    for tag, attrs in parser.elements:
        if tag in DANGEROUS_TAGS:
            problems.append(f"a <{tag}> element")
        for name, value in attrs:
            if re.fullmatch(r"on\w+", name):
                problems.append(f"an event handler {name}= on <{tag}>")
            if name == "style":
                problems.append(f"a style attribute on <{tag}>")
            if name in URL_ATTRIBUTES and value is not None:
                # As a browser's URL parser reads it (WHATWG URL): entities are already decoded by the
                # HTML parser; leading/trailing controls and spaces are trimmed and tabs and newlines
                # dropped anywhere.  %-escapes are not decoded: "java%09script:" is a relative URL.
                url = re.sub(r"[\t\n\r]", "", value).strip(_C0_AND_SPACE).lower()
                if url.startswith(("javascript:", "data:", "vbscript:")):
                    problems.append(f"a {url.split(':')[0]}: URL in {name}= of <{tag}>")
    return problems


async def test_no_script_survives_in_descriptions_or_titles(
    client: AsyncTestClient[Litestar], settings: Settings, db_engine: AsyncEngine
) -> None:
    assert len(XSS_PAYLOADS) >= 30
    # The checker itself catches what it must (so a passing test means something).
    assert unsafe_parts('<a href=" JaVa&#x09;Script:x">') and unsafe_parts("<p onclick=x>")
    assert not unsafe_parts('<a href="java%09script:alert(1)">')  # a relative URL, not a scheme
    assert unsafe_parts('<p style="x">') and unsafe_parts("<img src=x>")
    assert not unsafe_parts("<p>onerror=alert(1) as text &lt;script&gt;</p>")

    cast = await make_cast(client, settings, db_engine)
    await make_campaign(cast, "xss")
    problems: dict[str, list[str]] = {}
    for payload in XSS_PAYLOADS:
        idea = await submit(cast, "xss", payload[:255], f"Before {payload} after\n\n{payload}")
        for name in ("description_html", "title_html"):
            found = unsafe_parts(idea[name])
            if found:
                problems[f"{name} of {payload!r}"] = found
        assert idea["title"] == " ".join(payload.split())[:255]  # stored as typed, never rewritten
    listed = await client.get("/api/campaigns/xss/ideas", params={"limit": 100})
    for item in listed.json()["items"]:
        for name in ("description_html", "title_html"):
            if unsafe_parts(item[name]):
                problems[f"listed {name} of idea {item['id']}"] = unsafe_parts(item[name])
    assert not problems, problems


# The workflow table -------------------------------------------------------------------------------------

MERGE_TARGET = "target"  # a fresh competing idea of the same campaign
ACCEPTED_TARGET = "accepted-target"


@dataclass(frozen=True)
class Case:
    campaign: str  # open | mediated | strict (recycling off) | done (completed campaign)
    start: str  # the idea's status before
    actor: str
    target: str
    code: int
    error: str | None = None
    body: dict[str, Any] = field(default_factory=dict)


REASON = {"reason": "Out of scope for this year."}
CASES = [
    # open campaign, competing ideas: accept (expends), withdraw (recycles), merge (moves)
    Case("open", "competing", "author", "accepted", 403, "AUTH_002"),
    Case("open", "competing", "member", "accepted", 403, "AUTH_002"),
    Case("open", "competing", "sponsor", "accepted", 403, "AUTH_002"),
    Case("open", "competing", "outsider", "accepted", 403, "AUTH_002"),
    Case("open", "competing", "visitor", "accepted", 401, "AUTH_001"),
    Case("open", "competing", "manager", "accepted", 200),
    Case("open", "competing", "admin", "accepted", 200),
    Case("open", "competing", "author", "withdrawn", 200),
    Case("open", "competing", "member", "withdrawn", 403, "AUTH_002"),
    Case("open", "competing", "manager", "withdrawn", 403, "AUTH_002"),
    Case("open", "competing", "admin", "withdrawn", 403, "AUTH_002"),
    Case("open", "competing", "visitor", "withdrawn", 401, "AUTH_001"),
    Case("open", "competing", "manager", "merged", 200, body={"merged_into": MERGE_TARGET}),
    Case("open", "competing", "admin", "merged", 200, body={"merged_into": MERGE_TARGET}),
    Case("open", "competing", "author", "merged", 403, "AUTH_002", {"merged_into": MERGE_TARGET}),
    Case("open", "competing", "member", "merged", 403, "AUTH_002", {"merged_into": MERGE_TARGET}),
    Case("open", "competing", "manager", "merged", 409, "IDEA_003", {"merged_into": ACCEPTED_TARGET}),
    Case("open", "competing", "manager", "merged", 422, "VALIDATION_001", {"merged_into": "self"}),
    Case("open", "competing", "manager", "merged", 422, "VALIDATION_001"),
    Case("open", "competing", "manager", "merged", 422, "VALIDATION_001", {"merged_into": "elsewhere"}),
    Case("open", "competing", "manager", "in_progress", 409, "IDEA_002"),
    Case("open", "competing", "manager", "competing", 409, "IDEA_002"),
    Case("open", "competing", "manager", "rejected", 409, "IDEA_002", REASON),
    Case("open", "competing", "manager", "pending", 422, "VALIDATION_001"),
    Case("open", "accepted", "manager", "accepted", 409, "IDEA_004"),
    Case("open", "accepted", "manager", "in_progress", 200),
    Case("open", "accepted", "admin", "in_progress", 200),
    Case("open", "accepted", "author", "in_progress", 403, "AUTH_002"),
    Case("open", "accepted", "member", "in_progress", 403, "AUTH_002"),
    Case("open", "accepted", "manager", "complete", 409, "IDEA_002"),
    Case("open", "accepted", "author", "withdrawn", 409, "IDEA_002"),
    Case("open", "accepted", "manager", "merged", 409, "IDEA_002", {"merged_into": MERGE_TARGET}),
    Case("open", "in_progress", "manager", "complete", 200),
    Case("open", "in_progress", "author", "complete", 403, "AUTH_002"),
    Case("open", "in_progress", "manager", "accepted", 409, "IDEA_004"),
    Case("open", "complete", "manager", "in_progress", 409, "IDEA_002"),
    Case("open", "withdrawn", "manager", "competing", 409, "IDEA_002"),
    Case("open", "withdrawn", "manager", "accepted", 409, "IDEA_002"),
    Case("open", "withdrawn", "author", "withdrawn", 409, "IDEA_002"),
    Case("open", "merged", "manager", "accepted", 409, "IDEA_002"),
    Case("open", "merged", "manager", "competing", 409, "IDEA_002"),
    # mediated campaign: approval, rejection; pending ideas are private to their author and managers
    Case("mediated", "pending", "manager", "competing", 200),
    Case("mediated", "pending", "admin", "competing", 200),
    Case("mediated", "pending", "author", "competing", 403, "AUTH_002"),
    Case("mediated", "pending", "member", "competing", 404, "IDEA_001"),
    Case("mediated", "pending", "sponsor", "competing", 404, "IDEA_001"),
    Case("mediated", "pending", "outsider", "competing", 404, "IDEA_001"),
    Case("mediated", "pending", "visitor", "competing", 401, "AUTH_001"),
    Case("mediated", "pending", "manager", "rejected", 200, body=REASON),
    Case("mediated", "pending", "manager", "rejected", 422, "VALIDATION_001"),
    Case("mediated", "pending", "manager", "rejected", 422, "VALIDATION_001", {"reason": "   "}),
    Case("mediated", "pending", "author", "rejected", 403, "AUTH_002", REASON),
    Case("mediated", "pending", "author", "withdrawn", 200),
    Case("mediated", "pending", "manager", "withdrawn", 403, "AUTH_002"),
    Case("mediated", "pending", "manager", "accepted", 409, "IDEA_002"),
    Case("mediated", "pending", "manager", "merged", 409, "IDEA_002", {"merged_into": MERGE_TARGET}),
    Case("mediated", "rejected", "manager", "competing", 409, "IDEA_002"),
    Case("mediated", "rejected", "author", "withdrawn", 409, "IDEA_002"),
    Case("mediated", "competing", "manager", "accepted", 200),
    Case("mediated", "competing", "author", "withdrawn", 200),
    # recycling off: a withdrawn idea's coins are forfeited
    Case("strict", "competing", "author", "withdrawn", 200),
    Case("strict", "competing", "manager", "accepted", 200),
    # completed campaign: accepted work goes on; nothing else moves
    Case("done", "accepted", "manager", "in_progress", 200),
    Case("done", "in_progress", "manager", "complete", 200),
    Case("done", "competing", "manager", "accepted", 409, "CAMPAIGN_002"),
    Case("done", "competing", "author", "withdrawn", 409, "CAMPAIGN_002"),
    Case("done", "competing", "manager", "merged", 409, "CAMPAIGN_002", {"merged_into": MERGE_TARGET}),
    Case("done", "accepted", "author", "in_progress", 403, "AUTH_002"),
]  # fmt: skip

CAMPAIGNS = {
    "open": {"reward": 3},
    "mediated": {"campaign_type": "mediated", "reward": 5},
    "strict": {"recycling": False},
    "done": {},
}
# Who backs every competing idea of the table, and with how much.
BACKERS = {"member": 2, "fan": 3}


async def _prepare(cast: Cast, slug: str, start: str) -> int:
    """A fresh idea in `start` status, backed by BACKERS while it competed."""
    idea = (await submit(cast, slug, f"Idea reaching {start}"))["id"]
    if start in {"pending", "rejected", "withdrawn"} and slug == "wf-mediated":
        if start == "rejected":
            assert (await move(cast, idea, "rejected", **REASON)).status_code == 200
        if start == "withdrawn":
            assert (await move(cast, idea, "withdrawn", role="author")).status_code == 200
        return int(idea)
    if slug == "wf-mediated":
        assert (await move(cast, idea, "competing")).status_code == 200
    for role, coins in BACKERS.items():
        await allocate(cast, slug, role, idea, coins)
    steps = {
        "competing": [],
        "accepted": ["accepted"],
        "in_progress": ["accepted", "in_progress"],
        "complete": ["accepted", "in_progress", "complete"],
        "withdrawn": ["withdrawn"],
        "merged": ["merged"],
    }[start]
    for step in steps:
        extra: dict[str, Any] = {}
        if step == "merged":
            extra["merged_into"] = (await submit(cast, slug, "Where merged ideas go"))["id"]
        response = await move(cast, idea, step, role="author" if step == "withdrawn" else "manager", **extra)
        assert response.status_code == 200, response.text
    return int(idea)


async def _allocations(cast: Cast, idea_id: int) -> dict[Any, int]:
    async with cast.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT user_id, coins FROM coin_allocations WHERE idea_id = :id"), {"id": idea_id}
        )
        return {row.user_id: row.coins for row in rows}


def _expected_balances(
    cast: Cast, case: Case, before: dict[str, tuple[int, int, int, int]], backing: dict[Any, int], reward: int
) -> dict[str, tuple[int, int, int, int]]:
    """The balances after a successful transition, from the rules of SPEC.md "Coin economy"."""
    after = dict(before)
    roles = {cast.id(role): role for role in before}
    for user_id, coins in backing.items():
        granted, available, allocated, expended = after[roles[user_id]]
        if case.target == "accepted" or (case.target == "withdrawn" and case.campaign == "strict"):
            after[roles[user_id]] = (granted, available, allocated - coins, expended + coins)
        elif case.target == "withdrawn":
            after[roles[user_id]] = (granted, available + coins, allocated - coins, expended)
    if case.target == "competing" and reward:
        granted, available, allocated, expended = after["author"]
        after["author"] = (granted + reward, available + reward, allocated, expended)
    return after


async def _prepare_cases(cast: Cast) -> list[tuple[Case, int, dict[str, Any]]]:
    """One fresh idea per case, in the case's start status, and the request body to send."""
    for name, options in CAMPAIGNS.items():
        await make_campaign(cast, f"wf-{name}", initial=1000, **options)
    await make_campaign(cast, "wf-elsewhere")
    elsewhere = (await submit(cast, "wf-elsewhere", "An idea of another campaign"))["id"]
    prepared = []
    for case in CASES:
        slug = f"wf-{case.campaign}"
        idea = await _prepare(cast, slug, case.start)
        body = {"status": case.target, **case.body}
        if body.get("merged_into") == MERGE_TARGET:
            target = (await submit(cast, slug, "The idea to merge into"))["id"]
            if slug == "wf-mediated":
                await move(cast, target, "competing")
            await allocate(cast, slug, "member", target, 2)
            body["merged_into"] = target
        elif body.get("merged_into") == ACCEPTED_TARGET:
            body["merged_into"] = await _prepare(cast, slug, "accepted")
        elif body.get("merged_into") == "self":
            body["merged_into"] = idea
        elif body.get("merged_into") == "elsewhere":
            body["merged_into"] = elsewhere
        prepared.append((case, idea, body))
    completed = await cast.client.post("/api/campaigns/wf-done/complete", headers=cast.headers("manager"))
    assert completed.status_code == 200
    return prepared


async def _run_case(cast: Cast, case: Case, idea: int, body: dict[str, Any]) -> list[str]:
    """Send the request; what differs from the expected answer and the expected effects."""
    slug = f"wf-{case.campaign}"
    row_before, balances_before, counts_before = (
        await idea_row(cast, idea),
        await balances(cast, slug),
        await counts(cast),
    )
    backing = await _allocations(cast, idea)
    target_id = body.get("merged_into") if case.code == 200 else None
    target_before = await idea_row(cast, target_id) if target_id else None
    target_backing = await _allocations(cast, target_id) if target_id else {}
    response = await cast.client.post(f"/api/ideas/{idea}/status", json=body, headers=cast.headers(case.actor))
    answer = response.json()
    got = (response.status_code, answer.get("error_code") if response.status_code != 200 else None)
    if got != (case.code, case.error):
        return [f"got {got} {answer.get('message', '')}"]
    row_after, balances_after = await idea_row(cast, idea), await balances(cast, slug)
    if case.code != 200:
        # A refusal changes nothing at all: the idea, every balance, the ledger, the trail.
        unchanged = (row_after, balances_after, await counts(cast)) == (
            row_before,
            balances_before,
            counts_before,
        )
        return [] if unchanged else ["a refusal changed something"]
    problems = []
    if (row_after["status"], answer["status"], row_after["changes"]) != (
        case.target,
        case.target,
        row_before["changes"] + 1,
    ):
        problems.append(f"status {row_after['status']} after {row_after['changes']} changes")
    expected = _expected_balances(cast, case, balances_before, backing, int(CAMPAIGNS[case.campaign].get("reward", 0)))
    if balances_after != expected:
        problems.append(f"balances {balances_after} != {expected}")
    # Accepted coins stay on the idea (expended); withdrawn ones go back (or are forfeited); merged ones move.
    moved_away = case.target in {"withdrawn", "merged"}
    expected_coins = (0 if moved_away else row_before["coins"], bool(backing) and not moved_away)
    if (row_after["coins"], row_after["allocations"] > 0) != expected_coins:
        problems.append(f"idea coins {row_after['coins']}, allocations {row_after['allocations']}")
    if target_before is not None:
        target_after = await idea_row(cast, int(target_id))
        supporters = len(set(backing) | set(target_backing))
        if target_after["coins"] != target_before["coins"] + sum(backing.values()):
            problems.append("merged coins did not move")
        if (target_after["supporters"], row_after["merged_into_id"]) != (supporters, target_id):
            problems.append("merge target's supporters not recomputed")
    if case.target == "rejected" and row_after["rejection_reason"] != REASON["reason"]:
        problems.append("no rejection reason")
    return problems


async def _assert_ledger_explains_balances(engine: AsyncEngine) -> None:
    """Every balance equals the replay of its ledger entries (what `coins audit` checks)."""
    async with engine.connect() as conn:
        entries = await conn.execute(text("SELECT campaign_id, user_id, kind, amount FROM coin_ledger ORDER BY id"))
        ledgers: dict[Any, list[tuple[str, int]]] = {}
        for entry in entries:
            ledgers.setdefault((entry.campaign_id, entry.user_id), []).append((entry.kind, entry.amount))
        stored = await conn.execute(
            text("SELECT campaign_id, user_id, granted, available, allocated, expended FROM coin_balances")
        )
        for row in stored:
            replayed = replay(ledgers.get((row.campaign_id, row.user_id), []))
            assert replayed == Balance(row.granted, row.available, row.allocated, row.expended), row


async def test_workflow_table(client: AsyncTestClient[Litestar], settings: Settings, db_engine: AsyncEngine) -> None:
    """Every row: actor x transition x campaign type/status -> status code, resulting status, coins."""
    cast = await make_cast(client, settings, db_engine)
    mismatches = []
    for case, idea, body in await _prepare_cases(cast):
        problems = await _run_case(cast, case, idea, body)
        if problems:
            mismatches.append(f"{case}: {'; '.join(problems)}")
    assert not mismatches, "\n".join(mismatches)
    await _assert_ledger_explains_balances(db_engine)


async def test_two_clicks_at_once_move_coins_once(
    client: AsyncTestClient[Litestar], settings: Settings, db_engine: AsyncEngine
) -> None:
    """A manager accepting while the author withdraws, and two managers accepting: one wins, once."""
    cast = await make_cast(client, settings, db_engine)
    await make_campaign(cast, "race", initial=1000)
    for round_number in range(3):
        first = (await submit(cast, "race", f"Raced idea {round_number}"))["id"]
        second = (await submit(cast, "race", f"Twice accepted idea {round_number}"))["id"]
        for idea in (first, second):
            await allocate(cast, "race", "member", idea, 4)
            await allocate(cast, "race", "fan", idea, 6)
        responses = await asyncio.gather(
            move(cast, first, "accepted"),
            move(cast, first, "withdrawn", role="author"),
            move(cast, second, "accepted"),
            move(cast, second, "accepted", role="admin"),
        )
        for pair in (responses[:2], responses[2:]):
            codes = sorted(r.status_code for r in pair)
            assert codes == [200, 409], [r.text for r in pair]
            loser = next(r for r in pair if r.status_code == 409)
            assert loser.json()["error_code"] in {"IDEA_002", "IDEA_004"}
        async with db_engine.connect() as conn:
            for idea in (first, second):
                settled = await conn.scalar(
                    text(
                        "SELECT count(*) FROM coin_ledger WHERE idea_id = :id AND kind IN ('expend', 'recycle', 'forfeit')"
                    ),
                    {"id": idea},
                )
                changes = await conn.scalar(
                    text("SELECT count(*) FROM idea_status_changes WHERE idea_id = :id"), {"id": idea}
                )
                assert (settled, changes) == (2, 2)  # one settlement per backer, one transition
    member = (await balances(cast, "race"))["member"]
    assert member[0] == member[1] + member[2] + member[3]


# Editing and versions -----------------------------------------------------------------------------------


async def test_edits_keep_versions_with_diffs(
    client: AsyncTestClient[Litestar], settings: Settings, db_engine: AsyncEngine
) -> None:
    cast = await make_cast(client, settings, db_engine)
    await make_campaign(cast, "edits")
    manager = cast.headers("manager")
    energy = (await client.post("/api/campaigns/edits/tags", json={"name": "Energy"}, headers=manager)).json()
    legacy = (await client.post("/api/campaigns/edits/tags", json={"name": "Legacy"}, headers=manager)).json()
    idea = await submit(cast, "edits", "Solar panels", "Put panels\non the roof.", tag_ids=[legacy["id"]])
    await client.patch(f"/api/campaigns/edits/tags/{legacy['id']}", json={"is_active": False}, headers=manager)
    url = f"/api/ideas/{idea['id']}"

    async def edit(body: dict[str, Any], role: str = "author") -> Any:
        return await client.patch(url, json=body, headers=cast.headers(role))

    # The author edits title and description; the retired tag already on the idea may stay.
    edited = await edit({"title": "Solar panels on the roof", "description": "Put panels\non the south roof.",
                         "tag_ids": [legacy["id"], energy["id"]]})  # fmt: skip
    assert edited.status_code == 200, edited.text
    assert edited.json()["title"] == "Solar panels on the roof"
    assert "south roof" in edited.json()["description_html"]
    # Sending the same values again writes nothing: no version, no audit record.
    before = await counts(cast), (await idea_row(cast, idea["id"]))["versions"]
    same = await edit({"title": " Solar panels on the roof ", "tag_ids": [energy["id"], legacy["id"]]})
    assert same.status_code == 200
    assert (await counts(cast), (await idea_row(cast, idea["id"]))["versions"]) == before
    # Other people may not edit; the author may not set the context; a retired tag cannot be added.
    refusals = [
        (await edit({"title": "Mine now"}, role="member"), 403, "AUTH_002"),
        (await edit({"title": "Mine now"}, role="sponsor"), 403, "AUTH_002"),
        (await client.patch(url, json={"title": "Anonymous"}), 401, "AUTH_001"),
        (await edit({"context_id": "somewhere"}), 403, "AUTH_002"),
        (await edit({"title": ""}), 422, "VALIDATION_001"),
        (await edit({"description": "x" * 5001}), 422, "VALIDATION_001"),
    ]
    other = await submit(cast, "edits", "Another idea")
    refusals.append(
        (
            await client.patch(
                f"/api/ideas/{other['id']}", json={"tag_ids": [legacy["id"]]}, headers=cast.headers("author")
            ),
            422,
            "VALIDATION_001",
        )
    )
    for response, status, code in refusals:
        assert (response.status_code, response.json()["error_code"]) == (status, code), response.text
    assert (await idea_row(cast, idea["id"]))["versions"] == 2
    # Managers edit any field, context included, any time until the idea is merged.
    managed = await edit({"tag_ids": [energy["id"]], "context_id": "portal-7"}, role="manager")
    assert managed.status_code == 200 and managed.json()["context_id"] == "portal-7"
    assert (await move(cast, idea["id"], "accepted")).status_code == 200
    late = await edit({"title": "Too late"})
    assert (late.status_code, late.json()["error_code"]) == (409, "IDEA_004")
    assert (await edit({"title": "Solar panels on the main roof"}, role="admin")).status_code == 200
    assert (
        await move(cast, other["id"], "merged", merged_into=(await submit(cast, "edits", "Target"))["id"])
    ).status_code == 200
    merged = await client.patch(f"/api/ideas/{other['id']}", json={"title": "Renamed"}, headers=manager)
    assert (merged.status_code, merged.json()["error_code"]) == (409, "IDEA_005")

    versions = (await client.get(f"{url}/versions")).json()
    assert versions["total"] == 4
    items = versions["items"]
    assert [v["number"] for v in items] == [1, 2, 3, 4]
    assert [v["changed"] for v in items] == [
        [],
        ["title", "description", "tags"],
        ["tags", "context_id"],
        ["title"],
    ]
    assert [v["editor"]["name"] for v in items] == [
        "Author Person",
        "Author Person",
        "Manager Person",
        "Administrator",
    ]
    assert items[0]["diff"] == {}
    assert items[1]["diff"]["title"].splitlines() == [
        "--- v1/title", "+++ v2/title", "@@ -1 +1 @@", "-Solar panels", "+Solar panels on the roof",
    ]  # fmt: skip
    assert (
        "-on the roof." in items[1]["diff"]["description"] and "+on the south roof." in items[1]["diff"]["description"]
    )
    assert items[1]["diff"]["tags"].splitlines()[-2:] == ["+Energy", " Legacy"]
    assert set(items[2]["diff"]) == {"tags"}  # the context is not part of the text versions
    assert items[3]["tags"] == ["Energy"]
    page = (await client.get(f"{url}/versions", params={"offset": 3, "limit": 1})).json()
    assert [v["number"] for v in page["items"]] == [4] and "title" in page["items"][0]["diff"]
    detail = (await client.get(url)).json()
    assert [v["number"] for v in detail["versions"]] == [1, 2, 3, 4]
    assert detail["can_edit"] is False  # accepted: the visitor may not, and nor may the author
    author_view = (await client.get(url, headers=cast.headers("author"))).json()
    assert author_view["can_edit"] is False and author_view["allowed_statuses"] == []
    manager_view = (await client.get(url, headers=manager)).json()
    assert manager_view["can_edit"] is True and manager_view["allowed_statuses"] == ["in_progress"]
    merged_view = (await client.get(f"/api/ideas/{other['id']}")).json()
    assert merged_view["merged_into"]["title"] == "Target"


# The board ----------------------------------------------------------------------------------------------


async def test_board_filters_sorts_and_paginates(
    client: AsyncTestClient[Litestar], settings: Settings, db_engine: AsyncEngine
) -> None:
    cast = await make_cast(client, settings, db_engine)
    await make_campaign(cast, "board", campaign_type="mediated", initial=1000)
    manager = cast.headers("manager")
    tags = {
        name: (await client.post("/api/campaigns/board/tags", json={"name": name}, headers=manager)).json()["id"]
        for name in ("Energy", "Transport", "Food")
    }

    async def idea(title: str, tag_names: list[str], coins: dict[str, int], status: str = "competing") -> int:
        created = await submit(cast, "board", title, f"About {title.lower()}.", tag_ids=[tags[n] for n in tag_names])
        if status != "pending":
            await move(cast, created["id"], "competing")
        for role, amount in coins.items():
            await allocate(cast, "board", role, created["id"], amount)
        if status == "accepted":
            await move(cast, created["id"], status)
        return int(created["id"])

    bikes = await idea("More bike racks at the north entrance", ["Transport"], {"member": 5, "fan": 5})
    solar = await idea("Solar panels on the roof", ["Energy"], {"member": 30})
    ev = await idea("EV chargers in the car park", ["Energy", "Transport"], {"fan": 12, "member": 1})
    salad = await idea("Salad bar in the canteen", ["Food"], {"fan": 3})
    repair = await idea("Bike repair workshop", ["Transport"], {})
    accepted = await idea("Heat pumps instead of gas boilers", ["Energy"], {"member": 7}, status="accepted")
    pending = await idea("Standing desks for everyone", ["Food"], {}, status="pending")
    merged_away = await idea("Charging points for e-bikes", ["Energy"], {"fan": 9})
    assert (
        await move(cast, merged_away, "merged", merged_into=bikes)
    ).status_code == 200  # bikes: 19 coins, 2 from the ledger

    async def ids(role: str = "visitor", **params: Any) -> list[int]:
        response = await client.get("/api/campaigns/board/ideas", params=params, headers=cast.headers(role))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] >= len(body["items"])
        return [item["id"] for item in body["items"]]

    # Default: competing, accepted, in progress, complete; by coins (ties: supporters, then oldest).
    assert await ids() == [solar, bikes, ev, accepted, salad, repair]
    assert await ids(sort="supporters") == [bikes, ev, solar, accepted, salad, repair]
    assert await ids(sort="newest") == [accepted, repair, salad, ev, solar, bikes]
    # Trending counts coins put on ideas in the last 7 days: bikes got 9 of its 19 through a merge.
    assert await ids(sort="trending") == [solar, ev, bikes, accepted, salad, repair]
    # Tags: all of the given ones, by id or by name.
    assert await ids(tag=[tags["Energy"]]) == [solar, ev, accepted]
    assert await ids(tag=["energy", "Transport"]) == [ev]
    assert await ids(tag=["Food"], status=["competing", "pending"]) == [salad]
    # Status lists; pending only for managers and, for their own ideas, authors.
    assert await ids(status=["accepted"]) == [accepted]
    assert await ids(status=["merged"]) == [merged_away]
    assert await ids("member", status=["pending"]) == []
    assert await ids("author", status=["pending"]) == [pending]
    assert await ids("manager", status=["pending"]) == [pending]
    assert await ids("admin", status=["pending", "accepted"]) == [accepted, pending]
    # Coin range and text (full text with websearch syntax, or trigram similarity on titles).
    assert await ids(min_coins=10, max_coins=19) == [bikes, ev]
    assert await ids(max_coins=0) == [repair]
    assert await ids(q="bike") == [bikes, repair]
    assert await ids(q="bike -repair") == [bikes]
    assert await ids(q='"car park"') == [ev]
    assert await ids(q="sollar") == [solar]  # a typo still finds the title
    assert await ids(q="canteen", tag=["Food"], min_coins=1) == [salad]
    # Pagination: at most 100 a page, total counts everything that matches.
    page = (await client.get("/api/campaigns/board/ideas", params={"limit": 2, "offset": 2})).json()
    assert ([i["id"] for i in page["items"]], page["total"], page["limit"], page["offset"]) == (
        [ev, accepted],
        6,
        2,
        2,
    )
    beyond = (await client.get("/api/campaigns/board/ideas", params={"limit": 2, "offset": 50})).json()
    assert (beyond["items"], beyond["total"]) == ([], 6)
    item = page["items"][0]
    assert (item["coins"], item["supporters"], item["status"], item["author"]["name"]) == (
        13,
        2,
        "competing",
        "Author Person",
    )
    assert sorted(t["name"] for t in item["tags"]) == ["Energy", "Transport"]
    for params, field_name in [
        ({"limit": 101}, "limit"),
        ({"status": ["bogus"]}, "status"),
        ({"tag": ["Nope"]}, "tag"),
        ({"min_coins": 5, "max_coins": 2}, "max_coins"),
        ({"sort": "random"}, "sort"),
    ]:
        refused = await client.get("/api/campaigns/board/ideas", params=params)
        assert refused.status_code in {400, 422}, (params, refused.text)
        assert field_name in refused.json()["details"]["fields"], (params, refused.text)


async def test_visibility(client: AsyncTestClient[Litestar], settings: Settings, db_engine: AsyncEngine) -> None:
    cast = await make_cast(client, settings, db_engine)
    await make_campaign(cast, "closed-one", campaign_type="closed", members=("author", "member"))
    await make_campaign(cast, "mediated-one", campaign_type="mediated")
    hidden = await submit(cast, "closed-one", "Private idea")
    pending = await submit(cast, "mediated-one", "Waiting idea")
    rejected = await submit(cast, "mediated-one", "Refused idea")
    await move(cast, rejected["id"], "rejected", reason="Duplicate")

    expected = {
        # role: (closed campaign's idea, pending idea, rejected idea)
        "visitor": (404, 404, 404),
        "outsider": (404, 404, 404),
        "member": (200, 404, 404),
        "fan": (404, 404, 404),
        "author": (200, 200, 200),
        "manager": (200, 200, 200),
        "admin": (200, 200, 200),
        "sponsor": (200, 404, 404),
    }
    for role, codes in expected.items():
        got = []
        for idea in (hidden, pending, rejected):
            response = await client.get(f"/api/ideas/{idea['id']}", headers=cast.headers(role))
            got.append(response.status_code)
            if response.status_code == 404:
                assert response.json()["error_code"] == "IDEA_001"
            versions = await client.get(f"/api/ideas/{idea['id']}/versions", headers=cast.headers(role))
            assert versions.status_code == response.status_code
        assert tuple(got) == codes, (role, got)
    listing = await client.get("/api/campaigns/closed-one/ideas", headers=cast.headers("outsider"))
    assert (listing.status_code, listing.json()["error_code"]) == (404, "CAMPAIGN_001")
    for missing in ("999999", "0", "99999999999999999999"):
        assert (await client.get(f"/api/ideas/{missing}")).status_code == 404
    assert (await client.get(f"/api/ideas/{rejected['id']}", headers=cast.headers("author"))).json()[
        "rejection_reason"
    ] == "Duplicate"
