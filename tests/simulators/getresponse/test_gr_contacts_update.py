"""Updating and deleting contacts; when `changedOn` moves (api-contracts B6, B9, checklist C9)."""

from __future__ import annotations

from typing import Any

from simulators.getresponse import seed
from tests.simulators.getresponse.harness import GetResponseHarness, assert_error

COMPANY = {"customFieldId": seed.COMPANY_FIELD_ID, "value": ["Acme"]}
PHONE = {"customFieldId": seed.PHONE_FIELD_ID, "value": ["+48600100200"]}
COUNTRY = {"customFieldId": seed.COUNTRY_FIELD_ID, "value": ["Poland"]}


def field_values(details: dict[str, Any]) -> dict[str, list[str]]:
    return {v["customFieldId"]: v["values"] for v in details["customFieldValues"]}


def exact_changed_on(gr: GetResponseHarness, contact_id: str) -> str:
    return str(gr.sim_contact(contact_id)["changedOnExact"])


def test_update_is_a_post_that_answers_with_the_full_details(gr: GetResponseHarness) -> None:
    contact_id = gr.create("up@example.com", name="Pat", note="keep me", customFieldValues=[COMPANY])
    response = gr.api.post(f"/contacts/{contact_id}", json={"name": "Pat Lee", "dayOfCycle": "3"})
    assert response.status_code == 200
    details = response.json()
    assert (details["name"], details["dayOfCycle"], details["note"]) == ("Pat Lee", "3", "keep me")
    assert field_values(details) == {seed.COMPANY_FIELD_ID: ["Acme"]}
    assert gr.api.get(f"/contacts/{contact_id}").json() == details


def test_custom_field_values_and_tags_replace_the_whole_set(gr: GetResponseHarness) -> None:
    contact_id = gr.create(
        "set@example.com", customFieldValues=[COMPANY, PHONE], tags=[{"tagId": seed.VIP_TAG_ID}]
    )
    details = gr.api.post(
        f"/contacts/{contact_id}",
        json={"customFieldValues": [COUNTRY], "tags": [{"tagId": seed.SYNCED_TAG_ID}]},
    ).json()
    assert field_values(details) == {seed.COUNTRY_FIELD_ID: ["Poland"]}
    assert [t["tagId"] for t in details["tags"]] == [seed.SYNCED_TAG_ID]
    cleared = gr.api.post(f"/contacts/{contact_id}", json={"customFieldValues": [], "tags": []}).json()
    assert cleared["customFieldValues"] == [] and cleared["tags"] == []


def test_update_validates_like_create(gr: GetResponseHarness) -> None:
    contact_id = gr.create("val@example.com", customFieldValues=[PHONE])
    bad_phone = {"customFieldValues": [{"customFieldId": seed.PHONE_FIELD_ID, "value": ["0048 600"]}]}
    assert_error(gr.api.post(f"/contacts/{contact_id}", json=bad_phone), 400, 1000)
    assert_error(gr.api.post(f"/contacts/{contact_id}", json={"email": "broken"}), 400, 1000)
    assert_error(gr.api.post(f"/contacts/{contact_id}", json={"email": None}), 400, 1000)
    assert_error(
        gr.api.post(f"/contacts/{contact_id}", json={"campaign": {"campaignId": "nope1"}}), 400, 1001
    )
    assert field_values(gr.api.get(f"/contacts/{contact_id}").json()) == {
        seed.PHONE_FIELD_ID: ["+48600100200"]
    }


def test_changing_the_list_moves_the_contact(gr: GetResponseHarness) -> None:
    contact_id = gr.create("move@example.com", customFieldValues=[COMPANY])
    body = {"campaign": {"campaignId": seed.SECOND_CAMPAIGN_ID}}
    details = gr.api.post(f"/contacts/{contact_id}", json=body).json()
    assert details["contactId"] == contact_id
    assert details["campaign"]["campaignId"] == seed.SECOND_CAMPAIGN_ID
    assert gr.find("move@example.com") is None
    assert gr.find("move@example.com", seed.SECOND_CAMPAIGN_ID) is not None


def test_an_email_taken_on_the_list_is_409_1008(gr: GetResponseHarness) -> None:
    first = gr.create("first@example.com")
    gr.create("second@example.com")
    assert_error(gr.api.post(f"/contacts/{first}", json={"email": "second@example.com"}), 409, 1008)
    other_list = gr.subscribe("first@example.com", campaignId=seed.SECOND_CAMPAIGN_ID)
    assert_error(gr.api.post(f"/contacts/{other_list}", json={"campaign": {"campaignId": seed.DEFAULT_CAMPAIGN_ID}}), 409, 1008)  # fmt: skip


def test_writes_to_a_gone_contact_are_404_1013(gr: GetResponseHarness) -> None:
    contact_id = gr.create("gone@example.com")
    assert gr.api.delete(f"/contacts/{contact_id}").status_code == 204
    for response in (
        gr.api.get(f"/contacts/{contact_id}"),
        gr.api.post(f"/contacts/{contact_id}", json={"name": "x"}),
        gr.api.post(f"/contacts/{contact_id}/custom-fields", json={"customFieldValues": [COMPANY]}),
        gr.api.delete(f"/contacts/{contact_id}"),
    ):
        assert assert_error(response, 404, 1013)["context"] == {"contactId": contact_id}


