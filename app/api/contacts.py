"""`/v1/contacts`: find a person's contact link, and read why each of their values is what it is."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.auth import AUTH_RESPONSES
from app.api.control_errors import control_errors, error_responses
from app.api.deps import Reader, SessionDep
from app.control import decisions
from app.control.decisions import ContactLinkRead, DecisionPage

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])


@router.get("", summary="Find contact links by email and/or sync", responses=AUTH_RESPONSES)
async def find_contacts(
    _: Reader,
    session: SessionDep,
    email: Annotated[str | None, Query(description="compared trimmed and case-insensitively")] = None,
    sync_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=decisions.MAX_PAGE)] = 50,
) -> list[ContactLinkRead]:
    return await decisions.find_links(session, email=email, sync_id=sync_id, limit=limit)


@router.get(
    "/{link_id}/decisions",
    summary="The decision log of one person, newest first (paged with before_id)",
    responses={**AUTH_RESPONSES, **error_responses(404)},
)
async def link_decisions(
    _: Reader,
    link_id: int,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=decisions.MAX_PAGE)] = 50,
    before_id: Annotated[int | None, Query(description="next_before_id of the previous page")] = None,
) -> DecisionPage:
    with control_errors():
        return await decisions.link_decisions(session, link_id, limit=limit, before_id=before_id)
