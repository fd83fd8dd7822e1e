"""Fetching a reference clip from a URL, safely: public addresses only, a size cap and a timeout.

This is the one gate for clip URLs, whatever the adapter (HTTP enrollment, MQTT enroll/check): reach it
through `Hub.fetch_clip`. Hosts on `enroll.allowed_hosts` ("nas.local", "192.168.1.10:8123") may be
private; nothing else may. Error messages name a category, never what the target answered, so the fetch
cannot be used to scan the network.

Every address a host name resolves to is checked (private, loopback, link-local, multicast, reserved
and unspecified ranges are refused), and the connection goes to the checked addresses only, so a DNS
answer cannot change between the check and the connect. Redirects are followed by hand, each one
checked again.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from hub.errors import InvalidRequest, UploadTooLarge

MAX_REDIRECTS = 3


class BadUrl(InvalidRequest):
    code = "bad_url"


class NotAClip(BadUrl):
    """The link answered with a web page (e.g. a login page served with 200), not audio."""

    code = "not_audio"


def _allowed(host: str, port: int | None, allowed: frozenset[str]) -> bool:
    """Whether `host` (on `port`) is on the allow list, as a bare host or as host:port."""
    host = host.lower().rstrip(".")
    return host in allowed or (port is not None and f"{host}:{port}" in allowed)


def allow_list(hosts: tuple[str, ...] | list[str]) -> frozenset[str]:
    """`enroll.allowed_hosts` normalized for lookups: lower case, no trailing dot, IPv6 without brackets."""
    normalized = set()
    for entry in hosts:
        entry = entry.strip().lower()
        if entry.startswith("["):  # [::1]:8123 or [::1]
            addr, _, rest = entry[1:].partition("]")
            entry = addr + rest
        normalized.add(entry.rstrip("."))
    return frozenset(normalized)


def _refused(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified)  # fmt: skip


def check_address(host: str, address: str) -> None:
    """Raise BadUrl if `address` (of `host`) is not a public internet address."""
    if _refused(address):
        raise BadUrl(
            f"the URL's host {host!r} resolves to {address}, a private, loopback or link-local address: "
            "voxhub only fetches clips from public addresses; upload the file instead",
            param="url",
        )


class _PublicResolver(AbstractResolver):
    """Resolves like the default resolver, then refuses the whole host if any address is not public."""

    def __init__(self, allow_private: bool, allowed: frozenset[str]) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._allow_private = allow_private
        self._allowed = allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            results = await self._inner.resolve(host, port, family)
        except OSError:
            raise BadUrl(f"cannot resolve the URL's host {host!r}: check the URL", param="url") from None
        if not (self._allow_private or _allowed(host, port or None, self._allowed)):
            for result in results:
                check_address(host, result["host"])
        return results

    async def close(self) -> None:
        await self._inner.close()


def _check_url(url: str, allow_private: bool, allowed: frozenset[str]) -> str:
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:  # urllib's parser on a malformed URL (e.g. "http://[::1")
        raise BadUrl(
            f"{url!r} is not a valid URL: give an https://... link to the clip", param="url"
        ) from None
    if parts.scheme not in ("https", "http") or not host:
        raise BadUrl(f"{url!r} is not an http(s) URL: give an https://... link to the clip", param="url")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host  # a name: checked when it is resolved
    if not (allow_private or _allowed(host, port, allowed)):
        check_address(host, host)  # a literal address never reaches the resolver
    return host


def _failed(category: str) -> BadUrl:
    # Never what the target said (status, body, connection error): that would make this a port scanner.
    return BadUrl(f"could not fetch the clip: {category}; check the link, or upload the file", param="url")


async def fetch_audio(
    url: str,
    *,
    max_bytes: int,
    timeout_s: float,
    allow_private: bool = False,
    allowed_hosts: frozenset[str] = frozenset(),
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """Download a clip of at most `max_bytes` within `timeout_s` seconds; every redirect is checked again.

    `allowed_hosts` (see `allow_list`) may resolve to private addresses; `allow_private` is the
    `enroll.allow_private_urls` setting that lifts the address check for every host (tests only).
    `headers` (e.g. a platform's bearer token) go to the URL's own host only, never to a redirect's.
    """
    _check_url(url, allow_private, allowed_hosts)
    origin = urlsplit(url).netloc
    timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=min(timeout_s, 10.0))
    resolver = _PublicResolver(allow_private, allowed_hosts)
    connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False)
    try:
        async with aiohttp.ClientSession(timeout=timeout, connector=connector, trust_env=False) as session:
            for _ in range(MAX_REDIRECTS + 1):
                _check_url(url, allow_private, allowed_hosts)
                sent = dict(headers or {}) if urlsplit(url).netloc == origin else {}
                async with session.get(url, allow_redirects=False, headers=sent) as response:
                    if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                        try:
                            url = urljoin(url, response.headers["Location"])
                        except ValueError:
                            raise _failed("the server sent a malformed redirect") from None
                        continue
                    return await _read(response, max_bytes)
            raise _failed(f"more than {MAX_REDIRECTS} redirects")
    except TimeoutError:
        raise _failed(f"no answer within {timeout_s:g} s (enroll.url_timeout_s)") from None
    except aiohttp.ClientError:
        raise _failed("the connection failed") from None


async def _read(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    if response.status != 200:
        raise _failed("the server did not return the clip")
    if response.content_type == "text/html":
        raise NotAClip(
            "could not fetch the clip: the link answered with a web page, not audio (a login page?); "
            "check the link and its permissions, or upload the file",
            param="url",
        )
    if response.content_length is not None and response.content_length > max_bytes:
        raise _too_large(response.content_length, max_bytes)
    data = bytearray()
    async for chunk in response.content.iter_chunked(1 << 16):
        data += chunk
        if len(data) > max_bytes:
            raise _too_large(None, max_bytes)
    return bytes(data)


def _too_large(size: int | None, max_bytes: int) -> UploadTooLarge:
    claimed = f" ({size} bytes)" if size is not None else ""
    return UploadTooLarge(
        f"the clip{claimed} is larger than the {max_bytes} bytes allowed (enroll.max_upload_mb): "
        "send a shorter clip",
        param="url",
    )


__all__ = ["BadUrl", "NotAClip", "allow_list", "check_address", "fetch_audio"]
