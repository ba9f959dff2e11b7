"""The subscriber's pages of ``digest serve`` in a real headless Chromium (selenium):
subscribe (with a mistyped time zone first), confirm from the mail, a digest, the
preferences page (save, pause, resume), an unfollow link from the digest, unsubscribe.
Every page is photographed 375 and 1024 px wide into tests/output/web-<page>-<width>.png,
and nothing on it may be wider than a 375 px phone screen."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from digest.deliver.tokens import Tokens
from digest.model import Paper
from digest.render import render_digest
from digest.store import Store
from tests.browser import chromium_path, png_size
from tests.conftest import ROOT, SEEDS
from tests.mailing import NOW, SUBSCRIPTIONS
from tests.smtpserver import SmtpServer, free_port
from tests.test_pins import two_wei_wangs
from tests.test_render import fifty_papers

OUTPUT = ROOT / "tests" / "output"
WIDTHS = (375, 1024)
WAIT = 10  # seconds, for any one page or mail
EMAIL = "maojiangsureaderofpapers@departmentofcomputerscience.example.org"
AUTHOR = "Maojiang Su"
# The pages' clock: after the seeds were ingested (NOW - 2h), before the 08:00 Berlin
# digest (06:00 UTC) that `digest send --now NOW` sends.
SERVE_NOW = NOW - timedelta(minutes=90)
BROWSER_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--hide-scrollbars")


def chromedriver_path() -> str:
    """The driver, or a skip (a failure when DIGEST_REQUIRE_BROWSER=1)."""
    found = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if os.access("/usr/bin/chromedriver", os.X_OK) else None)
    if found:
        return found
    if os.environ.get("DIGEST_REQUIRE_BROWSER") == "1":
        pytest.fail("chromedriver is not installed: apt-get install chromium-driver")
    pytest.skip("chromedriver is not installed (apt-get install chromium-driver)")


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    browser, chromedriver = chromium_path(), chromedriver_path()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    with tempfile.TemporaryDirectory(prefix="digest-selenium-") as profile:
        for flag in (*BROWSER_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        chrome = webdriver.Chrome(options=options, service=Service(chromedriver))
        try:
            chrome.set_page_load_timeout(30)
            chrome.set_script_timeout(10)
            yield chrome
        finally:
            chrome.quit()


@pytest.fixture
def env(tmp_path: Path, run: Any, db_url: str, smtp: SmtpServer) -> dict[str, str]:
    """The seeds in a fresh database; a configuration with defaults and nobody in it."""
    config = tmp_path / "subscriptions.yaml"
    config.write_text(SUBSCRIPTIONS.split("subscribers:")[0] + "subscribers: []\n")
    assert run("ingest", str(SEEDS), "--now", (NOW - timedelta(hours=2)).isoformat()
               ).exit_code == 0
    return {"DIGEST_DB": db_url, "DIGEST_CONFIG": str(config), "DIGEST_SECRET": "s3cret",
            "DIGEST_FROM": "Paper Digest <digest@example.org>", "DIGEST_SMTP_URL": smtp.url,
            "DIGEST_SMTP_TIMEOUT": "5"}


@pytest.fixture
def web(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`digest serve` on a free port; yields its base URL and the environment it has."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    served = {**env, "DIGEST_BASE_URL": base}
    log = (tmp_path / "serve.log").open("w+")
    child = subprocess.Popen(
        [sys.executable, "-m", "digest", "serve", "--port", str(port),
         "--now", SERVE_NOW.isoformat()],
        cwd=ROOT, env={**os.environ, **served}, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if child.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"digest serve did not start:\n{log.read()[-3000:]}")
            time.sleep(0.1)
        yield base, served
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)
        log.close()


# ---- helpers ------------------------------------------------------------------------------


def until(chrome: webdriver.Chrome, condition: Callable[[Any], Any]) -> Any:
    return WebDriverWait(chrome, WAIT).until(condition)


def heading(chrome: webdriver.Chrome, text: str) -> None:
    """Wait for the page's <h1> to say ``text``."""
    until(chrome, ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), text))
    assert chrome.find_element(By.TAG_NAME, "h1").text == text


def submit(chrome: webdriver.Chrome, button: WebElement) -> None:
    """Click a submit button and wait until the next page replaced this one."""
    page = chrome.find_element(By.TAG_NAME, "html")
    button.click()
    until(chrome, _replaced(page))
    until(chrome, lambda c: c.execute_script("return document.readyState") == "complete")


