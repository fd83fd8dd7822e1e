"""Health check: `python -m adapters.wyoming.health [URI]` sends `describe` and exits 0 when a TTS program
with at least one voice answers (used by the add-on and the Docker images)."""

from __future__ import annotations

import asyncio
import sys

DEFAULT_URI = "tcp://127.0.0.1:10200"


async def check(uri: str, timeout: float = 10.0) -> str:
    """'ok: N voices' or raise with what is wrong."""
    from wyoming.client import AsyncClient
    from wyoming.info import Describe, Info

    async with AsyncClient.from_uri(uri, connect_timeout=timeout, read_timeout=timeout) as client:
        await client.write_event(Describe().event())
        while True:
            event = await client.read_event()
            if event is None:
                raise ConnectionError("the server closed the connection before answering describe")
            if Info.is_type(event.type):
                info = Info.from_event(event)
                break
    programs = [p for p in info.tts if p.installed]
    if not programs or not programs[0].voices:
        raise RuntimeError("the server answered but lists no installed TTS voice: check its engines")
    return f"ok: {programs[0].name} with {len(programs[0].voices)} voices"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    uri = args[0] if args else DEFAULT_URI
    try:
        print(asyncio.run(check(uri)))
    except Exception as exc:
        print(f"unhealthy: {uri}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
