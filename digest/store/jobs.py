"""The bot's job runs (when each ran, how long, its error) and the values the database
keeps for itself (source fingerprints, the signing secret)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from digest.store import schema as s
from digest.store.engine import Database


class JobRoom(Database):
    """The store's bot jobs and its own values."""

    def record_job_run(self, job_id: str, started: datetime, finished: datetime,
                       counts: dict[str, int], error: str | None) -> None:
        """Remember one run of a bot job. A run that did nothing and failed in nothing
        takes the place of the job's latest run when that one did nothing too: the
        watcher's idle tick every 10 s is the bot's sign of life (``digest status``), not
        8,640 rows a day."""
        j = s.job_runs.c
        with self._begin() as conn:
            if not counts and error is None:
                last = conn.execute(select(j.id, j.counts, j.error).where(j.job_id == job_id)
                                    .order_by(j.id.desc()).limit(1)).first()
                if last is not None and not last.counts and last.error is None:
                    conn.execute(update(s.job_runs).where(j.id == last.id).values(
                        started_at=started, finished_at=finished))
                    return
            conn.execute(insert(s.job_runs).values(
                job_id=job_id, started_at=started, finished_at=finished, counts=counts,
                error=error))

    def job_health(self) -> list[JobHealth]:
        """Each bot job's latest run (when, how long, its error) and latest success."""
        j = s.job_runs.c
        with self._begin() as conn:
            latest = select(func.max(j.id)).group_by(j.job_id)
            ok = dict(conn.execute(select(j.job_id, func.max(j.finished_at))
                                   .where(j.error.is_(None)).group_by(j.job_id)).all())
            return [JobHealth(row.job_id, row.finished_at,
                              (row.finished_at - row.started_at).total_seconds(), row.error,
                              _utc(ok.get(row.job_id)))
                    for row in conn.execute(select(s.job_runs).where(j.id.in_(latest))
                                            .order_by(j.job_id))]

    def last_job_runs(self) -> dict[str, Any]:
        """The latest run of each bot job, by job id."""
        with self._begin() as conn:
            latest = select(func.max(s.job_runs.c.id)).group_by(s.job_runs.c.job_id)
            rows = conn.execute(select(s.job_runs).where(s.job_runs.c.id.in_(latest)))
            return {row.job_id: row for row in rows}

    def meta(self, key: str) -> str | None:
        """A value the database keeps for itself (source fingerprints, the secret)."""
        with self._begin() as conn:
            found = conn.execute(select(s.meta.c.value).where(s.meta.c.key == key)
                                 ).scalar_one_or_none()
            return None if found is None else str(found)

    def set_meta(self, key: str, value: str) -> None:
        with self._begin() as conn:
            conn.execute(delete(s.meta).where(s.meta.c.key == key))
            conn.execute(insert(s.meta).values(key=key, value=value))

    def secret(self) -> str:
        """The signing secret kept in the database, generated on first use."""
        found = self.meta("secret")
        if found is not None:
            return found
        try:
            with self._begin() as conn:
                conn.execute(insert(s.meta).values(key="secret",
                                                   value=secrets.token_urlsafe(32)))
        except IntegrityError:
            pass  # another process made it first; use theirs
        return self.secret()


@dataclass(frozen=True)
class JobHealth:
    """One bot job's latest run and latest successful one."""

    job_id: str
    last_run: datetime
    seconds: float
    last_error: str | None
    last_success: datetime | None


def _utc(moment: datetime | None) -> datetime | None:
    """A time read by an aggregate (no column type applied): aware, in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
