"""The health report: which engines serve, the cache, whether the library can take writes, the adapters'
connections and the analysis workers — what /health, the web UI's status page and probes read."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

MIN_FREE_BYTES = 1 << 20
"""Less free space than this in the data directory makes the hub "degraded"."""


def storage_problem(library_path: Path) -> str | None:
    """Why the data directory cannot take writes now (nearly no space left), or None."""
    directory = library_path.parent
    try:
        free = shutil.disk_usage(directory).free
    except OSError as exc:
        return f"cannot check the data directory {directory}: {exc}"
    if free < MIN_FREE_BYTES:
        return (f"the disk holding the data directory {directory} is full ({free} bytes free): free space "
                "there, or move the data directory (VOXHUB_DATA_DIR / data_dir)")  # fmt: skip
    return None


def adapter_status(adapter: Any) -> dict[str, Any]:
    """An adapter's own `status()` ({"state", "reason"?}), or "running" when it has none."""
    status = getattr(adapter, "status", None)
    if not callable(status):
        return {"state": "running"}
    try:
        return dict(status())
    except Exception as exc:  # a status bug must not take /health down with it
        return {"state": "unknown", "reason": f"status() failed: {exc}"}


async def report(hub: Any) -> dict[str, Any]:
    """The health of `hub` (a hub.api.Hub); refreshes the gauges /metrics shows."""
    synth = hub.synthesis
    library = synth.library
    entries, size = await asyncio.to_thread(library.cache_stats)
    synth.metrics.cache_entries.set(entries)
    synth.metrics.cache_bytes.set(size)
    for name, pool in synth.pools.items():
        synth.metrics.queued.labels(name).set(len(pool.scheduler))
    serving = any(pool.info is not None for pool in synth.pools.values())
    problem = synth.storage_error or await asyncio.to_thread(storage_problem, library.path)
    return {
        "status": "ok" if serving and problem is None else "degraded",
        "serving": serving,
        "uptime_s": round(hub.uptime_s, 1),
        "engines": {name: pool.health() for name, pool in synth.pools.items()},
        "cache": {"entries": entries, "bytes": size},
        "library": {"path": str(library.path), "writable": problem is None, "error": problem},
        "adapters": {name: adapter_status(adapter) for name, adapter in hub.adapters.items()},
        "analysis": {"workers": hub.analysis.pids(), "in_flight": hub.analysis.in_flight},
    }
