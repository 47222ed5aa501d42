"""The canonical change event: what every inbound path publishes and every consumer reads.

It crosses a process boundary (Kafka), so it is a pydantic model with a schema version; the
serialised form is the contract between the api, the poller and the consumers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.domain.sides import Side

SCHEMA_VERSION: Literal[1] = 1

# `detail` key of a `reread` event saying that the record joined this Salesforce Campaign (a
# CampaignMember was created): only a sync whose group is that Campaign has anything to do.
CAMPAIGN_DETAIL = "joined_campaign"

# The system an event comes from is one of the two sides of a sync.
Source = Side


class Transport(StrEnum):
    OUTBOUND_MESSAGE = "outbound_message"
    CHANGE_DATA_CAPTURE = "change_data_capture"
    WEBHOOK = "webhook"
    POLLER = "poller"
    RESYNC = "resync"
    REPLAY = "replay"


class Kind(StrEnum):
    """What happened to the record, as far as the sender can tell.

    `changed` is "here is the record's latest state" (Outbound Messages send no operation, only
    state); `reread` is "something changed, read the record yourself" (CDC gap events, GetResponse
    webhooks and the poller, whose payloads do not carry the fields).
    """

    CREATED = "created"
    UPDATED = "updated"
    CHANGED = "changed"
    DELETED = "deleted"
    UNDELETED = "undeleted"
    REREAD = "reread"
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    REMOVED = "removed"


class ChangeEvent(BaseModel):
    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str = Field(min_length=1, max_length=255)
    source: Source
    transport: Transport
    kind: Kind
    connection_id: str | None = None
    sync_id: str | None = None
    object_type: str = Field(description="Lead, Contact (Salesforce) or contact (GetResponse)")
    record_id: str = Field(description="Salesforce Id or GetResponse contactId: the Kafka key")
    campaign_id: str | None = Field(None, description="GetResponse list, when known")
    email: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict, description="only the fields the sender sent")
    changed_fields: list[str] | None = None
    source_timestamp: datetime | None = None
    received_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    origin: str | None = Field(None, description="who made the change, e.g. a CDC changeOrigin")
    detail: dict[str, Any] = Field(default_factory=dict, description="sender-specific extras")

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> ChangeEvent:
        return cls.model_validate_json(raw)
