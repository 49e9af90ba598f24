"""Analytics: every figure against a hand-computed fixture, who may see and export what, the exports'
contents (CSV parsed, PDF opened and read), outcomes, the audit trail and the system dashboard.
"""

from __future__ import annotations

import csv
import io
import logging

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from pypdf import PdfReader
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.settings import Settings
from tests.support.analytics import build_figures, make_sponsor, sql
from tests.support.coins import make_arena, set_idea_status
from tests.support.factories import Actors


@pytest.fixture
async def actors(client: AsyncTestClient[Litestar], settings: Settings) -> Actors:
    return await Actors(client, settings).setup()


async def test_campaign_figures_match_the_hand_computed_fixture(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    figures = await build_figures(client, actors, db_engine)
    response = await client.get("/api/campaigns/alpha/analytics", headers=figures.a.manager)
    assert response.status_code == 200, response.text
    body = response.json()

    # Participation: 2 addresses invited; 4 members (manager + 3); 1 member authored an idea; 2 allocated.
    assert [(s["label"], s["count"]) for s in body["participation"]] == [
        ("Invited", 2),
        ("Joined", 4),
        ("Submitted an idea", 1),
        ("Allocated coins", 2),
    ]
    assert body["participation"][3]["of_first"] == 1.0  # 2 allocated / 2 invited

    # Concentration over the holding ideas' coins [0, 0, 10, 30] (rejected and pending ideas left out):
    # sorted ascending with ranks 1..4, sum(i * x) = 1*0 + 2*0 + 3*10 + 4*30 = 150, n = 4, total = 40,
    # Gini = 2*150 / (4*40) - (4+1)/4 = 1.875 - 1.25 = 0.625.  Cross-check with the mean absolute
    # difference: sum over ordered pairs |xi - xj| = 200; 200 / (2 * 4^2 * mean 10) = 0.625.
    # Top 10 % of 4 ideas = ceil(0.4) = 1 idea, holding 30 of 40 coins = 0.75.
    assert body["concentration"] == {"ideas": 4, "coins": 40, "gini": pytest.approx(0.625), "top_count": 1,
                                     "top_share": pytest.approx(0.75)}  # fmt: skip

    # Coins: 4 members * 100 granted; 40 allocated, none expended, 360 available.
    assert body["coins"] == {"granted": 400, "available": 360, "allocated": 40, "expended": 0}
    # Histogram: the largest grant is 100, so ten buckets 10 coins wide (the last one up to 100): two members
    # spent 0, one spent 10 (10-19), one spent 30 (30-39).
    histogram = [(b["low"], b["high"], b["members"]) for b in body["histogram"]]
    assert histogram[0] == (0, 9, 2)
    assert histogram[1] == (10, 19, 1)
    assert histogram[3] == (30, 39, 1)
    assert histogram[9] == (90, 100, 0)
    assert sum(members for *_, members in histogram) == 4

    assert [(i["id"], i["coins"], i["share"]) for i in body["top_ideas"][:2]] == [
        (figures.a.ideas[3], 30, 0.75),
        (figures.a.ideas[2], 10, 0.25),
    ]
    assert len(body["top_ideas"]) == 4  # the rejected and pending ideas are not ranked

    # Today: 40 coins allocated in 2 allocations by 2 members, 40 on ideas at the end of the day.
    assert len(body["over_time"]) == 1
    day = body["over_time"][0]
    assert (day["allocated"], day["released"], day["allocations"], day["members"], day["on_ideas"]) == (40, 0, 2, 2, 40)

    # Status funnel: 6 ideas; approved = the 4 that compete or went further; accepted, in progress and
    # complete = the 1 complete idea.
    assert [(s["label"], s["count"]) for s in body["status_funnel"]] == [
        ("Submitted", 6),
        ("Approved", 4),
        ("Accepted", 1),
        ("In progress", 1),
        ("Complete", 1),
    ]
    assert body["statuses"] == {"pending": 1, "competing": 3, "accepted": 0, "in_progress": 0, "complete": 1,
                                "rejected": 1, "withdrawn": 0, "merged": 0}  # fmt: skip
    # Tags: Energy on the 10- and 30-coin ideas; Travel on the complete idea (0 coins) and a rejected one
    # (not counted).
    assert [(t["name"], t["coins"], t["ideas"]) for t in body["tags"]] == [("Energy", 40, 2), ("Travel", 0, 1)]


async def test_executive_figures_match_the_hand_computed_fixture(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    await build_figures(client, actors, db_engine)
    sponsor = await make_sponsor(client, actors)
    response = await client.get("/api/dashboards/executive", headers=sponsor)
    assert response.status_code == 200, response.text
    body = response.json()
    totals = body["totals"]
    # Launched: alpha (active), bravo (completed), delta (active); the draft is not counted.
    assert (totals["campaigns"], totals["completed"]) == (3, 1)
    assert totals["completion_rate"] == pytest.approx(1 / 3)
    # Accepted or beyond: alpha 1 (complete), bravo 3 (complete, in progress, accepted); complete: 1 + 1.
    assert (totals["ideas_accepted"], totals["ideas_implemented"]) == (4, 2)
    assert totals["implementation_rate"] == pytest.approx(0.5)
    # Members: alpha 4, bravo 3, delta 1 = 8; engaged (allocated): 2 + 1 + 0 = 3.
    assert (totals["members"], totals["engaged"]) == (8, 3)
    assert totals["engagement"] == pytest.approx(3 / 8)
    # Cost per engaged member over the campaigns with a cost (alpha 120,000 + delta 50,000 cents) and
    # their engaged members (2 + 0): 170,000 / 2 = 85,000 cents (850.00).
    assert (totals["cost_cents"], totals["engaged_with_cost"]) == (170_000, 2)
    assert totals["cost_per_engaged_cents"] == pytest.approx(85_000)

    rows = {c["slug"]: c for c in body["campaigns"]}
    assert set(rows) == {"alpha", "bravo", "delta"}
    assert rows["alpha"]["cost_per_engaged_cents"] == pytest.approx(60_000)  # 120,000 / 2
    assert rows["alpha"]["engagement"] == pytest.approx(0.5)  # 2 of 4
    assert rows["alpha"]["gini"] == pytest.approx(0.625)
    assert rows["bravo"]["implementation_rate"] == pytest.approx(1 / 3)
    assert rows["delta"]["cost_per_engaged_cents"] is None  # nobody engaged: no division by zero

    this_month = body["trends"][-1]
    assert this_month["coins_allocated"] == 45  # 10 + 30 in alpha, 5 in bravo
    assert this_month["allocators"] == 3
    assert this_month["ideas_implemented"] == 2
    assert this_month["campaigns_completed"] == 1
    assert len(body["trends"]) == 12

    page = await client.get("/dashboards/executive", headers=sponsor)
    assert page.status_code == 200
    assert "33.3 %" in page.text and "850.00" in page.text and "50.0 %" in page.text
    assert 'role="img"' in page.text and 'type="application/json"' in page.text


# Permissions ----------------------------------------------------------------------------------------------------


async def test_analytics_and_exports_follow_the_campaign_roles(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    closed = await make_arena(
        client, actors, db_engine, slug="secret", members=1, ideas=2
    )  # open arena first, then closed below
    await client.patch("/api/campaigns/secret", json={"campaign_type": "closed"}, headers=actors.admin)
    other = await make_arena(client, actors, db_engine, slug="other", members=0, ideas=1)
    sponsor = await make_sponsor(client, actors)
    _, outsider = await actors.person("outsider")
    member = closed.members[0]

    def export(slug: str, what: str = "ideas", fmt: str = "csv") -> str:
        return f"/api/campaigns/{slug}/export?what={what}&format={fmt}"

    cases = [
        ("member", member, export("secret"), 403, "AUTH_002"),
        ("outsider", outsider, export("secret"), 404, "CAMPAIGN_001"),
        ("manager of another campaign", other.manager, export("secret"), 404, "CAMPAIGN_001"),
        ("manager, own campaign", other.manager, export("other"), 200, None),
        ("manager", closed.manager, export("secret", "ledger"), 200, None),
        ("sponsor", sponsor, export("secret", "members"), 200, None),
        ("sponsor, pdf", sponsor, export("secret", "dashboard", "pdf"), 200, None),
        ("admin", actors.admin, export("secret", "audit"), 200, None),
        ("nobody", {}, export("secret"), 401, "AUTH_001"),
        ("bad format", sponsor, export("secret", "ideas", "xls"), 422, "VALIDATION_001"),
        ("bad list", sponsor, export("secret", "secrets"), 422, "VALIDATION_001"),
        ("member, figures", member, "/api/campaigns/secret/analytics", 403, "AUTH_002"),
        ("outsider, figures", outsider, "/api/campaigns/secret/analytics", 404, "CAMPAIGN_001"),
        ("outsider, open campaign", outsider, "/api/campaigns/other/analytics", 403, "AUTH_002"),
        ("member, executive", member, "/api/dashboards/executive", 403, "AUTH_002"),
        ("manager, executive", closed.manager, "/api/dashboards/executive", 403, "AUTH_002"),
        ("sponsor, audit trail", sponsor, "/api/audit-trail/export?format=csv", 403, "AUTH_002"),
        ("admin, audit trail", actors.admin, "/api/audit-trail/export?format=csv", 200, None),
        # The pages follow the same rules (a bearer token works on pages too).
        ("member, page", member, "/campaigns/secret/analytics", 403, None),
        ("outsider, page", outsider, "/campaigns/secret/analytics", 404, None),
        ("sponsor, page", sponsor, "/campaigns/secret/analytics", 200, None),
        ("member, page export", member, "/campaigns/secret/analytics/export?what=ledger&format=csv", 403, None),
        ("sponsor, page export", sponsor, "/campaigns/secret/analytics/export?what=ledger&format=pdf", 200, None),
        ("manager, outcomes", closed.manager, "/campaigns/secret/analytics/outcomes", 200, None),
        ("sponsor, campaign audit", sponsor, "/campaigns/secret/analytics/audit", 200, None),
        ("member, campaign audit", member, "/campaigns/secret/analytics/audit", 403, None),
        ("sponsor, executive page", sponsor, "/dashboards/executive", 200, None),
        ("manager, executive page", closed.manager, "/dashboards/executive", 403, None),
        ("sponsor, system", sponsor, "/admin/system", 403, None),
        ("admin, system", actors.admin, "/admin/system", 200, None),
        ("sponsor, admin audit", sponsor, "/admin/audit-trail", 403, None),
    ]
    problems = []
    for name, headers, path, status, code in cases:
        response = await client.get(path, headers={**headers, "Accept": "application/json"} if code else headers)
        if response.status_code != status:
            problems.append(f"{name}: GET {path} -> {response.status_code}, expected {status}: {response.text[:200]}")
        elif code is not None:
            body = response.json()
            if body.get("error_code") != code or not {"message", "details", "timestamp", "request_id"} <= set(body):
                problems.append(f"{name}: GET {path} -> body {body}, expected error_code {code}")
    assert not problems, "\n".join(problems)


# Export contents ------------------------------------------------------------------------------------------------


def parse_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


async def test_exports_carry_the_figures(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    figures = await build_figures(client, actors, db_engine)
    a = figures.a
    await sql(db_engine, "UPDATE ideas SET title = '=HYPERLINK(\"http://evil\")' WHERE id = :i", i=a.ideas[1])

    dashboard = await client.get("/api/campaigns/alpha/export?what=dashboard&format=csv", headers=a.manager)
    assert dashboard.status_code == 200
    assert dashboard.headers["content-type"].startswith("text/csv")
    assert "attachment" in dashboard.headers["content-disposition"]
    lines = parse_csv(dashboard.content)
    assert lines[0] == ["section", "item", "measure", "value"]
    assert ["Key figures", "Gini over ideas' coins", "value", "0.625"] in lines
    assert ["Participation", "Allocated coins", "People", "2"] in lines
    assert ["Tags", "Energy", "Coins", "40"] in lines

    ledger = await client.get("/api/campaigns/alpha/export?what=ledger&format=csv", headers=a.manager)
    rows = parse_csv(ledger.content)
    assert rows[0][:4] == ["id", "created_at", "kind", "amount"]
    kinds = sorted(row[2] for row in rows[1:])
    assert kinds == ["allocate", "allocate", "grant", "grant", "grant", "grant"]

    ideas = await client.get("/api/campaigns/alpha/export?what=ideas&format=csv", headers=a.manager)
    titles = {row[0]: row[1] for row in parse_csv(ideas.content)[1:]}
    assert titles[str(a.ideas[1])] == '\'=HYPERLINK("http://evil")'  # a formula is kept as text
    members = parse_csv(
        (await client.get("/api/campaigns/alpha/export?what=members&format=csv", headers=a.manager)).content
    )
    assert len(members) == 1 + 4
    allocations = parse_csv(
        (await client.get("/api/campaigns/alpha/export?what=allocations&format=csv", headers=a.manager)).content
    )
    assert sorted(int(row[5]) for row in allocations[1:]) == [10, 30]

    pdf = await client.get("/api/campaigns/alpha/export?what=dashboard&format=pdf", headers=a.manager)
    assert pdf.headers["content-type"] == "application/pdf"
    words = pdf_text(pdf.content)
    for expected in ("Greener office: campaign analytics", "Gini over ideas", "0.625", "75.0 %", "Participation",
                     "Coins spent per member", "Idea status funnel", "Energy"):  # fmt: skip
        assert expected in words, expected

    ledger_pdf = pdf_text(
        (await client.get("/api/campaigns/alpha/export?what=ledger&format=pdf", headers=a.manager)).content
    )
    assert "Coin ledger" in ledger_pdf and "allocate" in ledger_pdf and "6 rows." in ledger_pdf

    sponsor = await make_sponsor(client, actors)
    executive = await client.get("/api/dashboards/executive/export?format=pdf", headers=sponsor)
    words = pdf_text(executive.content)
    assert "Executive dashboard" in words and "33.3 %" in words and "850.00" in words
    executive_csv = parse_csv((await client.get("/dashboards/executive/export?format=csv", headers=sponsor)).content)
    assert ["Key figures", "Cost per engaged member", "value", "85000"] in executive_csv

    system = await client.get("/admin/system/export?format=pdf", headers=actors.admin)
    assert "System dashboard" in pdf_text(system.content)


# Outcomes ---------------------------------------------------------------------------------------------------------


async def test_managers_record_outcomes_of_completed_ideas(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    arena = await make_arena(client, actors, db_engine, slug="outcomes", members=1, ideas=2)
    done, competing = arena.ideas
    await set_idea_status(db_engine, done, "complete")
    sponsor = await make_sponsor(client, actors)
    body = {"note": "Fewer trips: the shuttle replaced 40 cars.", "metric_name": "CO₂ saved", "metric_value": 12.5,
            "metric_unit": "t/year"}  # fmt: skip

    refused = [
        (arena.members[0], done, 403, "AUTH_002"),
        (sponsor, done, 403, "AUTH_002"),
        (arena.manager, competing, 409, "IDEA_006"),
        (arena.manager, 999_999, 404, "IDEA_001"),
    ]
    for headers, idea, status, code in refused:
        response = await client.post(f"/api/ideas/{idea}/outcome", json=body, headers=headers)
        assert (response.status_code, response.json()["error_code"]) == (status, code), response.text
    invalid = await client.post(
        f"/api/ideas/{done}/outcome", json={**body, "metric_value": "lots"}, headers=arena.manager
    )
    assert invalid.status_code == 422
    assert "metric_value" in invalid.json()["details"]["fields"]

    created = await client.post(f"/api/ideas/{done}/outcome", json=body, headers=arena.manager)
    assert created.status_code == 201, created.text
    assert created.json()["metric_value"] == "12.5"
    listed = await client.get(f"/api/ideas/{done}/outcomes", headers=sponsor)
    assert [o["metric_name"] for o in listed.json()] == ["CO₂ saved"]

    executive = (await client.get("/api/dashboards/executive", headers=sponsor)).json()
    assert executive["outcomes"][0]["note"].startswith("Fewer trips")
    trail = await client.get("/campaigns/outcomes/analytics/audit?action=idea.outcome", headers=arena.manager)
    assert "idea.outcome_recorded" in trail.text and "CO₂ saved" in trail.text
    page = await client.get("/campaigns/outcomes/analytics/outcomes", headers=sponsor)
    assert "CO₂ saved" in page.text and "12.5" in page.text
    assert "Record the outcome" not in page.text  # sponsors read only


# The audit trail --------------------------------------------------------------------------------------------------


async def test_audit_trail_filters_and_scopes(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    first = await make_arena(client, actors, db_engine, slug="first", members=1, ideas=1)
    await make_arena(client, actors, db_engine, slug="second", members=1, ideas=1)
    tag = await client.post("/api/campaigns/first/tags", json={"name": "Lighting"}, headers=first.manager)
    assert tag.status_code == 201
    invite = await client.post(
        "/api/campaigns/first/members", json={"emails": ["x@example.org"]}, headers=first.manager
    )
    assert invite.status_code == 200

    # Managers see their campaign's events only: the campaign, its tags, its members joining.
    own = await client.get("/campaigns/first/analytics/audit", headers=first.manager)
    assert own.status_code == 200
    assert "tag.created" in own.text and "campaign.active" in own.text and "campaign.member_added" in own.text
    assert "Lighting" in own.text
    campaign_ids = {}
    async with db_engine.connect() as conn:
        for slug in ("first", "second"):
            campaign_ids[slug] = str(
                (await conn.execute(text("SELECT id FROM campaigns WHERE slug = :s"), {"s": slug})).scalar_one()
            )
    assert campaign_ids["first"] in own.text and campaign_ids["second"] not in own.text
    only_tags = await client.get("/campaigns/first/analytics/audit?entity_type=tag", headers=first.manager)
    assert "tag.created" in only_tags.text and "campaign.active" not in only_tags.text

    # Admins see every domain and filter by actor, action prefix, entity, dates and campaign.
    everything = await client.get("/admin/audit-trail", headers=actors.admin)
    assert "user.registered" in everything.text and campaign_ids["second"] in everything.text
    by_campaign = await client.get("/admin/audit-trail?campaign=second&action=campaign.", headers=actors.admin)
    assert campaign_ids["second"] in by_campaign.text and campaign_ids["first"] not in by_campaign.text
    assert "user.registered" not in by_campaign.text
    # The export links and pagination keep the filters.
    assert 'href="/admin/audit-trail/export?format=csv&amp;action=campaign.&amp;campaign=second"' in by_campaign.text
    by_actor = await client.get(f"/admin/audit-trail?actor={actors.admin_email}", headers=actors.admin)
    assert "campaign.created" in by_actor.text and "tag.created" not in by_actor.text
    future = await client.get("/admin/audit-trail?since=2999-01-01", headers=actors.admin)
    assert "No event matches." in future.text
    unknown = await client.get("/admin/audit-trail?campaign=nope", headers=actors.admin)
    assert "No campaign has the slug" in unknown.text and "No event matches." in unknown.text

    exported = await client.get(
        "/admin/audit-trail/export?format=csv&campaign=first&entity_type=tag", headers=actors.admin
    )
    rows = parse_csv(exported.content)
    assert rows[0] == ["id", "occurred_at", "actor_email", "actor_name", "action", "entity_type", "entity_id", "before",
                       "after", "request_id"]  # fmt: skip
    assert [row[4] for row in rows[1:]] == ["tag.created"]
    assert '"name": "Lighting"' in rows[1][8]
    pdf = await client.get("/admin/audit-trail/export?format=pdf&action=campaign.", headers=actors.admin)
    assert "campaign.active" in pdf_text(pdf.content)
    manager_csv = await client.get("/campaigns/first/analytics/export?what=audit&format=csv&entity_type=campaign",
                                   headers=first.manager)  # fmt: skip
    actions = {row[4] for row in parse_csv(manager_csv.content)[1:]}
    assert actions >= {"campaign.created", "campaign.active", "campaign.member_added", "campaign.invited"}
    assert not any(a.startswith(("tag.", "user.")) for a in actions)


# The system dashboard -------------------------------------------------------------------------------------------


async def test_system_dashboard_reports_services_and_recent_errors(
    client: AsyncTestClient[Litestar], actors: Actors
) -> None:
    logging.getLogger("coins.test").error("disk on fire while testing")
    page = await client.get("/admin/system", headers=actors.admin)
    assert page.status_code == 200
    for expected in ("PostgreSQL", "Valkey", "Search", "Job queue (SAQ)", "Database size", "Memory used",
                     "disk on fire while testing", 'hx-trigger="every 10s"'):  # fmt: skip
        assert expected in page.text, expected
    assert page.headers["vary"] == "HX-Request, HX-Target"
    partial = await client.get(
        "/admin/system", headers={**actors.admin, "HX-Request": "true", "HX-Target": "system-live"}
    )
    assert partial.status_code == 200
    assert partial.text.lstrip().startswith('<div id="system-live"') and "<html" not in partial.text
    csv_lines = parse_csv((await client.get("/admin/system/export?format=csv", headers=actors.admin)).content)
    assert ["Key figures", "Active campaigns", "value", "0"] in csv_lines
