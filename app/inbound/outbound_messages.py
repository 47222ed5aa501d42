"""Salesforce Outbound Messages (SOAP 1.1) into `ChangeEvent`s (api-contracts A1, C1).

Parsing refuses DTDs, entities and external references outright (defusedxml), so XXE and
"billion laughs" payloads fail at their DOCTYPE, before any expansion.

Each `Notification` becomes one event:
- event id: the notification `Id`, which Salesforce keeps across redeliveries (the dedupe key);
- kind `changed`: a notification carries the record's latest state, never the operation. One that
  carries only the record `Id` (the record was deleted before delivery, "the notification
  contains no data") becomes `reread`, so the consumer looks the record up itself;
- fields: exactly the elements sent, minus `Id` (it is the record id); `xsi:nil="true"` is an
  explicit null; values stay the strings Salesforce sent (`"true"`, `"12.50"`, dates): the
  consumer's mapping knows each field's type and coerces them, this module does not guess;
- source timestamp: `LastModifiedDate`, else `SystemModstamp`, when sent;
- the `SessionId` (a live Salesforce session when "Send Session ID" is on) is never published.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import fromstring

from app.domain.events import ChangeEvent, Kind, Source, Transport
from app.inbound.errors import InboundRejected
from app.inbound.soap import OUTBOUND_NS, SOAP_ENV_NS, XSI_NS
from app.inbound.timestamps import parse_vendor_datetime

MAX_NOTIFICATIONS = 100
TIMESTAMP_FIELDS = ("LastModifiedDate", "SystemModstamp")
_SOBJECT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
_FORBIDDEN: dict[type[DefusedXmlException], str] = {
    DTDForbidden: "a DOCTYPE (DTD)",
    EntitiesForbidden: "an entity declaration",
    ExternalReferenceForbidden: "an external reference",
}
_SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


@dataclass(frozen=True)
class OutboundNotification:
    notification_id: str
    object_type: str
    record_id: str
    fields: dict[str, str | None]
    source_timestamp: datetime | None


@dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    action_id: str | None
    notifications: tuple[OutboundNotification, ...]


def _bad(message: str, reason: str = "bad_message") -> InboundRejected:
    return InboundRejected(400, reason, message)


def _tag(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _local(element: Element) -> str:
    return element.tag.rpartition("}")[2]


def _text(parent: Element, name: str, where: str) -> str:
    child = parent.find(_tag(OUTBOUND_NS, name))
    text = (child.text or "").strip() if child is not None else ""
    if not text:
        raise _bad(f"{where} has no {name}")
    return text


def _parse_xml(body: bytes) -> Element:
    try:
        root: Element = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        what = next((name for kind, name in _FORBIDDEN.items() if isinstance(exc, kind)), "a DTD construct")
        raise _bad(
            f"the XML holds {what}, which is refused: DTDs, entities and external references are not allowed",
            "forbidden_xml",
        ) from None
    except ParseError as exc:
        raise _bad(f"the body is not well-formed XML: {exc}", "bad_xml") from None
    return root


def parse_outbound_message(body: bytes) -> OutboundMessage:
    """The message's org, action and notifications; raises InboundRejected(400) on any other shape."""
    envelope = _parse_xml(body)
    if envelope.tag != _tag(SOAP_ENV_NS, "Envelope"):
        raise _bad(f"the root element must be a SOAP 1.1 Envelope ({SOAP_ENV_NS}); got {envelope.tag:.120}",
                   "not_soap")
    soap_body = envelope.find(_tag(SOAP_ENV_NS, "Body"))
    if soap_body is None:
        raise _bad("the SOAP Envelope has no Body", "not_soap")
    notifications = soap_body.find(_tag(OUTBOUND_NS, "notifications"))
    if notifications is None:
        found = ", ".join(child.tag for child in soap_body[:3])[:200] or "nothing"
        if any(_local(child) == "notifications" for child in soap_body):
            raise _bad(f"the notifications element must be in the namespace {OUTBOUND_NS}; got {found}",
                       "wrong_namespace")
        raise _bad(f"the SOAP Body holds no notifications element of {OUTBOUND_NS}; got {found}")

    organization_id = _text(notifications, "OrganizationId", "the message")
    action = notifications.find(_tag(OUTBOUND_NS, "ActionId"))
    action_id = (action.text or "").strip() if action is not None else ""
    elements = notifications.findall(_tag(OUTBOUND_NS, "Notification"))
    if not elements:
        raise _bad("the message holds no Notification")
    if len(elements) > MAX_NOTIFICATIONS:
        raise _bad(
            f"the message holds {len(elements)} notifications; Salesforce sends at most {MAX_NOTIFICATIONS}",
            "too_many_notifications",
        )
    parsed = tuple(_notification(element, index) for index, element in enumerate(elements, start=1))
    return OutboundMessage(organization_id, action_id or None, parsed)


