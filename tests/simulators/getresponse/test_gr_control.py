"""The `/_sim` control API and the command line."""

from __future__ import annotations

import subprocess
import sys

import httpx

from devstack.ports import free_port
from simulators.getresponse import seed
from tests.fixtures.polling import eventually
from tests.simulators.getresponse.harness import API_KEY, AUTH, GetResponseHarness, assert_error


def test_reset_clears_the_account_but_keeps_config_and_seeds(gr: GetResponseHarness) -> None:
    gr.configure(rate_per_window=5, create_delay_ms=10)
    gr.create("a@example.com")
    gr.api.post("/campaigns", json={"name": "temporary"})
    gr.control.post("/faults", json={"latency_ms": 5}).raise_for_status()
    gr.wait_idle()
    assert gr.control.post("/reset").json() == {"reset": True}
    assert gr.control.get("/contacts").json() == []
    assert gr.control.get("/calls").json() == []
    assert gr.control.get("/deliveries").json() == []
    assert gr.control.get("/faults").json()["latency_ms"] == 0
    assert gr.control.get("/config").json()["rate_per_window"] == 5
    campaigns = gr.api.get("/campaigns")
    assert {c["campaignId"] for c in campaigns.json()} == {seed.DEFAULT_CAMPAIGN_ID, seed.SECOND_CAMPAIGN_ID}
    assert campaigns.headers["X-RateLimit-Remaining"] == "4"  # the window started again


def test_contacts_listing_shows_every_state(gr: GetResponseHarness) -> None:
    gr.configure(create_delay_ms=500)
    active = gr.subscribe("active@example.com")
    left = gr.subscribe("left@example.com", campaignId=seed.SECOND_CAMPAIGN_ID)
    gr.control.post(f"/contacts/{left}/unsubscribe").raise_for_status()
    gr.api.post("/contacts", json=gr.contact_body("queued@example.com"))
    states = {
        c["email"]: (c["state"], c["campaign"]["campaignId"]) for c in gr.control.get("/contacts").json()
    }
    assert states == {
        "active@example.com": ("active", seed.DEFAULT_CAMPAIGN_ID),
        "left@example.com": ("unsubscribed", seed.SECOND_CAMPAIGN_ID),
        "queued@example.com": ("pending", seed.DEFAULT_CAMPAIGN_ID),
    }
    only = gr.control.get("/contacts", params={"email": "ACTIVE@example.com"}).json()
    assert [c["contactId"] for c in only] == [active]
    assert [c["email"] for c in gr.control.get("/contacts", params={"state": "unsubscribed"}).json()] == [
        "left@example.com"
    ]


def test_subscription_validates_like_the_api(gr: GetResponseHarness) -> None:
    assert_error(gr.control.post("/contacts", json={"email": "nope"}), 400, 1000)
    assert_error(
        gr.control.post("/contacts", json={"email": "a@example.com", "campaignId": "nope1"}), 400, 1001
    )
    bad_phone = {
        "email": "a@example.com",
        "customFieldValues": [{"customFieldId": seed.PHONE_FIELD_ID, "value": ["1"]}],
    }
    assert_error(gr.control.post("/contacts", json=bad_phone), 400, 1000)
    gr.subscribe("a@example.com")
    assert_error(gr.control.post("/contacts", json={"email": "a@example.com"}), 409, 1008)


def test_actions_on_contacts_that_left_or_do_not_exist(gr: GetResponseHarness) -> None:
    contact_id = gr.subscribe("x@example.com")
    gr.control.delete(f"/contacts/{contact_id}").raise_for_status()
    assert_error(gr.control.patch(f"/contacts/{contact_id}", json={"name": "y"}), 400, 1002)
    assert_error(gr.control.post(f"/contacts/{contact_id}/unsubscribe"), 400, 1002)
    assert_error(gr.control.get("/contacts/nope1"), 404, 1013)
    active = gr.subscribe("z@example.com")
    assert_error(gr.control.post(f"/contacts/{active}/resubscribe"), 400, 1002)


def test_config_is_a_validated_partial_update(gr: GetResponseHarness) -> None:
    updated = gr.configure(max_concurrent=3)
    assert updated["max_concurrent"] == 3 and updated["api_key"] == API_KEY
    assert_error(gr.control.post("/config", json={"max_concurrent": 0}), 400, 1000)
    assert_error(gr.control.post("/config", json={"no_such_setting": 1}), 400, 1000)
    assert gr.control.get("/config").json()["max_concurrent"] == 3


def test_a_new_api_key_applies_to_the_next_call(gr: GetResponseHarness) -> None:
    gr.configure(api_key="rotated")
    assert_error(gr.api.get("/campaigns"), 401, 1014)
    assert httpx.get(f"{gr.url}/v3/campaigns", headers={"X-Auth-Token": "api-key rotated"}).status_code == 200


def test_calls_are_logged_with_since(gr: GetResponseHarness) -> None:
    gr.api.get("/campaigns")
    gr.api.get("/contacts", params={"query[email]": "x"})
    calls = gr.control.get("/calls").json()
    assert [(c["seq"], c["method"], c["path"]) for c in calls] == [
        (1, "GET", "/v3/campaigns"),
        (2, "GET", "/v3/contacts"),
    ]
    assert "query%5Bemail%5D=x" in calls[1]["query"] or "query[email]=x" in calls[1]["query"]
    assert [c["seq"] for c in gr.control.get("/calls", params={"since": 1}).json()] == [2]


def test_command_line_runs_the_simulator_with_its_own_hrefs() -> None:
    port = free_port()
    args = [sys.executable, "-m", "simulators.getresponse", "--port", str(port), "--api-key", "cli-key"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:

        def campaigns() -> httpx.Response | None:
            try:
                return httpx.get(
                    f"http://127.0.0.1:{port}/v3/campaigns", headers={"X-Auth-Token": "api-key cli-key"}
                )
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                return None

        response = eventually(campaigns, timeout=20, what="the simulator process")
        assert response.status_code == 200
        assert response.json()[0]["href"].startswith(f"http://127.0.0.1:{port}/v3/campaigns/")
        assert httpx.get(f"http://127.0.0.1:{port}/v3/campaigns", headers=AUTH).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
