"""6. Inbound endpoints under load: Outbound Messages with 1 and with 100 notifications,
GetResponse webhooks and Event Relay posts, against a baseline (bench/inbound_baseline.py: a
FastAPI app that parses the same bodies with the same parsers and does nothing else), with the
same load generator in the same run: requests/s, records/s, p50/p99 and the ratio to the baseline.

The api authenticates each delivery, publishes its events to Kafka and answers only once Kafka
acknowledged them; the baseline shows what parsing alone costs on this machine. The records are
Accounts and contacts of a list no sync feeds, so the consumers drop their events without a
vendor call: the figures are the api's and Kafka's alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from bench.report import figures, fmt, note, percentile, rounded, table, title
from bench.world import World, until

CONCURRENCY = 8
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OM_PATH = "/v1/salesforce/outbound-messages"
WEBHOOK_PATH = "/v1/getresponse/webhooks"
RELAY_PATH = "/v1/salesforce/event-relay"
RELAY_KEY_HEADER = "X-Sfgr-Api-Key"  # SFGR_EVENT_RELAY_KEY_HEADER's default, as the dev stack runs


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    path: str
    records: int
    body: Callable[[], tuple[bytes, dict[str, str]]]


@dataclass
class Measured:
    requests: int
    failed: int
    seconds: float
    latencies_ms: list[float]

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds


def run(world: World, *, quick: bool) -> None:
    seconds = 2.0 if quick else 5.0
    title(f"6. Inbound endpoints under load ({CONCURRENCY} at a time, {seconds:g} s each) against a baseline")
    org = world.info["salesforce_org_id"]
    targets = [
        Target("om_1", "Outbound Message, 1 notification", OM_PATH, 1, lambda: _outbound(org, 1)),
        Target("om_100", "Outbound Message, 100 notifications", OM_PATH, 100, lambda: _outbound(org, 100)),
        Target("webhook", "GetResponse webhook", WEBHOOK_PATH, 1, _webhook),
        Target("event_relay", "Event Relay post", RELAY_PATH, 1, lambda: _event_relay(org)),
    ]
    api_params = {
        OM_PATH: {"key": world.info["outbound_message_key"]},
        WEBHOOK_PATH: {"secret": world.info["getresponse_webhook_secret"]},
        RELAY_PATH: {},
    }
    api_headers = {RELAY_PATH: {RELAY_KEY_HEADER: world.info["event_relay_key"]}}
    rows: list[list[str]] = []
    results: dict[str, dict[str, object]] = {}
    with _baseline_server(org) as baseline:
        for target in targets:
            base = asyncio.run(_load(baseline, target, {}, {}, seconds))
            headers = api_headers.get(target.path, {})
            real = asyncio.run(_load(world.info["api"], target, api_params[target.path], headers, seconds))
            ratio = real.per_s / base.per_s if base.per_s else float("nan")
            for side, measured in (("baseline", base), ("api", real)):
                rows.append(
                    [
                        target.label if side == "baseline" else "",
                        side,
                        fmt(measured.per_s, 1),
                        fmt(measured.per_s * target.records, 0),
                        fmt(percentile(measured.latencies_ms, 50), 1),
                        fmt(percentile(measured.latencies_ms, 99), 1),
                        fmt(measured.failed),
                        f"{ratio:.2f}" if side == "api" else "",
                    ]
                )
            results[target.key] = {
                side: {
                    "requests_per_s": rounded(measured.per_s, 1),
                    "records_per_s": rounded(measured.per_s * target.records, 1),
                    "p50_ms": rounded(percentile(measured.latencies_ms, 50), 1),
                    "p99_ms": rounded(percentile(measured.latencies_ms, 99), 1),
                    "failed": measured.failed,
                }
                for side, measured in (("baseline", base), ("api", real))
            } | {"ratio_to_baseline": rounded(ratio)}
    headers = ["delivery", "endpoint", "requests/s", "records/s", "p50 ms", "p99 ms", "failed"]
    print(table([*headers, "api/baseline"], rows))
    note("the api answers after Kafka acknowledged every event; the baseline only parses (same parsers)")
    world.wait_quiet(settle=1.0, within=120)
    figures("inbound", concurrency=CONCURRENCY, seconds=seconds, targets=results)


async def _load(
    base_url: str, target: Target, params: dict[str, str], headers: dict[str, str], seconds: float
) -> Measured:
    """CONCURRENCY workers posting `target` for `seconds` (after a short warm-up)."""
    latencies: list[float] = []
    failed = 0
    async with httpx.AsyncClient(base_url=base_url, timeout=30, params=params, headers=headers) as http:

        async def worker(until_t: float, record: bool) -> None:
            nonlocal failed
            while time.perf_counter() < until_t:
                body, body_headers = target.body()
                began = time.perf_counter()
                response = await http.post(target.path, content=body, headers=body_headers)
                took = (time.perf_counter() - began) * 1000
                if not record:
                    continue
                if response.status_code // 100 != 2:
                    failed += 1
                latencies.append(took)

        warm = time.perf_counter() + 0.3
        await asyncio.gather(*(worker(warm, False) for _ in range(CONCURRENCY)))
        began = time.perf_counter()
        await asyncio.gather(*(worker(began + seconds, True) for _ in range(CONCURRENCY)))
        took = time.perf_counter() - began
    return Measured(len(latencies), failed, took, latencies)


def _salesforce_id(prefix: str) -> str:
    return (prefix + uuid.uuid4().hex.upper())[:18]


def _outbound(org: str, count: int) -> tuple[bytes, dict[str, str]]:
    """An Outbound Message on Accounts (an object no sync feeds) with `count` notifications."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    notifications = "".join(
        "<Notification>"
        f"<Id>{_salesforce_id('04l')}</Id>"
        '<sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"<sf:Id>{_salesforce_id('001')}</sf:Id><sf:Name>Bench Account {i}</sf:Name>"
        f"<sf:LastModifiedDate>{now}</sf:LastModifiedDate>"
        "</sObject></Notification>"
        for i in range(count)
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        f'<notifications xmlns="{OUTBOUND_NS}"><OrganizationId>{org}</OrganizationId>'
        f"<ActionId>04k000000000001AAA</ActionId>{notifications}</notifications>"
        "</soapenv:Body></soapenv:Envelope>"
    )
    return body.encode(), {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def _webhook() -> tuple[bytes, dict[str, str]]:
    """A custom-field webhook about a contact of a list no sync feeds."""
    event = {
        "type": "contact_custom_field_changed",
        "contact": {
            "contactId": uuid.uuid4().hex[:10],
            "email": f"inbound.{uuid.uuid4().hex[:10]}@example.com",
            "name": "Bench Person",
            "campaign": {"campaignId": "benchNoSync"},
        },
        "customField": {"customFieldId": "cfBench", "name": "bench", "values": ["x"]},
        "event": {"occurredAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")},
    }
    headers = {
        "Content-Type": "application/json",
        "X-Webhook-Type": "contact_custom_field_changed",
        "X-Webhook-ID": str(uuid.uuid4()),
    }
    return json.dumps(event).encode(), headers


