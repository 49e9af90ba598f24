"""Search in PostgreSQL: full text on the generated `search_vector` column and pg_trgm on titles.

Nothing to index: `search_vector` is a generated column and the trigram index follows the title, so
`index`, `delete` and `reindex` have nothing to do and every search sees committed data at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Select, and_, case, distinct, func, literal_column, or_, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from coins.coins.models import LedgerEntry
from coins.ideas.models import Idea, IdeaTag
from coins.ideas.search import IdeaFilters, SearchPage, SimilarHit, Sort
from coins.search.base import TEXT_WEIGHT, TRIGRAM_WEIGHT, WORD_WEIGHT, IdeaDocument, combine, is_plain

TRENDING_WINDOW = timedelta(days=7)
# Words longer than this are not words people type into a title: keep the query small.
MAX_QUERY_CHARS = 300

# The three signals (see coins.search.base) for every visible idea of the campaign, scored and cut in the
# database so only the best few rows travel.  Deliberately no trigram-operator prefilter: the operators'
# fixed thresholds (similarity 0.3, word similarity 0.6) would drop ideas that still reach the tuned
# score threshold, and a campaign's ideas (the campaign/status index) are few enough to score them all.
# The word share is computed only for ideas sharing a stemmed word with the title.
_SIMILAR = """
    WITH q AS (
        SELECT CAST(:title AS text) AS title,
               replace(CAST(plainto_tsquery('english', :title) AS text), '&', '|')::tsquery AS any_word,
               tsvector_to_array(to_tsvector('english', :title)) AS lexemes
    ), scored AS (
        SELECT i.id,
               similarity(i.title, q.title) AS trigram,
               word_similarity(q.title, i.title) AS word,
               CASE WHEN cardinality(q.lexemes) > 0 AND i.search_vector @@ q.any_word THEN (
                   SELECT sum(CASE
                       WHEN l = ANY (tsvector_to_array(ts_filter(i.search_vector, '{a}'))) THEN 1.0
                       WHEN l = ANY (tsvector_to_array(i.search_vector)) THEN 0.5
                       ELSE 0 END)
                   FROM unnest(q.lexemes) AS l
               ) / cardinality(q.lexemes) ELSE 0 END AS words
        FROM ideas i, q
        WHERE i.campaign_id = :campaign_id AND {visible}
    )
    SELECT id, trigram, word, words FROM scored
    WHERE :trigram_weight * trigram + :word_weight * word + :text_weight * words >= :min_score
    ORDER BY :trigram_weight * trigram + :word_weight * word + :text_weight * words DESC, id
    LIMIT :limit
