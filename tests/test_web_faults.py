"""The subscriber's pages when things go wrong (issue 11): a database that another
process keeps locked, tampered tokens and what links and pages let anyone learn, the
headers of error answers, and hostile bytes in what the pages echo."""

from __future__ import annotations

import json
import re
import sqlite3
import string
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from click.testing import CliRunner
from itsdangerous.encoding import base64_decode
from starlette.testclient import TestClient

from digest.cli import cli
from digest.deliver import MailSettings
from digest.deliver.message import Envelope
from digest.deliver.tokens import ACTIONS, BARE_ACTIONS, Tokens
from digest.deliver.transport import MaildirTransport
from digest.store import Store, schema
from digest.web import HEADERS, create_app
from tests import test_web
from tests.mailing import NOW
from tests.pgserver import PgCluster
from tests.serving import serving
from tests.test_web import SECRET, Site, form_token, link, path, subscribe

site = test_web.site  # the fixture: digest serve with a real SMTP server


@contextmanager
def locked(db_url: str) -> Iterator[None]:
    """Another process holds SQLite's write lock for as long as the block runs."""
    holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None,
                             check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.rollback()
        holder.close()


def post_all(site: Site, url: str, count: int, **kwargs: Any) -> list[httpx.Response]:
    """``count`` POSTs at once, each from its own client."""
    def one(i: int) -> httpx.Response:
        with site.client(f"10.7.0.{i}") as web:
            return web.post(url, timeout=25, **kwargs)
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_a_locked_database_answers_503_soon_and_changes_nothing(site: Site) -> None:
    grace = site.record("grace@example.org")
    unsubscribe = f"/unsubscribe/{Tokens(SECRET).make('unsubscribe', grace.ref)}"
    with locked(site.db_url), ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        posts = pool.submit(post_all, site, unsubscribe, 8)
        time.sleep(0.5)  # the POSTs wait for the lock now
        health = httpx.get(f"{site.base}/health", timeout=2)
        assert health.status_code == 200 and time.monotonic() - started < 2
        assert httpx.get(f"{site.base}/", timeout=2).status_code == 200  # no database
        answers = posts.result()
        took = time.monotonic() - started
    assert [a.status_code for a in answers] == [503] * 8
    assert took < 10  # well before a client or a proxy gives up (30 s, 60 s)
    for answer in answers:
        assert int(answer.headers["retry-after"]) > 0
        assert answer.headers["x-frame-options"] == "DENY"
        assert "busy" in answer.text and "nothing was changed" in answer.text
    assert site.record("grace@example.org") == grace  # nothing half-done
    again = site.client().post(unsubscribe)  # the lock is gone: the same POST acts
    assert again.status_code == 200 and "You are unsubscribed" in again.text
    assert site.record("grace@example.org").state == "unsubscribed"


def test_a_save_refused_while_locked_is_not_saved(site: Site) -> None:
    ada = site.record("ada@example.org")
    manage = f"/manage/{Tokens(SECRET).make('manage', ada.ref)}"
    with locked(site.db_url):
        (answer,) = post_all(site, manage, 1, data={"do": "pause"})
    assert answer.status_code == 503 and answer.headers["retry-after"].isdigit()
    assert site.record("ada@example.org").state == "active"
    assert "Paused" in site.client().post(manage, data={"do": "pause"}).text
    assert site.record("ada@example.org").state == "paused"


