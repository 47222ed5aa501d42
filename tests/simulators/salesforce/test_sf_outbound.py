"""Outbound Messages: SOAP envelope, batching, acks, retries, latest state (api-contracts A1, C1)."""

from __future__ import annotations

import itertools
from xml.etree.ElementTree import Element

import pytest
from defusedxml import ElementTree

from simulators.salesforce import ids
from tests.fixtures.polling import eventually
from tests.simulators.salesforce.harness import ACK, Receiver, SalesforceSim

SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"
OUT = "{http://soap.sforce.com/2005/09/outbound}"
SF = "{urn:sobject.enterprise.soap.sforce.com}"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"


def _notifications(body: bytes) -> Element:
    root = ElementTree.fromstring(body)
    assert root.tag == f"{SOAP}Envelope"
    found = root.find(f"{SOAP}Body/{OUT}notifications")
    assert found is not None
    return found


def _records(body: bytes) -> dict[str, dict[str, str | None]]:
    """Notification id -> {field: text, or None when xsi:nil}."""
    out: dict[str, dict[str, str | None]] = {}
    for notification in _notifications(body).findall(f"{OUT}Notification"):
        sobject = notification.find(f"{OUT}sObject")
        assert sobject is not None
        fields = {
            child.tag.removeprefix(SF): (None if child.get(f"{XSI}nil") == "true" else child.text or "")
            for child in sobject
        }
        out[notification.findtext(f"{OUT}Id") or ""] = fields
    return out


def _outbound(sim: SalesforceSim, receiver: Receiver, **config: object) -> None:
    sim.configure(outbound_url=f"{receiver.url}/om?key=s3cret", **config)


def test_a_create_arrives_as_a_soap_notification_exactly_as_documented(sim: SalesforceSim, receiver: Receiver) -> None:
    _outbound(sim, receiver)
    lead_id = sim.create(FirstName="Pat", Email="pat@example.com")
    message = eventually(lambda: receiver.at("/om"))[0]
    assert message.query == "key=s3cret"
    assert message.headers["content-type"] == "text/xml; charset=utf-8"
    assert "soapaction" in message.headers
    raw = message.body.decode()
    assert 'xsi:type="sf:Lead"' in raw and 'xmlns:sf="urn:sobject.enterprise.soap.sforce.com"' in raw
    notifications = _notifications(message.body)
    config = sim.http.get("/_sim/config").json()
    assert [child.tag.removeprefix(OUT) for child in notifications][:5] == [
        "OrganizationId",
        "ActionId",
        "SessionId",
        "EnterpriseUrl",
        "PartnerUrl",
    ]
    assert notifications.findtext(f"{OUT}OrganizationId") == config["org_id"]
    assert ids.is_valid(notifications.findtext(f"{OUT}ActionId") or "", "04k")
    session = notifications.find(f"{OUT}SessionId")
    assert session is not None and session.get(f"{XSI}nil") == "true"
    org15 = config["org_id"][:15]
    assert notifications.findtext(f"{OUT}EnterpriseUrl") == f"{sim.url}/services/Soap/c/62.0/{org15}"
    assert notifications.findtext(f"{OUT}PartnerUrl") == f"{sim.url}/services/Soap/u/62.0/{org15}"
    [(notification_id, fields)] = _records(message.body).items()
    assert ids.is_valid(notification_id, "04l")
    assert fields["Id"] == lead_id and fields["Email"] == "pat@example.com" and fields["FirstName"] == "Pat"
    assert fields["Company"] == "Acme" and fields["HasOptedOutOfEmail"] == "false"
    assert fields["Phone"] is None and fields["GRdeleted__c"] == "false"  # nulls are xsi:nil elements
    assert fields["LastModifiedDate"] and fields["LastModifiedDate"].endswith("Z")
    assert set(fields) == {"Id", *config["outbound_fields"]["Lead"]}
    sim.wait_idle()
    attempts = sim.http.get("/_sim/deliveries").json()
    assert [(a["kind"], a["acknowledged"]) for a in attempts] == [("outbound", True)]


