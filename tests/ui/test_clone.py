"""Cloning in the browser: the fake microphone plays real speech → recorded → checked → saved → listed."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from tests.conftest import Daemon
from tests.ui import browser
from tests.ui.pages import open_page, voice_card, wait

SPEECH = (
    "The quick brown fox jumps over the lazy dog. I am recording my voice so that my assistant can read "
    "the news and the weather to us."
)


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real speech for the fake microphone (espeak-ng: a system package, so its absence skips)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng is missing: install Debian's espeak-ng (scripts/prereqs)")
    path = tmp_path_factory.mktemp("mic") / "speech.wav"
    subprocess.run([espeak, "-s", "150", "-w", str(path), SPEECH], check=True, timeout=60)
    return path


def test_record_check_save_and_list_a_voice(ui_daemon: Daemon, speech_wav: Path) -> None:
    browser.need_browser()
    with browser.chromium(microphone=speech_wav) as driver:
        open_page(driver, ui_daemon.url + "/ui/", "clone")
        driver.find_element(By.ID, "rec-start").click()
        state = driver.find_element(By.ID, "rec-state")
        wait(driver, lambda d: "Starting in" in state.text, 5, "no countdown")
        wait(driver, lambda d: state.text.startswith("Recording… 5 s"), 15, "recording did not run")
        level = driver.find_element(By.ID, "rec-level")
        assert float(level.get_attribute("value")) > 0.01, "the level meter shows no sound"
        driver.find_element(By.ID, "rec-stop").click()
        wait(driver, lambda d: state.text.startswith("Recorded"), 10, "recording did not stop")
        seconds = float(state.text.split()[1])
        assert 4.5 < seconds < 8, state.text
        # The check runs the real analysis (VAD, speaker encoder, Whisper): the first one loads the models.
        report = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#clone-report .report"), 240,
                      "no quality report")[0]  # fmt: skip
        assert report.get_attribute("data-verdict") in ("accept", "warn"), report.text
        transcript = driver.find_element(By.ID, "clone-transcript")
        heard = transcript.get_attribute("value").lower()
        assert "fox" in heard or "recording" in heard, heard
        transcript.clear()
        transcript.send_keys("The quick brown fox jumps over the lazy dog.")
        driver.find_element(By.ID, "clone-name").send_keys("mic-test")
        save = driver.find_element(By.ID, "clone-save")
        assert save.is_enabled()
        save.click()  # without the consent box ticked the form does not submit
        consent = driver.find_element(By.ID, "clone-consent")
        assert consent.get_attribute("required") is not None and not consent.is_selected()
        time.sleep(1)
        assert not voice_card(driver, "mic-test")
        consent.click()
        save.click()
        wait(driver, lambda d: voice_card(d, "mic-test"), 60, "the saved voice is not listed")
        assert browser.console_errors(driver) == []
    with urllib.request.urlopen(ui_daemon.api + "/voices/mic-test") as response:
        stored = json.load(response)
    assert stored["kind"] == "cloned"
    assert stored["transcript"] == "The quick brown fox jumps over the lazy dog."
    assert stored["reference_seconds"] > 4
    assert stored["consent"]["confirmed"] is True and stored["consent"]["surface"] == "http"


def test_a_rejected_clip_cannot_be_saved(ui_daemon: Daemon, driver: Any, tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(16000 * 4, dtype=np.float32), 16000)
    open_page(driver, ui_daemon.url + "/ui/", "clone")
    driver.find_element(By.ID, "clone-file").send_keys(str(silence))
    report = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#clone-report .report"), 240,
                  "no quality report")[0]  # fmt: skip
    assert report.get_attribute("data-verdict") == "reject"
    assert "No speech found" in report.text, report.text
    assert not driver.find_element(By.ID, "clone-save").is_enabled()
    assert browser.console_errors(driver) == []