def test_custom_fields_upsert_keeps_the_other_values(gr: GetResponseHarness) -> None:
    contact_id = gr.create("ups@example.com", customFieldValues=[COMPANY, PHONE])
    new_company = {"customFieldId": seed.COMPANY_FIELD_ID, "value": ["Globex"]}
    response = gr.api.post(
        f"/contacts/{contact_id}/custom-fields", json={"customFieldValues": [new_company, COUNTRY]}
    )
    assert response.status_code == 200
    assert response.json() == [
        {"customFieldId": seed.COMPANY_FIELD_ID, "values": ["Globex"]},
        {"customFieldId": seed.PHONE_FIELD_ID, "values": ["+48600100200"]},
        {"customFieldId": seed.COUNTRY_FIELD_ID, "values": ["Poland"]},
    ]
    bad = {"customFieldValues": [{"customFieldId": seed.COUNTRY_FIELD_ID, "value": ["PL"]}]}
    assert_error(gr.api.post(f"/contacts/{contact_id}/custom-fields", json=bad), 400, 1000)


def test_tags_upsert_adds_without_removing(gr: GetResponseHarness) -> None:
    contact_id = gr.create("tags@example.com", tags=[{"tagId": seed.VIP_TAG_ID}])
    response = gr.api.post(f"/contacts/{contact_id}/tags", json={"tags": [{"tagId": seed.SYNCED_TAG_ID}]})
    assert response.status_code == 200
    assert [t["tagId"] for t in response.json()] == [seed.VIP_TAG_ID, seed.SYNCED_TAG_ID]
    assert_error(gr.api.post(f"/contacts/{contact_id}/tags", json={"tags": [{"tagId": "nope1"}]}), 400, 1001)


def test_delete_is_204_and_takes_message_id_and_ip_address(gr: GetResponseHarness) -> None:
    contact_id = gr.create("del@example.com")
    response = gr.api.delete(f"/contacts/{contact_id}", params={"messageId": "m1", "ipAddress": "1.2.3.4"})
    assert response.status_code == 204 and response.content == b""
    assert gr.sim_contact(contact_id)["state"] == "unsubscribed"
    other = gr.create("del2@example.com")
    assert_error(gr.api.delete(f"/contacts/{other}", params={"ipAddress": "nope"}), 400, 1000)
    gr.api.delete(f"/contacts/{other}")
    assert gr.sim_contact(other)["state"] == "removed"


def test_standard_field_edits_bump_changed_on(gr: GetResponseHarness) -> None:
    contact_id = gr.create("bump@example.com", name="Before")
    before = exact_changed_on(gr, contact_id)
    gr.api.post(f"/contacts/{contact_id}", json={"name": "After"})
    assert exact_changed_on(gr, contact_id) > before


def test_custom_field_only_edits_do_not_bump_changed_on_by_default(gr: GetResponseHarness) -> None:
    contact_id = gr.create("cf@example.com")
    before = exact_changed_on(gr, contact_id)
    gr.api.post(f"/contacts/{contact_id}", json={"customFieldValues": [COMPANY]})
    gr.api.post(f"/contacts/{contact_id}/custom-fields", json={"customFieldValues": [PHONE]})
    gr.api.post(f"/contacts/{contact_id}/tags", json={"tags": [{"tagId": seed.VIP_TAG_ID}]})
    assert exact_changed_on(gr, contact_id) == before


def test_the_config_flag_makes_custom_field_edits_bump_changed_on(gr: GetResponseHarness) -> None:
    gr.configure(custom_field_edits_bump_changed_on=True)
    contact_id = gr.create("cf2@example.com")
    before = exact_changed_on(gr, contact_id)
    gr.api.post(f"/contacts/{contact_id}/custom-fields", json={"customFieldValues": [COMPANY]})
    assert exact_changed_on(gr, contact_id) > before


def test_a_write_that_changes_nothing_bumps_nothing(gr: GetResponseHarness) -> None:
    contact_id = gr.create("same@example.com", name="Same", customFieldValues=[COMPANY])
    before = exact_changed_on(gr, contact_id)
    gr.api.post(f"/contacts/{contact_id}", json={"name": "Same", "customFieldValues": [COMPANY]})
    assert exact_changed_on(gr, contact_id) == before


def test_control_api_ui_edits_follow_the_same_rules(gr: GetResponseHarness) -> None:
    contact_id = gr.subscribe("ui@example.com", name="UI")
    before = exact_changed_on(gr, contact_id)
    response = gr.control.patch(f"/contacts/{contact_id}", json={"customFieldValues": [COMPANY]})
    assert response.status_code == 200
    assert exact_changed_on(gr, contact_id) == before
    gr.control.patch(f"/contacts/{contact_id}", json={"name": "Renamed"})
    after_rename = exact_changed_on(gr, contact_id)
    assert after_rename > before
    cleared = gr.control.patch(
        f"/contacts/{contact_id}",
        json={"customFieldValues": [{"customFieldId": seed.COMPANY_FIELD_ID, "value": []}]},
    ).json()
    assert cleared["customFieldValues"] == []
    details = gr.api.get(f"/contacts/{contact_id}").json()
    assert details["name"] == "Renamed" and details["customFieldValues"] == []
