"""Where webhooks may go: http(s) only, and never to the network the app itself lives in (SSRF).

A platform chooses its endpoint URLs, so without a check it could make the worker call the cloud metadata
service (169.254.169.254), Valkey on localhost or anything on the private network.  The check runs when an
endpoint is registered (cheap early refusal of literal addresses) and again at every delivery, where it
matters: the host name is resolved once, *every* address it resolves to must be public, and the connection
is made to exactly those addresses (`GuardedResolver` is aiohttp's resolver for the delivery), so a DNS
answer that changes between the check and the connection (DNS rebinding) cannot slip through.  Redirects
are never followed.  `WEBHOOK_ALLOW_PRIVATE_NETWORKS=true` lifts the address rule (local testing only).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
URL_MAX = 2000
# How long registration waits for DNS before accepting a name it could not resolve (delivery checks again).
REGISTRATION_LOOKUP_SECONDS = 3.0
_LEGACY_IPV4 = re.compile(r"^[0-9a-fx.]+$")
# NAT64 (RFC 6052): 64:ff9b::a.b.c.d reaches the IPv4 address a.b.c.d through a gateway.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(OSError):
    """The destination is not allowed (an OSError, so aiohttp reports it as a connection failure)."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_allowed(address: IPAddress) -> bool:
    """Only globally routable unicast addresses: no loopback, private, link-local, multicast, reserved,
    shared (CGNAT), documentation or unspecified ones, also when wrapped in an IPv6 address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and not address_allowed(embedded):
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


def parse_address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    except ValueError:
        return _legacy_ipv4(text)


def _legacy_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """The address a resolver reads in the old numeric forms (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`):
    `getaddrinfo` accepts them all, so the guard must read them the same way."""
    if not _LEGACY_IPV4.match(text.lower()):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def url_problem(url: str, *, allow_private: bool) -> str | None:  # noqa: PLR0911 - one reason per return
    """Why `url` cannot be a webhook endpoint (None when it may be), without any DNS lookup."""
    if len(url) > URL_MAX:
        return f"Use an address of at most {URL_MAX} characters."
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "This is not a valid URL."
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return "Use an http:// or https:// address with a host name."
    if parts.username is not None or parts.password is not None:
        return "Leave credentials out of the URL: verify our signature instead."
    if port == 0:
        return "Use a port between 1 and 65535."
    if allow_private:
        return None
    host = parts.hostname.rstrip(".").lower()
    literal = parse_address(host)
    if literal is not None and not address_allowed(literal):
        return f"Webhooks cannot be sent to {literal}: loopback, private and reserved addresses are not allowed."
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return f"Webhooks cannot be sent to {host}: it names this machine or a private network."
    return None


class GuardedResolver(AbstractResolver):
    """Resolve a host once and refuse it if any of its addresses is not allowed (aiohttp connects to the
    addresses returned here, so what was checked is what is used)."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, family=family)
        except socket.gaierror as exc:
            raise OSError(f"cannot resolve {host}: {exc.strerror}") from exc
        results: list[ResolveResult] = []
        refused: list[str] = []
        for info_family, _, proto, _, sockaddr in infos:
            text = str(sockaddr[0])
            address = parse_address(text)
            if address is None or (not self.allow_private and not address_allowed(address)):
                refused.append(text)
                continue
            results.append(
                ResolveResult(
                    hostname=host,
                    host=text,
                    port=int(sockaddr[1]),
                    family=info_family,
                    proto=proto,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
            )
        if refused:
            raise AddressRefused(
                f"{host} resolves to {', '.join(sorted(set(refused)))}: loopback, private and reserved "
                "addresses are not allowed"
            )
        if not results:
            raise OSError(f"cannot resolve {host}: no addresses")
        return results

    async def close(self) -> None:
        return None


async def registration_problem(url: str, *, allow_private: bool) -> str | None:
    """`url_problem`, then the name resolved with the delivery's guard: a name that points at this machine
    or a private network is refused when it is registered, not a day of retries later.  A name that does
    not resolve (yet) is accepted; every delivery resolves and checks it again."""
    if problem := url_problem(url, allow_private=allow_private):
        return problem
    host = (urlsplit(url).hostname or "").rstrip(".")
    if allow_private or parse_address(host) is not None:
        return None
    try:
        await asyncio.wait_for(GuardedResolver(allow_private=False).resolve(host), REGISTRATION_LOOKUP_SECONDS)
    except AddressRefused as refused:
        return f"Webhooks cannot be sent there: {refused}."
    except (OSError, TimeoutError):
        return None
    return None


def literal_refusal(host: str, *, allow_private: bool) -> str | None:
    """aiohttp connects to a literal address without asking the resolver: check it here."""
    address = parse_address(host.strip("[]"))
    if address is None or allow_private or address_allowed(address):
        return None
    return f"{address} is a loopback, private or reserved address: not allowed"
