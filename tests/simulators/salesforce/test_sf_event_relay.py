"""Event Relay as an EventBridge API destination delivers it (api-contracts A6): one POST per change
event, the envelope around the event, the API key header, and EventBridge's retry policy."""

from __future__ import annotations

import json
import time
from typing import Any

from simulators.salesforce.relay_forms import layout
from tests.fixtures.polling import eventually
from tests.simulators.salesforce.harness import Receiver, SalesforceSim

KEY = "relay-api-key"


def _relay(sim: SalesforceSim, receiver: Receiver, **config: object) -> dict[str, Any]:
    return sim.configure(event_relay_url=f"{receiver.url}/relay", event_relay_key=KEY, **config)


def _envelopes(sim: SalesforceSim, receiver: Receiver, count: int) -> list[dict[str, Any]]:
    eventually(lambda: len(receiver.at("/relay")) >= count)
    sim.wait_idle()
    return [json.loads(post.body) for post in receiver.at("/relay")]


def test_each_change_event_is_one_post_of_an_eventbridge_envelope_with_the_api_key(
    sim: SalesforceSim, receiver: Receiver
) -> None:
    config = _relay(sim, receiver)
    lead_id = sim.create(FirstName="Pat", Email="pat@example.com")
    [envelope] = _envelopes(sim, receiver, 1)
    [post] = receiver.at("/relay")
    assert post.headers["x-sfgr-api-key"] == KEY
    assert post.headers["content-type"] == "application/json; charset=utf-8"
    assert post.headers["user-agent"] == "Amazon/EventBridge/ApiDestinations"
    assert "x-sfgr-signature" not in post.headers  # an API destination cannot sign
    assert set(envelope) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources",
                             "detail"}
    assert envelope["version"] == "0" and envelope["detail-type"] == "LeadChangeEvent"
    assert envelope["source"] == f"aws.partner/salesforce.com/{config['org_id']}/{config['event_relay_channel_id']}"
    assert envelope["time"].endswith("Z") and envelope["resources"] == []
    payload = envelope["detail"]["payload"]
    header = payload["ChangeEventHeader"]
    assert (header["entityName"], header["changeType"], header["recordIds"]) == ("Lead", "CREATE", [lead_id])
    assert abs(header["commitTimestamp"] - time.time() * 1000) < 60_000
    assert payload["Name"] == {"FirstName": "Pat", "LastName": "Lee"} and payload["Email"] == "pat@example.com"
    assert payload["CreatedDate"].endswith("Z")


def test_a_transaction_of_several_events_is_several_posts_in_order(sim: SalesforceSim, receiver: Receiver) -> None:
    _relay(sim, receiver)
    records = [{"attributes": {"type": "Lead"}, "LastName": name, "Company": "C"} for name in ("A", "B")]
    sim.api.post("/composite/sobjects", json={"records": records})
    first, second = _envelopes(sim, receiver, 2)
    headers = [e["detail"]["payload"]["ChangeEventHeader"] for e in (first, second)]
    assert headers[0]["transactionKey"] == headers[1]["transactionKey"]
    assert [h["sequenceNumber"] for h in headers] == [1, 2]


def test_the_relay_works_with_the_cometd_relay_off_and_alongside_it(sim: SalesforceSim, receiver: Receiver) -> None:
    _relay(sim, receiver)
    sim.create()
    _envelopes(sim, receiver, 1)
    assert receiver.at("/cdc") == []
    sim.configure(cdc_url=f"{receiver.url}/cdc")
    sim.create()
    eventually(lambda: len(receiver.at("/cdc")) == 1 and len(receiver.at("/relay")) == 2)


def test_gap_events_are_relayed_too(sim: SalesforceSim, receiver: Receiver) -> None:
    lead_id = sim.create()
    _relay(sim, receiver)
    sim.http.post("/_sim/cdc/gap", json={"entity": "Lead", "changeType": "GAP_UPDATE", "recordIds": [lead_id]})
    [envelope] = _envelopes(sim, receiver, 1)
    assert envelope["detail"]["payload"]["ChangeEventHeader"]["changeType"] == "GAP_UPDATE"


