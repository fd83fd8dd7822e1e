"""The playground plays what it streams (the bytes decode), compares two voices; removing a voice asks first."""

from __future__ import annotations

import base64
import json
import urllib.request
from typing import Any

import numpy as np
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.conftest import FAKE_ONLY, Daemon, decode
from tests.ui.browser import console_errors
from tests.ui.pages import open_page, voice_card, wait

FETCH_BLOB = """
const done = arguments[arguments.length - 1];
fetch(arguments[0]).then((r) => r.arrayBuffer()).then((buffer) => {
  let text = ""; for (const b of new Uint8Array(buffer)) text += String.fromCharCode(b);
  done(btoa(text));
}).catch((e) => done("error: " + e));
"""


def download_bytes(driver: Any, element: Any) -> bytes:
    """The bytes behind a blob: link or media element, read inside the page."""
    url = element.get_attribute("href") or element.get_attribute("src")
    assert url.startswith("blob:"), url
    data = driver.execute_async_script(FETCH_BLOB, url)
    assert not data.startswith("error"), data
    return base64.b64decode(data)


@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_playground_plays_and_downloads_audio_that_decodes(ui_daemon: Daemon, driver: Any, fmt: str) -> None:
    driver.set_script_timeout(30)
    open_page(driver, ui_daemon.url + "/ui/", "play")
    Select(driver.find_element(By.ID, "play-voice")).select_by_value("fake-low")
    Select(driver.find_element(By.ID, "play-format")).select_by_value(fmt)
    text = driver.find_element(By.ID, "play-text")
    text.clear()
    text.send_keys(f"Testing the playground in {fmt}. The second sentence follows the first.")
    driver.find_element(By.ID, "play-go").click()
    result = driver.find_element(By.ID, "play-result")
    wait(driver, lambda d: result.get_attribute("data-done"), 60, "no audio")
    player = driver.find_element(By.ID, "play-audio")
    duration = wait(driver, lambda d: d.execute_script(
        "const a = arguments[0]; return a.readyState >= 1 && a.duration > 0 && a.duration", player), 10)  # fmt: skip
    samples, rate = decode(download_bytes(driver, driver.find_element(By.ID, "play-download")))
    assert abs(len(samples) / rate - duration) < 0.1, (len(samples) / rate, duration)
    assert len(samples) / rate > 1.0 and float(np.abs(samples).max()) > 0.05
    assert driver.find_element(By.ID, "play-ttfa").text.endswith(" ms")
    rtf = float(driver.find_element(By.ID, "play-rtf").text)
    assert 0 < rtf < 5
    link = driver.find_element(By.ID, "play-download")
    assert link.get_attribute("download").endswith("." + ("wav" if fmt == "wav" else fmt))
    assert console_errors(driver) == []


def test_ab_compares_two_voices_on_one_text(ui_daemon: Daemon, driver: Any) -> None:
    driver.set_script_timeout(30)
    open_page(driver, ui_daemon.url + "/ui/", "play")
    Select(driver.find_element(By.ID, "ab-a")).select_by_value("fake-low")
    Select(driver.find_element(By.ID, "ab-b")).select_by_value("fake-high")
    driver.find_element(By.ID, "ab-go").click()
    players = wait(driver, lambda d: len(found := d.find_elements(By.CSS_SELECTOR, "#ab-result audio")) == 2
                   and found, 60, "A/B players missing")  # fmt: skip
    pitches = []
    for player in players:
        samples, rate = decode(download_bytes(driver, player))
        spectrum = np.abs(np.fft.rfft(samples))
        pitches.append(np.argmax(spectrum) * rate / len(samples))
    assert pitches[0] < pitches[1], f"voice A (fake-low) should sound lower than B (fake-high): {pitches}"
    assert console_errors(driver) == []


