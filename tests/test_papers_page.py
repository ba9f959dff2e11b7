"""The Daily Papers page in a real headless Chromium (selenium), over real Hugging Face
days: a day's page photographed 375 and 1280 px wide, light and dark, into
tests/output/papers-<page>-<width>-<mode>.png, with nothing wider than a 375 px phone; a
search that finds a paper by an author's name; the paper's page; the Subscribe banner to
the subscribe form, whose confirmation mail (the double opt-in) arrives."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from tests.browser import chromium_path, png_size
from tests.conftest import DATA, ROOT
from tests.mailing import SUBSCRIPTIONS
from tests.serving import free_base, serving
from tests.smtpserver import SmtpServer
from tests.test_web_browser import (
    BROWSER_FLAGS,
    button,
    chromedriver_path,
    heading,
    inner_width,
    mail_to,
    retype,
    submit,
    text_part,
    until,
)

pytestmark = pytest.mark.slow
OUTPUT = ROOT / "tests" / "output"
NOW = "2026-04-16T12:00:00+00:00"
EMAIL = "reader@example.org"


@pytest.fixture
def chrome(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = chromium_path()
    service = Service(chromedriver_path())
    with tempfile.TemporaryDirectory(prefix="digest-selenium-") as profile:
        for flag in (*BROWSER_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=service)
        try:
            driver.set_page_load_timeout(30)
            yield driver
        finally:
            driver.quit()


@pytest.fixture
def site(tmp_path: Path, run: Any, db_url: str, smtp: SmtpServer) -> Iterator[str]:
    """Eight real days stored, nobody subscribed, the pages served."""
    config = tmp_path / "subscriptions.yaml"
    config.write_text(SUBSCRIPTIONS.split("subscribers:")[0] + "subscribers: []\n")
    assert run("ingest", str(DATA / "hf-daily"), "--now", NOW).exit_code == 0
    port, base = free_base()
    env = {"DIGEST_DB": db_url, "DIGEST_CONFIG": str(config), "DIGEST_SECRET": "s3cret",
           "DIGEST_FROM": "Paper Digest <digest@example.org>", "DIGEST_SMTP_URL": smtp.url,
           "DIGEST_SMTP_TIMEOUT": "5", "DIGEST_BASE_URL": base, "DIGEST_NOW": NOW}
    with serving(env, port):
        yield base


def dark(chrome: webdriver.Chrome, on: bool) -> None:
    """The page as a system in dark (or light) mode shows it (prefers-color-scheme)."""
    chrome.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [
        {"name": "prefers-color-scheme", "value": "dark" if on else "light"}]})


def shoot(chrome: webdriver.Chrome, name: str) -> None:
    """tests/output/papers-NAME-WIDTH-MODE.png at 375 and 1280 px, light and dark, the
    first screens of the page; at 375 px nothing may stick out sideways."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for mode in ("light", "dark"):
        dark(chrome, mode == "dark")
        background = chrome.execute_script(
            "return getComputedStyle(document.body).backgroundColor")
        assert (background == "rgb(13, 17, 23)") == (mode == "dark"), background
        for width in (375, 1280):
            chrome.set_window_size(width, 1400)
            until(chrome, inner_width(width))
            if width == 375:
                wide = chrome.execute_script("return document.documentElement.scrollWidth")
                assert wide <= 375, f"{name}: {wide} px wide on a 375 px screen ({mode})"
            out = OUTPUT / f"papers-{name}-{width}-{mode}.png"
            out.unlink(missing_ok=True)
            assert chrome.save_screenshot(str(out))
            assert png_size(out)[0] == width
    dark(chrome, False)


def test_the_daily_papers_page_in_a_browser(chrome: webdriver.Chrome, site: str,
                                            smtp: SmtpServer) -> None:
    chrome.get(f"{site}/papers/2026-04-15")
    heading(chrome, "15 Apr 2026")
    cards = chrome.find_elements(By.CSS_SELECTOR, "table.card")
    assert len(cards) == 26
    assert cards[0].find_element(By.CSS_SELECTOR, "a.title").text.startswith("ClawGUI")
    shoot(chrome, "day")

    # A search by an author's name finds the paper; its card opens the paper's page.
    retype_search(chrome, "Zhiqiong Lu")
    heading(chrome, "Search: Zhiqiong Lu")
    titles = chrome.find_elements(By.CSS_SELECTOR, "a.title")
    found = next(t for t in titles if t.text.startswith("ClawGUI"))
    submit(chrome, found)
    until(chrome, lambda c: "ClawGUI" in c.find_element(By.TAG_NAME, "h1").text)
    body = chrome.find_element(By.TAG_NAME, "body").text
    assert "TL;DR (Hugging Face AI summary): ClawGUI presents" in body
    assert "Subscribe to follow these authors" in body
    assert not chrome.find_elements(By.XPATH, "//button[normalize-space()='Follow']")
    shoot(chrome, "paper")

    # The banner opens the subscribe form; subscribing starts the double opt-in.
    submit(chrome, chrome.find_element(By.CSS_SELECTOR, "a.banner"))
    heading(chrome, "Get new papers in your inbox")
    retype(chrome, "email", EMAIL)
    retype(chrome, "keywords", "GUI agents")
    submit(chrome, button(chrome, "Subscribe"))
    heading(chrome, "Check your inbox")
    confirmation = text_part(mail_to(smtp, EMAIL, "Confirm"))
    assert f"{site}/confirm/" in confirmation


def retype_search(chrome: webdriver.Chrome, query: str) -> None:
    box = chrome.find_element(By.CSS_SELECTOR, "input[name=q]")
    box.clear()
    box.send_keys(query)
    submit(chrome, chrome.find_element(By.CSS_SELECTOR, "form.search button"))