def test_a_change_made_is_answered_as_made_when_its_page_cannot_be_read_back(
        run: Any, mail_env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    assert run("subscribers", "add", "uma@example.org", env=mail_env).exit_code == 0
    with ExitStack() as held:
        class LockedRightAfter(Store):
            """Another process takes the lock just after the pause is committed."""

            def set_paused(self, ref: str, at: datetime | None, now: datetime) -> None:
                super().set_paused(ref, at, now)
                held.enter_context(locked(db_url))

        web = TestClient(app_for(LockedRightAfter(db_url), tmp_path))
        ref = Store(db_url).record(email="uma@example.org").ref
        answer = web.post(f"/manage/{Tokens(SECRET).make('manage', ref)}", data={"do": "pause"})
    assert answer.status_code == 200 and "Paused" in answer.text  # it was: never a 503
    assert Store(db_url).record(email="uma@example.org").state == "paused"


def app_for(store: Store, folder: Path) -> Any:
    """The pages in-process, over ``store``, mail into a Maildir in ``folder``."""
    mail = MailSettings(Envelope.parse("D <d@example.org>", "Paper Digest"))
    return create_app(store, Tokens(SECRET), lambda: NOW, mail, MaildirTransport(folder / "m"))


def test_a_row_locked_on_postgresql_answers_503_soon(cluster: PgCluster, tmp_path: Path) -> None:
    env = {"DIGEST_DB": cluster.url, "DIGEST_CONFIG": str(tmp_path / "none.yaml"),
           "DIGEST_SECRET": SECRET, "DIGEST_MAILDIR": str(tmp_path / "m")}
    added = CliRunner().invoke(cli, ["subscribers", "add", "vic@example.org"], env=env)
    assert added.exit_code == 0, added.output
    store = Store(cluster.url)
    ref = store.record(email="vic@example.org").ref
    unsubscribe = f"/unsubscribe/{Tokens(SECRET).make('unsubscribe', ref)}"
    try:
        with serving(env) as base, psycopg.connect(cluster.url.replace("+psycopg", "")) as pg:
            pg.execute("SELECT 1 FROM subscribers WHERE email_key = 'vic@example.org' "
                       "FOR UPDATE")  # a transaction of another process holds the row
            started = time.monotonic()
            shown = httpx.get(f"{base}{unsubscribe}", timeout=25)  # reading waits for no one
            answer = httpx.post(f"{base}{unsubscribe}", timeout=25)
            assert shown.status_code == 200 and answer.status_code == 503
            assert time.monotonic() - started < 10 and answer.headers["retry-after"].isdigit()
            pg.rollback()
            assert store.record(email="vic@example.org").state == "active"
            assert httpx.post(f"{base}{unsubscribe}", timeout=25).status_code == 200
        assert store.record(email="vic@example.org").state == "unsubscribed"
    finally:
        schema.metadata.drop_all(store.engine)
        store.engine.dispose()


# ---- tokens, and what links, pages and mails let anyone learn -------------------------

BASE64 = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def test_any_changed_character_of_a_token_is_refused() -> None:
    tokens = Tokens(SECRET)
    made = [(action, tokens.make(action, "Rf3_x-9QaB0c", *args))
            for action in ACTIONS
            for args in ((), ("Maojiang Su",), (1780297200,), ("diffusion model " * 12,))]
    assert any(t.startswith(".") for _, t in made)  # compressed ones too
    for action, token in made:
        assert tokens.read(action, token) is not None
        for i, old in enumerate(token):
            for new in BASE64 + ".=":
                if new != old:
                    changed = token[:i] + new + token[i + 1:]
                    assert tokens.read(action, changed) is None, (action, i, new)
        for changed in (token[:-1], token + "A", token + "=", " " + token):
            assert tokens.read(action, changed) is None


def spare_bits_flipped(token: str) -> str:
    """The token with its payload's last character changed in bits base64 throws away:
    it decodes to the same bytes and so carries the same signed value."""
    dot = "." if token.startswith(".") else ""  # compressed
    payload, _, signature = token.removeprefix(dot).partition(".")
    assert len(payload) % 4 in (2, 3), payload
    flipped = payload[:-1] + BASE64[BASE64.index(payload[-1]) ^ 1]
    assert base64_decode(flipped) == base64_decode(payload)
    return f"{dot}{flipped}.{signature}"


def test_a_token_with_its_spare_bits_changed_acts_on_nothing(site: Site) -> None:
    tokens = Tokens(SECRET)
    grace = site.record("grace@example.org")
    web = site.client()
    forged = [f"/unsubscribe/{spare_bits_flipped(tokens.make('unsubscribe', grace.ref))}",
              f"/manage/{spare_bits_flipped(tokens.make('manage', grace.ref))}",
              f"/m/{spare_bits_flipped(tokens.make('card', grace.ref))}?t=diffusion",
              f"/m/{spare_bits_flipped(tokens.make('mute', grace.ref, 'diffusion'))}"]
    for url in forged:
        assert web.get(url).status_code == 400, url
        assert web.post(url, data={"do": "unsubscribe"}).status_code == 400, url
    assert site.record("grace@example.org") == grace


def payload(token: str) -> list[Any]:
    """What a token carries, unsigned: itsdangerous' base64 JSON, zlib'd after a dot; a
    mail's card, manage and unsubscribe tokens are the bare ref before its signature."""
    data = token.rpartition(".")[0]
    if any(Tokens(test_web.SECRET).read(action, token) == [data] for action in BARE_ACTIONS):
        return [data]
    raw = base64_decode(data.lstrip("."))
    value = json.loads(zlib.decompress(raw) if data.startswith(".") else raw)
    assert isinstance(value, list)
    return value


def row_id(db_url: str, table: str, where: str = "1 = 1") -> list[int]:
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as db:
        return [row[0] for row in db.execute(f"SELECT id FROM {table} WHERE {where}")]


def test_links_pages_cookies_and_mails_carry_no_row_id(site: Site, run: Any) -> None:
    web = site.client()
    page = web.get("/")
    form = payload(form_token(page.text))
    assert form == [web.cookies["digest_csrf"]] and len(form[0]) >= 32  # random
    subscribe(web, email="wes@example.org", authors="Maojiang Su")
    (confirmation,) = site.mails_to("wes@example.org")
    confirm = path(link(confirmation, "To confirm, open this link (it is valid for 48 hours)"))
    done = web.post(confirm).text
    assert run("send", "--now", NOW.isoformat(), env=site.env).exit_code == 0
    digest = site.mails_to("wes@example.org", 2)[1]
    manage = path(link(digest, "Preferences"))
    shown = web.get(manage).text
    wes = site.record("wes@example.org")
    (wes_id,) = row_id(site.db_url, "subscribers", "email_key = 'wes@example.org'")
    found = re.findall(r"/(?:confirm|manage|unsubscribe|[fum])/([\w.-]+)",
                       "\n".join((done, shown, confirm, digest["List-Unsubscribe"],
                                  *(part.get_content() for part in digest.iter_parts()))))
    assert len(found) >= 6
    for token in found:
        value = payload(token)
        assert value[0] == wes.ref and wes_id not in value and str(wes_id) not in value
        assert all(isinstance(v, str) or v > 10**9 for v in value[1:])  # names; a time
    assert str(wes_id) not in re.findall(r"\d+", confirmation["Message-ID"])
    assert set(web.cookies) == {"digest_csrf"}


def test_a_digests_message_id_carries_no_row_id(site: Site, run: Any) -> None:
    assert run("send", "--now", NOW.isoformat(), env=site.env).exit_code == 0
    (ada,) = site.mails_to("ada@example.org")
    ref = site.record("ada@example.org").ref
    assert row_id(site.db_url, "digests")
    # The subscriber's random ref and the period, nothing else.
    assert re.fullmatch(rf"<digest-{re.escape(ref)}-\d{{8}}T\d{{12}}@example\.org>",
                        ada["Message-ID"]), ada["Message-ID"]


# ---- the headers of every answer ------------------------------------------------------

def test_every_error_answer_carries_the_security_headers_and_a_true_allow(site: Site) -> None:
    web = site.client()
    token = Tokens(SECRET).make("manage", site.record("ada@example.org").ref)
    posts = ["/subscribe", *(f"/{p}/{token}" for p in ("confirm", "manage", "unsubscribe",
                                                       "f", "u", "m"))]
    answers = [web.head("/"), web.get("/nowhere"), web.get("/f/"), web.post("/health"),
               web.get(f"/manage/{token}/x"), web.get("/subscribe/"),
               web.post("/subscribe", content=b"--x\r\n",
                        headers={"content-type": "multipart/form-data; boundary=x"})]
    for url in ("/", "/health", *posts):
        for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
            answer = web.request(method, url)
            assert answer.status_code == 405, (method, url)
            allowed = {m.strip() for m in answer.headers["allow"].split(",")}
            assert allowed == ({"GET", "HEAD", "POST"} if url in posts else {"GET", "HEAD"})
            answers.append(answer)
    assert [a.status_code for a in answers[:7]] == [200, 404, 404, 405, 404, 404, 400]
    for answer in answers:
        for name, value in HEADERS.items():
            assert answer.headers[name] == value, (answer.request.url, name)
    assert "frame-ancestors 'none'" in HEADERS["Content-Security-Policy"]
    assert HEADERS["X-Frame-Options"] == "DENY"


# ---- what the pages echo --------------------------------------------------------------

RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # control characters but tab and LF


def test_a_failed_write_shows_nothing_and_logs_no_parameters(
        mail_env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    env = {**mail_env, "DIGEST_DB": db_url, "DIGEST_SECRET": SECRET,
           "DIGEST_NOW": NOW.isoformat()}
    log = tmp_path / "serve.log"
    with serving(env, log=log) as base:
        ref = Store(db_url).record(email="grace@example.org").ref
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as db:
            db.execute("CREATE TRIGGER no_leaving BEFORE UPDATE ON subscribers WHEN "
                       "NEW.unsubscribed_at IS NOT NULL BEGIN SELECT json('{'); END")
        answer = httpx.post(f"{base}/unsubscribe/{Tokens(SECRET).make('unsubscribe', ref)}")
    assert answer.status_code == 500 and "Something went wrong" in answer.text
    assert "json" not in answer.text.lower() and ref not in answer.text
    logged = log.read_text()
    assert "malformed JSON" in logged  # the admin learns what failed...
    assert "[parameters" not in logged and "2026-06-01 07:00" not in logged  # not values


def test_pages_echo_no_control_characters(site: Site) -> None:
    web = site.client()
    ada = site.record("ada@example.org")
    hostile = "Europe/\r\nBerlin\x1b[2J\x00"
    answers = [subscribe(web, email="x\x1b[2J@example.org", name="\x1b]0;hi\x07",
                         authors="A\x00B\r\nC\x1bD", timezone=hostile)]
    card = Tokens(SECRET).make("card", ada.ref)
    for target in ("\x1b[2J", "Ada\x00", "A\rB", "A\nB", "\u2028x"):
        answers += [web.get(f"/f/{card}", params={"t": target}),
                    web.post(f"/f/{card}", params={"t": target})]
    for answer in answers:
        assert answer.status_code == 400, answer.request.url
        assert not RAW.search(answer.text), (answer.request.url, RAW.findall(answer.text))
        assert "\u2028" not in answer.text and "Berlin\n" not in answer.text
    assert site.record("ada@example.org") == ada
