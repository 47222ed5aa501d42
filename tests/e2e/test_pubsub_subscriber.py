"""Change Data Capture through the Pub/Sub API subscriber alone (issue 11, "Done when"): a stack of
this module's own, its Salesforce simulator with Outbound Messages and the CometD relay off, so
that every Salesforce change reaches the list through `sfgr subscribe` or not at all.

The retention test moves the simulator's clock 73 h ahead, so it runs last in this module.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.bus import Topics
from app.settings import Settings
from devstack.defaults import COMPANY_FIELD
from devstack.stack import Stack, down, start_subscriber, up
from tests.e2e.conftest import SCALED_WAITS
from tests.e2e.harness import Harness, unique_email
from tests.integration.inbound.harness import published


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    state_dir = Path(tempfile.mkdtemp(prefix="sfgr-e2e-pubsub-"))
    # A spent delivery allocation is asked about again after 2 s here (an hour by default).
    env = {"SFGR_LOG_LEVEL": "INFO", "SFGR_SALESFORCE_PUBSUB_EXHAUSTED_WAIT_S": "2", **SCALED_WAITS}
    running = up(state_dir, with_subscriber=True, env=env)
    try:
        with httpx.Client(base_url=running.info["salesforce"], timeout=10) as sf:
            config = sf.post("/_sim/config", json={"outbound_url": None}).json()
            assert config["outbound_url"] is None and config["cdc_url"] is None
        yield running
    finally:
        down(state_dir)


def _settings(stack: Stack) -> Settings:
    return Settings(kafka_bootstrap_servers=stack.info["kafka"], kafka_enable_idempotence=False)


def _cdc_events_of(stack: Stack, record_id: str) -> list[str]:
    settings = _settings(stack)
    messages = asyncio.run(published(settings, Topics.from_settings(settings).salesforce_changes))
    return [m.event.kind.value for m in messages if m.key == record_id and m.event.transport == "change_data_capture"]


def _log(stack: Stack) -> str:
    return Path(stack.process("subscriber").log).read_text(errors="replace")


def _health(stack: Stack, name: str) -> httpx.Response | None:
    """The process's /healthz answer; None until it listens."""
    port = stack.process(name).env["SFGR_SUBSCRIBER_HEALTH_PORT"]
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    except httpx.ConnectError:
        return None


def _metric(stack: Stack, name: str) -> float:
    port = stack.process("subscriber").env["SFGR_SUBSCRIBER_HEALTH_PORT"]
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE))


@pytest.mark.serial
def test_a_lead_created_edited_deleted_and_undeleted_reaches_the_list_through_the_subscriber_alone(
    e2e: Harness,
) -> None:
    email = unique_email("pubsub")
    lead_id = e2e.sf_create("Lead", FirstName="Sub", LastName="Scriber", Email=email, Company="Acme")
    _, seconds = e2e.until(lambda: e2e.gr_active(email), within=5, what="created: on the list")
    assert seconds < 2.0, f"create took {seconds:.2f} s"
    e2e.wait_quiet()

    e2e.sf_update(lead_id, Company="Acme Pub/Sub")
    _, seconds = e2e.until(
        lambda: e2e.custom(e2e.gr_active(email) or {}, COMPANY_FIELD) == "Acme Pub/Sub", within=5,
        what="edited: company on the list",
    )
    assert seconds < 2.0, f"edit took {seconds:.2f} s"
    e2e.wait_quiet()

    e2e.sf_delete(lead_id)
    _, seconds = e2e.until(lambda: e2e.gr_active(email) is None, within=5, what="deleted: off the list")
    assert seconds < 2.0, f"delete took {seconds:.2f} s"
    e2e.wait_quiet()

    e2e.sf_undelete(lead_id)
    contact, seconds = e2e.until(lambda: e2e.gr_active(email), within=5, what="undeleted: back on the list")
    assert seconds < 2.0, f"undelete took {seconds:.2f} s"
    assert contact["name"] == "Sub Scriber"
    assert _cdc_events_of(e2e.stack, lead_id) == ["created", "updated", "deleted", "undeleted"]


def test_a_getresponse_change_written_back_to_salesforce_is_not_echoed_back(e2e: Harness) -> None:
    email = unique_email("echo")
    lead_id = e2e.sf_create("Lead", FirstName="Eco", LastName="Less", Email=email, Company="Before")
    contact, _ = e2e.until(lambda: e2e.gr_active(email), within=10, what="on the list")
    e2e.wait_quiet()
    echoes_before = _metric(e2e.stack, 'sfgr_pubsub_events_total{channel="/data/LeadChangeEvent",outcome="echo"}')
    e2e.gr_edit(contact["contactId"], **{COMPANY_FIELD: "Written back"})
    e2e.until(lambda: e2e.sf_get(lead_id)["Company"] == "Written back", within=10, what="the write-back")
    e2e.wait_quiet()
    # The write-back's change event came (and was recognised as ours by its changeOrigin) ...
    e2e.until(
        lambda: _metric(e2e.stack, 'sfgr_pubsub_events_total{channel="/data/LeadChangeEvent",outcome="echo"}')
        > echoes_before, within=5, what="the echo counted",
    )
    # ... and went nowhere: the record's CDC events are still its create alone.
    assert _cdc_events_of(e2e.stack, lead_id) == ["created"]


