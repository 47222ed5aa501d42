"""`make demo`: the product on embedded defaults, and a change travelling both ways.

It starts the local stack (devstack/stack.py), creates a Lead as a person would in the
Salesforce simulator, waits for it on the GetResponse list, edits it there as a person would,
waits for the edit in Salesforce, prints the decision log that explains each value, and then
keeps everything running until Ctrl-C (or stops at once with --once).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from app.db import decisions, links
from app.db.session import create_engine, session_factory
from app.domain.states import SyncState
from app.settings import Environment, Settings
from devstack.defaults import COMPANY_FIELD
from devstack.stack import Stack, down, up


def say(text: str = "") -> None:
    print(text, flush=True)


async def _until(check: Callable[[], Awaitable[Any]], within: float = 15.0) -> tuple[Any, float]:
    started = time.monotonic()
    while time.monotonic() - started < within:
        found = await check()
        if found:
            return found, time.monotonic() - started
        await asyncio.sleep(0.05)
    raise TimeoutError("the change did not arrive in time: see the logs in .sfgr/logs")


async def walkthrough(info: dict[str, Any]) -> None:
    salesforce, getresponse = info["salesforce"], info["getresponse"].removesuffix("/v3")
    email = f"pat.lee.{int(time.time())}@example.com"
    async with aiohttp.ClientSession() as http:

        async def call(method: str, url: str, body: dict[str, Any] | None = None) -> Any:
            async with http.request(method, url, json=body) as response:
                text = await response.text()
                if response.status >= 400:
                    raise RuntimeError(f"{method} {url} answered {response.status}: {text}")
                return json.loads(text) if text else None

        async def post(url: str, body: dict[str, Any], method: str = "POST") -> Any:
            return await call(method, url, body)

        async def get(url: str) -> Any:
            return await call("GET", url)

        say("1. A marketer creates a Lead in Salesforce (the simulator's UI):")
        lead = {
            "FirstName": "Pat",
            "LastName": "Lee",
            "Email": email,
            "Company": "Acme",
            "Phone": "+1 (415) 555-0100",
            "Country": "USA",
        }
        say(f"   {json.dumps(lead)}")
        lead_id = (await post(f"{salesforce}/_sim/records/Lead", lead))["id"]

        async def on_list() -> Any:
            found = await get(f"{getresponse}/_sim/contacts?email={email}")
            # A create is queued before it is active, and only an active contact can be edited.
            return next((c for c in found if c["state"] == SyncState.ACTIVE), None)

        contact, seconds = await _until(on_list)
        say(f"   ... on the GetResponse list after {seconds:.2f} s as contact {contact['contactId']}:")
        say(f"   name={contact['name']!r}, custom fields={json.dumps(contact['customFieldValues'])}")
        say(
            "   (the phone went to E.164 and the country to its ISO name, as GetResponse's typed fields want)"
        )
        say()
        say("2. Someone edits the company in GetResponse (the simulator's UI):")
        await post(
            f"{getresponse}/_sim/contacts/{contact['contactId']}",
            {"customFieldValues": [{"customFieldId": COMPANY_FIELD, "value": ["Acme Corporation"]}]},
            method="PATCH",
        )

        async def in_salesforce() -> Any:
            record = await get(f"{salesforce}/_sim/records/Lead/{lead_id}")
            return record if record.get("Company") == "Acme Corporation" else None

        record, seconds = await _until(in_salesforce)
        say(f"   ... Salesforce Lead {lead_id} has Company={record['Company']!r} after {seconds:.2f} s")
        say()

    await _print_decisions(info, email)


async def _print_decisions(info: dict[str, Any], email: str) -> None:
    engine = create_engine(Settings(environment=Environment.DEVELOPMENT, database_url=info["database_url"]))
    try:
        async with session_factory(engine)() as session:
            [link] = await links.links_matching(session, email=email, limit=2)  # one, or this fails
            say(f"3. Why each value is what it is (decision log of link {link.id}):")
            for d in await decisions.decision_log(session, link.id):
                say(f"   {d.field:<24} {d.rule:<18} winner={d.winner or '-':<11} {d.reason}")
    finally:
        await engine.dispose()


def admin_ui(info: dict[str, Any]) -> str:
    return f"The admin UI: {info.get('api')}/ui  (sign in with the token {info.get('api_token')})"


def run_demo(state_dir: Path, *, keep_running: bool) -> int:
    say("Starting the local stack (Postgres, Kafka, both simulators, api, consumers, poller, subscriber)...")
    stack: Stack = up(state_dir, with_subscriber=True)
    say(json.dumps(stack.info, indent=2))
    say()
    say(admin_ui(stack.info))
    say()
    try:
        asyncio.run(walkthrough(stack.info))
    except Exception as exc:
        say(f"demo failed: {exc}")
        down(state_dir)
        return 1
    if not keep_running:
        down(state_dir)
        say("\nStopped.")
        return 0
    say(f"\nThe stack keeps running: api {stack.info['api']}, logs in {stack.info['logs']}.")
    say(admin_ui(stack.info))
    say("Try the simulators' control APIs (simulators/README.md). Ctrl-C stops everything.")
    stop = {"now": False}

    def interrupt(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    while not stop["now"]:
        time.sleep(0.2)
    down(state_dir)
    say(
        "Stopped.",
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_demo(Path(".sfgr"), keep_running="--once" not in sys.argv))
