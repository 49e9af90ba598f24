"""pg_trgm's `similarity` and `word_similarity`, in Python, for backends that are not PostgreSQL.

The OpenSearch backend recalls candidates with its own analyzers and then scores them here, so a score
means the same thing (and the same threshold applies) whichever backend answered.  Both functions follow
contrib/pg_trgm/trgm_op.c (words are runs of letters and digits, lower-cased, padded with two blanks in
front and one behind; `word_similarity` is `iterate_word_similarity` in its non-strict form) and a test
compares them with PostgreSQL's own results (equal for ASCII text).  Known difference: for non-ASCII
letters PostgreSQL follows the database's locale (under the C locale "é" is not a letter, so it splits
words) and hashes multi-byte trigrams; here every Unicode letter is a letter.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+")


def _word_trigrams(word: str) -> list[str]:
    padded = f"  {word} "
    return [padded[i : i + 3] for i in range(len(padded) - 2)]


def trigrams_in_order(text: str) -> list[str]:
    """Every trigram of every word, in order, repeats kept (what `generate_trgm_only` produces)."""
    result: list[str] = []
    for word in _WORD.findall(text.lower()):
        result.extend(_word_trigrams(word))
    return result


def trigrams(text: str) -> set[str]:
    """The trigram set of `show_trgm(text)`."""
    return set(trigrams_in_order(text))


def similarity(a: str, b: str) -> float:
    """`similarity(a, b)`: shared trigrams over all distinct trigrams of both."""
    first, second = trigrams(a), trigrams(b)
    if not first or not second:
        return 0.0
    common = len(first & second)
    return common / (len(first) + len(second) - common)


def word_similarity(a: str, b: str) -> float:
    """`word_similarity(a, b)`: the best similarity between `a` and a continuous stretch of `b`."""
    first = trigrams(a)
    ordered = trigrams_in_order(b)
    if not first or not ordered:
        return 0.0
    ulen1 = len(first)
    found = [t in first for t in ordered]
    index_of: dict[str, int] = {}
    indexes = [index_of.setdefault(t, len(index_of)) for t in ordered]
    lastpos = [-1] * len(index_of)
    lower, count, ulen2, best = -1, 0, 0, 0.0

    def sml(shared: int, length: int) -> float:
        return shared / (ulen1 + length - shared)

    for i, trigram_index in enumerate(indexes):
        if lower >= 0 or found[i]:
            if lastpos[trigram_index] < 0:
                ulen2 += 1
                if found[i]:
                    count += 1
            lastpos[trigram_index] = i
        if not found[i]:
            continue
        if lower == -1:
            lower, ulen2 = i, 1
        current = sml(count, ulen2)
        # Try moving the lower bound up for a better (shorter) stretch.
        tmp_count, tmp_ulen2, prev_lower = count, ulen2, lower
        for tmp_lower in range(lower, i + 1):
            candidate = sml(tmp_count, tmp_ulen2)
            if candidate > current:
                current, ulen2, lower, count = candidate, tmp_ulen2, tmp_lower, tmp_count
            moved = indexes[tmp_lower]
            if lastpos[moved] == tmp_lower:
                tmp_ulen2 -= 1
                if found[tmp_lower]:
                    tmp_count -= 1
        best = max(best, current)
        for tmp_lower in range(prev_lower, lower):
            moved = indexes[tmp_lower]
            if lastpos[moved] == tmp_lower:
                lastpos[moved] = -1
    return best
