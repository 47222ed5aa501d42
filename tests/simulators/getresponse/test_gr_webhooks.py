"""Webhooks: which events, their shape, acknowledgement and retries (api-contracts B9, C12)."""

from __future__ import annotations

import itertools
import re
import uuid

import pytest

from devstack.ports import free_port
from simulators.getresponse import seed
from simulators.getresponse.config import GetResponseSimConfig
from tests.fixtures.polling import eventually
from tests.simulators.getresponse.harness import WEBHOOK_SECRET, GetResponseHarness, Reply

OCCURRED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")
NO_BODY = b""


def test_an_api_create_sends_contact_added_once_it_is_visible(gr: GetResponseHarness) -> None:
    gr.configure(account_id="acc42")
    contact_id = gr.create("hook@example.com", name="Hook")
    (request,) = gr.receiver.wait_for(1)
    assert request.path == "/hooks" and request.query == {"secret": WEBHOOK_SECRET}
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-webhook-type"] == "contact_added"
    uuid.UUID(request.headers["x-webhook-id"])
    uuid.UUID(request.headers["x-request-id"])
    payload = request.body
    assert payload["type"] == "contact_added"
    assert payload["account"] == {"accountId": "acc42"}
    assert OCCURRED_AT.match(payload["event"]["occurredAt"])
    assert payload["contact"] == {
        "contactId": contact_id,
        "email": "hook@example.com",
        "name": "Hook",
        "campaign": {
            "campaignId": seed.DEFAULT_CAMPAIGN_ID,
            "name": "sfgr_main",
            "href": f"https://api.getresponse.com/v3/campaigns/{seed.DEFAULT_CAMPAIGN_ID}",
        },
        "href": f"https://api.getresponse.com/v3/contacts/{contact_id}",
    }


def test_a_form_subscription_sends_contact_added(gr: GetResponseHarness) -> None:
    contact_id = gr.subscribe("form@example.com")
    (request,) = gr.receiver.wait_for(1)
    assert request.body["type"] == "contact_added" and request.body["contact"]["contactId"] == contact_id


@pytest.mark.parametrize(
    ("how", "event_type"),
    [("unsubscribe", "contact_removed_link"), ("bounce", "contact_removed_bounce")],
)
def test_leaving_the_list_sends_its_event(gr: GetResponseHarness, how: str, event_type: str) -> None:
    contact_id = gr.subscribe("leave@example.com")
    gr.control.post(f"/contacts/{contact_id}/{how}").raise_for_status()
    requests = gr.receiver.wait_for(2)
    assert requests[1].headers["x-webhook-type"] == event_type
    assert requests[1].body["contact"]["contactId"] == contact_id


def test_deletes_send_removal_or_unsubscribe(gr: GetResponseHarness) -> None:
    api_deleted = gr.subscribe("del@example.com")
    ui_deleted = gr.subscribe("ui@example.com")
    with_message = gr.subscribe("msg@example.com")
    gr.api.delete(f"/contacts/{api_deleted}")
    gr.control.delete(f"/contacts/{ui_deleted}")
    gr.api.delete(f"/contacts/{with_message}", params={"messageId": "m1"})
    gr.receiver.wait_for(6)
    gr.wait_idle()
    removals = {
        r.body["contact"]["contactId"]: r.body["type"]
        for r in gr.webhooks()
        if r.body["type"] != "contact_added"
    }
    assert removals == {
        api_deleted: "contact_removed",
        ui_deleted: "contact_removed",
        with_message: "contact_removed_link",
    }


def test_custom_field_changes_send_one_event_per_field(gr: GetResponseHarness) -> None:
    contact_id = gr.subscribe(
        "cf@example.com", customFieldValues=[{"customFieldId": seed.COMPANY_FIELD_ID, "value": ["Acme"]}]
    )
    body = {
        "customFieldValues": [
            {"customFieldId": seed.PHONE_FIELD_ID, "value": ["+48600100200"]},
            {"customFieldId": seed.COUNTRY_FIELD_ID, "value": ["Poland"]},
        ]
    }
    gr.api.post(f"/contacts/{contact_id}", json=body)  # replaces: company removed, two set
    gr.receiver.wait_for(4)
    gr.wait_idle()
    changed = {
        r.body["customField"]["customFieldId"]: r.body["customField"]
        for r in gr.webhooks("contact_custom_field_changed")
    }
    assert changed[seed.COMPANY_FIELD_ID]["values"] == []
    assert changed[seed.PHONE_FIELD_ID] == {
        "customFieldId": seed.PHONE_FIELD_ID,
        "name": "phone",
        "href": f"https://api.getresponse.com/v3/custom-fields/{seed.PHONE_FIELD_ID}",
        "values": ["+48600100200"],
    }
    assert set(changed) == {seed.COMPANY_FIELD_ID, seed.PHONE_FIELD_ID, seed.COUNTRY_FIELD_ID}