def _event_relay(org: str) -> tuple[bytes, dict[str, str]]:
    """An EventBridge envelope holding a CDC UPDATE of an Account (an object no sync feeds)."""
    now = datetime.now(UTC)
    header = {
        "entityName": "Account",
        "recordIds": [_salesforce_id("001")],
        "changeType": "UPDATE",
        "changeOrigin": "",
        "transactionKey": str(uuid.uuid4()),
        "sequenceNumber": 1,
        "commitTimestamp": int(now.timestamp() * 1000),
        "commitNumber": 10924536284919,
        "commitUser": "0055g00000SfGrUAAV",
        "changedFields": ["Name", "LastModifiedDate"],
        "nulledFields": [],
        "diffFields": [],
    }
    envelope = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AccountChangeEvent",
        "source": f"aws.partner/salesforce.com/{org}/0YL5g0000008OiZGAU",
        "account": "123456789012",
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "eu-central-1",
        "resources": [],
        "detail": {
            "payload": {
                "ChangeEventHeader": header,
                "Name": "Bench Account",
                "LastModifiedDate": now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            }
        },
    }
    return json.dumps(envelope).encode(), {"Content-Type": "application/json"}


class _baseline_server:
    """The baseline app in its own uvicorn process on a free port."""

    def __init__(self, org: str) -> None:
        self.org = org

    def __enter__(self) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        command = [sys.executable, "-m", "uvicorn", "bench.inbound_baseline:app", "--port", str(port),
                   "--log-level", "warning", "--no-access-log"]
        self.process = subprocess.Popen(command, env={**os.environ, "SFGR_BENCH_ORG_ID": self.org})
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/docs", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        until(ready, within=30, interval=0.1, what="the baseline app")
        return url

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
