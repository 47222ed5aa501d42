"""Change Data Capture events, logged for the retention window, posted to a relay endpoint as
CometD-shaped JSON (api-contracts A2, C2), and handed to Event Relay (event_relay.py) when
`event_relay_url` is set.

Every commit touching a selected entity is logged (event_log.py), whatever else is configured:
the Pub/Sub API server (pubsub.py) reads the same events from the log. With a `cdc_url`, each
commit also becomes one POST to it: a JSON array of
`{"schema", "payload": {"ChangeEventHeader": {...}, ...fields}, "event": {"replayId"}}`, one
element per event, in commit order, signed at every attempt with
`X-Sfgr-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed by cdc_secret>`.
Non-2xx answers and network errors are retried (10 s doubling to 30 min) for the 72 h retention
window; delays and window are multiplied by `delivery_time_scale`. Retries can overtake newer
posts, so the relay must not assume order across POSTs.

Body rules (CometD transport, A2 "Body contents by operation"):
- CREATE and UNDELETE carry every non-empty field plus the system fields; UPDATE carries only
  the changed fields plus LastModifiedDate (listed in `changedFields`, set-to-null fields as
  null, LastModifiedById only when it changed); DELETE carries no field;
- `Name` and the addresses are nested (`"Name": {"FirstName": ..., "LastName": ...}`) and their
  components appear in `changedFields` as `Name.FirstName`, `Address.City`, `MailingAddress.Country`;
- `Id` (it is in `recordIds`), `IsDeleted` and `SystemModstamp` are never in the body;
- date-times are `2024-05-01T10:00:00.000Z`; `commitTimestamp` is epoch milliseconds;
- `changeOrigin` is `com/salesforce/api/rest/<ver>[;client=<id>]` for REST writes (the id from
  `Sforce-Call-Options`) and empty for UI (control-API) changes;
- events of one transaction share `transactionKey`, numbered by `sequenceNumber`; identical changes
  to several records of one transaction are merged into one event with several `recordIds`;
- `replayId` increases but skips values (never contiguous);
- gap events (`GAP_CREATE`...`GAP_UNDELETE`) and `GAP_OVERFLOW` (recordIds
  `["000000000000000AAA"]`) carry the header only; they are made on demand (`POST /_sim/cdc/gap`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from simulators.common.deliveries import Deliverer, Delivery
from simulators.salesforce import schema, timefmt
from simulators.salesforce.config import SalesforceSimConfig
from simulators.salesforce.event_log import EventLog
from simulators.salesforce.event_relay import EventRelay
from simulators.salesforce.store import Change, Commit

GAP_TYPES = ("GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW")
OVERFLOW_RECORD_ID = "000000000000000AAA"
FIRST_RETRY_S = 10.0
MAX_RETRY_S = 1800.0
RETENTION_S = 72 * 3600.0
ATTEMPT_TIMEOUT_S = 60.0
_SKIPPED = {"Id", "IsDeleted", "SystemModstamp"}


def schema_id(entity: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(entity.encode()).digest()).decode()[:22]


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _wire(value: Any) -> Any:
    if isinstance(value, datetime):
        return timefmt.iso_z(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def body_fields(change: Change) -> tuple[dict[str, Any], list[str]]:
    """The event body's fields and `changedFields` for one record change."""
    sobject = schema.SOBJECTS[change.sobject]
    if change.kind == "DELETE":
        return {}, []
    if change.kind == "UPDATE":
        names = [n for n in change.changed if n not in _SKIPPED]
        if "LastModifiedDate" not in names:
            names.append("LastModifiedDate")
    else:
        names = [f.name for f in sobject.stored if change.values.get(f.name) is not None]
    fields: dict[str, Any] = {}
    changed: list[str] = []
    for name in names:
        definition = sobject.field(name)
        if definition is None or name in _SKIPPED or not definition.in_change_events:
            continue
        value = _wire(change.values.get(name))
        if definition.compound:
            fields.setdefault(definition.compound, {})[definition.component] = value
            changed.append(f"{definition.compound}.{definition.component}")
        else:
            fields[name] = value
            changed.append(name)
    return fields, changed if change.kind == "UPDATE" else []