def test_ui_custom_field_edit_sends_the_event(gr: GetResponseHarness) -> None:
    contact_id = gr.subscribe("uicf@example.com")
    edit = {"customFieldValues": [{"customFieldId": seed.LEAD_STATUS_FIELD_ID, "value": ["Working"]}]}
    gr.control.patch(f"/contacts/{contact_id}", json=edit).raise_for_status()
    requests = gr.receiver.wait_for(2)
    assert requests[1].body["type"] == "contact_custom_field_changed"
    assert requests[1].body["customField"]["values"] == ["Working"]


@pytest.mark.parametrize("through", ["api", "ui"])
def test_email_change_sends_old_and_new_email(gr: GetResponseHarness, through: str) -> None:
    contact_id = gr.subscribe("old@example.com")
    if through == "api":
        gr.api.post(f"/contacts/{contact_id}", json={"email": "new@example.com"}).raise_for_status()
    else:
        gr.control.patch(f"/contacts/{contact_id}", json={"email": "new@example.com"}).raise_for_status()
    requests = gr.receiver.wait_for(2)
    assert requests[1].body["type"] == "contact_email_changed"
    assert requests[1].body["emailChange"] == {"oldEmail": "old@example.com", "newEmail": "new@example.com"}
    assert requests[1].body["contact"]["email"] == "new@example.com"


def test_moving_to_another_list_sends_contact_moved(gr: GetResponseHarness) -> None:
    contact_id = gr.subscribe("mv@example.com")
    gr.api.post(f"/contacts/{contact_id}", json={"campaign": {"campaignId": seed.SECOND_CAMPAIGN_ID}})
    requests = gr.receiver.wait_for(2)
    assert requests[1].body["type"] == "contact_moved"
    assert requests[1].body["sourceCampaign"]["campaignId"] == seed.DEFAULT_CAMPAIGN_ID
    assert requests[1].body["contact"]["campaign"]["campaignId"] == seed.SECOND_CAMPAIGN_ID


def test_name_and_other_standard_edits_send_nothing(gr: GetResponseHarness) -> None:
    contact_id = gr.subscribe("quiet@example.com")
    gr.receiver.wait_for(1)
    gr.control.patch(f"/contacts/{contact_id}", json={"name": "New Name"}).raise_for_status()
    gr.api.post(
        f"/contacts/{contact_id}", json={"name": "API Name", "note": "n", "dayOfCycle": "1", "scoring": 3}
    )
    gr.api.post(f"/contacts/{contact_id}/tags", json={"tags": [{"tagId": seed.VIP_TAG_ID}]})
    gr.wait_idle()
    assert [r.body["type"] for r in gr.webhooks()] == ["contact_added"]


def test_resubscribing_gives_a_new_contact_and_contact_added(gr: GetResponseHarness) -> None:
    contact_id = gr.subscribe("back@example.com")
    gr.control.post(f"/contacts/{contact_id}/unsubscribe").raise_for_status()
    response = gr.control.post(f"/contacts/{contact_id}/resubscribe")
    assert response.status_code == 201
    new_id = response.json()["contactId"]
    assert new_id != contact_id
    requests = gr.receiver.wait_for(3)
    assert requests[2].body["type"] == "contact_added" and requests[2].body["contact"]["contactId"] == new_id
    assert gr.api.get(f"/contacts/{new_id}").status_code == 200
    again = gr.control.post("/contacts", json={"email": "back@example.com"})
    assert again.status_code == 409


def test_acknowledged_delivery_is_sent_once(gr: GetResponseHarness) -> None:
    gr.subscribe("once@example.com")
    gr.receiver.wait_for(1)
    gr.wait_idle()
    (attempt,) = gr.control.get("/deliveries").json()
    assert attempt["acknowledged"] is True and attempt["status"] == 200 and attempt["kind"] == "contact_added"


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, NO_BODY),
        Reply(200, b'{"status":"ok"}'),
        Reply(202, b"OK"),
        Reply(204, NO_BODY),
        Reply(429, b'{"status":"OK"}'),
        Reply(500, b'{"status":"OK"}'),
        Reply(503, NO_BODY),
    ],
    ids=["200-empty", "200-lowercase-ok", "202-text", "204", "429", "500", "503"],
)
def test_unacknowledged_deliveries_are_retried_three_more_times(gr: GetResponseHarness, reply: Reply) -> None:
    gr.receiver.default = reply
    gr.subscribe("retry@example.com")
    requests = gr.receiver.wait_for(4)
    gr.wait_idle()
    assert len(gr.receiver.requests) == 4
    assert len({r.headers["x-webhook-id"] for r in requests}) == 1
    assert len({r.headers["x-request-id"] for r in requests}) == 4
    assert all(r.body == requests[0].body for r in requests)