def _enroll(daemon: Daemon, name: str) -> None:
    import io

    import soundfile as sf

    t = np.arange(24000 * 4) / 24000
    buffer = io.BytesIO()
    sf.write(buffer, 0.3 * np.sin(2 * np.pi * 220 * t).astype(np.float32), 24000, format="WAV")
    body = json.dumps({"name": name, "audio_b64": base64.b64encode(buffer.getvalue()).decode(),
                       "transcript": "a tone", "consent": True}).encode()  # fmt: skip
    request = urllib.request.Request(daemon.api + "/voices", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 201


def _names(daemon: Daemon) -> set[str]:
    with urllib.request.urlopen(daemon.api + "/voices") as response:
        return {v["name"] for v in json.load(response)["data"]}


def test_details_show_the_reference_and_remove_asks_first(ui_daemon: Daemon, driver: Any) -> None:
    driver.set_script_timeout(30)
    _enroll(ui_daemon, "to-remove")
    open_page(driver, ui_daemon.url + "/ui/", "voices")
    wait(driver, lambda d: voice_card(d, "to-remove"), 10, "the enrolled voice is not listed")
    card = voice_card(driver, "to-remove")
    card.find_element(By.TAG_NAME, "summary").click()
    clip = wait(driver, lambda d: card.find_element(By.CSS_SELECTOR, "details audio[src]"), 10)
    samples, rate = decode(download_bytes(driver, clip))
    assert abs(len(samples) / rate - 4.0) < 0.05 and "a tone" in card.text
    assert voice_card(driver, "fake-low").find_elements(By.CSS_SELECTOR, ".remove") == [], "presets stay"

    dialog = driver.find_element(By.ID, "confirm")
    card.find_element(By.CSS_SELECTOR, ".remove").click()
    wait(driver, lambda d: dialog.is_displayed(), 5, "remove did not ask")
    assert "to-remove" in dialog.text
    driver.find_element(By.ID, "confirm-cancel").click()
    wait(driver, lambda d: not dialog.is_displayed(), 5)
    assert "to-remove" in _names(ui_daemon), "cancel removed the voice"

    # By keyboard: Enter on the focused Remove button asks; Escape (focus starts on Cancel) keeps the voice.
    card.find_element(By.CSS_SELECTOR, ".remove").send_keys(Keys.ENTER)
    wait(driver, lambda d: dialog.is_displayed(), 5, "remove did not ask")
    assert driver.switch_to.active_element.get_attribute("id") == "confirm-cancel"
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait(driver, lambda d: not dialog.is_displayed(), 5, "Escape did not close the question")
    assert "to-remove" in _names(ui_daemon), "Escape removed the voice"

    card.find_element(By.CSS_SELECTOR, ".remove").click()
    wait(driver, lambda d: dialog.is_displayed(), 5, "remove did not ask")
    driver.find_element(By.ID, "confirm-ok").click()
    wait(driver, lambda d: voice_card(d, "to-remove") is None, 10, "the card stayed")
    assert "to-remove" not in _names(ui_daemon)
    assert console_errors(driver) == []


def test_playground_starts_playing_before_the_stream_ends(daemon_factory: Any, driver: Any) -> None:
    # The fake engine spends 0.6 s per sentence: three sentences take ~1.8 s, the first sounds after ~0.6 s.
    daemon = daemon_factory(env={**FAKE_ONLY, "VOXHUB_ENGINES__FAKE__DELAY_S": "0.6"})
    open_page(driver, daemon.url + "/ui/", "play")
    Select(driver.find_element(By.ID, "play-voice")).select_by_value("fake-low")
    Select(driver.find_element(By.ID, "play-format")).select_by_value("pcm")
    text = driver.find_element(By.ID, "play-text")
    text.clear()
    text.send_keys("One sentence here. Another sentence there. A third one to finish.")
    driver.find_element(By.ID, "play-go").click()
    result = driver.find_element(By.ID, "play-result")
    wait(driver, lambda d: result.get_attribute("data-done"), 60, "no audio")
    first, total = int(result.get_attribute("data-first-play-ms")), int(result.get_attribute("data-total-ms"))
    assert first < total - 900, f"the first sound ({first} ms) waited for the whole stream ({total} ms)"
    assert driver.find_element(By.ID, "play-ttfa").text == f"{first} ms"
    assert console_errors(driver) == []
