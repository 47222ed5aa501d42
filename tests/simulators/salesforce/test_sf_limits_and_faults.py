"""The org API quota, Sforce-Limit-Info, the calls log and injected faults (api-contracts A3, C6)."""

from __future__ import annotations

import pytest

from tests.simulators.salesforce.harness import SalesforceSim


def _usage(header: str) -> tuple[int, int]:
    name, _, value = header.partition("=")
    assert name == "api-usage"
    used, _, limit = value.partition("/")
    return int(used), int(limit)


def test_every_rest_response_carries_sforce_limit_info_and_counts_once(sim: SalesforceSim) -> None:
    first = sim.api.get("/limits")
    used, limit = _usage(first.headers["Sforce-Limit-Info"])
    assert limit == 100_000
    second = sim.api.get("/sobjects/Lead/not-an-id")
    assert second.status_code == 400
    assert _usage(second.headers["Sforce-Limit-Info"]) == (used + 1, limit)
    sim.http.get("/services/data/")  # the versions list is free
    sim.http.get("/_sim/calls")  # and the control API is not the vendor's
    assert _usage(sim.api.get("/limits").headers["Sforce-Limit-Info"]) == (used + 2, limit)
    assert "Retry-After" not in first.headers and not any(
        h.lower().startswith("x-ratelimit") for h in first.headers
    )


def test_a_spent_quota_is_403_request_limit_exceeded_without_retry_after(sim: SalesforceSim) -> None:
    sim.configure(api_quota=3)
    for _ in range(3):
        assert sim.api.get("/limits").status_code == 200
    refused = sim.api.post("/sobjects/Lead/", json={"LastName": "L", "Company": "C"})
    assert refused.status_code == 403
    assert refused.json() == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=3/3"
    assert "Retry-After" not in refused.headers
    assert sim.http.get("/_sim/records/Lead").json() == []
    assert sim.http.get("/services/data/").status_code == 200
    assert sim.http.get("/_sim/quota").json() == {"used": 3, "limit": 3}
    sim.configure(api_quota=4)
    assert sim.api.get("/limits").status_code == 200


def test_the_calls_log_records_vendor_calls_with_their_client(sim: SalesforceSim) -> None:
    sim.api.post(
        "/sobjects/Lead/",
        json={"LastName": "L", "Company": "C"},
        headers={"Sforce-Call-Options": "client=sfgr-sync, defaultNamespace=x"},
    )
    sim.api.get("/limits")
    calls = sim.http.get("/_sim/calls").json()
    writes = [c for c in calls if c["method"] == "POST" and c["path"].rstrip("/").endswith("/sobjects/Lead")]
    assert writes[-1]["client"] == "sfgr-sync" and writes[-1]["status"] == 201
    assert not any(c["path"].startswith("/_sim") for c in calls)
    newest = calls[-1]["seq"]
    sim.api.get("/limits")
    assert [c["seq"] for c in sim.http.get("/_sim/calls", params={"since": newest}).json()] == [newest + 1]


@pytest.mark.parametrize(
    ("status", "code"),
    [(503, "SERVER_UNAVAILABLE"), (500, "UNKNOWN_EXCEPTION"), (403, "REQUEST_LIMIT_EXCEEDED")],
)
def test_injected_errors_come_in_salesforce_shape(sim: SalesforceSim, status: int, code: str) -> None:
    sim.http.post(
        "/_sim/faults", json={"error_rate": 1.0, "error_statuses": [status], "path_prefix": "/services/data"}
    )
    response = sim.api.post("/sobjects/Lead/", json={"LastName": "L", "Company": "C"})
    assert response.status_code == status
    body = response.json()
    assert isinstance(body, list) and body[0]["errorCode"] == code and body[0]["message"]
    assert "Sforce-Limit-Info" in response.headers
    assert sim.http.get("/_sim/records/Lead").json() == []
    assert sim.http.get("/_sim/faults").json()["error_rate"] == 1.0


def test_injected_errors_on_oauth_use_the_oauth_shape(sim: SalesforceSim) -> None:
    sim.http.post(
        "/_sim/faults", json={"error_rate": 1.0, "error_statuses": [503], "path_prefix": "/services/oauth2"}
    )
    response = sim.http.post("/services/oauth2/token", data={"grant_type": "client_credentials"})
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"


def test_faults_can_target_methods_and_add_latency(sim: SalesforceSim) -> None:
    sim.http.post(
        "/_sim/faults",
        json={"error_rate": 1.0, "error_statuses": [500], "methods": ["PATCH"], "latency_ms": 50},
    )
    lead_id = sim.create()
    assert sim.api.patch(f"/sobjects/Lead/{lead_id}", json={"Email": "a@b.co"}).status_code == 500
    assert sim.http.post("/_sim/reset").status_code == 200  # reset clears faults too
    assert sim.http.get("/_sim/faults").json()["error_rate"] == 0.0
