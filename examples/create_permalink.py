#!/usr/bin/env python3
"""Create a permalink into a campaign and print its URL (needs httpx: `pip install httpx`).

    COINS_URL=https://coins.example.org COINS_API_KEY=cfc_... \
        python examples/create_permalink.py --campaign greener-office --context page-4711 \
        --tag Mobility --title "An idea about this page" --return-url https://wiki.example.org/page/4711

People who open the URL see the campaign's idea form pre-filled (a short sign-up on the way if they have
no account). Their idea keeps the context, and they are offered the return URL with `?idea_id=<id>`.
"""

from __future__ import annotations

import argparse
import os
import sys

import httpx


def client_from_environment() -> httpx.Client:
    base_url = os.environ.get("COINS_URL", "http://127.0.0.1:8000").rstrip("/")
    key = os.environ.get("COINS_API_KEY", "")
    if not key.startswith("cfc_"):
        sys.exit("Set COINS_API_KEY to the platform's API key (cfc_...).")
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30.0)


def create_permalink(
    client: httpx.Client,
    *,
    campaign: str,
    context_id: str,
    tags: list[str] | None = None,
    title: str = "",
    description: str = "",
    return_url: str | None = None,
) -> dict[str, object]:
    response = client.post(
        "/api/permalinks",
        json={
            "campaign": campaign,
            "context_id": context_id,
            "tags": tags or [],
            "title": title,
            "description": description,
            "return_url": return_url,
        },
    )
    if response.status_code != 201:
        body = response.json()
        sys.exit(f"{response.status_code} {body.get('error_code')}: {body.get('message')} {body.get('details') or ''}")
    created: dict[str, object] = response.json()
    return created


def main() -> int:
    parser = argparse.ArgumentParser(description="Create a permalink into a campaign.")
    parser.add_argument("--campaign", required=True, help="the campaign's slug")
    parser.add_argument("--context", required=True, help="your context id, e.g. page-4711")
    parser.add_argument("--tag", action="append", default=[], help="a tag name or id (repeatable)")
    parser.add_argument("--title", default="")
    parser.add_argument("--description", default="")
    parser.add_argument("--return-url")
    args = parser.parse_args()
    with client_from_environment() as client:
        permalink = create_permalink(
            client,
            campaign=args.campaign,
            context_id=args.context,
            tags=args.tag,
            title=args.title,
            description=args.description,
            return_url=args.return_url,
        )
    print(permalink["url"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
