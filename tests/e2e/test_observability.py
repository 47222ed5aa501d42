"""Every process of the stack can be watched: each serves /metrics (the api on its own port, the
consumers and the poller on SFGR_METRICS_PORT), the metrics move when a change propagates, and
a consumer whose loop is stuck says so on /healthz (issue: operable in production)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devstack.defaults import COMPANY_FIELD
from devstack.processes import terminate
from tests.e2e.harness import Harness, unique_email

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

WORKERS = ("consumer-getresponse-to-salesforce", "consumer-resync", "consumer-salesforce-to-getresponse", "poller")


def scrape(url: str) -> Samples:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, f"{url}: {response.status_code} {response.text[:300]}"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(value for (n, have), value in samples.items() if n == name and wanted <= have)


def present(samples: Samples, name: str, **labels: str) -> bool:
    wanted = set(labels.items())
    return any(n == name and wanted <= have for (n, have) in samples)


def scrape_all(e2e: Harness) -> dict[str, Samples]:
    return {name: scrape(url) for name, url in e2e.stack.info["metrics"].items()}


def test_dev_stack_lists_the_metrics_url_of_every_process(e2e: Harness) -> None:
    assert set(e2e.stack.info["metrics"]) == {"api", *WORKERS}
    for name, samples in scrape_all(e2e).items():
        assert present(samples, "sfgr_build_info"), f"{name} has no sfgr_build_info"
    for name in WORKERS:
        health = httpx.get(e2e.stack.info["metrics"][name].replace("/metrics", "/healthz"), timeout=10)
        assert health.status_code == 200, f"{name}: {health.text}"
        assert health.json()["status"] == "ok"


def test_metrics_move_when_a_change_propagates_both_ways(e2e: Harness) -> None:
    before = scrape_all(e2e)
    email = unique_email("metrics")
    lead_id = e2e.sf_create("Lead", FirstName="Mo", LastName="Tran", Email=email, Company="Acme")
    contact, _ = e2e.until(lambda: e2e.gr_active(email), what="contact on the list")
    e2e.wait_quiet()
    e2e.gr_edit(contact["contactId"], **{COMPANY_FIELD: "Acme Metrics"})
    e2e.until(lambda: e2e.sf_get(lead_id)["Company"] == "Acme Metrics", what="company in Salesforce")
    e2e.wait_quiet()
    e2e.until(lambda: _moved(before, scrape_all(e2e)) == [], within=20, what="every metric moved")


def _moved(before: dict[str, Samples], after: dict[str, Samples]) -> list[str]:
    """What has not moved (or is missing) yet; empty once everything the change touched moved."""
    stale: list[str] = []

    def grew(process: str, name: str, **labels: str) -> None:
        if total(after[process], name, **labels) <= total(before[process], name, **labels):
            stale.append(f"{process}: {name}{labels}")

    def shown(process: str, name: str, **labels: str) -> None:
        if not present(after[process], name, **labels):
            stale.append(f"{process}: {name}{labels} missing")

    grew("api", "sfgr_events_total", stage="inbound", direction="to_getresponse", outcome="received")
    grew("api", "sfgr_events_total", stage="inbound", direction="to_getresponse", outcome="published")
    grew("api", "sfgr_events_total", stage="inbound", direction="to_salesforce", outcome="published")
    for process, direction, vendor in (
        ("consumer-salesforce-to-getresponse", "to_getresponse", "getresponse"),
        ("consumer-getresponse-to-salesforce", "to_salesforce", "salesforce"),
    ):
        grew(process, "sfgr_events_total", stage="live", direction=direction, outcome="applied")
        grew(process, "sfgr_propagation_seconds_count", direction=direction)
        grew(process, "sfgr_vendor_calls_total", vendor=vendor)
        grew(process, "sfgr_vendor_writes_total", vendor=vendor)
        shown(process, "sfgr_consumer_lag")
        shown(process, "sfgr_vendor_rate_limited_total", vendor=vendor)
    grew("consumer-salesforce-to-getresponse", "sfgr_rate_limit_wait_seconds_count")
    grew("consumer-salesforce-to-getresponse", "sfgr_propagation_seconds_count", path="cometd_relay")
    shown("consumer-resync", "sfgr_dead_letters", status="open")
    grew("poller", "sfgr_vendor_calls_total", vendor="getresponse", operation="GET contacts")
    shown("poller", "sfgr_poller_watermark_age_seconds", sync=after_sync(after))
    for process in after:
        shown(process, "sfgr_build_info")
    return stale


def after_sync(after: dict[str, Samples]) -> str:
    for (name, labels) in after["poller"]:
        if name == "sfgr_poller_watermark_age_seconds":
            return dict(labels)["sync"]
    return "none"


@pytest.fixture
def impatient_consumer(e2e: Harness) -> Iterator[str]:
    """The Salesforce-to-GetResponse consumer restarted to call itself stalled after 1.5 s (on the
    same metrics port); put back as it was afterwards."""
    name = "consumer-salesforce-to-getresponse"
    original = e2e.stack.process(name)
    terminate(original)
    e2e.stack.start(name, original.argv, env={**original.env, "SFGR_HEALTH_STALL_S": "1.5"}, ready_file=True)
    try:
        yield e2e.stack.info["metrics"][name].replace("/metrics", "/healthz")
    finally:
        e2e.clear_faults()
        terminate(e2e.stack.process(name))
        e2e.stack.start(name, original.argv, env=original.env, ready_file=True)


def test_a_consumer_whose_loop_is_stuck_turns_unhealthy_and_recovers(
    e2e: Harness, impatient_consumer: str
) -> None:
    def status() -> int:
        return httpx.get(impatient_consumer, timeout=10).status_code

    e2e.until(lambda: status() == 200, what="healthy at first")
    # Every GetResponse answer now takes 4 s: the consumer's handler holds its loop that long.
    e2e.faults("getresponse", latency_ms=4000)
    e2e.sf_create("Lead", FirstName="Sam", LastName="Slow", Email=unique_email("stuck"), Company="Acme")
    e2e.until(lambda: status() == 503, within=20, what="/healthz answers 503")
    body = httpx.get(impatient_consumer, timeout=10).json()
    assert body["stalled"] == ["consumer"], body
    e2e.clear_faults()
    e2e.until(lambda: status() == 200, within=30, what="/healthz healthy again")
