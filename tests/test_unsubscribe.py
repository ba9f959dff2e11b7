"""One-click unsubscribe over HTTP against the running app (``digest serve``)."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from digest.deliver.tokens import Tokens
from digest.store import Store
from tests.browser import png_size, screenshot
from tests.conftest import DATA, ROOT
from tests.mailing import NOW
from tests.serving import serving


@pytest.fixture
def server(mail_env: dict[str, str], db_url: str) -> Iterator[str]:
    with serving({**mail_env, "DIGEST_DB": db_url}) as base:
        yield base


def received(mail_env: dict[str, str]) -> list[Any]:
    return list(mailbox.Maildir(mail_env["DIGEST_MAILDIR"], create=False))


def test_unsubscribe_flow(run: Any, mail_env: dict[str, str], db_url: str, server: str) -> None:
    assert run("send", "--now", NOW.isoformat(), env=mail_env).exit_code == 0
    ada = next(m for m in received(mail_env) if "ada@example.org" in m["To"])
    link = ada["List-Unsubscribe"].split(">")[0].strip(" <")
    assert link.startswith("https://digest.example.org/unsubscribe/")
    url = server + link.removeprefix("https://digest.example.org")
    store = Store(db_url)

    page = httpx.get(url)
    assert page.status_code == 200
    assert '<form method="post"' in page.text and "ada@example.org" in page.text
    shot = screenshot(url, ROOT / "tests" / "output" / "unsubscribe-375.png", width=375,
                      height=700)
    assert png_size(shot) == (375, 700)
    assert store.unsubscribed() == set()  # looking (and a browser's GET) changes nothing

    for _ in range(2):  # idempotent
        done = httpx.post(url, content=b"List-Unsubscribe=One-Click", follow_redirects=False,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert done.status_code == 200
        assert "You are unsubscribed" in done.text
        assert "set-cookie" not in done.headers
    assert store.unsubscribed() == {"ada@example.org"}

    token = link.rsplit("/", 1)[1]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (tampered, "nonsense", Tokens("another secret").make("unsubscribe", "x")):
        assert httpx.get(f"{server}/unsubscribe/{bad}").status_code == 400
        assert httpx.post(f"{server}/unsubscribe/{bad}").status_code == 400

    # Still in subscriptions.yaml, yet nothing more reaches Ada, until resubscribed.
    run("ingest", str(DATA / "hf-daily" / "2026-04-16.json"), "--now",
        (NOW + timedelta(hours=12)).isoformat())
    assert run("send", "--now", (NOW + timedelta(days=1)).isoformat(), env=mail_env
               ).exit_code == 0
    assert sum("ada@example.org" in m["To"] for m in received(mail_env)) == 1
    listing = run("subscribers", env=mail_env).stdout
    assert "ada@example.org" in listing and "unsubscribed" in listing
    assert run("resubscribe", "ada@example.org", env=mail_env).exit_code == 0
    run("ingest", str(DATA / "hf-daily" / "2026-04-15.json"), "--now",
        (NOW + timedelta(days=1, hours=12)).isoformat())
    assert run("send", "--now", (NOW + timedelta(days=2)).isoformat(), env=mail_env
               ).exit_code == 0
    assert sum("ada@example.org" in m["To"] for m in received(mail_env)) == 2


def test_unsubscribe_by_hand(run: Any, mail_env: dict[str, str], db_url: str) -> None:
    assert run("send", "--now", NOW.isoformat(), env=mail_env).exit_code == 0
    result = run("unsubscribe", "Grace@Example.org", env=mail_env)
    assert result.exit_code == 0
    assert Store(db_url).unsubscribed() == {"grace@example.org"}
    unknown = run("unsubscribe", "carol@example.org", env=mail_env)
    assert unknown.exit_code == 1
    assert "no subscriber carol@example.org in the database" in unknown.stderr


def test_resubscribe_unknown(run: Any, mail_env: dict[str, str]) -> None:
    result = run("resubscribe", "carol@example.org", env=mail_env)
    assert result.exit_code == 1
    assert "no subscriber carol@example.org in the database" in result.stderr
