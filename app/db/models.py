"""Tables of design.md: connections, syncs, contact links, and what keeps the sync honest.

A contact link ties one Salesforce record to one GetResponse contact within one sync, and holds
the *base*: per canonical field, the value both sides last agreed on with its source timestamp and
side (`{"email": {"value": "pat@example.com", "at": "2024-05-01T10:00:00.000Z", "source":
"salesforce"}}`). The three uniqueness rules keep a person linked at most once per sync.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.domain.jobs import JobKind, JobState, ResyncMode
from app.domain.sides import ObjectType, Side
from app.domain.states import ConnectionState, LinkState, SyncState


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSONB, list[str]: ARRAY(String), uuid.UUID: UUID(as_uuid=True)}


def _enum(values: type[StrEnum], length: int) -> Enum:
    """A StrEnum kept as its value in a VARCHAR of `length`: no database enum type and no check
    constraint, so a new member needs no migration; a row is read back as the enum member."""
    return Enum(
        values,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Connection(Base):
    """A connected Salesforce org or GetResponse account; credentials are Fernet-encrypted."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("kind", "external_id", name="uq_connections_kind_external_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[Side] = mapped_column(_enum(Side, 16))
    external_id: Mapped[str] = mapped_column(String(64))  # Salesforce org id, GetResponse account id
    api_base_url: Mapped[str] = mapped_column(Text)  # Salesforce instance URL, GetResponse API base
    auth_kind: Mapped[str] = mapped_column(String(32))  # oauth_web_server | jwt_bearer | api_key | oauth ...
    credentials: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted JSON
    inbound_secret: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted: ?key=, ?secret=, HMAC
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)  # environment, MAX domain, ...
    state: Mapped[ConnectionState] = mapped_column(
        _enum(ConnectionState, 16), default=ConnectionState.CONNECTED
    )
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class Sync(Base):
    """One sync per GetResponse list: what feeds it, who wins, and the field mapping."""

    __tablename__ = "syncs"
    # One sync per list, among those not cancelled: a cancelled sync keeps its links for audit
    # while the list gets a new sync.
    __table_args__ = (
        Index("uq_syncs_campaign_live", "campaign_id", unique=True, postgresql_where="state <> 'cancelled'"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    salesforce_connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id"))
    getresponse_connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id"))
    campaign_id: Mapped[str] = mapped_column(String(64))  # the GetResponse list
    salesforce_objects: Mapped[list[str]] = mapped_column(default=list)  # Lead, Contact
    soql_filter: Mapped[str | None] = mapped_column(Text)
    salesforce_campaign_id: Mapped[str | None] = mapped_column(String(18))
    # What GetResponse people become.
    create_as: Mapped[ObjectType] = mapped_column(_enum(ObjectType, 16), default=ObjectType.LEAD)
    lead_source: Mapped[str | None] = mapped_column(String(255))
    preferred_system: Mapped[Side] = mapped_column(_enum(Side, 16))
    marker_field: Mapped[str | None] = mapped_column(String(80))  # e.g. GRdeleted__c
    set_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)  # also HasOptedOutOfEmail
    mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[SyncState] = mapped_column(_enum(SyncState, 16), default=SyncState.DRAFT)
    # While paused: the state a resume goes back to.
    paused_from: Mapped[SyncState | None] = mapped_column(_enum(SyncState, 16))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class PausedChange(Base):
    """A live change for a paused sync, kept until the sync is resumed, then sent again (through the
    outbox) in the order it was kept."""

    __tablename__ = "paused_changes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)  # oldest first
    sync_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("syncs.id", ondelete="CASCADE"))
    event: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now()

    __table_args__ = (Index("ix_paused_changes_sync", "sync_id", "id"),)


