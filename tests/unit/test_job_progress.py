"""A job's progress in the same terms for every kind (app/control/jobs.py)."""

from __future__ import annotations

import uuid

from app.control.jobs import progress_of
from app.db.models import SyncJob


def _job(kind: str, state: str, counts: dict[str, int], **extra: object) -> SyncJob:
    return SyncJob(id=uuid.uuid4(), sync_id=uuid.uuid4(), kind=kind, state=state, counts=counts,
                   cursor=extra.get("cursor", {}), errors=extra.get("errors", {}))


def test_a_first_sync_is_planning_until_it_writes_then_counts_people_done_of_those_planned() -> None:
    planned = {"matches": 10, "salesforce_only": 5, "getresponse_only": 5, "conflicts": 3}
    assert progress_of(_job("first_sync", "running", planned)).phase == "planning"
    running = progress_of(_job("first_sync", "running", {
        **planned, "linked": 8, "created_in_getresponse": 4, "created_in_salesforce": 2, "skipped": 1, "failed": 1,
    }))
    assert (running.phase, running.total, running.done) == ("writing", 20, 16)
    assert (running.created, running.updated, running.conflicts, running.errors) == (6, 8, 3, 1)


def test_a_resync_counts_people_done_from_its_cursor_while_it_runs() -> None:
    running = progress_of(_job("resync", "running", {"people": 50}, cursor={"done": 20}))
    assert (running.phase, running.total, running.done) == ("writing", 50, 20)
    done = progress_of(_job("resync", "done", {"people": 50, "changed": 5, "unchanged": 44, "gone": 1}))
    assert (done.phase, done.done, done.updated) == ("done", 50, 5)


def test_a_queued_job_has_not_started() -> None:
    queued = progress_of(_job("resync", "queued", {}))
    assert (queued.phase, queued.total, queued.done) == ("queued", None, 0)
