"""Outbound Messages: workflow/flow SOAP notifications of saved records (api-contracts A1, C1).

- Fired on create and update (API or UI), never on delete or undelete: outbound messages are
  actions of rules evaluated on save. Lead conversion does not fire them either (workflow rules
  do not run on conversion unless the org opts in). Only object types present in
  `outbound_fields` have a rule.
- Every save makes one notification with its own `04l` id. Notifications of one object type that
  arrive within `batch_window_ms` travel together, at most 100 per SOAP message.
- Latest state only: the message is rendered at every attempt from the record as it is then, so a
  retry can carry newer data than the first attempt, under the same notification ids. A record
  deleted meanwhile is sent with its Id alone ("the notification contains no data").
- Null fields are sent as `<sf:Field xsi:nil="true"/>` (UNCONFIRMED in A1; the stricter choice,
  since a listener must then handle nil elements, not only absent ones).
- The message counts as delivered only on HTTP 200 with a SOAP `notificationsResponse` whose
  `Ack` (in the outbound namespace) is `true` or `1`; a bare 200, `Ack=false`, a fault, a timeout
  or any HTTP error is retried after 30 s, doubling up to 2 h between attempts, until the message
  is 24 h old, then dropped; each attempt may take 60 s. All of these times are multiplied by
  `delivery_time_scale` (the per-attempt timeout has a floor of 1 s).
- Headers: `Content-Type: text/xml; charset=utf-8`, `SOAPAction: ""` (the operation's soapAction in
  the outbound WSDL; the exact header is UNCONFIRMED) and a `User-Agent` naming the simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from defusedxml import ElementTree

from simulators.common.deliveries import Deliverer, Delivery
from simulators.salesforce import ids, render, schema, timefmt
from simulators.salesforce.config import SalesforceSimConfig
from simulators.salesforce.store import Commit, Store

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"
ACTION_IDS = {"Lead": "04k5g00000SfGrLAAV", "Contact": "04k5g00000SfGrCAAV"}
MAX_NOTIFICATIONS = 100
FIRST_RETRY_S = 30.0
MAX_RETRY_S = 2 * 3600.0
MAX_AGE_S = 24 * 3600.0
ATTEMPT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Notification:
    id: str
    record_id: str


def acknowledged(status: int, body: bytes) -> bool:
    if status != 200:
        return False
    try:
        root = ElementTree.fromstring(body)
    except Exception:  # any unparsable reply is "malformed", hence not an ack
        return False
    if root.tag != f"{{{SOAP_ENV_NS}}}Envelope":
        return False
    ack: Element | None = root.find(
        f"{{{SOAP_ENV_NS}}}Body/{{{OUTBOUND_NS}}}notificationsResponse/{{{OUTBOUND_NS}}}Ack"
    )
    return ack is not None and (ack.text or "").strip().lower() in {"true", "1"}


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return timefmt.iso_z(value)
    if isinstance(value, date):
        return value.isoformat()
    return escape(str(value))


class OutboundMessages:
    def __init__(
        self,
        *,
        config: Callable[[], SalesforceSimConfig],
        store: Store,
        deliverer: Deliverer,
        id_factory: ids.IdFactory,
        public_url: Callable[[], str],
        schedule: Callable[[float, Callable[[], None]], None],
    ) -> None:
        self._config = config
        self._store = store
        self._deliverer = deliverer
        self._ids = id_factory
        self._public_url = public_url
        self._schedule = schedule
        self._pending: dict[str, list[Notification]] = {}

    @property
    def pending(self) -> bool:
        return any(self._pending.values())

    def clear(self) -> None:
        self._pending.clear()

    def on_commit(self, commit: Commit) -> None:
        config = self._config()
        if not config.outbound_url:
            return
        for change in commit.changes:
            if change.kind not in {"CREATE", "UPDATE"} or not change.fires_rules:
                continue
            if change.sobject not in config.outbound_fields:
                continue
            queue = self._pending.setdefault(change.sobject, [])
            if not queue:
                self._schedule(config.batch_window_ms / 1000, partial(self._flush, change.sobject))
            queue.append(Notification(self._ids.new(ids.NOTIFICATION_PREFIX), change.record_id))

    def _flush(self, sobject: str) -> None:
        notifications = self._pending.pop(sobject, [])
        config = self._config()
        if not config.outbound_url:
            return
        scale = config.delivery_time_scale
        for start in range(0, len(notifications), MAX_NOTIFICATIONS):
            chunk = notifications[start : start + MAX_NOTIFICATIONS]
            self._deliverer.submit(
                Delivery(
                    kind="outbound",
                    key=f"{sobject}:{','.join(n.record_id for n in chunk)}",
                    render=self._renderer(sobject, chunk, config.outbound_url),
                    acknowledged=acknowledged,
                    retry_delay=lambda attempt: min(FIRST_RETRY_S * 2 ** (attempt - 1), MAX_RETRY_S) * scale,
                    max_age_s=MAX_AGE_S * scale,
                    timeout_s=max(1.0, ATTEMPT_TIMEOUT_S * scale),
                )
            )

    def _renderer(
        self, sobject: str, notifications: list[Notification], first_url: str
    ) -> Callable[[int], tuple[str, bytes, dict[str, str]]]:
        def render(attempt: int) -> tuple[str, bytes, dict[str, str]]:
            config = self._config()
            url = config.outbound_url or first_url
            headers = {
                "Content-Type": "text/xml; charset=utf-8",
                "SOAPAction": '""',
                "User-Agent": "Salesforce Outbound Messaging (sfgr-sync simulator)",
            }
            return url, self.envelope(sobject, notifications, config).encode("utf-8"), headers

        return render

    def envelope(self, sobject: str, notifications: list[Notification], config: SalesforceSimConfig) -> str:
        base = self._public_url()
        org15 = config.org_id[:15]
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
            ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
            " <soapenv:Body>",
            f'  <notifications xmlns="{OUTBOUND_NS}">',
            f"   <OrganizationId>{config.org_id}</OrganizationId>",
            f"   <ActionId>{ACTION_IDS[sobject]}</ActionId>",
            '   <SessionId xsi:nil="true"/>',
            f"   <EnterpriseUrl>{escape(base)}/services/Soap/c/{config.api_version}/{org15}</EnterpriseUrl>",
            f"   <PartnerUrl>{escape(base)}/services/Soap/u/{config.api_version}/{org15}</PartnerUrl>",
        ]
        fields = config.outbound_fields.get(sobject, ["Id"])
        for notification in notifications:
            lines += [
                "   <Notification>",
                f"    <Id>{notification.id}</Id>",
                f'    <sObject xsi:type="sf:{sobject}" xmlns:sf="{SOBJECT_NS}">',
                *self._fields(sobject, notification.record_id, fields),
                "    </sObject>",
                "   </Notification>",
            ]
        lines += ["  </notifications>", " </soapenv:Body>", "</soapenv:Envelope>", ""]
        return "\n".join(lines)

    def _fields(self, sobject: str, record_id: str, fields: list[str]) -> list[str]:
        record = self._store.get(sobject, record_id)
        out = [f"     <sf:Id>{record_id}</sf:Id>"]
        if record is None or record.deleted:
            return out
        definition = schema.SOBJECTS[sobject]
        for name in sorted(f for f in fields if f != "Id"):
            value = render.value_of(definition, record.values, name)
            if value is None:
                out.append(f'     <sf:{name} xsi:nil="true"/>')
            else:
                out.append(f"     <sf:{name}>{_xml_value(value)}</sf:{name}>")
        return out