class ContactLink(Base):
    __tablename__ = "contact_links"
    __table_args__ = (
        UniqueConstraint("sync_id", "salesforce_id", name="uq_links_sync_salesforce_id"),
        UniqueConstraint("sync_id", "getresponse_contact_id", name="uq_links_sync_getresponse_id"),
        UniqueConstraint("sync_id", "email_normalized", name="uq_links_sync_email"),
        Index("ix_links_pending_lookup", "next_lookup_at", postgresql_where="state = 'pending'"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    sync_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("syncs.id", ondelete="CASCADE"))
    state: Mapped[LinkState] = mapped_column(_enum(LinkState, 16), default=LinkState.PENDING)
    salesforce_id: Mapped[str | None] = mapped_column(String(18))
    salesforce_object: Mapped[str | None] = mapped_column(String(40))
    getresponse_contact_id: Mapped[str | None] = mapped_column(String(64))
    email_normalized: Mapped[str] = mapped_column(String(255))
    base: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Each side's own record timestamp when the base was last agreed: Salesforce LastModifiedDate
    # is the If-Unmodified-Since of our next PATCH; GetResponse changedOn lets a poll that reports
    # nothing newer than our own write end without a read.
    salesforce_modified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    getresponse_changed_on: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # GetResponse creates are asynchronous (202, no id): when to look the id up next, and how often
    # it was tried (api-contracts.md C8).
    pending_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Salesforce changes that arrived while the id was unknown: {"values": {...}, "at": iso}; they
    # are merged and written once the contact shows up.
    pending_changes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    next_lookup_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lookup_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The person left the GetResponse list (unsubscribed or removed): the marker is set in Salesforce.
    removed_from_list: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class ProcessedEvent(Base):
    """Event ids a consumer has fully applied: a re-delivered message changes nothing."""

    __tablename__ = "processed_events"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    processed_at: Mapped[datetime] = _now()

    __table_args__ = (Index("ix_processed_events_processed_at", "processed_at"),)


class PollerWatermark(Base):
    __tablename__ = "poller_watermarks"

    sync_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("syncs.id", ondelete="CASCADE"), primary_key=True)
    changed_on: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = _now()


class PubSubReplay(Base):
    """Where the Pub/Sub API subscriber stands on one channel of one org (consumers/subscriber.py)."""

    __tablename__ = "pubsub_replay"

    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(Text, primary_key=True)
    replay_id: Mapped[bytes] = mapped_column(LargeBinary)  # opaque: never read as a number (A5)
    last_commit_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heard_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class SyncJob(Base):
    """A first sync or a resync: state, scope, mode and progress; resumable after a crash."""

    __tablename__ = "sync_jobs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    sync_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("syncs.id", ondelete="CASCADE"))
    kind: Mapped[JobKind] = mapped_column(_enum(JobKind, 16))
    mode: Mapped[ResyncMode] = mapped_column(_enum(ResyncMode, 32), default=ResyncMode.RECONCILE)
    scope: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[JobState] = mapped_column(_enum(JobState, 16), default=JobState.QUEUED)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)
    errors: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cursor: Mapped[dict[str, Any]] = mapped_column(default=dict)  # where to resume
    created_at: Mapped[datetime] = _now()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_sync_jobs_sync_id", "sync_id"),)


