"""Model files: resumable downloads and checksums, shared by the hub's and the engines' `models pull`."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Mapping
from pathlib import Path

NETWORK_TIMEOUT_S = 30.0


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def download(
    url: str, target: Path, timeout: float = NETWORK_TIMEOUT_S, headers: Mapping[str, str] | None = None
) -> None:
    """Bytes go to `target.part` (resumed if present), renamed when complete: never a half file."""
    from tqdm import tqdm

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    done = partial.stat().st_size if partial.is_file() else 0
    request = urllib.request.Request(
        url, headers={**(headers or {}), **({"Range": f"bytes={done}-"} if done else {})}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if done and response.status != 206:  # the server ignored the range: start again
            done = 0
        total = done + int(response.headers.get("Content-Length") or 0)
        with (
            partial.open("ab" if done else "wb") as out,
            tqdm(total=total or None, initial=done, unit="B", unit_scale=True, desc=target.name) as bar,
        ):
            while block := response.read(1 << 20):
                out.write(block)
                bar.update(len(block))
    os.replace(partial, target)
