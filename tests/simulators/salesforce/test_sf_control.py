"""The control API under /_sim: records as UI edits, reset, config, clock, idle."""

from __future__ import annotations

from tests.simulators.salesforce.harness import Receiver, SalesforceSim


def test_ui_records_go_through_the_same_validation(sim: SalesforceSim) -> None:
    created = sim.http.post("/_sim/records/Lead", json={"LastName": "Lee", "Company": "Acme"})
    assert created.status_code == 201
    lead_id = created.json()["id"]
    missing = sim.http.post("/_sim/records/Contact", json={"FirstName": "Pat"})
    assert missing.status_code == 400
    assert missing.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    record = sim.record("Lead", lead_id)
    config = sim.http.get("/_sim/config").json()
    assert record["CreatedById"] == config["ui_user_id"] and record["IsDeleted"] is False
    assert (
        sim.http.patch(f"/_sim/records/Lead/{lead_id}", json={"Email": "bad"}).json()[0]["errorCode"]
        == "INVALID_EMAIL_ADDRESS"
    )


def test_ui_delete_and_undelete_round_trip(sim: SalesforceSim) -> None:
    lead_id = sim.create()
    assert sim.http.delete(f"/_sim/records/Lead/{lead_id}").status_code == 200
    assert sim.record("Lead", lead_id)["IsDeleted"] is True
    assert sim.api.get(f"/sobjects/Lead/{lead_id}").json()[0]["errorCode"] == "ENTITY_IS_DELETED"
    assert sim.http.post(f"/_sim/records/Lead/{lead_id}/undelete").status_code == 200
    assert sim.api.get(f"/sobjects/Lead/{lead_id}").status_code == 200
    assert sim.http.post(f"/_sim/records/Lead/{lead_id}/undelete").status_code == 400


def test_listing_returns_every_record_including_deleted(sim: SalesforceSim) -> None:
    kept, gone = sim.create(), sim.create()
    sim.api.delete(f"/sobjects/Lead/{gone}")
    listed = {r["Id"]: r["IsDeleted"] for r in sim.http.get("/_sim/records/Lead").json()}
    assert listed == {kept: False, gone: True}
    assert sim.http.get("/_sim/records/Account").status_code == 404


def test_convert_can_attach_an_existing_contact(sim: SalesforceSim) -> None:
    lead_id, contact_id = sim.create(), sim.create("Contact")
    response = sim.http.post(f"/_sim/records/Lead/{lead_id}/convert", json={"contactId": contact_id})
    assert response.json() == {"id": lead_id, "convertedContactId": contact_id}
    assert len(sim.http.get("/_sim/records/Contact").json()) == 1


def test_reset_clears_records_calls_deliveries_and_faults_but_keeps_config(
    sim: SalesforceSim, receiver: Receiver
) -> None:
    sim.configure(outbound_url=f"{receiver.url}/om", api_quota=50)
    sim.create()
    sim.wait_idle()
    sim.http.post("/_sim/faults", json={"latency_ms": 5})
    assert sim.http.post("/_sim/reset").json() == {"reset": True}
    assert sim.http.get("/_sim/records/Lead").json() == []
    assert sim.http.get("/_sim/calls").json() == []
    assert sim.http.get("/_sim/deliveries").json() == []
    assert sim.http.get("/_sim/faults").json()["latency_ms"] == 0
    config = sim.http.get("/_sim/config").json()
    assert config["api_quota"] == 50 and config["outbound_url"] == f"{receiver.url}/om"
    assert sim.api.get("/limits").headers["Sforce-Limit-Info"] == "api-usage=1/50"  # sessions survive


def test_config_updates_are_partial_and_validated(sim: SalesforceSim) -> None:
    updated = sim.configure(duplicate_rule_on_email=True, outbound_fields={"lead": ["email", "Country"]})
    assert updated["duplicate_rule_on_email"] is True
    assert updated["outbound_fields"] == {"Lead": ["Id", "Email", "Country"]}
    assert updated["client_id"] == "sfgr-sim-client"
    for bad in (
        {"org_id": "00D000000000001XXX"},
        {"outbound_fields": {"Lead": ["Nope"]}},
        {"environment": "staging"},
        {"surprise": 1},
        {"api_quota": -1},
    ):
        response = sim.http.post("/_sim/config", json=bad)
        assert response.status_code == 422, bad
    assert sim.http.get("/_sim/config").json()["duplicate_rule_on_email"] is True


def test_idle_reports_pending_batches(sim: SalesforceSim, receiver: Receiver) -> None:
    sim.configure(outbound_url=f"{receiver.url}/om", batch_window_ms=400)
    sim.create()
    assert sim.http.get("/_sim/idle").json() == {"idle": False}
    sim.wait_idle()
    assert len(receiver.at("/om")) == 1


def test_the_clock_moves_record_timestamps_forward(sim: SalesforceSim) -> None:
    first = sim.record("Lead", sim.create())["CreatedDate"]
    moved = sim.http.post("/_sim/clock", json={"advance_seconds": 86400}).json()["now"]
    second = sim.record("Lead", sim.create())["CreatedDate"]
    assert second >= moved > first
    assert sim.http.post("/_sim/clock", json={"advance_seconds": -1}).status_code == 422


def test_a_config_body_that_is_not_a_json_object_is_422(sim: SalesforceSim) -> None:
    assert (
        sim.http.post(
            "/_sim/config", content=b"{nope", headers={"Content-Type": "application/json"}
        ).status_code
        == 422
    )
    assert sim.http.post("/_sim/config", json=["api_quota", 1]).status_code == 422
