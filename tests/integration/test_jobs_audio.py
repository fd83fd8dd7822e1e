"""Jobs on the offline Piper voice: chapters from Markdown and EPUB, speech across a chunk join, and a Wyoming
listener's first audio while a long job runs."""

from __future__ import annotations

import asyncio
import base64
import io
import statistics
import time
import zipfile
from pathlib import Path

import av
import soundfile as sf
from ebooklib import epub
from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.conftest import Daemon, start_daemon, words
from tests.integration.test_jobs import request, wait_for
from tests.integration.test_wyoming import WYOMING, read_until, uri_parts

VOICE = "en_US-joe-medium"
CHAPTERS = {
    "The Harbor": "The boats came home before the storm. Every sailor tied two ropes to the dock.",
    "The Lighthouse": "Old Martha climbed the stairs at dusk. The lamp turned slowly over the water.",
    "The Morning": "By sunrise the sea was calm again.",
}
JOB_ENV = {"VOXHUB_JOBS__MAX_CHUNK_CHARS": "50"}  # about one sentence a chunk: joins inside each chapter


def markdown() -> str:
    return "\n\n".join(f"## {title}\n\n{body}" for title, body in CHAPTERS.items())


def build_epub() -> bytes:
    book = epub.EpubBook()
    book.set_identifier("voxhub-test")
    book.set_title("Harbor Stories")
    book.set_language("en")
    items = []
    for n, (title, body) in enumerate(CHAPTERS.items()):
        page = epub.EpubHtml(title=title, file_name=f"ch{n}.xhtml", lang="en")
        page.content = f"<html><body><h1>{title}</h1><p>{body}</p></body></html>"
        book.add_item(page)
        items.append(page)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = items
    out = io.BytesIO()
    epub.write_epub(out, book)
    return out.getvalue()


def run_job(daemon: Daemon, body: dict[str, object]) -> tuple[dict[str, object], bytes, bytes]:
    status, job = request(daemon, "POST", "/v1/jobs", {"voice": VOICE, **body})
    assert status == 202, job
    final = wait_for(daemon, job["id"], lambda j: j["state"] not in ("queued", "running"), timeout=120)
    assert final["state"] == "done", final
    status, data = request(daemon, "GET", f"/v1/jobs/{job['id']}/audio")
    assert status == 200
    status, archive = request(
        daemon, "GET", f"/v1/jobs/{job['id']}/audio?format=zip"
    )  # the same job, per chapter
    assert status == 200
    return final, data, archive


def chapter_files(archive: bytes) -> tuple[list[str], list[tuple[object, int]]]:
    with zipfile.ZipFile(io.BytesIO(archive)) as files:
        names = files.namelist()
        return names, [sf.read(io.BytesIO(files.read(name)), dtype="float32") for name in names]


def test_markdown_and_epub_make_one_file_with_chapter_marks_and_clear_joins(
    tmp_path: Path, transcriber: object
) -> None:
    daemon = start_daemon(tmp_path / "data", env=JOB_ENV)
    try:
        job, m4b, archive = run_job(
            daemon, {"input": markdown(), "input_format": "markdown", "format": "m4b"}
        )
        book, book_m4b, book_archive = run_job(
            daemon, {"input": base64.b64encode(build_epub()).decode(), "input_format": "epub"}
        )
    finally:
        daemon.stop()
    assert job["chunks_total"] >= 5 and job["chapters"] == list(CHAPTERS)  # at least 2 + 2 + 1
    for data, zipped, titles in ((m4b, archive, list(CHAPTERS)), (book_m4b, book_archive, book["chapters"])):
        names, parts = chapter_files(zipped)
        assert names == ["01-The Harbor.wav", "02-The Lighthouse.wav", "03-The Morning.wav"]
        lengths = [len(samples) / rate for samples, rate in parts]  # type: ignore[arg-type]
        starts = [sum(lengths[:n]) for n in range(len(lengths))]
        with av.open(io.BytesIO(data)) as container:
            duration = container.duration / 1e6
            marks = container.chapters()
        assert abs(duration - sum(lengths)) < 0.1, (duration, lengths)
        assert [m["metadata"]["title"] for m in marks] == titles == list(CHAPTERS)
        marked = [float(m["start"] * m["time_base"]) for m in marks]
        assert all(abs(a - b) < 0.01 for a, b in zip(marked, starts, strict=True)), (marked, starts)
    # Chapter 1 holds a chunk join (two chunks, a pause between): every word of both must be heard.
    samples, rate = chapter_files(archive)[1][0]
    heard = transcriber.transcribe(samples, rate, language="en")  # type: ignore[attr-defined]
    expected = words("The Harbor. " + CHAPTERS["The Harbor"])  # the heading is read too
    got = words(heard.text)
    missing = [w for w in expected if w not in got]
    assert len(missing) <= 1, (heard.text, missing)


async def first_audio(daemon: Daemon, text: str) -> float:
    started = time.perf_counter()
    async with AsyncTcpClient(*uri_parts(daemon)) as client:
        await client.write_event(Synthesize(text, voice=SynthesizeVoice(VOICE)).event())
        reply = await read_until(client, "audio-stop")
    assert reply.first_audio_at is not None
    return reply.first_audio_at - started


async def test_a_wyoming_listener_is_not_slowed_by_a_long_job(tmp_path: Path) -> None:
    # Two workers: job chunks use one (jobs.reserved_workers = 1), the listener gets the other. Idle and busy
    # requests alternate (the job is paused by cancelling it and started again), so load from elsewhere on a
    # shared machine hits both sides alike; the medians are compared.
    env = {**WYOMING, **JOB_ENV, "VOXHUB_ENGINES__PIPER__WORKERS": "2"}
    daemon = await asyncio.to_thread(start_daemon, tmp_path / "data", env)
    long_text = " ".join(
        f"Sentence {n} of a long story that keeps an engine busy for a while." for n in range(40)
    )
    idle: list[float] = []
    busy: list[float] = []
    try:
        for n in range(2):  # both workers started and warm
            await first_audio(daemon, f"Warming up worker {n} now.")
        for n in range(5):
            idle.append(await first_audio(daemon, f"The kitchen light number {n} is now on."))
            status, job = await asyncio.to_thread(
                request, daemon, "POST", "/v1/jobs", {"input": long_text, "voice": VOICE}
            )
            assert status == 202
            await asyncio.to_thread(wait_for, daemon, job["id"], lambda j: j["chunks_done"] >= 1)
            await asyncio.sleep(0.1 * n)  # land at different points of a chunk
            busy.append(await first_audio(daemon, f"The hallway light number {n} is now off."))
            _, during = await asyncio.to_thread(request, daemon, "DELETE", f"/v1/jobs/{job['id']}")
            assert during["chunks_done"] < during["chunks_total"], "the job must still run while measured"
    finally:
        await asyncio.to_thread(daemon.stop)
    quiet, loaded = statistics.median(idle), statistics.median(busy)
    assert loaded <= 1.5 * quiet, (
        f"first audio {loaded * 1000:.0f} ms during a job vs {quiet * 1000:.0f} ms idle"
    )
