"""Throttles, `X-RateLimit-*` headers and injected faults (api-contracts B10, checklist C11)."""

from __future__ import annotations

import asyncio
import re

import httpx

from simulators.getresponse.seed import DEFAULT_CAMPAIGN_ID
from tests.fixtures.polling import eventually
from tests.simulators.getresponse.harness import AUTH, GetResponseHarness, assert_error

RESET = re.compile(r"^\d+ seconds$")


def batch_body(email: str) -> dict[str, object]:
    return {"campaignId": DEFAULT_CAMPAIGN_ID, "contacts": [{"email": email}]}


def test_every_vendor_response_carries_the_rate_limit_headers(gr: GetResponseHarness) -> None:
    gr.configure(rate_per_window=500)
    responses = [
        gr.api.get("/campaigns"),
        gr.api.get("/contacts/unknown"),
        gr.api.post("/contacts", json={"email": "not-an-email"}),
        gr.api.post("/contacts", json=gr.contact_body("ok@example.com")),
    ]
    remaining = [int(r.headers["X-RateLimit-Remaining"]) for r in responses]
    for response in responses:
        assert response.headers["X-RateLimit-Limit"] == "500"
        assert RESET.match(response.headers["X-RateLimit-Reset"]), response.headers["X-RateLimit-Reset"]
    assert remaining == [499, 498, 497, 496]


def test_window_limit_gives_429_1015_with_the_documented_context(gr: GetResponseHarness) -> None:
    gr.configure(rate_per_window=3, window_seconds=120)
    for _ in range(3):
        assert gr.api.get("/campaigns").status_code == 200
    response = gr.api.get("/campaigns")
    body = assert_error(response, 429, 1015)
    assert body["context"]["currentLimit"] == 3
    assert isinstance(body["context"]["currentLimit"], int)
    assert RESET.match(body["context"]["timeToReset"])
    assert 0 < int(body["context"]["timeToReset"].split()[0]) <= 120
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert "Retry-After" not in response.headers


def test_a_new_window_lets_calls_through_again(gr: GetResponseHarness) -> None:
    gr.configure(rate_per_window=2, window_seconds=0.3)
    gr.api.get("/campaigns")
    gr.api.get("/campaigns")
    assert gr.api.get("/campaigns").status_code == 429
    response = _eventually_ok(gr)
    assert response.headers["X-RateLimit-Remaining"] == "1"


def _eventually_ok(gr: GetResponseHarness) -> httpx.Response:
    def probe() -> httpx.Response | None:
        response = gr.api.get("/campaigns")
        return response if response.status_code == 200 else None

    return eventually(probe, timeout=3, what="a new window")


def test_per_second_limit_gives_429_with_current_limit(gr: GetResponseHarness) -> None:
    gr.configure(rate_per_second=5)
    statuses = [gr.api.get("/campaigns").status_code for _ in range(6)]
    assert statuses[:5] == [200] * 5
    assert statuses[5] == 429
    body = assert_error(gr.api.get("/campaigns"), 429, 1015)
    assert body["context"] == {"currentLimit": 5, "timeToReset": "1 seconds"}


async def test_concurrency_limit_refuses_the_request_over_it(gr: GetResponseHarness) -> None:
    gr.configure(max_concurrent=2)
    gr.control.post("/faults", json={"latency_ms": 400}).raise_for_status()
    async with httpx.AsyncClient(base_url=f"{gr.url}/v3", headers=AUTH) as client:
        responses = await asyncio.gather(*(client.get("/campaigns") for _ in range(3)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 429]
    refused = next(r for r in responses if r.status_code == 429)
    assert assert_error(refused, 429, 1015)["context"]["currentLimit"] == 2


def test_batch_endpoint_allows_one_call_per_second(gr: GetResponseHarness) -> None:
    assert gr.api.post("/contacts/batch", json=batch_body("one@example.com")).status_code == 202
    body = assert_error(gr.api.post("/contacts/batch", json=batch_body("two@example.com")), 429, 1015)
    assert body["context"]["currentLimit"] == 1
    assert gr.api.get("/campaigns").status_code == 200  # other endpoints are not held back


def test_batch_endpoint_has_its_own_window(gr: GetResponseHarness) -> None:
    gr.configure(batch_rate_per_window=2, batch_rate_per_second=100)
    for i in range(2):
        assert gr.api.post("/contacts/batch", json=batch_body(f"b{i}@example.com")).status_code == 202
    body = assert_error(gr.api.post("/contacts/batch", json=batch_body("b3@example.com")), 429, 1015)
    assert body["context"]["currentLimit"] == 2


def test_injected_faults_speak_the_vendor_error_shape(gr: GetResponseHarness) -> None:
    gr.control.post("/faults", json={"error_rate": 1.0, "error_statuses": [503]}).raise_for_status()
    response = gr.api.get("/campaigns")
    assert_error(response, 503, 1)
    assert RESET.match(response.headers["X-RateLimit-Reset"])
    gr.control.post("/faults", json={"error_rate": 1.0, "error_statuses": [429]}).raise_for_status()
    assert_error(gr.api.get("/campaigns"), 429, 1015)


def test_faults_can_target_one_path_and_method(gr: GetResponseHarness) -> None:
    faults = {"error_rate": 1.0, "error_statuses": [500], "path_prefix": "/v3/contacts", "methods": ["POST"]}
    gr.control.post("/faults", json=faults).raise_for_status()
    assert gr.api.get("/contacts").status_code == 200
    assert_error(gr.api.post("/contacts", json=gr.contact_body("x@example.com")), 500, 1)
    assert gr.control.get("/faults").json()["error_rate"] == 1.0
    gr.control.post("/faults", json={}).raise_for_status()
    assert gr.api.post("/contacts", json=gr.contact_body("x@example.com")).status_code == 202


def test_faults_can_target_one_page_of_a_listing_by_its_query(gr: GetResponseHarness) -> None:
    faults = {"error_rate": 1.0, "error_statuses": [503], "path_prefix": "/v3/contacts", "methods": ["GET"],
              "query": {"page": "2"}}
    gr.control.post("/faults", json=faults).raise_for_status()
    assert gr.api.get("/contacts", params={"page": "1", "perPage": "1"}).status_code == 200
    assert gr.api.get("/contacts").status_code == 200
    assert_error(gr.api.get("/contacts", params={"perPage": "1", "page": "2"}), 503, 1)
    assert gr.api.get("/contacts", params={"page": "20"}).status_code == 200


def test_control_api_is_neither_throttled_nor_logged(gr: GetResponseHarness) -> None:
    gr.configure(rate_per_window=1)
    gr.api.get("/campaigns")
    for _ in range(5):
        assert gr.control.get("/idle").status_code == 200
    calls = gr.control.get("/calls").json()
    assert [(c["method"], c["path"], c["status"]) for c in calls] == [("GET", "/v3/campaigns", 200)]
    assert gr.api.get("/campaigns").status_code == 429
    assert gr.control.get("/calls", params={"since": 1}).json()[0]["status"] == 429
