"""Number helpers the dashboards share: PostgreSQL's numerics as floats, and shares of a whole that may be 0."""

from __future__ import annotations

from typing import Any


def as_float(value: Any) -> float | None:
    return None if value is None else float(value)


def ratio(part: int, whole: int) -> float | None:
    # A share of nothing is unknown, not 0: the reports show "—" for it.
    return part / whole if whole else None