def _notification(element: Element, index: int) -> OutboundNotification:
    where = f"Notification {index}"
    notification_id = _text(element, "Id", where)
    if not _SALESFORCE_ID.fullmatch(notification_id):
        raise _bad(f"{where}: its Id must be 15 or 18 letters and digits; got {notification_id[:40]!r}")
    sobject = element.find(_tag(OUTBOUND_NS, "sObject"))
    if sobject is None:
        raise _bad(f"{where} ({notification_id}) has no sObject")
    where = f"{where} ({notification_id})"
    declared = sobject.get(_tag(XSI_NS, "type"), "")
    object_type = declared.rpartition(":")[2]
    if not _SOBJECT_NAME.fullmatch(object_type):
        raise _bad(f"{where}: the sObject's xsi:type must name an object like sf:Lead; got {declared!r}")
    fields: dict[str, str | None] = {}
    for child in sobject:
        name = _local(child)
        if len(child):
            raise _bad(f"{where}: field {name} holds elements; an Outbound Message field is a single value")
        if name in fields:
            raise _bad(f"{where}: field {name} appears twice")
        nil = child.get(_tag(XSI_NS, "nil"), "").strip() in {"true", "1"}
        fields[name] = None if nil else child.text or ""
    record_id = fields.pop("Id", None)
    if record_id is None or not _SALESFORCE_ID.fullmatch(record_id.strip()):
        raise _bad(f"{where}: the sObject needs an Id of 15 or 18 letters and digits; got {record_id!r:.40}")
    return OutboundNotification(
        notification_id, object_type, record_id.strip(), fields, _source_timestamp(fields, where)
    )


def _source_timestamp(fields: dict[str, str | None], where: str) -> datetime | None:
    for name in TIMESTAMP_FIELDS:
        raw = fields.get(name)
        if raw:
            try:
                return parse_vendor_datetime(raw)
            except ValueError as exc:
                raise _bad(f"{where}: {name}: {exc}") from None
    return None


def outbound_change_events(
    message: OutboundMessage, *, connection_id: str, received_at: datetime | None = None
) -> list[ChangeEvent]:
    received = received_at or datetime.now(UTC)
    events: list[ChangeEvent] = []
    for notification in message.notifications:
        email = notification.fields.get("Email")
        detail: dict[str, str] = {"organization_id": message.organization_id}
        if message.action_id:
            detail["action_id"] = message.action_id
        if not notification.fields:
            detail["reason"] = "the notification carries no data: the record was deleted before delivery"
        events.append(
            ChangeEvent(
                event_id=notification.notification_id,
                source=Source.SALESFORCE,
                transport=Transport.OUTBOUND_MESSAGE,
                kind=Kind.CHANGED if notification.fields else Kind.REREAD,
                connection_id=connection_id,
                object_type=notification.object_type,
                record_id=notification.record_id,
                email=email or None,
                fields=dict(notification.fields),
                source_timestamp=notification.source_timestamp,
                received_at=received,
                detail=detail,
            )
        )
    return events
