"""The broker restarted under load, end to end: Kafka goes away while both vendors deliver changes,
and comes back on the same port with the same storage (a stack of its own whose Tansu keeps its
data on a local S3 server). Nothing acknowledged is lost, and nothing is restarted but the broker.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.broker import wait_for_port
from devstack.defaults import COMPANY_FIELD
from devstack.processes import alive
from devstack.stack import Stack, consumer_roles, down, up
from tests.e2e.harness import Harness, unique_email

# How long Kafka is away, from the stop: Tansu drops its connections at once but takes about 5 s
# to exit while clients are connected; the edits of the outage follow.
OUTAGE_S = 8.0
# GetResponse retries a webhook after 10 s, 60 s and 300 s; this scale makes that 0.5 s, 3 s and
# 15 s, so the outage here stands for under three minutes of GetResponse's time: within its
# retries, as a short broker outage in production is. (Salesforce retries for 24 h at any scale.)
GETRESPONSE_DELIVERY_TIME_SCALE = 0.05


@pytest.fixture(scope="module")
def restartable() -> Iterator[Harness]:
    state_dir = Path(tempfile.mkdtemp(prefix="sfgr-e2e-broker-"))
    stack = up(state_dir, persistent_kafka=True, env={"SFGR_LOG_LEVEL": "INFO"})
    harness = Harness(stack)
    try:
        yield harness
    finally:
        harness.close()
        down(state_dir)


def product_processes(stack: Stack) -> dict[str, int]:
    names = ["api", "poller", *(f"consumer-{role}" for role in consumer_roles())]
    return {name: stack.process(name).pid for name in names}


def failed_then_acknowledged(attempts: list[dict[str, Any]], since: int) -> tuple[set[int], set[int]]:
    """The deliveries with a refused attempt after `since`, and those of them acknowledged later."""
    refused = {a["delivery_id"] for a in attempts if a["seq"] > since and not a["acknowledged"]}
    acknowledged = {
        a["delivery_id"] for a in attempts
        if a["delivery_id"] in refused and a["acknowledged"] and not a["duplicate"]
    }
    return refused, acknowledged


def test_a_broker_restarted_under_load_loses_no_acknowledged_delivery(restartable: Harness) -> None:
    e2e, stack = restartable, restartable.stack
    e2e.gr.post("/_sim/config", json={"delivery_time_scale": GETRESPONSE_DELIVERY_TIME_SCALE})
    leads = [
        (email, e2e.sf_create("Lead", FirstName="Bro", LastName=f"Ker{i}", Email=email, Company=f"Lead {i}"))
        for i, email in enumerate(unique_email(f"brk{i}") for i in range(6))
    ]
    signups = [unique_email(f"brkgr{i}") for i in range(4)]
    for i, email in enumerate(signups):
        e2e.gr_subscribe(email, f"Sign Up{i}", **{COMPANY_FIELD: f"Signup {i}"})
    e2e.wait_quiet(within=60)
    contacts = {email: (e2e.gr_active(email) or {})["contactId"] for email in signups}
    processes = product_processes(stack)
    # Each half of the people is edited once: the first just before the broker goes, the second
    # while it is down, so every value below arrives only through the deliveries of its own edit.
    expected_companies = {email: f"Before {i}" if i < 3 else f"During {i}" for i, (email, _) in enumerate(leads)}
    expected_signups = {email: f"GR before {i}" if i < 2 else f"GR during {i}" for i, email in enumerate(signups)}

    # Under load: slow vendor writes keep the consumers busy with acknowledged deliveries when the
    # broker goes away.
    e2e.faults("getresponse", latency_ms=700, methods=["POST"])
    e2e.faults("salesforce", latency_ms=700, methods=["PATCH"])
    for i, (_, lead_id) in enumerate(leads[:3]):
        e2e.sf_update(lead_id, Company=f"Before {i}")
    for i, email in enumerate(signups[:2]):
        e2e.gr_edit(contacts[email], **{COMPANY_FIELD: f"GR before {i}"})
    e2e.until(e2e.idle, within=10, what="the edits before the outage delivered and acknowledged")
    applied_before_outage = sum(
        e2e.custom(e2e.gr_active(email) or {}, COMPANY_FIELD) == expected_companies[email] for email, _ in leads[:3]
    ) + sum(e2e.sf_by_email(email)[0]["Company"] == expected_signups[email] for email in signups[:2])
    since = {"salesforce": e2e.last_delivery("salesforce"), "getresponse": e2e.last_delivery("getresponse")}
    stopped_at = time.monotonic()
    stack.stop("kafka")
    e2e.clear_faults()
    assert applied_before_outage < 5, "every acknowledged edit was applied before the broker went: no load"

    for i, (_, lead_id) in enumerate(leads[3:], start=3):
        e2e.sf_update(lead_id, Company=f"During {i}")
    for i, email in enumerate(signups[2:], start=2):
        e2e.gr_edit(contacts[email], **{COMPANY_FIELD: f"GR during {i}"})

    # A sender is told, clearly, that nothing was accepted and that it must deliver again.
    webhook_url = e2e.gr.get("/_sim/config").json()["webhook_url"]
    sent = e2e.gr.get("/_sim/deliveries", params={"body": True}).json()[-1]["body"]
    answer = httpx.post(webhook_url, content=sent, headers={"Content-Type": "application/json"}, timeout=10)
    assert answer.status_code == 503, answer.text
    assert answer.json()["status"] == "ERROR"
    assert answer.json()["reason"] == "kafka_unavailable"
    assert "Kafka did not acknowledge" in answer.json()["message"]
    assert "deliver again" in answer.json()["message"]
    for vendor in ("salesforce", "getresponse"):
        e2e.until(
            lambda v=vendor: any(a["status"] == 503 for a in e2e.deliveries(v, since[v])),
            within=5, what=f"{vendor}'s deliveries refused with a 503 while Kafka is down",
        )
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped_at)))

    restarted = stack.restart("kafka")
    wait_for_port(int(stack.info["kafka"].rsplit(":", 1)[1]))
    assert "s3://" in " ".join(restarted.argv)
    e2e.wait_quiet(within=60)

    for email, lead_id in leads:
        active = [c for c in e2e.gr_contacts(email) if c["state"] == "active"]
        assert len(active) == 1, active
        assert e2e.sf_get(lead_id)["Company"] == expected_companies[email] == e2e.custom(active[0], COMPANY_FIELD)
        assert len(e2e.sf_by_email(email)) == 1
    for email in signups:
        (record,) = e2e.sf_by_email(email)
        assert record["Company"] == expected_signups[email]
        assert len([c for c in e2e.gr_contacts(email) if c["state"] == "active"]) == 1
    assert e2e.query("SELECT count(*) FROM dead_letters")[0][0] == 0
    # Recovered by themselves: the same processes as before, all still running.
    assert product_processes(stack) == processes
    assert all(alive(stack.process(name)) for name in processes)
    for vendor in ("salesforce", "getresponse"):
        refused, acknowledged = failed_then_acknowledged(e2e.deliveries(vendor), since[vendor])
        assert refused, f"no {vendor} delivery was refused while Kafka was down"
        assert refused == acknowledged, f"{vendor} deliveries never acknowledged: {refused - acknowledged}"