def test_changes_within_the_window_share_one_message_and_ui_edits_fire_too(
    sim: SalesforceSim, receiver: Receiver
) -> None:
    _outbound(sim, receiver, batch_window_ms=300)
    first = sim.create()
    second = sim.http.post("/_sim/records/Lead", json={"LastName": "Kim", "Company": "Beta"}).json()["id"]
    sim.api.patch(f"/sobjects/Lead/{first}", json={"Email": "pat@example.com"})
    sim.wait_idle()
    [message] = receiver.at("/om")
    records = list(_records(message.body).values())
    assert [r["Id"] for r in records] == [first, second, first]
    assert records[0]["Email"] == records[2]["Email"] == "pat@example.com"  # latest state only


def test_more_than_100_notifications_are_split(sim: SalesforceSim, receiver: Receiver) -> None:
    _outbound(sim, receiver, batch_window_ms=500)
    lead = {"attributes": {"type": "Lead"}, "LastName": "L", "Company": "C"}
    for _ in range(2):
        sim.api.post("/composite/sobjects", json={"records": [lead] * 75})
    sim.wait_idle()
    sizes = sorted(len(_records(m.body)) for m in receiver.at("/om"))
    assert sizes == [50, 100]


def test_deletes_and_undeletes_fire_no_outbound_message(sim: SalesforceSim, receiver: Receiver) -> None:
    lead_id = sim.create()
    _outbound(sim, receiver)
    sim.api.delete(f"/sobjects/Lead/{lead_id}")
    sim.http.post(f"/_sim/records/Lead/{lead_id}/undelete")
    sim.wait_idle()
    assert receiver.at("/om") == []


def test_only_objects_with_a_rule_send_messages(sim: SalesforceSim, receiver: Receiver) -> None:
    _outbound(sim, receiver, outbound_fields={"Contact": ["Email"]})
    sim.create()
    contact_id = sim.create("Contact", Email="kim@example.com")
    sim.wait_idle()
    [message] = receiver.at("/om")
    assert 'xsi:type="sf:Contact"' in message.body.decode()
    assert list(_records(message.body).values()) == [{"Id": contact_id, "Email": "kim@example.com"}]


UNQUALIFIED_ACK = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    '<out:notificationsResponse xmlns:out="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack>'
    "</out:notificationsResponse></soapenv:Body></soapenv:Envelope>"
)


@pytest.mark.parametrize(
    "reply",
    [
        (200, "OK", "text/plain"),
        (200, "", "text/xml"),
        (200, ACK.format(value="false"), "text/xml"),
        (200, UNQUALIFIED_ACK, "text/xml"),
        (200, '{"Ack": true}', "application/json"),
        (500, ACK.format(value="true"), "text/xml"),
        (503, "down", "text/plain"),
    ],
    ids=["bare-200", "empty", "ack-false", "ack-outside-namespace", "json", "ack-with-500", "503"],
)
def test_anything_but_a_soap_ack_true_is_retried(
    sim: SalesforceSim, receiver: Receiver, reply: tuple[int, str, str]
) -> None:
    _outbound(sim, receiver)
    receiver.reply("/om", reply)
    sim.create()
    sim.wait_idle()
    attempts = sim.http.get("/_sim/deliveries").json()
    assert [(a["attempt"], a["acknowledged"]) for a in attempts] == [(1, False), (2, True)]
    first, second = receiver.at("/om")
    assert set(_records(first.body)) == set(_records(second.body))  # a retry keeps its notification ids