"""


def visibility(filters: IdeaFilters) -> ColumnElement[bool]:
    own: ColumnElement[bool] | None = None
    if filters.own_statuses and filters.author_id is not None:
        own = and_(Idea.status.in_(filters.own_statuses), Idea.author_id == filters.author_id)
    public = Idea.status.in_(filters.statuses) if filters.statuses else None
    parts = [p for p in (public, own) if p is not None]
    if not parts:
        return literal_column("false")
    return or_(*parts) if len(parts) > 1 else parts[0]


def _visible_sql(filters: IdeaFilters) -> tuple[str, dict[str, Any]]:
    """The visibility condition as SQL text for `_SIMILAR` (bound parameters, never interpolated values)."""
    parts: list[str] = []
    params: dict[str, Any] = {}
    if filters.statuses:
        parts.append("i.status = ANY(:statuses)")
        params["statuses"] = list(filters.statuses)
    if filters.own_statuses and filters.author_id is not None:
        parts.append("(i.status = ANY(:own_statuses) AND i.author_id = :author_id)")
        params.update(own_statuses=list(filters.own_statuses), author_id=filters.author_id)
    return ("(" + " OR ".join(parts) + ")" if parts else "false"), params


def trending_scores(campaign_id: UUID) -> Any:
    """Coins put on each idea in the last 7 days, net of coins taken back (allocate, release, reallocate).

    Merges move coins too, but those are the same coins changing idea, not new enthusiasm: not counted.
    """
    entries = LedgerEntry
    recent = and_(entries.campaign_id == campaign_id, entries.created_at >= func.now() - TRENDING_WINDOW)
    reallocation = and_(entries.kind == "move", entries.reason == "reallocation")
    incoming = select(
        entries.idea_id.label("idea_id"),
        case((entries.kind == "release", -entries.amount), else_=entries.amount).label("delta"),
    ).where(recent, or_(entries.kind.in_(("allocate", "release")), reallocation))
    outgoing = select(entries.from_idea_id.label("idea_id"), (-entries.amount).label("delta")).where(
        recent, reallocation
    )
    moves = union_all(incoming, outgoing).subquery("recent_moves")
    return (
        select(moves.c.idea_id, func.sum(moves.c.delta).label("recent")).group_by(moves.c.idea_id).subquery("trending")
    )


def filtered(campaign_id: UUID, text_query: str | None, filters: IdeaFilters) -> list[ColumnElement[bool]]:
    conditions = [Idea.campaign_id == campaign_id, visibility(filters)]
    if filters.tag_ids:
        tag_ids = list(dict.fromkeys(filters.tag_ids))
        having_all = (
            select(IdeaTag.idea_id)
            .where(IdeaTag.tag_id.in_(tag_ids))
            .group_by(IdeaTag.idea_id)
            .having(func.count(distinct(IdeaTag.tag_id)) == len(tag_ids))
        )
        conditions.append(Idea.id.in_(having_all))
    if filters.min_coins is not None:
        conditions.append(Idea.coins >= filters.min_coins)
    if filters.max_coins is not None:
        conditions.append(Idea.coins <= filters.max_coins)
    if filters.context_id is not None:
        conditions.append(Idea.context_id == filters.context_id)
    if text_query:
        query = text_query[:MAX_QUERY_CHARS]
        full_text = Idea.search_vector.op("@@")(func.websearch_to_tsquery("english", query))
        # Plain words may also match by word_similarity(query, title) >= 0.6: typos and half-typed words.
        conditions.append(or_(full_text, Idea.title.op("%>")(query)) if is_plain(query) else full_text)
    return conditions


def ordered(query: Select[int, int], sort: Sort, campaign_id: UUID) -> Select[int, int]:
    if sort == "supporters":
        return query.order_by(Idea.supporters.desc(), Idea.coins.desc(), Idea.id)
    if sort == "newest":
        return query.order_by(Idea.created_at.desc(), Idea.id.desc())
    if sort == "trending":
        trending = trending_scores(campaign_id)
        return query.outerjoin(trending, trending.c.idea_id == Idea.id).order_by(
            func.coalesce(trending.c.recent, 0).desc(), Idea.coins.desc(), Idea.id
        )
    return query.order_by(Idea.coins.desc(), Idea.supporters.desc(), Idea.id)


class PostgresSearch:
    name = "postgresql"
    needs_indexing = False

    def __init__(self, session: AsyncSession) -> None:
        self.db = session

    async def similar(
        self, campaign_id: UUID, title: str, filters: IdeaFilters, *, limit: int, min_score: float
    ) -> list[SimilarHit]:
        title = " ".join(title.split())[:MAX_QUERY_CHARS]
        if not title:
            return []
        visible, params = _visible_sql(filters)
        statement = text(_SIMILAR.replace("{visible}", visible))
        weights = {"trigram_weight": TRIGRAM_WEIGHT, "word_weight": WORD_WEIGHT, "text_weight": TEXT_WEIGHT}
        rows = await self.db.execute(
            statement,
            {
                "title": title,
                "campaign_id": campaign_id,
                # A hair lower: the final cut is `combine`'s rounding, the same for every backend.
                "min_score": min_score - 0.001,
                "limit": limit,
                **weights,
                **params,
            },
        )
        hits = [
            SimilarHit(
                idea_id=row.id,
                score=combine(float(row.trigram), float(row.word), float(row.words)),
                trigram=round(float(row.trigram), 3),
                word=round(float(row.word), 3),
                text=round(float(row.words), 3),
            )
            for row in rows
        ]
        hits = [hit for hit in hits if hit.score >= min_score]
        hits.sort(key=lambda hit: (-hit.score, hit.idea_id))
        return hits[:limit]

    async def search_ids(
        self,
        campaign_id: UUID,
        text: str | None,
        filters: IdeaFilters,
        sort: Sort,
        limit: int,
        offset: int,
    ) -> SearchPage:
        conditions = filtered(campaign_id, text, filters)
        query = select(Idea.id, func.count().over().label("total")).where(*conditions)
        rows = list(await self.db.execute(ordered(query, sort, campaign_id).limit(limit).offset(offset)))
        if rows:
            return SearchPage(ids=[row.id for row in rows], total=int(rows[0].total))
        total = 0
        if offset:
            # Past the last page: the window function saw no rows, so count separately.
            total = int(await self.db.scalar(select(func.count(Idea.id)).where(*conditions)) or 0)
        return SearchPage(ids=[], total=total)

    async def index(self, document: IdeaDocument) -> None:
        return None

    async def index_many(self, documents: Sequence[IdeaDocument]) -> int:
        return 0

    async def delete(self, idea_id: int) -> None:
        return None

    async def reindex(self, campaign_id: UUID | None = None) -> int:
        return 0
