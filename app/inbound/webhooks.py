"""GetResponse webhooks into `ChangeEvent`s (api-contracts B9, C12).

A body is one event object or a JSON array of them (batching is UNCONFIRMED, so both are read).
Each event says "contact X on list Y changed"; the kind follows the `type`:

- `contact_added` -> subscribed;
- `contact_removed_link` (the person unsubscribed) -> unsubscribed;
- `contact_removed_bounce`, `contact_removed` (bounced, deleted) -> removed;
- `contact_custom_field_changed`, `contact_email_changed`, `contact_moved` -> reread: the payload
  carries one field or none of the contact's fields, so the consumer reads the contact; what the
  event itself says goes into `detail` (`custom_field`, `email_change`, `source_campaign_id`).

The exact type strings are UNCONFIRMED in B9; these are the ones public integrations quote, as the
GetResponse simulator sends them. Engagement events (`contact_opened_message`,
`contact_clicked_message_link`, ...) and any unknown type are accepted but not published, so a new
vendor type never turns into retries; they are counted and logged by the router.

The event id is `gr-webhook:<X-Webhook-ID>` (the vendor repeats the id on retries, so a retry makes
the same event id), with `:<position>` when one request carries several events; without the
header it is derived from the body's SHA-256, which a retry repeats too. `fields` holds the
contact's `email` and `name` as sent, never a partial `customFieldValues` (a partial set would
read as "the other custom fields are empty").
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.domain.events import ChangeEvent, Kind, Source, Transport
from app.inbound.errors import InboundRejected
from app.inbound.json_payload import decode_json
from app.inbound.timestamps import parse_vendor_datetime

KINDS: Mapping[str, Kind] = {
    "contact_added": Kind.SUBSCRIBED,
    "contact_removed_link": Kind.UNSUBSCRIBED,
    "contact_removed_bounce": Kind.REMOVED,
    "contact_removed": Kind.REMOVED,
    "contact_custom_field_changed": Kind.REREAD,
    "contact_email_changed": Kind.REREAD,
    "contact_moved": Kind.REREAD,
}
ENGAGEMENT_TYPES = frozenset(
    {"contact_opened_message", "contact_clicked_message_link", "contact_clicked_sms_link"}
)
_WEBHOOK_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_GETRESPONSE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class IgnoredEvent:
    type: str
    reason: str  # not_a_contact_change | unknown_type


@dataclass(frozen=True)
class ParsedWebhook:
    events: list[ChangeEvent]
    ignored: list[IgnoredEvent]


def _bad(message: str, reason: str = "bad_event") -> InboundRejected:
    return InboundRejected(400, reason, message)


def webhook_event_id(webhook_id: str | None, body: bytes) -> str:
    if webhook_id is None:
        return f"gr-webhook:sha256:{hashlib.sha256(body).hexdigest()[:40]}"
    if not _WEBHOOK_ID.fullmatch(webhook_id):
        raise _bad(f"X-Webhook-ID {webhook_id[:40]!r} is not a webhook id", "bad_webhook_id")
    return f"gr-webhook:{webhook_id}"


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(f"{what} must be a JSON object")
    return value


def _id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _GETRESPONSE_ID.fullmatch(value):
        raise _bad(f"{what} must be a GetResponse id; got {value!r:.40}")
    return value


def _optional_text(value: Any, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _bad(f"{what} must be a string or null")
    return value


def _detail(event: Mapping[str, Any], event_type: str, where: str) -> dict[str, Any]:
    detail: dict[str, Any] = {"type": event_type}
    account = event.get("account")
    if isinstance(account, dict) and isinstance(account.get("accountId"), str):
        detail["account_id"] = account["accountId"]
    if event_type == "contact_custom_field_changed" and "customField" in event:
        detail["custom_field"] = _object(event["customField"], f"{where}: customField")
    if event_type == "contact_email_changed" and "emailChange" in event:
        detail["email_change"] = _object(event["emailChange"], f"{where}: emailChange")
    if event_type == "contact_moved" and "sourceCampaign" in event:
        source = _object(event["sourceCampaign"], f"{where}: sourceCampaign")
        detail["source_campaign_id"] = _id(source.get("campaignId"), f"{where}: sourceCampaign.campaignId")
    return detail


def _occurred_at(event: Mapping[str, Any], where: str) -> datetime | None:
    raw = event.get("event", {}).get("occurredAt") if isinstance(event.get("event"), dict) else None
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise _bad(f"{where}: event.occurredAt must be a string")
    try:
        return parse_vendor_datetime(raw)
    except ValueError as exc:
        raise _bad(f"{where}: event.occurredAt: {exc}") from None


def parse_webhook(
    body: bytes,
    *,
    webhook_id: str | None,
    connection_id: str,
    account_id: str,
    received_at: datetime | None = None,
) -> ParsedWebhook:
    """Raises InboundRejected: 400 for a payload of another shape, 403 for another account's event."""
    received = received_at or datetime.now(UTC)
    base_id = webhook_event_id(webhook_id, body)
    document = decode_json(body)
    items = document if isinstance(document, list) else [document]
    events: list[ChangeEvent] = []
    ignored: list[IgnoredEvent] = []
    for position, item in enumerate(items):
        where = f"event {position + 1}"
        event = _object(item, where)
        event_type = event.get("type")
        if not isinstance(event_type, str) or not event_type:
            raise _bad(f"{where} has no type")
        account = event.get("account")
        sender = account.get("accountId") if isinstance(account, dict) else None
        if sender is not None and sender != account_id:
            raise InboundRejected(
                403, "wrong_account", f"{where} comes from account {sender!r:.40}, not the connected account"
            )
        if event_type not in KINDS:
            reason = "not_a_contact_change" if event_type in ENGAGEMENT_TYPES else "unknown_type"
            ignored.append(IgnoredEvent(event_type[:100], reason))
            continue
        contact = _object(event.get("contact"), f"{where}: contact")
        campaign = _object(contact.get("campaign"), f"{where}: contact.campaign")
        email = _optional_text(contact.get("email"), f"{where}: contact.email")
        fields = {key: _optional_text(contact[key], f"{where}: contact.{key}")
                  for key in ("email", "name") if key in contact}
        events.append(
            ChangeEvent(
                event_id=base_id if len(items) == 1 else f"{base_id}:{position}",
                source=Source.GETRESPONSE,
                transport=Transport.WEBHOOK,
                kind=KINDS[event_type],
                connection_id=connection_id,
                object_type="contact",
                record_id=_id(contact.get("contactId"), f"{where}: contact.contactId"),
                campaign_id=_id(campaign.get("campaignId"), f"{where}: contact.campaign.campaignId"),
                email=email or None,
                fields=fields,
                source_timestamp=_occurred_at(event, where),
                received_at=received,
                detail=_detail(event, event_type, where),
            )
        )
    return ParsedWebhook(events, ignored)
