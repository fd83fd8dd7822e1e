"""The voice side of the stand-in: a wss:// voice websocket and the UDP socket that receives encrypted RTP,
decrypts it (the mode discord.py picked) and decodes the Opus frames back to PCM."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import nacl.secret
from aiohttp import WSMsgType, web

MODES = ["aead_xchacha20_poly1305_rtpsize"]
RTP_HEADER = 12


@dataclass
class VoiceSession:
    """One voice connection of the bot (one guild)."""

    guild_id: int
    ssrc: int
    key: bytes = field(default_factory=lambda: os.urandom(32))
    mode: str = ""
    dave_offered: int | None = None
    """The `max_dave_protocol_version` the client announced in IDENTIFY."""
    ws: web.WebSocketResponse | None = None
    decoder: Any = None
    speaking: list[int] = field(default_factory=list)


@dataclass
class Packet:
    guild_id: int
    at: float
    """time.perf_counter() on arrival."""
    sequence: int
    pcm: bytes
    """48 kHz stereo s16, as decoded."""


class VoiceServer(asyncio.DatagramProtocol):
    """Voice websocket (TLS) + UDP, on 127.0.0.1."""

    def __init__(self, cert: str, key: str) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.sessions: dict[int, VoiceSession] = {}
        self.by_guild: dict[int, VoiceSession] = {}
        self.packets: list[Packet] = []
        self.bad_packets = 0
        self.ws_port = 0
        self.udp_port = 0
        self.transport: asyncio.DatagramTransport | None = None
        self._next_ssrc = 1000

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self.udp_port = self.transport.get_extra_info("sockname")[1]
        app = web.Application()
        app.router.add_get("/", self.websocket)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=self.context)
        await site.start()
        self.ws_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        for session in self.sessions.values():
            if session.ws is not None:
                await session.ws.close()
        await self.runner.cleanup()
        if self.transport is not None:
            self.transport.close()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.ws_port}"

    async def drop(self, guild_id: int, code: int = 4015) -> None:
        """Close the guild's voice websocket as a crashed voice server would."""
        session = self.by_guild.get(guild_id)
        if session is not None and session.ws is not None:
            await session.ws.close(code=code)

    # --- websocket ---------------------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"op": 8, "d": {"heartbeat_interval": 41250}})
        session: VoiceSession | None = None
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            message = json.loads(msg.data)
            op, data = message["op"], message.get("d")
            if op in (0, 7):  # IDENTIFY, RESUME
                guild_id = int(data["server_id"])
                session = self.by_guild.get(guild_id) if op == 7 else None
                if session is None:
                    self._next_ssrc += 1
                    session = VoiceSession(
                        guild_id, self._next_ssrc, dave_offered=data.get("max_dave_protocol_version")
                    )
                    self.sessions[session.ssrc] = session
                    self.by_guild[guild_id] = session
                session.ws = ws
                if op == 7:
                    await ws.send_json({"op": 9, "d": None})
                    continue
                ready = {"ssrc": session.ssrc, "ip": "127.0.0.1", "port": self.udp_port, "modes": MODES}
                await ws.send_json({"op": 2, "d": ready})
            elif op == 1 and session is not None:  # SELECT_PROTOCOL
                session.mode = data["data"]["mode"]
                description = {
                    "mode": session.mode,
                    "secret_key": list(session.key),
                    "dave_protocol_version": 0,
                }
                await ws.send_json({"op": 4, "d": description})
            elif op == 3:  # HEARTBEAT
                await ws.send_json({"op": 6, "d": {"t": (data or {}).get("t")}})
            elif op == 5 and session is not None:  # SPEAKING
                session.speaking.append(int(data["speaking"]))
        return ws

    # --- UDP -----------------------------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) == 74 and data[:2] == b"\x00\x01":  # IP discovery request
            ssrc = struct.unpack_from(">I", data, 4)[0]
            reply = bytearray(74)
            struct.pack_into(">HHI", reply, 0, 2, 70, ssrc)
            reply[8 : 8 + len(addr[0])] = addr[0].encode()
            struct.pack_into(">H", reply, 72, addr[1])
            assert self.transport is not None
            self.transport.sendto(bytes(reply), addr)
            return
        if len(data) < RTP_HEADER + 4 or data[0] != 0x80 or data[1] != 0x78:
            self.bad_packets += 1
            return
        sequence, _timestamp, ssrc = struct.unpack_from(">HII", data, 2)
        session = self.sessions.get(ssrc)
        if session is None:
            self.bad_packets += 1
            return
        header, body, nonce = data[:RTP_HEADER], data[RTP_HEADER:-4], data[-4:] + bytes(20)
        try:
            opus = nacl.secret.Aead(session.key).decrypt(body, header, nonce)
        except Exception:
            self.bad_packets += 1
            return
        if session.decoder is None:
            import discord.opus

            session.decoder = discord.opus.Decoder()
        pcm = session.decoder.decode(opus, fec=False)
        self.packets.append(Packet(session.guild_id, time.perf_counter(), sequence, pcm))