def test_429_and_5xx_are_retried_with_a_new_envelope_id_and_another_4xx_is_final(
    sim: SalesforceSim, receiver: Receiver
) -> None:
    _relay(sim, receiver)
    receiver.reply("/relay", (503, "{}", "application/json"), (429, "{}", "application/json"))
    sim.create()
    retried = _envelopes(sim, receiver, 3)
    assert len({e["id"] for e in retried}) == 3  # UNCONFIRMED in A6: the stricter choice
    assert len({json.dumps(e["detail"]) for e in retried}) == 1
    receiver.reset()
    receiver.reply("/relay", (401, '{"status": "ERROR"}', "application/json"))
    sim.create()
    eventually(lambda: len(receiver.at("/relay")) >= 1)
    sim.wait_idle()
    assert len(receiver.at("/relay")) == 1
    attempts = [a for a in sim.http.get("/_sim/deliveries").json() if a["kind"] == "event_relay"]
    assert [(a["status"], a["acknowledged"]) for a in attempts] == [(503, False), (429, False), (200, True),
                                                                   (401, False)]


def test_the_key_header_name_is_configurable(sim: SalesforceSim, receiver: Receiver) -> None:
    _relay(sim, receiver, event_relay_key_header="X-Relay-Key")
    sim.create()
    _envelopes(sim, receiver, 1)
    [post] = receiver.at("/relay")
    assert post.headers["x-relay-key"] == KEY and "x-sfgr-api-key" not in post.headers
    assert sim.http.post("/_sim/config", json={"event_relay_key_header": "Bad Header"}).status_code == 422


def _bits(bitmap: str) -> set[int]:
    value = int(bitmap.split("-")[-1], 16)
    return {i for i in range(value.bit_length()) if value >> i & 1}


def test_in_pubsub_form_every_field_is_present_with_bitmaps_and_epoch_ms(
    sim: SalesforceSim, receiver: Receiver
) -> None:
    lead_id = sim.create(FirstName="Pat", Phone="123", City="Gdansk")
    _relay(sim, receiver, event_relay_form="pubsub")
    sim.api.patch(f"/sobjects/Lead/{lead_id}", json={"FirstName": "Patricia", "Phone": None})
    [envelope] = _envelopes(sim, receiver, 1)
    payload = envelope["detail"]["payload"]
    header = payload.pop("ChangeEventHeader")
    slots = [slot.name for slot in layout("Lead")]
    assert list(payload) == slots  # every field, in the schema's order
    assert payload["Name"] == {"LastName": None, "FirstName": "Patricia"}
    assert payload["Phone"] is None and payload["Address"] is None and payload["Email"] is None  # unchanged: null
    assert abs(payload["LastModifiedDate"] - time.time() * 1000) < 60_000  # epoch ms
    changed_top, *nested = header["changedFields"]
    position = {name: i for i, name in enumerate(slots, start=1)}
    assert _bits(changed_top) == {position["Name"], position["Phone"], position["LastModifiedDate"]}
    assert nested == [f"{position['Name']}-0x2"]  # FirstName: the Name record's second component
    assert _bits(header["nulledFields"][0]) == {position["Phone"]}


def test_a_create_in_pubsub_form_has_no_bitmaps_and_nulls_for_empty_fields(
    sim: SalesforceSim, receiver: Receiver
) -> None:
    _relay(sim, receiver, event_relay_form="pubsub")
    sim.create(Email="pat@example.com")
    [envelope] = _envelopes(sim, receiver, 1)
    payload = envelope["detail"]["payload"]
    assert payload["ChangeEventHeader"]["changedFields"] == []
    assert payload["Email"] == "pat@example.com" and payload["Phone"] is None
    assert payload["Name"] == {"LastName": "Lee", "FirstName": None}
    assert isinstance(payload["CreatedDate"], int)
