"""The states a connection, a sync and a contact link can be in, and the rules of decision-log
notes: one enum each, so that no module spells a state or a rule as a bare string.

Job states and kinds live with the job request, in `app/domain/jobs.py`; the rules of field
merges with the resolver, in `app/domain/resolver.py` (`Rule`).
"""

from __future__ import annotations

from enum import StrEnum


class ConnectionState(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class SyncState(StrEnum):
    DRAFT = "draft"  # created with first_sync: waits for POST /v1/syncs/{id}/first-sync
    FIRST_SYNC = "first_sync"  # its first sync runs; live changes already flow
    ACTIVE = "active"
    FAILING = "failing"  # its first sync failed; live changes still flow
    # Paused by an operator: live changes are kept (parked in Postgres), not applied, and applied in
    # order on resume; the poller does not poll it (on resume it reads on from its watermark).
    PAUSED = "paused"
    CANCELLED = "cancelled"  # keeps its links for audit; the list may get a new sync

    @property
    def live(self) -> bool:
        """Whether live changes are applied: a draft or cancelled sync ignores them."""
        return self in (SyncState.ACTIVE, SyncState.FIRST_SYNC, SyncState.FAILING)

    @property
    def listening(self) -> bool:
        """Whether live changes concern it at all: applied when live, kept when paused."""
        return self.live or self is SyncState.PAUSED


class LinkState(StrEnum):
    PENDING = "pending"  # claimed by email; or created in GetResponse, whose id is not known yet
    LINKED = "linked"
    DELETED = "deleted"  # deleted in Salesforce (off the list), or a create GetResponse rejected
    # Deleted in Salesforce while its GetResponse create was pending: the contact is removed from
    # the list once it shows up.
    REMOVING = "removing"


class NoteRule(StrEnum):
    """Why a decision-log note was written: what happened to a person, not to one field's value."""

    CREATED = "created"
    DELETED = "deleted"
    DUPLICATE = "duplicate"
    LINKED = "linked"
    CREATE_REJECTED = "create_rejected"
    NOT_ON_LIST = "not_on_list"
    NOT_WRITABLE = "not_writable"
    LEFT_LIST = "left_list"
    REMOVAL_UNCONFIRMED = "removal_unconfirmed"  # a removal GetResponse's own state contradicts
    BACK_ON_LIST = "back_on_list"
    JOINED_CAMPAIGN = "joined_campaign"
    CAMPAIGN_JOIN_FAILED = "campaign_join_failed"
    WRITE_FAILED = "write_failed"
