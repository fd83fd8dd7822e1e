"""What the tests do on the UI's pages, as a user would (clicks, waits for what appears)."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

PAGES = ("voices", "clone", "play", "status")


def wait(driver: Any, condition: Any, timeout: float = 30, message: str = "") -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d), message)


def open_page(driver: Any, base: str, page: str) -> Any:
    """Show `page` (#fragment of the one UI page) and wait until its content is loaded; returns the section."""
    if not driver.current_url.startswith(base):
        driver.get(base)
        wait(driver, lambda d: d.execute_script("return document.body.dataset.ready === 'true'"), 30,
             "the UI's modules did not load")  # fmt: skip
    driver.execute_script("location.hash = arguments[0]", page)
    section = driver.find_element(By.ID, f"page-{page}")
    wait(driver, lambda d: section.is_displayed(), 10, f"page {page} not shown")
    loaded = {
        "voices": lambda d: d.find_elements(By.CSS_SELECTOR, "#voices-list .card"),
        "clone": lambda d: d.find_element(By.ID, "rec-start").is_enabled(),
        "play": lambda d: d.find_elements(By.CSS_SELECTOR, "#play-voice option"),
        "status": lambda d: d.find_elements(By.CSS_SELECTOR, "#status-body tr[data-engine]"),
    }[page]
    wait(driver, loaded, 30, f"page {page} did not load its content")
    return section


def voice_card(driver: Any, name: str) -> Any:
    cards = driver.find_elements(By.CSS_SELECTOR, f'#voices-list .card[data-voice="{name}"]')
    return cards[0] if cards else None
