#!/usr/bin/env python3
"""List the ideas of one of your contexts with their status and coins (needs httpx: `pip install httpx`).

    COINS_URL=https://coins.example.org COINS_API_KEY=cfc_... python examples/list_context_ideas.py page-4711

Only ideas that came in through your own permalinks are listed; a context that is not yours is a 404.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import httpx


def context_ideas(client: httpx.Client, context_id: str, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
    """Every idea of the context, following the pages (`{items, total, limit, offset}`)."""
    offset = 0
    while True:
        response = client.get(f"/api/contexts/{context_id}/ideas", params={"limit": page_size, "offset": offset})
        if response.status_code == 404:
            sys.exit(f"No context {context_id!r} for this platform.")
        response.raise_for_status()
        page = response.json()
        yield from page["items"]
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return


def main() -> int:
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} CONTEXT_ID")
    base_url = os.environ.get("COINS_URL", "http://127.0.0.1:8000").rstrip("/")
    key = os.environ.get("COINS_API_KEY", "")
    if not key.startswith("cfc_"):
        sys.exit("Set COINS_API_KEY to the platform's API key (cfc_...).")
    with httpx.Client(base_url=base_url, headers={"X-API-Key": key}, timeout=30.0) as client:
        for idea in context_ideas(client, sys.argv[1]):
            print(
                f"{idea['id']:>6}  {idea['status']:<12} {idea['coins']:>6} coins  {idea['supporters']:>4} supporters  "
                f"{idea['title']}  {idea['url']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
