"""URL fetches refuse private addresses and time out; the model registry and ASR backends fail clearly."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from aiohttp import web

from hub import models
from hub.errors import ConfigError, ModelMissing, UploadTooLarge
from hub.fetch import BadUrl, NotAClip, allow_list, fetch_audio
from hub.quality import asr


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/clip.wav",
        "http://localhost:9/clip.wav",  # a name that resolves to loopback
        "https://10.1.2.3/clip.wav",
        "https://192.168.1.20/clip.wav",
        "http://169.254.169.254/latest/meta-data",  # link-local: cloud metadata endpoints live here
        "http://[::1]/clip.wav",
        "http://[::ffff:127.0.0.1]/clip.wav",
        "http://0.0.0.0/clip.wav",
    ],
)
async def test_private_loopback_and_link_local_addresses_are_refused(url: str) -> None:
    with pytest.raises(BadUrl, match="private, loopback or link-local") as caught:
        await fetch_audio(url, max_bytes=1 << 20, timeout_s=5)
    assert "upload the file instead" in caught.value.message


async def test_only_http_urls_are_fetched() -> None:
    for url in ("file:///etc/passwd", "ftp://example.com/a.wav", "not a url"):
        with pytest.raises(BadUrl, match="not an http"):
            await fetch_audio(url, max_bytes=1 << 20, timeout_s=5)


async def _serve(handler: object) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)  # type: ignore[arg-type]
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def test_a_hanging_server_times_out_and_big_clips_are_cut_off() -> None:
    # The server is on loopback, so these use `allow_private` (the enroll.allow_private_urls setting,
    # off by default) to get past the address check and reach the timeout and size logic.
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path == "/hang":
            await asyncio.sleep(3)  # well past the 0.5 s timeout; short, so cleanup need not wait long
        if request.path == "/redirect":
            raise web.HTTPFound("/big")
        return web.Response(body=b"x" * 5000)

    runner, base = await _serve(handler)
    try:
        with pytest.raises(BadUrl, match=r"no answer within 0\.5 s"):
            await fetch_audio(f"{base}/hang", max_bytes=1 << 20, timeout_s=0.5, allow_private=True)
        with pytest.raises(UploadTooLarge, match="5000 bytes"):
            await fetch_audio(f"{base}/redirect", max_bytes=1000, timeout_s=5, allow_private=True)
        assert (
            await fetch_audio(f"{base}/ok", max_bytes=10000, timeout_s=5, allow_private=True) == b"x" * 5000
        )
        # Without the override the same local server is refused before any connection.
        with pytest.raises(BadUrl, match=r"127\.0\.0\.1"):
            await fetch_audio(f"{base}/ok", max_bytes=10000, timeout_s=5)
    finally:
        await runner.cleanup()


async def test_every_redirect_is_checked_again_with_the_guard_on() -> None:
    """An allowed LAN host that redirects elsewhere on the LAN: the second hop is refused, never contacted."""
    contacted: list[str] = []

    async def target(request: web.Request) -> web.Response:
        contacted.append(request.path)
        return web.Response(body=b"secret")

    target_runner, target_base = await _serve(target)  # http://127.0.0.1:PORT, on nobody's allow list

    async def redirector(request: web.Request) -> web.Response:
        if request.path == "/same-host-other-port":
            raise web.HTTPFound(target_base.replace("127.0.0.1", "localhost") + "/x")
        if request.path == "/missing":
            return web.Response(status=404, text="SECRET-BODY of the target")
        raise web.HTTPFound(f"{target_base}/x")

    runner, base = await _serve(redirector)
    allowed_port = int(base.rsplit(":", 1)[1])
    try:
        # The first hop is allowed by name (any port), the redirect to a literal loopback address is not.
        first = base.replace("127.0.0.1", "localhost")
        with pytest.raises(BadUrl, match="private, loopback or link-local"):
            await fetch_audio(
                f"{first}/go", max_bytes=1000, timeout_s=5, allowed_hosts=allow_list(["localhost"])
            )
        # host:port allows that port only: a redirect to the same host on another port is refused.
        only_port = allow_list([f"LOCALHOST:{allowed_port}"])
        with pytest.raises(BadUrl, match="private, loopback or link-local"):
            await fetch_audio(
                f"{first}/same-host-other-port", max_bytes=1000, timeout_s=5, allowed_hosts=only_port
            )
        assert contacted == []
        # What an allowed target answers stays out of the error: no status, no body.
        with pytest.raises(BadUrl) as caught:
            await fetch_audio(f"{first}/missing", max_bytes=1000, timeout_s=5, allowed_hosts=only_port)
        assert "404" not in caught.value.message and "SECRET" not in caught.value.message
        assert "could not fetch the clip" in caught.value.message
        # Allowed and direct: fetched.
        direct = target_base.replace("127.0.0.1", "localhost")
        assert await fetch_audio(f"{direct}/y", max_bytes=1000, timeout_s=5,
                                 allowed_hosts=allow_list(["localhost"])) == b"secret"  # fmt: skip
        assert contacted == ["/y"]
    finally:
        await runner.cleanup()
        await target_runner.cleanup()


async def test_a_closed_port_is_a_generic_error() -> None:
    async def nothing(request: web.Request) -> web.Response:
        return web.Response()

    runner, base = await _serve(nothing)
    await runner.cleanup()  # nothing listens there any more
    with pytest.raises(BadUrl) as caught:
        await fetch_audio(f"{base}/x", max_bytes=1000, timeout_s=5, allowed_hosts=allow_list(["127.0.0.1"]))
    assert caught.value.message.startswith("could not fetch the clip: the connection failed")
    assert "refused" not in caught.value.message.lower() and "errno" not in caught.value.message.lower()


def test_a_missing_model_names_the_command_that_fetches_it(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match=r"run `voxhub models pull whisper-small`"):
        models.require("whisper-small", tmp_path)
    with pytest.raises(ModelMissing, match="voxhub models list"):
        models.spec("whisper-enormous")
    spec = models.spec("openai-whisper-base")
    assert spec.sources()[0][0].startswith("https://openaipublic.azureedge.net/") and spec.sha256["base.pt"]
    assert models.spec("whisper-small").sources()[0][0].startswith("https://huggingface.co/Systran/")


def test_openai_whisper_backend_is_lazy_and_explains_the_missing_checkpoint(tmp_path: Path) -> None:
    sys.modules.pop("whisper", None)
    backend = asr.load_backend("openai-whisper", "base", tmp_path)
    assert isinstance(backend, asr.OpenAIWhisper) and not backend.loaded
    assert "whisper" not in sys.modules  # nothing imported before the first transcription
    with pytest.raises(ModelMissing, match=r"`voxhub models pull openai-whisper-base`"):
        backend.transcribe(__import__("numpy").zeros(16000, "float32"), 16000)
    assert not backend.loaded


def test_faster_whisper_backend_explains_a_missing_size(tmp_path: Path) -> None:
    backend = asr.load_backend("faster-whisper", "small", tmp_path)
    assert not backend.loaded
    with pytest.raises(ModelMissing, match=r"`voxhub models pull whisper-small`"):
        backend.load()
    with pytest.raises(ConfigError, match=r"asr\.backend"):
        asr.load_backend("kaldi", "base", tmp_path)


async def test_headers_reach_the_urls_own_host_only_and_a_web_page_is_not_a_clip() -> None:
    """A platform's token (Slack's bot token) must not follow a redirect to another host."""
    seen: list[tuple[str, str | None]] = []

    async def other(request: web.Request) -> web.Response:
        seen.append(("other", request.headers.get("Authorization")))
        return web.Response(body=b"RIFF", content_type="audio/wav")

    other_runner, other_base = await _serve(other)

    async def origin(request: web.Request) -> web.Response:
        seen.append(("origin", request.headers.get("Authorization")))
        if request.path == "/login":
            return web.Response(text="<html>Sign in</html>", content_type="text/html")
        if request.path == "/away":
            raise web.HTTPFound(f"{other_base}/clip")
        return web.Response(body=b"RIFF", content_type="audio/wav")

    runner, base = await _serve(origin)
    token = {"Authorization": "Bearer xoxb-secret"}
    everyone = allow_list(["127.0.0.1"])
    try:
        assert await fetch_audio(f"{base}/clip", max_bytes=100, timeout_s=5, allowed_hosts=everyone,
                                 headers=token) == b"RIFF"  # fmt: skip
        assert await fetch_audio(f"{base}/away", max_bytes=100, timeout_s=5, allowed_hosts=everyone,
                                 headers=token) == b"RIFF"  # fmt: skip
        assert seen == [("origin", "Bearer xoxb-secret"), ("origin", "Bearer xoxb-secret"), ("other", None)]
        with pytest.raises(NotAClip, match="web page, not audio") as caught:
            await fetch_audio(f"{base}/login", max_bytes=100, timeout_s=5, allowed_hosts=everyone)
        assert caught.value.code == "not_audio" and "Sign in" not in caught.value.message
    finally:
        await runner.cleanup()
        await other_runner.cleanup()
