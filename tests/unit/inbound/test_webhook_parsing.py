"""GetResponse webhooks (api-contracts B9, C12): "contact X on list Y changed" events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain.events import Kind, Source, Transport
from app.inbound.errors import InboundRejected
from app.inbound.webhooks import ParsedWebhook, parse_webhook
from tests.unit.inbound.payloads import json_body, webhook_event

ACCOUNT = "sfgrAcct1"


def parse(document: object, webhook_id: str | None = "2b5a8c7e-0000-4000-8000-000000000001") -> ParsedWebhook:
    return parse_webhook(json_body(document), webhook_id=webhook_id, connection_id="g-1", account_id=ACCOUNT)


def rejected(document: object, **kwargs: str | None) -> InboundRejected:
    with pytest.raises(InboundRejected) as caught:
        parse(document, **kwargs)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [
        ("contact_added", Kind.SUBSCRIBED),
        ("contact_removed_link", Kind.UNSUBSCRIBED),
        ("contact_removed_bounce", Kind.REMOVED),
        ("contact_removed", Kind.REMOVED),
        ("contact_custom_field_changed", Kind.REREAD),
        ("contact_email_changed", Kind.REREAD),
        ("contact_moved", Kind.REREAD),
    ],
)
def test_each_contact_event_type_has_its_kind(event_type: str, kind: Kind) -> None:
    [event] = parse(webhook_event(event_type)).events
    assert event.kind is kind
    assert (event.source, event.transport, event.object_type) == (Source.GETRESPONSE, Transport.WEBHOOK, "contact")


def test_a_subscription_names_the_contact_the_list_and_the_email() -> None:
    [event] = parse(webhook_event("contact_added", contact_id="abc123", campaign_id="Xy9", email="zoë@example.com",
                                  name="Zoë Żak")).events
    assert event.event_id == "gr-webhook:2b5a8c7e-0000-4000-8000-000000000001"
    assert (event.record_id, event.campaign_id, event.email, event.connection_id) == (
        "abc123", "Xy9", "zoë@example.com", "g-1")
    assert event.fields == {"email": "zoë@example.com", "name": "Zoë Żak"}
    assert event.source_timestamp == datetime(2021, 4, 27, 12, 56, tzinfo=UTC)
    assert event.detail == {"type": "contact_added", "account_id": ACCOUNT}


def test_what_a_reread_event_itself_says_goes_into_detail() -> None:
    custom = {"customFieldId": "n3", "name": "country", "href": "h", "values": ["Poland"]}
    [field_event] = parse(webhook_event("contact_custom_field_changed", customField=custom)).events
    assert field_event.detail["custom_field"] == custom
    assert "customFieldValues" not in field_event.fields
    [email_event] = parse(webhook_event("contact_email_changed", email="new@example.com",
                                        emailChange={"oldEmail": "old@example.com", "newEmail": "new@example.com"})).events
    assert email_event.email == "new@example.com"
    assert email_event.detail["email_change"] == {"oldEmail": "old@example.com", "newEmail": "new@example.com"}
    [moved] = parse(webhook_event("contact_moved", campaign_id="to1", sourceCampaign={"campaignId": "from1"})).events
    assert (moved.campaign_id, moved.detail["source_campaign_id"]) == ("to1", "from1")


def test_an_array_gives_one_event_per_element_with_stable_ids() -> None:
    document = [webhook_event("contact_added", contact_id=f"c{i}") for i in range(3)]
    first, again = parse(document), parse(document)
    assert [e.event_id for e in first.events] == [f"gr-webhook:2b5a8c7e-0000-4000-8000-000000000001:{i}" for i in range(3)]
    assert [e.event_id for e in again.events] == [e.event_id for e in first.events]


def test_without_a_webhook_id_the_event_id_is_derived_from_the_body() -> None:
    document = webhook_event("contact_added")
    [one] = parse(document, webhook_id=None).events
    [two] = parse(document, webhook_id=None).events
    assert one.event_id == two.event_id
    assert one.event_id.startswith("gr-webhook:sha256:")


def test_engagement_and_unknown_types_are_ignored_not_refused() -> None:
    parsed = parse([webhook_event("contact_opened_message"), webhook_event("contact_teleported"),
                    webhook_event("contact_added")])
    assert [(i.type, i.reason) for i in parsed.ignored] == [
        ("contact_opened_message", "not_a_contact_change"), ("contact_teleported", "unknown_type")]
    assert [e.kind for e in parsed.events] == [Kind.SUBSCRIBED]


def test_an_event_of_another_account_is_forbidden() -> None:
    problem = rejected(webhook_event("contact_added", account_id="someoneElse"))
    assert (problem.status, problem.reason) == (403, "wrong_account")


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"contact": {}}, "no type"),
        ("just a string", "must be a JSON object"),
        ({"type": "contact_added", "account": {"accountId": ACCOUNT}}, "contact must be a JSON object"),
        ({**webhook_event("contact_added"), "contact": {"contactId": "a", "campaign": {}}}, "campaignId"),
        ({**webhook_event("contact_added"), "contact": {"contactId": "../x", "campaign": {"campaignId": "b"}}},
         "contactId"),
        (webhook_event("contact_added", occurred_at="last tuesday"), "occurredAt"),
    ],
    ids=["no-type", "not-object", "no-contact", "no-campaign", "bad-contact-id", "bad-time"],
)
def test_payloads_of_another_shape_are_refused_with_what_is_wrong(document: object, expected: str) -> None:
    problem = rejected(document)
    assert problem.status == 400
    assert expected in problem.message


def test_a_malformed_webhook_id_is_refused() -> None:
    assert rejected(webhook_event("contact_added"), webhook_id="a b\n").reason == "bad_webhook_id"
