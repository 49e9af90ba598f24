"""What every search backend offers, and the one formula that turns similarity signals into a 0-1 score.

Two backends implement `SearchBackend`: PostgreSQL (always available: full text on the generated
`search_vector` column plus `pg_trgm` on titles) and OpenSearch (when OPENSEARCH_URL is set).  Both
answer with idea ids (and scores); the idea service reads the rows themselves from PostgreSQL, so what a
page shows (coins, status, tags) is never older than the database, whatever the index holds.

The similar-ideas score combines three signals, each between 0 and 1:

- `trigram`: pg_trgm `similarity(title, query)`: how alike the two titles are as wholes;
- `word`: pg_trgm `word_similarity(query, title)`: how well the query matches a stretch of the title
  (catches a short query inside a longer title, and half-typed words);
- `text`: the share of the query's words (stemmed, stop words dropped) found in the idea: a word in the
  title counts fully, a word only in the description half.  A share rather than `ts_rank`, because
  `ts_rank` values are unbounded and not comparable between queries, so no threshold could be chosen.

The weights and the threshold (`coins.ideas.search.SIMILAR_THRESHOLD`) were tuned on 50 duplicate and 50
look-alike title pairs (tests/support/similar_titles.py; tests/integration/test_idea_similarity.py prints
precision and recall).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from coins.ideas.search import IdeaSearch

# Tuned weights (they add up to 1, so the score stays between 0 and 1) and the threshold from which an
# idea is shown as "similar" while someone types a title.  Chosen on the even-numbered pairs: best F1,
# averaged over thresholds +-0.02 (a flat optimum beats a sharp one), every signal weighing at least 0.15.
# Measured (PostgreSQL): tuning half P 0.79 R 0.88; held-out half P 0.71 R 0.80; all P 0.75 R 0.84.
# The misses are synonym-only paraphrases ("healthier food in the canteen" / "more healthy options in the
# cafeteria"): no lexical score can see those.
TRIGRAM_WEIGHT = 0.15
WORD_WEIGHT = 0.70
TEXT_WEIGHT = 0.15


_OPERATORS = re.compile(r'["-]|\bor\b', re.IGNORECASE)


def is_plain(query: str) -> bool:
    """No search syntax ("phrase", -word, or): typo-tolerant title matching may widen the search.

    With syntax it must not: "bike -repair" would otherwise find "Bike repair workshop" by its trigrams.
    """
    return _OPERATORS.search(query) is None


def combine(trigram: float, word: float, text: float) -> float:
    """The similarity score shown to people: 0 (nothing alike) to 1 (the same title)."""
    score = TRIGRAM_WEIGHT * trigram + WORD_WEIGHT * word + TEXT_WEIGHT * text
    return round(min(max(score, 0.0), 1.0), 3)


@dataclass(frozen=True)
class IdeaDocument:
    """An idea as a search index stores it (read from PostgreSQL by `coins.search.documents`)."""

    id: int
    campaign_id: UUID
    author_id: UUID | None
    title: str
    description: str
    status: str
    coins: int
    supporters: int
    created_at: datetime
    context_id: str | None
    tag_ids: list[UUID] = field(default_factory=list)
    tag_names: list[str] = field(default_factory=list)
    # Microseconds since the epoch when the row was read: the index keeps the newest read of each idea,
    # so two indexing jobs finishing out of order cannot leave the older picture behind.
    version: int = 0


class SearchBackend(IdeaSearch, Protocol):
    """A backend: the ideas domain's port plus keeping an index in step."""

    name: str
    # False when the backend reads the database itself (PostgreSQL): nothing to keep in step.
    needs_indexing: bool

    async def index(self, document: IdeaDocument) -> None:
        """Store (or replace) one idea in the index."""
        ...

    async def index_many(self, documents: Sequence[IdeaDocument]) -> int:
        """Store (or replace) many ideas at once; returns how many the index accepted."""
        ...

    async def delete(self, idea_id: int) -> None:
        """Forget an idea (its row is gone)."""
        ...

    async def reindex(self, campaign_id: UUID | None = None) -> int:
        """Rebuild the index from PostgreSQL (one campaign, or all); returns how many ideas were indexed."""
        ...
