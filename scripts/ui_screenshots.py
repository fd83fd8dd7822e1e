#!/usr/bin/env python
"""Screenshots of the web UI's pages (light and dark, and a phone) into docs/ui/, from a real daemon.

    python scripts/ui_screenshots.py [--out docs/ui]

Starts `voxhub serve` on a free port (Piper's offline voice, the fake engine for cloned voices) in a
temporary data directory, enrolls one voice from espeak-ng speech, and drives Debian's Chromium.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from selenium.webdriver.common.by import By  # noqa: E402

from tests.conftest import start_daemon  # noqa: E402
from tests.ui import browser  # noqa: E402
from tests.ui.pages import open_page, voice_card, wait  # noqa: E402

SPEECH = "The quick brown fox jumps over the lazy dog. My assistant reads the news and the weather to us."


def enroll(api: str, name: str, clip: Path) -> None:
    body = json.dumps({"name": name, "audio_b64": base64.b64encode(clip.read_bytes()).decode()}).encode()
    request = urllib.request.Request(api + "/voices", body, {"Content-Type": "application/json"})
    urllib.request.urlopen(request).close()


def save(driver: Any, path: Path) -> None:
    driver.execute_script("window.scrollTo(0, 0)")
    path.write_bytes(browser.full_page_png(driver))


def shoot(driver: Any, base: str, out: Path, suffix: str, quiet: Path) -> None:
    open_page(driver, base, "voices")
    card = wait(driver, lambda d: voice_card(d, "grandpa"), 30)
    card.find_element(By.TAG_NAME, "summary").click()
    wait(driver, lambda d: card.find_elements(By.CSS_SELECTOR, "details audio[src]"), 30)
    save(driver, out / f"voices-{suffix}.png")
    open_page(driver, base, "clone")
    driver.find_element(By.ID, "clone-file").send_keys(str(quiet))  # a clip with something to fix
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#clone-report .report"), 240)
    driver.find_element(By.ID, "clone-name").send_keys("grandma")
    save(driver, out / f"clone-{suffix}.png")
    open_page(driver, base, "play")
    driver.find_element(By.ID, "play-go").click()
    wait(driver, lambda d: d.find_element(By.ID, "play-result").get_attribute("data-done"), 60)
    save(driver, out / f"play-{suffix}.png")
    open_page(driver, base, "status")
    save(driver, out / f"status-{suffix}.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "ui")
    args = parser.parse_args()
    if reason := browser.missing():
        print(f"ui_screenshots: {reason}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "speech.wav"
        quiet = Path(tmp) / "quiet.wav"
        subprocess.run(["espeak-ng", "-s", "150", "-w", str(clip), SPEECH], check=True)
        subprocess.run(["espeak-ng", "-s", "150", "-a", "3", "-w", str(quiet), SPEECH], check=True)
        # Adapters for the status page: Wyoming listening, MQTT without a broker (shows the reason).
        env = {"VOXHUB_ENGINES__FAKE__ENABLED": "true", "VOXHUB_ADAPTERS__WYOMING__ENABLED": "true",
               "VOXHUB_ADAPTERS__WYOMING__URI": "tcp://127.0.0.1:0", "VOXHUB_ADAPTERS__MQTT__ENABLED": "true",
               "VOXHUB_ADAPTERS__MQTT__URL": "mqtt://127.0.0.1:9"}  # fmt: skip
        daemon = start_daemon(Path(tmp) / "data", env=env)
        try:
            enroll(daemon.api, "grandpa", clip)
            base = daemon.url + "/ui/"
            for scheme in ("light", "dark"):
                with browser.chromium(size=(1100, 800)) as driver:
                    browser.color_scheme(driver, scheme)
                    shoot(driver, base, args.out, scheme, quiet)
                    assert browser.console_errors(driver) == [], "console errors while taking screenshots"
            with browser.chromium() as driver:
                browser.phone(driver)
                for page in ("voices", "play"):
                    open_page(driver, base, page)
                    driver.execute_script("window.scrollTo(0, 0)")
                    driver.save_screenshot(str(args.out / f"{page}-phone.png"))
        finally:
            daemon.stop()
    for path in sorted(args.out.glob("*.png")):
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