def test_retry_stops_at_the_first_acknowledgement(gr: GetResponseHarness) -> None:
    gr.receiver.answer(Reply(500), Reply(200, NO_BODY))
    gr.subscribe("third@example.com")
    gr.receiver.wait_for(3)
    gr.wait_idle()
    attempts = gr.control.get("/deliveries").json()
    assert [a["acknowledged"] for a in attempts] == [False, False, True]
    assert [a["attempt"] for a in attempts] == [1, 2, 3]


def test_retry_intervals_increase(gr: GetResponseHarness) -> None:
    gr.configure(webhook_retry_intervals_s=[20.0, 60.0, 150.0], delivery_time_scale=0.001)
    gr.receiver.default = Reply(500)
    gr.subscribe("slow@example.com")
    requests = gr.receiver.wait_for(4)
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(requests)]
    assert gaps[0] < gaps[1] < gaps[2]
    assert gaps[2] >= 0.14


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 301, 302, 307])
def test_no_retry_after_a_4xx_other_than_429_or_a_3xx(gr: GetResponseHarness, status: int) -> None:
    gr.receiver.default = Reply(
        status, b'{"status":"OK"}', headers={"Location": f"{gr.receiver_url}/elsewhere"}
    )
    gr.subscribe("no-retry@example.com")
    gr.receiver.wait_for(1)
    gr.wait_idle()
    assert [r.path for r in gr.receiver.requests] == ["/hooks"]  # the redirect was not followed
    (attempt,) = gr.control.get("/deliveries").json()
    assert attempt["status"] == status and attempt["acknowledged"] is False


def test_a_reply_later_than_the_timeout_is_retried(gr: GetResponseHarness) -> None:
    gr.configure(webhook_timeout_s=1.0, delivery_time_scale=1.0, webhook_retry_intervals_s=[0.01])
    gr.receiver.answer(Reply(delay_s=1.3))
    gr.subscribe("late@example.com")
    requests = gr.receiver.wait_for(2)
    gr.wait_idle()
    assert requests[0].headers["x-webhook-id"] == requests[1].headers["x-webhook-id"]
    attempts = gr.control.get("/deliveries").json()
    assert attempts[0]["status"] is None and "Timeout" in attempts[0]["error"]
    assert attempts[-1]["acknowledged"] is True


def test_the_timeout_scales_with_the_retry_waits_but_not_below_one_second() -> None:
    assert GetResponseSimConfig(webhook_timeout_s=5, delivery_time_scale=1).webhook_timeout() == 5
    assert GetResponseSimConfig(webhook_timeout_s=5, delivery_time_scale=0.5).webhook_timeout() == 2.5
    assert GetResponseSimConfig(webhook_timeout_s=5, delivery_time_scale=0.01).webhook_timeout() == 1


def test_an_unreachable_endpoint_is_retried_then_dropped(gr: GetResponseHarness) -> None:
    gr.configure(webhook_url=f"http://127.0.0.1:{free_port()}/hooks")
    gr.subscribe("nobody@example.com")
    gr.wait_idle()
    attempts = gr.control.get("/deliveries").json()
    assert len(attempts) == 4 and all(a["error"] for a in attempts)


def test_deliveries_can_show_the_body(gr: GetResponseHarness) -> None:
    gr.subscribe("body@example.com")
    gr.wait_idle()
    (attempt,) = gr.control.get("/deliveries", params={"body": "true"}).json()
    assert '"contact_added"' in attempt["body"]
    assert gr.control.get("/deliveries", params={"since": 1}).json() == []


def test_batching_sends_events_of_one_type_as_a_json_array(gr: GetResponseHarness) -> None:
    gr.configure(webhook_batching=True, webhook_batch_window_ms=100)
    for i in range(3):
        gr.subscribe(f"batch{i}@example.com")
    (request,) = gr.receiver.wait_for(1)
    gr.wait_idle()
    assert len(gr.receiver.requests) == 1
    assert isinstance(request.body, list) and len(request.body) == 3
    assert {event["type"] for event in request.body} == {"contact_added"}
    assert request.headers["x-webhook-type"] == "contact_added"


def test_without_a_webhook_url_nothing_is_sent(gr: GetResponseHarness) -> None:
    gr.configure(webhook_url=None)
    gr.subscribe("silent@example.com")
    gr.wait_idle()
    assert gr.receiver.requests == [] and gr.control.get("/deliveries").json() == []


def test_idle_waits_for_pending_creates_and_deliveries(gr: GetResponseHarness) -> None:
    gr.configure(create_delay_ms=150)
    gr.receiver.answer(Reply(delay_s=0.2))
    gr.api.post("/contacts", json=gr.contact_body("idle@example.com"))
    assert gr.control.get("/idle").json() == {"idle": False}
    eventually(lambda: gr.receiver.requests, what="the delivery to start")
    assert gr.control.get("/idle").json() == {"idle": False}
    gr.wait_idle()
    assert gr.control.get("/deliveries").json()[0]["acknowledged"] is True
