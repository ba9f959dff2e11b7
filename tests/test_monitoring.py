"""/healthz and /metrics of the real `digest serve`, after a real `digest run --once`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from digest.store import Store, revisions
from tests.conftest import ROOT
from tests.serving import serving


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_healthz_and_metrics_tell_what_the_database_says(run: Any, db_url: str,
                                                          tmp_path: Path) -> None:
    env = {"DIGEST_CONFIG": str(ROOT / "subscriptions.yaml"), "DIGEST_SECRET": "s",
           "DIGEST_MAILDIR": str(tmp_path / "outbox"), "DIGEST_NOW": "2026-06-01T07:00:00Z"}
    assert run("run", "--once", env=env).exit_code == 0
    with serving({**env, "DIGEST_DB": db_url}) as base:
        health = httpx.get(f"{base}/healthz")
        assert health.status_code == 200
        report = health.json()
        assert report["status"] == "ok" and report["database"] == "reachable"
        assert report["schema"] == {"revision": revisions.head(), "newest": revisions.head(),
                                    "current": True}
        assert set(report["jobs"]) == {"ingest:seeds", "send"}
        send = report["jobs"]["send"]
        assert send["last_error"] is None and send["last_success"].startswith("2026-06-01")
        assert send["success_age_seconds"] == 0
        assert health.headers["x-content-type-options"] == "nosniff"

        scraped = httpx.get(f"{base}/metrics")
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
        got = samples(scraped.text)
        assert got[("digest_digests", (("reply_class", "2xx"), ("state", "sent")))] == 2
        assert got[("digest_papers", ())] == 140
        assert got[("digest_job_last_run_failed", (("job", "send"),))] == 0
        assert ("digest_source_last_ingest_timestamp_seconds", (("source", "seeds"),)) in got
        assert got[("digest_job_last_duration_seconds", (("job", "ingest:seeds"),))] >= 0

        store = Store(db_url)
        with store.engine.begin() as conn:
            revisions.downgrade(conn, "0001")
        store.engine.dispose()
        behind = httpx.get(f"{base}/healthz")
        assert behind.status_code == 503
        assert behind.json()["schema"]["current"] is False
