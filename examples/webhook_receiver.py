#!/usr/bin/env python3
"""Receive Coins for Change webhooks and check their signatures (standard library only).

    COINS_WEBHOOK_SECRET=whsec_... python examples/webhook_receiver.py --port 8080

Every delivery is a POST with a JSON body and the header

    Coins-Signature: t=<unix seconds>,v1=<hex>

where <hex> is HMAC-SHA256 with the endpoint's secret as the key (the whole `whsec_...` string, UTF-8)
over the bytes `<t>.` followed by the raw request body.  Check it against the raw bytes, before parsing
the JSON; compare in constant time; refuse old timestamps (replays).  Answer 2xx quickly (within 10 s)
once the event is stored: anything else, or no answer, is retried with exponential backoff for about a
day.  The body's `id` stays the same on every retry: use it to drop duplicates.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 300


def verify_signature(
    secret: str, header: str | None, body: bytes, *, tolerance: int = TOLERANCE_SECONDS, now: float | None = None
) -> bool:
    """True when `header` (the Coins-Signature value) signs `body` with `secret`, recently enough."""
    if not header:
        return False
    timestamp = None
    signatures = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


class Receiver(BaseHTTPRequestHandler):
    secret = ""
    seen: set[str] = set()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if not verify_signature(self.secret, self.headers.get("Coins-Signature"), body):
            self.send_response(400)
            self.end_headers()
            self.wfile.write(b"bad signature\n")
            return
        event = json.loads(body)
        if event["id"] in self.seen:
            print(f"duplicate {event['id']}, ignored")
        else:
            self.seen.add(event["id"])
            idea = event["data"].get("idea", {})
            print(f"{event['type']}: idea {idea.get('id')} {idea.get('title')!r} is {idea.get('status')}", flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # quieter than the default access log
        return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    secret = os.environ.get("COINS_WEBHOOK_SECRET", "")
    if not secret.startswith("whsec_"):
        print("Set COINS_WEBHOOK_SECRET to the endpoint's secret (whsec_...).", file=sys.stderr)
        return 2
    Receiver.secret = secret
    server = ThreadingHTTPServer((args.host, args.port), Receiver)
    print(f"listening on http://{args.host}:{args.port}/", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
