"""What monitoring reads from ``digest serve``: ``/healthz`` (is the database reachable,
is its schema current, when did each job last succeed) and ``/metrics`` in the Prometheus
text format (prometheus-client), worked out from the database at each request, so they
tell the truth about every process that shares it (bots, workers, sends)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from digest.errors import StoreError
from digest.store import Store
from digest.text import one_line

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def health(store: Store, now: datetime) -> tuple[bool, dict[str, Any]]:
    """(healthy, the report): healthy when the database answers and its schema is the
    code's; the report names each job's last successful run and its age."""
    try:
        at, head = store.revision()
        jobs = store.job_health()
    except StoreError as e:
        return False, {"status": "failing", "database": one_line(str(e))}
    current = at == head
    return current, {
        "status": "ok" if current else "failing",
        "database": "reachable",
        "schema": {"revision": at, "newest": head, "current": current},
        "jobs": {job.job_id: {
            "last_run": job.last_run.isoformat(),
            "last_error": job.last_error,
            "last_success": job.last_success.isoformat() if job.last_success else None,
            "success_age_seconds": round((now - job.last_success).total_seconds(), 3)
            if job.last_success else None} for job in jobs},
    }


def metrics(store: Store, now: Callable[[], datetime]) -> bytes:
    """The Prometheus text exposition of the database's figures."""
    registry = CollectorRegistry()
    registry.register(_StoreCollector(store, now))
    return generate_latest(registry)


class _StoreCollector(Collector):
    def __init__(self, store: Store, now: Callable[[], datetime]) -> None:
        self.store, self.now = store, now

    def collect(self) -> Iterator[Metric]:
        digests = GaugeMetricFamily("digest_digests", "Digests in the outbox, by state and "
                                    "by the class of the server's last reply to them",
                                    labels=["state", "reply_class"])
        for (state, reply), count in sorted(self.store.delivery_counts().items()):
            digests.add_metric([state, reply], count)
        yield digests
        yield GaugeMetricFamily("digest_papers", "Papers stored",
                                value=self.store.count_papers())
        suppressed = GaugeMetricFamily("digest_suppressed_subscribers", "Subscribers who "
                                       "get nothing for a bounce or a complaint: hard, soft "
                                       "(temporary failures in several digests), complaint",
                                       labels=["reason"])
        for reason, count in sorted(self.store.suppressed().items()):
            suppressed.add_metric([reason], count)
        yield suppressed
        duration = GaugeMetricFamily("digest_job_last_duration_seconds",
                                     "How long each job's latest run took", labels=["job"])
        success = GaugeMetricFamily("digest_job_last_success_timestamp_seconds",
                                    "When each job last finished without error (Unix time)",
                                    labels=["job"])
        failed = GaugeMetricFamily("digest_job_last_run_failed",
                                   "1 when a job's latest run failed", labels=["job"])
        ingest = GaugeMetricFamily("digest_source_last_ingest_timestamp_seconds",
                                   "When each source was last ingested without error",
                                   labels=["source"])
        for job in self.store.job_health():
            duration.add_metric([job.job_id], job.seconds)
            failed.add_metric([job.job_id], float(job.last_error is not None))
            if job.last_success:
                success.add_metric([job.job_id], job.last_success.timestamp())
                if job.job_id.startswith("ingest:"):
                    ingest.add_metric([job.job_id.removeprefix("ingest:")],
                                      job.last_success.timestamp())
        yield from (duration, success, failed, ingest)
