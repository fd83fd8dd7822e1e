"""Cloning a voice and checking a clip: consent, names, the analysis in its worker processes, and storing an
accepted voice in one library write. Nothing is stored for a rejected clip or a refused request."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Mapping

import numpy as np

from engines.core.interface import VoiceInfo
from hub.errors import ConsentRequired, InvalidRequest, VoiceExists
from hub.library import VoiceRecord
from hub.quality import QualityReport
from hub.quality.clip import PROMPT_RATE, rejection
from hub.quality.workers import AnalysisPool, analyze_clip
from hub.rules import check_voice_name
from hub.settings import EnrollSettings
from hub.speech import CONSENT_HOW, Consent
from hub.voices import VoiceDirectory


class Enrollment:
    """Enrolls clips as cloned voices and reports on clips, over the analysis pool and the voice directory."""

    def __init__(
        self,
        settings: EnrollSettings,
        voices: VoiceDirectory,
        analysis: AnalysisPool,
        changed: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.voices = voices
        self.analysis = analysis
        self._changed = changed

    async def enroll(
        self,
        name: str,
        audio: bytes,
        *,
        transcript: str = "",
        language: str = "",
        engine: str | None = None,
        replace: bool = False,
        consent: Consent | None = None,
    ) -> VoiceInfo:
        """See `Hub.enroll`."""
        check_voice_name(name)
        if consent is None:
            raise ConsentRequired(
                f"voice {name!r} was not enrolled: cloning a voice needs its owner's permission, so confirm that the "
                f"speaker in the clip consented to it — {CONSENT_HOW}",
                param="consent",
            )
        if self.voices.reserved(name):
            raise VoiceExists(
                f"{name!r} is the name of a preset voice or alias: choose another name", param="name"
            )
        enabled = self.voices.pools
        if engine is not None and engine not in enabled:
            raise InvalidRequest(
                f"engine {engine!r} is not enabled: use one of {', '.join(enabled)}", param="engine"
            )
        library = self.voices.library
        records = await asyncio.to_thread(library.list_voices)
        if not replace and any(r.name == name for r in records):
            raise VoiceExists(f"voice {name!r} already exists: pass replace to overwrite it", param="name")
        if not self.settings.analyze:
            record = await self._unchecked(name, audio, transcript, language, engine, consent)
        else:
            existing = [(r.name, np.frombuffer(r.embedding, dtype="<f4")) for r in records
                        if r.embedding and r.name != name]  # fmt: skip
            record = await self._analyzed(name, audio, transcript, language, engine, consent, existing)
        await asyncio.to_thread(library.add_voice, record, replace=replace)
        self._changed()
        return self.voices.cloned(record)

    async def _analyzed(
        self,
        name: str,
        audio: bytes,
        transcript: str,
        language: str,
        engine: str | None,
        consent: Consent,
        existing: list[tuple[str, np.ndarray]],
    ) -> VoiceRecord:
        """The clip trimmed to its best speech, transcribed when no transcript is given, judged and embedded."""
        result = await self.analysis.run(
            analyze_clip, audio, transcript=transcript.strip(), language=language, existing=existing
        )
        if result.report.verdict == "reject":
            raise rejection(result.report)
        assert result.embedding is not None
        now = time.time()
        return VoiceRecord(
            name=name,
            language=result.language,
            transcript=result.transcript,
            reference=np.asarray(result.prompt, dtype="<f4").tobytes(),
            reference_rate=PROMPT_RATE,
            engine=engine,
            embedding=np.asarray(result.embedding, dtype="<f4").tobytes(),
            quality=result.report.to_dict(),
            metadata={
                "duration_s": round(len(result.prompt) / PROMPT_RATE, 3),
                "source_duration_s": round(result.duration_s, 3),
                "transcript_source": "given" if transcript.strip() else "asr",
            },
            created_at=now,
            updated_at=now,
            consent=consent.record(),
        )

    async def _unchecked(
        self, name: str, audio: bytes, transcript: str, language: str, engine: str | None, consent: Consent
    ) -> VoiceRecord:
        """enroll.analyze = false: the decoded clip as it is, with what the caller said about it."""
        from hub.audio import decode_audio

        samples, rate = await self.analysis.run(
            decode_audio, audio, target_rate=PROMPT_RATE, limits=self.settings.decode_limits
        )
        now = time.time()
        return VoiceRecord(name=name, language=language, transcript=transcript,
                           reference=np.asarray(samples, dtype="<f4").tobytes(), reference_rate=rate,
                           engine=engine, metadata={"duration_s": round(len(samples) / rate, 3)},
                           created_at=now, updated_at=now, consent=consent.record())  # fmt: skip

    async def check(
        self, audio: bytes, *, against: str | None = None, text: str | None = None
    ) -> QualityReport:
        """See `Hub.check`."""
        embedding = None
        if against is not None:
            voice, record = await self.voices.resolve(against)
            if record is None or not record.embedding:
                raise InvalidRequest(
                    f"voice {voice.name!r} has no speaker embedding (preset voices have none): compare "
                    "against a cloned voice",
                    param="against",
                )
            embedding = np.frombuffer(record.embedding, dtype="<f4")
        result = await self.analysis.run(analyze_clip, audio, text=text, against=embedding)
        if against is None:
            return result.report
        return dataclasses.replace(result.report, details={**result.report.details, "against": against})

    async def fetch_clip(
        self, url: str, *, max_bytes: int | None = None, headers: Mapping[str, str] | None = None
    ) -> bytes:
        """See `Hub.fetch_clip`."""
        from hub.fetch import allow_list, fetch_audio

        limit = int(self.settings.max_upload_mb * (1 << 20))
        return await fetch_audio(
            url,
            max_bytes=limit if max_bytes is None else min(limit, max_bytes),
            timeout_s=self.settings.url_timeout_s,
            allow_private=self.settings.allow_private_urls,
            allowed_hosts=allow_list(self.settings.allowed_hosts),
            headers=headers,
        )
