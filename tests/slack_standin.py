"""A local stand-in for Slack, for the Slack adapter's tests: the Web API methods the adapter calls, the file
upload URLs, private file downloads (the login page without the bot token), response_url and a Socket
Mode websocket. Runs an aiohttp server on a free loopback port in a thread; tests read what arrived."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web
from slack_sdk.signature import SignatureVerifier

BOT_TOKEN = "xoxb-test-0123456789-secretbottoken"
APP_TOKEN = "xapp-1-test-secretapptoken"
SIGNING_SECRET = "test-signing-secret-8c1d"
LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>"


@dataclass
class Upload:
    """A file as it landed in a channel: bytes from the upload URL, the completion's channel and comment."""

    file_id: str
    filename: str
    data: bytes
    channel: str
    initial_comment: str
    title: str


@dataclass
class SlackStandIn:
    """The fake Slack; `api_url` goes into adapters.slack.api_url."""

    admins: set[str] = field(default_factory=lambda: {"UADMIN"})
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    ephemeral: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._changed = threading.Condition()
        self._bytes: dict[str, tuple[str, bytes]] = {}  # file_id -> (filename, uploaded bytes)
        self._shared: dict[str, tuple[bytes, str]] = {}  # shared files users "posted": bytes, content type
        self._ids = itertools.count(1)
        self.login_page_only = False
        """True: every download gets the login page, as when the app lacks the files:read scope."""
        self._loop = asyncio.new_event_loop()
        self._sockets: list[web.WebSocketResponse] = []
        self._runner: web.AppRunner | None = None

    # --- lifetime -----------------------------------------------------------------------------------

    def start(self) -> SlackStandIn:
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        assert ready.wait(10), "the Slack stand-in did not start"
        return self

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/api/{method}", self._api)  # slack-sdk GETs a few methods (users.info)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files/{file_id}/{name}", self._download)
        app.router.add_post("/response/{id}", self._response)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        async def shutdown() -> None:
            for ws in list(self._sockets):
                await ws.close()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def _record(self, action: Callable[[], None]) -> None:
        with self._changed:
            action()
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 60.0) -> Any:
        """Block until `predicate()` is truthy (re-checked on every change); its value, or AssertionError."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (value := predicate()):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; calls so far: {[c[0] for c in self.calls]}")
                self._changed.wait(left)
            return value

    # --- what users do ------------------------------------------------------------------------------

    def share_file(self, name: str, data: bytes, mimetype: str, filetype: str) -> dict[str, Any]:
        """A file as Slack describes it in a message event; downloading it needs the bot token."""
        file_id = f"F{next(self._ids):06d}"
        self._shared[file_id] = (data, mimetype)
        url = f"{self.base}/files/{file_id}/{name}"
        return {"id": file_id, "name": name, "mimetype": mimetype, "filetype": filetype, "size": len(data),
                "url_private": url, "url_private_download": url}  # fmt: skip

    def response_url(self) -> str:
        return f"{self.base}/response/{next(self._ids)}"

    # --- the Web API --------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        token = request.headers.get("Authorization", "").removeprefix("Bearer ") or params.get("token", "")
        self._record(lambda: self.calls.append((method, params)))
        wanted = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != wanted:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        return web.json_response({"ok": True, **handler(params)})

    def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": "https://test.slack.com/", "team": "Test Team", "user": "voxhub", "team_id": "T1",
                "user_id": "UBOT", "bot_id": "BBOT", "is_enterprise_install": False}  # fmt: skip

    def _m_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"ws://127.0.0.1:{self.port}/socket"}

    def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = params["user"]
        return {
            "user": {"id": user, "name": user.lower(), "is_admin": user in self.admins, "is_owner": False}
        }

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        ts = f"{time.time():.6f}"
        self._record(lambda: self.messages.append({**params, "ts": ts}))
        return {"channel": params.get("channel"), "ts": ts}

    def _m_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        self._record(lambda: self.ephemeral.append(params))
        return {"message_ts": f"{time.time():.6f}"}

    def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ids):06d}"
        self._bytes[file_id] = (params["filename"], b"")
        return {"upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        described = json.loads(params["files"])
        done = []
        for item in described:
            filename, data = self._bytes[item["id"]]
            done.append(Upload(item["id"], filename, data, params.get("channel_id", ""),
                               params.get("initial_comment", ""), item.get("title", "")))  # fmt: skip
        self._record(lambda: self.uploads.extend(done))
        return {"files": [{"id": u.file_id, "title": u.title, "name": u.filename} for u in done]}

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self._bytes:
            return web.Response(status=404, text="no such upload")
        self._bytes[file_id] = (self._bytes[file_id][0], await request.read())
        return web.Response(text=f"OK - {len(self._bytes[file_id][1])}")

    async def _download(self, request: web.Request) -> web.Response:
        shared = self._shared.get(request.match_info["file_id"])
        if shared is None:
            return web.Response(status=404)
        if self.login_page_only or request.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            return web.Response(body=LOGIN_PAGE, content_type="text/html")  # what Slack really does
        return web.Response(body=shared[0], content_type=shared[1])

    async def _response(self, request: web.Request) -> web.Response:
        body = {**await request.json(), "_url": str(request.url)}
        self._record(lambda: self.responses.append(body))
        return web.Response(text="ok")

    # --- Socket Mode --------------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._record(lambda: self._sockets.append(ws))
        await ws.send_json({"type": "hello", "num_connections": 1, "debug_info": {"host": "standin"}})
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self._record(lambda data=message.data: self.acks.append(json.loads(data)))
        self._record(lambda: self._sockets.remove(ws))
        return ws

    @property
    def socket_connected(self) -> bool:
        return bool(self._sockets)

    def send_envelope(self, envelope: dict[str, Any]) -> None:
        """Push one Socket Mode envelope to the connected app."""
        ws = self._sockets[-1]
        asyncio.run_coroutine_threadsafe(ws.send_json(envelope), self._loop).result(10)


# --- what Slack sends to the app ----------------------------------------------------------------------


def slash_command(standin: SlackStandIn, command: str, text: str, *, user: str = "UADMIN",
                  channel: str = "C0GENERAL") -> dict[str, str]:  # fmt: skip
    """A slash command's form fields, as Slack posts them."""
    return {"token": "legacy", "team_id": "T1", "team_domain": "test", "channel_id": channel,
            "channel_name": "general", "user_id": user, "user_name": user.lower(), "command": command,
            "text": text, "api_app_id": "A1", "is_enterprise_install": "false",
            "response_url": standin.response_url(), "trigger_id": f"{time.time_ns()}.1.trigger"}  # fmt: skip


