"""EventBridge's envelope around a relayed change event (api-contracts A6): the org of its source,
the change event in detail.payload, read by the one CDC reader."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.db.connections import InboundSecrets
from app.domain.events import Kind
from app.inbound.errors import InboundRejected
from app.inbound.event_relay import parse_event_relay, source_org_id
from tests.unit.inbound.payloads import ORG_ID, cdc_event, event_relay_envelope, json_body, new_id

CONNECTION = InboundSecrets(connection_id=uuid.uuid4(), external_id=ORG_ID, secrets={})


def parse(document: Any) -> list[Any]:
    return parse_event_relay(json_body(document), connection=CONNECTION, client_id="sfgr-sync").events


def refused(document: Any) -> InboundRejected:
    with pytest.raises(InboundRejected) as caught:
        parse(document)
    return caught.value


def test_the_change_event_in_detail_payload_is_read_with_an_id_from_its_transaction() -> None:
    lead = new_id("00Q")
    [event] = parse(event_relay_envelope(cdc_event("Lead", "UPDATE", [lead], {"Status": "Working"},
                                                   changed_fields=["Status"], transaction_key="tx-1", sequence=4)))
    assert (event.kind, event.record_id, event.fields) == (Kind.UPDATED, lead, {"Status": "Working"})
    assert event.event_id == f"cdc:tx-1:4:{lead}"
    assert event.connection_id == str(CONNECTION.connection_id)


def test_without_a_transaction_the_id_comes_from_a_replay_id_in_detail_else_from_the_envelope() -> None:
    lead = new_id("00Q")
    envelope = event_relay_envelope(cdc_event("Lead", "DELETE", [lead], transaction_key=None))  # type: ignore[arg-type]
    assert parse(envelope)[0].event_id == f"cdc:eventbridge:{envelope['id']}"
    envelope["detail"]["replayId"] = "AAAAAAAT2Hk="
    assert parse(envelope)[0].event_id == "cdc:AAAAAAAT2Hk="


@pytest.mark.parametrize(("source", "org"), [
    (f"aws.partner/salesforce.com/{ORG_ID}/0YL5g0000008OiZGAU", ORG_ID),
    (f"aws.partner/salesforce.com/{ORG_ID[:15]}/0YL5g0000008OiZ", ORG_ID[:15]),
])
def test_the_org_is_read_from_the_partner_event_source(source: str, org: str) -> None:
    assert source_org_id(source) == org


@pytest.mark.parametrize("org_id", ["00D5g0000OtherOrgAA", ORG_ID[:15].lower(), ORG_ID[:14]])
def test_an_event_of_another_org_is_forbidden(org_id: str) -> None:
    problem = refused(event_relay_envelope(cdc_event("Lead", "DELETE", [new_id("00Q")]), org_id=org_id))
    assert (problem.status, problem.reason) == (403, "wrong_org")


@pytest.mark.parametrize(("change", "words"), [
    ({"source": "aws.partner/appflow/salesforce.com/x"}, "not a Salesforce partner event source"),
    ({"source": f"aws.partner/salesforce.com/{ORG_ID}"}, "not a Salesforce partner event source"),
    ({"detail": {"payload": "not an object"}}, "detail.payload"),
    ({"detail": {}}, "detail.payload"),
    ({"id": ""}, "id"),
    ({"detail": {"payload": {"LastName": "Lee"}}}, "ChangeEventHeader"),
], ids=["appflow-source", "no-channel", "payload-not-object", "no-payload", "empty-id", "no-header"])
def test_a_body_that_is_no_relayed_change_event_is_a_bad_request(change: dict[str, Any], words: str) -> None:
    problem = refused(event_relay_envelope(cdc_event("Lead", "DELETE", [new_id("00Q")])) | change)
    assert problem.status == 400
    assert words in problem.message


def test_an_array_of_envelopes_is_a_bad_request() -> None:
    problem = refused([event_relay_envelope(cdc_event("Lead", "DELETE", [new_id("00Q")]))])
    assert (problem.status, problem.reason) == (400, "bad_envelope")
