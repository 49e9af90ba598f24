"""OpenSearch request bodies (`build_*`) and response reading (`read_*`): plain functions, unit-tested on
recorded responses (tests/fixtures/opensearch/), so the backend class only sends and receives."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from coins.ideas.search import IdeaFilters, SearchPage, SimilarHit, Sort
from coins.search.base import IdeaDocument, combine, is_plain
from coins.search.trigram import similarity, word_similarity

BULK_BATCH = 500
MAX_QUERY_WORDS = 20
MAX_QUERY_CHARS = 300
_WORD = re.compile(r"[^\W_]+")

# PostgreSQL's english.stop (snowball), so both backends drop the same words from the "text" signal.
_STOP_WORDS = """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her
    hers herself it its itself they them their theirs themselves what which who whom this that these
    those am is are was were be been being have has had having do does did doing a an the and but if or
    because as until while of at by for with about against between into through during before after
    above below to from up down in out on off over under again further then once here there when where
    why how all any both each few more most other some such no nor not only own same so than too very s
    t can will just don should now
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())

INDEX_BODY: dict[str, Any] = {
    "settings": {
        "number_of_shards": 1,
        "analysis": {
            "tokenizer": {
                # Trigrams inside words, like pg_trgm: near-identical titles share most of them.
                "title_trigram": {
                    "type": "ngram", "min_gram": 3, "max_gram": 3, "token_chars": ["letter", "digit"],
                },
                # Word prefixes: a half-typed title already finds its look-alikes.
                "title_edge": {
                    "type": "edge_ngram", "min_gram": 2, "max_gram": 15, "token_chars": ["letter", "digit"],
                },
            },
            "analyzer": {
                "title_trigram": {"type": "custom", "tokenizer": "title_trigram", "filter": ["lowercase"]},
                "title_edge": {"type": "custom", "tokenizer": "title_edge", "filter": ["lowercase"]},
                "title_words": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase"]},
            },
        },
    },
    "mappings": {
        "dynamic": "strict",
        "properties": {
            "id": {"type": "long"},
            "campaign_id": {"type": "keyword"},
            "author_id": {"type": "keyword"},
            "title": {
                "type": "text",
                "analyzer": "english",
                "fields": {
                    "trigram": {"type": "text", "analyzer": "title_trigram"},
                    "edge": {"type": "text", "analyzer": "title_edge", "search_analyzer": "title_words"},
                    "raw": {"type": "keyword", "ignore_above": 256},
                },
            },
            "description": {"type": "text", "analyzer": "english"},
            "tags": {"type": "keyword"},
            "tag_names": {"type": "keyword"},
            "status": {"type": "keyword"},
            "coins": {"type": "integer"},
            "supporters": {"type": "integer"},
            "created_at": {"type": "date"},
            "context_id": {"type": "keyword"},
        },
    },
}  # fmt: skip


class UnsupportedSort(ValueError):
    """This backend cannot order by that (trending needs the coin ledger in PostgreSQL)."""


def query_words(title: str) -> list[str]:
    """The words of a title that carry meaning: lower-cased, stop words dropped, each once."""
    words = [w for w in _WORD.findall(title.lower()) if w not in STOP_WORDS]
    return list(dict.fromkeys(words))[:MAX_QUERY_WORDS]


def filter_clauses(campaign_id: UUID, filters: IdeaFilters) -> list[dict[str, Any]]:
    visible: list[dict[str, Any]] = []
    if filters.statuses:
        visible.append({"terms": {"status": list(filters.statuses)}})
    if filters.own_statuses and filters.author_id is not None:
        visible.append(
            {
                "bool": {
                    "filter": [
                        {"terms": {"status": list(filters.own_statuses)}},
                        {"term": {"author_id": str(filters.author_id)}},
                    ]
                }
            }
        )
    clauses: list[dict[str, Any]] = [
        {"term": {"campaign_id": str(campaign_id)}},
        # Nothing visible: a should with no clauses would match everything, so match nothing instead.
        {"bool": {"should": visible, "minimum_should_match": 1}}
        if visible
        else {"bool": {"must_not": {"match_all": {}}}},
    ]
    clauses.extend({"term": {"tags": str(tag_id)}} for tag_id in dict.fromkeys(filters.tag_ids))
    coins: dict[str, int] = {}
    if filters.min_coins is not None:
        coins["gte"] = filters.min_coins
    if filters.max_coins is not None:
        coins["lte"] = filters.max_coins
    if coins:
        clauses.append({"range": {"coins": coins}})
    if filters.context_id is not None:
        clauses.append({"term": {"context_id": filters.context_id}})
    return clauses


SORT_ORDERS: dict[str, list[dict[str, str]]] = {
    "coins": [{"coins": "desc"}, {"supporters": "desc"}, {"id": "asc"}],
    "supporters": [{"supporters": "desc"}, {"coins": "desc"}, {"id": "asc"}],
    "newest": [{"created_at": "desc"}, {"id": "desc"}],
}


