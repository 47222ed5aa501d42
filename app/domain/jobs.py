"""First syncs and resyncs run as jobs: a row in `sync_jobs`, started by a request on the resync
topic. The request only names the job; everything else is in the row, so a redelivered request
resumes the same job."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, model_validator


class JobKind(StrEnum):
    FIRST_SYNC = "first_sync"
    RESYNC = "resync"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ResyncMode(StrEnum):
    RECONCILE = "reconcile"  # the usual three-way merge against the base, with fresh reads of both sides
    SALESFORCE_WINS = "salesforce_wins"
    GETRESPONSE_WINS = "getresponse_wins"


class ResyncScope(BaseModel):
    """Who to resync: some people (by any of their ids) or the whole sync."""

    emails: list[str] = Field(default_factory=list, max_length=10_000)
    salesforce_ids: list[str] = Field(default_factory=list, max_length=10_000)
    getresponse_contact_ids: list[str] = Field(default_factory=list, max_length=10_000)
    whole_sync: bool = False

    @model_validator(mode="after")
    def _something(self) -> ResyncScope:
        named = self.emails or self.salesforce_ids or self.getresponse_contact_ids
        if self.whole_sync and named:
            raise ValueError(
                "give either whole_sync or people (emails, salesforce_ids, getresponse_contact_ids)"
            )
        if not self.whole_sync and not named:
            raise ValueError(
                "the scope names nobody: give emails, salesforce_ids, getresponse_contact_ids or whole_sync"
            )
        return self


class JobRequest(BaseModel):
    schema_version: Literal[1] = 1
    job_id: str
