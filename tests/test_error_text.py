"""What errors say (issue 11): a database error never shows the SQL or its parameters (a
generated signing secret among them) nor a database password, and no error line, stored
reason or page carries a raw CR, LF, NUL or ESC from an input or from a server's reply."""

from __future__ import annotations

import re
import secrets
import sqlite3
from datetime import timedelta
from typing import Any

import pytest

from digest.store import Store
from tests.mailing import NOW, outbox, send
from tests.smtpserver import Greeter, SmtpServer

SECRET = "Gen3rated-S1gning-Secret-that-must-not-show"
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and line feed


def one_clean_line(text: str) -> str:
    """``text`` when it is one line (its LF at the end) without control characters."""
    assert text.endswith("\n") and text.count("\n") == 1, repr(text)
    assert not CONTROLS.search(text), repr(text)
    return text


def test_a_failed_write_shows_neither_its_sql_nor_the_secret_it_wrote(
        run: Any, mail_env: dict[str, str], db_url: str, monkeypatch: pytest.MonkeyPatch
        ) -> None:
    made = secrets.token_urlsafe
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n: SECRET if n == 32 else made(n))
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as db:  # the secret's INSERT fails
        db.execute("CREATE TRIGGER no_secret BEFORE INSERT ON meta WHEN NEW.key = 'secret' "
                   "BEGIN SELECT json('{'); END")
    result = run("send", "--now", NOW.isoformat(), env={**mail_env, "DIGEST_SECRET": ""})
    assert result.exit_code == 1
    error = one_clean_line(result.stderr)
    assert error == "Error: database error: malformed JSON\n"
    assert SECRET not in result.output and "INSERT" not in result.output


@pytest.mark.parametrize("url", [
    "sqlite:////no/such\x1b[2J\rfolder\n/x.db",  # a typo'd path, with terminal escapes
    "postgresql+psycopg://digest:hunter2@127.0.0.1:1/digest",  # nobody listens there
    "postgresql+nosuchdriver://digest:hunter2@db.example.org/digest",
])
def test_a_bad_database_url_is_one_clean_line_without_its_password(
        run: Any, url: str) -> None:
    result = run("papers", "--db", url)
    assert result.exit_code == 1
    error = one_clean_line(result.stderr)
    assert error.startswith("Error: cannot ") and "hunter2" not in error
    assert "--db" in error


HOSTILE = "\x1b[2J\x1b]0;owned\x07 try\x00 later\rnow"


def test_a_hostile_reply_is_stored_and_shown_without_its_control_bytes(
        run: Any, mail_env: dict[str, str], smtp: SmtpServer, db_url: str) -> None:
    smtp.handler.faults.append(f"rcpt:550 5.1.1 {HOSTILE}")
    assert send(run, mail_env, smtp.url, NOW, "--only", "ada@example.org").exit_code == 3
    (reason,) = {row.last_error for row in Store(db_url).outbox()}
    assert reason and "550 5.1.1" in reason and "try later now" in reason
    assert not CONTROLS.search(reason), repr(reason)

    with Greeter(f"421-{HOSTILE}\r\n421 second {HOSTILE}\r\n".encode()) as greeter:
        assert send(run, mail_env, greeter.url, NOW).exit_code == 3
    reasons = [row.last_error or "" for row in outbox(db_url).values()]
    assert any("421" in r for r in reasons)
    assert not any(CONTROLS.search(r) or "\n" in r for r in reasons), reasons

    with Greeter(f"530 {HOSTILE}\r\n".encode()) as greeter:  # the set-up: the pass stops
        stopped = send(run, mail_env, greeter.url, NOW + timedelta(minutes=10))  # retried
    assert stopped.exit_code == 1
    assert "530" in one_clean_line(stopped.stderr.splitlines(keepends=True)[-1])
