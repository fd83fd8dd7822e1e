"""Models that load on first use, once, from any thread."""

from __future__ import annotations

import abc
import threading
from typing import Any


class LazyModel(abc.ABC):
    """Holds one model; `load()` builds it on the first call (thread-safe) and returns it after."""

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> Any:
        """The model, built now if it is not yet (idempotent)."""
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    @abc.abstractmethod
    def _load(self) -> Any:
        """Build the model (called once, under the lock)."""
