"""The REST routes and the gateway websocket of the stand-in, and what tests ask of it (send a command, read
the replies, drop a voice connection)."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from tests.discord_standin.voice import VoiceServer
from tests.discord_standin.world import (
    ALICE,
    ALL_PERMISSIONS,
    APP_ID,
    BOT,
    GUILDS,
    NOW,
    Attachment,
    Guild,
    Reply,
    User,
    guild_payload,
    member,
    voice_state,
)


def _json(body: Any, status: int = 200) -> web.Response:
    # discord.py parses JSON only when the content type is exactly application/json (no charset).
    return web.Response(
        body=json.dumps(body).encode(), status=status, headers={"Content-Type": "application/json"}
    )


class Standin:
    """Runs in its own thread and event loop; the test thread calls its plain methods."""

    def __init__(self, *, token: str, cert: str, key: str) -> None:
        self.token = token
        self.voice = VoiceServer(cert, key)
        self.port = 0
        self.registered: dict[int | None, list[dict[str, Any]]] = {}
        self.replies: list[Reply] = []
        self.interactions: dict[int, float] = {}
        self.fetched: list[str] = []
        self.attachments: dict[int, Attachment] = {}
        self.voice_requests: list[dict[str, Any]] = []
        self.identified = threading.Event()
        self.bot_channel: dict[int, int | None] = {}
        self._ids = itertools.count(700000000000000001)
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="discord-standin")

    # --- lifetime ------------------------------------------------------------------------------------

    def start(self) -> Standin:
        self._thread.start()
        self._call(self._start())
        return self

    def stop(self) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _call(self, work: Any, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 << 20)
        r = app.router
        r.add_get("/api/v10/users/@me", self._me)
        r.add_get("/api/v10/oauth2/applications/@me", self._application)
        r.add_get("/api/v10/gateway/bot", self._gateway_bot)
        r.add_put("/api/v10/applications/{app}/guilds/{guild}/commands", self._register)
        r.add_put("/api/v10/applications/{app}/commands", self._register)
        r.add_post("/api/v10/interactions/{id}/{token}/callback", self._callback)
        r.add_post("/api/v10/webhooks/{app}/{token}", self._followup)
        r.add_patch("/api/v10/webhooks/{app}/{token}/messages/{message}", self._edit)
        r.add_get("/attachments/{id}/{name}", self._attachment)
        r.add_get("/gateway", self._gateway)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        await self.voice.start()

    async def _stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        await self.voice.close()
        await self._runner.cleanup()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/v10"

    # --- what tests do -------------------------------------------------------------------------------

    def attach(
        self, filename: str, data: bytes, content_type: str | None, declared_size: int | None = None
    ) -> int:
        """Upload a file as a member would; its attachment id."""
        attachment_id = next(self._ids)
        size = len(data) if declared_size is None else declared_size
        self.attachments[attachment_id] = Attachment(filename, data, content_type, size)
        return attachment_id

    def command(self, guild: Guild, user: User, name: str, options: dict[str, Any] | None = None,
                sub: str | None = None, *, focused: str | None = None) -> int:  # fmt: skip
        """Dispatch INTERACTION_CREATE for `/name [sub] options…` (an autocomplete request for the `focused`
        option when given); the interaction id."""
        return int(self._call(self._command(guild, user, name, options or {}, sub, focused)))

    def leave_voice(self, guild: Guild, user: User) -> None:
        """`user` leaves the guild's voice channel."""
        guild.in_voice.remove(user)
        self._call(self._dispatch("VOICE_STATE_UPDATE", voice_state(guild, user, None)))

    def join_voice(self, guild: Guild, user: User) -> None:
        """`user` joins the guild's voice channel."""
        guild.in_voice.append(user)
        self._call(self._dispatch("VOICE_STATE_UPDATE", voice_state(guild, user, guild.voice_channel)))

    def move_voice(self, guild: Guild, user: User, channel: int | None) -> None:
        """`user` moves to another voice channel of the guild (None: leaves voice), without touching the
        lists GUILD_CREATE is built from."""
        self._call(self._dispatch("VOICE_STATE_UPDATE", voice_state(guild, user, channel)))

    def drop_voice(self, guild: Guild) -> None:
        """The voice server drops the bot (close code 4009, session timed out: discord.py connects again)."""
        self._call(self.voice.drop(guild.id, code=4009))

    def replies_to(self, interaction: int) -> list[Reply]:
        return [r for r in list(self.replies) if r.interaction == interaction]

    def wait(self, what: Callable[[], Any], timeout: float = 30.0, message: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = what()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError(f"timed out after {timeout} s waiting for {message or what}")

    def final_reply(self, interaction: int, timeout: float = 60.0) -> Reply:
        """The first reply with something to show (content, embeds or files), not the 'thinking' defer."""
        return self.wait(
            lambda: next((r for r in self.replies_to(interaction) if r.content or r.embeds or r.files), None),
            timeout,
            f"a reply to interaction {interaction}",
        )

    def packets(self, guild: Guild) -> list[Any]:
        return [p for p in list(self.voice.packets) if p.guild_id == guild.id]

    # --- REST ------------------------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.token}"

    async def _me(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        return _json({**BOT.payload(bot=True), "verified": True, "mfa_enabled": False, "flags": 0})

    async def _application(self, request: web.Request) -> web.Response:
        return _json({
            "id": str(APP_ID), "name": "voxhub-bot", "description": "", "icon": None, "bot_public": True,
            "bot_require_code_grant": False, "owner": ALICE.payload(), "verify_key": "00", "flags": 0,
            "summary": "", "team": None,
        })  # fmt: skip

    async def _gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        return _json({"url": f"ws://127.0.0.1:{self.port}/gateway", "shards": 1,
                                  "session_start_limit": limit})  # fmt: skip

    async def _register(self, request: web.Request) -> web.Response:
        guild = request.match_info.get("guild")
        commands = await request.json()
        out = []
        for command in commands:
            out.append({"id": str(next(self._ids)), "application_id": str(APP_ID), "version": "1", "type": 1,
                        "default_member_permissions": None, "dm_permission": True, "nsfw": False,
                        **command, **({"guild_id": guild} if guild else {})})  # fmt: skip
        self.registered[int(guild) if guild else None] = out
        return _json(out)

    async def _read_body(self, request: web.Request) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
        if request.content_type.startswith("multipart/"):
            body: dict[str, Any] = {}
            files: dict[str, tuple[str, bytes]] = {}
            reader = await request.multipart()
            async for part in reader:
                data = await part.read()  # type: ignore[union-attr]
                if part.name == "payload_json":  # type: ignore[union-attr]
                    body = json.loads(data)
                else:
                    files[part.name or ""] = (part.filename or "", bytes(data))  # type: ignore[union-attr]
            return body, files
        return (await request.json() if request.can_read_body else {}), {}

    async def _callback(self, request: web.Request) -> web.Response:
        interaction = int(request.match_info["id"])
        body, files = await self._read_body(request)
        self.replies.append(Reply("callback", interaction, time.perf_counter(), body, files))
        flags = int((body.get("data") or {}).get("flags") or 0)
        return _json({"interaction": {"id": str(interaction), "type": 2,
                                                  "response_message_loading": body.get("type") == 5,
                                                  "response_message_ephemeral": bool(flags & 64)}})  # fmt: skip

    async def _followup(self, request: web.Request) -> web.Response:
        return await self._message("followup", request)

    async def _edit(self, request: web.Request) -> web.Response:
        return await self._message("edit", request)

    async def _message(self, kind: str, request: web.Request) -> web.Response:
        interaction = int(request.match_info["token"].removeprefix("tok-"))
        body, files = await self._read_body(request)
        self.replies.append(Reply(kind, interaction, time.perf_counter(), body, files))
        attachments = [{"id": str(next(self._ids)), "filename": name, "size": len(data),
                        "url": f"{self.base}/none", "proxy_url": f"{self.base}/none"}
                       for name, data in files.values()]  # fmt: skip
        return _json({
            "id": str(next(self._ids)), "channel_id": str(GUILDS[0].text_channel), "type": 19,
            "content": body.get("content") or "", "author": BOT.payload(bot=True), "timestamp": NOW,
            "edited_timestamp": None, "tts": False, "mention_everyone": False, "mentions": [],
            "mention_roles": [], "attachments": attachments, "embeds": body.get("embeds") or [],
            "pinned": False, "flags": int(body.get("flags") or 0), "application_id": str(APP_ID),
        })  # fmt: skip

    async def _attachment(self, request: web.Request) -> web.Response:
        attachment_id = int(request.match_info["id"])
        self.fetched.append(request.path)
        found = self.attachments.get(attachment_id)
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found.data, content_type=found.content_type or "application/octet-stream")

    # --- gateway ---------------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                message = json.loads(msg.data)
                op, data = message["op"], message.get("d")
                if op == 1:
                    await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
                elif op in (2, 6):
                    if data.get("token") != self.token:
                        await ws.close(code=4004, message=b"Authentication failed.")
                        break
                    await self._ready(ws)
                elif op == 4:
                    await self._voice_state_request(data)
        finally:
            self._sockets.remove(ws)
        return ws

    async def _send(self, ws: web.WebSocketResponse, event: str, data: Any) -> None:
        await ws.send_json({"op": 0, "t": event, "s": next(self._seq), "d": data})

    async def _dispatch(self, event: str, data: Any) -> None:
        for ws in list(self._sockets):
            await self._send(ws, event, data)

    async def _ready(self, ws: web.WebSocketResponse) -> None:
        await self._send(ws, "READY", {
            "v": 10, "user": {**BOT.payload(bot=True), "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in GUILDS], "session_id": "gateway-session",
            "resume_gateway_url": f"ws://127.0.0.1:{self.port}/gateway", "shard": [0, 1],
            "application": {"id": str(APP_ID), "flags": 0}, "private_channels": [], "relationships": [],
        })  # fmt: skip
        for guild in GUILDS:
            await self._send(ws, "GUILD_CREATE", guild_payload(guild))
        self.identified.set()

    async def _voice_state_request(self, data: dict[str, Any]) -> None:
        """The bot asked to join, move or leave (gateway op 4)."""
        self.voice_requests.append(dict(data, at=time.perf_counter()))
        guild = next(g for g in GUILDS if g.id == int(data["guild_id"]))
        channel = None if data.get("channel_id") is None else int(data["channel_id"])
        previous = self.bot_channel.get(guild.id)
        self.bot_channel[guild.id] = channel
        # The connection to close on a move is the one open now: the client may open its next one at once.
        old = self.voice.by_guild.get(guild.id)
        old_ws = None if old is None else old.ws
        await self._dispatch("VOICE_STATE_UPDATE", voice_state(guild, BOT, channel, "bot-voice-session"))
        if channel is None:
            return
        token = f"voice-token-{guild.id}"
        await self._dispatch("VOICE_SERVER_UPDATE", {"token": token, "guild_id": str(guild.id),
                                                     "endpoint": self.voice.endpoint})  # fmt: skip
        if previous is not None and previous != channel and old_ws is not None:
            await old_ws.close(code=4014)  # moved: Discord closes the old voice connection

    # --- interactions -----------------------------------------------------------------------------------

    async def _command(
        self,
        guild: Guild,
        user: User,
        name: str,
        options: dict[str, Any],
        sub: str | None,
        focused: str | None,
    ) -> int:
        interaction = next(self._ids)
        resolved: dict[str, Any] = {}
        wire = []
        for key, value in options.items():
            if isinstance(value, tuple) and value[0] == "attachment":
                attachment_id = value[1]
                resolved.setdefault("attachments", {})[str(attachment_id)] = self.attachments[
                    attachment_id
                ].payload(attachment_id, self.base)
                wire.append({"name": key, "type": 11, "value": str(attachment_id)})
            else:
                wire.append(
                    {
                        "name": key,
                        "type": 5 if isinstance(value, bool) else 3,
                        "value": value,
                        **({"focused": True} if key == focused else {}),
                    }
                )
        if sub is not None:
            wire = [{"name": sub, "type": 1, "options": wire}]
        commands = self.registered.get(guild.id) or self.registered.get(None) or []
        command_id = next((c["id"] for c in commands if c["name"] == name), "0")
        caller = {**member(user), "permissions": str(user.permissions)}
        payload = {
            "id": str(interaction), "application_id": str(APP_ID), "type": 4 if focused else 2, "token": f"tok-{interaction}",
            "version": 1, "guild_id": str(guild.id), "channel_id": str(guild.text_channel),
            "channel": {"id": str(guild.text_channel), "type": 0, "guild_id": str(guild.id), "name": "general",
                        "position": 0, "permission_overwrites": [], "nsfw": False, "parent_id": None},
            "member": caller, "locale": "en-US", "guild_locale": "en-US", "app_permissions": str(ALL_PERMISSIONS),
            "entitlements": [], "authorizing_integration_owners": {"0": str(guild.id)}, "context": 0,
            "attachment_size_limit": 25 << 20,
            "data": {"id": command_id, "name": name, "type": 1, "guild_id": str(guild.id), "options": wire,
                     **({"resolved": resolved} if resolved else {})},
        }  # fmt: skip
        self.interactions[interaction] = time.perf_counter()
        await self._dispatch("INTERACTION_CREATE", payload)
        return interaction
