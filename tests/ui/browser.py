"""Real Chromium for the web UI tests (Debian's chromium + chromedriver, driven by selenium)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
         "--autoplay-policy=no-user-gesture-required", "--mute-audio")  # fmt: skip


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not binary.exists():
            return f"{binary} is missing: install Debian's chromium and chromium-driver (scripts/prereqs)"
    return None


def need_browser() -> None:
    """Skip the calling test (saying why) where chromium or chromedriver is missing: system packages."""
    import pytest

    reason = missing()
    if reason is not None:
        pytest.skip(reason)


@contextmanager
def chromium(microphone: Path | None = None, size: tuple[int, int] = (1280, 900)) -> Iterator[Any]:
    """A headless Chromium with a fresh profile; `microphone`: a WAV file the fake microphone plays."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="voxhub-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={size[0]},{size[1]}")
    if microphone is not None:
        options.add_argument("--use-fake-device-for-media-stream")
        options.add_argument("--use-fake-ui-for-media-stream")
        options.add_argument(f"--use-file-for-fake-audio-capture={microphone}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver: Any) -> list[str]:
    """Console errors (uncaught exceptions, failed loads) since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def color_scheme(driver: Any, scheme: str) -> None:
    """Emulate prefers-color-scheme: light or dark."""
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]}
    )


def phone(driver: Any, width: int = 390, height: int = 844) -> None:
    """Emulate a phone's viewport (headless windows cannot be made that narrow)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True},
    )


def full_page_png(driver: Any) -> bytes:
    """A screenshot of the whole page, not only the visible part."""
    import base64

    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    return base64.b64decode(shot["data"])