def _replaced(page: WebElement) -> Callable[[Any], bool]:
    """``ec.staleness_of``, also when chromedriver says so in its other words (a node
    "does not belong to the document" while the next page replaces it)."""
    def check(_: Any) -> bool:
        try:
            page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:
            if "does not belong to the document" in str(e) or "No node with given id" in str(e):
                return True
            raise
        return False
    return check


def button(chrome: webdriver.Chrome, label: str) -> WebElement:
    found: WebElement = until(chrome, ec.element_to_be_clickable(
        (By.XPATH, f"//button[normalize-space()='{label}']")))
    return found


def value(chrome: webdriver.Chrome, element_id: str) -> str:
    return str(chrome.find_element(By.ID, element_id).get_attribute("value"))


def retype(chrome: webdriver.Chrome, element_id: str, text: str) -> None:
    field = chrome.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def inner_width(width: int) -> Callable[[Any], bool]:
    return lambda c: bool(c.execute_script("return window.innerWidth") == width)


def shoot(chrome: webdriver.Chrome, name: str) -> None:
    """tests/output/web-NAME-WIDTH.png for each width, the whole page tall; at 375 px
    nothing may stick out sideways."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        chrome.set_window_size(width, 800)
        until(chrome, inner_width(width))
        for _ in range(4):  # the page's margins grow with the window (vh): settle
            chrome_ui, tall, high = chrome.execute_script(
                "return [window.outerHeight - window.innerHeight, "
                "document.documentElement.scrollHeight, window.innerHeight]")
            if tall <= high:
                break
            chrome.set_window_size(width, min(int(tall) + int(chrome_ui) + 8, 4000))
        if width == 375:
            scroll = chrome.execute_script("return document.documentElement.scrollWidth")
            assert scroll <= 375, f"{name}: the page is {scroll} px wide on a 375 px screen"
        out = OUTPUT / f"web-{name}-{width}.png"
        out.unlink(missing_ok=True)
        assert chrome.save_screenshot(str(out)), out
        assert out.stat().st_size > 0
        assert png_size(out)[0] == width
    chrome.set_window_size(1024, 900)


def mail_to(smtp: SmtpServer, email: str, subject: str) -> EmailMessage:
    """The first mail to ``email`` whose subject has ``subject``, waiting for it."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for got in list(smtp.received):
            message = got.message
            if email in got.recipients and subject in str(message["Subject"]):
                return message
        time.sleep(0.1)
    seen = [(r.recipients, r.message["Subject"]) for r in smtp.received]
    pytest.fail(f"no mail to {email} about {subject!r} within {WAIT} s; got {seen}")


