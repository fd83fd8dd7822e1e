"""Fixtures of the web UI tests: the real daemon (fake engine), real Chromium, an ingress proxy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import FAKE_ONLY, Daemon, start_daemon
from tests.ui import browser
from tests.ui.ingress import IngressProxy

# The test proxy connects from 127.0.0.1: trust it the way the add-on trusts the Supervisor.
UI_ENV = {**FAKE_ONLY, "VOXHUB_HTTP__INGRESS_PROXIES": "127.0.0.1"}


@pytest.fixture(scope="module")
def ui_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = start_daemon(tmp_path_factory.mktemp("ui-daemon"), env=UI_ENV)
    yield daemon
    daemon.stop()


@pytest.fixture
def driver() -> Iterator[Any]:
    browser.need_browser()
    with browser.chromium() as chromium:
        yield chromium


@pytest.fixture
def ingress(ui_daemon: Daemon) -> Iterator[IngressProxy]:
    proxy = IngressProxy(ui_daemon.url).start()
    yield proxy
    proxy.stop()
