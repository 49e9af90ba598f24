"""Refusals of coin operations: the rules' and the coin function's codes, answered as SPEC.md says."""

from __future__ import annotations

from typing import Any

from litestar.status_codes import HTTP_409_CONFLICT, HTTP_422_UNPROCESSABLE_ENTITY

from coins.lib.errors import STATUS_OF_CODE, AppError


def coin_status(code: str) -> int:
    """SPEC.md: the coin operations answer a rule violation with 422, whatever the code's usual status
    (an inactive campaign, an idea not competing); not found, authentication and outages keep theirs."""
    status = STATUS_OF_CODE.get(code, HTTP_422_UNPROCESSABLE_ENTITY)
    return HTTP_422_UNPROCESSABLE_ENTITY if status == HTTP_409_CONFLICT else status


class CoinError(AppError):
    """A coin operation the rules or the current state refuse."""

    error_code = "COIN_001"

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, error_code=code, status_code=coin_status(code), details=details)


def split_message(text: str) -> tuple[str, str]:
    """'COIN_001: not enough coins' -> ('COIN_001', 'Not enough coins'); ('', text) if there is no code."""
    head, _, rest = text.strip().partition(": ")
    if head.isupper() and ("_" in head or head == "STALE"):
        return head, (rest[:1].upper() + rest[1:]) if rest else head
    return "", text
