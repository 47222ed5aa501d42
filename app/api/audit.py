"""`/v1/audit`: who changed what in the control plane, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.auth import AUTH_RESPONSES
from app.api.deps import Reader, SessionDep
from app.control import audit
from app.control.audit import AuditPage

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get(
    "",
    summary="The audit log of control-plane changes, newest first (paged with before_id)",
    responses=AUTH_RESPONSES,
)
async def list_audit(
    _: Reader,
    session: SessionDep,
    action: Annotated[str | None, Query(description="e.g. sync.update, job.resync")] = None,
    target_kind: Annotated[str | None, Query(description="connection, sync, dead_letter, token")] = None,
    target_id: Annotated[str | None, Query(description="the id of the target")] = None,
    actor_id: Annotated[str | None, Query(description="the API token's id")] = None,
    since: Annotated[datetime | None, Query(description="only entries at or after this time")] = None,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_PAGE)] = 50,
    before_id: Annotated[int | None, Query(description="next_before_id of the previous page")] = None,
) -> AuditPage:
    return await audit.list_entries(
        session, limit=limit, before_id=before_id, action=action, target_kind=target_kind,
        target_id=target_id, actor_id=actor_id, since=since,
    )