class OutboxMessage(Base):
    """A Kafka message written in the transaction that made it (a job row and its request), sent
    by the relay (app/outbox.py) once that transaction committed. `sent_at` is set only after
    Kafka acknowledged; the partial index keeps the relay's look for unsent rows cheap."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)  # oldest first
    topic: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(Text)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[list[list[str]]] = mapped_column(JSONB)  # [[name, value], ...] in the message's order
    created_at: Mapped[datetime] = _now()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_outbox_unsent", "id", postgresql_where=text("sent_at IS NULL")),)


class RateBudget(Base):
    """A vendor account's call budget, shared by every process that calls the account
    (app/clients/shared_limits.py). Its row is the lock every lease change takes; a 429 seen by any
    process pauses all of them until `paused_until` (`batch_paused_until`: batch calls only)."""

    __tablename__ = "rate_budgets"

    account: Mapped[str] = mapped_column(Text, primary_key=True)  # "<api base>|<account id>"
    paused_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    batch_paused_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RateLease(Base):
    """One process's slice of an account's budget: the calls per second and concurrent calls it
    holds (never less than it may still be using), what it wants of each (indexed by priority:
    live, retry, background), and when the slice returns to the others unless renewed."""

    __tablename__ = "rate_budget_leases"

    account: Mapped[str] = mapped_column(
        Text, ForeignKey("rate_budgets.account", ondelete="CASCADE"), primary_key=True
    )
    holder: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    process: Mapped[str] = mapped_column(Text)  # "<host>:<pid>", for whoever reads the table
    per_second: Mapped[int] = mapped_column(Integer)
    concurrency: Mapped[int] = mapped_column(Integer)
    per_second_wants: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    concurrency_wants: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


DeadLetterStatus = Literal["open", "replayed", "discarded"]


class DeadLetter(Base):
    """A message that failed permanently: the event, why, and whether it was replayed or discarded."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    sync_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("syncs.id", ondelete="SET NULL"))
    topic: Mapped[str] = mapped_column(String(255))
    partition: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str | None] = mapped_column(String(255))
    event_id: Mapped[str | None] = mapped_column(String(255))
    event: Mapped[dict[str, Any]] = mapped_column()
    reason: Mapped[str] = mapped_column(Text)
    error_class: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = _now()
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    discarded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_dead_letters_created_at", "created_at"),)

    @property
    def status(self) -> DeadLetterStatus:
        return "discarded" if self.discarded_at else "replayed" if self.replayed_at else "open"

    @property
    def source(self) -> str | None:
        """The side the event came from; None for a malformed message (`{"raw": ...}`)."""
        source = self.event.get("source") if isinstance(self.event, dict) else None
        return source if isinstance(source, str) else None

    @property
    def replayable(self) -> bool:
        """Open, and holding an event: a malformed message has none to publish again."""
        return self.status == "open" and "raw" not in self.event


class Decision(Base):
    """Why a field holds its value: one row per field written or skipped."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("contact_links.id", ondelete="CASCADE"))
    sync_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("syncs.id", ondelete="CASCADE"))
    event_id: Mapped[str | None] = mapped_column(String(255))
    field: Mapped[str] = mapped_column(String(80))
    old_value: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # {"value": ...}, to keep JSON null apart
    new_value: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    winner: Mapped[str | None] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(40))
    write_to: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = _now()

    __table_args__ = (
        Index("ix_decisions_link_id", "link_id", "id"),
        Index("ix_decisions_sync_id", "sync_id", "id"),  # a sync's recent decisions, newest first
        Index("ix_decisions_created_at", "created_at"),  # retention finds old decisions by age
    )


class OAuthState(Base):
    """A Salesforce authorization in progress: the `state` sent to the login host (its SHA-256
    only), with the sealed PKCE verifier, until the callback takes it or it expires."""

    __tablename__ = "oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    environment: Mapped[str] = mapped_column(String(16))  # production | sandbox
    login_url: Mapped[str] = mapped_column(Text)  # where the code is exchanged
    redirect_uri: Mapped[str] = mapped_column(Text)  # sent again with the code, as OAuth requires
    code_verifier: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted
    # Who started it ({"kind", "id", "name"}): the callback comes back without them, authenticated
    # by the state alone, and the audit log names them as the ones who connected the org.
    started_by: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_oauth_states_expires_at", "expires_at"),)


class ApiToken(Base):
    """Control-API tokens: only the SHA-256 of the token is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = _now()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # null: never


class AuditEntry(Base):
    """One control-plane change: who (a token, or the command line), what, on what, and the
    change itself with its secrets redacted (app/control/audit.py)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = _now()
    actor_kind: Mapped[str] = mapped_column(String(16))  # token | cli | oauth_callback
    actor_id: Mapped[str | None] = mapped_column(String(64))  # the token's id
    actor_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))  # e.g. sync.create, connection.disconnect
    target_kind: Mapped[str] = mapped_column(String(32))  # connection, sync, job, dead_letter, token, keys
    target_id: Mapped[str | None] = mapped_column(String(64))
    change: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_target", "target_kind", "target_id", "id"),
    )
