"""Indexing runs started over HTTP: one at a time, in a background thread, with progress."""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from searchengine.errors import IndexBusyError

log = logging.getLogger(__name__)

KEEP_FINISHED = 50  # finished jobs remembered for polling, at most ...
KEEP_SECONDS = 3600  # ... and for at most an hour


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Job:
    id: str
    state: str = "running"
    stage: str = "starting"
    done: int = 0
    total: int = 0
    started_at: datetime = field(default_factory=_now)
    finished_at: datetime | None = None
    report: dict[str, Any] | None = None
    error: str | None = None


class IndexJobs:
    def __init__(self, engine: Any):
        self._engine = engine
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._current: Job | None = None

    def start(self) -> Job:
        with self._lock:
            if self._current is not None and self._current.state == "running":
                raise IndexBusyError(f"indexing job {self._current.id} is still running")
            self._prune()
            job = Job(id=uuid.uuid4().hex[:12])
            self._jobs[job.id] = job
            self._current = job
        threading.Thread(target=self._run, args=(job,), name=f"index-{job.id}", daemon=True).start()
        return job

    def _prune(self) -> None:
        """Forget finished jobs past the newest ``KEEP_FINISHED`` or older than
        ``KEEP_SECONDS`` (a client polling a forgotten job gets 404)."""
        now = _now()
        finished = [j for j in self._jobs.values() if j.finished_at is not None]
        finished.sort(key=lambda j: j.finished_at or now, reverse=True)
        for n, job in enumerate(finished):
            if n >= KEEP_FINISHED or (now - (job.finished_at or now)).total_seconds() > KEEP_SECONDS:
                del self._jobs[job.id]

    def __len__(self) -> int:
        return len(self._jobs)

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def current(self) -> Job | None:
        return self._current

    def _run(self, job: Job) -> None:
        def progress(stage: str, done: int, total: int) -> None:
            job.stage, job.done, job.total = stage, done, total

        try:
            report = self._engine.index(None, on_progress=progress, read_text="now")  # a job reads it all
            job.report = asdict(report)
            job.state, job.stage = "done", "done"
        except Exception as exc:  # reported through the job, never lost
            log.exception("indexing job %s failed", job.id)
            job.state, job.error = "failed", str(exc)
        finally:
            job.finished_at = _now()
