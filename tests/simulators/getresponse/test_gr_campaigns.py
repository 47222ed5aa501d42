"""Lists (campaigns) and tags (api-contracts B8)."""

from __future__ import annotations

import re

import pytest

from simulators.getresponse.seed import DEFAULT_CAMPAIGN_ID, SECOND_CAMPAIGN_ID, SYNCED_TAG_ID
from tests.simulators.getresponse.harness import GetResponseHarness, assert_error

API_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}$")


def test_seed_lists_with_string_booleans_and_paging_headers(gr: GetResponseHarness) -> None:
    response = gr.api.get("/campaigns")
    assert response.status_code == 200
    assert response.headers["TotalCount"] == "2"
    assert response.headers["CurrentPage"] == "1" and response.headers["TotalPages"] == "1"
    by_id = {c["campaignId"]: c for c in response.json()}
    assert by_id[DEFAULT_CAMPAIGN_ID]["isDefault"] == "true"
    assert by_id[SECOND_CAMPAIGN_ID]["isDefault"] == "false"
    element = by_id[DEFAULT_CAMPAIGN_ID]
    assert set(element) == {
        "campaignId", "href", "name", "techName", "languageCode", "isDefault", "createdOn", "description",
    }  # fmt: skip
    assert API_TIME.match(element["createdOn"])


def test_filters_and_sorting(gr: GetResponseHarness) -> None:
    defaults = gr.api.get("/campaigns", params={"query[isDefault]": "true"}).json()
    assert [c["campaignId"] for c in defaults] == [DEFAULT_CAMPAIGN_ID]
    named = gr.api.get("/campaigns", params={"query[name]": "SECOND"}).json()
    assert [c["campaignId"] for c in named] == [SECOND_CAMPAIGN_ID]
    names = [c["name"] for c in gr.api.get("/campaigns", params={"sort[name]": "DESC"}).json()]
    assert names == sorted(names, reverse=True)
    projected = gr.api.get("/campaigns", params={"fields": "name"}).json()
    assert all(set(c) == {"campaignId", "name"} for c in projected)


def test_bad_filters_are_refused(gr: GetResponseHarness) -> None:
    assert_error(gr.api.get("/campaigns", params={"query[isDefault]": "yes"}), 400, 1000)
    body = assert_error(gr.api.get("/campaigns", params={"query[techName]": "x"}), 400, 1000)
    assert body["context"]["errorDescription"] == "Not allowed search field"
    assert_error(gr.api.get("/campaigns", params={"sort[name]": "UP"}), 400, 1000)


def test_details_add_the_list_settings(gr: GetResponseHarness) -> None:
    details = gr.api.get(f"/campaigns/{DEFAULT_CAMPAIGN_ID}").json()
    for key in ("postal", "confirmation", "optinTypes", "subscriptionNotifications", "profile"):
        assert key in details
    assert set(details["optinTypes"]) == {"email", "api", "import", "webform"}
    body = assert_error(gr.api.get("/campaigns/nope1"), 404, 1013)
    assert body["context"] == {"campaignId": "nope1"}


def test_create_list_is_201_and_can_become_the_default(gr: GetResponseHarness) -> None:
    response = gr.api.post("/campaigns", json={"name": "spring_promo", "isDefault": "true"})
    assert response.status_code == 201
    created = response.json()
    assert created["name"] == "spring_promo" and created["isDefault"] == "true"
    assert gr.api.get(f"/campaigns/{created['campaignId']}").status_code == 200
    defaults = gr.api.get("/campaigns", params={"query[isDefault]": "true"}).json()
    assert [c["campaignId"] for c in defaults] == [created["campaignId"]]


@pytest.mark.parametrize(
    "name", ["ab", "x" * 65, "news/letter", "back\\slash", "at@list", "br[ack]et", "party 🎉"]
)
def test_list_name_rules(gr: GetResponseHarness, name: str) -> None:
    assert_error(gr.api.post("/campaigns", json={"name": name}), 400, 1000)


def test_list_names_are_unique(gr: GetResponseHarness) -> None:
    assert_error(gr.api.post("/campaigns", json={"name": "SFGR_MAIN"}), 409, 1008)


def test_is_default_must_be_a_string(gr: GetResponseHarness) -> None:
    assert_error(gr.api.post("/campaigns", json={"name": "bool_list", "isDefault": True}), 400, 1000)


def test_tags_can_be_listed_and_read(gr: GetResponseHarness) -> None:
    tags = gr.api.get("/tags").json()
    assert SYNCED_TAG_ID in {t["tagId"] for t in tags}
    assert gr.api.get(f"/tags/{SYNCED_TAG_ID}").json()["name"] == "sfgr_synced"
    assert_error(gr.api.get("/tags/nope1"), 404, 1013)
