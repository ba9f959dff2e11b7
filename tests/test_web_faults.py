"""The subscriber's pages when things go wrong (issue 11): a database that another
process keeps locked, tampered tokens and what links and pages let anyone learn, the
headers of error answers, and hostile bytes in what the pages echo."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from digest.cli import cli
from digest.deliver import MailSettings
from digest.deliver.message import Envelope
from digest.deliver.tokens import Tokens
from digest.deliver.transport import MaildirTransport
from digest.store import Store, schema
from digest.web import create_app
from tests import test_web
from tests.mailing import NOW
from tests.pgserver import PgCluster, cluster_or_skip
from tests.serving import serving
from tests.test_web import SECRET, Site

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


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgCluster]:
    yield from cluster_or_skip()


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
