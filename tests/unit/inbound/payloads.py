"""Builders of what the vendors send: Outbound Message envelopes, CDC events, GetResponse webhooks.

Shared by the parser tests here and the endpoint tests in tests/integration/inbound, so that both
speak of the same payloads; shapes follow api-contracts A1, A2 and B9.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import string
import time
from typing import Any
from xml.sax.saxutils import escape

from simulators.salesforce import ids

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"
ORG_ID = "00D5g0000SfGrSmEQK"
OVERFLOW_RECORD_ID = "000000000000000AAA"


def new_id(prefix: str) -> str:
    """A valid 18-character Salesforce id with this key prefix."""
    body = "".join(random.choices(string.ascii_letters + string.digits, k=12))
    return ids.to18(prefix + body)


def notification(
    record_id: str,
    fields: dict[str, str | None],
    *,
    object_type: str = "Lead",
    notification_id: str | None = None,
) -> str:
    lines = [f"<sf:Id>{record_id}</sf:Id>"]
    for name, value in fields.items():
        if value is None:
            lines.append(f'<sf:{name} xsi:nil="true"/>')
        else:
            lines.append(f"<sf:{name}>{escape(value)}</sf:{name}>")
    return (
        "<Notification>"
        f"<Id>{notification_id or new_id('04l')}</Id>"
        f'<sObject xsi:type="sf:{object_type}" xmlns:sf="{SOBJECT_NS}">{"".join(lines)}</sObject>'
        "</Notification>"
    )


def outbound_envelope(
    notifications: list[str], *, org_id: str = ORG_ID, namespace: str = OUTBOUND_NS, prolog: str = ""
) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"{prolog}"
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body>"
        f'<notifications xmlns="{namespace}">'
        f"<OrganizationId>{org_id}</OrganizationId>"
        "<ActionId>04k5g00000SfGrLAAV</ActionId>"
        '<SessionId xsi:nil="true"/>'
        f"<EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/62.0/{org_id[:15]}</EnterpriseUrl>"
        f"<PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/62.0/{org_id[:15]}</PartnerUrl>"
        f"{''.join(notifications)}"
        "</notifications>"
        "</soapenv:Body>"
        "</soapenv:Envelope>"
    ).encode()


BILLION_LAUGHS = (
    '<?xml version="1.0"?>'
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]>"
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}"><soapenv:Body>&lol9;</soapenv:Body></soapenv:Envelope>'
).encode()

XXE = (
    '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}"><soapenv:Body>'
    f'<notifications xmlns="{OUTBOUND_NS}"><OrganizationId>&xxe;</OrganizationId></notifications>'
    "</soapenv:Body></soapenv:Envelope>"
).encode()

EXTERNAL_DTD = (
    '<?xml version="1.0"?><!DOCTYPE soapenv:Envelope SYSTEM "http://127.0.0.1:9/evil.dtd">'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}"><soapenv:Body/></soapenv:Envelope>'
).encode()


def cdc_event(
    entity: str,
    change_type: str,
    record_ids: list[str],
    fields: dict[str, Any] | None = None,
    *,
    changed_fields: list[str] | None = None,
    origin: str = "",
    replay_id: int | None = 1398411,
    commit_ms: int = 1714557600000,
    transaction_key: str = "0002a1b2-0000-0000-0000-000000000000",
    sequence: int = 1,
) -> dict[str, Any]:
    header = {
        "entityName": entity,
        "recordIds": record_ids,
        "changeType": change_type,
        "changeOrigin": origin,
        "transactionKey": transaction_key,
        "sequenceNumber": sequence,
        "commitTimestamp": commit_ms,
        "commitNumber": 10924536284919,
        "commitUser": "0055g00000SfGrUAAV",
        "changedFields": changed_fields or [],
        "nulledFields": [],
        "diffFields": [],
    }
    event: dict[str, Any] = {"schema": "sG5QY3gR2mUZ2VQ4m8Wqvw", "payload": {"ChangeEventHeader": header, **(fields or {})}}
    if replay_id is not None:
        event["event"] = {"replayId": replay_id}
    return event


def event_relay_envelope(
    event: dict[str, Any], *, org_id: str = ORG_ID, channel_id: str = "0YL5g0000008OiZGAU",
    envelope_id: str = "9c1b5b7e-6f2e-4f61-9b0e-3c1f6f3b2a10",
) -> dict[str, Any]:
    """What an EventBridge API destination POSTs for one relayed change event (api-contracts A6);
    `event` is a CometD event of `cdc_event`, whose payload goes to `detail.payload`."""
    header = event["payload"]["ChangeEventHeader"]
    return {
        "version": "0",
        "id": envelope_id,
        "detail-type": f"{header['entityName']}ChangeEvent",
        "source": f"aws.partner/salesforce.com/{org_id}/{channel_id}",
        "account": "123456789012",
        "time": "2024-05-01T10:00:00Z",
        "region": "eu-central-1",
        "resources": [],
        "detail": {"payload": event["payload"]},
    }


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def json_body(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def webhook_event(
    event_type: str,
    *,
    contact_id: str = "pVyRW",
    campaign_id: str = "bcd234",
    email: str = "pat@example.com",
    name: str | None = "Pat Lee",
    account_id: str = "sfgrAcct1",
    occurred_at: str = "2021-04-27T12:56:00+00:00",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": event_type,
        "contact": {
            "contactId": contact_id,
            "email": email,
            "name": name,
            "campaign": {
                "campaignId": campaign_id,
                "name": "list",
                "href": f"https://api.getresponse.com/v3/campaigns/{campaign_id}",
            },
            "href": f"https://api.getresponse.com/v3/contacts/{contact_id}",
        },
        **extra,
        "account": {"accountId": account_id},
        "event": {"occurredAt": occurred_at},
    }
