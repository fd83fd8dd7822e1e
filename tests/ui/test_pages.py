"""Every page of the web UI loads in real Chromium with no console error, directly and through ingress."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from selenium.webdriver.common.keys import Keys

from tests.conftest import FAKE_ONLY, Daemon
from tests.ui.browser import console_errors
from tests.ui.ingress import IngressProxy
from tests.ui.pages import PAGES, open_page, wait


def test_root_redirects_relatively_to_the_ui(ui_daemon: Daemon) -> None:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    for path in ("/", "/ui"):
        with pytest.raises(urllib.error.HTTPError) as caught:
            opener.open(ui_daemon.url + path)
        assert caught.value.code == 302
        # Relative: under an ingress prefix the browser stays inside it.
        assert caught.value.headers["Location"] == "ui/"
    with urllib.request.urlopen(ui_daemon.url + "/ui/") as page:
        html = page.read().decode()
    assert '<script type="module" src="app.js">' in html
    assert 'href="/' not in html and 'src="/' not in html, "a root-relative URL escapes an ingress prefix"


def test_every_page_loads_without_console_errors(ui_daemon: Daemon, driver: Any) -> None:
    base = ui_daemon.url + "/ui/"
    for page in PAGES:
        section = open_page(driver, base, page)
        assert section.find_element("css selector", "h2").text
        assert console_errors(driver) == [], page
    unlabelled = driver.execute_script("""
        return [...document.querySelectorAll("input, select, textarea, meter")]
          .filter((el) => !el.labels?.length && !el.getAttribute("aria-label")).map((el) => el.id);
    """)
    assert unlabelled == [], "every control needs a label (screen readers, voice control)"
    buttons = driver.execute_script(
        "return [...document.querySelectorAll('button')].filter((b) => !b.textContent.trim()).length"
    )
    assert buttons == 0, "a button without text"
    rows = driver.find_elements("css selector", "#status-body tr[data-engine]")
    assert [r.get_attribute("data-engine") for r in rows] == ["fake"]
    assert "ready" in rows[0].text
    # The menu works from the keyboard (links, so Enter follows them).
    driver.find_element("css selector", 'nav a[data-page="play"]').send_keys(Keys.ENTER)
    wait(driver, lambda d: d.find_element("id", "page-play").is_displayed(), 10, "Enter on the menu")


def test_every_page_works_under_the_ingress_prefix(ingress: IngressProxy, driver: Any) -> None:
    # The Supervisor's URL ends in the prefix: `/` must send the browser to `ui/` inside it.
    driver.get(ingress.url)
    wait(driver, lambda d: d.current_url.startswith(ingress.url + "ui/"), 10, "`/` did not redirect to `ui/`")
    assert driver.current_url.split("#")[0] == ingress.url + "ui/"
    for page in PAGES:
        open_page(driver, ingress.url + "ui/", page)
        assert console_errors(driver) == [], page
    # A state-changing call through ingress: the browser's Origin is the proxy's, not the daemon's, and
    # the browser guard lets it pass only because the trusted proxy sent it.
    open_page(driver, ingress.url + "ui/", "play")
    driver.find_element("id", "play-go").click()
    wait(driver, lambda d: d.find_element("id", "play-result").get_attribute("data-done"), 60, "no audio")
    assert console_errors(driver) == []
    assert ingress.escaped() == [], "requests left the ingress prefix"
    proxied = {path.removeprefix(ingress.prefix) for path in ingress.requests}
    assert {"/ui/", "/ui/app.js", "/v1/voices", "/v1/models", "/health", "/v1/audio/speech"} <= proxied


def _get(url: str, headers: dict[str, str]) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_ingress_header_is_trusted_only_from_the_configured_proxy(daemon_factory: Any) -> None:
    keyed = {**FAKE_ONLY, "VOXHUB_HTTP__API_KEYS": "secret", "VOXHUB_HTTP__REQUIRE_API_KEY": "always"}
    trusted = daemon_factory("trusted", env={**keyed, "VOXHUB_HTTP__INGRESS_PROXIES": "127.0.0.1"})
    other = daemon_factory("other", env={**keyed, "VOXHUB_HTTP__INGRESS_PROXIES": "172.30.32.2"})
    ingress = {"X-Ingress-Path": "/api/hassio_ingress/abc"}
    assert _get(trusted.api + "/voices", ingress) == 200
    assert _get(trusted.api + "/voices", {}) == 401, "without the header the API key is still needed"
    assert _get(other.api + "/voices", ingress) == 401, "X-Ingress-Path from an untrusted address"
    assert _get(other.api + "/voices", {"Authorization": "Bearer secret"}) == 200
    # The UI's own files carry no data and load anywhere; the API behind them asks for the key.
    assert _get(other.url + "/ui/app.js", {}) == 200


def test_ingress_without_api_keys_is_a_valid_closed_setup(daemon_factory: Any) -> None:
    # The add-on without an api_key: listening on all interfaces, only the Supervisor gets in.
    daemon = daemon_factory(env={**FAKE_ONLY, "VOXHUB_HTTP__HOST": "0.0.0.0",
                                 "VOXHUB_HTTP__INGRESS_PROXIES": "127.0.0.1"})  # fmt: skip
    url = daemon.url.replace("0.0.0.0", "127.0.0.1")
    assert _get(url + "/v1/voices", {"X-Ingress-Path": "/api/hassio_ingress/abc"}) == 200
    assert _get(url + "/v1/voices", {}) == 401
    with urllib.request.urlopen(url + "/health") as response:
        assert json.load(response)["status"] == "ok"


def test_with_api_keys_the_ui_asks_for_a_key_once(daemon_factory: Any, driver: Any) -> None:
    from selenium.webdriver.common.by import By

    daemon = daemon_factory(env={**FAKE_ONLY, "VOXHUB_HTTP__API_KEYS": "secret"})
    driver.get(daemon.url + "/ui/")
    dialog = driver.find_element(By.ID, "keydialog")
    wait(driver, lambda d: dialog.is_displayed(), 20, "no key dialog after the API answered 401")
    driver.find_element(By.ID, "key-input").send_keys("secret\n")
    open_page(driver, daemon.url + "/ui/", "voices")
    driver.refresh()  # the key is kept in the browser: no second question
    open_page(driver, daemon.url + "/ui/", "play")
    assert not driver.find_element(By.ID, "keydialog").is_displayed()
    errors = console_errors(driver)
    # The first, keyless request's 401 is logged by the browser; nothing else may fail.
    assert all("401" in e for e in errors), errors


def _delete(url: str, headers: dict[str, str]) -> int:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, method="DELETE", headers=headers)
        ) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_browser_guard_refuses_foreign_origins_unless_the_proxy_is_trusted(ui_daemon: Daemon) -> None:
    foreign = {"Origin": "http://evil.example"}
    # Directly: a cross-site page may not change the library.
    assert _delete(ui_daemon.api + "/voices/nobody", foreign) == 403
    # Through the trusted proxy (Home Assistant's pages have their own origin): past the guard, to the route.
    proxy = IngressProxy(ui_daemon.url).start()
    try:
        assert _delete(proxy.url + "v1/voices/nobody", foreign) == 404
    finally:
        proxy.stop()


def test_every_page_fits_a_phone_screen(ui_daemon: Daemon, driver: Any) -> None:
    from tests.ui.browser import phone

    phone(driver)  # 390 px wide, as the Home Assistant companion app on a small phone
    for page in PAGES:
        open_page(driver, ui_daemon.url + "/ui/", page)
        wide = driver.execute_script(
            "const e = document.documentElement; return e.scrollWidth - e.clientWidth"
        )
        assert wide <= 0, f"page {page} scrolls sideways by {wide} px on a phone"
    assert console_errors(driver) == []
