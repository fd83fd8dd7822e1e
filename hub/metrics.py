"""Prometheus metrics, one registry per Hub (no module-level collectors)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "voxhub_synthesis_requests", "Synthesis requests", ["engine", "outcome"], registry=self.registry
        )
        self.sentences = Counter(
            "voxhub_sentences", "Sentences served", ["engine", "source"], registry=self.registry
        )
        self.first_audio = Histogram(
            "voxhub_time_to_first_audio_seconds",
            "Time from request to first audio chunk",
            ["engine"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10),
            registry=self.registry,
        )
        self.audio_seconds = Counter(
            "voxhub_audio_seconds", "Seconds of audio produced", ["engine"], registry=self.registry
        )
        self.worker_restarts = Gauge(
            "voxhub_worker_restarts", "Worker restarts after a crash", ["engine"], registry=self.registry
        )
        self.queued = Gauge(
            "voxhub_queued_sentences", "Sentences waiting for a worker", ["engine"], registry=self.registry
        )
        self.cache_entries = Gauge("voxhub_cache_entries", "Synthesis cache entries", registry=self.registry)
        self.cache_bytes = Gauge(
            "voxhub_cache_bytes", "Synthesis cache size in bytes", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
