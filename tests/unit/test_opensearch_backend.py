"""The OpenSearch backend's requests and how it reads the answers, on recorded responses.

This is the only mocked part of the search tests: no OpenSearch server can run on the development
machines (TOOLCHAIN.md), so the real `AsyncOpenSearch` client is given a connection class that records
each request and answers with a response recorded from OpenSearch 2 (tests/fixtures/opensearch/).
Everything above the HTTP connection is real: the client's URL and body building, its error mapping, and
our request building and response reading.  The same behaviour against a real server is checked by
tests/integration/test_search_backends.py whenever OPENSEARCH_URL is set.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from opensearchpy import AsyncOpenSearch
from opensearchpy._async.http_aiohttp import AsyncConnection

from coins.ideas.search import SIMILAR_THRESHOLD, IdeaFilters
from coins.search import SearchClient, make_backend
from coins.search.base import IdeaDocument
from coins.search.opensearch import IndexingFailed, OpenSearchSearch
from coins.search.opensearch_requests import INDEX_BODY, UnsupportedSort, build_search, build_similar, query_words
from coins.search.postgres import PostgresSearch
from coins.settings import OpenSearchSettings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "opensearch"
CAMPAIGN = UUID("0193a0b2-7c1e-7d2a-9f00-000000000001")
AUTHOR = UUID("0193a0b2-7c1e-7d2a-9f00-0000000000aa")
ENERGY = UUID("0193a0b2-7c1e-7d2a-9f00-0000000000e1")
TRANSPORT = UUID("0193a0b2-7c1e-7d2a-9f00-0000000000e2")
ALIAS = "coins-ideas"


@dataclass
class Sent:
    method: str
    path: str
    params: dict[str, Any]
    body: Any


@dataclass
class Recorder:
    """Answers by (method, path) (a path ending in * matches by prefix); remembers every request."""

    answers: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)

    def answer(self, method: str, path: str, status: int, fixture: str | None = None) -> None:
        self.answers[(method, path)] = (status, (FIXTURES / fixture).read_text() if fixture else "")

    def reply(self, method: str, path: str) -> tuple[int, str]:
        for (known_method, known_path), answer in self.answers.items():
            if known_method == method and (
                known_path == path or (known_path.endswith("*") and path.startswith(known_path[:-1]))
            ):
                return answer
        return 404, ""


class RecordedConnection(AsyncConnection):
    def __init__(self, *, recorder: Recorder, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recorder = recorder

    async def perform_request(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        timeout: float | None = None,
        ignore: Collection[int] = (),
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        text = body.decode() if body else ""
        if text.count("\n") > 1:  # NDJSON (bulk)
            decoded: Any = [json.loads(line) for line in text.splitlines() if line]
        else:
            decoded = json.loads(text) if text else None
        self.recorder.sent.append(Sent(method, url, dict(params or {}), decoded))
        status, raw = self.recorder.reply(method, url)
        if not 200 <= status < 300 and status not in ignore:
            self._raise_error(status, raw, "application/json")
        return status, {"content-type": "application/json"}, raw

    async def close(self) -> None:
        return None


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def backend(recorder: Recorder) -> OpenSearchSearch:
    client = AsyncOpenSearch(
        hosts=["http://search.example:9200"], connection_class=RecordedConnection, recorder=recorder
    )
    return OpenSearchSearch(client, index=ALIAS)


FILTERS = IdeaFilters(
    statuses=("competing", "accepted"),
    own_statuses=("pending",),
    author_id=AUTHOR,
    tag_ids=(ENERGY, TRANSPORT, ENERGY),
    min_coins=5,
    max_coins=50,
    context_id="portal-1",
)


def test_search_request_carries_every_filter_and_the_sort() -> None:
    body = build_search(CAMPAIGN, "bike racks", FILTERS, "supporters", 20, 40)
    assert body["from"] == 40 and body["size"] == 20 and body["track_total_hits"] is True
    assert body["_source"] is False
    assert body["sort"] == [{"supporters": "desc"}, {"coins": "desc"}, {"id": "asc"}]
    clauses = body["query"]["bool"]["filter"]
    assert clauses[0] == {"term": {"campaign_id": str(CAMPAIGN)}}
    assert clauses[1] == {
        "bool": {
            "should": [
                {"terms": {"status": ["competing", "accepted"]}},
                {"bool": {"filter": [{"terms": {"status": ["pending"]}}, {"term": {"author_id": str(AUTHOR)}}]}},
            ],
            "minimum_should_match": 1,
        }
    }
    # Every tag must be there (one term each, repeats dropped); then coins and context.
    assert clauses[2:] == [
        {"term": {"tags": str(ENERGY)}},
        {"term": {"tags": str(TRANSPORT)}},
        {"range": {"coins": {"gte": 5, "lte": 50}}},
        {"term": {"context_id": "portal-1"}},
    ]
    text_query = body["query"]["bool"]["must"][0]["bool"]
    assert text_query["minimum_should_match"] == 1
    assert text_query["should"][0]["simple_query_string"]["default_operator"] == "and"
    assert len(text_query["should"]) == 4  # plain words: typo and prefix matching too


def test_search_syntax_turns_off_fuzzy_matching_and_nothing_visible_matches_nothing() -> None:
    body = build_search(CAMPAIGN, 'bike -repair "north door"', IdeaFilters(statuses=()), "newest", 10, 0)
    assert len(body["query"]["bool"]["must"][0]["bool"]["should"]) == 1
    assert body["query"]["bool"]["filter"][1] == {"bool": {"must_not": {"match_all": {}}}}
    assert body["sort"] == [{"created_at": "desc"}, {"id": "desc"}]
    assert "must" not in build_search(CAMPAIGN, None, FILTERS, "coins", 10, 0)["query"]["bool"]
    with pytest.raises(UnsupportedSort):
        build_search(CAMPAIGN, None, FILTERS, "trending", 10, 0)


def test_similar_request_names_one_query_per_meaningful_word() -> None:
    assert query_words("More bike racks at the North entrance, more bike!") == ["bike", "racks", "north", "entrance"]
    body = build_similar(CAMPAIGN, "More bike racks at the north entrance", FILTERS, candidates=50)
    should = body["query"]["bool"]["should"]
    named = [next(iter(c["match"].values())).get("_name") for c in should if "_name" in next(iter(c["match"].values()))]
    assert named == [
        "title:0", "description:0", "title:1", "description:1", "title:2", "description:2", "title:3", "description:3",
    ]  # fmt: skip
    assert body["size"] == 50 and body["_source"] == ["title"]
    assert body["query"]["bool"]["minimum_should_match"] == 1


async def test_search_ids_reads_ids_and_total(backend: OpenSearchSearch, recorder: Recorder) -> None:
    recorder.answer("POST", f"/{ALIAS}/_search", 200, "search_response.json")
    page = await backend.search_ids(CAMPAIGN, None, FILTERS, "coins", 2, 0)
    assert (page.ids, page.total) == ([42, 17], 5)
    assert recorder.sent[0].body == build_search(CAMPAIGN, None, FILTERS, "coins", 2, 0)


async def test_similar_scores_hits_like_postgresql(backend: OpenSearchSearch, recorder: Recorder) -> None:
    recorder.answer("POST", f"/{ALIAS}/_search", 200, "similar_response.json")
    title = "More bike racks at the north entrance"
    hits = await backend.similar(CAMPAIGN, title, FILTERS, limit=5, min_score=0.0)
    assert [h.idea_id for h in hits] == [3, 11, 7]
    exact = hits[0]
    assert (exact.score, exact.trigram, exact.word, exact.text) == (1.0, 1.0, 1.0, 1.0)
    # "Bike repair workshop": "bike" in the title (1), "racks" only in the description (0.5), of 4 words.
    assert hits[1].text == pytest.approx(0.375)
    assert all(0 <= h.score <= 1 for h in hits)
    shown = await backend.similar(CAMPAIGN, title, FILTERS, limit=5, min_score=SIMILAR_THRESHOLD)
    assert [h.idea_id for h in shown] == [3]
    assert await backend.similar(CAMPAIGN, "   ", FILTERS, limit=5, min_score=0.0) == []


def _document(idea_id: int) -> IdeaDocument:
    return IdeaDocument(
        id=idea_id,
        campaign_id=CAMPAIGN,
        author_id=AUTHOR,
        title="Solar panels on the roof",
        description="Cheaper power.",
        status="competing",
        coins=30,
        supporters=1,
        created_at=datetime(2026, 11, 29, 10, 15, tzinfo=UTC),
        context_id=None,
        tag_ids=[ENERGY],
        tag_names=["Energy"],
        version=1795950900123456,
    )


async def test_bulk_writes_versioned_documents_and_accepts_newer_ones(
    backend: OpenSearchSearch, recorder: Recorder
) -> None:
    recorder.answer("POST", "/_bulk", 200, "bulk_response.json")
    written = await backend.index_many([_document(1), _document(2)])
    assert written == 1  # the other one was already newer in the index (409): not an error
    lines = recorder.sent[0].body
    assert lines[0] == {
        "index": {"_index": ALIAS, "_id": "1", "version": 1795950900123456, "version_type": "external_gte"}
    }
    assert lines[1] == {
        "id": 1, "campaign_id": str(CAMPAIGN), "author_id": str(AUTHOR), "title": "Solar panels on the roof",
        "description": "Cheaper power.", "tags": [str(ENERGY)], "tag_names": ["Energy"], "status": "competing",
        "coins": 30, "supporters": 1, "created_at": "2026-11-29T10:15:00+00:00", "context_id": None,
    }  # fmt: skip
    # Every field the documents carry is in the strict mapping.
    assert set(lines[1]) <= set(INDEX_BODY["mappings"]["properties"])


async def test_bulk_failures_raise(backend: OpenSearchSearch, recorder: Recorder) -> None:
    recorder.answer("POST", "/_bulk", 200, "bulk_failure_response.json")
    with pytest.raises(IndexingFailed, match="strict"):
        await backend.index(_document(1))


async def test_delete_ignores_missing_documents(backend: OpenSearchSearch, recorder: Recorder) -> None:
    recorder.answer("DELETE", f"/{ALIAS}/_doc/5", 404, "delete_not_found.json")
    await backend.delete(5)
    assert recorder.sent[0].method == "DELETE"


async def test_first_use_creates_the_index_behind_its_alias(backend: OpenSearchSearch, recorder: Recorder) -> None:
    recorder.answer("HEAD", f"/_alias/{ALIAS}", 404, "index_not_found_error.json")
    recorder.answer("PUT", f"/{ALIAS}-*", 200, "create_index_response.json")
    assert await backend.ensure_index() == ALIAS
    created = [sent for sent in recorder.sent if sent.method == "PUT"]
    assert created[0].path.startswith(f"/{ALIAS}-")
    assert created[0].body["aliases"] == {ALIAS: {}}
    assert created[0].body["mappings"]["properties"]["title"]["fields"]["trigram"]["analyzer"] == "title_trigram"
    recorder.answer("HEAD", f"/_alias/{ALIAS}", 200)
    await backend.ensure_index()
    assert len([sent for sent in recorder.sent if sent.method == "PUT"]) == 1  # exists: nothing created


async def test_search_errors_surface(backend: OpenSearchSearch, recorder: Recorder) -> None:
    from opensearchpy import NotFoundError

    recorder.answer("POST", f"/{ALIAS}/_search", 404, "index_not_found_error.json")
    with pytest.raises(NotFoundError):
        await backend.search_ids(CAMPAIGN, None, FILTERS, "coins", 10, 0)


async def test_backend_choice_follows_the_settings() -> None:
    session: Any = object()
    assert isinstance(make_backend(session, SearchClient(OpenSearchSettings())), PostgresSearch)
    assert isinstance(make_backend(session, None), PostgresSearch)
    client = SearchClient(OpenSearchSettings(url="http://search.example:9200", index_prefix="prod"))
    chosen = make_backend(session, client)
    assert isinstance(chosen, OpenSearchSearch) and chosen.alias == "prod-ideas"
    await client.close()


async def test_without_opensearch_indexing_jobs_and_reindex_do_nothing() -> None:
    from click.testing import CliRunner

    from coins.cli import main
    from coins.search.tasks import index_idea, sync_search_coins
    from coins.settings import load_settings

    settings = load_settings({"ENVIRONMENT": "test", "SECRET_KEY": "s" * 40, "JWT_SECRET_KEY": "j" * 40})
    ctx: Any = {"settings": settings}
    assert (await index_idea(ctx, idea_id=1)).startswith("skipped")
    assert await sync_search_coins(ctx) == 0
    result = CliRunner().invoke(
        main,
        ["search", "reindex"],
        env={"ENVIRONMENT": "test", "SECRET_KEY": "s" * 40, "JWT_SECRET_KEY": "j" * 40, "OPENSEARCH_URL": ""},
    )
    assert result.exit_code == 0, result.output
    assert "OPENSEARCH_URL is not set" in result.output
