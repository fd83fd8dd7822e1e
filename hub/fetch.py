"""Fetching a reference clip from a URL, safely: public addresses only, a size cap and a timeout.

Every address a host name resolves to is checked (private, loopback, link-local, multicast, reserved
and unspecified ranges are refused), and the connection goes to the checked addresses only, so a DNS
answer cannot change between the check and the connect. Redirects are followed by hand, each one
checked again.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from hub.errors import InvalidRequest, UploadTooLarge

MAX_REDIRECTS = 3


class BadUrl(InvalidRequest):
    code = "bad_url"


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

    def __init__(self, allow_private: bool) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            results = await self._inner.resolve(host, port, family)
        except OSError as exc:
            raise BadUrl(
                f"cannot resolve the URL's host {host!r} ({exc}): check the URL", param="url"
            ) from None
        if not self._allow_private:
            for result in results:
                check_address(host, result["host"])
        return results

    async def close(self) -> None:
        await self._inner.close()


def _check_url(url: str, allow_private: bool) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise BadUrl(f"{url!r} is not an http(s) URL: give an https://... link to the clip", param="url")
    host = parts.hostname
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host  # a name: checked when it is resolved
    if not allow_private:
        check_address(host, host)  # a literal address never reaches the resolver
    return host


async def fetch_audio(url: str, *, max_bytes: int, timeout_s: float, allow_private: bool = False) -> bytes:
    """Download a clip of at most `max_bytes` within `timeout_s` seconds.

    `allow_private` is the `enroll.allow_private_urls` setting: off in production, on only for tests and
    trusted networks that serve clips from their own machines.
    """
    timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=min(timeout_s, 10.0))
    connector = aiohttp.TCPConnector(resolver=_PublicResolver(allow_private), use_dns_cache=False)
    try:
        async with aiohttp.ClientSession(timeout=timeout, connector=connector, trust_env=False) as session:
            for _ in range(MAX_REDIRECTS + 1):
                _check_url(url, allow_private)
                async with session.get(url, allow_redirects=False) as response:
                    if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                        url = urljoin(url, response.headers["Location"])
                        continue
                    return await _read(response, url, max_bytes)
            raise BadUrl(f"too many redirects (more than {MAX_REDIRECTS}) fetching the clip", param="url")
    except TimeoutError:
        raise BadUrl(
            f"fetching {url} timed out after {timeout_s:g} s: check the link, or upload the file instead",
            param="url",
        ) from None
    except aiohttp.ClientError as exc:
        raise BadUrl(
            f"could not fetch {url} ({exc}): check the link, or upload the file", param="url"
        ) from None


async def _read(response: aiohttp.ClientResponse, url: str, max_bytes: int) -> bytes:
    if response.status != 200:
        raise BadUrl(f"fetching {url} answered HTTP {response.status}: check the link", param="url")
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


__all__ = ["BadUrl", "check_address", "fetch_audio"]
