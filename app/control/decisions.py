"""The decision log of one person: why each value is what it is (design.md "every decision goes to
the decision log"), with the link that ties the person together and the values both sides last
agreed on (its base)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from app.control.errors import NotFound
from app.db import decisions, links, syncs
from app.domain.coercion import normalize_email

MAX_PAGE = 200


class ContactLinkRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
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
        },
    )

    id: int
    sync_id: uuid.UUID
    state: str = Field(description="pending, linked or deleted")
    email: str = Field(validation_alias="email_normalized")
    salesforce_id: str | None
    salesforce_object: str | None
    getresponse_contact_id: str | None
    removed_from_list: bool
    base: dict[str, Any] = Field(description="per field: the value both sides last agreed on, when, whence")
    created_at: datetime
    updated_at: datetime

    @field_validator("base", mode="before")
    @classmethod
    def _empty_if_none(cls, base: dict[str, Any] | None) -> dict[str, Any]:
        return base or {}


class DecisionRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
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
        },
    )

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

    @field_validator("old_value", "new_value", mode="before")
    @classmethod
    def _unboxed(cls, boxed: dict[str, Any] | None) -> Any:
        """Stored as {"value": ...}, to keep a JSON null apart from no value (app/db/models.py)."""
        return (boxed or {}).get("value")

    @field_validator("write_to", mode="before")
    @classmethod
    def _systems(cls, write_to: str | None) -> list[str]:
        """Stored comma-separated."""
        return [s for s in (write_to or "").split(",") if s]


class DecisionPage(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [{"link": {"id": 1187, "...": "..."}, "items": [], "next_before_id": None}]
        }
    }

    link: ContactLinkRead
    items: list[DecisionRead] = Field(description="newest first")
    next_before_id: int | None = Field(description="pass as before_id for the next (older) page; None: done")


class SyncDecisionRead(DecisionRead):
    link_id: int = Field(description="the person's contact link: GET /v1/contacts/{link_id}/decisions")
    email: str = Field(description="the person's email, as the sync compares it")


class SyncDecisionPage(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "items": [
                        {"id": 90211, "link_id": 1187, "email": "pat@example.com", "...": "..."}
                    ],
                    "next_before_id": 90180,
                }
            ]
        }
    }

    items: list[SyncDecisionRead] = Field(description="newest first")
    next_before_id: int | None = Field(description="pass as before_id for the next (older) page; None: done")


def _columns(row: object) -> dict[str, Any]:
    return {attribute.key: attribute.value for attribute in inspect(row).attrs}


async def sync_decisions(
    session: AsyncSession, sync_id: uuid.UUID, *, limit: int = 50, before_id: int | None = None
) -> SyncDecisionPage:
    """The sync's decisions about everyone, newest first: what it has been doing lately."""
    if await syncs.sync_by_id(session, sync_id) is None:
        raise NotFound(f"no sync {sync_id}")
    size = min(limit, MAX_PAGE)
    rows = await decisions.decisions_of_sync(session, sync_id, limit=size + 1, before_id=before_id)
    page = rows[:size]
    return SyncDecisionPage(
        items=[
            SyncDecisionRead.model_validate({**_columns(decision), "email": email})
            for decision, email in page
        ],
        next_before_id=page[-1][0].id if len(rows) > size and page else None,
    )


async def find_links(
    session: AsyncSession, *, email: str | None = None, sync_id: uuid.UUID | None = None, limit: int = 50
) -> list[ContactLinkRead]:
    """Links by email (compared as the sync compares them: trimmed, lower-case) and/or sync."""
    found = await links.links_matching(
        session,
        limit=min(limit, MAX_PAGE),
        email=None if email is None else (normalize_email(email) or ""),
        sync_id=sync_id,
    )
    return [ContactLinkRead.model_validate(r) for r in found]


async def link_decisions(
    session: AsyncSession, link_id: int, *, limit: int = 50, before_id: int | None = None
) -> DecisionPage:
    link = await links.link_by_id(session, link_id)
    if link is None:
        raise NotFound(f"no contact link {link_id}; find one with GET /v1/contacts?email=...")
    size = min(limit, MAX_PAGE)
    rows = await decisions.decisions_of_link(session, link_id, limit=size + 1, before_id=before_id)
    page = rows[:size]
    return DecisionPage(
        link=ContactLinkRead.model_validate(link),
        items=[DecisionRead.model_validate(r) for r in page],
        next_before_id=page[-1].id if len(rows) > size and page else None,
    )