def test_the_subscriber_killed_mid_stream_resumes_from_the_stored_replay_id(e2e: Harness) -> None:
    emails = [unique_email("kill") for _ in range(4)]
    since = e2e.last_seq("getresponse")
    e2e.sf_create("Lead", LastName="Before", Email=emails[0], Company="K")
    e2e.sf_create("Lead", LastName="Before", Email=emails[1], Company="K")
    e2e.stack.kill("subscriber")  # SIGKILL, while those two may be anywhere between Salesforce and Kafka
    e2e.sf_create("Lead", LastName="During", Email=emails[2], Company="K")
    e2e.sf_create("Lead", LastName="During", Email=emails[3], Company="K")
    e2e.stack.restart("subscriber", ready_file=True)
    for email in emails:
        e2e.until(lambda email=email: e2e.gr_active(email), within=15, what=f"{email} on the list")
    e2e.wait_quiet()
    assert "CUSTOM" in _log(e2e.stack).split("subscriber is the active instance")[-1]  # from the stored id
    assert all(len(e2e.gr_contacts(email)) == 1 for email in emails)
    writes = [(c["method"], c["path"]) for c in e2e.writes("getresponse", since)]
    # Creates only (one at a time, or gathered in a batch under a burst); nothing written twice,
    # and each person is one contact (above).
    assert writes and set(writes) <= {("POST", "/v3/contacts"), ("POST", "/v3/contacts/batch")}, writes
    assert len(writes) <= 4, writes


def test_an_access_token_expired_mid_stream_is_refreshed_and_nothing_is_lost(e2e: Harness) -> None:
    e2e.sf.post("/_sim/sessions/expire").raise_for_status()
    email = unique_email("token")
    e2e.sf_create("Lead", LastName="Token", Email=email, Company="T")
    e2e.until(lambda: e2e.gr_active(email), within=15, what="on the list after the token expired")
    assert "pubsub access token refused; refreshing it" in _log(e2e.stack)
    assert "accesstoken" not in _log(e2e.stack) and "00D5g0000SfGrSm!" not in _log(e2e.stack)


def test_a_dropped_stream_is_resubscribed_and_nothing_is_lost(e2e: Harness) -> None:
    e2e.sf.post("/_sim/pubsub/faults", json={"drop_streams": True}).raise_for_status()
    email = unique_email("drop")
    e2e.sf_create("Lead", LastName="Dropped", Email=email, Company="D")
    e2e.until(lambda: e2e.gr_active(email), within=15, what="on the list after the stream dropped")
    assert "service.unavailable" in _log(e2e.stack)


def test_a_spent_delivery_allocation_waits_says_why_and_delivers_once_it_is_back(e2e: Harness) -> None:
    e2e.sf.post("/_sim/pubsub/faults", json={"allocation_exhausted": True}).raise_for_status()
    try:
        email = unique_email("allocation")
        e2e.sf_create("Lead", LastName="Allocated", Email=email, Company="A")
        e2e.until(lambda: "daily event delivery allocation is spent" in _log(e2e.stack), within=10,
                  what="the reason logged")
        assert e2e.gr_active(email) is None
    finally:
        e2e.sf.post("/_sim/pubsub/faults", json={"allocation_exhausted": False}).raise_for_status()
    e2e.until(lambda: e2e.gr_active(email), within=15, what="on the list once the allocation is back")


def test_a_standby_takes_over_and_its_healthz_fails_once_the_api_is_silent_too_long(e2e: Harness) -> None:
    # The simulator's keepalives come every 5 s; this standby calls 1 s of silence too long.
    start_subscriber(e2e.stack, "subscriber-2", env={"SFGR_SALESFORCE_PUBSUB_SILENCE_S": "1"})
    try:
        standby, _ = e2e.until(lambda: _health(e2e.stack, "subscriber-2"), within=10, what="the standby up")
        assert standby.json() == {"status": "ok", "active": False}
        active = _health(e2e.stack, "subscriber")
        assert active is not None and active.json()["active"] is True
        e2e.stack.kill("subscriber")
        email = unique_email("standby")
        e2e.sf_create("Lead", LastName="Standby", Email=email, Company="S")
        e2e.until(lambda: e2e.gr_active(email), within=15, what="on the list through the standby")
        failing, _ = e2e.until(
            lambda: (found := _health(e2e.stack, "subscriber-2")) is not None and found.status_code == 503 and found,
            within=10, what="healthz failing after 1 s without an event or keepalive",
        )
        assert "no event or keepalive" in failing.json()["reason"]
    finally:
        e2e.stack.stop("subscriber-2")
        e2e.stack.restart("subscriber", ready_file=True)


def test_a_replay_id_past_the_72_hour_retention_is_logged_counted_and_the_gap_re_read(e2e: Harness) -> None:
    e2e.stack.stop("subscriber")
    email = unique_email("gap")
    e2e.sf_create("Lead", FirstName="Gap", LastName="Filled", Email=email, Company="In the gap")
    e2e.sf.post("/_sim/clock", json={"advance_seconds": 73 * 3600}).raise_for_status()
    e2e.stack.restart("subscriber", ready_file=True)
    contact, _ = e2e.until(lambda: e2e.gr_active(email), within=20, what="the gap's lead on the list")
    assert contact["name"] == "Gap Filled"
    assert "pubsub refused the stored replay id" in _log(e2e.stack)
    assert _metric(e2e.stack, "sfgr_subscriber_replay_expired_total") >= 1
    # Streaming again after the re-read: a change made now arrives live.
    later = unique_email("after-gap")
    e2e.sf_create("Lead", LastName="After", Email=later, Company="Live")
    e2e.until(lambda: e2e.gr_active(later), within=10, what="a change after the gap")
