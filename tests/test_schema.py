"""Schema revisions: a database at the first revision, full of real data (papers, sent
history, outbox rows, subscribers), upgraded to the newest with nothing lost, on SQLite
and on a throwaway PostgreSQL cluster; commands refuse a database that is behind, ahead
or from before revisions; a revision added here (as the next real one will be) applies
too."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import MetaData, create_engine, select, text

from digest.cli import cli
from digest.store import Store, revisions
from tests.conftest import DATA, SEEDS
from tests.mailing import NOW, SUBSCRIPTIONS

NEXT = '''"""A test's own next revision: a column with a value worked out from the data."""

import sqlalchemy as sa
from alembic import op

revision = "9001"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subscribers", sa.Column("domain", sa.String(320)))
    op.execute("UPDATE subscribers SET domain = substr(email, instr(email, '@') + 1)"
               if op.get_bind().dialect.name == "sqlite" else
               "UPDATE subscribers SET domain = split_part(email, '@', 2)")


def downgrade() -> None:
    op.drop_column("subscribers", "domain")
'''


def invoke(url: str, *args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), env={"DIGEST_DB": url, **(env or {})},
                              catch_exceptions=False)


def filled(url: str, tmp_path: Path) -> dict[str, str]:
    """Papers, subscribers, sent digests and an outbox row still to go."""
    config = tmp_path / "subscriptions.yaml"
    config.write_text(SUBSCRIPTIONS)
    env = {"DIGEST_CONFIG": str(config), "DIGEST_MAILDIR": str(tmp_path / "mail"),
           "DIGEST_SECRET": "s"}
    assert invoke(url, "ingest", str(SEEDS), "--now", NOW.isoformat()).exit_code == 0
    assert invoke(url, "subscribers", "add", "eve@example.org", "--author", "Jiacheng Sun",
                  env=env).exit_code == 0
    sent = invoke(url, "send", "--now", NOW.isoformat(), env=env)
    assert sent.exit_code == 0, sent.output
    assert invoke(url, "send", "--now", (NOW + timedelta(days=1)).isoformat(), "--dry-run",
                  env=env).exit_code == 0
    return env


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the revision's own, without the columns revisions
    after the first added."""
    engine = create_engine(url.replace("postgresql+psycopg", "postgresql+psycopg"))
    tables = MetaData()
    tables.reflect(engine)
    added = {"bounces", "bouncing_since", "reply_class", "thumbnail", "comments", "domain",
             "more"}
    out = {}
    with engine.connect() as conn:
        for name, table in sorted(tables.tables.items()):
            if name == "alembic_version" or name.startswith("paper_search") \
                    or name == "paper_features":
                # the search index: made again from the papers, in its own order; the
                # papers' terms: made again from them when first needed (0011 adds none)
                continue
            columns = [c for c in table.columns if c.name not in added]
            out[name] = sorted(tuple(str(v) for v in row) for row in
                               conn.execute(select(*columns)))
    engine.dispose()
    return out


def test_a_database_at_the_first_revision_upgrades_with_nothing_lost(
        url: str, tmp_path: Path) -> None:
    env = filled(url, tmp_path)
    before = snapshot(url)
    assert before["papers"] and before["sent_papers"] and before["digests"]
    assert len(before["subscribers"]) == 3
    store = Store(url)
    with store.engine.begin() as conn:
        revisions.downgrade(conn, "0001")
    store.engine.dispose()

    refused = invoke(url, "papers")
    assert refused.exit_code == 1
    assert "schema revision 0001" in refused.output and "digest db upgrade" in refused.output
    assert "0001 (behind" in invoke(url, "db", "current").output
    upgraded = invoke(url, "db", "upgrade")
    assert upgraded.exit_code == 0
    assert f"upgraded from 0001 to {revisions.head()}" in upgraded.output
    assert snapshot(url) == before
    assert f"at {revisions.head()}, the newest revision" in invoke(url, "db", "upgrade").output
    later = invoke(url, "send", "--now", (NOW + timedelta(days=1)).isoformat(), env=env)
    assert later.exit_code == 0, later.output


def test_a_database_from_before_revisions_is_recognised_and_upgraded(
        url: str, tmp_path: Path) -> None:
    filled(url, tmp_path)
    before = snapshot(url)
    store = Store(url)
    with store.engine.begin() as conn:
        revisions.downgrade(conn, "0001")
        conn.execute(text("DROP TABLE alembic_version"))
    store.engine.dispose()
    refused = invoke(url, "status")
    assert refused.exit_code == 1 and "from before revisions" in refused.output
    assert invoke(url, "db", "upgrade").exit_code == 0
    assert snapshot(url) == before
    assert Store(url).revision() == (revisions.head(), revisions.head())


def test_a_database_a_newer_digest_upgraded_is_refused(url: str) -> None:
    store = Store(url)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    store.engine.dispose()
    refused = invoke(url, "papers")
    assert refused.exit_code == 1 and "9999, newer than this digest knows" in refused.output
    upgrade = invoke(url, "db", "upgrade")
    assert upgrade.exit_code == 1 and "9999, newer than this digest knows" in upgrade.output
    assert "Traceback" not in upgrade.output


def test_a_revision_added_later_applies_to_a_filled_database(url: str, tmp_path: Path) -> None:
    filled(url, tmp_path)
    before = snapshot(url)
    folder = tmp_path / "migrations"
    shutil.copytree(revisions.FOLDER, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "versions" / "9001_domain.py").write_text(NEXT.format(head=revisions.head()))
    store = Store(url)
    with store.engine.begin() as conn:
        assert revisions.upgrade(conn, folder) == (revisions.head(), "9001")
    with store.engine.connect() as conn:
        domains = set(conn.execute(text("SELECT domain FROM subscribers")).scalars())
    assert domains == {"example.org"}
    assert snapshot(url) == before
    store.engine.dispose()


def test_a_missing_database_is_not_created_by_a_read_only_command(tmp_path: Path) -> None:
    missing, empty = tmp_path / "nowhere.db", tmp_path / "empty.db"
    empty.touch()
    for command in (["papers"], ["status"], ["subscribers"], ["preview", "ada@example.org"],
                    ["db", "current"], ["subscribers", "export"],
                    ["subscribers", "reset", "ada@example.org"],
                    ["unsubscribe", "ada@example.org"], ["resubscribe", "ada@example.org"]):
        for path in (missing, empty):
            result = invoke(f"sqlite:///{path}", *command)
            assert result.exit_code == 1, (command, result.output)
            assert f"cannot open {path}: there is no database there" in result.output, command
        assert not missing.exists() and empty.stat().st_size == 0


def test_db_upgrade_creates_a_database_that_does_not_exist_yet(tmp_path: Path) -> None:
    """A service may run it before it starts (contrib/systemd/digest-bot.service)."""
    new = tmp_path / "new.db"
    result = invoke(f"sqlite:///{new}", "db", "upgrade")
    assert result.exit_code == 0 and "the newest revision" in result.output
    assert Store(f"sqlite:///{new}").revision() == (revisions.head(), revisions.head())


def test_a_postgresql_url_without_its_driver_says_what_to_install() -> None:
    result = invoke("postgresql+pg8000://digest@127.0.0.1/digest", "papers")
    assert result.exit_code == 1
    assert "pip install 'digest[postgres]'" in result.output


def test_a_database_from_before_claimed_accounts_upgrades_and_keeps_working(
        url: str, tmp_path: Path) -> None:
    day = DATA / "hf-daily" / "2026-03-13.json"
    assert invoke(url, "ingest", str(day), "--now", NOW.isoformat()).exit_code == 0
    store = Store(url)
    with store.engine.begin() as conn:
        revisions.downgrade(conn, "0005")
    store.engine.dispose()
    assert "schema revision 0005" in invoke(url, "papers").output
    assert invoke(url, "db", "upgrade").exit_code == 0
    store = Store(url)
    assert store.papers() and not any(p.claimed for p in store.papers())
    ingested = invoke(url, "ingest", str(day), "--now", (NOW + timedelta(days=1)).isoformat())
    assert ingested.exit_code == 0, ingested.output
    claimed = {p.arxiv_id: p.claimed for p in store.papers() if p.claimed}
    assert claimed["2603.12252"] == (("Yuhang Zang", "yuhangzang"),) and len(claimed) == 15
    store.engine.dispose()


def test_an_unversioned_database_is_recognised_by_its_claimed_accounts(url: str) -> None:
    store = Store(url)
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
        assert revisions.upgrade(conn) == (None, revisions.head())
        revisions.downgrade(conn, "0005")
        conn.execute(text("DROP TABLE alembic_version"))
        assert revisions.upgrade(conn) == (None, revisions.head())
    assert Store(url).revision() == (revisions.head(), revisions.head())
    store.engine.dispose()