class ChangeEvents:
    def __init__(
        self, *, config: Callable[[], SalesforceSimConfig], deliverer: Deliverer, log: EventLog
    ) -> None:
        self._config = config
        self._deliverer = deliverer
        self.log = log
        self._event_relay = EventRelay(config=config, deliverer=deliverer)
        self._replay = random.randrange(1_000_000, 9_000_000)

    def _next_replay_id(self) -> int:
        self._replay += random.randint(1, 5)
        return self._replay

    def on_commit(self, commit: Commit) -> None:
        config = self._config()
        events: list[tuple[dict[str, Any], dict[str, Any], Change]] = []  # (header, fields, first change)
        for change in commit.changes:
            if change.sobject not in config.cdc_entities:
                continue
            fields, changed = body_fields(change)
            for header, existing, _ in events:
                if (
                    header["entityName"] == change.sobject
                    and header["changeType"] == change.kind
                    and (existing == fields and header["changedFields"] == changed)
                ):
                    header["recordIds"].append(change.record_id)
                    break
            else:
                header = self._header(change.sobject, change.kind, [change.record_id], commit, changed)
                events.append((header, fields, change))
        for sequence, (header, _, _) in enumerate(events, start=1):
            header["sequenceNumber"] = sequence
        posted = [self._event(h, f, commit.timestamp, c.values) for h, f, c in events]
        if posted:
            self._publish(commit.transaction_key, posted)

    def gap(
        self, *, entity: str, change_type: str, record_ids: list[str], user_id: str, now: datetime
    ) -> dict[str, Any]:
        commit = Commit((), str(uuid.uuid4()), now, 0, user_id, "")
        recipients = [OVERFLOW_RECORD_ID] if change_type == "GAP_OVERFLOW" else record_ids
        header = self._header(entity, change_type, recipients, commit, [])
        header["sequenceNumber"] = 1
        event = self._event(header, {}, now, {})
        self._publish(commit.transaction_key, [event])
        return event

    def _header(
        self, entity: str, kind: str, record_ids: list[str], commit: Commit, changed: list[str]
    ) -> dict[str, Any]:
        return {
            "entityName": entity,
            "recordIds": list(record_ids),
            "changeType": kind,
            "changeOrigin": commit.origin,
            "transactionKey": commit.transaction_key,
            "sequenceNumber": 0,
            "commitTimestamp": timefmt.epoch_ms(commit.timestamp),
            "commitNumber": commit.commit_number or random.randrange(10**12, 10**13),
            "commitUser": commit.user_id,
            "changedFields": changed,
            "nulledFields": [],
            "diffFields": [],
        }

    def _event(
        self, header: dict[str, Any], fields: dict[str, Any], committed_at: datetime, values: dict[str, Any]
    ) -> dict[str, Any]:
        """The CometD form of one event, logged (with the record's values, for Pub/Sub) as it is made."""
        replay = self._next_replay_id()
        self.log.append(replay, committed_at, header, dict(values))
        return {
            "schema": schema_id(header["entityName"]),
            "payload": {"ChangeEventHeader": header, **fields},
            "event": {"replayId": replay},
        }

    def _publish(self, key: str, events: list[dict[str, Any]]) -> None:
        self._event_relay.relay(events)
        config = self._config()
        if not config.cdc_url:
            return
        first_url = config.cdc_url or ""
        body = json.dumps(events, separators=(",", ":")).encode()
        scale = config.delivery_time_scale

        def render(attempt: int) -> tuple[str, bytes, dict[str, str]]:
            current = self._config()
            signature = sign(current.cdc_secret, body, int(time.time()))
            headers = {"Content-Type": "application/json", "X-Sfgr-Signature": signature}
            return current.cdc_url or first_url, body, headers

        self._deliverer.submit(
            Delivery(
                kind="cdc",
                key=key,
                render=render,
                acknowledged=lambda status, _reply: 200 <= status < 300,
                retry_delay=lambda attempt: min(FIRST_RETRY_S * 2 ** (attempt - 1), MAX_RETRY_S) * scale,
                max_age_s=RETENTION_S * scale,
                timeout_s=max(1.0, ATTEMPT_TIMEOUT_S * scale),
            )
        )