def event_callback(event: dict[str, Any]) -> dict[str, Any]:
    """An Events API delivery around `event`."""
    return {"token": "legacy", "team_id": "T1", "api_app_id": "A1", "event": event, "type": "event_callback",
            "event_id": f"Ev{time.time_ns()}", "event_time": int(time.time()),
            "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}]}  # fmt: skip


@dataclass
class Reply:
    status: int
    body: str


def post_signed(url: str, body: bytes, content_type: str, *, secret: str = SIGNING_SECRET,
                timestamp: int | None = None, retry: int | None = None) -> Reply:  # fmt: skip
    """POST `body` to the daemon's /slack/events signed the way Slack signs (slack_sdk's own signer)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", content_type)
    request.add_header("X-Slack-Request-Timestamp", stamp)
    request.add_header("X-Slack-Signature", signature)
    if retry is not None:
        request.add_header("X-Slack-Retry-Num", str(retry))
        request.add_header("X-Slack-Retry-Reason", "http_timeout")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(response.status, response.read().decode())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.read().decode())


def post_command(url: str, fields: dict[str, str], **kwargs: Any) -> Reply:
    return post_signed(url, urlencode(fields).encode(), "application/x-www-form-urlencoded", **kwargs)


def post_event(url: str, payload: dict[str, Any], **kwargs: Any) -> Reply:
    return post_signed(url, json.dumps(payload).encode(), "application/json", **kwargs)
