"""Authentication, GetResponse MAX and request bodies (api-contracts B5)."""

from __future__ import annotations

import httpx
import pytest

from tests.simulators.getresponse.harness import API_KEY, GetResponseHarness, assert_error


def call(gr: GetResponseHarness, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{gr.url}/v3/campaigns", headers=headers)


def test_api_key_with_the_literal_prefix_is_accepted(gr: GetResponseHarness) -> None:
    assert call(gr, {"X-Auth-Token": f"api-key {API_KEY}"}).status_code == 200


@pytest.mark.parametrize(
    "value",
    [API_KEY, f"Api-Key {API_KEY}", f"api-key  {API_KEY}", f"Bearer {API_KEY}", "api-key wrong-key"],
)
def test_api_key_without_the_exact_prefix_or_wrong_is_401_1014(gr: GetResponseHarness, value: str) -> None:
    body = assert_error(call(gr, {"X-Auth-Token": value}), 401, 1014)
    assert body["context"] == {"authenticationType": "auth_token"}


def test_missing_credentials_are_401_1014(gr: GetResponseHarness) -> None:
    body = assert_error(call(gr, {}), 401, 1014)
    assert body["context"] == {"authenticationType": "auth_token"}


def test_oauth_bearer_token_is_accepted_and_a_wrong_one_refused(gr: GetResponseHarness) -> None:
    gr.configure(oauth_tokens=["tok-1"])
    assert call(gr, {"Authorization": "Bearer tok-1"}).status_code == 200
    body = assert_error(call(gr, {"Authorization": "Bearer tok-2"}), 401, 1014)
    assert body["context"] == {"authenticationType": "oauth2"}
    assert_error(call(gr, {"Authorization": "bearer tok-1"}), 401, 1014)


def test_max_account_needs_x_domain_on_every_call(gr: GetResponseHarness) -> None:
    gr.configure(max_domain="example.com")
    auth = {"X-Auth-Token": f"api-key {API_KEY}"}
    assert_error(call(gr, auth), 401, 1014)
    assert_error(call(gr, {**auth, "X-Domain": "www.example.com"}), 401, 1014)
    assert_error(call(gr, {**auth, "X-Domain": "https://example.com"}), 401, 1014)
    response = call(gr, {**auth, "X-Domain": "example.com"})
    assert response.status_code == 200
    assert response.json()[0]["href"].startswith("https://api3.getresponse360.com/v3/")


def test_x_domain_sent_to_a_standard_account_is_refused(gr: GetResponseHarness) -> None:
    assert_error(call(gr, {"X-Auth-Token": f"api-key {API_KEY}", "X-Domain": "example.com"}), 401, 1014)


def test_401_still_carries_the_rate_limit_headers(gr: GetResponseHarness) -> None:
    response = call(gr, {})
    assert response.headers["X-RateLimit-Reset"].endswith(" seconds")
    assert "X-RateLimit-Limit" in response.headers and "X-RateLimit-Remaining" in response.headers


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_post_without_json_content_type_is_400_1000(gr: GetResponseHarness, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = gr.api.post("/contacts", content=b'{"email":"a@example.com"}', headers=headers)
    body = assert_error(response, 400, 1000)
    assert body["context"]["fieldName"] == "Content-Type"


def test_json_content_type_with_charset_is_accepted(gr: GetResponseHarness) -> None:
    body = b'{"email":"a@example.com","campaign":{"campaignId":"Gr7Mn"}}'
    response = gr.api.post(
        "/contacts", content=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 202


def test_malformed_json_and_non_object_bodies_are_400_1000(gr: GetResponseHarness) -> None:
    headers = {"Content-Type": "application/json"}
    assert_error(gr.api.post("/contacts", content=b"{not json", headers=headers), 400, 1000)
    assert_error(gr.api.post("/contacts", content=b"[]", headers=headers), 400, 1000)


def test_unknown_route_and_method_answer_in_the_vendor_error_shape(gr: GetResponseHarness) -> None:
    assert_error(gr.api.get("/no-such-resource"), 404, 1013)
    assert_error(gr.api.put("/contacts/abc", json={}), 405, 1000)


def test_control_api_needs_no_credentials(gr: GetResponseHarness) -> None:
    assert httpx.get(f"{gr.url}/_sim/idle").json() == {"idle": True}