def build_search(
    campaign_id: UUID, text: str | None, filters: IdeaFilters, sort: Sort, limit: int, offset: int
) -> dict[str, Any]:
    if sort not in SORT_ORDERS:
        raise UnsupportedSort(sort)
    query: dict[str, Any] = {"filter": filter_clauses(campaign_id, filters)}
    if text:
        text = text[:MAX_QUERY_CHARS]
        # Like websearch_to_tsquery: all words, "quoted phrases", -excluded words.
        should: list[dict[str, Any]] = [
            {
                "simple_query_string": {
                    "query": text,
                    "fields": ["title^2", "description"],
                    "default_operator": "and",
                }
            }
        ]
        if is_plain(text):
            # Like pg_trgm's word similarity: typos ("sollar") and half-typed words ("bicyc").
            should.append({"match": {"title": {"query": text, "operator": "and", "fuzziness": "AUTO"}}})
            should.append({"match": {"title.edge": {"query": text, "operator": "and"}}})
            should.append({"match": {"title.trigram": {"query": text, "minimum_should_match": "60%"}}})
        query["must"] = [{"bool": {"should": should, "minimum_should_match": 1}}]
    return {
        "query": {"bool": query},
        "sort": SORT_ORDERS[sort],
        "from": offset,
        "size": limit,
        "track_total_hits": True,
        "_source": False,
    }


def build_similar(campaign_id: UUID, title: str, filters: IdeaFilters, *, candidates: int) -> dict[str, Any]:
    title = title[:MAX_QUERY_CHARS]
    should: list[dict[str, Any]] = [
        {"match": {"title.trigram": {"query": title, "minimum_should_match": "30%"}}},
        {"match": {"title.edge": {"query": title}}},
    ]
    for number, word in enumerate(query_words(title)):
        should.append({"match": {"title": {"query": word, "_name": f"title:{number}"}}})
        should.append({"match": {"description": {"query": word, "_name": f"description:{number}"}}})
    return {
        "query": {
            "bool": {
                "filter": filter_clauses(campaign_id, filters),
                "should": should,
                "minimum_should_match": 1,
            }
        },
        "size": candidates,
        "_source": ["title"],
    }


def document_body(document: IdeaDocument) -> dict[str, Any]:
    return {
        "id": document.id,
        "campaign_id": str(document.campaign_id),
        "author_id": str(document.author_id) if document.author_id else None,
        "title": document.title,
        "description": document.description,
        "tags": [str(t) for t in document.tag_ids],
        "tag_names": document.tag_names,
        "status": document.status,
        "coins": document.coins,
        "supporters": document.supporters,
        "created_at": document.created_at.isoformat(),
        "context_id": document.context_id,
    }


def build_bulk(index: str, documents: Sequence[IdeaDocument]) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = []
    for document in documents:
        body.append(
            {
                "index": {
                    "_index": index,
                    "_id": str(document.id),
                    "version": document.version,
                    "version_type": "external_gte",
                }
            }
        )
        body.append(document_body(document))
    return body


# Reading responses --------------------------------------------------------------------------------------


def read_search(response: dict[str, Any]) -> SearchPage:
    hits = response.get("hits", {})
    total = hits.get("total", 0)
    return SearchPage(
        ids=[int(hit["_id"]) for hit in hits.get("hits", [])],
        total=int(total["value"] if isinstance(total, dict) else total),
    )


def read_similar(response: dict[str, Any], title: str) -> list[SimilarHit]:
    words = query_words(title)
    hits = []
    for hit in response.get("hits", {}).get("hits", []):
        matched = set(hit.get("matched_queries", []))
        found = sum(
            1.0 if f"title:{n}" in matched else 0.5 if f"description:{n}" in matched else 0.0 for n in range(len(words))
        )
        share = found / len(words) if words else 0.0
        candidate = str(hit.get("_source", {}).get("title", ""))
        trigram, word = similarity(candidate, title), word_similarity(title, candidate)
        hits.append(
            SimilarHit(
                idea_id=int(hit["_id"]),
                score=combine(trigram, word, share),
                trigram=round(trigram, 3),
                word=round(word, 3),
                text=round(share, 3),
            )
        )
    return hits


def read_bulk(response: dict[str, Any]) -> tuple[int, list[str]]:
    """(documents written, errors); a version conflict means a newer picture is already there: fine."""
    written, errors = 0, []
    for item in response.get("items", []):
        result = next(iter(item.values()))
        status = int(result.get("status", 500))
        if status < 300:
            written += 1
        elif status != 409:
            errors.append(f"{result.get('_id')}: {result.get('error', {}).get('reason', status)}")
    return written, errors
