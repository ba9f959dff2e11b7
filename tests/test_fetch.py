"""Live fetching against a real local HTTP server serving the real data files."""

from __future__ import annotations

import json
import socket
from datetime import UTC, date, datetime

import pytest

from digest.ingest.fetch import Fetcher
from digest.ingest.runner import ingest_hf_day
from digest.settings import HttpSettings
from digest.store import Store
from tests.conftest import DATA, totals
from tests.httpserver import DataServer

DAY = "2026-04-10"
DAY_ITEMS = len(json.loads((DATA / "hf-daily" / f"{DAY}.json").read_text()))
NOW = datetime(2026, 4, 10, 12, tzinfo=UTC)


def env(server: DataServer, attempts: int = 2) -> dict[str, str]:
    return {"DIGEST_HF_URL": server.url, "DIGEST_ARXIV_URL": server.url,
            "DIGEST_HTTP_TIMEOUT": "0.5", "DIGEST_HTTP_ATTEMPTS": str(attempts),
            "DIGEST_HTTP_BACKOFF": "0"}


def stored(run) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    return [json.loads(line) for line in run("papers", "--json").stdout.splitlines()]


def test_hf_day_is_fetched_and_stored(run, server: DataServer) -> None:  # type: ignore[no-untyped-def]
    result = run("ingest", "--hf-date", DAY, env=env(server))
    assert result.exit_code == 0, result.output
    assert server.requests == [f"/api/daily_papers?date={DAY}&limit=100&p=0"]
    papers = stored(run)
    assert len(papers) == DAY_ITEMS
    assert papers[0]["sources"] == [f"{server.url}/api/daily_papers?date={DAY}&limit=100&p=0"]


def test_paging_goes_on_until_a_short_page(server: DataServer, db_url: str) -> None:
    store = Store(db_url)
    with Fetcher(HttpSettings(hf_base=server.url, attempts=1)) as fetcher:
        reports = ingest_hf_day(store, fetcher, date.fromisoformat(DAY), NOW, limit=10)
    pages = DAY_ITEMS // 10 + 1
    assert [r.read for r in reports] == [10] * (pages - 1) + [DAY_ITEMS % 10]
    assert len(server.requests) == pages
    assert server.requests[-1].endswith(f"limit=10&p={pages - 1}")
    assert store.count_papers() == DAY_ITEMS


def test_arxiv_feed_is_fetched(run, server: DataServer) -> None:  # type: ignore[no-untyped-def]
    result = run("ingest", "--arxiv", "cs.AI", env=env(server))
    assert result.exit_code == 0, result.output
    assert totals(result.stdout) == (7, 7, 0, 0)
    assert any(p["authors"] == ["Paulo André Lima de Castro"] for p in stored(run))


def test_a_passing_500_is_retried(run, server: DataServer) -> None:  # type: ignore[no-untyped-def]
    server.fail("/api/daily_papers", "500")
    result = run("ingest", "--hf-date", DAY, env=env(server))
    assert result.exit_code == 0, result.output
    assert len(server.requests) == 2
    assert len(stored(run)) == DAY_ITEMS


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        (("500", "500"), "server error HTTP 500 Internal Server Error; gave up after 2 attempts"),
        (("stall", "stall"), "no answer within 0.5 s (DIGEST_HTTP_TIMEOUT); gave up after 2"),
        (("truncate", "truncate"), "the response was cut off or malformed"),
    ],
)
def test_persistent_faults_give_a_clear_error_and_store_nothing(
    run, server: DataServer, faults: tuple[str, ...], message: str  # type: ignore[no-untyped-def]
) -> None:
    server.fail("/api/daily_papers", *faults)
    result = run("ingest", "--hf-date", DAY, env=env(server))
    assert result.exit_code == 1
    url = f"{server.url}/api/daily_papers?date={DAY}&limit=100&p=0"
    assert f"Error: {url}: {message}" in result.stderr
    assert "Traceback" not in result.output
    assert stored(run) == []


def test_truncated_body_without_retries_is_still_refused(run, server: DataServer) -> None:  # type: ignore[no-untyped-def]
    server.fail("/atom/cs.AI", "truncate")
    result = run("ingest", "--arxiv", "cs.AI", env=env(server, attempts=1))
    assert result.exit_code == 1
    assert "cut off" in result.stderr
    assert stored(run) == []


def test_a_failing_page_stores_nothing_of_the_day(server: DataServer, db_url: str) -> None:
    store = Store(db_url)
    server.fail("/api/daily_papers", "", "500")  # page 0 fine, page 1 fails
    with Fetcher(HttpSettings(hf_base=server.url, attempts=1)) as fetcher:
        reports = ingest_hf_day(store, fetcher, date.fromisoformat(DAY), NOW, limit=10)
    assert len(reports) == 1 and reports[0].error and "p=1" in reports[0].error
    assert store.count_papers() == 0


def test_unknown_category_is_a_404(run, server: DataServer) -> None:  # type: ignore[no-untyped-def]
    result = run("ingest", "--arxiv", "cs.XX", env=env(server))
    assert result.exit_code == 1
    assert "HTTP 404 Not Found; check the date, category or base URL" in result.stderr
    assert len(server.requests) == 1  # a 404 is not retried


def test_unreachable_server(run) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        result = run("ingest", "--arxiv", "cs.AI", env={
            "DIGEST_ARXIV_URL": f"http://127.0.0.1:{port}", "DIGEST_HTTP_ATTEMPTS": "2",
            "DIGEST_HTTP_BACKOFF": "0"})
    assert result.exit_code == 1
    assert "cannot connect" in result.stderr