def test_a_retry_carries_the_latest_state_under_the_same_notification_id(
    sim: SalesforceSim, receiver: Receiver
) -> None:
    _outbound(sim, receiver)
    receiver.reply("/om", *[(500, "down", "text/plain")] * 10_000)
    lead_id = sim.create(Email="first@example.com")
    first = eventually(lambda: receiver.at("/om"))[0]
    sim.api.patch(f"/sobjects/Lead/{lead_id}", json={"Email": "second@example.com"})
    eventually(lambda: [m for m in receiver.at("/om") if m.at > first.at and b"second@" in m.body])
    receiver.reset()  # the endpoint recovers
    sim.wait_idle()
    attempts = sim.http.get("/_sim/deliveries", params={"body": "true"}).json()
    original = [a for a in attempts if a["delivery_id"] == attempts[0]["delivery_id"]]
    assert original[-1]["acknowledged"] is True
    [(notification_id, fields)] = _records(original[-1]["body"].encode()).items()
    assert notification_id in _records(first.body)
    assert fields["Email"] == "second@example.com"


def test_ack_is_case_insensitive_true_or_1(sim: SalesforceSim, receiver: Receiver) -> None:
    _outbound(sim, receiver)
    receiver.reply(
        "/om", (200, ACK.format(value=" TRUE "), "text/xml"), (200, ACK.format(value="1"), "text/xml")
    )
    sim.create()
    eventually(lambda: receiver.at("/om"))
    sim.create()
    sim.wait_idle()
    assert len(receiver.at("/om")) == 2


def test_a_record_deleted_before_delivery_is_sent_with_its_id_alone(sim: SalesforceSim, receiver: Receiver) -> None:
    _outbound(sim, receiver)
    receiver.reply("/om", (503, "down", "text/plain"))
    lead_id = sim.create(Email="pat@example.com")
    eventually(lambda: receiver.at("/om"))
    sim.api.delete(f"/sobjects/Lead/{lead_id}")
    sim.wait_idle()
    last = receiver.at("/om")[-1]
    assert list(_records(last.body).values()) == [{"Id": lead_id}]


def test_undelivered_messages_back_off_and_are_dropped_after_24_scaled_hours(
    sim: SalesforceSim, receiver: Receiver
) -> None:
    scale = 0.00002  # 24 h -> 1.73 s; the 2 h cap between attempts -> 0.144 s
    _outbound(sim, receiver, delivery_time_scale=scale)
    receiver.reply("/om", *[(500, "down", "text/plain")] * 10_000)
    sim.create()
    sim.wait_idle(timeout=15)
    times = [m.at for m in receiver.at("/om")]
    assert len(times) > 5
    assert times[-1] - times[0] <= 24 * 3600 * scale + 0.3
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert max(gaps[-3:]) >= 0.1  # the delay grew to the (scaled) 2 h cap
    assert not any(a["acknowledged"] for a in sim.http.get("/_sim/deliveries").json())
    assert len(receiver.at("/om")) == len(times)  # dropped: nothing more is sent


def test_deliveries_can_be_read_with_bodies_and_from_a_sequence(sim: SalesforceSim, receiver: Receiver) -> None:
    _outbound(sim, receiver)
    sim.create()
    sim.wait_idle()
    sim.create()
    sim.wait_idle()
    everything = sim.http.get("/_sim/deliveries", params={"body": "true"}).json()
    assert len(everything) == 2 and "notifications" in everything[0]["body"]
    newer = sim.http.get("/_sim/deliveries", params={"since": 1}).json()
    assert [a["seq"] for a in newer] == [2] and "body" not in newer[0]


def test_duplicate_deliveries_repeat_the_same_notification_ids(sim: SalesforceSim, receiver: Receiver) -> None:
    _outbound(sim, receiver)
    sim.http.post("/_sim/faults", json={"delivery_duplicate_rate": 1.0})
    sim.create()
    sim.wait_idle()
    first, again = receiver.at("/om")
    assert _records(first.body) == _records(again.body)  # at least once: dedupe on the notification Id
    assert [a["duplicate"] for a in sim.http.get("/_sim/deliveries").json()] == [False, True]
