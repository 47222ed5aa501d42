"""The decision log of one person: why each value is what it is (design.md "every decision goes to
the decision log"), with the link that ties the person together and the values both sides last
agreed on (its base)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.control.errors import NotFound
from app.db.models import ContactLink, Decision
from app.domain.coercion import normalize_email

MAX_PAGE = 200


class ContactLinkRead(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "id": 1187,
                    "sync_id": "0f6d2f4c-8d8b-4a53-9a8e-7b1c2d3e4f50",
                    "state": "linked",
                    "email": "pat@example.com",
                    "salesforce_id": "00Q5g00000AbCdEFGH",
                    "salesforce_object": "Lead",
                    "getresponse_contact_id": "pVyRW",
                    "removed_from_list": False,
                    "base": {
                        "phone": {
                            "value": "+48600100200",
                            "at": "2026-11-26T10:00:00.000Z",
                            "source": "salesforce",
                        }
                    },
                    "created_at": "2026-11-26T09:00:00Z",
                    "updated_at": "2026-11-26T10:00:00Z",
                }
            ]
        }
    }

    id: int
    sync_id: uuid.UUID
    state: str = Field(description="pending, linked or deleted")
    email: str
    salesforce_id: str | None
    salesforce_object: str | None
    getresponse_contact_id: str | None
    removed_from_list: bool
    base: dict[str, Any] = Field(description="per field: the value both sides last agreed on, when, whence")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ContactLink) -> ContactLinkRead:
        return cls(
            id=row.id,
            sync_id=row.sync_id,
            state=row.state,
            email=row.email_normalized,
            salesforce_id=row.salesforce_id,
            salesforce_object=row.salesforce_object,
            getresponse_contact_id=row.getresponse_contact_id,
            removed_from_list=row.removed_from_list,
            base=row.base or {},
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class DecisionRead(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "id": 90211,
                    "event_id": "cdc:0055g-Lead-1187",
                    "field": "phone",
                    "old_value": "+48600100200",
                    "new_value": "+48600100300",
                    "winner": "salesforce",
                    "rule": "one_side_changed",
                    "write_to": ["getresponse"],
                    "reason": "changed in Salesforce only since the base",
                    "created_at": "2026-11-26T10:00:01Z",
                }
            ]
        }
    }

    id: int
    event_id: str | None
    field: str
    old_value: Any
    new_value: Any
    winner: str | None
    rule: str
    write_to: list[str] = Field(description="the systems written (empty: nothing was written)")
    reason: str
    created_at: datetime

    @classmethod
    def of(cls, row: Decision) -> DecisionRead:
        return cls(
            id=row.id,
            event_id=row.event_id,
            field=row.field,
            old_value=(row.old_value or {}).get("value"),
            new_value=(row.new_value or {}).get("value"),
            winner=row.winner,
            rule=row.rule,
            write_to=[s for s in (row.write_to or "").split(",") if s],
            reason=row.reason,
            created_at=row.created_at,
        )


class DecisionPage(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [{"link": {"id": 1187, "...": "..."}, "items": [], "next_before_id": None}]
        }
    }

    link: ContactLinkRead
    items: list[DecisionRead] = Field(description="newest first")
    next_before_id: int | None = Field(description="pass as before_id for the next (older) page; None: done")


async def find_links(
    session: AsyncSession, *, email: str | None = None, sync_id: uuid.UUID | None = None, limit: int = 50
) -> list[ContactLinkRead]:
    """Links by email (compared as the sync compares them: trimmed, lower-case) and/or sync."""
    statement = select(ContactLink).order_by(ContactLink.id).limit(min(limit, MAX_PAGE))
    if email is not None:
        statement = statement.where(ContactLink.email_normalized == (normalize_email(email) or ""))
    if sync_id is not None:
        statement = statement.where(ContactLink.sync_id == sync_id)
    return [ContactLinkRead.of(r) for r in await session.scalars(statement)]


async def link_decisions(
    session: AsyncSession, link_id: int, *, limit: int = 50, before_id: int | None = None
) -> DecisionPage:
    link = await session.get(ContactLink, link_id)
    if link is None:
        raise NotFound(f"no contact link {link_id}; find one with GET /v1/contacts?email=...")
    size = min(limit, MAX_PAGE)
    statement = (
        select(Decision).where(Decision.link_id == link_id).order_by(Decision.id.desc()).limit(size + 1)
    )
    if before_id is not None:
        statement = statement.where(Decision.id < before_id)
    rows = list(await session.scalars(statement))
    page = rows[:size]
    return DecisionPage(
        link=ContactLinkRead.of(link),
        items=[DecisionRead.of(r) for r in page],
        next_before_id=page[-1].id if len(rows) > size and page else None,
    )
