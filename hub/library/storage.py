"""Disk trouble under the voice library: telling it from a bad write, and the error that says what to do."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from hub.errors import StorageError

STORAGE_MESSAGES = ("disk is full", "readonly database", "unable to open database", "disk i/o error",
                     "read-only file system", "no space left", "permission denied")  # fmt: skip


def is_storage_problem(exc: BaseException) -> bool:
    """A write failed because of the disk or the directory, not because of what was written."""
    if isinstance(exc, OSError) and exc.errno in (
        errno.ENOSPC,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.EDQUOT,
    ):
        return True
    return isinstance(exc, (sqlite3.Error, OSError)) and any(m in str(exc).lower() for m in STORAGE_MESSAGES)


def storage_error(path: Path, exc: BaseException) -> StorageError:
    """The error that names the data directory and what to do about it."""
    reason = str(exc).lower()
    if (
        "full" in reason
        or "no space" in reason
        or getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
    ):
        fix = "the disk is full: free space there, or move the data directory (VOXHUB_DATA_DIR / data_dir)"
    else:
        fix = (f"it is not writable ({exc}): give the daemon's user write access, or choose another data "
               "directory (VOXHUB_DATA_DIR / data_dir)")  # fmt: skip
    return StorageError(f"cannot write the voice library {path} in the data directory {path.parent}: {fix}")
