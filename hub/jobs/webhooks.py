"""Job webhooks, signed as the Standard Webhooks spec says, sent through the hub's guarded fetch rules.

Headers: `webhook-id` (the same on every retry of one event), `webhook-timestamp` (Unix seconds) and
`webhook-signature` = `v1,` + base64(HMAC-SHA256(secret, f"{id}.{timestamp}.{body}")), where the secret is
the base64 part of a `whsec_...` key. Receivers verify with any Standard Webhooks library.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
import time
from typing import Any

import aiohttp

from hub.errors import InvalidRequest
from hub.fetch import BadUrl, _check_url, _PublicResolver, allow_list
from hub.settings import JobsSettings

log = logging.getLogger("voxhub.webhooks")


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_bytes(secret: str) -> bytes:
    """The key a `whsec_<base64>` secret stands for; InvalidRequest if it is not one."""
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("a webhook secret must be whsec_ followed by base64", param="webhook") from None


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one delivery."""
    mac = hmac.new(secret_bytes(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def check_url(url: str, settings: JobsSettings) -> None:
    """Refuse a webhook URL the delivery would refuse (not http(s), a private address not allowed)."""
    try:
        _check_url(url, settings.allow_private_webhooks, allow_list(settings.allowed_hosts))
    except BadUrl as exc:
        raise InvalidRequest(
            exc.message.replace("fetches clips from", "calls webhooks on").replace(
                "upload the file instead", "or add the host to jobs.allowed_hosts"
            ),
            param="webhook",
        ) from None


def read_webhook(webhook: Any, settings: JobsSettings) -> tuple[str | None, str]:
    """A job request's `webhook` (a URL or {url, secret}) as (url, secret), checked; (None, "") without one."""
    if webhook is None:
        return None, ""
    url, secret = (
        (webhook, "") if isinstance(webhook, str) else (webhook.get("url"), webhook.get("secret", ""))
    )
    if not isinstance(url, str) or not isinstance(secret, str):
        raise InvalidRequest("`webhook` must be a URL or {url, secret}", param="webhook")
    check_url(url, settings)
    if secret:
        secret_bytes(secret)
    return url, secret


async def deliver(url: str, event: dict[str, Any], secret: str, settings: JobsSettings) -> bool:
    """POST `event` until the receiver answers 2xx, at most 1 + webhook_retries times with backoff."""
    body = json.dumps(event).encode()
    msg_id = "msg_" + secrets.token_hex(12)
    allowed = allow_list(settings.allowed_hosts)
    delay = settings.webhook_backoff_s
    for attempt in range(settings.webhook_retries + 1):
        timestamp = int(time.time())
        headers = {"content-type": "application/json", "webhook-id": msg_id,
                   "webhook-timestamp": str(timestamp)}  # fmt: skip
        if secret:
            headers["webhook-signature"] = sign(secret, msg_id, timestamp, body)
        try:
            _check_url(url, settings.allow_private_webhooks, allowed)
            resolver = _PublicResolver(settings.allow_private_webhooks, allowed)
            connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False)
            timeout = aiohttp.ClientTimeout(total=settings.webhook_timeout_s)
            async with (
                aiohttp.ClientSession(timeout=timeout, connector=connector, trust_env=False) as session,
                session.post(url, data=body, headers=headers, allow_redirects=False) as response,
            ):
                if 200 <= response.status < 300:
                    return True
                reason = f"HTTP {response.status}"
        except BadUrl as exc:
            log.warning("webhook %s refused: %s", url, exc.message)
            return False
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = type(exc).__name__
        log.warning("webhook delivery %d to %s failed (%s)", attempt + 1, url, reason)
        if attempt < settings.webhook_retries:
            await asyncio.sleep(delay)
            delay *= 2
    return False