def text_part(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None, "the mail has no text part"
    # The SMTP server keeps the wire's CRLF line ends.
    return str(body.get_content()).replace("\r\n", "\n")


def link(text: str, label: str) -> str:
    """The URL of the ``Label: URL`` line (a card action or the footer) in a text part."""
    found = re.search(rf"^\s*{re.escape(label)}: (\S+)$", text, re.MULTILINE)
    assert found, f"no {label!r} link in:\n{text}"
    return found.group(1)


def console_errors(chrome: webdriver.Chrome) -> list[str]:
    """Errors the pages logged (CSP violations, script errors); not the statuses of pages
    (the form with a problem is a 400) or the missing favicon."""
    try:
        entries: list[dict[str, Any]] = chrome.get_log("browser")  # type: ignore[no-untyped-call]
    except WebDriverException:
        return []
    return [e["message"] for e in entries
            if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]


# ---- the flow -----------------------------------------------------------------------------


def test_subscriber_pages_in_browser(driver: webdriver.Chrome, web: tuple[str, dict[str, str]],
                                     smtp: SmtpServer, run: Any) -> None:
    base, served = web
    chrome = driver
    chrome.set_window_size(1024, 900)

    # The subscribe form; its script filled in the browser's time zone.
    chrome.get(f"{base}/")
    heading(chrome, "Get new papers in your inbox")
    until(chrome, lambda c: value(c, "timezone") != "")
    assert value(chrome, "timezone").strip()
    shoot(chrome, "subscribe")

    retype(chrome, "email", EMAIL)
    retype(chrome, "name", "Lin Test")
    retype(chrome, "authors", AUTHOR)
    retype(chrome, "keywords", "diffusion")
    Select(chrome.find_element(By.ID, "cadence")).select_by_value("daily")
    retype(chrome, "timezone", "Europe/Berln")
    submit(chrome, button(chrome, "Subscribe"))

    # A mistyped time zone: the form again, with the problem at the field, values kept.
    heading(chrome, "Get new papers in your inbox")
    problem = chrome.find_element(By.ID, "timezone-error").text
    assert "did you mean 'Europe/Berlin'" in problem, problem
    assert chrome.find_element(By.ID, "timezone").get_attribute("aria-invalid") == "true"
    assert value(chrome, "email") == EMAIL
    assert value(chrome, "name") == "Lin Test"
    assert value(chrome, "authors") == AUTHOR
    assert value(chrome, "keywords") == "diffusion"
    assert value(chrome, "timezone") == "Europe/Berln"
    assert Select(chrome.find_element(By.ID, "cadence")).first_selected_option \
        .get_attribute("value") == "daily"
    assert not smtp.received
    shoot(chrome, "subscribe-error")

    retype(chrome, "timezone", "Europe/Berlin")
    submit(chrome, button(chrome, "Subscribe"))
    heading(chrome, "Check your inbox")
    assert EMAIL in chrome.find_element(By.TAG_NAME, "main").text
    shoot(chrome, "check-inbox")

    # The confirmation mail; its link shows one button, which confirms.
    confirm_url = re.search(r"^(http://\S+/confirm/\S+)$",
                            text_part(mail_to(smtp, EMAIL, "Confirm")), re.MULTILINE)
    assert confirm_url, "no confirm link in the confirmation mail"
    chrome.get(confirm_url.group(1))
    heading(chrome, "Confirm your subscription")
    intro = chrome.find_element(By.TAG_NAME, "main").text
    assert EMAIL in intro and "daily" in intro and AUTHOR in intro
    shoot(chrome, "confirm")
    submit(chrome, button(chrome, "Confirm"))
    heading(chrome, "You are subscribed")
    assert chrome.find_element(By.LINK_TEXT, "Your preferences").get_attribute("href")
    shoot(chrome, "subscribed")

    # A digest goes out; its text part has the preferences and unfollow links.
    sent = run("send", "--now", NOW.isoformat(), env=served)
    assert sent.exit_code == 0, sent.output
    digest = text_part(mail_to(smtp, EMAIL, "Daily Papers"))
    manage_url, unfollow_url = link(digest, "Preferences"), link(digest, f"Unfollow {AUTHOR}")
    assert manage_url.startswith(f"{base}/manage/")
    assert unfollow_url.startswith(f"{base}/u/")

    # Preferences: another author, weekly, another time zone.
    chrome.get(manage_url)
    heading(chrome, "Your preferences")
    assert value(chrome, "authors") == AUTHOR
    assert value(chrome, "timezone") == "Europe/Berlin"
    shoot(chrome, "preferences")
    retype(chrome, "authors", f"{AUTHOR}\nYoshua Bengio")
    Select(chrome.find_element(By.ID, "cadence")).select_by_value("weekly")
    retype(chrome, "timezone", "America/New_York")
    submit(chrome, button(chrome, "Save"))
    heading(chrome, "Your preferences")
    assert chrome.find_element(By.CSS_SELECTOR, ".notice").text == "Saved."
    assert value(chrome, "authors").splitlines() == [AUTHOR, "Yoshua Bengio"]
    assert Select(chrome.find_element(By.ID, "cadence")).first_selected_option \
        .get_attribute("value") == "weekly"
    assert value(chrome, "timezone") == "America/New_York"
    shoot(chrome, "preferences-saved")

    # On a phone, a mistake: the page says at its top that nothing was saved, and why.
    chrome.set_window_size(375, 800)
    until(chrome, inner_width(375))
    retype(chrome, "timezone", "GMT+2")
    submit(chrome, button(chrome, "Save"))
    heading(chrome, "Your preferences")
    banner = chrome.find_element(By.CSS_SELECTOR, ".notice.problem")
    assert banner.text == "Not saved: 1 problem below"
    high = chrome.execute_script("return window.innerHeight")
    assert banner.rect["y"] + banner.rect["height"] <= high  # seen without scrolling
    assert "'Etc/GMT-2'" in chrome.find_element(By.ID, "timezone-error").text
    banner.find_element(By.TAG_NAME, "a").click()
    until(chrome, lambda c: c.current_url.endswith("#timezone"))
    shoot(chrome, "preferences-not-saved")
    retype(chrome, "timezone", "America/New_York")
    submit(chrome, button(chrome, "Save"))
    assert chrome.find_element(By.CSS_SELECTOR, ".notice").text == "Saved."

    # A paper liked by its title: listed by title, with a button that takes it out.
    title = "Flow Matching on Lie Groups, with Ünïcode"
    Store(served["DIGEST_DB"]).save_papers(
        [Paper(title, authors=("Ada Lovelace",), arxiv_id="2604.01231", sources=("d.json",))],
        source="d.json", fmt="hf-json", now=SERVE_NOW)
    retype(chrome, "paper-likes", title)
    submit(chrome, chrome.find_element(By.XPATH, "//input[@id='paper-likes']/ancestor::form"
                                       "//button[normalize-space()='Add']"))
    said = chrome.find_element(By.CSS_SELECTOR, ".notice").text
    assert said.startswith(f"Added “{title[:40]}"), chrome.find_element(By.TAG_NAME, "main").text
    liked = chrome.find_element(By.CSS_SELECTOR, "#likes + .tasted li")
    assert liked.text.startswith(f"“{title[:40]}") and liked.text.endswith("Remove")
    shoot(chrome, "preferences-liked")
    submit(chrome, liked.find_element(By.TAG_NAME, "button"))
    assert chrome.find_element(By.CSS_SELECTOR, ".notice").text == "Removed."
    assert not chrome.find_elements(By.CSS_SELECTOR, "#likes + .tasted li")
    chrome.set_window_size(1024, 900)

    submit(chrome, button(chrome, "Pause my digests"))
    assert chrome.find_element(By.CSS_SELECTOR, ".notice").text.startswith("Paused")
    assert chrome.find_element(By.CSS_SELECTOR, ".state").text == "paused"
    assert "Your digests are paused." in chrome.find_element(By.TAG_NAME, "main").text
    shoot(chrome, "preferences-paused")
    submit(chrome, button(chrome, "Resume"))
    assert chrome.find_element(By.CSS_SELECTOR, ".notice").text == "Resumed."
    assert chrome.find_element(By.CSS_SELECTOR, ".state").text == "active"
    button(chrome, "Pause my digests")

    # The digest's unfollow link: a page with one button.
    chrome.get(unfollow_url)
    heading(chrome, f"Unfollow {AUTHOR}?")
    shoot(chrome, "unfollow")
    submit(chrome, button(chrome, "Unfollow"))
    heading(chrome, f"You no longer follow {AUTHOR}.")
    shoot(chrome, "unfollowed")
    chrome.get(manage_url)
    heading(chrome, "Your preferences")
    assert AUTHOR not in value(chrome, "authors")
    assert value(chrome, "authors") == "Yoshua Bengio"

    # Unsubscribe from the preferences page.
    submit(chrome, button(chrome, "Unsubscribe"))
    heading(chrome, "Your preferences")
    assert chrome.find_element(By.CSS_SELECTOR, ".notice").text == "Unsubscribed."
    assert "You are unsubscribed" in chrome.find_element(By.TAG_NAME, "main").text
    assert chrome.find_element(By.CSS_SELECTOR, ".state").text == "unsubscribed"
    button(chrome, "Subscribe again")
    shoot(chrome, "unsubscribed")

    assert console_errors(chrome) == []


def test_which_person_a_name_is_in_browser(driver: webdriver.Chrome,
                                           web: tuple[str, dict[str, str]]) -> None:
    """The preferences page asks which Wei Wang (co-authors, organisation, latest
    titles); a click on one pins the name to them. A "Possibly by" card's "Not them"
    link asks first, and its button teaches the pin."""
    base, served = web
    chrome = driver
    chrome.set_window_size(1024, 900)
    store = two_wei_wangs(served["DIGEST_DB"])
    store.save_papers([Paper("Another Wei Wang's paper", authors=("Wei Wang", "Mia Wong"),
                             arxiv_id="2604.01230", sources=("day.json",))],
                      source="day.json", fmt="hf-json", now=SERVE_NOW)
    store.put_subscriber({"email": "eve@example.org", "authors": ["Wei Wang", "Ada"]},
                         SERVE_NOW)
    ref = store.record(email="eve@example.org").ref
    tokens = Tokens(served["DIGEST_SECRET"])

    chrome.get(f"{base}/manage/{tokens.make('manage', ref)}")
    heading(chrome, "Your preferences")
    main = chrome.find_element(By.TAG_NAME, "main").text  # headings shown in capitals
    assert "WHICH WEI WANG?" in main and "WHICH ADA?" not in main
    assert "3 papers with Tianyang Hu, Zhenguo Li (Huawei)" in main and "A3\nA2" in main
    shoot(chrome, "which-person")
    choice = until(chrome, ec.element_to_be_clickable(
        (By.XPATH, "//form[contains(., 'Lee Park')]//button[normalize-space()='This Wei Wang']")))
    submit(chrome, choice)
    heading(chrome, "Your preferences")
    assert chrome.find_element(By.CSS_SELECTOR, ".notice").text == \
        "You now follow the Wei Wang who writes with Lee Park."
    assert "WHICH WEI WANG?" not in chrome.find_element(By.TAG_NAME, "main").text
    assert store.record(email="eve@example.org").prefs["authors"] == [
        {"name": "Wei Wang", "with": ["Lee Park"]}, "Ada"]

    chrome.get(f"{base}/n/{tokens.make_card(ref)}?t=2604.01230+Wei+Wang")
    heading(chrome, "Is “Another Wei Wang's paper” (arXiv 2604.01230) by someone else "
            "named Wei Wang?")
    shoot(chrome, "not-them")
    assert store.record(email="eve@example.org").prefs["authors"][0] == {
        "name": "Wei Wang", "with": ["Lee Park"]}  # the GET changed nothing
    submit(chrome, button(chrome, "Not them"))
    heading(chrome, "Noted: “Another Wei Wang's paper” (arXiv 2604.01230) is by another "
            "Wei Wang, and is not shown as theirs again.")
    assert store.record(email="eve@example.org").prefs["authors"][0] == {
        "name": "Wei Wang", "with": ["Lee Park"], "not": ["2604.01230"]}
    assert console_errors(chrome) == []


def test_a_card_s_link_separators_wrap_with_the_link_after_them(
        driver: webdriver.Chrome, tmp_path: Path) -> None:
    """At 375 px a card's row of links wraps; a "·" never ends a line with its link on
    the next one (it is joined to the link after it by a no-break space)."""
    digest, links = fifty_papers(tmp_path)
    page = tmp_path / "mail.html"
    page.write_text(render_digest(digest, links).html, encoding="utf-8")
    _separators_stay_with_their_links(driver, page, 375)
    # and where they show, a space parts each from the link before it ("Follow X· Mute")
    rows = re.findall(r'<div class="acts"[^>]*>(.*?)</div>', page.read_text(encoding="utf-8"))
    assert rows and not any(re.search(r"</a>·", row) for row in rows)


def _separators_stay_with_their_links(driver: webdriver.Chrome, page: Path, width: int
                                      ) -> None:
    """Each "·" of the page's link rows at ``width`` is hidden (none) or on its link's line."""
    driver.set_window_size(width, 800)
    driver.get(page.as_uri())
    checked, apart = driver.execute_script("""
        let checked = 0; const apart = [];
        for (const row of document.querySelectorAll('.acts, .links')) {
          for (const a of row.querySelectorAll('a')) {
            const sep = a.previousSibling;
            if (!sep || sep.nodeType !== 3 || !sep.textContent.includes('·')) continue;
            const range = document.createRange();
            const at = sep.textContent.indexOf('·');
            range.setStart(sep, at); range.setEnd(sep, at + 1);
            checked += 1;
            const dot = range.getClientRects()[0], link = a.getClientRects()[0];
            if (!dot || dot.width === 0) continue;  // not shown
            const middle = (dot.top + dot.bottom) / 2;  // on the link's line, padding and all
            if (middle < link.top || middle > link.bottom)
              apart.push(row.textContent.trim().slice(0, 120));
          }
        }
        return [checked, apart];""")
    wrapped = driver.execute_script(  # rows whose last link is on a line of its own
        "return [...document.querySelectorAll('.acts, .links')].filter(r => {"
        "  const a = r.querySelectorAll('a'); return a.length > 1 &&"
        "  a[0].getClientRects()[0].top !== a[a.length - 1].getClientRects()[0].top;"
        "}).length")
    assert checked > 100 and wrapped > 10, (width, checked, wrapped)  # rows that wrap
    assert apart == [], (width, apart)
